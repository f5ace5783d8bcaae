# A simulated cluster for the tests (source it): N "nodes", each a network
# namespace with its own hostname (a UTS namespace entered by the launch
# agent) and an address on a private bridge made for the test; names
# resolvable inside (/etc/netns/NS/hosts, which `ip netns exec` mounts over
# /etc/hosts) and outside (tagged lines in /etc/hosts). Everything is removed
# on exit, failure and signal, and leftovers of a killed earlier run (whose
# process is gone) are removed before starting. Only addresses on the test's
# own bridge are used; nothing else is contacted.
#
#   cluster_up nodeA nodeB     # or exits 77 with the reason when not allowed
#   mpirun $(cluster_mpi_flags) --host nodeA:2,nodeB:2 -np 4 ...
#   cluster_exec nodeA CMD...  # a command on a node (its namespace and hostname)
#   cluster_exec_keep_mounts nodeA CMD...  # the same with the machine's /sys (daemons)
#   cluster_pids nodeB         # the processes running on a node
# Variables: CLUSTER_ID, CLUSTER_SUBNET (a.b.c.0/24), CLUSTER_DIR, CLUSTER_AGENT.

CLUSTER_NODES=()
CLUSTER_TAG="# modelgif-test-cluster"

cluster_log() { echo "cluster: $*" >&2; }

# Processes started on nodes whose tag starts with $1 ("mgnode-ID-" or
# "mgnode-ID-NODE "), and all their descendants. The agent's shell carries the
# tag as its $0 (`ip netns pids` needs a /proc that not every kernel gives).
cluster_tree_pids() {
  ps -eo pid=,ppid=,args= | awk -v tag="$1" '
    { pid[NR] = $1; ppid[NR] = $2; line = $0; sub(/^ *[0-9]+ +[0-9]+ /, "", line); args[NR] = line }
    END {
      for (i = 1; i <= NR; i++) if (index(args[i] " ", tag) && args[i] !~ /^(awk|ps) /) mark[pid[i]] = 1
      for (changed = 1; changed;) {
        changed = 0
        for (i = 1; i <= NR; i++) if (!(pid[i] in mark) && (ppid[i] in mark)) { mark[pid[i]] = 1; changed = 1 }
      }
      for (p in mark) print p
    }'
}

# Removes what a cluster of id $1 made (namespaces with their processes, links,
# hosts lines, /etc/netns folders). Safe to call twice.
cluster_remove() {
  local id=$1 ns
  cluster_tree_pids "mgnode-${id}-" | xargs -r kill -9 2>/dev/null || true
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${id}-" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
  done
  local link
  for link in $(ip -o link show 2>/dev/null | sed -n "s/^[0-9]*: \(v${id}[0-9]*\)[:@].*/\1/p"); do
    ip link del "$link" 2>/dev/null || true
  done
  ip link del "br${id}" 2>/dev/null || true
  if grep -q "$CLUSTER_TAG $id\$" /etc/hosts 2>/dev/null; then
    # In place (/etc/hosts may be a bind mount that a rename cannot replace).
    local kept
    kept=$(grep -v "$CLUSTER_TAG $id\$" /etc/hosts || true)
    printf '%s\n' "$kept" > /etc/hosts
  fi
  rm -rf /tmp/modelgif-cluster-"$id".*
  # /etc/netns, when a cluster made it (marked) and no other user put anything there.
  if [ -f /etc/netns/.made-by-modelgif-test-cluster ] &&
    [ "$(find /etc/netns -mindepth 1 -maxdepth 1 ! -name .made-by-modelgif-test-cluster | wc -l)" = 0 ]; then
    rm -f /etc/netns/.made-by-modelgif-test-cluster
    rmdir /etc/netns 2> /dev/null || true
  fi
}

