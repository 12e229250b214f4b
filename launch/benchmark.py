"""The step-count benchmark: quality, speed and size of the teacher, every distilled round and the ablations.

  python launch/benchmark.py --teacher=runs/teacher --student=runs/student \\
      --ablation=no_distillation:runs/no_distillation --ablation=no_emotion:runs/no_emotion --out=runs/benchmark
Speed and size alone, of the teacher and the student built from their configs with random weights (no training, no
data; e.g. the paper-sized pair on an accelerator):

  python launch/benchmark.py --untrained=dataset=synthetic_talkers,scale=paper --out=runs/speed_paper

Every row is scored on each split (default: test, test_unseen, test_unseen_voice, test_unseen_language where the
dataset has them) from
--samples noise samples per clip (default: the dataset's number of true alternates K): per sample LVE, EVE, MVE,
FDD and the articulation metrics (mean ± spread), and all samples together against the alternates (diversity,
energy distance with its floor and the static face's, best-of-N). Speed: frames per second of each model, and its
speed-up over the teacher as the median and quartiles of --pairs interleaved timings (--large_batch_pairs at the
large batch), timing the same compiled calls as the frames per second.
Writes <out>/results.json, <out>/table.md, the plots and <out>/report.md (which opens with a verdict on the paper's
orderings). Every row is kept in <out>/rows/ as soon as it is measured: a killed benchmark run again skips
rows measured by the same code from the same checkpoints with the same settings; a row whose run, checkpoint, split,
samples or code changed is measured again (--overwrite measures every row again). `--device_count=N` also times
the large batch sharded over N devices.
"""
import json
import os
import sys

from absl import app
from absl import flags
import jax
import tqdm
import common_flags
import run_flags

from dt_jax.bench import measure
from dt_jax.bench import report
from dt_jax.bench import rows as rows_lib
from dt_jax.bench import timing
from dt_jax.train import checkpoint
import tfds_builders

TEST_SPLITS = ("test", "test_unseen", "test_unseen_voice", "test_unseen_language")
_TEACHER = flags.DEFINE_string("teacher", None, "Teacher workdir (or --untrained).")
_UNTRAINED = flags.DEFINE_string("untrained", None, "Config args (configs/ours16.py and configs/ours2.py), e.g. "
                                 "dataset=synthetic_talkers,scale=paper: time the randomly initialised teacher and "
                                 "student instead of trained runs (speed and size only).")
_STUDENT = flags.DEFINE_string("student", None, "Distill workdir (its steps_N rounds are rows).")
_ABLATION = flags.DEFINE_multi_string("ablation", [], "name:workdir[:steps] of an ablation or another method "
                                       "(repeatable; steps: sample it at that step count).")
_SPLIT = flags.DEFINE_list("split", None, "Splits to score (default: test, test_unseen, test_unseen_voice, "
                           "test_unseen_language where the dataset has them; the first one is the teaser plot's).")
_SAMPLES = flags.DEFINE_integer("samples", None, "Noise samples per clip (default: the dataset's K alternates, "
                                "else 3).")
_OUT = common_flags.out(required=True)
_SEED = flags.DEFINE_integer("seed", 0, "--untrained: the parameter initialisation seed.")
_CLIP = flags.DEFINE_float("clip_seconds", 10.0, "Clip length for the speed measurement.")
_LARGE = flags.DEFINE_integer("large_batch", 16, "The large batch of the speed measurement.")
_REPS = flags.DEFINE_integer("reps", 5, "Timed calls per speed (median).")
_PAIRS = flags.DEFINE_integer("pairs", 10, "Interleaved (teacher, row) timings per speed-up at batch 1.")
_LARGE_PAIRS = flags.DEFINE_integer("large_batch_pairs", 4, "Interleaved timings per speed-up at the large batch "
                                    "(each a whole large batch of the teacher: seconds on a CPU).")
_DEVICES = flags.DEFINE_integer("device_count", 1, "> 1: also time the large batch sharded over this many devices.")
_BATCH = flags.DEFINE_integer("batch_size", 16, "Sequences per evaluation batch.")
_LOOKAHEAD = flags.DEFINE_list("lookahead_ms", ["80", "200", "500"], "Lookaheads of the streaming measurement (ms).")
_DATA_DIR = common_flags.data_dir()
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Measure rows again even if <out>/rows has them.")
flags.adopt_module_key_flags(common_flags)   # the shared flags show in --help


