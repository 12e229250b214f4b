#!/usr/bin/env bash
# The main job on the embedded synthetic corpus: set-up, build the corpus, summarise it, render ground truth.
# Later stages (train the teacher, distill to 2 steps, evaluate, benchmark, export) join here as they land.
#   bash launch/demo.sh            (DATA_DIR and OUT may be overridden from the environment)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
DATA_DIR="${DATA_DIR:-data}"
OUT="${OUT:-runs/demo}"
DATASET="${DATASET:-synthetic_talkers}"

echo "== [1/2] building $DATASET under $DATA_DIR (reused if already built)"
python launch/build_data.py --dataset="$DATASET" --data_dir="$DATA_DIR"

echo "== [2/2] rendering ground-truth clips to $OUT"
python launch/render_data.py --dataset="$DATASET" --data_dir="$DATA_DIR" --split=test --num_clips=5 --out="$OUT"
echo "done: $OUT"
