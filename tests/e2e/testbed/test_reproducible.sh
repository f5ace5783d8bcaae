#!/usr/bin/env bash
# Every testbed zoo is reproducible bit for bit for a given number of ranks and
# threads per rank: a classifier zoo (unlearning, scaled down) and the
# task-relatedness zoo (3 tasks, scaled down) are each trained twice, on 2 MPI
# ranks of 1 thread, and every model file and transfer row must be the same bytes.
# Usage: test_reproducible.sh /path/to/modelgif /path/to/mpiexec [mpiexec flags]   (exit 77: no Fashion-MNIST)
set -uo pipefail
bin=$(realpath "$1")
mpiexec=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "SKIPPED: dataset-fashion-mnist missing"; exit 77; }
T=$(mktemp -d /tmp/modelgif-reproducible.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fail() { echo "FAILED: $*"; exit 1; }
sed 's#^dir: .*#dir: DIR#; s#^scale: .*#scale: 0.05#; s#^counts: .*#counts: {approximate: 1, direct: 1, unrelated: 1}#' \
  "$here/../../../configs/testbed-unlearning-small.yaml" > classifiers.yaml
printf 'testbed: relatedness\ndir: DIR\ntasks: [class10, flip, edges]\nscale: 0.05\nreferences: 16\nsteps: 4\n' > tasks.yaml
for zoo in classifiers tasks; do
  for copy in a b; do
    sed "s#DIR#$copy-$zoo#" $zoo.yaml > $copy-$zoo.yaml
    "$mpiexec" -n 2 "$@" "$bin" zoo $copy-$zoo.yaml --threads 1 > $copy-$zoo.log 2>&1 || fail "$zoo ($copy): $(tail -3 $copy-$zoo.log)"
    (cd $copy-$zoo/models && md5sum * | sort -k2) > $copy-$zoo.md5
  done
  [ "$(wc -l < a-$zoo.md5)" -ge 4 ] || fail "$zoo: too few files: $(cat a-$zoo.md5)"
  diff a-$zoo.md5 b-$zoo.md5 > /dev/null || fail "$zoo: two trainings differ: $(diff a-$zoo.md5 b-$zoo.md5)"
  echo "reproducible test: $zoo zoo, $(wc -l < a-$zoo.md5) files, the same bytes twice"
done
echo "reproducible test: passed"
