"""The teacher training loop: data -> sharded jitted steps -> logs and checkpoints, resumable at any point.

A restarted run restores the latest intact checkpoint and reads the data stream from that step (the pipeline's
order depends only on (seed, step)), so a run killed at any moment and started again with the same command ends
where an uninterrupted run would; metrics.jsonl drops the rows of steps it will run again. SIGTERM saves, then
raises `Preempted` (the launchers exit with status 143 and say so); a NaN or Inf loss stops the run with a clear
message and keeps the last good checkpoint (checkpoints are only written after their state's loss was checked).
One process writes a workdir at a time (train/workdir.py).
"""
from __future__ import annotations

import functools
import json
import os
import signal
import time

from absl import logging
import grain
import jax
import jax.numpy as jnp
import numpy as np
import tqdm

from dt_jax.data import augment as augment_lib
from dt_jax.data import normalization
from dt_jax.data import pipeline
from dt_jax.data import sharding as data_sharding
from dt_jax.data import source
from dt_jax.models import pretrained
from dt_jax.models import talker
from dt_jax.train import checkpoint as ckpt_lib
from dt_jax.train import feature_cache
from dt_jax.train import optimizer
from dt_jax.train import sharding
from dt_jax.train import state as state_lib
from dt_jax.train import step as step_lib
from dt_jax.train import workdir as workdir_lib


class NonFiniteLossError(FloatingPointError):
  """The loss (or the parameters) became NaN or Inf."""


class Preempted(RuntimeError):
  """SIGTERM arrived: the state was saved and the run stopped early; the same command resumes it."""


@jax.jit
def all_finite(tree):
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def step_config(cfg) -> step_lib.StepConfig:
  return step_lib.StepConfig(num_steps=cfg.diffusion.num_steps, w_identity=cfg.train.w_identity,
                             w_emotion=cfg.train.w_emotion, ema_decay=cfg.train.ema_decay,
                             w_velocity=cfg.train.w_velocity, cond_drop=cfg.train.cond_drop)


def _rows(path: str) -> list[str]:
  """The lines of a metrics.jsonl that parse; a line torn by a kill mid-write is dropped with a warning naming the
  file (the checkpoint, not the log, is the record of how far a run got)."""
  rows = []
  with open(path) as f:
    for n, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        json.loads(line)
      except json.JSONDecodeError:
        logging.warning("%s line %d is not a JSON row (torn by a kill mid-write?): dropped", path, n)
        continue
      rows.append(line if line.endswith("\n") else line + "\n")
  return rows


class Logs:
  """Metrics to `metrics.jsonl` and TensorBoard events in the workdir (process 0 only)."""

  def __init__(self, workdir: str, enabled: bool, *, resume_step: int = 0):
    """Rows of metrics.jsonl after `resume_step` (left by a run killed after its last checkpoint) are dropped, so
    the log holds each step once (all of them when it starts again from step 0); a row torn by a kill is dropped."""
    self.enabled = enabled
    self.path = path = os.path.join(workdir, "metrics.jsonl")
    if enabled:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      if os.path.exists(path):
        # A run resumed at step 0 writes everything again, its step-0 validation row included.
        kept = [line for line in _rows(path) if 0 < resume_step and json.loads(line).get("step", 0) <= resume_step]
        with open(path + ".tmp", "w") as f:
          f.writelines(kept)
        os.replace(path + ".tmp", path)
      # purge_step: TensorBoard hides the events of the steps this run writes again (a resume after a kill).
      self.tb = SummaryWriter(os.path.join(workdir, "tensorboard"), purge_step=resume_step + 1 if resume_step else None)
      self.jsonl = open(path, "a")  # pylint: disable=consider-using-with  # held for the run, closed by close()

  def write(self, step: int, metrics: dict) -> None:
    if not self.enabled:
      return
    self.jsonl.write(json.dumps({"step": step, **metrics}) + "\n")
    self.jsonl.flush()
    for k, v in metrics.items():
      self.tb.add_scalar(k, v, step)
    self.tb.flush()

  def close(self):
    if self.enabled:
      self.jsonl.close()
      self.tb.close()


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


