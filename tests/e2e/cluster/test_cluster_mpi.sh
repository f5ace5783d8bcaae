#!/usr/bin/env bash
# MPI across two simulated nodes (tests/e2e/cluster/cluster.sh), 2 ranks each:
# placement by node-local rank, results equal to one process for grids that
# exchange fields between nodes (4x1) and that do not (1x4), and the loss of
# a node mid-run (every rank of nodeB SIGKILLed), resumed on nodeA alone with
# no finished shard recomputed.
# Usage: test_cluster_mpi.sh BUILD_DIR
set -euo pipefail
build=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/modelgif
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || { echo "skipped: needs dataset-fashion-mnist"; exit 77; }
source "$here/cluster.sh"
cluster_up nodeA nodeB
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
T=$CLUSTER_DIR
fail() { echo "cluster test: FAILED: $*" >&2; exit 1; }
# shellcheck disable=SC2046
on_cluster() { mpirun $(cluster_mpi_flags) "$@"; }

# 8 fresh 3-convolution CNNs x 64 Fashion-MNIST test images x 50 steps, blocks of 16.
"$build/modelgif-bench" --save-zoo "$T/zoo" --model cnn_deep --zoo-size 8 > /dev/null
cfg=$T/zoo/run.yaml
common=(--run.block 16 --run.max_points 64 --run.memory_format contiguous --output.pictures false)
"$bin" run --config "$cfg" "${common[@]}" --run.threads 1 --output.path "$T/one/result.h5" > "$T/one.log" 2>&1 ||
  fail "one process: $(tail -3 "$T/one.log")"

# Two nodes x two ranks, a grid that exchanges fields between nodes and one that does not.
for grid in 4x1 1x4; do
  on_cluster --host nodeA:2,nodeB:2 -np 4 "$bin" run --config "$cfg" "${common[@]}" --run.grid "$grid" \
    --output.path "$T/$grid/result.h5" > "$T/$grid.log" 2>&1 || fail "grid $grid on 2 nodes: $(tail -5 "$T/$grid.log")"
  for node in nodeA nodeB; do
    for l in 0 1; do
      grep -q "on $node (local rank $l of 2): cpu, $(( $(nproc) / 2 > 1 ? $(nproc) / 2 : 1 )) threads" "$T/$grid.log" ||
        fail "grid $grid: no rank on $node with local rank $l of 2 and cores/2 threads: $(grep -A5 placement "$T/$grid.log")"
    done
  done
  h5dump -a /placement "$T/$grid/result.h5" > "$T/$grid.placement" 2>&1 || fail "no placement attribute"
  grep -q nodeA "$T/$grid.placement" && grep -q nodeB "$T/$grid.placement" || fail "placement attribute lacks a host"
  grep -q "grid $grid" "$T/$grid.log" || grep -q "$grid" "$T/$grid.log" || fail "grid $grid not used"
  "$bin" compare "$T/one/result.h5" "$T/$grid/result.h5" > "$T/$grid.compare" 2>&1 ||
    fail "grid $grid differs from one process: $(cat "$T/$grid.compare")"
  echo "cluster test: grid $grid on nodeA:2,nodeB:2 equals one process ($(head -1 "$T/$grid.compare"))"
done

# Node loss: SIGKILL every process of nodeB once some shards are finished.
out=$T/loss/result.h5
on_cluster --host nodeA:2,nodeB:2 -np 4 "$bin" run --config "$cfg" "${common[@]}" --run.grid 1x4 \
  --output.path "$out" > "$T/loss.log" 2>&1 &
launcher=$!
shards() { find "$out.ckpt/fields" -name 'b*.h5' 2>/dev/null | grep -v '\.tmp-' | sort; }
# Finished shards: completed == rows (the ranks of nodeA, stopped by mpirun's
# SIGTERM, may leave partial ones, which a rerun continues).
finished() {
  local f
  for f in $(shards); do
    [ "$(h5dump -a /completed -a /rows "$f" 2>/dev/null | grep -o '(0): [0-9]*' | sort -u | wc -l)" = 1 ] && echo "$f"
  done
  return 0
}
for _ in $(seq 1 6000); do
  [ "$(shards | wc -l)" -ge 8 ] && break
  kill -0 $launcher 2>/dev/null || break
  sleep 0.05
done
victims=$(cluster_pids nodeB)
[ -n "$victims" ] || fail "no process on nodeB to kill ($(shards | wc -l) shards; launcher $(kill -0 $launcher 2>/dev/null && echo alive || echo gone); $(tail -3 "$T/loss.log"))"
kill -9 $victims
wait $launcher && fail "mpirun exited 0 after nodeB was killed"
[ ! -e "$out" ] || fail "a result file after the node loss"
finished > "$T/before.list"
done_before=$(wc -l < "$T/before.list")
[ "$done_before" -gt 0 ] || fail "no finished shard when nodeB was killed"
[ "$done_before" -lt 32 ] || fail "the run finished before nodeB was killed (make it longer)"
while read -r f; do stat -c '%i %Y %s %n' "$f"; done < "$T/before.list" > "$T/before.stat"
# Rerun on nodeA alone.
on_cluster --host nodeA:2 -np 2 "$bin" run --config "$cfg" "${common[@]}" --output.path "$out" > "$T/resume.log" 2>&1 ||
  fail "resume on nodeA: $(tail -5 "$T/resume.log")"
while read -r f; do stat -c '%i %Y %s %n' "$f"; done < "$T/before.list" > "$T/after.stat"
cmp -s "$T/before.stat" "$T/after.stat" || fail "a finished shard was rewritten: $(diff "$T/before.stat" "$T/after.stat" | head -4)"
reused=$(sed -n 's/.*pieces computed, \([0-9]*\) reused.*/\1/p' "$T/resume.log")
[ "${reused:-0}" -ge "$done_before" ] || fail "resume reused ${reused:-0} pieces, $done_before were finished: $(grep fields: "$T/resume.log")"
"$bin" compare "$T/one/result.h5" "$out" > "$T/loss.compare" 2>&1 || fail "resumed result differs: $(cat "$T/loss.compare")"
echo "cluster test: nodeB killed with $done_before of 32 shards finished; resumed on nodeA: $(grep '^fields:' "$T/resume.log"); equals one process"
echo "cluster test: passed"
