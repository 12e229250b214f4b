"""Running a distillation: the stages of distill/plan.py (encoder stage, then 16 -> 8 -> 4 -> 2 (-> 1)), each from
the previous stage's student, resumable.

Every stage is a complete run directory (its own `config.json` with the student model and `diffusion.num_steps`,
`checkpoints/`, `metrics.jsonl`), so every step count can be evaluated, benchmarked and exported later
(`launch/evaluate.py --checkpoint=<workdir>/steps_4`). A stage is finished when its checkpoint reached its step
count; a run started again skips finished stages and resumes an unfinished one from its last checkpoint with the
same data order.

The student starts from the teacher: the personalizer and denoiser are copied (the student's encoder projection
gives them the teacher's feature width). Its small encoder starts fresh and is first compressed from the teacher's
alone (`encoder/`: `distill.encoder_steps` on the teacher's grid, nothing else trained; `encoder_loss="outputs"`:
the copied denoiser on the student's features must predict what the teacher predicts, or "features": L_ae), then
round 1 keeps L_ae at `w_ae` beside the distillation loss. Without that stage the copied denoiser meets random
features while it chases the halved target, and the lip information the encoder misses in round 1 is never
recovered: each later round's teacher is the previous student.
Each stage has a fresh optimizer with the learning rate annealed linearly to 0, no dropout and no EMA.
The `no_distillation` variant is the same encoder stage, then one round on the student's own grid with the data as
the target and the budget of all the halving rounds.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec as P

from dt_jax.data import augment as augment_lib
from dt_jax.data import normalization
from dt_jax.data import pipeline
from dt_jax.data import sharding as data_sharding
from dt_jax.data import source
from dt_jax.distill import enhancer
from dt_jax.distill import plan as plan_lib
from dt_jax.distill import step as distill_lib
from dt_jax.models import talker
from dt_jax.runs import loading
from dt_jax.train import checkpoint as ckpt_lib
from dt_jax.train import feature_cache
from dt_jax.train import loop
from dt_jax.train import session
from dt_jax.train import sharding
from dt_jax.train import workdir as workdir_lib


def transplant(params, source) -> tuple[dict, list[str], list[str]]:
  """`params` with every leaf that `source` has at the same path and shape copied from it.
  Returns (params, copied paths, fresh paths)."""
  flat_src = {jax.tree_util.keystr(p): x for p, x in jax.tree_util.tree_leaves_with_path(source)}
  copied, fresh = [], []

  def pick(path, x):
    key = jax.tree_util.keystr(path)
    if key in flat_src and flat_src[key].shape == x.shape:
      copied.append(key)
      return jnp.asarray(flat_src[key], x.dtype)
    fresh.append(key)
    return x
  return jax.tree_util.tree_map_with_path(pick, params), copied, fresh


def _round_config(cfg, model_cfg, *, num_steps: int, teacher: str, stage_steps: int, teacher_checkpoint: str,
                  guidance: float = 1.0) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict(cfg.to_dict())
  c.distill.stage_steps = stage_steps                     # a stage is finished at this step (loading.total_steps)
  c.distill.teacher_checkpoint = teacher_checkpoint       # the original teacher's checkpoint this student came from
  c.model = model_cfg
  # A student samples unguided (guidance is in its targets); the encoder stage, the teacher's denoiser on the
  # compressed encoder, keeps its teacher's guidance. Both keep the data's range as the teacher does.
  c.diffusion = dict(num_steps=num_steps, guidance=guidance, clip_x0=cfg.diffusion.clip_x0)
  c.distill.teacher = teacher
  c.distill.teacher_realpath = os.path.realpath(teacher)   # `teacher` may be relative to the launch directory
  return c


def _replicated(tree, mesh):
  return jax.device_put(jax.device_get(tree), NamedSharding(mesh, P()))


def _teacher_of(round_dir: str) -> str:
  """The teacher checkpoint a stage records ('' for a stage saved before stages recorded it)."""
  path = os.path.join(round_dir, "config.json")
  return loading.read_config(round_dir).distill.teacher_checkpoint if os.path.exists(path) else ""


def set_aside_if_stale(round_dir: str, teacher_checkpoint: str) -> bool:
  """Moves a stage distilled from another checkpoint of the teacher (e.g. before the teacher finished) to
  `<stage>.teacher_<step>` so that it is distilled again; returns whether it did."""
  old = _teacher_of(round_dir)
  if not old or old == teacher_checkpoint:
    return False
  dst, n = f"{round_dir}.teacher_{old.split(':')[0]}", 1
  while os.path.exists(dst):
    n += 1
    dst = f"{round_dir}.teacher_{old.split(':')[0]}.{n}"
  os.replace(round_dir, dst)
  logging.warning("%s was distilled from the teacher's checkpoint %s, the teacher is now at %s: moved to %s and "
                  "distilled again", round_dir, old, teacher_checkpoint, dst)
  return True


def round_done(round_dir: str, steps: int) -> bool:
  if not os.path.exists(os.path.join(round_dir, "checkpoints")):
    return False
  ckpt = ckpt_lib.Checkpointer(os.path.join(round_dir, "checkpoints"))
  try:
    return ckpt.latest_step() == steps
  finally:
    ckpt.close()


def _final_params(round_dir: str):
  """The student parameters of a finished stage, on this process's first device."""
  ckpt = ckpt_lib.Checkpointer(os.path.join(round_dir, "checkpoints"))
  try:
    return ckpt.restore_local()["params"]
  finally:
    ckpt.close()


