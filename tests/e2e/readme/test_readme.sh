#!/usr/bin/env bash
# Every command the README shows works as written, in the order a newcomer
# meets them: the ```sh blocks of its "Quick start", "Running" and "Auditing a
# suspect model" sections,
# read from README.md itself, run one line at a time in a scratch folder laid
# out as a fresh clone after the quick start (build/ is this build, configs/
# the sources'). Three words of the quick start are what the test itself is
# inside of, and are taken as done rather than run again: `.ci/run` (this
# suite), and the `.ci/setup &&` before a command (the packages and the build
# the suite runs on). `cmake --install build` installs into the scratch folder
# (--prefix), whose bin/ then comes first on PATH, as /usr/local/bin would.
# Usage: test_readme.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$(realpath "$1")
build=$(realpath "$2")
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || { echo "skipped: needs dataset-fashion-mnist"; exit 77; }
T=$(mktemp -d /tmp/modelgif-readme.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAILED: $*"; exit 1; }

# The commands, in README order: lines of ```sh blocks in the two sections.
awk '
  /^## / { section = ($0 ~ /^## (Quick start|Running|Auditing a suspect model)/) }
  section && /^```sh$/ { inblock = 1; next }
  inblock && /^```/ { inblock = 0; next }
  section && inblock && NF { print }
' "$src/README.md" > "$T/commands"
[ -s "$T/commands" ] || fail "no \`\`\`sh commands in README.md's Quick start, Running and Auditing sections"
grep -q 'modelgif demo' "$T/commands" || fail "the quick start's demo command was not found"

mkdir -p "$T/clone" && cd "$T/clone" || fail "no scratch folder"
ln -s "$build" build
ln -s "$src/configs" configs
export PATH="$T/prefix/bin:$PATH"
n=0
while IFS= read -r line; do
  cmd=$line
  case "$cmd" in
    .ci/run*) echo "readme test: skipped (this suite): $line"; continue ;;
  esac
  cmd=${cmd#.ci/setup && }
  cmd=${cmd//cmake --install build/cmake --install build --prefix $T/prefix}
  n=$((n + 1))
  echo "readme test: \$ $line"
  bash -c "$cmd" < /dev/null > "$T/out" 2>&1  # mpirun would read the rest of the list
  rc=$?
  [ $rc = 0 ] || { tail -15 "$T/out"; fail "exit $rc: $line"; }
done < "$T/commands"
[ -x "$T/prefix/bin/modelgif" ] || fail "the quick start's install put no modelgif in the prefix"
grep -q 'modelgif eval .*--roles runs/demo/audit.yaml' "$T/commands" || fail "the audit example was not found"
echo "readme test: all $n commands of the README's Quick start, Running and Auditing passed"