# Leftovers of runs whose process is gone (a killed test): their id is mgc<pid of the shell>.
cluster_remove_stale() {
  local id pid
  for id in $( (ip netns list 2>/dev/null | awk '{print $1}' | sed -n 's/^\(mgc[0-9]*\)-.*/\1/p'
    ip -o link show 2>/dev/null | sed -n 's/^[0-9]*: br\(mgc[0-9]*\)[:@].*/\1/p'
    sed -n "s/.*$CLUSTER_TAG \(mgc[0-9]*\)\$/\1/p" /etc/hosts 2>/dev/null
    find /tmp -maxdepth 1 -name 'modelgif-cluster-mgc*' 2>/dev/null | sed -n 's#^/tmp/modelgif-cluster-\(mgc[0-9]*\)\..*#\1#p') | sort -u); do
    pid=${id#mgc}
    if ! kill -0 "$pid" 2>/dev/null; then
      cluster_log "removing the leftovers of an earlier run ($id)"
      cluster_remove "$id"
    fi
  done
}

cluster_down() {
  [ -n "${CLUSTER_ID:-}" ] && cluster_remove "$CLUSTER_ID"
  [ -n "${CLUSTER_DIR:-}" ] && rm -rf "$CLUSTER_DIR"
  CLUSTER_ID=
  return 0
}

cluster_up() {
  CLUSTER_NODES=("$@")
  command -v ip > /dev/null && command -v unshare > /dev/null || { echo "skipped: needs ip (iproute2) and unshare"; exit 77; }
  [ "$(id -u)" = 0 ] || { echo "skipped: network namespaces need root (running as $(id -un))"; exit 77; }
  cluster_remove_stale
  CLUSTER_ID=mgc$BASHPID
  trap 'cluster_down' EXIT
  trap 'cluster_down; exit 130' INT
  trap 'cluster_down; exit 143' TERM
  trap 'cluster_down; exit 129' HUP
  local probe="${CLUSTER_ID}-probe" why
  if ! why=$(ip netns add "$probe" 2>&1); then
    echo "skipped: cannot create a network namespace here: $why"
    exit 77
  fi
  ip netns del "$probe"
  # A private /24 that no interface here uses: 10.<pid mod 200 + 20>.<k>.0.
  local a=$((BASHPID % 200 + 20)) b
  for b in $(seq 1 250); do
    ip -4 -o addr show | grep -q " 10\.$a\.$b\." || break
  done
  CLUSTER_SUBNET="10.$a.$b.0/24"
  local net="10.$a.$b"
  CLUSTER_DIR=$(mktemp -d "/tmp/modelgif-cluster-$CLUSTER_ID.XXXXXX")
  if [ ! -d /etc/netns ]; then
    mkdir /etc/netns
    touch /etc/netns/.made-by-modelgif-test-cluster
  fi
  ip link add "br${CLUSTER_ID}" type bridge
  ip addr add "$net.1/24" dev "br${CLUSTER_ID}"
  ip link set "br${CLUSTER_ID}" up
  local hosts="127.0.0.1 localhost" i=0 node
  for node in "${CLUSTER_NODES[@]}"; do
    hosts+=$'\n'"$net.$((11 + i)) $node"
    i=$((i + 1))
  done
  i=0
  for node in "${CLUSTER_NODES[@]}"; do
    local ns="${CLUSTER_ID}-$node" v="v${CLUSTER_ID}$i"
    ip netns add "$ns"
    mkdir -p "/etc/netns/$ns"
    printf '%s\n' "$hosts" > "/etc/netns/$ns/hosts"
    ip link add "$v" type veth peer name eth0 netns "$ns"
    ip link set "$v" master "br${CLUSTER_ID}" up
    ip -n "$ns" addr add "$net.$((11 + i))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    echo "$net.$((11 + i)) $node $CLUSTER_TAG $CLUSTER_ID" >> /etc/hosts
    i=$((i + 1))
  done
  # The launch agent Open MPI uses instead of ssh: AGENT [options] HOST COMMAND...
  CLUSTER_AGENT="$CLUSTER_DIR/agent"
  cat > "$CLUSTER_AGENT" <<AGENT
#!/usr/bin/env bash
while [ "\${1:-}" != "\${1#-}" ]; do shift; done   # options meant for ssh
host=\$1; shift
# orted stays in the foreground, a child of the tagged shell (cluster_pids finds it).
cmd=\$*; cmd=\${cmd//--daemonize/}
exec ip netns exec "$CLUSTER_ID-\$host" unshare --uts /bin/sh -c 'hostname "\$1" && eval "\$2"' "mgnode-$CLUSTER_ID-\$host" "\$host" "\$cmd"
AGENT
  chmod +x "$CLUSTER_AGENT"
  cluster_log "up: ${CLUSTER_NODES[*]} on $CLUSTER_SUBNET (bridge br$CLUSTER_ID)"
}

# Open MPI through the agent, TCP on the test's subnet only.
cluster_mpi_flags() {
  echo "--mca plm_rsh_agent $CLUSTER_AGENT --mca plm_rsh_no_tree_spawn 1 --mca btl self,vader,tcp" \
    "--mca btl_tcp_if_include $CLUSTER_SUBNET --mca oob_tcp_if_include $CLUSTER_SUBNET"
}

cluster_exec() {
  local node=$1
  shift
  ip netns exec "${CLUSTER_ID}-$node" unshare --uts /bin/sh -c 'hostname "$1" && shift && "$@"' "mgnode-$CLUSTER_ID-$node" "$node" "$@"
}

# Like cluster_exec, without `ip netns exec`'s own mounts (a fresh /sys, in which
# /sys/fs/cgroup is empty, and /etc/netns/NS/hosts): for daemons such as slurmd
# that need the machine's /sys. Names resolve through /etc/hosts.
cluster_exec_keep_mounts() {
  local node=$1
  shift
  nsenter --net="/run/netns/${CLUSTER_ID}-$node" unshare --uts /bin/sh -c 'hostname "$1" && shift && "$@"' \
    "mgnode-$CLUSTER_ID-$node" "$node" "$@"
}

cluster_pids() { cluster_tree_pids "mgnode-${CLUSTER_ID}-$1 "; }
