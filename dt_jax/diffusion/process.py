"""The variance-preserving process z = alpha x + sigma eps and conversions between x, eps and v predictions.

All functions are keyword-only and named by the symbol they return; `logsnr` broadcasts against the data from the
left (shape [B] against [B, T, D]).
"""
from __future__ import annotations

import jax.numpy as jnp

from dt_jax.diffusion import schedule


def broadcast_left(logsnr, like):
  """logsnr [B] (or scalar) reshaped to broadcast against `like` [B, ...]."""
  logsnr = jnp.asarray(logsnr, jnp.float32)
  return jnp.reshape(logsnr, logsnr.shape + (1,) * (jnp.ndim(like) - jnp.ndim(logsnr)))


def z_t(*, x, eps, logsnr):
  """q_sample: z = alpha x + sigma eps."""
  alpha, sigma = schedule.alpha_sigma(broadcast_left(logsnr, x))
  return alpha * x + sigma * eps


def x_from_eps(*, z, eps, logsnr):
  """x = (z - sigma eps) / alpha."""
  alpha, sigma = schedule.alpha_sigma(broadcast_left(logsnr, z))
  return (z - sigma * eps) / alpha


def eps_from_x(*, z, x, logsnr):
  """eps = (z - alpha x) / sigma."""
  alpha, sigma = schedule.alpha_sigma(broadcast_left(logsnr, z))
  return (z - alpha * x) / sigma


def v_from_x_eps(*, x, eps, logsnr):
  """v = alpha eps - sigma x."""
  alpha, sigma = schedule.alpha_sigma(broadcast_left(logsnr, x))
  return alpha * eps - sigma * x


def x_from_v(*, z, v, logsnr):
  """x = alpha z - sigma v."""
  alpha, sigma = schedule.alpha_sigma(broadcast_left(logsnr, z))
  return alpha * z - sigma * v


def eps_from_v(*, z, v, logsnr):
  """eps = sigma z + alpha v."""
  alpha, sigma = schedule.alpha_sigma(broadcast_left(logsnr, z))
  return sigma * z + alpha * v
