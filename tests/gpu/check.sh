#!/usr/bin/env bash
# The one-shot GPU check. On a Linux machine with an NVIDIA GPU, a PyTorch >= 2
# with CUDA, a compiler and CMake (and possibly no MPI, HDF5, yaml-cpp or
# Boost, and no network: then with the libraries of tests/gpu/bundle.sh), it
# builds modelgif against that PyTorch's LibTorch and checks, one summary
# line each (PASS/FAIL):
#   1. fields on CUDA against fields on the CPU, float32 (TF32 off): the test
#      models, a ResNet-18 and a Taskonomy-sized ResNet-50 encoder (3x128x128),
#      within 1e-5 of each field's largest value;
#   2. bfloat16 on CUDA against float32: distances within 0.01;
#   3. 2 ranks sharing the GPU against 1 rank: the same results;
#   4. throughput: path points/s of modelgif and of the published loop's shape
#      run by that PyTorch on the same GPU, and their share of its float32
#      matmul rate.
# Without a GPU it runs the same steps with the CPU standing in for CUDA (the
# steps are tested; the numbers are not a GPU's). Within 10 minutes on a GPU.
# Usage: tests/gpu/check.sh [BUNDLE]   (BUNDLE: tests/gpu/bundle.sh's folder; default tests/gpu/bundle if present)
#   PYTHON (python3), WORK (a temporary folder), JOBS (the build's parallel jobs)
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
py=${PYTHON:-python3}
bundle=${1:-$src/tests/gpu/bundle}
work=${WORK:-$(mktemp -d /tmp/modelgif-gpu.XXXXXX)}
mkdir -p "$work"
log=$work/check.log
failed=0
say() { echo "gpu check: $*" | tee -a "$log"; }
fail() { say "$1: FAIL ($2)"; failed=1; }
t0=$(date +%s)

