"""Orbax checkpoints of the train state: periodic and final saves, restore of the latest into given shardings.

Orbax writes each step to a temporary folder and renames it when complete, so a run killed mid-save (even by
SIGKILL) leaves the previous checkpoint intact and the next start resumes from it.
"""
from __future__ import annotations

import os

import jax
import orbax.checkpoint as ocp


class Checkpointer:

  def __init__(self, directory: str, *, max_to_keep: int = 3):
    self.manager = ocp.CheckpointManager(
        os.path.abspath(directory), options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
        item_handlers=ocp.StandardCheckpointHandler())

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, state, *, wait: bool = True) -> None:
    self.manager.save(step, args=ocp.args.StandardSave(state), force=True)
    if wait:
      self.manager.wait_until_finished()

  def restore(self, abstract_state, step: int | None = None):
    """The state at `step` (default: latest) laid out like `abstract_state` (ShapeDtypeStructs with shardings)."""
    step = self.latest_step() if step is None else step
    return self.manager.restore(step, args=ocp.args.StandardRestore(abstract_state))

  def restore_local(self, step: int | None = None):
    """The state at `step` (default: latest) on this process's first device, whatever topology saved it
    (for evaluation and export of a run trained on many devices or hosts)."""
    step = self.latest_step() if step is None else step
    meta = self.manager.item_metadata(step)
    meta = getattr(meta, "tree", meta)
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), meta)
    return self.manager.restore(step, args=ocp.args.StandardRestore(target))

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()


def abstract(tree):
  """ShapeDtypeStructs (with shardings) of a concrete pytree, for restoring into the same layout."""
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), tree)
