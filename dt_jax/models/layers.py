"""Shared layers: a transformer block with key masks, the noise-level embedding, features to motion frames."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import flax.linen as nn
import numpy as np

from dt_jax.timebase import FPS
from dt_jax.timebase import SAMPLE_RATE


class TransformerBlock(nn.Module):
  """Self-attention + MLP; pre-norm (`norm_first`) or post-norm (wav2vec2-base style)."""
  width: int
  heads: int
  mlp_ratio: int = 4
  dropout: float = 0.0
  norm_first: bool = True
  epsilon: float = 1e-6        # layer-norm epsilon (wav2vec2 / HuBERT: 1e-5)
  exact_gelu: bool = False     # erf GELU (wav2vec2 / HuBERT) instead of the tanh approximation

  @nn.compact
  def __call__(self, x, *, mask=None, train: bool = False):   # x [B, N, C], mask [B, N] (1 = real)
    attn_mask = None if mask is None else nn.make_attention_mask(mask > 0, mask > 0)
    attend = nn.MultiHeadDotProductAttention(num_heads=self.heads, dropout_rate=self.dropout,
                                             deterministic=not train, name="attention")
    hidden = lambda h: nn.gelu(nn.Dense(self.width * self.mlp_ratio, name="mlp_in")(h),
                               approximate=not self.exact_gelu)
    mlp = lambda h: nn.Dense(self.width, name="mlp_out")(hidden(h))
    norm = lambda name: nn.LayerNorm(epsilon=self.epsilon, name=name)
    drop = nn.Dropout(self.dropout, deterministic=not train)
    if self.norm_first:
      h = norm("norm1")(x)
      x = x + drop(attend(h, h, mask=attn_mask))
      return x + drop(mlp(norm("norm2")(x)))
    x = norm("norm1")(x + drop(attend(x, x, mask=attn_mask)))
    return norm("norm2")(x + drop(mlp(x)))


def logsnr_embedding(logsnr, dim: int):
  """[B, dim] sinusoidal features of the log-SNR (scaled to roughly [-1, 1] first)."""
  half = dim // 2
  freqs = jnp.exp(-np.log(1000.0) * jnp.arange(half, dtype=jnp.float32) / max(half - 1, 1))
  angle = (logsnr[:, None] / 20.0) * 1000.0 * freqs[None]
  return jnp.concatenate([jnp.sin(angle), jnp.cos(angle)], axis=-1)


def resample_to_frames(h, *, num_frames: int, hop: float, offset: float, valid=None):
  """[B, N, C] features, feature n centred on sample offset + n hop -> [B, T, C] at FPS (frame t centred on
  (t + 1/2) / FPS s) by linear interpolation in time; `valid` [B, 1] (real feature frames per clip; default N)
  keeps each clip's interpolation off its padding."""
  n = h.shape[1]
  t_center = (jax.lax.iota(jnp.float32, num_frames) + 0.5) / FPS * SAMPLE_RATE       # [T] in samples
  pos = (t_center - offset) / hop                                                   # feature index
  last = jnp.full((h.shape[0], 1), n - 1.0) if valid is None else jnp.clip(valid - 1.0, 0.0, n - 1.0)
  pos = jnp.minimum(jnp.maximum(pos, 0.0)[None, :] + jnp.zeros_like(last), last)   # [B, T] (explicit for ONNX)
  lo = jnp.floor(pos).astype(jnp.int32)
  hi = jnp.minimum(lo + 1, last.astype(jnp.int32))
  w = (pos - lo)[..., None]
  take = lambda idx: jnp.take_along_axis(h, idx[..., None], axis=1)
  return take(lo) * (1.0 - w) + take(hi) * w
