"""Diffusion losses: the x0 error and the optional velocity error (of frame-to-frame differences, as FaceDiffuser's),
weighted by the truncated SNR, max(SNR, 1), over masked frames."""
from __future__ import annotations

import jax.numpy as jnp


def snr_trunc(logsnr):
  """max(SNR, 1) = max(exp(lambda), 1): the x0 loss weight ('truncated SNR' of Salimans & Ho)."""
  return jnp.maximum(jnp.exp(logsnr), 1.0)


def _weighted_mean(err, *, mask, logsnr):
  """[B]: err [B, T'] averaged over the positions where mask [B, T'] is 1, times max(SNR, 1)."""
  per_example = jnp.sum(err * mask, axis=-1) / jnp.maximum(jnp.sum(mask, axis=-1), 1.0)
  return snr_trunc(logsnr) * per_example


def x0_loss(*, x_pred, x, logsnr, mask):
  """[B] per-example weighted mean squared x0 error over valid frames.

  x_pred, x: [B, T, D]; logsnr: [B]; mask: [B, T] (1 = real frame). Mean over D and valid frames, then times
  max(SNR, 1).
  """
  err = jnp.mean(jnp.square(x_pred - x), axis=-1)                              # [B, T]
  return _weighted_mean(err, mask=mask, logsnr=logsnr)


def velocity_loss(*, x_pred, x, logsnr, mask):
  """[B] per-example weighted mean squared error of the frame-to-frame differences, over pairs of valid frames.

  x_pred, x: [B, T, D]; logsnr: [B]; mask: [B, T]. Penalises predicted motion that is too still or too jittery
  even where its per-frame error is small; weighted like the x0 loss.
  """
  err = jnp.mean(jnp.square(jnp.diff(x_pred, axis=1) - jnp.diff(x, axis=1)), axis=-1)   # [B, T - 1]
  return _weighted_mean(err, mask=mask[:, 1:] * mask[:, :-1], logsnr=logsnr)
