#!/usr/bin/env bash
# Your own face: fine-tune a trained teacher (the demo's by default) on a performer's Live Link Face takes, distill
# it to 2 steps, export it, and animate new speech as that performer.
#   bash launch/recipes/finetune_performer.sh <takes folder> [speech.wav]
# The takes folder holds the app's take folders under a folder per performer (README, "Your own captures");
# `python launch/make_capture.py --out=<folder>` writes a synthetic one. Settings (environment):
#   TEACHER (runs/demo/teacher), OUT (runs/performer), DATA_DIR (data), SCALE (small: the demo's model),
#   STEPS (teacher fine-tuning steps, 500), ENCODER_STEPS (student encoder stage, 500), ROUND_STEPS (per halving
#   round, 150), PERFORMER (the performer of takes not in a performer folder).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../setup_env.sh" ""   # no extras: the core install
TAKES="${1:?usage: finetune_performer.sh <takes folder> [speech.wav]}"
SPEECH="${2:-}"
TEACHER="${TEACHER:-runs/demo/teacher}"
OUT="${OUT:-runs/performer}"
DATA_DIR="${DATA_DIR:-data}"
SCALE="${SCALE:-small}"
ARGS="dataset=livelink_face,scale=$SCALE"
[ -f "$TEACHER/config.json" ] || { echo "finetune_performer: no trained teacher at $TEACHER (run bash launch/demo.sh, or set TEACHER)" >&2; exit 1; }
mkdir -p "$OUT"

echo "== build the takes"
python launch/build_data.py --dataset=livelink_face --manual_dir="$TAKES" --data_dir="$DATA_DIR" \
  ${PERFORMER:+--performer="$PERFORMER"}

echo "== fine-tune the teacher from $TEACHER"
# A shorter EMA than the base run's: its average must reach the fine-tuned weights within STEPS.
python launch/train.py --config="configs/ours16.py:$ARGS" --config.data.data_dir="$DATA_DIR" \
  --config.train.init_from="$TEACHER" --config.train.steps="${STEPS:-500}" --config.train.learning_rate=3e-4 \
  --config.train.warmup_steps=20 --config.train.ema_decay=0.98 --config.train.save_every=250 \
  --workdir="$OUT/teacher"

echo "== distill it to 2 steps"
python launch/distill.py --config="configs/ours2.py:$ARGS" --config.data.data_dir="$DATA_DIR" \
  --config.distill.encoder_steps="${ENCODER_STEPS:-500}" --config.distill.steps_per_round="${ROUND_STEPS:-150}" \
  --teacher="$OUT/teacher" --workdir="$OUT/student"

echo "== export and animate"
python launch/export.py --checkpoint="$OUT/student" --out="$OUT/export"
if [ -n "$SPEECH" ]; then
  python launch/animate.py --checkpoint="$OUT/student" --audio="$SPEECH" --out="$OUT/animate" --livelink_csv --gltf
fi
echo "performer's student: $OUT/student; stream it into Unreal with"
echo "  python launch/stream.py --checkpoint=$OUT/student --audio=<speech.wav> --livelink=<unreal host>"
