#!/usr/bin/env bash
# The simulated cluster itself (cluster.sh): nodes with their own hostnames and
# addresses that reach each other over the test's bridge and resolve each
# other's names; nothing left after a normal exit, a failure or SIGTERM; after
# a SIGKILLed run (which cannot clean up) the next run removes its leftovers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "cluster helper test: FAILED: $*" >&2; exit 1; }
hosts_before=$(cat /etc/hosts)
netns_dir_before=$([ -d /etc/netns ] && echo yes || echo no)
leftovers() {  # of cluster id $1
  ip netns list 2>/dev/null | grep "^$1-" || true
  ip -o link show 2>/dev/null | grep -E ": (br|v)$1" || true
  grep "modelgif-test-cluster $1\$" /etc/hosts || true
  ls -d /tmp/modelgif-cluster-"$1".* 2>/dev/null || true
  ps -eo args= | grep "mgnode-$1-" | grep -v grep || true
}
# A cluster in a child shell: prints its id, checks itself, then waits on a node.
child() {
  # shellcheck source=cluster.sh
  source "$here/cluster.sh"
  cluster_up nodeA nodeB 2> /dev/null
  echo "$CLUSTER_ID"
  [ "$(cluster_exec nodeA hostname)" = nodeA ] || { echo "hostname is not nodeA" >&2; exit 1; }
  cluster_exec nodeA getent hosts nodeB > /dev/null || { echo "nodeB unresolved on nodeA" >&2; exit 1; }
  getent hosts nodeB > /dev/null || { echo "nodeB unresolved outside" >&2; exit 1; }
  # A TCP probe of a closed port: "refused" is nodeB's answer (reached); a timeout is not.
  local probe
  probe=$(cluster_exec nodeA timeout 3 bash -c 'exec 3<>/dev/tcp/nodeB/9' 2>&1 || true)
  case "$probe" in *refused* | "") ;; *) echo "nodeA cannot reach nodeB: $probe" >&2; exit 1 ;; esac
  if [ "${1:-}" = wait ]; then  # in the background: a signal is handled at once
    cluster_exec nodeB sleep 300 &
    wait $!
  fi
  return 0
}
# 1. A normal exit.
id=$(child) || { [ $? = 77 ] && { echo "$id"; exit 77; }; fail "the cluster did not come up: $id"; }
[ -z "$(leftovers "$id")" ] || fail "left after exit: $(leftovers "$id")"
# 2. SIGTERM while a node runs a command.
child wait > /dev/null &
pid=$!
up() { ps -eo args= | grep -q "[m]gnode-mgc$1-nodeB nodeB sleep 300"; }  # this child's node runs its command
for _ in $(seq 1 600); do up $pid && break; sleep 0.1; done
up $pid || fail "the cluster of the SIGTERM case did not come up"
kill -TERM $pid; wait $pid || true
id=mgc$pid
[ -z "$(leftovers "$id")" ] || fail "left after SIGTERM: $(leftovers "$id")"
# 3. SIGKILL: leftovers stay, and the next cluster removes them and works.
child wait > /dev/null &
pid=$!
for _ in $(seq 1 600); do up $pid && break; sleep 0.1; done
up $pid || fail "the cluster of the SIGKILL case did not come up"
kill -KILL $pid; wait $pid || true
[ -n "$(leftovers "mgc$pid")" ] || fail "a SIGKILLed cluster left nothing (the test did not test)"
id2=$(child) || fail "a cluster after a SIGKILLed one did not come up"
[ -z "$(leftovers "mgc$pid")" ] || fail "the next cluster did not remove the SIGKILLed one's leftovers: $(leftovers "mgc$pid")"
[ -z "$(leftovers "$id2")" ] || fail "left after exit: $(leftovers "$id2")"
[ "$(cat /etc/hosts)" = "$hosts_before" ] || fail "/etc/hosts changed"
[ "$([ -d /etc/netns ] && echo yes || echo no)" = "$netns_dir_before" ] || fail "/etc/netns was left"
echo "cluster helper test: passed (exit, SIGTERM, SIGKILL then rerun: nothing left)"
