"""Samples every sequence of a split whole and scores LVE, EVE, MVE and FDD (the README, Metrics).

  python launch/evaluate.py --checkpoint=runs/teacher --split=test --num_steps=16 --seeds=3
  python launch/evaluate.py --checkpoint=runs/teacher --split=test --baseline=static
  python launch/evaluate.py --checkpoint=runs/teacher --split=test_unseen_voice --clip=none   # unclipped samples
Writes <out>/eval_<split>.json and prints a table.
"""
import json
import os
import sys

import numpy as np

from absl import app
from absl import flags
import common_flags
import run_flags

from dt_jax.data import source
from dt_jax.eval import evaluator
from dt_jax.runs import loading
from dt_jax.runs import sampling
from dt_jax.train import checkpoint

_CKPT = common_flags.checkpoint()
_SPLIT = flags.DEFINE_string("split", "test", "Split to evaluate.")
_STEPS = common_flags.num_steps()
_SEEDS = flags.DEFINE_integer("seeds", 3, "Noise seeds to average over.")
_GUIDANCE = flags.DEFINE_float("guidance", None, "Classifier-free guidance weight w (default: the run's).")
_CLIP = flags.DEFINE_enum("clip", "run", ["run", "x0", "final", "none"],
                          "How samples keep the data's range (blendshapes: [0, 1]): the run's setting, the x "
                          "prediction clipped at every step, only the result clamped, or nothing.")
_BASELINE = flags.DEFINE_enum("baseline", None, ["static", "shifted"], "Score a baseline instead of the model: the "
                              "neutral face, or the truth itself late by --shift_ms (what a misalignment costs).")
_SHIFT = flags.DEFINE_float("shift_ms", 33.3, "--baseline=shifted: how late (negative: early) the truth is played.")
_BATCH = flags.DEFINE_integer("batch_size", 16, "Sequences per batch.")
_DATA_DIR = common_flags.data_dir()
_DATASET = flags.DEFINE_string("dataset", None, "Score on this dataset (same motion representation) instead of the "
                               "run's own, e.g. a base model on a performer's takes; --data_dir is then where it is "
                               "built.")
_OUT = common_flags.out(what="Where the JSON goes (default: the checkpoint folder).")
flags.adopt_module_key_flags(common_flags)   # the shared flags show in --help


def main(argv):
  del argv
  checkpoint.quiet_orbax_logs()
  run_flags.check_out("evaluate", _OUT.value)
  run = run_flags.load_run("evaluate", _CKPT.value, data_dir=None if _DATASET.value else _DATA_DIR.value)
  ds, steps = run.dataset, _STEPS.value or run.cfg.diffusion.num_steps
  if _DATASET.value:
    try:
      ds = source.open_dataset(_DATASET.value, data_dir=_DATA_DIR.value or run.cfg.data.data_dir)
    except FileNotFoundError as e:
      sys.exit(f"evaluate: {e}")
    if ds.motion_dim != run.dataset.motion_dim:
      sys.exit(f"evaluate: --dataset={_DATASET.value} has motion D = {ds.motion_dim}; the run was trained on "
               f"D = {run.dataset.motion_dim}")
  if _GUIDANCE.value is not None:
    run.cfg.diffusion.guidance = _GUIDANCE.value
  if _CLIP.value != "run":
    run.cfg.diffusion.clip_x0 = _CLIP.value == "x0"
  rows = {}
  if _BASELINE.value == "static":
    rows["static neutral face"] = evaluator.evaluate(ds, _SPLIT.value, sampling.static_predictor, seeds=(0,),
                                                     batch_size=_BATCH.value)
  elif _BASELINE.value == "shifted":
    rows[f"truth {_SHIFT.value:+g} ms"] = evaluator.evaluate(ds, _SPLIT.value,
                                                             sampling.shifted_truth_predictor(_SHIFT.value),
                                                             seeds=(0,), batch_size=_BATCH.value)
  else:
    predict = sampling.diffusion_predictor(run, num_steps=steps)
    bounds = loading.data_range(ds.motion_dim)
    if _CLIP.value == "final" and bounds is not None:
      unclamped = predict
      predict = lambda batch, seed: np.clip(unclamped(batch, seed), bounds[0], bounds[1])
    rows[f"{steps}-step"] = evaluator.evaluate(ds, _SPLIT.value, predict, seeds=tuple(range(_SEEDS.value)),
                                                      batch_size=_BATCH.value)
  out = _OUT.value or _CKPT.value
  os.makedirs(out, exist_ok=True)
  name = f"eval_{_DATASET.value.replace('/', '_') + '_' if _DATASET.value else ''}{_SPLIT.value}_"
  name += f"{_BASELINE.value or f'{steps}step'}" + (f"{_SHIFT.value:+g}ms" if _BASELINE.value == "shifted" else "")
  name += f"_w{run.guidance:g}" if run.guidance != 1.0 and not _BASELINE.value else ""
  name += f"_clip-{_CLIP.value}.json" if _CLIP.value != "run" and not _BASELINE.value else ".json"
  with open(os.path.join(out, name), "w") as f:
    json.dump(rows, f, indent=1)
  print(next(iter(rows.values()))["space"])
  print(evaluator.table(rows))
  print(f"wrote {os.path.join(out, name)}")


if __name__ == "__main__":
  app.run(main)
