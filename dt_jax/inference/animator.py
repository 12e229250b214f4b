"""Audio -> motion for a trained run (teacher or student), for clips of any length.

A clip is cut into equal overlapping windows (`windows.spans`); its identity and emotion embeddings are averaged
over all windows first, so every window is animated as the same person in the same mood, and the windows' outputs
are crossfaded. One fixed-seed noise array covers the whole clip, so overlapping windows start from the same noise.
Either embedding can be overridden: identity from a reference clip, emotion by name (a row of the learnt library).
"""
from __future__ import annotations

import jax
import numpy as np
import tqdm

from dt_jax.data import audio as audio_lib
from dt_jax.eval import evaluator
from dt_jax.inference import windows
from dt_jax.models import talker


class AnimateError(ValueError):
  """A request the model cannot serve (unknown emotion, a branch the model lacks, non-finite output)."""


def num_frames(samples: int) -> int:
  """30 fps frames covered by `samples` of 16 kHz audio (whole frames only)."""
  return int(np.floor(samples * audio_lib.FPS / audio_lib.SAMPLE_RATE + 1e-6))


def segment(audio: np.ndarray, start: int, end: int) -> np.ndarray:
  """The 16 kHz samples of frames [start, end): exactly samples_for(end - start) of them (zero-padded at the end)."""
  a0, n = audio_lib.samples_for(start), audio_lib.samples_for(end - start)
  out = np.zeros(n, np.float32)
  piece = audio[a0:a0 + n]
  out[:len(piece)] = piece
  return out


class Animator:
  """Generates motion [T, D] (data units) from 16 kHz audio with a loaded `evaluator.Run`."""

  def __init__(self, run: evaluator.Run, *, num_steps: int | None = None, window_seconds: float = 10.0,
               overlap_seconds: float = 1.0):
    self.run = run
    self.num_steps = int(num_steps or run.cfg.diffusion.num_steps)
    self.window = max(1, int(round(window_seconds * audio_lib.FPS)))
    self.overlap = int(round(overlap_seconds * audio_lib.FPS))
    windows.spans(1, window=self.window, overlap=self.overlap)                     # validates the two lengths
    pcfg = run.model.cfg.personalizer
    self.branches = tuple(n for n, on in (("identity", pcfg.use_identity), ("emotion", pcfg.use_emotion)) if on)
    model = run.model
    self._aux = jax.jit(lambda p, a, m: model.apply({"params": p}, a, m, method=talker.Talker.encode)[2])
    self._sample = evaluator.sample_fn(model, num_steps=self.num_steps, stats=run.stats)

  def spans(self, audio: np.ndarray) -> list[tuple[int, int]]:
    frames = num_frames(len(audio))
    if frames < 1:
      raise audio_lib.AudioError(f"{len(audio)} samples at 16 kHz are shorter than one motion frame")
    return windows.spans(frames, window=self.window, overlap=self.overlap)

  def clip_embeddings(self, audio: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """({branch: embedding [d]} averaged over the clip's windows, identity probabilities [K] or None)."""
    span_list = self.spans(audio)
    acc: dict[str, np.ndarray] = {}
    for start, end in span_list:
      seg = segment(audio, start, end)[None]
      aux = self._aux(self.run.params, seg, np.ones((1, end - start), np.float32))
      for name in self.branches:
        acc[name] = acc.get(name, 0.0) + (end - start) * np.asarray(aux[f"{name}_embedding"][0])
      if "identity" in self.branches:
        probs = np.asarray(jax.nn.softmax(aux["identity_logits"][0]))
        acc["identity_probs"] = acc.get("identity_probs", 0.0) + (end - start) * probs
    total = sum(end - start for start, end in span_list)
    mean = {k: v / total for k, v in acc.items()}
    return {n: mean[n] for n in self.branches}, mean.get("identity_probs")

  def emotion_embedding(self, name: str) -> np.ndarray:
    """The learnt library row of emotion `name` [d]."""
    if "emotion" not in self.branches:
      raise AnimateError("this model has no emotion embedding (trained without it): --emotion cannot be used")
    names = list(self.run.dataset.emotions)
    if name not in names:
      raise AnimateError(f"unknown emotion {name!r}; this model knows {', '.join(names)}")
    return np.asarray(self.run.params["personalizer"]["emotion_library"][names.index(name)])

  def likely_speaker(self, identity_probs: np.ndarray | None) -> int:
    """Training speaker (ClassLabel index) the identity branch finds most likely; 0 without one."""
    return 0 if identity_probs is None else int(np.argmax(identity_probs))

  def animate(self, audio: np.ndarray, *, seed: int = 0, embeddings: dict[str, np.ndarray] | None = None,
              progress: bool = True) -> np.ndarray:
    """16 kHz audio [S] -> motion [T, D], T = whole frames of the audio. `embeddings` ({branch: [d]}) replace the
    clip's own (which are averaged over its windows)."""
    span_list = self.spans(audio)
    frames = span_list[-1][1]
    own, _ = self.clip_embeddings(audio)
    emb = {**own, **(embeddings or {})}
    missing = set(emb) - set(self.branches)
    if missing:
      raise AnimateError(f"this model has no {' or '.join(sorted(missing))} embedding to override")
    emb = {k: np.asarray(v, np.float32)[None] for k, v in emb.items()}                 # [1, d]
    noise = np.asarray(jax.random.normal(jax.random.PRNGKey(seed), (1, frames, self.run.dataset.motion_dim)))
    pieces = []
    for start, end in tqdm.tqdm(span_list, desc="animate", unit="window", disable=not progress or len(span_list) < 2):
      out = self._sample(self.run.params, segment(audio, start, end)[None], np.ones((1, end - start), np.float32),
                         noise[:, start:end], emb)
      pieces.append(np.asarray(out[0]))
    motion = windows.crossfade(pieces, span_list, frames)
    if not np.all(np.isfinite(motion)):
      raise AnimateError("the model produced NaN or Inf (a corrupt or diverged checkpoint?)")
    return motion
