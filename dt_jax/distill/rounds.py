"""The distillation rounds: 16 -> 8 -> 4 -> 2 (-> 1), each from the previous round's student, resumable.

Layout of a distill workdir: `encoder/` (the encoder-compression stage), `steps_8/`, `steps_4/`, `steps_2/`, each
a complete run directory (its own `config.json` with the student model and `diffusion.num_steps`, `checkpoints/`,
`metrics.jsonl`), so every step count can be evaluated, benchmarked and exported later
(`launch/evaluate.py --checkpoint=<workdir>/steps_4`).
A round is finished when its checkpoint reached the round's step count; a run started again skips finished
rounds and resumes an unfinished one from its last checkpoint with the same data order.

The student starts from the teacher: the personalizer and denoiser are copied (the student's encoder projection
gives them the teacher's feature width). Its small encoder starts fresh and is first compressed from the teacher's
alone (`encoder/`: `distill.encoder_steps` on the teacher's grid, nothing else trained; `encoder_loss="outputs"`:
the copied denoiser on the student's features must predict what the teacher predicts, or "features": L_ae), then
round 1 keeps L_ae at `w_ae` beside the distillation loss. Without that stage the copied denoiser meets random
features while it chases the halved target, and the lip information the encoder misses in round 1 is never
recovered: each later round's teacher is the previous student.
Each round has a fresh optimizer with the learning rate annealed linearly to 0, no dropout and no EMA.
The `no_distillation` variant is the same encoder stage, then one round on the student's own grid with the data as
the target and the budget of all the halving rounds.
"""
from __future__ import annotations

import functools
import json
import math
import os

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec as P

from dt_jax.data import normalization
from dt_jax.data import pipeline
from dt_jax.data import sharding as data_sharding
from dt_jax.distill import enhancer
from dt_jax.distill import step as distill_lib
from dt_jax.eval import evaluator
from dt_jax.train import checkpoint as ckpt_lib
from dt_jax.train import loop
from dt_jax.train import sharding


