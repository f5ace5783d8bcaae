#!/usr/bin/env bash
# Runs a command as on a machine that lacks the libraries the GPU check takes
# from its bundle: in a private mount namespace where this machine's own Open
# MPI, PMIx, parallel HDF5, yaml-cpp and Boost files are hidden (empty folders
# and /dev/null mounted over them). The mounts end with the command. This is how
# the check's bundle is tested here (docs/gpus.md):
#   tests/gpu/bare.sh env PYTHON=/usr/bin/python3 tests/gpu/check.sh
# Usage: tests/gpu/bare.sh COMMAND [ARGS...]      (as root)
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "bare: needs root (a mount namespace)"; exit 77; }
[ $# -gt 0 ] || { echo "usage: tests/gpu/bare.sh COMMAND [ARGS...]"; exit 2; }
if [ "${MODELGIF_BARE:-}" != inside ]; then
  MODELGIF_BARE=inside exec unshare --mount --propagation private "$0" "$@"
fi
unset MODELGIF_BARE
packages=(libopenmpi-dev libopenmpi3 openmpi-bin openmpi-common libpmix2 libpmix-dev libhdf5-openmpi-dev
  libhdf5-openmpi-103-1 libhdf5-openmpi-hl-100 libhdf5-openmpi-cpp-103-1 libhdf5-openmpi-fortran-102 hdf5-tools
  libyaml-cpp-dev libyaml-cpp0.7 libboost-program-options-dev
  libboost-program-options1.74-dev libboost-program-options1.74.0)
empty=$(mktemp -d /tmp/modelgif-bare.XXXXXX)
folders=(/usr/include/boost /usr/include/hdf5/openmpi /usr/include/yaml-cpp /usr/lib/x86_64-linux-gnu/openmpi
  /usr/lib/x86_64-linux-gnu/pmix2 /usr/lib/x86_64-linux-gnu/hdf5/openmpi /etc/openmpi /usr/share/openmpi)
hidden=0
for d in "${folders[@]}"; do
  [ -d "$d" ] && mount --bind "$empty" "$d" && hidden=$((hidden + 1))
done
for p in "${packages[@]}"; do
  dpkg -L "$p" 2> /dev/null || true
done | sort -u | while read -r f; do
  case "$f" in /usr/share/doc/* | /usr/share/man/* | /usr/share/lintian/*) continue ;; esac
  if [ -f "$f" ] && [ ! -d "$f" ]; then mount --bind /dev/null "$f" 2> /dev/null || true; fi
done
set +e
echo "bare: this machine's Open MPI, PMIx, HDF5, yaml-cpp and Boost hidden ($hidden folders and the packages' files)"
"$@"
rc=$?
rmdir "$empty" 2> /dev/null || true
exit $rc
