"""The personalizer enhancer L_pc: a CLIP-style symmetric InfoNCE over the batch between the pooled
personalised embedding and an encoding of the upper face of the predicted animation, so that identity and emotion
must show in the face. Positives are the diagonal (each clip with its own prediction).
"""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import numpy as np
import optax

from dt_jax.face import arkit


def upper_face_channels(*, motion_dim: int, rig) -> np.ndarray:
  """Motion channels of the upper face: ARKit brow/eye/cheekSquint/noseSneer coefficients for D = 52, else the
  x, y, z offsets of the dataset's `upper_face` vertices."""
  if motion_dim == arkit.NUM:
    return np.asarray(arkit.REGION_COLUMNS["upper_face"], np.int32)
  if rig is None or not rig.has_regions:
    raise ValueError(f"motion_dim {motion_dim}: vertex data needs the dataset's upper_face region for the enhancer")
  v = np.asarray(rig.regions["upper_face"], np.int32)
  return (3 * v[:, None] + np.arange(3)[None]).reshape(-1)


class FaceEncoder(nn.Module):
  """Upper-face motion [B, T, K] -> [B, d]: a per-frame MLP, a temporal convolution, a masked mean."""
  width: int

  @nn.compact
  def __call__(self, face, mask):
    h = nn.gelu(nn.Dense(self.width, name="frame_in")(face))
    h = nn.gelu(nn.Conv(self.width, (5,), padding="SAME", name="temporal")(h))                # [B, T, d]
    pooled = jnp.sum(h * mask[..., None], 1) / jnp.maximum(jnp.sum(mask, 1, keepdims=True), 1.0)
    return nn.Dense(self.width, name="out")(pooled)


class EnhancerHeads(nn.Module):
  """The two projections of L_pc: personalised embedding p [B, T, d_p] and upper face [B, T, K] to [B, d]."""
  width: int

  @nn.compact
  def __call__(self, personal, face, mask):
    pooled = jnp.sum(personal * mask[..., None], 1) / jnp.maximum(jnp.sum(mask, 1, keepdims=True), 1.0)
    return nn.Dense(self.width, name="personal_out")(pooled), FaceEncoder(self.width, name="face")(face, mask)


def symmetric_info_nce(a, b, *, temperature: float):
  """Mean of CE(cos(a_i, b_j) / tau, j = i) over rows and over columns. a, b: [B, d] -> scalar."""
  a = a / (jnp.linalg.norm(a, axis=-1, keepdims=True) + 1e-6)
  b = b / (jnp.linalg.norm(b, axis=-1, keepdims=True) + 1e-6)
  logits = a @ b.T / temperature                                                      # [B, B]
  labels = jnp.arange(a.shape[0])
  return 0.5 * (jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))
                + jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits.T, labels)))
