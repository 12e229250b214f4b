"""Consistency models on the variance-preserving process (Song, Dhariwal, Chen & Sutskever 2023), parameterised so
that the boundary condition holds exactly.

Derivation. With z_u = alpha_u x + sigma_u eps, the input in data space is z_u / alpha_u = x + s_u eps, a
variance-exploding process with noise level s_u = sigma_u / alpha_u = exp(-lambda_u / 2). A consistency function
maps any point of an ODE trajectory to its origin and must be the identity at the smallest noise level s_min =
s(u = 0): f(z_0, 0) = z_0 / alpha_0. Writing, as Karras et al. and Song et al. do for VE,

  f(z_u, u) = c_skip(u) z_u / alpha_u + c_out(u) F(z_u, u),
  c_skip = sigma_d^2 / ((s_u - s_min)^2 + sigma_d^2),   c_out = sigma_d (s_u - s_min) / sqrt(sigma_d^2 + s_u^2),

with F the network's x prediction and sigma_d = 1 (the motion is normalised to unit variance), gives c_skip = 1 and
c_out = 0 at u = 0: the boundary condition holds by construction, whatever F is. At large noise c_skip -> 0 and
f -> F.

Multistep consistency sampling at times 1 = tau_1 > ... > tau_K: x = f(z_1, 1); then for each later tau, re-noise
z = alpha_tau x + sigma_tau n_k and x = f(z, tau). The fresh noise n_k is the initial noise with its channels
rolled by k (a permutation, so still N(0, I) and independent of z_1 element by element): the sampler stays a
function of (audio, noise) alone, as every exported sampler is.
"""
from __future__ import annotations

from typing import Callable

import jax.numpy as jnp

from dt_jax.diffusion import process
from dt_jax.diffusion import schedule

SIGMA_DATA = 1.0


def noise_level(logsnr):
  """s = sigma / alpha = exp(-lambda / 2), the data-space noise level."""
  return jnp.exp(-0.5 * jnp.asarray(logsnr, jnp.float32))


def c_skip(logsnr):
  s, s_min = noise_level(logsnr), noise_level(schedule.LOGSNR_MAX)
  return SIGMA_DATA ** 2 / ((s - s_min) ** 2 + SIGMA_DATA ** 2)


def c_out(logsnr):
  s, s_min = noise_level(logsnr), noise_level(schedule.LOGSNR_MAX)
  return SIGMA_DATA * (s - s_min) / jnp.sqrt(SIGMA_DATA ** 2 + s ** 2)


def consistency_fn(*, z, x_net, logsnr):
  """f(z, u) from the network's x prediction x_net; z, x_net [B, ...], logsnr [B]."""
  b = lambda v: process.broadcast_left(v, z)
  alpha, _ = schedule.alpha_sigma(b(logsnr))
  return b(c_skip(logsnr)) * z / alpha + b(c_out(logsnr)) * x_net


def fresh_noise(z_init, k: int):
  """The noise of step k (k >= 1) of multistep sampling: z_init with its channels rolled by k."""
  return jnp.roll(z_init, shift=k, axis=-1)


def sample(f: Callable, *, z_init, num_steps: int):
  """x from noise z_init [B, ...] in `num_steps` (static) consistency steps at tau_k = 1 - k / num_steps, of
  f(z, logsnr [B]) -> x (the consistency function)."""
  batch = z_init.shape[0]
  lam = lambda u: jnp.broadcast_to(schedule.logsnr_t(u), (batch,))
  x = f(z_init, lam(1.0))
  for k in range(1, num_steps):
    tau = 1.0 - k / num_steps
    x = f(process.z_t(x=x, eps=fresh_noise(z_init, k), logsnr=lam(tau)), lam(tau))
  return x
