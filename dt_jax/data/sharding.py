"""Laying process-local numpy batches out as global jax.Arrays over a device mesh (batch on the `data` axis)."""
from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P


def data_mesh(devices=None, axis: str = "data") -> Mesh:
  """A 1-D mesh over all (global) devices."""
  devices = np.asarray(jax.devices() if devices is None else devices)
  return Mesh(devices.reshape(-1), (axis,))


def global_batch(batch: dict, mesh: Mesh, axis: str = "data") -> dict:
  """Each leaf [B_local, ...] becomes a global jax.Array [B_local * processes, ...] sharded over `axis`."""
  sharding = NamedSharding(mesh, P(axis))
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), batch)
