"""The benchmark's rows: the static face, teacher-N, every distilled round and each ablation, from trained runs; or
the teacher and student of two configs with random weights (speed and size only)."""
from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
import os
import subprocess

import jax
import jax.numpy as jnp
import ml_collections

from dt_jax import timebase
from dt_jax.data import normalization
from dt_jax.data import source
from dt_jax.distill import plan as plan_lib
from dt_jax.models import pretrained
from dt_jax.runs import loading


@dataclasses.dataclass(frozen=True)
class Row:
  name: str
  run: loading.Run | None         # None: the static face (quality only)
  num_steps: int
  kind: str                       # "baseline" | "teacher" | "student" | "ablation"


def rows(*, teacher: str, student: str | None, ablations: dict[str, str | tuple[str, int]],
         data_dir: str | None = None, allow_unfinished: bool = False) -> list[Row]:
  """The rows in table order: static face, teacher, the student's rounds (most steps first), ablations (name ->
  workdir, or (workdir, step count) to sample a run at another step count, e.g. a consistency student at 1, 2, 4)."""
  load = functools.partial(loading.load_run, data_dir=data_dir, allow_unfinished=allow_unfinished)
  t = load(teacher)
  out = [Row("static", None, 0, "baseline"), Row(f"teacher-{t.cfg.diffusion.num_steps}", t,
                                                 t.cfg.diffusion.num_steps, "teacher")]
  if student:
    rounds = loading.distill_rounds(student)
    if not rounds:
      raise FileNotFoundError(f"{student} holds no finished distillation round (steps_N/config.json)")
    for n, round_dir in rounds.items():
      out.append(Row(f"student-{n}", load(round_dir), n, "student"))
  loaded = {}
  for name, spec in ablations.items():
    path, steps = spec if isinstance(spec, tuple) else (spec, None)
    if path not in loaded:
      loaded[path] = load(path)
    run = loaded[path]
    out.append(Row(name, run, steps or run.num_steps, "ablation"))
  return out


@functools.lru_cache(maxsize=1)
def code_version() -> str:
  """dt_jax's version, and the git commit of the checkout it runs from (with '+changes' when tracked files were
  edited) where there is one."""
  version = importlib.metadata.version("dt_jax")
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  try:
    head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                          check=True).stdout.strip()
    edited = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                            text=True, timeout=10, check=True).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    return version
  return f"{version} {head}{'+changes' if edited else ''}"


def measured_key(row: Row, dataset, **settings) -> dict:
  """What a row's numbers depend on: the run (its folder, and its checkpoint's step and checksums' digest), the
  step count, the dataset and its version, the measurement's settings and the code. A cached row
  is reused only under an equal key."""
  key = {"row": row.name, "kind": row.kind, "num_steps": row.num_steps,
         "dataset": f"{dataset.name} {dataset.info.version}", "code": code_version(), **settings}
  if row.run is not None and row.run.workdir:
    key.update(run=os.path.realpath(row.run.workdir), checkpoint=row.run.checkpoint)
  return key


def untrained_rows(teacher_cfg, student_cfg, *, info, seed: int = 0) -> list[Row]:
  """Rows for speed and size only: the teacher of `teacher_cfg` (configs/ours16.py) at its step count and the
  student of `student_cfg` (configs/ours2.py) at every halving, randomly initialised. The dataset's shapes (motion
  dimension, speaker and emotion counts) come from `info`, its TFDS builder's (tfds_builders.builder(...).info), so
  nothing needs to be built; a dataset whose speakers are only known once built (etf3d) needs a built copy's."""
  if info.features["speaker"].num_classes is None:
    raise ValueError(f"{teacher_cfg.data.name}: its speaker count is set when it is built; build it (launch/"
                     f"build_data.py) and pass its data_dir")
  ds = source.Dataset(name=teacher_cfg.data.name, splits={}, rig=None, info=info)
  stats = normalization.identity(ds.motion_dim)
  teacher_cfg = teacher_cfg.copy_and_resolve_references()
  teacher_cfg.model = pretrained.with_imported_encoder(teacher_cfg.model)
  teacher = loading.model_for(teacher_cfg, ds)
  halvings = plan_lib.plan(teacher_steps=teacher_cfg.diffusion.num_steps, end_steps=student_cfg.distill.end_steps,
                           target="teacher")
  student_cfg = ml_collections.ConfigDict({"model": plan_lib.student_model_config(student_cfg, teacher_cfg),
                                           "diffusion": {"num_steps": halvings[-1], "guidance": 1.0,
                                                                         "clip_x0": teacher_cfg.diffusion.clip_x0}})
  student = loading.model_for(student_cfg, ds)

  def run(model, cfg, key):
    frames = timebase.FPS                                        # one second
    inputs = (jnp.zeros((1, timebase.SAMPLE_RATE)), jnp.zeros((1, frames, ds.motion_dim)), jnp.zeros((1,)),
              jnp.ones((1, frames)))                             # audio [1, S], motion [1, T, D], t [1], mask [1, T]
    params = jax.jit(model.init)({"params": jax.random.PRNGKey(key)}, *inputs)["params"]
    return loading.Run(cfg=cfg, dataset=ds, model=model, params=params, stats=stats, workdir=None)

  n = teacher_cfg.diffusion.num_steps
  out = [Row(f"teacher-{n}", run(teacher, teacher_cfg, seed), n, "teacher")]
  s = run(student, student_cfg, seed + 1)
  return out + [Row(f"student-{k}", s, k, "student") for k in halvings]
