#!/usr/bin/env bash
# The scaled-down testbeds end to end on real Fashion-MNIST models. Fingerprinting:
# train the zoo (configs/testbed-fingerprint-small.yaml), compute the fields,
# evaluate. Checks the eval table and pictures, and that fine-tuned and pruned
# copies of the source are told from independent models (AUC 1 at 64 references).
# Usage: test_fingerprint_small.sh /path/to/modelgif     (exit 77: no Fashion-MNIST)
set -uo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "SKIPPED: dataset-fashion-mnist missing"; exit 77; }
T=$(mktemp -d /tmp/modelgif-testbed.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"
sed 's#^dir: .*#dir: tb#' "$here/../../../configs/testbed-fingerprint-small.yaml" > small.yaml
fail() { echo "FAILED: $*"; exit 1; }
"$bin" zoo small.yaml > zoo.log 2>&1 || fail "zoo: $(tail -3 zoo.log)"
[ "$(grep -c 'test accuracy' zoo.log)" = 17 ] || fail "expected 17 trained models: $(cat zoo.log)"
"$bin" zoo small.yaml > zoo2.log 2>&1 || fail "zoo again"
grep -q "test accuracy" zoo2.log && fail "the cached zoo was retrained"
"$bin" run --config tb/run.yaml > run.log 2>&1 || fail "run: $(tail -3 run.log)"
"$bin" eval tb/out.h5 --roles tb/roles.yaml --counts 8,16,32,64 > eval.log 2>&1 || fail "eval: $(tail -3 eval.log)"
cat eval.log
row=$(grep -E "^ +64 " eval.log) || fail "no row for 64 references"
# Columns: adversarial distill extract finetune prune transfer (kinds in name order).
set -- $row
[ "$5" = 1.000 ] || fail "finetune AUC at 64 references is $5, not 1"
[ "$6" = 1.000 ] || fail "prune AUC at 64 references is $6, not 1"
for f in tb/out-heatmap-cosine.svg tb/out-tree-cosine.svg tb/out-auc.svg; do
  [ -s "$f" ] || fail "missing picture $f"
  tail -c 7 "$f" | grep -q "</svg>" || fail "$f is not a complete SVG"
done
echo "testbed test: fingerprinting passed"

# bfloat16 on the same real models: distances within 0.01 (or 5 %) of float32,
# the same verdicts (fine-tuned and pruned copies told apart at 64 references).
"$bin" run --config tb/run.yaml --run.precision bfloat16 --output.path tb/bf16.h5 > bf16.log 2>&1 ||
  fail "bfloat16 run: $(tail -3 bf16.log)"
"$bin" compare tb/out.h5 tb/bf16.h5 --rtol 0.05 --atol 0.01 --distances-only > bf16-compare.log 2>&1 ||
  fail "bfloat16 distances beyond 0.01 (and 5 %) of float32: $(cat bf16-compare.log)"
grep -q "^cosine: largest relative difference 0 " bf16-compare.log && fail "bfloat16 changed no distance"
"$bin" eval tb/bf16.h5 --roles tb/roles.yaml --counts 64 > bf16-eval.log 2>&1 || fail "bfloat16 eval"
set -- $(grep -E "^ +64 " bf16-eval.log)
[ "$5" = 1.000 ] && [ "$6" = 1.000 ] || fail "bfloat16 changed a verdict: $(cat bf16-eval.log)"
echo "testbed test: bfloat16 passed"

# The scaled-down unlearning testbed: the approximately unlearned models stay
# nearer the reference than the unrelated ones (the paper's finding).
sed 's#^dir: .*#dir: ul#' "$here/../../../configs/testbed-unlearning-small.yaml" > ul.yaml
"$bin" zoo ul.yaml > ulzoo.log 2>&1 || fail "unlearning zoo: $(tail -3 ulzoo.log)"
[ "$(grep -c 'test accuracy' ulzoo.log)" = 7 ] || fail "expected 7 trained models: $(cat ulzoo.log)"
"$bin" run --config ul/run.yaml > ulrun.log 2>&1 || fail "unlearning run: $(tail -3 ulrun.log)"
"$bin" eval ul/out.h5 --roles ul/roles.yaml > uleval.log 2>&1 || fail "unlearning eval: $(tail -3 uleval.log)"
cat uleval.log
approx=$(awk '$1 == "approximate" {print $2}' uleval.log)
unrelated=$(awk '$1 == "unrelated" {print $2}' uleval.log)
[ -n "$approx" ] && [ -n "$unrelated" ] || fail "no unlearning table"
awk -v a="$approx" -v u="$unrelated" 'BEGIN { exit !(a < u) }' || fail "approximate $approx is not below unrelated $unrelated"
[ "$(grep -c 'forgotten\|not forgotten' uleval.log)" = 4 ] || fail "expected a verdict for each of the 4 unlearned models"
echo "testbed test: passed"