def round_schedule(*, learning_rate: float, warmup_steps: int, total_steps: int) -> optax.Schedule:
  """Linear warm-up from 0 over `warmup_steps`, then linear decay to 0 at `total_steps` (a fresh Adam at the full
  rate moves every parameter by ~lr in its first steps, undoing the previous round's student)."""
  decay = optax.linear_schedule(learning_rate, 0.0, total_steps - warmup_steps)
  if not warmup_steps:
    return decay
  return optax.join_schedules([optax.linear_schedule(0.0, learning_rate, warmup_steps), decay], [warmup_steps])


def shared_encoder_stage(path: str, *, teacher_dir: str, teacher_checkpoint: str, encoder) -> dict:
  """The parameters at the end of another distill workdir's finished encoder stage (`path` = the workdir or its
  `encoder/`), so that ablations share one compressed encoder; it must come from the same teacher and have the
  same student encoder."""
  stage = path if os.path.basename(os.path.normpath(path)) == "encoder" else os.path.join(path, "encoder")
  if not os.path.exists(os.path.join(stage, "config.json")):
    raise FileNotFoundError(f"distill.encoder_from: {stage} holds no encoder stage (run launch/distill.py there "
                            f"first)")
  c = loading.read_config(stage)
  if c.distill.teacher_realpath != os.path.realpath(teacher_dir):
    raise ValueError(f"distill.encoder_from: {stage} was compressed from {c.distill.teacher}, not {teacher_dir}")
  if c.distill.teacher_checkpoint and c.distill.teacher_checkpoint != teacher_checkpoint:
    raise ValueError(f"distill.encoder_from: {stage} was compressed from the teacher's checkpoint "
                     f"{c.distill.teacher_checkpoint}, the teacher is now at {teacher_checkpoint}: distill it again")
  if c.model.encoder.to_dict() != json.loads(json.dumps(encoder.to_dict())):
    raise ValueError(f"distill.encoder_from: {stage} has another student encoder ({c.model.encoder})")
  if not round_done(stage, c.distill.encoder_steps):
    raise ValueError(f"distill.encoder_from: the encoder stage in {stage} has not finished")
  logging.info("encoder stage shared from %s", stage)
  return _final_params(stage)


@dataclasses.dataclass(frozen=True)
class _Setting:
  """What every stage of one distillation shares."""
  cfg: ml_collections.ConfigDict
  ds: source.Dataset
  stats: normalization.MotionStats
  mesh: jax.sharding.Mesh
  model_cfg: ml_collections.ConfigDict          # the student's
  student: talker.Talker
  heads: enhancer.EnhancerHeads
  teacher_dir: str
  workdir: str
  windows: dict                                 # {split: FeatureWindows} of a pretrained teacher's cache, or {}
  teacher_guidance: float                       # the teacher's own w (its encoder stage samples with it)
  teacher_checkpoint: str                       # the teacher's Checkpointer.fingerprint, recorded by every stage
  x_range: tuple | None                         # the data's range in model units (teachers' predictions kept in it)


