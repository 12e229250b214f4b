"""The denoiser: a transformer over frames mapping z_t [B, T, D] to the x0 prediction, conditioned on the audio
features, the personalised embedding and the noise level. A grouped temporal convolution (as wav2vec2's
positional convolution) tells the transformer which frames are neighbours, for any clip length. Works for D = 52 and D = 15069 alike."""
from __future__ import annotations

import dataclasses

import flax.linen as nn

from dt_jax.models import layers


@dataclasses.dataclass(frozen=True)
class DenoiserConfig:
  width: int = 256
  layers: int = 4
  heads: int = 4
  dropout: float = 0.1
  pos_conv_kernel: int = 9      # a grouped temporal convolution gives every frame its neighbours' positions
  noise_gate: bool = False      # scale the noisy motion's embedding by a learned function of the noise level


class Denoiser(nn.Module):
  cfg: DenoiserConfig
  motion_dim: int

  @nn.compact
  def __call__(self, z, *, audio_feats, personal, logsnr, mask, train: bool = False):
    cfg = self.cfg                                   # z [B, T, D], audio_feats [B, T, C], personal [B, T, d]
    noise = nn.Dense(cfg.width, name="noise_out")(nn.silu(nn.Dense(cfg.width, name="noise_in")(
        layers.logsnr_embedding(logsnr, cfg.width))))                               # [B, W]
    motion = nn.Dense(cfg.width, name="motion_in")(z)                                # [B, T, W]
    if cfg.noise_gate:          # lets the model drop z where it is nearly pure noise (u -> 1), keep it where clean
      scale = nn.Dense(cfg.width, kernel_init=nn.initializers.zeros, name="motion_gate")(nn.silu(noise))  # [B, W]
      motion = motion * (1.0 + scale[:, None])
    h = (motion + nn.Dense(cfg.width, name="audio_in")(audio_feats)
         + nn.Dense(cfg.width, name="personal_in")(personal) + noise[:, None])
    h = h + nn.gelu(nn.Conv(cfg.width, (cfg.pos_conv_kernel,), padding="SAME", feature_group_count=4,
                            name="pos_conv")(h * mask[..., None]))                    # [B, T, W]
    for i in range(cfg.layers):
      h = layers.TransformerBlock(cfg.width, cfg.heads, dropout=cfg.dropout, name=f"layer_{i}")(
          h, mask=mask, train=train)
    return nn.Dense(self.motion_dim, name="motion_out")(nn.LayerNorm(name="out_norm")(h))   # [B, T, D]
