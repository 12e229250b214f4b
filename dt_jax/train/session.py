"""One resumable training stage, whatever it trains: the teacher (train/loop.py) and every distillation stage
(distill/rounds.py) run through `run`.

`run` restores the newest intact checkpoint of the workdir (a checkpoint of another layout is refused untouched),
writes the run's config.json and motion_stats.npz only then, steps the jitted step function over the data stream
from the restored step with logs and checkpoints (`run_steps`), validates, and closes everything whatever happens.
SIGTERM saves, then raises `Preempted` (the launchers exit with status 143 and say so); a NaN or Inf loss stops the
run with a clear message and keeps the last good checkpoint (checkpoints are only written after their state's loss
was checked). metrics.jsonl drops the rows of steps a resumed run will run again.
"""
from __future__ import annotations

import json
import os
import signal
import time
from typing import Any, Callable

from absl import logging
import grain
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm

from dt_jax.data import normalization
from dt_jax.data import sharding as data_sharding
from dt_jax.train import checkpoint as ckpt_lib


class NonFiniteLossError(FloatingPointError):
  """The loss (or the parameters) became NaN or Inf."""


class Preempted(RuntimeError):
  """SIGTERM arrived: the state was saved and the run stopped early; the same command resumes it."""


@jax.jit
def all_finite(tree):
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


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


def run(*, workdir: str, cfg: ml_collections.ConfigDict, stats: normalization.MotionStats, state, step_fn: Callable,
        stream: Callable[[int], Any], mesh, total: int, budget: int | None, log_every: int, save_every: int,
        desc: str, validate: Callable[[Any], float], val_key: str, validate_first: bool = False,
        validate_unfinished: bool = False, fresh: Callable[[Any], Any] | None = None) -> tuple[Any, dict, int, int]:
  """Resumes (or starts) the stage in `workdir` and trains it to `total` steps, or `budget` more steps of this call;
  returns (state, last metrics, start step, end step).

  state: the fresh state laid out as the checkpoint is (its shardings); fresh(state): applied when there is no
  checkpoint (e.g. a pretrained encoder); step_fn(state, batch) -> (state, metrics), jitted; stream(start): the
  data from step `start`; validate(state) -> the validation loss logged as `val_key` at the end (when the stage
  finished, or always with `validate_unfinished`) and, with `validate_first`, at step 0."""
  ckpt = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"))
  try:
    if ckpt.latest_step():
      state = ckpt.restore(ckpt_lib.abstract(state))        # the newest intact step
    elif fresh is not None:
      state = fresh(state)
    if jax.process_index() == 0:      # only now: a refused resume (another layout) leaves the workdir as it was
      normalization.save(stats, workdir)
      with open(os.path.join(workdir, "config.json"), "w") as f:
        f.write(cfg.to_json_best_effort(indent=1))
    start = int(state.step)
    end = total if budget is None else min(total, start + budget)
    logs = Logs(workdir, jax.process_index() == 0, resume_step=start)
    try:
      if validate_first and start == 0:
        logs.write(0, {val_key: validate(state)})
      state, last = run_steps(state, step_fn, stream(start), mesh=mesh, start=start, end=end, total=total, ckpt=ckpt,
                              logs=logs, log_every=log_every, save_every=save_every, desc=desc, workdir=workdir)
      if end == total or validate_unfinished:
        last[val_key] = validate(state)
        logs.write(end, {val_key: last[val_key]})
    finally:
      logs.close()
  finally:
    ckpt.close()
  return state, last, start, end