# 0. The machine: which PyTorch, which device.
read -r torch_version torch_prefix abi cuda gpu < <("$py" -c '
import torch
gpu = torch.cuda.get_device_name(0).replace(" ", "_") if torch.cuda.is_available() else "none"
print(torch.__version__, torch.utils.cmake_prefix_path, int(torch._C._GLIBCXX_USE_CXX11_ABI), int(torch.cuda.is_available()), gpu)') ||
  { say "no PyTorch at $py: FAIL"; exit 1; }
device=cpu
[ "$cuda" = 1 ] && device=cuda
say "PyTorch $torch_version ($( [ "$cuda" = 1 ] && echo "CUDA, $gpu" || echo "no GPU: the CPU stands in for CUDA")), LibTorch at $torch_prefix"
[ -f "$torch_prefix/Torch/TorchConfig.cmake" ] || torch_prefix=""  # a Debian PyTorch: the system LibTorch
if [ "$abi" = 0 ]; then
  say "build: FAIL (this PyTorch's LibTorch uses the pre-C++11 string ABI, which Debian's yaml-cpp and Boost cannot link with: use pytorch.org's cxx11-abi LibTorch archive, -DCMAKE_PREFIX_PATH=/path/to/libtorch)"
  exit 1
fi

# 1. Build, with the bundle's libraries where there is one (relocated: Open
#    MPI by OPAL_PREFIX, HDF5's compiler wrapper by its prefix line).
cmake_args=(-DCMAKE_BUILD_TYPE=Release -DMODELGIF_TESTS=OFF -DMODELGIF_PNG=OFF "-DCMAKE_PREFIX_PATH=$torch_prefix")
if [ -d "$bundle/prefix/usr" ]; then
  # A copy outside the source tree: CMake refuses a target's include folders
  # inside it (the bundle travels in tests/gpu/bundle).
  rm -rf "$work/prefix" && cp -a "$bundle/prefix" "$work/prefix"
  p=$work/prefix/usr
  mkdir -p "$work/bin"
  for w in mpicc mpicxx mpirun mpiexec; do ln -sf "$p/bin/$w.openmpi" "$work/bin/$w"; done
  sed "s|^prefix=\"/usr\"|prefix=\"$p\"|" "$p/bin/h5pcc.openmpi" > "$work/bin/h5pcc" && chmod +x "$work/bin/h5pcc"
  # The bundle keeps HDF5's shared libraries only, and h5pcc must call the bundle's mpicc.
  export HDF5_USE_SHLIB=yes HDF5_CC=$work/bin/mpicc HDF5_CLINKER=$work/bin/mpicc
  export OPAL_PREFIX=$p PATH=$work/bin:$PATH
  # Open MPI's PMIx finds its plugins and help files by its own prefix (and
  # says nothing of another PMIx's plugins where the machine has one).
  export PMIX_INSTALL_PREFIX=$p/lib/x86_64-linux-gnu/pmix2 PMIX_MCA_mca_base_component_path=$p/lib/x86_64-linux-gnu/pmix2/lib/pmix
  export PMIX_MCA_mca_base_component_show_load_errors=0 PMIX_MCA_pcompress_base_silence_warning=1
  export LD_LIBRARY_PATH=$p/lib/x86_64-linux-gnu:$p/lib/x86_64-linux-gnu/openmpi/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export PKG_CONFIG_PATH=$p/lib/x86_64-linux-gnu/pkgconfig PKG_CONFIG_SYSROOT_DIR=$work/prefix
  cmake_args+=("-DCMAKE_PREFIX_PATH=$torch_prefix;$p" "-DMPI_C_COMPILER=$work/bin/mpicc" "-DMPI_CXX_COMPILER=$work/bin/mpicxx"
    "-DHDF5_C_COMPILER_EXECUTABLE=$work/bin/h5pcc" "-DZLIB_ROOT=$p")
  say "libraries from the bundle $bundle ($(du -sm "$bundle" | cut -f1) MiB)"
fi
command -v ninja > /dev/null && cmake_args+=(-G Ninja)
if cmake -S "$src" -B "$work/build" "${cmake_args[@]}" > "$work/build.log" 2>&1 &&
   cmake --build "$work/build" -j"${JOBS:-$(nproc)}" --target modelgif >> "$work/build.log" 2>&1; then
  say "build: PASS ($(grep -o 'LibTorch [0-9.a-z+]* at [^,]*, [a-zA-Z ()]*' "$work/build.log" | head -1); $(($(date +%s) - t0)) s)"
else
  tail -15 "$work/build.log"
  say "build: FAIL (log $work/build.log)"
  exit 1
fi
bin=$work/build/modelgif
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# The zoos: small on the CPU (its rate is no GPU's), larger on a GPU.
# The checks compare 16 references x 50 steps; the throughput runs take more
# (1024 references, 128 of the ResNet-50 encoder's larger images), so that
# each lasts seconds on a GPU.
refs=16 steps=50 speed_refs=1024 speed_refs_large=128
[ "$cuda" = 1 ] || refs=2 steps=4 speed_refs=4 speed_refs_large=2
"$py" "$src/tests/gpu/models.py" zoo "$work/zoo" "$speed_refs" || { say "zoo: FAIL"; exit 1; }
config() {  # config ZOO: a run config over the zoo's models
  local zoo=$1 target=predicted reduce=none
  [ "$zoo" = resnet50enc ] && target=topk:1 reduce=mean
  {
    echo "zoo:"
    for m in "$work/zoo/$zoo"-*.pt; do echo "  - {name: $(basename "$m" .pt), path: $m}"; done
    echo "references: {source: $work/zoo/$zoo-images-idx3-ubyte, count: $refs, scale: 2.0, shift: -1.0}"
    echo "field: {steps: $steps, target: '$target', reduce_channels: $reduce}"
    echo "distance: {metrics: [cosine, euclidean]}"
    echo "output: {store_fields: true, pictures: false}"
    echo "run: {block: 8}"
  } > "$work/$zoo.yaml"
  echo "$work/$zoo.yaml"
}
# Its output line by line (a crash keeps what was said), and a crash's stack
# from a debugger where the machine has one (gdb, or CUDA's cuda-gdb).
line_buffered=()
command -v stdbuf > /dev/null && line_buffered=(stdbuf -oL -eL)
debugger=$(command -v gdb || command -v cuda-gdb || true)
run() {  # run NAME ZOO [options]: one run, its log kept
  local name=$1 zoo=$2 rc
  shift 2
  local cmd=("$bin" run --config "$(config "$zoo")" --output.path "$work/runs/$name.h5" "$@")
  "${line_buffered[@]}" "${cmd[@]}" > "$work/runs/$name.log" 2>&1
  rc=$?
  if [ $rc -gt 128 ] && [ -n "$debugger" ]; then
    echo "--- crashed (exit $rc); again under $debugger:" >> "$work/runs/$name.log"
    rm -rf "$work/runs/$name.h5.ckpt"
    timeout 100 "$debugger" -q -batch -ex run -ex bt -ex "info sharedlibrary" --args "${cmd[@]}" >> "$work/runs/$name.log" 2>&1
  fi
  return $rc
}
rm -rf "$work/runs" && mkdir -p "$work/runs"  # a WORK used before: its runs go

# 1. CUDA (float32, TF32 off) against the CPU. The CPU's runs are pinned (no
#    tuning: it is not what is checked there); the device's are tuned. The
#    distances must agree within 1e-5. The fields are compared per reference
#    (its largest difference, of the field's largest value) against what
#    float32 itself allows on that model: two CPU runs that differ only in
#    memory layout (contiguous, channels-last) round differently too, and on
#    deep ReLU networks at random weights that alone reaches 1e-5 to 1e-4 (a
#    path point on the other side of a ReLU's or a max-pool's kink moves its
#    reference's field, from that step on). The device's median reference must
#    be within 1e-5, or within 4x the two CPU runs' median; the largest
#    differences are printed, not judged.
pinned=(--run.max_points 64 --run.memory_format contiguous)
mine=()
[ "$cuda" = 1 ] || mine=("${pinned[@]}")  # the CPU standing in: the same numerics, so only the steps are checked
field_stats() {  # field_stats COMPARE_OUTPUT: "model largest beyond references median" per model
  sed -n 's/^fields of \([^:]*\): largest difference \([^ ]*\) of the largest value, beyond [^ ]* in \([0-9]*\) of \([0-9]*\) references (median reference \([^)]*\)).*/\1 \2 \3 \4 \5/p' "$1"
}
for zoo in small resnet18 resnet50enc; do
  if run "$zoo-cpu" "$zoo" --run.device cpu "${pinned[@]}" &&
     run "$zoo-cpu-nhwc" "$zoo" --run.device cpu --run.max_points 64 --run.memory_format channels_last &&
     run "$zoo-dev" "$zoo" --run.device "$device" "${mine[@]}"; then
    "$bin" compare "$work/runs/$zoo-dev.h5" "$work/runs/$zoo-cpu.h5" --rtol 1e-5 --distances-only > "$work/runs/$zoo.compare"
    distances=$?
    "$bin" compare "$work/runs/$zoo-cpu-nhwc.h5" "$work/runs/$zoo-cpu.h5" --rtol 1e-5 --distances-only \
      > "$work/runs/$zoo-cpu.compare"
    verdict=$(join <(field_stats "$work/runs/$zoo.compare" | sort) <(field_stats "$work/runs/$zoo-cpu.compare" | sort) |
      awk -v d="$distances" '
      { n++; allowed = 4 * $9 > 1e-5 ? 4 * $9 : 1e-5; if ($5 > allowed) bad++
        said = said sprintf("%s%s: median reference %.2g (cpu layouts %.2g), largest %.2g (%.2g), %d of %d beyond 1e-5",
                            n > 1 ? "; " : "", $1, $5, $9, $2, $6, $3, $4) }
      END { ok = n > 0 && !bad && d == 0
            printf "%s (%s; distances %s)", ok ? "PASS" : "FAIL", said, d == 0 ? "within 1e-5" : "DIFFERENT beyond 1e-5" }')
    say "fields $device vs cpu, float32, $zoo: $verdict"
    [ "${verdict%% *}" = PASS ] || failed=1
  else
    fail "fields $device vs cpu, float32, $zoo" "$(tail -1 "$work/runs/$zoo-cpu.log") / $(tail -1 "$work/runs/$zoo-dev.log")"
  fi
done
# 2. bfloat16 on the device against float32.
if run resnet18-bf16 resnet18 --run.device "$device" --run.precision bfloat16 &&
   "$bin" compare "$work/runs/resnet18-bf16.h5" "$work/runs/resnet18-dev.h5" --distances-only --rtol 0 --atol 0.01 \
     > "$work/runs/bf16.compare"; then
  say "bfloat16 vs float32 on $device, resnet18: PASS ($(grep '^cosine' "$work/runs/bf16.compare" | cut -d';' -f1))"
else
  fail "bfloat16 vs float32 on $device, resnet18" "$(tail -1 "$work/runs/bf16.compare" 2> /dev/null || tail -1 "$work/runs/resnet18-bf16.log")"
fi
# 3. Two ranks sharing the device against one.
if command -v mpirun > /dev/null &&
   mpirun -np 2 --oversubscribe "$bin" run --config "$(config small)" --run.device "$device" \
     --output.path "$work/runs/small-2.h5" > "$work/runs/small-2.log" 2>&1 &&
   "$bin" compare "$work/runs/small-2.h5" "$work/runs/small-dev.h5" > "$work/runs/ranks.compare"; then
  say "2 ranks on one $device vs 1 rank: PASS ($(grep -c "): $device" "$work/runs/small-2.log") ranks placed on $device; $(tail -1 "$work/runs/ranks.compare"))"
else
  fail "2 ranks on one $device vs 1 rank" "$(tail -2 "$work/runs/small-2.log" | head -1)"
fi
# 4. Throughput: modelgif's field loop (tuned, as a run is) and the published
#    loop on the same device, from the "fields work" time of a larger run.
"$py" "$src/tests/gpu/models.py" published "$work/zoo" "$device" > "$work/published.txt" 2>&1 || true
matmul=$("$py" "$src/tests/gpu/models.py" matmul "$device" 2> /dev/null || echo 0)
say "throughput on $device (float32 matmul rate ${matmul%.*} GFLOP/s): model, modelgif points/s, published loop points/s, GFLOP per point, share of the matmul rate (modelgif, published)"
for zoo in small resnet18 resnet50enc; do
  count=$speed_refs
  [ "$zoo" = resnet50enc ] && count=$speed_refs_large
  mine=0
  if run "$zoo-speed" "$zoo" --run.device "$device" --references.count "$count"; then
    points=$(sed -n 's/^fields: .*(\([0-9]*\) points in .*/\1/p' "$work/runs/$zoo-speed.log")
    secs=$(sed -n 's/^time (s): .*fields work \([0-9.]*\).*/\1/p' "$work/runs/$zoo-speed.log")
    mine=$(awk -v p="${points:-0}" -v s="${secs:-0}" 'BEGIN { printf "%.0f", (s > 0 ? p / s : 0) }')
  fi
  read -r _ theirs gflop < <(grep "^$zoo " "$work/published.txt" || echo "$zoo 0 0")
  awk -v z="$zoo" -v a="$mine" -v b="$theirs" -v g="$gflop" -v r="$matmul" \
    'BEGIN { printf "gpu check:   %-12s %10.0f %10.0f %8.2f  %5.1f%% %5.1f%%\n", z, a, b, g, (r > 0 ? 100 * a * g / r : 0), (r > 0 ? 100 * b * g / r : 0) }' |
    tee -a "$log"
done
say "$([ $failed = 0 ] && echo "all checks passed" || echo "some checks FAILED") in $(($(date +%s) - t0)) s (logs in $work)"
exit $failed
