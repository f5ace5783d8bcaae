#!/usr/bin/env bash
# cmake --install into a fresh prefix: programs, batch script, configs, man page,
# headers, libraries and the CMake package; a tiny consumer project builds
# against modelgif::core and runs; cpack -G DEB makes a .deb with its Depends.
# Usage: tests/e2e/install/test_install.sh BUILD_DIR
set -euo pipefail
build=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/modelgif-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "install test: FAILED: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$T/prefix" > "$T/install.log" || fail "cmake --install: $(tail -3 "$T/install.log")"
P=$T/prefix
for f in bin/modelgif bin/modelgif-bench share/modelgif/modelgif.sbatch share/modelgif/configs/demo.yaml \
  share/man/man1/modelgif.1 include/modelgif/field.hpp include/modelgif/pipeline.hpp \
  lib/libmodelgif_core.a lib/libmodelgif_cli.a lib/cmake/modelgif/modelgifConfig.cmake \
  lib/cmake/modelgif/modelgifConfigVersion.cmake lib/cmake/modelgif/modelgifTargets.cmake; do
  [ -e "$P/$f" ] || fail "not installed: $f"
done
[ -x "$P/share/modelgif/modelgif.sbatch" ] || fail "the batch script is not executable"
"$P/bin/modelgif" --version | grep -q "^LibTorch [0-9.]*, built with" || fail "--version does not name LibTorch"
grep -q '^.TH MODELGIF "1"' "$P/share/man/man1/modelgif.1" || fail "man page has no .TH header"
grep -q 'draw its pictures' "$P/share/man/man1/modelgif.1" || fail "man page lacks the commands of --help"
# The installed program runs a job from an installed config (help only: no data needed).
"$P/bin/modelgif" run --help > /dev/null || fail "installed modelgif run --help"
echo "install test: installed files present"

# A consumer: find_package(modelgif) then modelgif::core.
cmake -S "$here/consumer" -B "$T/consumer" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_TYPE=Release > "$T/consumer.log" 2>&1 ||
  fail "configuring the consumer: $(tail -5 "$T/consumer.log")"
cmake --build "$T/consumer" -j"$(nproc)" >> "$T/consumer.log" 2>&1 || fail "building the consumer: $(tail -5 "$T/consumer.log")"
[ "$("$T/consumer/consumer")" = ok ] || fail "the consumer's check"
echo "install test: find_package(modelgif) + modelgif::core builds and runs"

# The Debian package.
(cd "$build" && cpack -G DEB -B "$T/deb" > "$T/cpack.log" 2>&1) || fail "cpack: $(tail -5 "$T/cpack.log")"
deb=$(ls "$T"/deb/*.deb)
depends=$(dpkg-deb -f "$deb" Depends)
for d in libtorch openmpi-bin libhdf5-openmpi libyaml-cpp; do
  echo "$depends" | grep -q "$d" || fail "the .deb does not depend on $d: $depends"
done
dpkg-deb -c "$deb" > "$T/contents"
grep -q "./usr/bin/modelgif$" "$T/contents" || fail "the .deb lacks /usr/bin/modelgif"
grep -q "./usr/share/man/man1/modelgif.1" "$T/contents" || fail "the .deb lacks the man page"
grep -q "./usr/lib/cmake/modelgif/modelgifConfig.cmake" "$T/contents" || fail "the .deb lacks the CMake package"
echo "install test: $(basename "$deb"): Depends: $depends"
echo "install test: passed"
