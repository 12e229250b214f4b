"""The train state: step, parameters, optimizer state and an EMA of the parameters (a pytree)."""
from __future__ import annotations

from typing import Any

import flax.struct
import jax
import optax


class TrainState(flax.struct.PyTreeNode):
  step: jax.Array
  params: Any
  opt_state: Any
  ema_params: Any


def create(params, tx: optax.GradientTransformation) -> TrainState:
  return TrainState(step=jax.numpy.zeros((), jax.numpy.int32), params=params, opt_state=tx.init(params),
                    ema_params=jax.tree.map(lambda p: p.copy(), params))
