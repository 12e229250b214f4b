"""The talker: audio encoder + contrastive personalizer + denoiser.

`encode` runs once per clip (audio -> frame features -> personalised embedding); `denoise` runs once per
diffusion step. `__call__` does both (training).
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn

from dt_jax.models import audio_encoder
from dt_jax.models import denoiser
from dt_jax.models import personalizer


@dataclasses.dataclass(frozen=True)
class TalkerConfig:
  encoder: audio_encoder.EncoderConfig
  personalizer: personalizer.PersonalizerConfig
  denoiser: denoiser.DenoiserConfig
  motion_dim: int


class Talker(nn.Module):
  cfg: TalkerConfig

  def setup(self):
    self.audio_encoder = audio_encoder.AudioEncoder(self.cfg.encoder)
    self.personalizer = personalizer.Personalizer(self.cfg.personalizer)
    self.denoiser = denoiser.Denoiser(self.cfg.denoiser, self.cfg.motion_dim)

  def encode(self, audio, mask, *, train: bool = False):
    """audio [B, S], mask [B, T] -> (audio features [B, T, C], personal [B, T, d], aux)."""
    feats = self.audio_encoder(audio, num_frames=mask.shape[1], train=train)
    personal, aux = self.personalizer(feats, mask)
    return feats, personal, aux

  def denoise(self, z, logsnr, feats, personal, mask, *, train: bool = False):
    return self.denoiser(z, audio_feats=feats, personal=personal, logsnr=logsnr, mask=mask, train=train)

  def __call__(self, audio, z, logsnr, mask, *, train: bool = False):
    feats, personal, aux = self.encode(audio, mask, train=train)
    return self.denoise(z, logsnr, feats, personal, mask, train=train), aux
