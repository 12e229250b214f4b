#!/usr/bin/env bash
# The main job on the embedded synthetic corpus: set-up, build the corpus (three speech engines and five other
# languages, K true motions per test clip), compute the Whisper-base features of the training clips (cached beside
# the corpus), train the small 16-step teacher on them, distill it to 2 steps (the Whisper features compressed
# into a small encoder on the waveform, then 16 -> 8 -> 4 -> 2 with the enhancer), train the no_distillation
# baseline, benchmark them all (quality from 4 samples per clip on test, test_unseen, test_unseen_voice and
# test_unseen_language, against the true distribution, articulation, speed from interleaved timings with the
# teacher's Whisper included, size, streaming), render ground truth beside teacher-16 and student-2, export the
# student (jax_export and ONNX, each checked against JAX), animate a wav of a voice no model heard with it (MP4,
# .glb, Live Link CSV, JSON), write $OUT/report.md and print the launch/view.py commands that play it in a browser.
# Every stage that already finished is skipped when the demo runs again (training resumes where it stopped).
#   bash launch/demo.sh            (DATA_DIR, OUT, SCALE and SAMPLES may be overridden from the environment)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh" export
DATA_DIR="${DATA_DIR:-data}"
OUT="${OUT:-runs/demo}"
DATASET="${DATASET:-synthetic_talkers}"
SCALE="${SCALE:-small}"
SAMPLES="${SAMPLES:-4}"                    # noise samples per clip (the corpus has K = 8 alternates; empty: K)
ARGS="dataset=$DATASET,scale=$SCALE"

echo "== [1/9] building $DATASET under $DATA_DIR (reused if already built)"
python launch/build_data.py --dataset="$DATASET" --data_dir="$DATA_DIR"

echo "== [2/9] Whisper-base features of the training clips (cached beside the corpus), then the 16-step teacher in"\
  "$OUT/teacher (resumes; nothing to do once finished)"
python launch/train.py --config="configs/ours16.py:$ARGS" --config.data.data_dir="$DATA_DIR" --workdir="$OUT/teacher"

echo "== [3/9] compressing the encoder, then distilling 16 -> 8 -> 4 -> 2 steps in $OUT/student (finished stages are skipped)"
python launch/distill.py --config="configs/ours2.py:$ARGS" --config.data.data_dir="$DATA_DIR" \
  --teacher="$OUT/teacher" --workdir="$OUT/student"

# The baseline starts from the student's compressed encoder (stage encoder/), so it differs from it only in how
# the 2-step model is trained. Other ablations (variant=no_emotion, no_identity, no_enhancer) go the same way.
# The benchmark's `compressed` row is that encoder stage itself sampled in 2 guided steps: the teacher's own
# denoiser on the compressed encoder, with no halving.
echo "== [4/9] the no_distillation baseline (2 steps, diffusion loss, same budget) in $OUT/no_distillation"
python launch/distill.py --config="configs/ours2.py:$ARGS,variant=no_distillation" \
  --config.data.data_dir="$DATA_DIR" --config.distill.encoder_from="$OUT/student" \
  --teacher="$OUT/teacher" --workdir="$OUT/no_distillation"

echo "== [5/9] benchmark: quality on every test split ($SAMPLES samples per clip), distribution, speed, size, streaming"
python launch/benchmark.py --teacher="$OUT/teacher" --student="$OUT/student" \
  --ablation=no_distillation:"$OUT/no_distillation" --ablation=compressed:"$OUT/student/encoder:2" \
  --large_batch=8 --lookahead_ms=200 ${SAMPLES:+--samples="$SAMPLES"} --data_dir="$DATA_DIR" --out="$OUT" \
  > "$OUT/benchmark.log"

echo "== [6/9] rendering ground truth | teacher-16 | student-2 for a held-out clip, with its audio"
python launch/render_compare.py --runs="teacher-16:$OUT/teacher,student-2:$OUT/student" --split=test \
  --data_dir="$DATA_DIR" --out="$OUT/render" | tee "$OUT/render.log"
python launch/render_data.py --dataset="$DATASET" --data_dir="$DATA_DIR" --split=test_unseen_voice --num_clips=2 \
  --out="$OUT/render" --write_wavs >> "$OUT/render.log"

echo "== [7/9] exporting the 2-step student (jax_export, onnx), each loaded back and checked against JAX"
python launch/export.py --checkpoint="$OUT/student" --format=jax_export,onnx --data_dir="$DATA_DIR" \
  --out="$OUT/export" | tee "$OUT/export.log"

echo "== [8/9] animating a wav of a voice no model heard with the student (MP4, .glb, Live Link CSV): $OUT/animate"
python launch/animate.py --checkpoint="$OUT/student" --audio="$OUT/render/gt_test_unseen_voice_0.wav" \
  --data_dir="$DATA_DIR" --out="$OUT/animate" --gltf --livelink_csv --json | tee "$OUT/animate.log"

echo "== [9/9] report"
{
  echo "## Ground truth | teacher-16 | student-2 (held-out test clip)"
  echo
  for f in "$OUT"/render/compare_*_sheet.png; do echo "![comparison](render/$(basename "$f"))"; echo; done
  for f in "$OUT"/render/compare_*.mp4 "$OUT"/render/compare_*.gif; do
    if [ -f "$f" ]; then echo "Video with audio: [render/$(basename "$f")](render/$(basename "$f"))"; echo; fi
  done
  echo "## The exported student (launch/export.py; max abs error against JAX at two clip lengths)"
  echo
  sed -n '/^| format/,/^$/p' "$OUT/export.log"
  echo
  echo "## Animated from a wav (launch/animate.py): [animate/](animate/)"
  echo
} >> "$OUT/report.md"
cat "$OUT/table.md"
echo "report: $OUT/report.md (plots: $OUT/quality_vs_speed.png, $OUT/metrics_vs_steps.png; renders: $OUT/render)"
GLB="$(ls "$OUT"/animate/*.glb 2> /dev/null | head -n 1)"
echo "watch it in a browser: python launch/view.py $GLB    (live: python launch/view.py --live --checkpoint=$OUT/student --audio=${GLB%.glb}.wav)"
