"""Audio encoders on the raw 16 kHz waveform, shaped like wav2vec2 / HuBERT (teacher) or small (student).

waveform [B, S] -> strided conv feature extractor (wav2vec2: 7 layers, strides 5,2,2,2,2,2,2 -> 320x, 50 Hz)
-> layer norm + projection -> grouped convolutional position embedding -> transformer -> features [B, N, C]
-> linearly resampled to the motion's frame count [B, T, C] (30 fps), for any clip length.
With `frontend="mel"` the conv stack runs over log-mel frames (Whisper's filter bank, 10 ms hop, each clip's
log-mel floored 8 below its own maximum, so gain does not matter) instead of raw samples: the students of a
Whisper teacher hear what their teacher hears. Its STFT is a fixed convolution (cos / sin kernels), which every
export runtime runs.
The layers, norms, epsilons and activations follow transformers' Wav2Vec2Model / HubertModel exactly, so that
converted checkpoints give the same features (dt_jax/models/pretrained.py; tested against the PyTorch classes).
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from dt_jax.models import layers
from dt_jax.models import whisper
from dt_jax.timebase import FPS
from dt_jax.timebase import SAMPLE_RATE


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
  conv_channels: tuple[int, ...] = (512,) * 7
  conv_kernels: tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2)
  conv_strides: tuple[int, ...] = (5, 2, 2, 2, 2, 2, 2)
  conv_norm: str = "group"          # "group": GroupNorm on the first conv (wav2vec2-base); "layer": every conv
  conv_bias: bool = False           # wav2vec2-base: no conv bias; the large (layer-norm) models have one
  feature_projection_norm: bool = True   # layer norm before the projection (off in some HuBERT variants)
  width: int = 768
  layers: int = 12
  heads: int = 12
  mlp_ratio: int = 4                # intermediate size / width (3072 / 768)
  pos_conv_kernel: int = 128
  pos_conv_groups: int = 16
  norm_first: bool = False          # wav2vec2-base/HuBERT-base are post-norm; the large models pre-norm
  layer_norm_eps: float = 1e-5
  dropout: float = 0.1
  normalize_waveform: bool = False  # zero mean, unit variance per clip first (wav2vec2-large's feature extractor)
  frontend: str = "waveform"        # "waveform": the convs read samples; "mel": they read log-mel frames

  @classmethod
  def from_dict(cls, d) -> "EncoderConfig":
    """From a config block or JSON (lists become the tuples the dataclass holds)."""
    d = dict(d)
    for key in ("conv_channels", "conv_kernels", "conv_strides"):
      if key in d:
        d[key] = tuple(d[key])
    return cls(**d)

  @property
  def windows(self) -> tuple[tuple[int, int], ...]:
    """(kernel, stride) of every strided stage over samples, the mel frontend's STFT frames first."""
    convs = tuple(zip(self.conv_kernels, self.conv_strides))
    return ((whisper.N_FFT, whisper.HOP),) + convs if self.frontend == "mel" else convs

  @property
  def hop(self) -> int:
    h = 1
    for _, s in self.windows:
      h *= s
    return h

  @property
  def receptive_field(self) -> int:
    r, j = 1, 1
    for k, s in self.windows:
      r += (k - 1) * j
      j *= s
    return r


def num_features(cfg: EncoderConfig, samples: int) -> int:
  """Feature frames of the conv extractor for `samples` (a symbolic length under jax.export gives a symbolic
  count, assumed long enough)."""
  n = samples
  for k, s in cfg.windows:
    n = (n - k) // s + 1
  return max(n, 0) if isinstance(n, int) else n


def resample_to_frames(h, *, num_frames: int, cfg: EncoderConfig, valid=None):
  """[B, N, C] features at SAMPLE_RATE / hop Hz -> [B, T, C] at FPS by linear interpolation in time; `valid` [B, 1]
  (real feature frames per clip; default N) keeps each clip's interpolation off its padding."""
  return layers.resample_to_frames(h, num_frames=num_frames, hop=cfg.hop, offset=cfg.receptive_field / 2.0,
                                   valid=valid)


def feature_mask(cfg: EncoderConfig, sample_mask, num: int):
  """[B, S] sample mask -> ([B, N] feature-frame mask, [B, 1] real frames): a frame is real when its whole receptive
  field lies in the clip's real samples (VALID convs), so padding never reaches a real frame."""
  real = jnp.sum(sample_mask, -1, keepdims=True)
  for k, s in cfg.windows:
    real = jnp.maximum(jnp.floor((real - k) / s) + 1.0, 0.0)
  return (jax.lax.iota(jnp.float32, num)[None] < real).astype(jnp.float32), real


def normalize(audio, sample_mask):
  """Zero mean, unit variance over each clip's real samples (padding stays zero): [B, S] -> [B, S]."""
  n = jnp.maximum(jnp.sum(sample_mask, -1, keepdims=True), 1.0)
  mean = jnp.sum(audio * sample_mask, -1, keepdims=True) / n
  var = jnp.sum(jnp.square(audio - mean) * sample_mask, -1, keepdims=True) / n
  return (audio - mean) / jnp.sqrt(var + 1e-7) * sample_mask


def sample_mask_from_frames(mask, num_samples: int):
  """[B, T] frame mask at FPS -> [B, S] sample mask at SAMPLE_RATE (the first sum(mask) / FPS seconds)."""
  n = jnp.sum(mask, -1, keepdims=True) * (SAMPLE_RATE / FPS)
  return (jax.lax.iota(jnp.float32, num_samples) < jnp.round(n)).astype(jnp.float32)                 # [B, S]


