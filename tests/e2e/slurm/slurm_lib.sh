# What the SLURM tests share (source it; the caller defines `fail MESSAGE`).
#   start_munge DIR     munged with its own key and socket in DIR (DIR/munge.sock)
#   wait_job ID [S]     waits up to S seconds (600) for a job and its array tasks
#                       to leave the queue
#   drive_job ID LOG CKPT EVERY [S]
#                       as wait_job, and stops each start of the job once it
#                       has finished EVERY more (model, block) pieces (shards
#                       in checkpoint CKPT): USR1 to its batch script, as
#                       SLURM's warning before a time limit is; so a job's
#                       starts do not depend on the machine's speed
#   job_state ID        COMPLETED, FAILED, ...
#   count_for_seconds LOG COUNT SECONDS STEP MAX
#                       the reference count that gives a run like the one of
#                       LOG (COUNT references) about SECONDS of field work on
#                       this machine, now: a multiple of STEP in [COUNT, MAX]

start_munge() {
  local d=$1
  mkdir -p "$d" && chmod 700 "$d"
  mungekey -c -k "$d/munge.key" > /dev/null 2>&1 || dd if=/dev/urandom of="$d/munge.key" bs=1 count=1024 2> /dev/null
  chmod 600 "$d/munge.key"
  munged -f --socket="$d/munge.sock" --key-file="$d/munge.key" --pid-file="$d/munged.pid" \
    --log-file="$d/munged.log" --seed-file="$d/munged.seed" || fail "munged did not start"
  sleep 0.5
}

# SLURM holds a requeued job for about two minutes before it is eligible again;
# the test, as the cluster's administrator, releases it after 20 s instead
# (StartTime=now), once the previous start's step has surely been cleaned up:
# nothing else about the requeue changes.
wait_job() {
  local id=$1 limit=${2:-600} t=0
  declare -A pending_since=()
  while [ $t -lt "$limit" ]; do
    local left
    left=$(squeue -h -j "$id" -o "%i %T %r" 2> /dev/null)
    [ -z "$left" ] && return 0
    while read -r j state reason; do
      if [ "$state" = PENDING ] && [ "$reason" = BeginTime ]; then
        [ -n "${pending_since[$j]:-}" ] || pending_since[$j]=$t
        if [ $((t - pending_since[$j])) -ge 20 ]; then
          scontrol update JobId="$j" StartTime=now > /dev/null 2>&1
          unset "pending_since[$j]"
        fi
      fi
    done <<< "$left"
    sleep 2
    t=$((t + 2))
  done
  fail "job $id still queued after ${limit}s"
}

drive_job() {
  local id=$1 log=$2 ckpt=$3 every=$4 limit=${5:-1800} t=0 start=0 base=0 signaled=0 pending_since=-1
  while [ $t -lt "$limit" ]; do
    local state reason now shards
    read -r state reason < <(squeue -h -j "$id" -o "%T %r" 2> /dev/null)
    [ -z "${state:-}" ] && return 0
    if [ "$state" = PENDING ] && [ "$reason" = BeginTime ]; then  # requeued: released after 20 s, as wait_job does
      [ "$pending_since" -ge 0 ] || pending_since=$t
      if [ $((t - pending_since)) -ge 20 ]; then
        scontrol update JobId="$id" StartTime=now > /dev/null 2>&1
        pending_since=-1
      fi
    else
      pending_since=-1
    fi
    if [ "$state" = RUNNING ]; then
      now=$(grep -c "modelgif-batch: start [0-9]* of job" "$log" 2> /dev/null)
      shards=$(find "$ckpt/fields" -name '*.h5' 2> /dev/null | wc -l)
      if [ "$now" != "$start" ]; then start=$now base=$shards signaled=0; fi
      if [ "$signaled" = 0 ] && [ $((shards - base)) -ge "$every" ]; then
        scancel --batch --signal=USR1 "$id" > /dev/null 2>&1 && signaled=1
      fi
    fi
    sleep 1
    t=$((t + 1))
  done
  fail "job $id still queued after ${limit}s"
}

job_state() { scontrol show job "$1" 2> /dev/null | grep -o 'JobState=[A-Z_]*' | head -1 | cut -d= -f2; }

# Sizes a test's work from what this machine does (machines of one kind differ
# 2-2.5x in speed): the rate of a measured run, read from its "fields:" line.
count_for_seconds() {
  local log=$1 count=$2 want=$3 step=$4 max=$5 secs
  secs=$(sed -n 's/^fields: .* points in \([0-9.]*\) s).*/\1/p' "$log" | tail -1)
  [ -n "$secs" ] || fail "no field time in $log"
  awk -v c="$count" -v s="$secs" -v w="$want" -v st="$step" -v mx="$max" \
    'BEGIN { s = s > 0.1 ? s : 0.1; n = int(c * w / s / st + 0.5) * st; if (n < c) n = c; if (n > mx) n = mx; print n }'
}