def run_steps(state, step_fn, stream, *, mesh, start: int, end: int, total: int, ckpt, logs: Logs, log_every: int,
              save_every: int, desc: str, workdir: str):
  """Runs `state, metrics = step_fn(state, batch)` for steps start..end-1 over `stream[step - start]` (read ahead
  by a few threads, in order, while the device computes), with a progress bar, logs every `log_every`, checkpoints
  every `save_every` and at the end. SIGTERM saves, then raises Preempted. A non-finite loss or parameters stop the
  run before anything is saved. Returns (state, last logged metrics)."""
  stop = {"term": False}
  previous = signal.signal(signal.SIGTERM, lambda *_: stop.update(term=True))
  last, t0 = {}, time.time()
  try:
    bar = tqdm.tqdm(range(start, end), initial=start, total=total, desc=desc, unit="step",
                    disable=jax.process_index() != 0)
    ahead = iter(stream.to_iter_dataset(grain.ReadOptions(num_threads=2, prefetch_buffer_size=4)))
    for step in bar:
      state, metrics = step_fn(state, data_sharding.global_batch(next(ahead), mesh))
      done = step + 1
      if done % log_every == 0 or done == end or done % save_every == 0 or stop["term"]:
        last = {f"train/{k}": float(v) for k, v in jax.device_get(metrics).items()}
        if not all(np.isfinite(v) for v in last.values()):
          raise NonFiniteLossError(
              f"step {done}: loss is not finite ({last}); stopped. The last good checkpoint "
              f"(step {ckpt.latest_step()}) is kept in {workdir}; lower the learning rate or check the data.")
        last["train/steps_per_s"] = (done - start) / (time.time() - t0)
        logs.write(done, last)
        bar.set_postfix(loss=f"{last['train/loss']:.4f}")
      if done % save_every == 0 or done == end or stop["term"]:
        if not bool(all_finite(state.params)):       # never write a checkpoint that cannot be resumed from
          raise NonFiniteLossError(
              f"step {done}: parameters are no longer finite; stopped. The last good checkpoint "
              f"(step {ckpt.latest_step()}) is kept in {workdir}; lower the learning rate.")
        ckpt.save(done, state)
      if stop["term"]:
        raise Preempted(f"preempted (SIGTERM) at step {done} of {total}: saved in {workdir}; run the same command "
                        f"again to resume")
  finally:
    signal.signal(signal.SIGTERM, previous)
  return state, last


def check_config(cfg) -> None:
  """ValueError (one line) for a config no run can start from, before anything is built or written."""
  if cfg.train.steps < 1:
    raise ValueError(f"train.steps={cfg.train.steps}: a run needs at least one step")


def train(cfg, workdir: str, *, stop_after: int | None = None) -> dict:
  """Trains to cfg.train.steps (or stops after `stop_after` steps of this call); returns the final metrics. Holds
  the workdir's lock throughout; refuses a workdir whose checkpoints have another model config."""
  check_config(cfg)
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
  stats = normalization.compute(ds.splits["train"])
  features = feature_cache.ensure(ds, cfg) if cfg.model.speech_encoder else {}
  data = functools.partial(pipeline.train_batches, ds.splits["train"], window_frames=cfg.data.window_frames,
                           global_batch=cfg.data.global_batch, seed=cfg.train.seed, stats=stats,
                           augment=augment_lib.from_config(cfg.data.augment),
                           features=feature_windows(cfg, features, "train"),
                           process_index=jax.process_index(), process_count=jax.process_count())
  first = data_sharding.global_batch(data()[0], mesh)
  state, state_sh = init_state(model, tx, first, seed=cfg.train.seed, mesh=mesh, rules=rules)
  ckpt = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"))
  if ckpt.latest_step():
    state = ckpt.restore(ckpt_lib.abstract(state))        # the newest intact step
  elif cfg.model.audio_encoder_init:
    state = with_pretrained_encoder(state, state_sh, cfg.model.audio_encoder_init)
  if jax.process_index() == 0:        # only now: a refused resume (another layout) leaves the workdir as it was
    normalization.save(stats, workdir)
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(cfg.to_json_best_effort(indent=1))

  step_fn = jax.jit(functools.partial(step_lib.train_step, model=model, tx=tx, cfg=scfg),
                    in_shardings=(state_sh, None, None),
                    out_shardings=(state_sh, None), donate_argnums=0)
  eval_fn = jax.jit(lambda p, b, r: step_lib.loss_fn(p, b, r, model=model, cfg=scfg, train=False)[0])
  start = int(state.step)
  end = cfg.train.steps if stop_after is None else min(cfg.train.steps, start + stop_after)
  logs = Logs(workdir, jax.process_index() == 0, resume_step=start)
  rng = jax.random.PRNGKey(cfg.train.seed + 1)
  try:
    state, last = run_steps(state, lambda s, b: step_fn(s, b, rng),
                            data(start_step=start), mesh=mesh, start=start, end=end, total=cfg.train.steps,
                            ckpt=ckpt, logs=logs, log_every=cfg.train.log_every, save_every=cfg.train.save_every,
                            desc="train", workdir=workdir)
    last["val/loss"] = validation_loss(eval_fn, state.params, ds, cfg, mesh, stats=stats,
                                       windows=feature_windows(cfg, features, "validation"))
    logs.write(int(state.step), {"val/loss": last["val/loss"]})
  finally:
    logs.close()
    ckpt.close()
  return {"step": int(state.step), **last, "state": state, "model": model, "dataset": ds}
