#!/usr/bin/env bash
# The pipeline's own costs at the paper's task-relatedness shapes (a
# benchmark, not a test): 17 tiny encoders 3x128x128 -> 8x16x16, target
# topk:1, channel mean, 50 steps (D = 16,384), one rank, 2 threads; REFS
# references in blocks of 64. For each checkpoint.fields mode it prints the
# run's phase times (fields work, pairs work, wall), bytes read and written,
# the checkpoint's size and peak memory, the ratio of pair work to field work,
# `modelgif status` on the checkpoint (headers only) and the time to read one
# block of the zoo's fields once from memory on this machine (the floor of
# the pair arithmetic's data movement).
# Usage: tests/bench/taskonomy.sh BUILD_DIR REFS [MODE ...]   (MODE: keep, none; default both)
#        WORK=DIR keeps the zoo and the runs there (default: a temporary folder, removed)
#        RUN_ARGS="--run.max_points 32 ..." more options for every run (e.g. to pin the tuning)
set -euo pipefail
build=$(realpath "$1")
refs=$2
shift 2
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(keep none)
if [ -n "${WORK:-}" ]; then
  T=$WORK
  mkdir -p "$T"
else
  T=$(mktemp -d /tmp/modelgif-taskonomy.XXXXXX)
  trap 'rm -rf "$T"' EXIT
fi
zoo=$T/zoo-$refs
[ -f "$zoo/run.yaml" ] || "$build/modelgif-bench" --save-taskonomy "$zoo" --zoo-size 17 --refs "$refs"
block_bytes=$((17 * 64 * 50 * 16384 * 4))
memory_read=$(/usr/bin/python3 -c "
import time, numpy
a = numpy.ones(1 << 28, dtype=numpy.float32)  # 1 GiB
a.sum()
t = time.perf_counter(); a.sum(); a.sum(); dt = (time.perf_counter() - t) / 2
print(f'{$block_bytes / (a.nbytes / dt):.2f} s ({a.nbytes / dt / 1e9:.1f} GB/s)')")
echo "taskonomy bench: 17 encoders x $refs references x 50 steps, D = 16384; one block of the zoo's fields ($((block_bytes / 1000000)) MB) read once from memory: $memory_read"
for mode in "${modes[@]}"; do
  out=$T/$mode-$refs/out.h5
  rm -rf "$(dirname "$out")"
  # shellcheck disable=SC2086
  /usr/bin/time -v "$build/modelgif" run --config "$zoo/run.yaml" --run.threads 2 --checkpoint.fields "$mode" \
    --output.path "$out" ${RUN_ARGS:-} > "$T/$mode-$refs.log" 2> "$T/$mode-$refs.time"
  ckpt=$(du -sb "$out.ckpt" | cut -f1)
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$T/$mode-$refs.time")
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$T/$mode-$refs.time")
  times=$(grep '^time (s' "$T/$mode-$refs.log")
  fw=$(echo "$times" | sed -n 's/.*fields work \([0-9.]*\).*/\1/p')
  pw=$(echo "$times" | sed -n 's/.*pairs work \([0-9.]*\).*/\1/p')
  s0=$(date +%s.%N)
  "$build/modelgif" status "$out" > /dev/null
  s1=$(date +%s.%N)
  echo "checkpoint.fields: $mode"
  echo "  $times"
  echo "  $(grep '^io (MB' "$T/$mode-$refs.log")"
  echo "  wall $wall, peak RSS $((rss / 1000)) MB, checkpoint $(echo "scale=3; $ckpt / 1000000" | bc) MB"
  echo "  pairs work / fields work = $(echo "scale=4; $pw / $fw" | bc)"
  echo "  modelgif status: $(echo "$s1 - $s0" | bc) s"
done
