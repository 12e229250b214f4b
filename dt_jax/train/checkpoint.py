"""Orbax checkpoints of the train state: periodic and final saves, each with a checksum of every array; restores
that verify them and fall back to the newest intact step.

Orbax writes each step to a temporary folder and renames it when complete, so a run killed mid-save (even by
SIGKILL) leaves the previous checkpoint intact and the next start resumes from it. Bytes that change afterwards
(a failing disk, a truncated copy) are caught by the checksums (sha256 of every array, in the step's own metadata):
a step that fails to load or to verify, or has no checksum record, is moved aside to `<checkpoints>_corrupt/<step>`
(`<step>.2`, ... when that step number was moved aside before) with a warning naming it, and the newest intact step
is used; with none intact, restoring stops with one line. A readable step whose arrays have other names, shapes or
dtypes than the state restoring it was written by another config: that is not corruption, so restoring stops with
one line (CheckpointMismatchError) and nothing is moved.
"""
from __future__ import annotations

import hashlib
import json
import logging as logging_std
import os
import shutil

from absl import logging
import jax
import numpy as np
import orbax.checkpoint as ocp

from dt_jax.train import sharding

_KEY = "dt_jax_checksums"
UNVERIFIED = "split over processes"


class CheckpointError(RuntimeError):
  """No intact checkpoint to restore (every step failed to load or to verify)."""


class CheckpointMismatchError(ValueError):
  """A readable checkpoint holds another state layout than the one restoring it (another config)."""


def _host_data(leaf) -> np.ndarray | None:
  """The whole array as numpy, or None for an array split over processes (no process holds all of it)."""
  if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
    return np.asarray(leaf.addressable_shards[0].data) if leaf.is_fully_replicated else None
  return np.asarray(jax.device_get(leaf))


def layout(tree) -> dict[str, tuple[tuple[int, ...], str]]:
  """{path: (shape, dtype)} of every leaf (arrays, ShapeDtypeStructs or orbax's array metadata)."""
  return {sharding.path_name(p): (tuple(x.shape), str(np.dtype(x.dtype)))
          for p, x in jax.tree_util.tree_leaves_with_path(tree)}


def checksums(tree) -> dict[str, str]:
  """{path: sha256 of the array's dtype, shape and bytes} of every leaf; arrays split over processes (FSDP across
  hosts) are marked UNVERIFIED, since no one process can hash them whole."""
  out = {}
  for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
    data = _host_data(leaf)
    if data is None:
      out[sharding.path_name(path)] = UNVERIFIED
      continue
    h = hashlib.sha256(f"{data.dtype}{tuple(data.shape)}".encode())
    h.update(np.ascontiguousarray(data).tobytes())
    out[sharding.path_name(path)] = h.hexdigest()
  return out


class _OrbaxInfoFilter(logging_std.Filter):

  def filter(self, record) -> bool:
    if f"{os.sep}orbax{os.sep}" not in record.pathname:
      return True
    if record.exc_info or record.exc_text:    # its message stays; the traceback (often one per async worker) goes
      record.exc_info, record.exc_text, record.stack_info = None, None, None
    return record.levelno >= logging_std.WARNING


def quiet_orbax_logs() -> None:
  """Keeps orbax's warnings and errors as one line each (without their tracebacks: a failed save, e.g. on a full
  disk, logs dozens) and drops its INFO lines (one per save and restore phase, each restore dumping the step's
  metadata, checksums included). For launchers; idempotent."""
  absl_logger = logging_std.getLogger("absl")
  if not any(isinstance(f, _OrbaxInfoFilter) for f in absl_logger.filters):
    absl_logger.addFilter(_OrbaxInfoFilter())


