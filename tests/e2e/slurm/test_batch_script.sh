#!/usr/bin/env bash
# The batch script's requeue logic (slurm/modelgif.sbatch), without SLURM: the
# test plays SLURM (runs the script, starts it again with SLURM_RESTART_COUNT+1
# while it requeued itself through a fake scontrol) around a fake modelgif
# whose starts finish work or not as a scenario says. Checks: a job requeues
# as long as its starts finish new work (many more starts than
# --max-idle-starts), stops after K starts in a row that finished nothing
# (a start that wrote no report counts as one), a start with progress resets
# the count, another exit code ends the job at once, and each start's log line
# says what it finished and what remains.
# Usage: test_batch_script.sh SOURCE_DIR
set -uo pipefail
src=$(realpath "$1")
T=$(mktemp -d /tmp/modelgif-batch.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAILED: $*"; [ -f "$T/log" ] && { echo "--- log"; cat "$T/log"; }; exit 1; }

mkdir -p "$T/bin" "$T/work"
# srun: lists pmix, runs the command.
cat > "$T/bin/srun" <<'SH'
#!/usr/bin/env bash
[ "$1" = --mpi=list ] && { echo "MPI plugin types are... pmix"; exit 0; }
shift
exec "$@"
SH
# scontrol requeue: recorded; the test starts the job again.
cat > "$T/bin/scontrol" <<'SH'
#!/usr/bin/env bash
echo "$*" >> "$FAKE_DIR/scontrol.calls"
SH
# modelgif run --report FILE ...: start i (from 1) takes the i-th word of
# $SCENARIO: p = stopped after new work, n = stopped with nothing new,
# x = killed before writing a report, d = done, e = exit 3 (a bad input).
cat > "$T/bin/modelgif" <<'SH'
#!/usr/bin/env bash
[ "$1" = run ] && [ "$2" = --report ] || { echo "fake modelgif: unexpected arguments $*" >&2; exit 99; }
report=$3
i=$(( ${SLURM_RESTART_COUNT:-0} + 1 ))
what=$(echo "$SCENARIO" | cut -d' ' -f"$i")
pieces=$(cat "$FAKE_DIR/pieces" 2>/dev/null || echo 0)
case "$what" in
  p) pieces=$((pieces + 3)); echo "$pieces" > "$FAKE_DIR/pieces"
     printf 'state: stopped\nprogress: true\nsummary: finished 3 pieces; done %s of 99\n' "$pieces" > "$report"; exit 75 ;;
  n) printf 'state: stopped\nprogress: false\nsummary: finished 0 pieces; done %s of 99\n' "$pieces" > "$report"; exit 75 ;;
  x) exit 75 ;;
  d) printf 'state: complete\nprogress: true\nsummary: finished the run\n' > "$report"; exit 0 ;;
  e) printf 'state: failed\nprogress: false\n' > "$report"; exit 3 ;;
  *) echo "fake modelgif: no start $i in '$SCENARIO'" >&2; exit 98 ;;
esac
SH
chmod +x "$T/bin/"*
export PATH="$T/bin:$PATH" FAKE_DIR=$T

# Plays SLURM for one job: starts the script until it does not requeue itself.
# Prints the number of starts; the script's last exit code is in $T/rc.
job() {
  local max_idle=$1 start=0 rc
  rm -f "$T/scontrol.calls" "$T/pieces" "$T/log"
  while :; do
    ( cd "$T/work" && SLURM_JOB_ID=4242 SLURM_SUBMIT_DIR=$T/work SLURM_RESTART_COUNT=$start \
        bash "$src/slurm/modelgif.sbatch" --bin modelgif --max-idle-starts "$max_idle" -- --config x.yaml ) >> "$T/log" 2>&1
    rc=$?
    start=$((start + 1))
    [ "$(wc -l < "$T/scontrol.calls" 2>/dev/null || echo 0)" -ge "$start" ] || break
    [ "$start" -lt 50 ] || fail "more than 50 starts"
  done
  echo "$rc" > "$T/rc"
  echo "$start"
}

# 1. Twelve starts that each finish work, then done: K = 1 stops none of them.
export SCENARIO="p p p p p p p p p p p p d"
starts=$(job 1)
[ "$starts" = 13 ] || fail "1: $starts starts, expected 13"
[ "$(cat "$T/rc")" = 0 ] || fail "1: the last start exited $(cat "$T/rc")"
[ "$(grep -c 'requeueing' "$T/log")" = 12 ] || fail "1: expected 12 requeues"
grep -q "modelgif-batch: start 12: finished 3 pieces; done 36 of 99" "$T/log" || fail "1: start 12's line"
grep -q "modelgif-batch: start 13: finished the run" "$T/log" || fail "1: the last start's line"
grep -q "requeue 4242" "$T/scontrol.calls" || fail "1: scontrol requeue not called with the job id"
ls "$T/work"/.modelgif-batch-* > /dev/null 2>&1 && fail "1: the script left its state files"
echo "batch script test: 1 passed (13 starts, each with progress, K = 1)"

# 2. K = 2: idle starts count in a row, a start with work resets the count, a
#    start that left no report is idle; the second idle start in a row stops.
export SCENARIO="p n p x p n p n n p"
starts=$(job 2)
[ "$starts" = 9 ] || fail "2: $starts starts, expected 9"
[ "$(cat "$T/rc")" = 75 ] || fail "2: the job ended with $(cat "$T/rc"), not 75"
grep -q "checkpointed, but 2 starts in a row finished nothing: stopping; resubmit to resume" "$T/log" ||
  fail "2: no stop message"
grep -q "start 4: no report from modelgif run" "$T/log" || fail "2: a start without a report is not said"
grep -q "starts in a row that finished nothing: 1, the job stops at 2" "$T/log" || fail "2: idle count not said"
ls "$T/work"/.modelgif-batch-* > /dev/null 2>&1 && fail "2: the script left its state files"
echo "batch script test: 2 passed (stopped after 2 idle starts in a row, at start 9)"

# 3. Another exit code ends the job at once, with that code.
export SCENARIO="p e"
starts=$(job 2)
[ "$starts" = 2 ] && [ "$(cat "$T/rc")" = 3 ] || fail "3: $starts starts, exit $(cat "$T/rc"); expected 2 and 3"
echo "batch script test: 3 passed (exit 3 is not requeued)"

# 4. A bad --max-idle-starts is refused before anything runs.
( cd "$T/work" && bash "$src/slurm/modelgif.sbatch" --max-idle-starts 0 -- --config x.yaml ) > "$T/log" 2>&1
[ $? = 2 ] || fail "4: --max-idle-starts 0 was not refused with exit 2"
grep -q "must be a positive integer, got '0'" "$T/log" || fail "4: message"
echo "batch script test: all passed"
