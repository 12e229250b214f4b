"""The teacher training loop: data -> sharded jitted steps -> logs and checkpoints, resumable at any point.

A restarted run restores the latest intact checkpoint and reads the data stream from that step (the pipeline's
order depends only on (seed, step)), so a run killed at any moment and started again with the same command ends
where an uninterrupted run would. The stage itself (restore, logs, checkpoints, SIGTERM, non-finite losses) is
train/session.py's, shared with every distillation stage. One process writes a workdir at a time
(train/workdir.py).
"""
from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np

from dt_jax.data import augment as augment_lib
from dt_jax.data import normalization
from dt_jax.data import pipeline
from dt_jax.data import sharding as data_sharding
from dt_jax.data import source
from dt_jax.models import pretrained
from dt_jax.models import talker
from dt_jax.train import checkpoint
from dt_jax.train import feature_cache
from dt_jax.train import optimizer
from dt_jax.train import session
from dt_jax.train import sharding
from dt_jax.train import state as state_lib
from dt_jax.train import step as step_lib
from dt_jax.train import workdir as workdir_lib


def step_config(cfg) -> step_lib.StepConfig:
  return step_lib.StepConfig(num_steps=cfg.diffusion.num_steps, w_identity=cfg.train.w_identity,
                             w_emotion=cfg.train.w_emotion, ema_decay=cfg.train.ema_decay,
                             w_velocity=cfg.train.w_velocity, cond_drop=cfg.train.cond_drop)


def init_state(model, tx, batch, *, seed: int, mesh, rules):
  """The train state created directly in its shardings (jit with out_shardings, after eval_shape). A batch of
  cached features initialises everything but the frozen pretrained encoder, which is not part of the state."""
  def make(rng):
    params = model.init({"params": rng, "dropout": rng}, batch.get("audio"), batch["motion"],
                        jnp.zeros(batch["motion"].shape[0]), batch["mask"], features=batch.get("features"))["params"]
    return state_lib.create(params, tx)
  rng = jax.random.PRNGKey(seed)
  shardings = sharding.tree_shardings(jax.eval_shape(make, rng), mesh, rules=rules)
  return jax.jit(make, out_shardings=shardings)(rng), shardings


def with_pretrained_encoder(state, shardings, path: str):
  """The state with its audio encoder (parameters and EMA) taken from launch/import_audio_encoder.py's output."""
  enc_cfg, enc_params = pretrained.load(path)
  shapes = lambda tree: jax.tree.map(lambda x: tuple(x.shape), tree)
  if shapes(enc_params) != shapes(state.params["audio_encoder"]):
    raise ValueError(f"the encoder in {path} ({enc_cfg}) does not match the model's audio encoder config")
  enc_params = jax.device_get(enc_params)   # host copies: params and EMA must not share (donated) buffers
  params = jax.device_put({**state.params, "audio_encoder": enc_params}, shardings.params)
  ema = jax.device_put({**state.ema_params, "audio_encoder": enc_params}, shardings.ema_params)
  return state.replace(params=params, ema_params=ema)


def with_base_run(state, shardings, path: str):
  """The state with every parameter (and its EMA) from the base run at `path` (train.init_from): fine-tuning a
  trained teacher on another dataset of the same representation, e.g. a performer's own takes. The identity
  library is the one table sized by the dataset: the new speakers' rows start from the mean of the base's rows
  (the voice the base knew on average), and learn from there."""
  ckpt = checkpoint.Checkpointer(os.path.join(path, "checkpoints"))
  try:
    if ckpt.latest_step() is None:
      raise FileNotFoundError(f"train.init_from={path}: no checkpoint in {path}/checkpoints")
    restored = ckpt.restore_local()
  finally:
    ckpt.close()
  named = lambda tree: {sharding.path_name(k): v for k, v in jax.tree_util.tree_flatten_with_path(tree)[0]}  # noqa: E731
  base, ours = named(restored.get("ema_params", restored["params"])), named(jax.device_get(state.params))
  merged, misfits = {}, []
  for name, leaf in ours.items():
    got = base.get(name)
    if got is not None and got.shape == leaf.shape:
      merged[name] = np.asarray(got, leaf.dtype)
    elif got is not None and name.endswith("identity_library"):
      merged[name] = np.broadcast_to(np.asarray(got).mean(0, keepdims=True), leaf.shape).astype(leaf.dtype)
    else:
      misfits.append(f"{name} {leaf.shape} (base: {'none' if got is None else got.shape})")
  if misfits:
    raise ValueError(f"train.init_from={path}: its model does not fit this config's: {'; '.join(misfits[:4])}")
  leaves, treedef = jax.tree_util.tree_flatten_with_path(state.params)
  params = jax.tree_util.tree_unflatten(treedef, [merged[sharding.path_name(k)] for k, _ in leaves])
  return state.replace(params=jax.device_put(params, shardings.params),
                       ema_params=jax.device_put(params, shardings.ema_params))


def feature_windows(cfg, features: dict, split: str, *, with_audio: bool = False):
  """The pipeline's FeatureWindows of a split's cached features (None when the run has none)."""
  if not features:
    return None
  seed, augment, _ = feature_cache.recipe(cfg)
  return pipeline.FeatureWindows(features[split], seed=seed, augment=augment, with_audio=with_audio)


