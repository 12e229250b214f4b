"""OpenAI Whisper's audio encoder in Flax: the log-mel frontend and the pre-norm transformer, padding-exact.

waveform [B, S] (16 kHz) -> log-mel [B, F, 80] at 100 Hz (F = S // 160) -> conv k3 + GELU -> conv k3 stride 2 +
GELU (50 Hz, N = ceil(F / 2)) -> + stored sinusoidal positions [:N] -> pre-LayerNorm blocks -> final LayerNorm
-> [B, N, C]. Feature n is centred on sample 320 n.

Frontend (as Whisper computes it): power STFT with a periodic Hann window of 400 samples, hop 160, centred (the
start reflect-padded, the end followed by zeros, as Whisper pads its input with silence), 80 Slaney mel filters up
to 8 kHz, log10 clamped at 1e-10, floored at 8 below the clip's maximum, then (x + 4) / 4.

Whisper was trained on 30 s windows; here a clip is encoded at its own length, the position table sliced to it
(docs/findings.md measures what that changes against padding to 30 s). `num_layers` < the model's depth stops
after that many blocks and returns their residual stream (no final LayerNorm): an intermediate layer can carry
more of what the lips need than the last (docs/findings.md), and the blocks above it cost nothing.
Clips padded in a batch give exactly the features they have alone: the STFT sees zeros past each clip's samples
either way, the clip's maximum is over its own frames, each conv's input is zeroed past the clip (as a clip alone
sees the conv's zero padding), and attention never reaches padded frames. The weights come from the CTranslate2
files of whisper_weights.py.
"""
from __future__ import annotations

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from dt_jax.models import layers
from dt_jax.timebase import SAMPLE_RATE

N_FFT = 400            # 25 ms window
HOP = 160              # 10 ms: 100 mel frames per second
N_MELS = 80
FEATURE_HOP = 2 * HOP  # samples per encoder frame (50 Hz)


@dataclasses.dataclass(frozen=True)
class WhisperConfig:
  width: int
  layers: int
  heads: int
  max_positions: int = 1500      # 30 s at 50 Hz: the stored position table


CONFIGS = {
    "whisper_base": WhisperConfig(width=512, layers=6, heads=8),
    "whisper_tiny_en": WhisperConfig(width=384, layers=4, heads=6),
}


def _hz_to_mel(f):
  """Slaney's mel scale: linear to 1 kHz (3 mels per 200 Hz), logarithmic above (27 mels per factor 6.4)."""
  f = np.asarray(f, np.float64)
  lin = f / (200.0 / 3)
  return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), lin)


def _mel_to_hz(m):
  m = np.asarray(m, np.float64)
  return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))


@functools.lru_cache(maxsize=None)
def mel_filters(n_mels: int = N_MELS, n_fft: int = N_FFT, rate: int = SAMPLE_RATE) -> np.ndarray:
  """[n_fft // 2 + 1, n_mels] Slaney-normalised triangular filters from 0 Hz to rate / 2 (Whisper's filter bank:
  each triangle's area is normalised by 2 / its bandwidth in Hz)."""
  fft_hz = np.linspace(0.0, rate / 2, n_fft // 2 + 1)
  edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(rate / 2), n_mels + 2))        # [n_mels + 2]
  widths = np.diff(edges)
  rising = (fft_hz[None, :] - edges[:-2, None]) / widths[:-1, None]
  falling = (edges[2:, None] - fft_hz[None, :]) / widths[1:, None]
  tri = np.maximum(0.0, np.minimum(rising, falling))                                        # [n_mels, n_freq]
  return (tri * (2.0 / (edges[2:] - edges[:-2]))[:, None]).T.astype(np.float32)


def mel_frames(samples):
  """Mel frames of `samples` samples (Whisper's count: one per hop, the frame past the end dropped)."""
  return samples // HOP


def encoder_frames(mel: int) -> int:
  """Encoder frames (50 Hz) of `mel` mel frames: the stride-2 conv with padding 1."""
  return (mel + 1) // 2


