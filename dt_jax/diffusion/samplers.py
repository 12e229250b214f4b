"""DDIM (deterministic) and ancestral samplers as `lax.fori_loop`s with a static number of steps.

A step from time t to s < t with the model's x prediction x^:
* DDIM: eps^ = (z_t - alpha_t x^) / sigma_t, z_s = alpha_s x^ + sigma_s eps^.
* ancestral: the posterior q(z_s | z_t, x = x^), mean
  mu = e^(lambda_t - lambda_s) (alpha_s / alpha_t) z_t + (1 - e^(lambda_t - lambda_s)) alpha_s x^ and
  variance (1 - e^(lambda_t - lambda_s)) sigma_s^2, plus fresh noise.
The last step (s = 0) returns x^ itself. With the true x0 as the prediction, both samplers return x0.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from dt_jax.diffusion import process
from dt_jax.diffusion import schedule


def ddim_step(*, z, x_pred, logsnr_t, logsnr_s):
  """z_s of a deterministic DDIM step from z_t with prediction x_pred."""
  eps = process.eps_from_x(z=z, x=x_pred, logsnr=logsnr_t)
  return process.z_t(x=x_pred, eps=eps, logsnr=logsnr_s)


def ancestral_step(*, z, x_pred, logsnr_t, logsnr_s, noise):
  """z_s drawn from q(z_s | z_t, x = x_pred); `noise` ~ N(0, I) like z."""
  bt = lambda v: process.broadcast_left(v, z)
  alpha_t, _ = schedule.alpha_sigma(bt(logsnr_t))
  alpha_s, sigma_s = schedule.alpha_sigma(bt(logsnr_s))
  r = jnp.exp(bt(logsnr_t) - bt(logsnr_s))                                        # SNR_t / SNR_s < 1
  mean = r * (alpha_s / alpha_t) * z + (1.0 - r) * alpha_s * x_pred
  return mean + jnp.sqrt((1.0 - r) * sigma_s ** 2) * noise


def sample(denoise: Callable, *, z_init, num_steps: int, rng=None, sampler: str = "ddim",
           logsnr_min: float = schedule.LOGSNR_MIN, logsnr_max: float = schedule.LOGSNR_MAX, unroll: bool = False):
  """x0 from noise z_init [B, ...] in `num_steps` (static) steps of `denoise(z, logsnr [B]) -> x_pred`.

  `unroll=True` writes the steps out instead of a `fori_loop` (same numbers; for exporters without loops).
  """
  if sampler not in ("ddim", "ancestral"):
    raise ValueError(f"unknown sampler {sampler!r}: ddim or ancestral")
  if sampler == "ancestral" and rng is None:
    raise ValueError("the ancestral sampler needs an rng")
  batch = z_init.shape[0]
  lam = lambda u: jnp.broadcast_to(schedule.logsnr_t(u, logsnr_min=logsnr_min, logsnr_max=logsnr_max), (batch,))

  def body(k, carry):
    z, _ = carry
    i = num_steps - k                                                            # i = N .. 1
    logsnr_t, logsnr_s = lam(i / num_steps), lam((i - 1) / num_steps)
    x_pred = denoise(z, logsnr_t)
    if sampler == "ddim":
      z_next = ddim_step(z=z, x_pred=x_pred, logsnr_t=logsnr_t, logsnr_s=logsnr_s)
    else:
      noise = jax.random.normal(jax.random.fold_in(rng, k), z.shape, z.dtype)
      z_next = ancestral_step(z=z, x_pred=x_pred, logsnr_t=logsnr_t, logsnr_s=logsnr_s, noise=noise)
    return z_next, x_pred

  carry = (z_init, jnp.zeros_like(z_init))
  if unroll:
    for k in range(num_steps):
      carry = body(k, carry)
  else:
    carry = jax.lax.fori_loop(0, num_steps, body, carry)
  return carry[1]
