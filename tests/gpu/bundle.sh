#!/usr/bin/env bash
# The libraries the GPU check builds modelgif with, for a machine that has a
# PyTorch with CUDA, a compiler and CMake but neither these packages nor a
# network: Debian 12's packages, downloaded here (apt-get download, no
# install) and unpacked into BUNDLE/prefix. Open MPI, parallel HDF5, yaml-cpp,
# Boost.Program_options, stb and zlib with the run-time libraries they pull in
# that a plain Linux lacks; no librsvg (the GPU build has no --png). Prints
# the bundle's size; it must stay under 64 MiB to travel with the working tree.
# Usage: tests/gpu/bundle.sh [BUNDLE]      (default: tests/gpu/bundle, ignored by git)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(realpath -m "${1:-$here/bundle}")
packages=(
  libopenmpi-dev libopenmpi3 openmpi-bin openmpi-common libhwloc15 libhwloc-plugins libevent-core-2.1-7
  libevent-pthreads-2.1-7 libpmix2 libfabric1 libucx0 libpsm-infinipath1 libpsm2-2 librdmacm1 libibverbs1
  libnl-3-200 libnl-route-3-200 libnuma1 libltdl7 libmunge2
  libhdf5-openmpi-dev libhdf5-openmpi-103-1 libhdf5-openmpi-hl-100 libaec0 libsz2 libcurl4 libnghttp2-14 librtmp1 libssh2-1 libpsl5
  libyaml-cpp-dev libyaml-cpp0.7
  libboost-program-options-dev libboost-program-options1.74-dev libboost-program-options1.74.0 libboost1.74-dev
  libstb-dev libstb0 zlib1g-dev zlib1g
  # What HDF5's libcurl and Open MPI's hwloc need at load time, which another
  # distribution names otherwise or lacks (Ubuntu 24.04: libldap.so.2, libunistring.so.5).
  libldap-2.5-0 libsasl2-2 libsasl2-modules-db libdb5.3 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0
  libkeyutils1 libcom-err2 libidn2-0 libunistring2 libbrotli1 libzstd1 libssl3 libgnutls30 libnettle8 libhogweed6
  libgmp10 libp11-kit0 libffi8 libtasn1-6 libudev1
)
rm -rf "$out" && mkdir -p "$out/debs" "$out/prefix"
(cd "$out/debs" && apt-get download "${packages[@]}" > /dev/null)
for deb in "$out"/debs/*.deb; do dpkg-deb -x "$deb" "$out/prefix"; done
# Headers and libraries only: no documentation or man pages, and of Boost's
# headers those that <boost/program_options.hpp> includes (the compiler lists them).
rm -rf "$out/prefix/usr/share/doc" "$out/prefix/usr/share/man" "$out/prefix/usr/share/lintian" "$out/debs"
inc=$out/prefix/usr/include
echo '#include <boost/program_options.hpp>' | g++ -std=c++17 -M -x c++ - -I"$inc" 2> /dev/null | tr ' \\' '\n\n' |
  sed -n "s|^$inc/||p" | sort -u > "$out/boost-headers"
(cd "$inc" && find boost -type f | sort > "$out/all-boost") 
comm -23 "$out/all-boost" "$out/boost-headers" | (cd "$inc" && xargs -r rm -f)
find "$inc/boost" -type d -empty -delete
# Shared C and C++ libraries only: no static archives, nothing for Fortran.
find "$out/prefix" \( -name '*.a' -o -name '*fortran*' -o -name '*mpifh*' -o -name '*usempi*' -o -name '*.mod' \) \
  -exec rm -rf {} + 2> /dev/null || true
# Nor OpenSHMEM, Java bindings, translations or the Brotli encoder.
find "$out/prefix" \( -name '*oshmem*' -o -name '*java*' -o -name 'mca_spml_*' -o -name 'mca_sshmem_*' \
  -o -name 'mca_atomic_*' -o -name 'mca_scoll_*' -o -name 'mca_memheap_*' -o -name 'libbrotlienc*' \) \
  -exec rm -rf {} + 2> /dev/null || true
rm -rf "$out/prefix/usr/share/locale"
rm -f "$out/all-boost" "$out/boost-headers"
# Self-contained: every library that the programs and the libraries they link
# need at load time is in the bundle, but for the C and C++ runtimes that every
# Linux with a compiler has.
lib=$out/prefix/usr/lib/x86_64-linux-gnu
missing=$(
  declare -A seen=()
  queue=("$lib"/libhdf5_openmpi.so.103 "$lib"/libhdf5_openmpi_hl.so.100 "$lib"/libmpi.so.40 "$lib"/libyaml-cpp.so.0.7
    "$lib"/libboost_program_options.so.1.*.0 "$out"/prefix/usr/bin/orterun "$out"/prefix/usr/bin/orted)
  while [ ${#queue[@]} -gt 0 ]; do
    f=${queue[0]}
    queue=("${queue[@]:1}")
    for n in $(objdump -p "$f" | awk '/NEEDED/ { print $2 }'); do
      [ -n "${seen[$n]:-}" ] && continue
      seen[$n]=1
      case "$n" in ld-linux* | libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | libresolv.so.* | libstdc++.so.* | libgcc_s.so.*) continue ;; esac
      found=$(find "$out/prefix" -name "$n" | head -1)
      if [ -n "$found" ]; then queue+=("$found"); else echo "$n (needed by $(basename "$f"))"; fi
    done
  done
)
[ -z "$missing" ] || { echo "gpu bundle: FAILED: not in the bundle: $(echo $missing)"; exit 1; }
size=$(du -sm --apparent-size "$out" | cut -f1)
echo "gpu bundle: ${#packages[@]} Debian 12 packages unpacked into $out/prefix: $size MiB"
[ "$size" -lt 64 ] || { echo "gpu bundle: FAILED: over 64 MiB"; exit 1; }
