"""Classifier-free guidance (Ho & Salimans 2022, "Classifier-free diffusion guidance") on the x prediction.

A model trained with its conditioning dropped for a share of the examples (the audio features and the personalised
embedding zeroed, so one network is both p(x | audio) and p(x)) is sampled with

  x^_w = x^_uncond + w (x^_cond - x^_uncond),

w = 1 being the plain conditional model and w > 1 pushing each step toward what the audio decides (lips, jaw) and
away from what the unconditional prior would do with the same noise.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def x_guided(*, x_cond, x_uncond, w: float):
  """x^_uncond + w (x^_cond - x^_uncond) for x [B, ...]; w = 1 returns x_cond."""
  return x_uncond + w * (x_cond - x_uncond)


def keep(rng, *, batch: int, drop: float):
  """[B] float: 0 for the examples whose conditioning is dropped (probability `drop`), 1 for the rest."""
  if not 0.0 <= drop < 1.0:
    raise ValueError(f"condition dropout {drop} must be in [0, 1)")
  return jax.random.bernoulli(rng, 1.0 - drop, (batch,)).astype(jnp.float32)