def validation_loss(eval_fn, params, ds: source.Dataset, cfg, mesh, *, stats, batches: int = 4,
                    windows: pipeline.FeatureWindows | None = None) -> float:
  """Mean loss on fixed validation windows with fixed noise (comparable across steps); `windows`: the validation
  split's cached features."""
  data = pipeline.train_batches(ds.splits["validation"], window_frames=cfg.data.window_frames,
                                global_batch=cfg.data.global_batch, seed=12345, stats=stats, features=windows,
                                process_index=jax.process_index(), process_count=jax.process_count())
  vals = [float(eval_fn(params, data_sharding.global_batch(data[i], mesh), jax.random.PRNGKey(i)))
          for i in range(batches)]
  return float(np.mean(vals))


def check_config(cfg) -> None:
  """ValueError (one line) for a config no run can start from, before anything is built or written."""
  if cfg.train.steps < 1:
    raise ValueError(f"train.steps={cfg.train.steps}: a run needs at least one step")


def train(cfg, workdir: str, *, stop_after: int | None = None) -> dict:
  """Trains to cfg.train.steps (or stops after `stop_after` steps of this call); returns the final metrics. Holds
  the workdir's lock throughout; refuses a workdir whose checkpoints have another model config."""
  check_config(cfg)
  if cfg.model.audio_encoder_init:           # the imported encoder's architecture, read now
    cfg = cfg.copy_and_resolve_references()
    cfg.model = pretrained.with_imported_encoder(cfg.model)
  os.makedirs(workdir, exist_ok=True)
  with workdir_lib.WorkdirLock(workdir, enabled=jax.process_index() == 0):
    workdir_lib.check_resume(workdir, cfg)
    return _train(cfg, workdir, stop_after=stop_after)


def _train(cfg, workdir: str, *, stop_after: int | None) -> dict:
  ds = source.open_dataset(cfg.data.name, data_dir=cfg.data.data_dir)
  for split in ("train", "validation"):     # a damaged split stops the run now, not after its last step
    source.check_split(ds.splits[split])
  mesh = data_sharding.data_mesh()
  if cfg.data.global_batch % mesh.size:
    raise ValueError(f"global batch {cfg.data.global_batch} does not divide over {mesh.size} devices; set "
                     f"--config.data.global_batch to a multiple of {mesh.size}")
  model = talker.from_config(cfg.model, motion_dim=ds.motion_dim, num_speakers=len(ds.speakers),
                             num_emotions=len(ds.emotions))
  frozen = optimizer.frozen_audio_encoder(feature_extractor=cfg.train.freeze_feature_extractor,
                                          layers=cfg.train.freeze_encoder_layers)
  tx = optimizer.make(learning_rate=cfg.train.learning_rate, warmup_steps=cfg.train.warmup_steps,
                      total_steps=cfg.train.steps, weight_decay=cfg.train.weight_decay, clip_norm=cfg.train.clip_norm,
                      frozen=frozen)
  scfg = step_config(cfg)
  rules = [tuple(r) for r in cfg.sharding.rules]
  # Fine-tuning keeps the base run's motion statistics: its outputs mean what they meant.
  stats = normalization.load(cfg.train.init_from) if cfg.train.init_from else normalization.compute(ds.splits["train"])
  features = feature_cache.ensure(ds, cfg) if cfg.model.speech_encoder else {}
  data = functools.partial(pipeline.train_batches, ds.splits["train"], window_frames=cfg.data.window_frames,
                           global_batch=cfg.data.global_batch, seed=cfg.train.seed, stats=stats,
                           augment=augment_lib.from_config(cfg.data.augment),
                           features=feature_windows(cfg, features, "train"),
                           process_index=jax.process_index(), process_count=jax.process_count())
  first = data_sharding.global_batch(data()[0], mesh)
  state, state_sh = init_state(model, tx, first, seed=cfg.train.seed, mesh=mesh, rules=rules)
  step_fn = jax.jit(functools.partial(step_lib.train_step, model=model, tx=tx, cfg=scfg),
                    in_shardings=(state_sh, None, None),
                    out_shardings=(state_sh, None), donate_argnums=0)
  eval_fn = jax.jit(lambda p, b, r: step_lib.loss_fn(p, b, r, model=model, cfg=scfg, train=False)[0])
  rng = jax.random.PRNGKey(cfg.train.seed + 1)
  fresh = None                                # what a run with no checkpoint yet starts from besides its init
  if cfg.train.init_from:                     # the base run's weights (its encoder included)
    fresh = functools.partial(with_base_run, shardings=state_sh, path=cfg.train.init_from)
  elif cfg.model.audio_encoder_init:
    fresh = functools.partial(with_pretrained_encoder, shardings=state_sh, path=cfg.model.audio_encoder_init)
  state, last, _, _ = session.run(
      workdir=workdir, cfg=cfg, stats=stats, state=state, step_fn=lambda s, b: step_fn(s, b, rng),
      stream=lambda start: data(start_step=start), mesh=mesh, total=cfg.train.steps, budget=stop_after,
      log_every=cfg.train.log_every, save_every=cfg.train.save_every, desc="train", val_key="val/loss",
      validate=lambda st: validation_loss(eval_fn, st.params, ds, cfg, mesh, stats=stats,
                                          windows=feature_windows(cfg, features, "validation")),
      validate_unfinished=True, fresh=fresh)
  return {"step": int(state.step), **last, "state": state, "model": model, "dataset": ds}
