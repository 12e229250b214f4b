"""The step-count benchmark: quality, speed and size of the teacher, every distilled round and the ablations.

  python launch/benchmark.py --teacher=runs/teacher --student=runs/student --split=test,test_unseen \\
      --ablation=no_distillation:runs/no_distillation --ablation=no_emotion:runs/no_emotion --out=runs/benchmark
Speed and size alone, of the teacher and the student built from their configs with random weights (no training, no
data; e.g. the paper-sized pair on an accelerator):

  python launch/benchmark.py --untrained=dataset=synthetic_talkers,scale=paper --out=runs/speed_paper

Writes <out>/results.json, <out>/table.md (the paper's layout: EVE, LVE, FDD, FPS, Size; then speed and size), the
plots quality_vs_speed.png and quality_vs_steps.png, and <out>/report.md with all of them. Every row is kept in
<out>/rows/ as soon as it is measured: a killed benchmark run again skips finished rows (--overwrite measures them
again). Speeds are ratios measured in one run on one machine (named in every row); `--device_count=N` also times the
large batch sharded over N devices.
"""
import json
import os
import sys

from absl import app
from absl import flags
import jax
import tqdm

from dt_jax.bench import measure
from dt_jax.bench import report
from dt_jax.bench import rows as rows_lib

_TEACHER = flags.DEFINE_string("teacher", None, "Teacher workdir (or --untrained).")
_UNTRAINED = flags.DEFINE_string("untrained", None, "Config args (configs/ours16.py and configs/ours2.py), e.g. "
                                 "dataset=synthetic_talkers,scale=paper: time the randomly initialised teacher and "
                                 "student instead of trained runs (speed and size only).")
_STUDENT = flags.DEFINE_string("student", None, "Distill workdir (its steps_N rounds are rows).")
_ABLATION = flags.DEFINE_multi_string("ablation", [], "name:workdir of an ablation (repeatable).")
_SPLIT = flags.DEFINE_list("split", ["test", "test_unseen"], "Splits to score (the first one is plotted).")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Noise seeds per split.")
_OUT = flags.DEFINE_string("out", None, "Output folder.", required=True)
_SEED = flags.DEFINE_integer("seed", 0, "--untrained: the parameter initialisation seed.")
_CLIP = flags.DEFINE_float("clip_seconds", 10.0, "Clip length for the speed measurement.")
_LARGE = flags.DEFINE_integer("large_batch", 16, "The large batch of the speed measurement.")
_REPS = flags.DEFINE_integer("reps", 5, "Timed calls per speed (median).")
_DEVICES = flags.DEFINE_integer("device_count", 1, "> 1: also time the large batch sharded over this many devices.")
_BATCH = flags.DEFINE_integer("batch_size", 16, "Sequences per evaluation batch.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Override the runs' data_dir.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Measure rows again even if <out>/rows has them.")


def main(argv):
  del argv
  if _DEVICES.value > jax.device_count():
    raise app.UsageError(f"--device_count={_DEVICES.value} but only {jax.device_count()} devices are visible (on "
                         "a CPU: XLA_FLAGS=--xla_force_host_platform_device_count=N)")
  if (_TEACHER.value is None) == (_UNTRAINED.value is None):
    raise app.UsageError("give either --teacher (trained runs) or --untrained (config args, speed and size only)")
  splits = _SPLIT.value
  if _UNTRAINED.value is not None:
    if _STUDENT.value or _ABLATION.value:
      raise app.UsageError("--untrained builds its own teacher and student: no --student or --ablation")
    from configs import ours16, ours2  # pylint: disable=g-import-not-at-top
    rows = rows_lib.untrained_rows(ours16.get_config(_UNTRAINED.value), ours2.get_config(_UNTRAINED.value),
                                    data_dir=_DATA_DIR.value, seed=_SEED.value)
    splits = []
  else:
    ablations = {}
    for item in _ABLATION.value:
      name, sep, path = item.partition(":")
      if not sep or not name or not path:
        raise app.UsageError(f"--ablation={item!r}: expected name:workdir")
      ablations[name] = path
    rows = rows_lib.rows(teacher=_TEACHER.value, student=_STUDENT.value, ablations=ablations,
                          data_dir=_DATA_DIR.value)
  os.makedirs(os.path.join(_OUT.value, "rows"), exist_ok=True)
  dataset = next(r.run.dataset for r in rows if r.run is not None)
  results = []
  for row in tqdm.tqdm(rows, desc="benchmark", unit="row"):
    path = os.path.join(_OUT.value, "rows", f"{row.name}.json")
    if os.path.exists(path) and not _OVERWRITE.value:
      with open(path) as f:
        results.append(json.load(f))
      continue
    tqdm.tqdm.write(f"measuring {row.name} ({row.num_steps or 'no'} steps)")
    result = measure.measure(row, dataset=dataset, splits=splits, seeds=range(_SEEDS.value),
                               batch_size=_BATCH.value, clip_seconds=_CLIP.value, large_batch=_LARGE.value,
                               reps=_REPS.value, device_count=_DEVICES.value)
    with open(path + ".tmp", "w") as f:
      json.dump(result, f, indent=1)
    os.replace(path + ".tmp", path)
    results.append(result)
  paths = report.report(results, splits=splits, out_dir=_OUT.value,
                           command=" ".join(["python launch/benchmark.py"] + sys.argv[1:]))
  with open(paths["table"]) as f:
    print(f.read())
  for name, p in paths.items():
    print(f"{name}: {p}")


if __name__ == "__main__":
  app.run(main)