def _init_state(setting: _Setting, stage: plan_lib.Stage, first: dict, init_params, tx, *, log_transplant: bool):
  """The stage's fresh state (student from `init_params` where shapes match, new enhancer heads), sharded."""
  face = np.asarray(stage.loss.face_channels)

  def make(rng, src):
    r1, r2 = jax.random.split(rng)
    p = setting.student.init({"params": r1}, first["audio"], first["motion"], jnp.zeros(first["motion"].shape[0]),
                             first["mask"])["params"]
    p, _, _ = transplant(p, src)
    personal = jnp.zeros(first["motion"].shape[:2] + (setting.model_cfg.personalizer.width,))
    h = setting.heads.init(r2, personal, first["motion"][..., face], first["mask"])["params"]
    return distill_lib.create(p, h, tx, ema=stage.loss.target == "consistency")

  src, rng = jax.device_get(init_params), jax.random.PRNGKey(setting.cfg.distill.seed)
  state_shape = jax.eval_shape(make, rng, src)
  state_sh = sharding.tree_shardings(state_shape, setting.mesh, rules=[tuple(r) for r in setting.cfg.sharding.rules])
  if log_transplant:
    _, copied, fresh = transplant(state_shape.params, src)
    logging.info("student from teacher: %d tensors copied, %d fresh (%s)", len(copied), len(fresh),
                 ", ".join(sorted({f.split("']")[0] + "']" for f in fresh})))
  return jax.jit(make, out_shardings=state_sh)(rng, src), state_sh


def run_stage(setting: _Setting, stage: plan_lib.Stage, *, index: int, init_params, teacher: talker.Talker,
              teacher_params, budget: int | None):
  """Trains (or resumes) one stage in `<workdir>/<stage.name>`, at most `budget` steps (None: to its end); returns
  (student params, last metrics, steps run, whether the stage finished)."""
  cfg, d, mesh = setting.cfg, setting.cfg.distill, setting.mesh
  round_dir = os.path.join(setting.workdir, stage.name)
  data = functools.partial(pipeline.train_batches, setting.ds.splits["train"], window_frames=cfg.data.window_frames,
                           global_batch=cfg.data.global_batch, seed=stage.data_seed, stats=setting.stats,
                           augment=augment_lib.from_config(cfg.data.augment),
                           features=setting.windows.get("train"),
                           process_index=jax.process_index(), process_count=jax.process_count())
  # The encoder stage's Adam sees exactly-zero gradients outside the encoder: its updates there are zero.
  tx = optax.chain(optax.clip_by_global_norm(d.clip_norm), optax.adam(round_schedule(
      learning_rate=d.learning_rate, warmup_steps=d.warmup_steps, total_steps=stage.total)))
  state, state_sh = _init_state(setting, stage, data_sharding.global_batch(data()[0], mesh), init_params, tx,
                                log_transplant=index == 0)
  rcfg = _round_config(cfg, setting.model_cfg, num_steps=stage.num_steps, teacher=os.path.join(
      setting.workdir, stage.teacher_round) if stage.teacher_round else setting.teacher_dir,
                       stage_steps=stage.total, teacher_checkpoint=setting.teacher_checkpoint,
                       guidance=setting.teacher_guidance if stage.encoder_only else 1.0)
  workdir_lib.check_resume(round_dir, rcfg)
  t_params = _replicated(teacher_params, mesh)
  kw = dict(student=setting.student, teacher=teacher, heads=setting.heads, cfg=stage.loss, x_range=setting.x_range)
  step_fn = jax.jit(functools.partial(distill_lib.distill_step, tx=tx, **kw), in_shardings=(state_sh, None, None, None),
                    out_shardings=(state_sh, None), donate_argnums=0)
  val_fn = jax.jit(lambda tr, e, b, r: distill_lib.loss_fn(tr, t_params, b, r, ema_params=e, **kw)[1][stage.val_key])
  val = lambda st: loop.validation_loss(lambda tr, b, r: val_fn(tr, st.ema, b, r),
                                        {"student": st.params, "heads": st.heads}, setting.ds, cfg, mesh,
                                        stats=setting.stats, windows=setting.windows.get("validation"))
  rng = jax.random.PRNGKey(d.seed + 100 + index)
  # The student samples in its teacher's units: the stage saves the teacher's motion stats.
  state, last, start, end = session.run(
      workdir=round_dir, cfg=rcfg, stats=setting.stats, state=state,
      step_fn=lambda s, b: step_fn(s, t_params, b, rng), stream=lambda start: data(start_step=start), mesh=mesh,
      total=stage.total, budget=budget, log_every=d.log_every, save_every=d.save_every, desc=stage.label,
      validate=val, val_key=f"val/{stage.val_key}", validate_first=True)
  return state.params, last, end - start, end == stage.total