def log_mel_frames(audio, sample_mask):
  """audio [B, S] -> (log-mel [B, F, 80] of VALID 400-sample frames every 160 samples, frame mask [B, F]), floored
  8 below each clip's maximum over its real frames and scaled as Whisper's ((x + 4) / 4). The STFT is a strided
  convolution with fixed cos / sin kernels (exportable where an FFT is not)."""
  n = jnp.arange(whisper.N_FFT)
  freqs = jnp.arange(whisper.N_FFT // 2 + 1)
  window = 0.5 - 0.5 * jnp.cos(2.0 * jnp.pi * n / whisper.N_FFT)                       # periodic Hann
  angle = 2.0 * jnp.pi * n[:, None] * freqs[None, :] / whisper.N_FFT                    # [400, 201]
  kernel = jnp.concatenate([jnp.cos(angle), jnp.sin(angle)], -1) * window[:, None]      # [400, 402]
  spec = jax.lax.conv_general_dilated((audio * sample_mask)[..., None], kernel[:, None, :], (whisper.HOP,), "VALID",
                                      dimension_numbers=("NWC", "WIO", "NWC"))          # [B, F, 402]
  re, im = jnp.split(spec, 2, axis=-1)
  mel = jnp.log10(jnp.maximum((re * re + im * im) @ jnp.asarray(whisper.mel_filters()), 1e-10))   # [B, F, 80]
  real = jnp.floor((jnp.sum(sample_mask, -1, keepdims=True) - whisper.N_FFT) / whisper.HOP) + 1.0
  mask = (jax.lax.iota(jnp.float32, mel.shape[1])[None, :] < real).astype(mel.dtype)     # [B, F]
  peak = jnp.max(jnp.where(mask[..., None] > 0, mel, -1e9), axis=(1, 2), keepdims=True)
  return (jnp.maximum(mel, peak - 8.0) + 4.0) / 4.0 * mask[..., None], mask


class AudioEncoder(nn.Module):
  cfg: EncoderConfig

  @nn.compact
  def __call__(self, audio, *, num_frames: int | None, sample_mask=None, train: bool = False):
    """audio [B, S] (sample_mask [B, S]: 1 = real sample) -> features [B, T, C] at FPS for `num_frames` = T,
    or the transformer's own output [B, N, C] at 50 Hz for `num_frames=None` (wav2vec2's last_hidden_state)."""
    cfg = self.cfg
    if isinstance(audio.shape[1], int) and num_features(cfg, audio.shape[1]) < 1:
      raise ValueError(f"{audio.shape[1]} samples are shorter than the encoder's receptive field "
                       f"({cfg.receptive_field} samples)")
    if sample_mask is None:
      sample_mask = jnp.ones_like(audio)
    if cfg.normalize_waveform:
      audio = normalize(audio, sample_mask)
    if cfg.frontend == "mel":
      x = log_mel_frames(audio, sample_mask)[0]                             # [B, F, 80]
    elif cfg.frontend == "waveform":
      x = audio[..., None]                                                  # [B, S, 1]
    else:
      raise ValueError(f"frontend must be 'waveform' or 'mel', not {cfg.frontend!r}")
    for i, (c, k, s) in enumerate(zip(cfg.conv_channels, cfg.conv_kernels, cfg.conv_strides)):
      x = nn.Conv(c, (k,), strides=(s,), padding="VALID", use_bias=cfg.conv_bias, name=f"conv_{i}")(x)
      if cfg.conv_norm == "layer":
        x = nn.LayerNorm(epsilon=1e-5, name=f"conv_norm_{i}")(x)
      elif cfg.conv_norm == "group" and i == 0:
        x = nn.GroupNorm(num_groups=c, epsilon=1e-5, name="conv_norm_0")(x)   # per channel, over time
      elif cfg.conv_norm not in ("group", "layer"):
        raise ValueError(f"conv_norm must be 'group' or 'layer', not {cfg.conv_norm!r}")
      x = nn.gelu(x, approximate=False)
    if cfg.feature_projection_norm:                                          # [B, N, C_conv]
      x = nn.LayerNorm(epsilon=cfg.layer_norm_eps, name="feature_norm")(x)
    x = nn.Dense(cfg.width, name="feature_projection")(x)
    x = nn.Dropout(cfg.dropout, deterministic=not train)(x)
    fmask, valid = feature_mask(cfg, sample_mask, x.shape[1])                # [B, N], [B, 1]
    x = x * fmask[..., None]                                  # padding reaches neither the position conv nor attention
    pad = cfg.pos_conv_kernel // 2
    pos = nn.Conv(cfg.width, (cfg.pos_conv_kernel,), padding=[(pad, pad)], feature_group_count=cfg.pos_conv_groups,
                  name="pos_conv")(x)
    pos = pos[:, : x.shape[1]] if cfg.pos_conv_kernel % 2 == 0 else pos
    x = x + nn.gelu(pos, approximate=False)
    if not cfg.norm_first:
      x = nn.LayerNorm(epsilon=cfg.layer_norm_eps, name="encoder_norm")(x)
    x = nn.Dropout(cfg.dropout, deterministic=not train)(x)
    for i in range(cfg.layers):
      x = layers.TransformerBlock(cfg.width, cfg.heads, mlp_ratio=cfg.mlp_ratio, dropout=cfg.dropout,
                                  norm_first=cfg.norm_first, epsilon=cfg.layer_norm_eps, exact_gelu=True,
                                  name=f"layer_{i}")(x, mask=fmask, train=train)
    if cfg.norm_first:
      x = nn.LayerNorm(epsilon=cfg.layer_norm_eps, name="encoder_norm")(x)
    if num_frames is None:
      return x
    return resample_to_frames(x, num_frames=num_frames, cfg=cfg, valid=valid)
