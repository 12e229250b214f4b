#!/usr/bin/env bash
# Step halving, consistency distillation and direct few-step training side by side at 1, 2 and 4 steps, all from
# the demo's teacher and its compressed encoder (run `bash launch/demo.sh` first), then one benchmark of every
# (method, steps) row on the demo's splits: $OUT/methods/report.md, table.md, metrics_vs_steps.png.
# Budgets (optimizer steps; STEPS per halving round, 300 at small): halving to K takes log2(16/K) rounds; direct
# training on a K-step grid gets the same number of steps as halving to K; the one consistency student gets the
# budget of halving to 2 (3 rounds) and is sampled at 1, 2 and 4 steps. Wall times go to $OUT/methods/budget.md.
#   bash launch/recipes/compare_methods.sh          (DATA_DIR, OUT, SCALE and SAMPLES as for the demo)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../setup_env.sh" export
DATA_DIR="${DATA_DIR:-data}"
OUT="${OUT:-runs/demo}"
SCALE="${SCALE:-small}"
SAMPLES="${SAMPLES:-4}"                    # noise samples per clip, as in the demo (empty: the corpus's K)
ARGS="dataset=synthetic_talkers,scale=$SCALE"
M="$OUT/methods"
mkdir -p "$M"
[ -d "$OUT/student/steps_2" ] || { echo "compare_methods: run bash launch/demo.sh first ($OUT/student)" >&2; exit 1; }
common=(--config.data.data_dir="$DATA_DIR" --config.distill.encoder_from="$OUT/student" --teacher="$OUT/teacher")
echo "| method | optimizer steps | wall time (s) |" > "$M/budget.md"
echo "|---|---|---|" >> "$M/budget.md"
timed() {   # timed <label> <steps> <command...>: runs it, appends its wall time to budget.md
  local label="$1" steps="$2" start=$SECONDS
  shift 2
  "$@"
  echo "| $label | $steps | $((SECONDS - start)) |" >> "$M/budget.md"
}
per_round=$(python -c "from configs import ours2; print(ours2.get_config('$ARGS').distill.steps_per_round)")

echo "== halving 16 -> 8 -> 4 -> 2 -> 1 (the demo's rounds reused, one more round)"
[ -d "$M/halving" ] || cp -r "$OUT/student" "$M/halving"
timed "halving to 1 (one round beyond the demo's)" "$((4 * per_round))" \
  python launch/distill.py --config="configs/ours2.py:$ARGS" --config.distill.end_steps=1 \
  --config.data.data_dir="$DATA_DIR" --teacher="$OUT/teacher" --workdir="$M/halving"

echo "== consistency distillation (one student, sampled at 1, 2, 4)"
timed "consistency" "$((3 * per_round))" python launch/distill.py --config="configs/ours2.py:$ARGS,method=consistency" \
  "${common[@]}" --workdir="$M/consistency"

for k in 1 2 4; do
  echo "== direct training on a $k-step grid"
  rounds=$(python -c "import math; print(int(math.log2(16 // $k)))")
  timed "direct-$k" "$((rounds * per_round))" python launch/distill.py --config="configs/ours2.py:$ARGS,method=direct" \
    --config.distill.end_steps="$k" "${common[@]}" --workdir="$M/direct_$k"
done

echo "== benchmark of every (method, steps)"
python launch/benchmark.py --teacher="$OUT/teacher" --student="$M/halving" --data_dir="$DATA_DIR" --out="$M" \
  ${SAMPLES:+--samples="$SAMPLES"} \
  --ablation=consistency-1:"$M/consistency":1 --ablation=consistency-2:"$M/consistency":2 \
  --ablation=consistency-4:"$M/consistency":4 --ablation=direct-1:"$M/direct_1" --ablation=direct-2:"$M/direct_2" \
  --ablation=direct-4:"$M/direct_4" > "$M/benchmark.log"
cat "$M/budget.md"
echo "report: $M/report.md"