def distill(cfg, *, teacher_dir: str, workdir: str, stop_after: int | None = None,
            allow_unfinished: bool = False) -> dict:
  """Runs (or resumes) every stage; returns {'rounds': {num_steps: round_dir}, 'last': the last stage's metrics,
  'student', 'dataset'}. `stop_after` stops after that many steps of this call (tests of kill-and-resume). Holds the
  workdir's lock throughout; SIGTERM saves the stage it is in and raises session.Preempted (no later stage runs).
  An unfinished teacher is refused unless `allow_unfinished`; every stage records the teacher checkpoint it came
  from, and a stage from another checkpoint (the teacher trained on since) is set aside and distilled again."""
  os.makedirs(workdir, exist_ok=True)
  with workdir_lib.WorkdirLock(workdir, enabled=jax.process_index() == 0):
    return _distill(cfg, teacher_dir=teacher_dir, workdir=workdir, stop_after=stop_after,
                    allow_unfinished=allow_unfinished)


def _distill(cfg, *, teacher_dir: str, workdir: str, stop_after: int | None, allow_unfinished: bool) -> dict:
  run = loading.load_run(teacher_dir, data_dir=cfg.data.data_dir, allow_unfinished=allow_unfinished)
  if "distill" in run.cfg:
    raise ValueError(f"--teacher={teacher_dir}: {run.workdir} is a distilled student ({run.num_steps} steps), not "
                     f"a teacher; pass the teacher's training workdir (launch/train.py's --workdir)")
  ds, mesh = run.dataset, data_sharding.data_mesh()
  for split in ("train", "validation"):     # a damaged split stops the run now, not after a stage's last step
    source.check_split(ds.splits[split])
  if cfg.data.global_batch % mesh.size:
    raise ValueError(f"global batch {cfg.data.global_batch} does not divide over {mesh.size} devices")
  model_cfg = plan_lib.student_model_config(cfg, run.cfg)
  windows = {}
  if run.cfg.model.speech_encoder:   # the teacher's cached features, by the recipe (renditions) it trained with
    cached = feature_cache.ensure(ds, run.cfg)
    windows = {split: loop.feature_windows(run.cfg, cached, split, with_audio=True) for split in cached}
  setting = _Setting(cfg=cfg, ds=ds, stats=run.stats, mesh=mesh, model_cfg=model_cfg,
                     student=loading.model_for(ml_collections.ConfigDict({"model": model_cfg}), ds),
                     heads=enhancer.EnhancerHeads(cfg.distill.heads_width), teacher_dir=teacher_dir, workdir=workdir,
                     windows=windows, x_range=loading.model_range(run.data_range, run.stats),
                     teacher_guidance=run.guidance, teacher_checkpoint=run.checkpoint)
  face = tuple(int(c) for c in enhancer.upper_face_channels(motion_dim=ds.motion_dim, rig=ds.rig))
  stage_list = plan_lib.stages(cfg.distill, teacher_steps=run.num_steps, face_channels=face,
                               teacher_guidance=run.guidance)
  # `source` initialises the next stage's student; `teacher` / `t_params` teach the next round.
  source_params = (shared_encoder_stage(cfg.distill.encoder_from, teacher_dir=teacher_dir,
                                       teacher_checkpoint=run.checkpoint, encoder=model_cfg.encoder)
                   if cfg.distill.encoder_from else run.params)
  teacher, t_params, budget, result = run.model, run.params, stop_after, {"rounds": {}}
  for k, stage in enumerate(stage_list):
    round_dir = os.path.join(workdir, stage.name)
    if jax.process_index() == 0:
      set_aside_if_stale(round_dir, run.checkpoint)
    if jax.process_count() > 1:
      multihost_utils.sync_global_devices(f"{stage.name} checked")
    if not stage.encoder_only:
      result["rounds"][stage.num_steps] = round_dir
    if round_done(round_dir, stage.total):              # finished earlier: its student starts / teaches the next
      source_params = _final_params(round_dir)
      logging.info("%s (%d steps) already finished in %s", stage.name, stage.num_steps, round_dir)
    else:
      source_params, result["last"], ran, finished = run_stage(
          setting, stage, index=k, init_params=source_params, teacher=teacher, teacher_params=t_params,
          budget=budget)
      if budget is not None:
        budget -= ran
        if not finished or budget <= 0:
          break
    if not stage.encoder_only:
      teacher, t_params = setting.student, source_params
  with open(os.path.join(workdir, "rounds.json"), "w") as f:
    json.dump({str(n): p for n, p in result["rounds"].items()}, f, indent=1)
  return {**result, "student": setting.student, "dataset": ds}