class Checkpointer:

  def __init__(self, directory: str, *, max_to_keep: int = 3):
    self.directory = os.path.abspath(directory)
    self.manager = ocp.CheckpointManager(
        self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
        item_handlers=ocp.StandardCheckpointHandler())

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def fingerprint(self, step: int | None = None) -> str:
    """'<step>:<digest of its checksums>' of `step` (default: the newest): what a run derived from this checkpoint
    (a student, a benchmark row) records, to know when the checkpoint it came from has changed."""
    step = self.latest_step() if step is None else step
    if step is None:
      return ""
    sums = (self.manager.metadata(step).custom_metadata or {}).get(_KEY)
    return f"{step}:{hashlib.sha256(json.dumps(sums, sort_keys=True).encode()).hexdigest()[:16]}"

  def save(self, step: int, state, *, wait: bool = True) -> None:
    """Saves `state` as `step`; a save that fails (a full disk, a vanished folder) raises CheckpointError in one
    line: orbax wrote to a temporary folder, so the steps saved before are intact."""
    try:
      self.manager.save(step, args=ocp.args.StandardSave(state), force=True,
                        custom_metadata={_KEY: checksums(state)})
      if wait:
        self.manager.wait_until_finished()
    except (OSError, ValueError, RuntimeError) as e:
      cause = " ".join(str(e).split())[:200]
      raise CheckpointError(f"cannot save step {step} in {self.directory} ({type(e).__name__}: {cause}); the "
                            f"steps saved before are kept (newest: {self.latest_step()})") from None

  def _saved_layout(self, step: int):
    meta = self.manager.item_metadata(step)
    return layout(getattr(meta, "tree", meta))

  def _check_layout(self, step: int, want: dict) -> None:
    """Raises CheckpointMismatchError when `step` is readable and its arrays differ from `want`'s."""
    try:
      have = self._saved_layout(step)
    except Exception:  # pylint: disable=broad-except  # unreadable metadata: corruption, found by the restore
      return
    if have == want:
      return
    diff = sorted(set(have) ^ set(want)) or sorted(k for k in have if have[k] != want[k])
    say = lambda k: f"{k} {have[k][0] if k in have else '(absent)'} -> {want[k][0] if k in want else '(absent)'}"
    raise CheckpointMismatchError(
        f"{self.directory}: step {step} holds another state than this config makes ({len(diff)} arrays differ, "
        f"e.g. {'; '.join(say(k) for k in diff[:2])}): resume with the config it was written with, or use another "
        f"--workdir; nothing was changed")

  def _verified(self, step: int, restore):
    """restore() of `step`, checked against the step's checksums; raises CheckpointError naming what is wrong."""
    try:
      want = (self.manager.metadata(step).custom_metadata or {}).get(_KEY)
      state = restore()
    except Exception as e:  # pylint: disable=broad-except  # orbax / tensorstore raise many types for bad files
      raise CheckpointError(f"step {step} cannot be read ({type(e).__name__}: {' '.join(str(e).split())[:200]})")
    if want is None:
      raise CheckpointError(f"step {step} has no checksum record (its _CHECKPOINT_METADATA is missing or damaged), "
                            f"so its bytes cannot be trusted")
    got = checksums(state)
    bad = sorted(k for k in want if UNVERIFIED not in (want[k], got.get(k)) and got.get(k) != want[k])
    if bad or set(got) != set(want):
      raise CheckpointError(f"step {step} fails its checksums ({len(bad)} arrays differ, e.g. "
                            f"{bad[0] if bad else 'the tree'})")
    return state

  def _restore_verified(self, make_restore, step: int | None, *, expect: dict | None = None):
    """The state of `step` (default: the newest intact one), moving bad steps aside; with `expect` (a layout), a
    readable step of another layout stops everything first (CheckpointMismatchError), touching nothing."""
    steps = [step] if step is not None else sorted(self.manager.all_steps(), reverse=True)
    if expect is not None:
      for s in steps:
        self._check_layout(s, expect)
    problems = []
    for s in steps:
      try:
        return self._verified(s, make_restore(s))
      except CheckpointError as e:
        problems.append(str(e))
        logging.warning("checkpoint %s in %s: %s; %s", s, self.directory, e,
                        "trying an older one" if step is None else "not used")
        if step is None:
          self._move_aside(s)
    raise CheckpointError(f"{self.directory}: no intact checkpoint ({'; '.join(problems) or 'none saved'})")

  def _move_aside(self, step: int) -> None:
    src = os.path.join(self.directory, str(step))
    dst = os.path.join(self.directory + "_corrupt", str(step))
    n = 1
    while os.path.exists(dst):                       # an earlier copy of this step number stays
      n += 1
      dst = os.path.join(self.directory + "_corrupt", f"{step}.{n}")
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.exists(src):
      shutil.move(src, dst)
    self.manager.reload()

  def restore(self, abstract_state, step: int | None = None):
    """The state at `step` (default: the newest intact step) laid out like `abstract_state` (ShapeDtypeStructs
    with shardings)."""
    return self._restore_verified(
        lambda s: lambda: self.manager.restore(s, args=ocp.args.StandardRestore(abstract_state)), step,
        expect=layout(abstract_state))

  def restore_local(self, step: int | None = None):
    """The state at `step` (default: the newest intact step) on this process's first device, whatever topology
    saved it (for evaluation and export of a run trained on many devices or hosts)."""
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])

    def make(s):
      def restore():
        meta = self.manager.item_metadata(s)
        meta = getattr(meta, "tree", meta)
        target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), meta)
        return self.manager.restore(s, args=ocp.args.StandardRestore(target))
      return restore
    return self._restore_verified(make, step)

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()


def abstract(tree):
  """ShapeDtypeStructs (with shardings) of a concrete pytree, for restoring into the same layout."""
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), tree)
