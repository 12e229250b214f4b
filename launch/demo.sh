#!/usr/bin/env bash
# The main job on the embedded synthetic corpus: set-up, build the corpus, train the small 16-step teacher,
# distill it to 2 steps (16 -> 8 -> 4 -> 2 with encoder compression and the enhancer), train the
# no_distillation baseline, evaluate all of them against the static face on `test`, render ground truth.
# Every stage that already finished is skipped when the demo runs again (training resumes where it stopped).
#   bash launch/demo.sh            (DATA_DIR, OUT, SCALE and SEEDS may be overridden from the environment)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
DATA_DIR="${DATA_DIR:-data}"
OUT="${OUT:-runs/demo}"
DATASET="${DATASET:-synthetic_talkers}"
SCALE="${SCALE:-small}"
SEEDS="${SEEDS:-3}"
ARGS="dataset=$DATASET,scale=$SCALE"

echo "== [1/6] building $DATASET under $DATA_DIR (reused if already built)"
python launch/build_data.py --dataset="$DATASET" --data_dir="$DATA_DIR"

echo "== [2/6] training the 16-step teacher in $OUT/teacher (resumes; nothing to do once finished)"
python launch/train.py --config="configs/ours16.py:$ARGS" --config.data.data_dir="$DATA_DIR" --workdir="$OUT/teacher"

echo "== [3/6] distilling 16 -> 8 -> 4 -> 2 steps in $OUT/student (finished rounds are skipped)"
python launch/distill.py --config="configs/ours2.py:$ARGS" --config.data.data_dir="$DATA_DIR" \
  --teacher="$OUT/teacher" --workdir="$OUT/student"

echo "== [4/6] the no_distillation baseline (2 steps, diffusion loss, same budget) in $OUT/no_distillation"
python launch/distill.py --config="configs/ours2.py:$ARGS,variant=no_distillation" \
  --config.data.data_dir="$DATA_DIR" --teacher="$OUT/teacher" --workdir="$OUT/no_distillation"

echo "== [5/6] evaluating on test ($SEEDS seeds)"
evaluate() {   # run, extra flags...; skipped when its JSON exists
  local run="$1" name="$2"; shift 2
  [ -f "$OUT/eval/$name.json" ] || python launch/evaluate.py --checkpoint="$run" --split=test --seeds="$SEEDS" \
    --data_dir="$DATA_DIR" --out="$OUT/eval/$name" "$@"
  mkdir -p "$OUT/eval" && cp "$OUT/eval/$name"/*.json "$OUT/eval/$name.json"
}
evaluate "$OUT/teacher" static --baseline=static
evaluate "$OUT/teacher" teacher16
evaluate "$OUT/student/steps_8" student8
evaluate "$OUT/student/steps_4" student4
evaluate "$OUT/student/steps_2" student2
evaluate "$OUT/no_distillation/steps_2" no_distillation2
python launch/eval_table.py --eval_dir="$OUT/eval" --names=static,teacher16,student8,student4,student2,no_distillation2

echo "== [6/6] rendering ground-truth clips to $OUT"
python launch/render_data.py --dataset="$DATASET" --data_dir="$DATA_DIR" --split=test --num_clips=5 --out="$OUT"
echo "done: $OUT"
