#!/usr/bin/env bash
# SLURM end to end, on a real SLURM started here: munged, slurmctld and slurmd on
# localhost with a generated configuration in a temporary folder. Checks:
#   A. a 2-task run submitted with `modelgif submit` (sbatch, srun --mpi=pmix) equals a local mpirun run;
#   L. while a job runs, a second srun run on its output is refused (the run lock);
#   B. a run that needs many more starts than --max-idle-starts 1 (each stopped as a
#      time limit's warning would, once it has finished some work) checkpoints, requeues
#      while its starts finish work, resumes, and ends with the uninterrupted run's
#      matrices, however fast the machine is;
#   W. SLURM's own warning before a time limit checkpoints the run and requeues the job;
#   C. a sweep of 3 variations as a job array plus a collect job: summary table and CSV;
#      resubmitting skips the complete variations;
#   D. a testbed zoo trained with srun --mpi=pmix on 2 tasks, one model per rank.
# Every daemon it started is stopped by pid at the end, pass or fail.
# Usage: test_slurm.sh /path/to/modelgif        (exit 77 = skipped: SLURM is not installed)
set -uo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)

need=(slurmctld slurmd sbatch munged mungekey)
for c in "${need[@]}"; do
  if ! command -v "$c" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$c" ]; then
    echo "SKIPPED: $c not found: the SLURM packages (slurmctld slurmd slurm-client munge) are not installed (.ci/setup installs them)"
    exit 77
  fi
done
export PATH=$PATH:/usr/sbin

T=$(mktemp -d /tmp/modelgif-slurm.XXXXXX)
chmod 755 "$T"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  [ "${KEEP:-0}" = 1 ] || rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAILED: $*"; for f in "$T"/*.log "$T"/work/runs/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }

# --- munge, with its own key and socket
source "$here/slurm_lib.sh"
start_munge "$T/munge"
pids+=("$(cat "$T/munge/munged.pid")")

# --- slurmctld and slurmd on free ports
port=$(( 20000 + ($$ % 20000) ))
while ss -ltn 2>/dev/null | grep -q ":$port \|:$((port+1)) "; do port=$((port + 2)); done
host=$(hostname -s)
mkdir -p "$T/state" "$T/spool"
cat > "$T/slurm.conf" <<CONF
ClusterName=modelgiftest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$T/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
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
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
export SLURM_CONF=$T/slurm.conf
slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start"
for i in $(seq 300); do [ -s "$T/slurmctld.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$T/slurmctld.pid")")
slurmd -f "$SLURM_CONF" || fail "slurmd did not start"
for i in $(seq 300); do [ -s "$T/slurmd.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$T/slurmd.pid")")
for i in $(seq 180); do sinfo -h -o %t 2>/dev/null | grep -q idle && break; sleep 1; done
sinfo -h -o %t | grep -q idle || fail "the node did not come up"
echo "slurm test: SLURM $(sinfo -V | cut -d' ' -f2) up on $host, ports $port/$((port + 1))"

# --- the zoo: the built-in Fashion-MNIST demo, trained here once
mkdir -p "$T/work" && cd "$T/work"
"$bin" demo --dir runs/demo > "$T/demo.log" 2>&1 || fail "modelgif demo failed"
grep -q "PASS" "$T/demo.log" || fail "demo check did not pass"
cp "$here/../../../configs/demo.yaml" demo.yaml
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
same() {  # same matrices within 1e-6 relative (a resumed partial shard changes micro-batches: ~1e-10)
  "$bin" compare "$1" "$2" --rtol 1e-6 > "$T/diff.txt" || fail "$1 differs from $2: $(cat "$T/diff.txt")"
}

# --- A. a 2-task run through sbatch equals the local mpirun run
fixed=(--run.threads 1 --run.max_points 16 --references.count 256)
mpirun -np 2 --oversubscribe "$bin" run --config demo.yaml --output.path runs/local/out.h5 "${fixed[@]}" > "$T/local.log" 2>&1 \
  || fail "local mpirun run failed"
out=$("$bin" submit demo.yaml --tasks-per-node 2 --time 0:10:00 -- --output.path runs/a/out.h5 "${fixed[@]}") || fail "submit A: $out"
id=$(echo "$out" | sed -n 's/^submitted job \([0-9]*\).*/\1/p')
[ -n "$id" ] || fail "submit A printed no job id: $out"
wait_job "$id" 300
[ "$(job_state "$id")" = COMPLETED ] || fail "job A ended $(job_state "$id")"
grep -q "on 2 ranks" runs/a/out.h5.slurm-"$id".log || fail "job A did not run on 2 ranks"
grep -q "srun --mpi=pmix" runs/a/out.h5.slurm-"$id".log || fail "job A did not launch with srun --mpi=pmix"
same runs/a/out.h5 runs/local/out.h5
echo "slurm test: A passed (job $id: 2 tasks via srun --mpi=pmix = local mpirun)"

