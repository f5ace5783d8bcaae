#!/usr/bin/env bash
# SLURM across two simulated nodes: slurmctld on the test's bridge, one slurmd
# in each node's namespace (NodeName=nodeA,nodeB with their addresses), munge
# shared. `modelgif submit --nodes 2 --tasks-per-node 2` runs one job on both
# nodes (both hosts in the placement) equal to a local run; a job whose every
# start is stopped (USR1, as SLURM's warning is) once it has finished work
# checkpoints, requeues and resumes across the 2 nodes to the uninterrupted run's result.
# Usage: test_cluster_slurm.sh BUILD_DIR   (exit 77: skipped, with the reason)
set -uo pipefail
build=$(realpath "$1")
bin=$build/modelgif
here=$(cd "$(dirname "$0")" && pwd)
export PATH=$PATH:/usr/sbin
for c in slurmctld slurmd sbatch munged; do
  command -v "$c" > /dev/null || { echo "skipped: $c not found (.ci/setup installs slurmctld slurmd slurm-client munge)"; exit 77; }
done
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || { echo "skipped: needs dataset-fashion-mnist"; exit 77; }
source "$here/cluster.sh"
cluster_up nodeA nodeB
T=$CLUSTER_DIR
chmod 755 "$T"
pids=()
stop_daemons() {
  local p f
  for f in "$T"/*.pid "$T"/munge/munged.pid; do [ -s "$f" ] && pids+=("$(cat "$f")"); done
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done
  return 0
}
trap 'stop_daemons; cluster_down' EXIT
trap 'stop_daemons; cluster_down; exit 143' TERM
trap 'stop_daemons; cluster_down; exit 130' INT
fail() {
  echo "cluster slurm test: FAILED: $*"
  for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -8 "$f"; }; done
  exit 1
}
net=${CLUSTER_SUBNET%.0/24}

# munge: its own key and socket (a file: every namespace sees it).
source "$here/../slurm/slurm_lib.sh"
start_munge "$T/munge"
mkdir -p "$T/state" "$T/spool"
# slurmctld listens on every interface of the machine: a free port (slurmd's are in the namespaces).
port=$((20000 + ($$ % 20000)))
while ss -ltn 2> /dev/null | grep -q ":$port "; do port=$((port + 1)); done
cat > "$T/slurm.conf" << CONF
ClusterName=modelgifcluster
SlurmctldHost=$(hostname -s)($net.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=6818
AuthType=auth/munge
AuthInfo=socket=$T/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool/%n
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd-%n.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobRequeue=1
KillWait=15
MinJobAge=3600
NodeName=nodeA NodeAddr=$net.11 CPUs=2 State=UNKNOWN
NodeName=nodeB NodeAddr=$net.12 CPUs=2 State=UNKNOWN
PartitionName=test Nodes=nodeA,nodeB Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
export SLURM_CONF=$T/slurm.conf
slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start"
# Each slurmd its own copy of the configuration with an mpi.conf of its own: the
# nodes share /tmp, where PMIx would otherwise put both nodes' step folders.
for node in nodeA nodeB; do
  mkdir -p "$T/spool/$node" "$T/conf-$node" "$T/pmix-$node"
  cp "$T/slurm.conf" "$T/conf-$node/slurm.conf"
  echo "PMIxCliTmpDirBase=$T/pmix-$node" > "$T/conf-$node/mpi.conf"
  cluster_exec_keep_mounts "$node" slurmd -f "$T/conf-$node/slurm.conf" -N "$node" ||
    fail "slurmd on $node did not start"
done
for _ in $(seq 180); do [ "$(sinfo -h -o '%t %D' 2> /dev/null)" = "idle 2" ] && break; sleep 1; done
[ "$(sinfo -h -o '%t %D')" = "idle 2" ] || fail "the nodes did not come up: $(sinfo -h -N -o '%N %t %E' 2>&1)"
echo "cluster slurm test: SLURM $(sinfo -V | cut -d' ' -f2) up: $(sinfo -h -N -o '%N' | tr '\n' ' ')on $CLUSTER_SUBNET"


# Open MPI's TCP between the nodes on the test's subnet only (sbatch passes the environment on).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=$CLUSTER_SUBNET OMPI_MCA_oob_tcp_if_include=$CLUSTER_SUBNET
mkdir -p "$T/work" && cd "$T/work" || fail "no work folder"
"$build/modelgif-bench" --save-zoo zoo --model cnn_a --zoo-size 6 > /dev/null || fail "zoo"
fixed=(--run.threads 1 --run.max_points 32 --run.memory_format contiguous --run.block 16 --output.pictures false)
same() { "$bin" compare "$1" "$2" > "$T/diff.txt" 2>&1 || fail "$1 differs from $2: $(cat "$T/diff.txt")"; }

# A. one job on both nodes, 2 tasks each.
"$bin" run --config zoo/run.yaml "${fixed[@]}" --output.path local/out.h5 > "$T/local.log" 2>&1 || fail "local run"
out=$("$bin" submit zoo/run.yaml --nodes 2 --tasks-per-node 2 --time 0:10:00 -- --output.path a/out.h5 "${fixed[@]}") ||
  fail "submit A: $out"
id=$(echo "$out" | sed -n 's/^submitted job \([0-9]*\).*/\1/p')
[ -n "$id" ] || fail "submit A printed no job id: $out"
wait_job "$id" 300
[ "$(job_state "$id")" = COMPLETED ] || fail "job A ended $(job_state "$id"): $(tail -5 a/out.h5.slurm-"$id".log)"
h5dump -a /placement a/out.h5 > "$T/placement.txt" 2>&1
grep -q "on nodeA" "$T/placement.txt" && grep -q "on nodeB" "$T/placement.txt" ||
  fail "job A's placement lacks a node: $(grep -o 'rank [0-9] on [a-zA-Z]*' "$T/placement.txt" | tr '\n' ' ')"
same a/out.h5 local/out.h5
echo "cluster slurm test: A passed (job $id on nodeA and nodeB, 4 tasks = a local run)"

# B. many starts across the 2 nodes: each start is stopped once it has
# finished a quarter of the (model, block) pieces more (USR1 to its batch script, as SLURM's
# warning before a time limit is: drive_job), checkpoints, is requeued and
# resumes, on whichever node, to the uninterrupted run's result; the number of
# starts does not depend on the machine's speed.
long=("${fixed[@]}" --field.steps 50 --references.count 256)
mpirun -np 2 --oversubscribe "$bin" run --config zoo/run.yaml "${long[@]}" --output.path full/out.h5 > "$T/full.log" 2>&1 ||
  fail "uninterrupted run"
pieces=$(sed -n 's/^fields: [0-9]* of \([0-9]*\) (model, block) pieces.*/\1/p' "$T/full.log")
every=$(((pieces + 3) / 4))  # about 4 starts
out=$("$bin" submit zoo/run.yaml --nodes 2 --tasks-per-node 2 --time 10 --max-idle-starts 1 \
  -- --output.path b/out.h5 "${long[@]}") || fail "submit B: $out"
id=$(echo "$out" | sed -n 's/^submitted job \([0-9]*\).*/\1/p')
log=b/out.h5.slurm-$id.log
drive_job "$id" "$log" b/out.h5.ckpt "$every" 1800
[ "$(job_state "$id")" = COMPLETED ] || fail "job B ended $(job_state "$id"): $(tail -5 "$log")"
starts=$(grep -c "modelgif-batch: start [0-9]* of job" "$log")
[ "$starts" -ge 2 ] || fail "job B started only once ($pieces pieces, each start stopped after $every)"
grep -q "fields: [0-9]* of $pieces (model, block) pieces computed, [1-9][0-9]* reused from the checkpoint" "$log" ||
  fail "job B did not resume from its checkpoint"
same b/out.h5 full/out.h5
echo "cluster slurm test: B passed (job $id: $pieces pieces, $starts starts on nodeA and nodeB, result = uninterrupted run)"
echo "cluster slurm test: passed"
