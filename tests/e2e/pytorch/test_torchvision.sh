#!/usr/bin/env bash
# Real torchvision architectures (resnet18, mobilenet_v3_small, a small ViT), exported
# with torch.jit.script / torch.jit.trace, through `modelgif run`: fields and distances
# against PyTorch float64 autograd, reading results with h5py and pandas, the preprocessing
# keys against torchvision transforms, and the messages for a PyTorch user's mistakes.
# See test_torchvision.py. Needs Debian's python3-torch, python3-torchvision, python3-h5py
# and python3-pandas (/usr/bin/python3).
# Usage: test_torchvision.sh BUILD_DIR   (exit 77: PyTorch, torchvision, h5py or pandas missing)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(realpath "$1")
[ -x "$build/modelgif" ] || { echo "FAILED: no program $build/modelgif" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
if ! "$py" -c 'import torch, torchvision, h5py, pandas' 2> /dev/null; then
  echo "skipped: $py cannot import torch, torchvision, h5py and pandas (apt-get install python3-torch python3-torchvision python3-h5py python3-pandas)"
  exit 77
fi
T=$(mktemp -d /tmp/modelgif-pytorch.XXXXXX)
trap 'rm -rf "$T"' EXIT
"$py" "$here/test_torchvision.py" --modelgif "$build/modelgif" --dir "$T"