# --- L. one run at a time: while a job runs, a second run on its output (srun,
# 2 tasks) is refused at once, naming the holder. The job is long enough not to
# end before that (10000 references) and is cancelled afterwards.
fixed_l=(--run.threads 1 --run.max_points 16 --references.count 10000 --output.pictures false)
out=$("$bin" submit demo.yaml --tasks-per-node 2 --time 0:30:00 -- --output.path runs/l/out.h5 "${fixed_l[@]}") ||
  fail "submit L: $out"
id=$(echo "$out" | sed -n 's/^submitted job \([0-9]*\).*/\1/p')
for _ in $(seq 600); do
  [ "$(job_state "$id")" = RUNNING ] && ls runs/l/out.h5.ckpt/fields/*/*.h5 > /dev/null 2>&1 && break
  sleep 0.5
done
ls runs/l/out.h5.ckpt/fields/*/*.h5 > /dev/null 2>&1 || fail "job L wrote no shard in 300 s: $(tail -3 runs/l/out.h5.slurm-"$id".log)"
srun --mpi=pmix -n 2 --time 5 "$bin" run --config demo.yaml --output.path runs/l/out.h5 "${fixed_l[@]}" > "$T/second.log" 2>&1
code=$?
[ "$(job_state "$id")" = RUNNING ] || fail "job L ended before the second run was refused: $(job_state "$id")"
scancel "$id"
[ "$code" = 3 ] || fail "a second run on job L's output exited $code, not 3: $(tail -3 "$T/second.log")"
grep -q "is in use by another run (host" "$T/second.log" || fail "the second run did not name the lock's holder"
[ "$(grep -c 'modelgif: error' "$T/second.log")" = 1 ] || fail "the refusal was not one line: $(cat "$T/second.log")"
wait_job "$id" 300
echo "slurm test: L passed (a second run on a running job's output is refused, naming the holder)"

# --- B. a job that needs many more starts than --max-idle-starts 1: each start
# is stopped once it has finished 6 more (model, block) pieces (USR1 to the
# batch script, as SLURM's warning is; drive_job), checkpoints, requeues,
# resumes, and the job goes on while its starts finish work, to the
# uninterrupted run's matrices. 7 models x 6 blocks: at least 4 starts
# however fast the machine is (its time limit, 10 minutes, is never reached).
long=(--run.threads 1 --run.max_points 16 --output.pictures false --references.count 384 --run.block 64)
mpirun -np 2 --oversubscribe "$bin" run --config demo.yaml --output.path runs/full/out.h5 "${long[@]}" > "$T/full.log" 2>&1 \
  || fail "uninterrupted run failed"
out=$("$bin" submit demo.yaml --tasks-per-node 2 --time 10 --max-idle-starts 1 \
        -- --output.path runs/b/out.h5 "${long[@]}") || fail "submit B: $out"
id=$(echo "$out" | sed -n 's/^submitted job \([0-9]*\).*/\1/p')
log=runs/b/out.h5.slurm-$id.log
drive_job "$id" "$log" runs/b/out.h5.ckpt 6 1800
[ "$(job_state "$id")" = COMPLETED ] || fail "job B ended $(job_state "$id"): $(tail -5 "$log")"
starts=$(grep -c "modelgif-batch: start [0-9]* of job" "$log")
[ "$starts" -ge 4 ] || fail "job B started $starts times: 42 pieces, each start stopped after 6 need at least 4"
[ "$(grep -c "stopped by signal 10" "$log")" -ge 3 ] || fail "job B's starts were not stopped and checkpointed"
finished='start [0-9]+: finished ([1-9][0-9]* \(model, block\) pieces|[0-9]+ \(model, block\) pieces \([0-9]+ model-references\) and [1-9][0-9]* pair blocks)'
[ "$(grep -cE "modelgif-batch: $finished" "$log")" -ge "$starts" ] ||
  fail "a start of job B finished nothing or did not say: $(grep 'modelgif-batch: start [0-9]*:' "$log")"
grep -q "fields: [0-9]* of 42 (model, block) pieces computed, [1-9][0-9]* reused from the checkpoint" "$log" ||
  fail "job B did not resume from its checkpoint"
same runs/b/out.h5 runs/full/out.h5
echo "slurm test: B passed (job $id: $starts starts with --max-idle-starts 1, $(grep -c 'requeueing' "$log") requeues, result = uninterrupted run)"
grep "modelgif-batch: start [0-9]*:" "$log" | sed 's/^/  /'

