"""Streaming: audio in chunks of any size, frames out as soon as their lookahead has arrived.

Each `push` adds audio; every frame whose audio and `lookahead` frames after it have arrived is generated and
returned. A frame is sampled inside a fixed window of `window` frames (one compiled sampler) ending at the newest
audio, whose earlier part is the sliding encoder context; windows shorter than that at the start of a stream are
padded and masked at their end, as offline batches are. The diffusion noise of frame t depends on t alone (folded
from one seed), so the frames of successive windows start from the same noise and join without seams. Identity
and emotion come from a running estimate (frame-weighted mean of the windows' embeddings so far) unless given.
`finish` generates the frames left at the end of the stream. Latency = lookahead + one window's compute; with a
lookahead covering the whole clip the stream is exactly the offline animation (inference/animator.py).

A chunk that holds NaN or Inf, or comes at another sample rate, is refused (StreamError) and changes nothing.
"""
from __future__ import annotations

import jax
import numpy as np

from dt_jax import timebase
from dt_jax.runs import loading
from dt_jax.runs import sampling


class StreamError(ValueError):
  """A chunk the stream cannot take (non-finite samples, another sample rate, not mono)."""


class StreamingAnimator:
  """Generates motion [n, D] (data units) frame by frame from 16 kHz audio that arrives in chunks."""

  def __init__(self, run: loading.Run, *, lookahead_seconds: float = 0.2, window_seconds: float = 6.0,
               num_steps: int | None = None, seed: int = 0, embeddings: dict | None = None):
    if lookahead_seconds < 0 or window_seconds * timebase.FPS < 2:
      raise ValueError(f"need lookahead_seconds >= 0 and a window of 2 frames or more, got {lookahead_seconds}, "
                       f"{window_seconds}")
    self.run = run
    self.lookahead = int(round(lookahead_seconds * timebase.FPS))
    self.window = max(int(round(window_seconds * timebase.FPS)), self.lookahead + 1)
    self.key = jax.random.PRNGKey(seed)
    self.fixed = {k: np.asarray(v, np.float32)[None] for k, v in (embeddings or {}).items()}
    self._aux = sampling.run_encode_fn(run)
    self._sample = sampling.run_sample_fn(run, num_steps=num_steps)
    self.reset()

  def reset(self) -> None:
    """Forgets the stream so far (a new one starts at frame 0); the compiled functions stay."""
    self.audio = np.zeros(0, np.float32)
    self.emitted = 0                          # frames returned so far
    self._seen = 0                            # frames whose audio some window's embeddings have covered
    self._sums, self._weight = {}, 0.0

  @property
  def received_frames(self) -> int:
    return timebase.frames_for(len(self.audio))

  def push(self, chunk, *, sample_rate: int = timebase.SAMPLE_RATE) -> np.ndarray:
    """Adds `chunk` ([S] float samples at 16 kHz); returns the frames [n, D] that are now ready (n may be 0)."""
    chunk = np.asarray(chunk, np.float32)
    if sample_rate != timebase.SAMPLE_RATE:
      raise StreamError(f"a chunk at {sample_rate} Hz; this stream takes {timebase.SAMPLE_RATE} Hz")
    if chunk.ndim != 1:
      raise StreamError(f"a chunk of shape {chunk.shape}; this stream takes mono samples [S]")
    if not np.all(np.isfinite(chunk)):
      raise StreamError("a chunk holding NaN or Inf")
    self.audio = np.concatenate([self.audio, chunk])
    return self._generate(self.received_frames - self.lookahead)

  def finish(self) -> np.ndarray:
    """The frames left once the stream has ended (their lookahead will never come)."""
    return self._generate(self.received_frames)

  def _generate(self, ready: int) -> np.ndarray:
    out = []
    while self.emitted < ready:
      end = min(self.received_frames, max(ready, self.emitted + 1) + self.lookahead)
      start = max(0, end - self.window)
      upto = min(ready, start + self.window)
      out.append(self._window(start, end)[self.emitted - start:upto - start])
      self.emitted = upto
    return np.concatenate(out) if out else np.zeros((0, self.run.dataset.motion_dim), np.float32)

  def _window(self, start: int, end: int) -> np.ndarray:
    """Frames [start, end) sampled in a window of `self.window` frames (real frames first, the rest masked)."""
    w, n = self.window, end - start
    audio = np.zeros((1, timebase.samples_for(w)), np.float32)
    piece = self.audio[timebase.samples_for(start):timebase.samples_for(end)]
    audio[0, :len(piece)] = piece
    mask = (np.arange(w) < n).astype(np.float32)[None]
    noise = np.asarray(sampling.frame_noise(self.key, start, frames=w, dim=self.run.dataset.motion_dim))[None]
    aux = self._aux(self.run.params, audio, mask)
    fresh = max(end - max(start, self._seen), 0)                                          # frames not seen before
    for name in self.run.branches:
      self._sums[name] = self._sums.get(name, 0.0) + fresh * np.asarray(aux[f"{name}_embedding"][0])
    self._weight += fresh
    emb = {name: (self._sums[name] / max(self._weight, 1.0))[None] for name in self.run.branches}
    emb.update(self.fixed)
    self._seen = max(self._seen, end)
    return np.asarray(self._sample(self.run.params, audio, mask, noise, emb)[0, :n])