def plan(*, teacher_steps: int, end_steps: int, target: str) -> list[int]:
  """The student step counts of the rounds: [8, 4, 2] for 16 -> 2; [2] for the no_distillation baseline."""
  if teacher_steps & (teacher_steps - 1) or end_steps & (end_steps - 1) or not 1 <= end_steps < teacher_steps:
    raise ValueError(f"cannot halve {teacher_steps} steps down to {end_steps}: both must be powers of two, "
                     f"end < start")
  halvings = [teacher_steps >> k for k in range(1, int(math.log2(teacher_steps // end_steps)) + 1)]
  return halvings if target == "teacher" else [end_steps]


def student_model_config(cfg, teacher_cfg) -> ml_collections.ConfigDict:
  """The full student model config: the student's small encoder (+ projection to the teacher's feature width),
  the teacher's personalizer and denoiser shapes, no dropout, the variant's identity/emotion switches."""
  model = ml_collections.ConfigDict(teacher_cfg.model.to_dict())
  model.encoder = ml_collections.ConfigDict(dict(cfg.model.encoder))
  model.encoder.dropout = 0.0
  model.audio_encoder_init = ""          # the student's encoder is its own (L_ae), never the imported one
  model.denoiser.dropout = 0.0
  model.feature_width = teacher_cfg.model.encoder.width
  model.personalizer.use_identity = cfg.model.personalizer.use_identity
  model.personalizer.use_emotion = cfg.model.personalizer.use_emotion
  return model


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


def _round_config(cfg, model_cfg, *, num_steps: int, teacher: str) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict(cfg.to_dict())
  c.model = model_cfg
  c.diffusion = dict(num_steps=num_steps)
  c.distill.teacher = teacher
  c.distill.teacher_realpath = os.path.realpath(teacher)   # `teacher` may be relative to the launch directory
  return c


def _replicated(tree, mesh):
  return jax.device_put(jax.device_get(tree), NamedSharding(mesh, P()))


def round_done(round_dir: str, steps: int) -> bool:
  if not os.path.exists(os.path.join(round_dir, "checkpoints")):
    return False
  ckpt = ckpt_lib.Checkpointer(os.path.join(round_dir, "checkpoints"))
  done = ckpt.latest_step() == steps
  ckpt.close()
  return done


def round_schedule(*, learning_rate: float, warmup_steps: int, total_steps: int) -> optax.Schedule:
  """Linear warm-up from 0 over `warmup_steps`, then linear decay to 0 at `total_steps` (a fresh Adam at the full
  rate moves every parameter by ~lr in its first steps, undoing the previous round's student)."""
  decay = optax.linear_schedule(learning_rate, 0.0, total_steps - warmup_steps)
  if not warmup_steps:
    return decay
  return optax.join_schedules([optax.linear_schedule(0.0, learning_rate, warmup_steps), decay], [warmup_steps])


def shared_encoder_stage(path: str, *, teacher_dir: str, encoder) -> dict:
  """The parameters at the end of another distill workdir's finished encoder stage (`path` = the workdir or its
  `encoder/`), so that ablations share one compressed encoder; it must come from the same teacher and have the
  same student encoder."""
  stage = path if os.path.basename(os.path.normpath(path)) == "encoder" else os.path.join(path, "encoder")
  if not os.path.exists(os.path.join(stage, "config.json")):
    raise FileNotFoundError(f"distill.encoder_from: {stage} holds no encoder stage (run launch/distill.py there "
                            f"first)")
  c = json.load(open(os.path.join(stage, "config.json")))
  if c["distill"].get("teacher_realpath", os.path.realpath(c["distill"]["teacher"])) != os.path.realpath(
      teacher_dir):
    raise ValueError(f"distill.encoder_from: {stage} was compressed from {c['distill']['teacher']}, not "
                     f"{teacher_dir}")
  if c["model"]["encoder"] != json.loads(json.dumps(encoder.to_dict())):
    raise ValueError(f"distill.encoder_from: {stage} has another student encoder ({c['model']['encoder']})")
  if not round_done(stage, c["distill"]["encoder_steps"]):
    raise ValueError(f"distill.encoder_from: the encoder stage in {stage} has not finished")
  ckpt = ckpt_lib.Checkpointer(os.path.join(stage, "checkpoints"))
  params = ckpt.restore_local()["params"]
  ckpt.close()
  logging.info("encoder stage shared from %s", stage)
  return params


def distill(cfg, *, teacher_dir: str, workdir: str, stop_after: int | None = None) -> dict:
  """Runs (or resumes) the encoder stage and every round; returns {'rounds': {num_steps: round_dir}, 'last': the
  last stage's metrics}. `stop_after` stops after that many steps of this call (tests of kill-and-resume)."""
  run = evaluator.load_run(teacher_dir, data_dir=cfg.data.data_dir)
  teacher_cfg, ds, model, teacher_params, stats = run.cfg, run.dataset, run.model, run.params, run.stats
  d = cfg.distill
  rounds = plan(teacher_steps=teacher_cfg.diffusion.num_steps, end_steps=d.end_steps, target=d.target)
  steps_per_round = d.steps_per_round * (len(plan(teacher_steps=teacher_cfg.diffusion.num_steps,
                                                  end_steps=d.end_steps, target="teacher"))
                                         if d.target == "data" else 1)
  mesh = data_sharding.data_mesh()
  if cfg.data.global_batch % mesh.size:
    raise ValueError(f"global batch {cfg.data.global_batch} does not divide over {mesh.size} devices")
  model_cfg = student_model_config(cfg, teacher_cfg)
  student = loop.model_from_config(ml_collections.ConfigDict({"model": model_cfg}), ds)
  heads = enhancer.EnhancerHeads(d.heads_width)
  face = tuple(int(c) for c in enhancer.upper_face_channels(motion_dim=ds.motion_dim, rig=ds.rig))
  common = dict(w_pc=d.w_pc, w_identity=d.w_identity, w_emotion=d.w_emotion, pc_temperature=d.pc_temperature,
                face_channels=face)
  # (directory, student steps, optimizer steps, loss, data seed, teacher round): the encoder stage first (the
  # teacher's personalizer and denoiser untouched), then the halving rounds.
  stages, source = [], teacher_params
  if d.encoder_from:
    source = shared_encoder_stage(d.encoder_from, teacher_dir=teacher_dir, encoder=model_cfg.encoder)
  elif d.encoder_steps:
    # On the teacher's own grid: the stage matches the teacher at its step count, before any halving.
    n_teacher = teacher_cfg.diffusion.num_steps
    stages.append(("encoder", n_teacher, d.encoder_steps,
                   distill_lib.DistillConfig(num_student_steps=n_teacher, encoder_only=True,
                                             encoder_loss=d.encoder_loss, **common), d.seed + 50, None))
  for k, n in enumerate(rounds):
    stages.append((f"steps_{n}", n, steps_per_round,
                   distill_lib.DistillConfig(num_student_steps=n, target=d.target,
                                             w_ae=d.w_ae if k < d.ae_rounds else 0.0, **common),
                   d.seed + k, f"steps_{rounds[k - 1]}" if k else None))
  rules = [tuple(r) for r in cfg.sharding.rules]
  os.makedirs(workdir, exist_ok=True)
  # `source` initialises the next stage's student; `teacher` / `t_source` teach the next round.
  teacher, t_source, budget, result = model, teacher_params, stop_after, {"rounds": {}}
  for k, (name, n, total, dcfg, seed, teacher_round) in enumerate(stages):
    round_dir = os.path.join(workdir, name)
    if not dcfg.encoder_only:
      result["rounds"][n] = round_dir
    data = functools.partial(pipeline.train_batches, ds.splits["train"], window_frames=cfg.data.window_frames,
                             global_batch=cfg.data.global_batch, seed=seed, stats=stats,
                             process_index=jax.process_index(), process_count=jax.process_count())
    # The encoder stage's Adam sees exactly-zero gradients outside the encoder: its updates there are zero.
    tx = optax.chain(optax.clip_by_global_norm(d.clip_norm), optax.adam(round_schedule(
        learning_rate=d.learning_rate, warmup_steps=d.warmup_steps, total_steps=total)))
    first = data_sharding.global_batch(data()[0], mesh)

    def make(rng, src):
      r1, r2 = jax.random.split(rng)
      p = student.init({"params": r1}, first["audio"], first["motion"], jnp.zeros(first["motion"].shape[0]),
                       first["mask"])["params"]
      p, _, _ = transplant(p, src)
      personal = jnp.zeros(first["motion"].shape[:2] + (model_cfg.personalizer.width,))
      h = heads.init(r2, personal, first["motion"][..., np.asarray(face)], first["mask"])["params"]
      return distill_lib.create(p, h, tx)

    ckpt = ckpt_lib.Checkpointer(os.path.join(round_dir, "checkpoints"))
    start = ckpt.latest_step() or 0
    if start >= total:                              # finished earlier: its student starts / teaches the next
      source = ckpt.restore_local()["params"]
      ckpt.close()
      if not dcfg.encoder_only:
        teacher, t_source = student, source
      logging.info("%s (%d steps) already finished in %s", name, n, round_dir)
      continue
    src = jax.device_get(source)
    state_shape = jax.eval_shape(make, jax.random.PRNGKey(d.seed), src)
    state_sh = sharding.tree_shardings(state_shape, mesh, rules=rules)
    state = jax.jit(make, out_shardings=state_sh)(jax.random.PRNGKey(d.seed), src)
    if k == 0:
      _, copied, fresh = transplant(state_shape.params, src)
      logging.info("student from teacher: %d tensors copied, %d fresh (%s)", len(copied), len(fresh),
                   ", ".join(sorted({f.split("']")[0] + "']" for f in fresh})))
    if start:
      state = ckpt.restore(ckpt_lib.abstract(state))
    rcfg = _round_config(cfg, model_cfg, num_steps=n, teacher=os.path.join(workdir, teacher_round)
                         if teacher_round else teacher_dir)
    with open(os.path.join(round_dir, "config.json"), "w") as f:
      f.write(rcfg.to_json_best_effort(indent=1))
    normalization.save(stats, round_dir)            # the student samples in its teacher's units
    t_params = _replicated(t_source, mesh)
    step_fn = jax.jit(functools.partial(distill_lib.distill_step, student=student, teacher=teacher, heads=heads,
                                        tx=tx, cfg=dcfg),
                      in_shardings=(state_sh, None, None, None), out_shardings=(state_sh, None), donate_argnums=0)
    end = total if budget is None else min(total, start + budget)
    logs = loop.Logs(round_dir, jax.process_index() == 0)
    val_key = ("out" if dcfg.encoder_loss == "outputs" else "ae") if dcfg.encoder_only else "dis"
    val_fn = jax.jit(lambda tr, b, r: distill_lib.loss_fn(tr, t_params, b, r, student=student, teacher=teacher,
                                                          heads=heads, cfg=dcfg)[1][val_key])
    val = lambda st: loop.validation_loss(val_fn, {"student": st.params, "heads": st.heads}, ds, cfg, mesh,
                                          stats=stats)
    if start == 0:
      logs.write(0, {f"val/{val_key}": val(state)})
    rng = jax.random.PRNGKey(d.seed + 100 + k)
    label = (f"encoder ({'L_out' if val_key == 'out' else 'L_ae'})" if dcfg.encoder_only
             else f"distill {2 * n}->{n}" if d.target == "teacher" else f"no_distillation {n}-step")
    try:
      state, last = loop.run_steps(state, lambda s, b: step_fn(s, t_params, b, rng), data(start_step=start),
                                   mesh=mesh, start=start, end=end, total=total, ckpt=ckpt, logs=logs,
                                   log_every=d.log_every, save_every=d.save_every, desc=label, workdir=round_dir)
      if end == total:
        last[f"val/{val_key}"] = val(state)
        logs.write(end, {f"val/{val_key}": last[f"val/{val_key}"]})
    finally:
      logs.close()
      ckpt.close()
    result["last"] = last
    if budget is not None:
      budget -= end - start
      if end < total or budget <= 0:
        break
    source = state.params
    if not dcfg.encoder_only:
      teacher, t_source = student, state.params
  with open(os.path.join(workdir, "rounds.json"), "w") as f:
    json.dump({str(n): p for n, p in result["rounds"].items()}, f, indent=1)
  result.update(student=student, dataset=ds)
  return result
