"""The cosine log-SNR schedule (Salimans & Ho 2022, "Progressive distillation") on the continuous time u in [0, 1].

lambda(u) = -2 log tan(a u + b), with b = arctan(exp(-lambda_max / 2)) and a = arctan(exp(-lambda_min / 2)) - b,
so lambda(0) = lambda_max (almost clean) and lambda(1) = lambda_min (almost pure noise). alpha^2 = sigmoid(lambda),
sigma^2 = sigmoid(-lambda): alpha^2 + sigma^2 = 1. An N-step model works on the grid u_i = i / N.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

LOGSNR_MIN = -20.0
LOGSNR_MAX = 20.0


def logsnr_t(u, *, logsnr_min: float = LOGSNR_MIN, logsnr_max: float = LOGSNR_MAX):
  """log-SNR lambda(u) of the cosine schedule; u any shape in [0, 1].

  tan(a u + b) is ill-conditioned near u = 1 (its argument nears pi / 2: float32 gives lambda(1) = -20.001 and
  another runtime something else), so u >= 1/2 uses tan(pi/2 - x) = 1 / tan(x):
  lambda(u) = 2 log tan(a (1 - u) + c), c = arctan(exp(lambda_min / 2)) = pi/2 - b - a. Both halves are exact to
  float32 rounding, in JAX and in an exported graph alike.
  """
  b = math.atan(math.exp(-0.5 * logsnr_max))
  c = math.atan(math.exp(0.5 * logsnr_min))
  a = math.pi / 2 - b - c
  u = jnp.asarray(u, jnp.float32)
  return jnp.where(u < 0.5, -2.0 * jnp.log(jnp.tan(a * u + b)), 2.0 * jnp.log(jnp.tan(a * (1.0 - u) + c)))


def alpha_sigma(logsnr):
  """(alpha, sigma) with alpha^2 = sigmoid(lambda), sigma^2 = sigmoid(-lambda)."""
  return jnp.sqrt(jax.nn.sigmoid(logsnr)), jnp.sqrt(jax.nn.sigmoid(-logsnr))


def u_grid(num_steps: int):
  """[N + 1] times i / N, i = 0..N, of an N-step model."""
  return jnp.arange(num_steps + 1, dtype=jnp.float32) / num_steps
