"""The contrastive personalizer: identity and emotion embeddings from audio alone, fused per frame.

Learnable libraries E_id [K_id, d] and E_emo [K_emo, d]; queries q_id, q_emo are attention-pooled from the audio
features; logits = cos(q, E) / tau give the InfoNCE losses L_id = CE(logits_id, speaker), L_emo likewise. The
embedding used downstream is a softmax mix of library rows (so an unseen speaker still gets one). Audio frames
attend to [e_id; e_emo] (cross-attention) to give the per-frame personalised embedding p [B, T, d]. Either branch
can be switched off (the paper's ablations): it then contributes nothing and has no loss.
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax


@dataclasses.dataclass(frozen=True)
class PersonalizerConfig:
  width: int = 256
  num_speakers: int = 24
  num_emotions: int = 5
  heads: int = 4
  temperature: float = 0.1
  use_identity: bool = True
  use_emotion: bool = True


class AttentionPool(nn.Module):
  """A learned query attending over valid frames: [B, T, C] -> [B, C]."""
  width: int

  @nn.compact
  def __call__(self, h, mask):
    score = nn.Dense(1, name="score")(jnp.tanh(nn.Dense(self.width, name="key")(h)))[..., 0]   # [B, T]
    score = jnp.where(mask > 0, score, -1e9)
    return jnp.einsum("bt,btc->bc", jax.nn.softmax(score, axis=-1), nn.Dense(self.width, name="value")(h))


def _cosine_logits(q, library, temperature):
  qn = q / (jnp.linalg.norm(q, axis=-1, keepdims=True) + 1e-6)
  ln = library / (jnp.linalg.norm(library, axis=-1, keepdims=True) + 1e-6)
  return qn @ ln.T / temperature                                                   # [B, K]


class Personalizer(nn.Module):
  cfg: PersonalizerConfig

  @nn.compact
  def __call__(self, feats, mask, embeddings=None):   # feats [B, T, C], mask [B, T] -> p [B, T, d], aux
    """`embeddings` {'identity' or 'emotion': [B, d]} replaces what the audio gives (a reference speaker's
    identity, an emotion chosen by name); logits stay the audio's."""
    cfg = self.cfg
    tokens, aux = [], {}
    embeddings = embeddings or {}
    unknown = set(embeddings) - {n for n, on in (("identity", cfg.use_identity), ("emotion", cfg.use_emotion)) if on}
    if unknown:
      raise ValueError(f"this personalizer has no {' or '.join(sorted(unknown))} branch to override")
    for name, on, k in (("identity", cfg.use_identity, cfg.num_speakers), ("emotion", cfg.use_emotion,
                                                                             cfg.num_emotions)):
      if not on:
        continue
      library = self.param(f"{name}_library", nn.initializers.normal(1.0), (k, cfg.width))
      q = AttentionPool(cfg.width, name=f"{name}_query")(feats, mask)                 # [B, d]
      logits = _cosine_logits(q, library, cfg.temperature)
      embedding = jax.nn.softmax(logits, axis=-1) @ library                          # [B, d]
      if name in embeddings:
        embedding = jnp.broadcast_to(jnp.asarray(embeddings[name], embedding.dtype), embedding.shape)
      aux[f"{name}_logits"] = logits
      aux[f"{name}_embedding"] = embedding
      tokens.append(embedding)
    h = nn.Dense(cfg.width, name="frame_query")(feats)
    if not tokens:
      return jnp.zeros_like(h), aux
    kv = jnp.stack(tokens, axis=1)                                                   # [B, 1 or 2, d]
    p = nn.MultiHeadDotProductAttention(num_heads=cfg.heads, name="fusion")(h, kv)
    return nn.LayerNorm(name="fusion_norm")(h + p), aux


def contrastive_losses(aux: dict, *, speaker, emotion) -> dict:
  """InfoNCE (cross-entropy over the library) per enabled branch: {'identity': [B], 'emotion': [B]}."""
  out = {}
  for name, labels in (("identity", speaker), ("emotion", emotion)):
    if f"{name}_logits" in aux:
      out[name] = optax.softmax_cross_entropy_with_integer_labels(aux[f"{name}_logits"], labels)
  return out