def _rows():
  if _UNTRAINED.value is not None:
    if _STUDENT.value or _ABLATION.value:
      raise app.UsageError("--untrained builds its own teacher and student: no --student or --ablation")
    from configs import ours16, ours2  # pylint: disable=g-import-not-at-top
    teacher_cfg = ours16.get_config(_UNTRAINED.value)
    info = tfds_builders.builder(teacher_cfg.data.name, data_dir=_DATA_DIR.value or teacher_cfg.data.data_dir).info
    return rows_lib.untrained_rows(teacher_cfg, ours2.get_config(_UNTRAINED.value), info=info, seed=_SEED.value)
  ablations = {}
  for item in _ABLATION.value:
    parts = item.split(":")
    if len(parts) not in (2, 3) or not all(parts) or (len(parts) == 3 and not parts[2].isdigit()):
      raise app.UsageError(f"--ablation={item!r}: expected name:workdir[:steps]")
    ablations[parts[0]] = (parts[1], int(parts[2])) if len(parts) == 3 else parts[1]
  try:
    return rows_lib.rows(teacher=_TEACHER.value, student=_STUDENT.value, ablations=ablations, data_dir=_DATA_DIR.value,
                         allow_unfinished=run_flags.ALLOW_UNFINISHED.value)
  except run_flags.UNUSABLE as e:
    sys.exit(f"benchmark: {' '.join(str(e).split())}")


def _save(path: str, result: dict) -> None:
  with open(path + ".tmp", "w") as f:
    json.dump(result, f, indent=1)
  os.replace(path + ".tmp", path)


def _cached(path: str) -> dict | None:
  """A row measured earlier, or None (none, or a file cut short by a kill)."""
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, json.JSONDecodeError):
    return None


def main(argv):
  del argv
  checkpoint.quiet_orbax_logs()
  run_flags.check_out("benchmark", _OUT.value)
  if _DEVICES.value > jax.device_count():
    raise app.UsageError(f"--device_count={_DEVICES.value} but only {jax.device_count()} devices are visible (on "
                         "a CPU: XLA_FLAGS=--xla_force_host_platform_device_count=N)")
  if (_TEACHER.value is None) == (_UNTRAINED.value is None):
    raise app.UsageError("give either --teacher (trained runs) or --untrained (config args, speed and size only)")
  rows = _rows()
  dataset = next(r.run.dataset for r in rows if r.run is not None)
  if _UNTRAINED.value is not None:
    splits, samples = [], 1
  else:
    splits = _SPLIT.value or [s for s in TEST_SPLITS if s in dataset.splits]
    unknown = [s for s in splits if s not in dataset.splits]
    if unknown:
      raise app.UsageError(f"--split: {dataset.name} has no split {', '.join(unknown)}; it has "
                           f"{', '.join(dataset.splits)}")
    samples = _SAMPLES.value or int(dataset.info.metadata.get("alternates", 3))
  os.makedirs(os.path.join(_OUT.value, "rows"), exist_ok=True)
  results = []
  generators = timing.Generators(clip_seconds=_CLIP.value)       # each timed call compiled once, for both timings
  for row in tqdm.tqdm(rows, desc="benchmark", unit="row"):
    path = os.path.join(_OUT.value, "rows", f"{row.name}.json")
    key = rows_lib.measured_key(row, dataset, splits=list(splits), samples=samples, batch_size=_BATCH.value,
                                clip_seconds=_CLIP.value, large_batch=_LARGE.value, device_count=_DEVICES.value,
                                lookahead_ms=list(_LOOKAHEAD.value), reps=_REPS.value)
    cached = _cached(path) if not _OVERWRITE.value else None
    if cached is not None and cached.get("key") == key:
      results.append(cached)
      continue
    if cached is not None:
      old = cached.get("key") or {}
      changed = sorted(k for k in set(key) | set(old) if key.get(k) != old.get(k))
      tqdm.tqdm.write(f"{path} was measured with another {', '.join(changed)}: measuring {row.name} again")
    tqdm.tqdm.write(f"measuring {row.name} ({row.num_steps or 'no'} steps)")
    result = measure.measure(row, dataset=dataset, splits=splits, seeds=range(samples), batch_size=_BATCH.value,
                             clip_seconds=_CLIP.value, large_batch=_LARGE.value, reps=_REPS.value,
                             device_count=_DEVICES.value, generators=generators,
                             lookaheads=tuple(float(ms) / 1000 for ms in _LOOKAHEAD.value))
    result["key"] = key
    _save(path, result)
    results.append(result)
  measure.speedups(rows, results, clip_seconds=_CLIP.value, large_batch=_LARGE.value, pairs=_PAIRS.value,
                   large_batch_pairs=_LARGE_PAIRS.value, generators=generators)
  for row, result in zip(rows, results):
    _save(os.path.join(_OUT.value, "rows", f"{row.name}.json"), result)
  paths = report.report(results, splits=splits, out_dir=_OUT.value,
                        command=" ".join(["python launch/benchmark.py"] + sys.argv[1:]))
  with open(paths["table"]) as f:
    print(f.read())
  for name, p in paths.items():
    print(f"{name}: {p}")


if __name__ == "__main__":
  app.run(main)