def log_mel(audio, sample_mask=None):
  """audio [B, S] (sample_mask [B, S]: 1 = real) -> (log-mel [B, F, 80], mel frame mask [B, F]), F = S // 160.
  Samples past a clip's end count as zeros, as Whisper's own padding with silence."""
  if sample_mask is None:
    sample_mask = jnp.ones_like(audio)
  audio = audio * sample_mask
  frames = mel_frames(audio.shape[1])
  padded = jnp.pad(audio, ((0, 0), (N_FFT // 2, 0)), mode="reflect")             # centred: reflect at the start
  padded = jnp.pad(padded, ((0, 0), (0, N_FFT)))                                  # and silence after the end
  idx = jnp.arange(frames)[:, None] * HOP + jnp.arange(N_FFT)[None, :]            # [F, N_FFT]
  window = 0.5 - 0.5 * jnp.cos(2.0 * jnp.pi * jnp.arange(N_FFT) / N_FFT)          # periodic Hann
  spec = jnp.fft.rfft(padded[:, idx] * window, axis=-1)                           # [B, F, 201]
  power = jnp.real(spec) ** 2 + jnp.imag(spec) ** 2
  mel = jnp.log10(jnp.maximum(power @ jnp.asarray(mel_filters()), 1e-10))         # [B, F, 80]
  real = jnp.floor(jnp.sum(sample_mask, -1, keepdims=True) / HOP)                 # [B, 1] real mel frames
  mask = (jnp.arange(frames)[None, :] < real).astype(audio.dtype)                 # [B, F]
  peak = jnp.max(jnp.where(mask[..., None] > 0, mel, -jnp.inf), axis=(1, 2), keepdims=True)
  mel = jnp.maximum(mel, peak - 8.0)
  return (mel + 4.0) / 4.0 * mask[..., None], mask


class WhisperEncoder(nn.Module):
  cfg: WhisperConfig
  num_layers: int = 0               # blocks to run (0: all, then the final LayerNorm)

  def setup(self):
    cfg = self.cfg
    self.conv1 = nn.Conv(cfg.width, (3,), padding=[(1, 1)])
    self.conv2 = nn.Conv(cfg.width, (3,), strides=(2,), padding=[(1, 1)])
    self.positions = self.param("positions", nn.initializers.zeros, (cfg.max_positions, cfg.width))
    self.blocks = [layers.TransformerBlock(cfg.width, cfg.heads, norm_first=True, epsilon=1e-5, exact_gelu=True,
                                           name=f"layer_{i}") for i in range(used_layers(cfg, self.num_layers))]
    if used_layers(cfg, self.num_layers) == cfg.layers:
      self.final_norm = nn.LayerNorm(epsilon=1e-5)

  def __call__(self, audio, *, sample_mask=None):
    """audio [B, S] (sample_mask [B, S]) -> (features [B, N, C] at 50 Hz, frame mask [B, N])."""
    max_samples = self.cfg.max_positions * FEATURE_HOP
    if isinstance(audio.shape[1], int) and audio.shape[1] > max_samples:
      raise ValueError(f"{audio.shape[1] / SAMPLE_RATE:.1f} s of audio: Whisper encodes at most "
                       f"{max_samples / SAMPLE_RATE:.0f} s at once (animate longer audio in windows)")
    if isinstance(audio.shape[1], int) and mel_frames(audio.shape[1]) < 1:
      raise ValueError(f"{audio.shape[1]} samples are shorter than one Whisper frame ({HOP} samples)")
    return self.encode_mel(*log_mel(audio, sample_mask))

  def encode_mel(self, mel, mel_mask=None):
    """log-mel [B, F, 80] (mel_mask [B, F]) -> (features [B, N, C], frame mask [B, N]), N = ceil(F / 2)."""
    if mel_mask is None:
      mel_mask = jnp.ones(mel.shape[:2], mel.dtype)
    x = nn.gelu(self.conv1(mel * mel_mask[..., None]), approximate=False)
    x = nn.gelu(self.conv2(x * mel_mask[..., None]), approximate=False)                  # [B, N, C]
    real = jnp.floor((jnp.sum(mel_mask, -1, keepdims=True) + 1.0) / 2.0)                 # [B, 1]
    fmask = (jnp.arange(x.shape[1])[None, :] < real).astype(x.dtype)                    # [B, N]
    x = x + self.positions[None, : x.shape[1]]
    for block in self.blocks:
      x = block(x, mask=fmask)
    if len(self.blocks) == self.cfg.layers:
      x = self.final_norm(x)
    return x * fmask[..., None], fmask


def to_frames(features, frame_mask, *, num_frames: int):
  """Encoder features [B, N, C] (frame mask [B, N]) -> [B, T, C] at the motion's frame rate (linear in time)."""
  return layers.resample_to_frames(features, num_frames=num_frames, hop=FEATURE_HOP, offset=0.0,
                                   valid=jnp.sum(frame_mask, -1, keepdims=True))


def used_layers(cfg: WhisperConfig, num_layers: int) -> int:
  if not 0 <= num_layers <= cfg.layers:
    raise ValueError(f"a Whisper encoder of {cfg.layers} blocks has no layer {num_layers}")
  return num_layers or cfg.layers


def used_params(params: dict, cfg: WhisperConfig, num_layers: int) -> dict:
  """The part of a whole encoder's params that its first `num_layers` blocks use."""
  n = used_layers(cfg, num_layers)
  drop = {f"layer_{i}" for i in range(n, cfg.layers)} | ({"final_norm"} if n < cfg.layers else set())
  return {k: v for k, v in params.items() if k not in drop}


def abstract_params(cfg: WhisperConfig, num_layers: int = 0):
  """The encoder's parameter tree as ShapeDtypeStructs (no compute)."""
  enc = WhisperEncoder(cfg, num_layers)
  return jax.eval_shape(lambda: enc.init(jax.random.PRNGKey(0), jnp.zeros((1, 2 * FEATURE_HOP))))["params"]
