"""Audio -> motion for a trained run (teacher or student), for clips of any length.

A clip is cut into equal overlapping windows (`windows.spans`); its identity and emotion embeddings are averaged
over all windows first, so every window is animated as the same person in the same mood, and the windows' outputs
are crossfaded. Frame t's noise depends on (seed, t) alone, so overlapping windows start from the same noise.
Who is animated is a `Persona`: the clip's own embeddings, or overrides (identity from a reference clip, emotion by
name: a row of the learnt library), and the training speaker whose face shows the motion.
"""
from __future__ import annotations

import dataclasses

import jax
import numpy as np
import tqdm

from dt_jax import timebase
from dt_jax.data import audio as audio_lib
from dt_jax.inference import windows
from dt_jax.runs import loading
from dt_jax.runs import sampling


class AnimateError(ValueError):
  """A request the model cannot serve (unknown emotion or speaker, a branch the model lacks, non-finite output)."""


def segment(audio: np.ndarray, start: int, end: int) -> np.ndarray:
  """The 16 kHz samples of frames [start, end): exactly samples_for(end - start) of them (zero-padded at the end)."""
  a0, n = timebase.samples_for(start), timebase.samples_for(end - start)
  out = np.zeros(n, np.float32)
  piece = audio[a0:a0 + n]
  out[:len(piece)] = piece
  return out


@dataclasses.dataclass(frozen=True)
class Persona:
  """Who is animated: embeddings that replace the clip's own ({branch: [d]}) and the face shown (speaker index)."""
  embeddings: dict
  speaker: int


class Animator:
  """Generates motion [T, D] (data units) from 16 kHz audio with a loaded `loading.Run`."""

  def __init__(self, run: loading.Run, *, num_steps: int | None = None, window_seconds: float = 10.0,
               overlap_seconds: float = 1.0):
    if num_steps is not None and num_steps < 1:
      raise AnimateError(f"num_steps must be at least 1, got {num_steps}")
    if window_seconds * timebase.FPS < 1 or not 0 <= overlap_seconds < window_seconds:
      raise AnimateError(f"need window_seconds >= {1 / timebase.FPS:.3f} (one frame) and 0 <= overlap_seconds < "
                         f"window_seconds, got window_seconds={window_seconds}, overlap_seconds={overlap_seconds}")
    self.run = run
    self.num_steps = int(num_steps or run.num_steps)
    self.window = max(1, int(round(window_seconds * timebase.FPS)))
    self.overlap = int(round(overlap_seconds * timebase.FPS))
    windows.spans(1, window=self.window, overlap=self.overlap)                     # validates the two lengths
    self.branches = run.branches
    self._aux = sampling.run_encode_fn(run)
    self._sample = sampling.run_sample_fn(run, num_steps=self.num_steps)

  def noise(self, frames: int, *, seed: int = 0) -> np.ndarray:
    """[T, D] the clip's noise: frame t's depends on (seed, t) alone (streaming uses the same)."""
    return np.asarray(sampling.frame_noise(jax.random.PRNGKey(seed), 0, frames=frames,
                                           dim=self.run.dataset.motion_dim))

  def require(self, branch: str, what: str) -> None:
    """AnimateError unless the model has the personalizer branch `branch` ('identity' or 'emotion')."""
    if branch not in self.branches:
      raise AnimateError(f"this model has no {branch} embedding (trained without it): {what} cannot be used")

  def spans(self, audio: np.ndarray) -> list[tuple[int, int]]:
    frames = timebase.frames_for(len(audio))
    if frames < 1:
      raise audio_lib.AudioError(f"{len(audio)} samples at 16 kHz are shorter than one motion frame")
    return windows.spans(frames, window=self.window, overlap=self.overlap)

  def clip_embeddings(self, audio: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """({branch: embedding [d]} averaged over the clip's windows, identity probabilities [K] or None)."""
    span_list = self.spans(audio)
    acc: dict[str, np.ndarray] = {}
    for start, end in span_list:
      aux = self._aux(self.run.params, segment(audio, start, end)[None], np.ones((1, end - start), np.float32))
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
    self.require("emotion", "--emotion")
    names = list(self.run.dataset.emotions)
    if name not in names:
      raise AnimateError(f"unknown emotion {name!r}; this model knows {', '.join(names)}")
    return np.asarray(self.run.params["personalizer"]["emotion_library"][names.index(name)])

  def persona(self, audio: np.ndarray, *, reference: np.ndarray | None = None, emotion: str | None = None,
              template: str | None = None) -> Persona:
    """The persona for animating `audio`: identity from `reference` (a clip) and emotion by name when given; the
    face of training speaker `template`, else of the speaker the identity branch finds closest (0 without one)."""
    embeddings = {}
    if reference is not None:
      self.require("identity", "--speaker_from")
      embeddings["identity"] = self.clip_embeddings(reference)[0]["identity"]
    if emotion:
      embeddings["emotion"] = self.emotion_embedding(emotion)
    speakers = list(self.run.dataset.speakers)
    if template:
      if template not in speakers:
        raise AnimateError(f"unknown template speaker {template!r}; speakers: {', '.join(speakers)}")
      return Persona(embeddings, speakers.index(template))
    probs = self.clip_embeddings(reference if reference is not None else audio)[1]
    return Persona(embeddings, 0 if probs is None else int(np.argmax(probs)))

  def animate(self, audio: np.ndarray, *, seed: int = 0, embeddings: dict[str, np.ndarray] | None = None,
              progress: bool = True) -> np.ndarray:
    """16 kHz audio [S] -> motion [T, D], T = whole frames of the audio. `embeddings` ({branch: [d]}) replace the
    clip's own (which are averaged over its windows)."""
    span_list = self.spans(audio)
    frames = span_list[-1][1]
    for name in embeddings or {}:
      self.require(name, f"a {name} override")
    own, _ = self.clip_embeddings(audio)
    emb = {k: np.asarray(v, np.float32)[None] for k, v in {**own, **(embeddings or {})}.items()}     # [1, d]
    noise = self.noise(frames, seed=seed)[None]                                            # [1, T, D]
    pieces = []
    for start, end in tqdm.tqdm(span_list, desc="animate", unit="window", disable=not progress or len(span_list) < 2):
      out = self._sample(self.run.params, segment(audio, start, end)[None], np.ones((1, end - start), np.float32),
                         noise[:, start:end], emb)
      pieces.append(np.asarray(out[0]))
    motion = windows.crossfade(pieces, span_list, frames)
    if not np.all(np.isfinite(motion)):
      raise AnimateError("the model produced NaN or Inf (a corrupt or diverged checkpoint?)")
    return motion
