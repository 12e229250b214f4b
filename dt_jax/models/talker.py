"""The talker: audio encoder + contrastive personalizer + denoiser.

The audio encoder is either trained with the talker (`model.encoder`, on the raw waveform) or a frozen pretrained
speech encoder (`model.speech_encoder`: Whisper, models/whisper.py), whose features a trained adapter
(LayerNorm, two dense layers) maps to the model's width. A frozen encoder's parameters are not the talker's own:
training reads its features from a cache (`encode_features`), and sampling passes its parameters in under
`speech_encoder` (runs/loading.py adds them), so checkpoints hold only what was trained.
A student's small encoder is followed by a learned projection to its teacher's feature width (`feature_width`)
and, for a teacher with a pretrained encoder, the teacher's adapter, so its personalizer and denoiser have the
teacher's shapes and start from the teacher's weights.
`encode` runs once per clip (audio -> frame features -> personalised embedding); `denoise` runs once per
diffusion step. `__call__` does both (training). `denoiser_fn` is the per-step function samplers call, with
classifier-free guidance when the run asks for it (diffusion/guidance.py) and the x prediction kept in the data's
range when one is given.
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from dt_jax.diffusion import guidance as guidance_lib
from dt_jax.models import audio_encoder
from dt_jax.models import denoiser
from dt_jax.models import personalizer
from dt_jax.models import whisper


@dataclasses.dataclass(frozen=True)
class TalkerConfig:
  encoder: audio_encoder.EncoderConfig
  personalizer: personalizer.PersonalizerConfig
  denoiser: denoiser.DenoiserConfig
  motion_dim: int
  feature_width: int = 0      # > 0: project the encoder's features to this width (a student matching its teacher)
  speech_encoder: str = ""    # a frozen pretrained encoder (models/whisper.py CONFIGS) instead of `encoder`
  speech_layers: int = 0      # its blocks used (0: all): the features are that block's output
  adapter_width: int = 0      # > 0: the adapter from pretrained features to this width (teachers and their students)


def from_config(model_cfg, *, motion_dim: int, num_speakers: int, num_emotions: int) -> "Talker":
  """The talker of a config's `model` block (configs/common.py:model; a student's from distill/plan.py) for a
  dataset with `motion_dim` channels and its speaker and emotion counts (the personalizer's library sizes)."""
  return Talker(TalkerConfig(
      encoder=audio_encoder.EncoderConfig.from_dict(model_cfg.encoder),
      personalizer=personalizer.PersonalizerConfig(num_speakers=num_speakers, num_emotions=num_emotions,
                                                   **dict(model_cfg.personalizer)),
      denoiser=denoiser.DenoiserConfig(**dict(model_cfg.denoiser)), motion_dim=motion_dim,
      feature_width=model_cfg.feature_width, speech_encoder=model_cfg.get("speech_encoder", ""),
      speech_layers=model_cfg.get("speech_layers", 0),
      adapter_width=model_cfg.get("adapter_width", 0)))


class FeatureAdapter(nn.Module):
  """Pretrained speech features [B, T, C] -> [B, T, width]: LayerNorm, dense, GELU, dense."""
  width: int

  @nn.compact
  def __call__(self, feats):
    h = nn.gelu(nn.Dense(self.width, name="dense_in")(nn.LayerNorm(name="norm")(feats)))
    return nn.Dense(self.width, name="dense_out")(h)


class Talker(nn.Module):
  cfg: TalkerConfig

  @property
  def min_samples(self) -> int:
    """The shortest audio its encoder reads: the trained encoder's receptive field, or one Whisper frame."""
    return whisper.HOP if self.cfg.speech_encoder else self.cfg.encoder.receptive_field

  def setup(self):
    if self.cfg.speech_encoder:
      self.speech_encoder = whisper.WhisperEncoder(whisper.CONFIGS[self.cfg.speech_encoder], self.cfg.speech_layers)
    else:
      self.audio_encoder = audio_encoder.AudioEncoder(self.cfg.encoder)
    if self.cfg.feature_width:
      self.encoder_projection = nn.Dense(self.cfg.feature_width)
    if self.cfg.adapter_width:
      self.feature_adapter = FeatureAdapter(self.cfg.adapter_width)
    self.personalizer = personalizer.Personalizer(self.cfg.personalizer)
    self.denoiser = denoiser.Denoiser(self.cfg.denoiser, self.cfg.motion_dim)

  def speech_features(self, audio, mask, *, train: bool = False):
    """audio [B, S], mask [B, T] -> the encoder's features [B, T, C] at the motion's frames (a pretrained encoder's
    own features, frozen; a trained encoder's after its projection), before any adapter."""
    sample_mask = audio_encoder.sample_mask_from_frames(mask, audio.shape[1])
    if self.cfg.speech_encoder:
      feats, fmask = self.speech_encoder(audio, sample_mask=sample_mask)
      return jax.lax.stop_gradient(whisper.to_frames(feats, fmask, num_frames=mask.shape[1]))
    feats = self.audio_encoder(audio, num_frames=mask.shape[1], sample_mask=sample_mask, train=train)
    return self.encoder_projection(feats) if self.cfg.feature_width else feats

  def encode(self, audio, mask, *, embeddings=None, train: bool = False):
    """audio [B, S], mask [B, T] -> (audio features [B, T, C], personal [B, T, d], aux); `embeddings` overrides
    the identity and/or emotion embedding ({name: [B, d]}, see Personalizer)."""
    return self.encode_features(self.speech_features(audio, mask, train=train), mask, embeddings=embeddings)

  def encode_features(self, feats, mask, *, embeddings=None):
    """What `encode` does after the encoder: cached speech features [B, T, C] (speech_features' output) ->
    (audio features the denoiser sees, personal [B, T, d], aux)."""
    if self.cfg.adapter_width:
      feats = self.feature_adapter(feats)
    personal, aux = self.personalizer(feats, mask, embeddings)
    return feats, personal, aux

  def denoise(self, z, logsnr, feats, personal, mask, *, train: bool = False):
    return self.denoiser(z, audio_feats=feats, personal=personal, logsnr=logsnr, mask=mask, train=train)

  def __call__(self, audio, z, logsnr, mask, *, features=None, keep=None, train: bool = False):
    """(x prediction [B, T, D], aux); from `audio` [B, S] or, where given, cached speech `features` [B, T, C];
    keep [B] (1 or 0) zeroes the audio features and personal embedding the denoiser sees for the examples at 0
    (condition dropout; the personalizer's aux is from the real audio)."""
    if features is not None:
      feats, personal, aux = self.encode_features(features, mask)
    else:
      feats, personal, aux = self.encode(audio, mask, train=train)
    if keep is not None:
      feats, personal = feats * keep[:, None, None], personal * keep[:, None, None]
    return self.denoise(z, logsnr, feats, personal, mask, train=train), aux


def denoiser_fn(model: Talker, params, feats, personal, mask, *, guidance: float = 1.0, x_range=None):
  """denoise(z [B, T, D], logsnr [B]) -> x prediction of one clip batch's encoded audio (feats [B, T, C], personal
  [B, T, d], mask [B, T]). guidance w != 1: x_uncond + w (x_cond - x_uncond), the unconditional prediction being
  the model's with zeroed conditioning (what condition dropout trained), both halves in one batched call.
  x_range (lo [D], hi [D], model units): the prediction is clipped to it at every step (the data's range)."""
  apply = lambda z, logsnr, f, p, m: model.apply({"params": params}, z, logsnr, f, p, m, method=Talker.denoise)
  clip = (lambda x: x) if x_range is None else (lambda x: jnp.clip(x, x_range[0], x_range[1]))
  if np.all(np.asarray(guidance) == 1.0):
    return lambda z, logsnr: clip(apply(z, logsnr, feats, personal, mask))

  def guided(z, logsnr):
    both = lambda a, b: jnp.concatenate([a, b], axis=0)
    x = apply(both(z, z), both(logsnr, logsnr), both(feats, jnp.zeros_like(feats)),
              both(personal, jnp.zeros_like(personal)), both(mask, mask))
    x_cond, x_uncond = jnp.split(x, 2, axis=0)
    return clip(guidance_lib.x_guided(x_cond=x_cond, x_uncond=x_uncond, w=guidance))
  return guided
