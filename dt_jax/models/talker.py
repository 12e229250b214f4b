"""The talker: audio encoder + contrastive personalizer + denoiser.

A student's small encoder is followed by a learned projection to its teacher's feature width (`feature_width`),
so its personalizer and denoiser have the teacher's shapes and start from the teacher's weights.
`encode` runs once per clip (audio -> frame features -> personalised embedding); `denoise` runs once per
diffusion step. `__call__` does both (training). `denoiser_fn` is the per-step function samplers call, with
classifier-free guidance when the run asks for it (diffusion/guidance.py).
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax.numpy as jnp

from dt_jax.diffusion import guidance as guidance_lib
from dt_jax.models import audio_encoder
from dt_jax.models import denoiser
from dt_jax.models import personalizer


@dataclasses.dataclass(frozen=True)
class TalkerConfig:
  encoder: audio_encoder.EncoderConfig
  personalizer: personalizer.PersonalizerConfig
  denoiser: denoiser.DenoiserConfig
  motion_dim: int
  feature_width: int = 0      # > 0: project the encoder's features to this width (a student matching its teacher)


def from_config(model_cfg, *, motion_dim: int, num_speakers: int, num_emotions: int) -> "Talker":
  """The talker of a config's `model` block (configs/common.py:model; a student's from distill/plan.py) for a
  dataset with `motion_dim` channels and its speaker and emotion counts (the personalizer's library sizes)."""
  return Talker(TalkerConfig(
      encoder=audio_encoder.EncoderConfig.from_dict(model_cfg.encoder),
      personalizer=personalizer.PersonalizerConfig(num_speakers=num_speakers, num_emotions=num_emotions,
                                                   **dict(model_cfg.personalizer)),
      denoiser=denoiser.DenoiserConfig(**dict(model_cfg.denoiser)), motion_dim=motion_dim,
      feature_width=model_cfg.feature_width))


class Talker(nn.Module):
  cfg: TalkerConfig

  def setup(self):
    self.audio_encoder = audio_encoder.AudioEncoder(self.cfg.encoder)
    if self.cfg.feature_width:
      self.encoder_projection = nn.Dense(self.cfg.feature_width)
    self.personalizer = personalizer.Personalizer(self.cfg.personalizer)
    self.denoiser = denoiser.Denoiser(self.cfg.denoiser, self.cfg.motion_dim)

  def encode(self, audio, mask, *, embeddings=None, train: bool = False):
    """audio [B, S], mask [B, T] -> (audio features [B, T, C], personal [B, T, d], aux); `embeddings` overrides
    the identity and/or emotion embedding ({name: [B, d]}, see Personalizer)."""
    sample_mask = audio_encoder.sample_mask_from_frames(mask, audio.shape[1])
    feats = self.audio_encoder(audio, num_frames=mask.shape[1], sample_mask=sample_mask, train=train)
    if self.cfg.feature_width:
      feats = self.encoder_projection(feats)
    personal, aux = self.personalizer(feats, mask, embeddings)
    return feats, personal, aux

  def denoise(self, z, logsnr, feats, personal, mask, *, train: bool = False):
    return self.denoiser(z, audio_feats=feats, personal=personal, logsnr=logsnr, mask=mask, train=train)

  def __call__(self, audio, z, logsnr, mask, *, keep=None, train: bool = False):
    """(x prediction [B, T, D], aux); keep [B] (1 or 0) zeroes the audio features and personal embedding the
    denoiser sees for the examples at 0 (condition dropout; the personalizer's aux is from the real audio)."""
    feats, personal, aux = self.encode(audio, mask, train=train)
    if keep is not None:
      feats, personal = feats * keep[:, None, None], personal * keep[:, None, None]
    return self.denoise(z, logsnr, feats, personal, mask, train=train), aux


def denoiser_fn(model: Talker, params, feats, personal, mask, *, guidance: float = 1.0):
  """denoise(z [B, T, D], logsnr [B]) -> x prediction of one clip batch's encoded audio (feats [B, T, C], personal
  [B, T, d], mask [B, T]). guidance w != 1: x_uncond + w (x_cond - x_uncond), the unconditional prediction being
  the model's with zeroed conditioning (what condition dropout trained), both halves in one batched call."""
  apply = lambda z, logsnr, f, p, m: model.apply({"params": params}, z, logsnr, f, p, m, method=Talker.denoise)
  if guidance == 1.0:
    return lambda z, logsnr: apply(z, logsnr, feats, personal, mask)

  def guided(z, logsnr):
    both = lambda a, b: jnp.concatenate([a, b], axis=0)
    x = apply(both(z, z), both(logsnr, logsnr), both(feats, jnp.zeros_like(feats)),
              both(personal, jnp.zeros_like(personal)), both(mask, mask))
    x_cond, x_uncond = jnp.split(x, 2, axis=0)
    return guidance_lib.x_guided(x_cond=x_cond, x_uncond=x_uncond, w=guidance)
  return guided