# --- W. SLURM's own warning before a time limit (2 minutes, --signal-seconds
# 80: it comes 10 to 40 s into the start): the batch script passes it on, the
# run checkpoints and the job is requeued. The work (10000 references) is far
# more than a start can do; the job is cancelled once it has requeued.
out=$("$bin" submit demo.yaml --tasks-per-node 2 --time 2 --signal-seconds 80 --max-idle-starts 3 \
        -- --output.path runs/w/out.h5 --run.threads 1 --run.max_points 16 --references.count 10000 \
           --output.pictures false) || fail "submit W: $out"
id=$(echo "$out" | sed -n 's/^submitted job \([0-9]*\).*/\1/p')
log=runs/w/out.h5.slurm-$id.log
for _ in $(seq 300); do grep -q "requeueing" "$log" 2> /dev/null && break; sleep 1; done
scancel "$id"
grep -q "requeueing" "$log" || fail "job W was not requeued within 300 s: $(tail -5 "$log")"
grep -q "stopped by signal 10" "$log" || fail "job W's run was not stopped by SLURM's warning: $(tail -5 "$log")"
wait_job "$id" 300
echo "slurm test: W passed (job $id: SLURM's warning before the time limit checkpointed the run and requeued the job)"

# --- C. a sweep: job array + collect job; resubmission skips finished variations
cat > sweep.yaml <<SWEEP
sweep: {name: t, base: demo.yaml, dir: runs/sweep}
variations:
  - {name: steps-10, set: {field.steps: 10, references.count: 64, run.threads: 1}}
  - {name: steps-20, set: {field.steps: 20, references.count: 64, run.threads: 1}}
  - {name: shuffle, set: {field.baseline: shuffle, references.count: 64, run.threads: 1}}
SWEEP
out=$("$bin" sweep submit sweep.yaml --tasks-per-node 1 --time 0:10:00) || fail "sweep submit: $out"
array=$(echo "$out" | sed -n 's/^submitted array job \([0-9]*\).*collect job \([0-9]*\).*/\1/p')
collect=$(echo "$out" | sed -n 's/^submitted array job \([0-9]*\).*collect job \([0-9]*\).*/\2/p')
[ -n "$array" ] && [ -n "$collect" ] || fail "sweep submit printed no job ids: $out"
wait_job "$array" 600
wait_job "$collect" 300
[ "$(job_state "$collect")" = COMPLETED ] || fail "collect job ended $(job_state "$collect")"
grep -q "3 of 3 variations complete" runs/sweep/collect-"$collect".log || fail "collect: $(cat runs/sweep/collect-"$collect".log)"
for v in steps-10 steps-20 shuffle; do
  grep -q "^$v,.*,cosine,source,finetune-1," runs/sweep/summary.csv || fail "summary.csv lacks $v"
  same runs/sweep/$v/out.h5 runs/sweep/$v/out.h5
done
[ "$(grep -c ',cosine,' runs/sweep/summary.csv)" = 63 ] || fail "summary.csv: expected 3 x 21 cosine pairs"
again=$("$bin" sweep submit sweep.yaml --tasks-per-node 1) || fail "resubmit: $again"
echo "$again" | grep -q "3 already complete (skipped), 0 to run" || fail "resubmission did not skip: $again"
"$bin" status runs/sweep | grep -q "run runs/sweep/steps-10/out.h5: output written" || fail "status on the sweep folder"
echo "slurm test: C passed (array $array + collect $collect; resubmission skipped 3 of 3)"
# --- D. a testbed zoo trained under srun, one model per rank (the unlearning zoo, scaled down further)
sed 's#^dir: .*#dir: runs/zoo#; s#^scale: .*#scale: 0.05#' "$here/../../../configs/testbed-unlearning-small.yaml" > zoo.yaml
srun --mpi=pmix -n 2 --time 10 "$bin" zoo zoo.yaml > "$T/zoo.log" 2>&1 || fail "srun zoo: $(tail -3 "$T/zoo.log")"
[ "$(grep -c 'test accuracy' "$T/zoo.log")" = 7 ] || fail "srun zoo: expected 7 trained models"
grep -q "(rank 1," "$T/zoo.log" || fail "srun zoo: rank 1 trained nothing"
[ -s runs/zoo/roles.yaml ] && [ -s runs/zoo/run.yaml ] || fail "srun zoo: no roles.yaml or run.yaml"
echo "slurm test: D passed (srun --mpi=pmix -n 2 modelgif zoo: 7 models on 2 ranks)"
echo "slurm test: all passed"
