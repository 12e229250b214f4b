"""Shardings for the train state and batches on a `data` mesh axis; FSDP of parameters by regex rules.

Rules are config data: a list of (regex, "fsdp" | "replicate") matched against '/'-joined parameter paths; the
first match wins, default replicate. "fsdp" shards the largest dimension divisible by the mesh size over `data`.
"""
from __future__ import annotations

import re

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P


def path_name(path) -> str:
  """'ema_params/audio_encoder/conv_0/bias' from a pytree key path, whether the tree is dicts, dataclasses
  (attributes) or sequences: the one spelling of a parameter's path that rules, checksums and optimizer labels
  share."""
  return "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)


def param_spec(path: str, shape, *, rules, axis_size: int, axis: str = "data") -> P:
  for pattern, how in rules:
    if re.search(pattern, path):
      if how == "fsdp":
        dims = [d for d in sorted(range(len(shape)), key=lambda d: -shape[d]) if shape[d] % axis_size == 0]
        if dims and axis_size > 1:
          spec = [None] * len(shape)
          spec[dims[0]] = axis
          return P(*spec)
      return P()
  return P()


def tree_shardings(tree, mesh: Mesh, *, rules=(), axis: str = "data"):
  """NamedShardings for every leaf of a (shape) pytree by the rules; scalars replicated."""
  size = mesh.shape[axis]
  return jax.tree_util.tree_map_with_path(
      lambda p, x: NamedSharding(mesh, param_spec(path_name(p), x.shape, rules=rules, axis_size=size, axis=axis)
                                 if x.ndim else P()), tree)
