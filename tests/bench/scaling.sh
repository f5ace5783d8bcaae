#!/usr/bin/env bash
# Whole runs on 1, 2 and 4 ranks of the same zoo (a benchmark, not a test):
# 8 freshly initialized 3-convolution CNNs (cnn_deep) x 64 Fashion-MNIST test
# images x 50 steps, launched alternately for REPS rounds:
#   P=1: one rank, 2 threads (not under mpirun)
#   P=2: mpirun -np 2, 1 thread each
#   P=4: mpirun -np 4, 1 thread each (oversubscribed on a 2-core machine)
# Prints each case's wall times (median [min, max]), its ratio to P=1, and the
# per-phase times of its median run (max/mean over ranks, from the run's log).
# Usage: tests/bench/scaling.sh BUILD_DIR [REPS=3]
set -euo pipefail
build=$(realpath "$1")
reps=${2:-3}
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || { echo "needs dataset-fashion-mnist"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
T=$(mktemp -d /tmp/modelgif-scaling.XXXXXX)
trap 'rm -rf "$T"' EXIT
"$build/modelgif-bench" --save-zoo "$T/zoo" --model cnn_deep --zoo-size 8 > /dev/null
declare -A launch=([1]="" [2]="mpirun -np 2" [4]="mpirun -np 4 --oversubscribe")
declare -A threads=([1]=2 [2]=1 [4]=1)
for ((r = 1; r <= reps; r++)); do
  for p in 1 2 4; do
    rm -rf "$T/out"
    s=$(date +%s.%N)
    ${launch[$p]} "$build/modelgif" run --config "$T/zoo/run.yaml" --run.threads "${threads[$p]}" \
      --output.path "$T/out/p$p.h5" > "$T/p$p-$r.log" 2>&1
    e=$(date +%s.%N)
    echo "$p $r $(echo "$e - $s" | bc)" >> "$T/walls"
  done
done
python3 - "$T" "$reps" <<'PY'
import sys, statistics
T, reps = sys.argv[1], int(sys.argv[2])
walls = {}
for line in open(T + "/walls"):
    p, r, w = line.split()
    walls.setdefault(int(p), []).append((float(w), int(r)))
base = statistics.median(w for w, _ in walls[1])
names = {1: "P=1 (1 rank x 2 threads)", 2: "P=2 (2 ranks x 1 thread)", 4: "P=4 (4 ranks x 1 thread, oversubscribed)"}
for p in (1, 2, 4):
    ws = sorted(walls[p])
    med = statistics.median(w for w, _ in ws)
    mid = ws[len(ws) // 2][1]
    line = [l for l in open(f"{T}/p{p}-{mid}.log") if l.startswith("time (s")]
    print(f"{names[p]:42s} wall {med:5.2f} s [{ws[0][0]:.2f}, {ws[-1][0]:.2f}]  {med / base:4.2f}x P=1")
    print("    " + (line[0].strip() if line else "(no time line)"))
PY
