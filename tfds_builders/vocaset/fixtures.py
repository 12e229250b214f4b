"""Tiny VOCASET fixtures in the real on-disk formats (both layouts), for tests and for trying the builder.

Three subjects named like the real ones (one per split), a few sentences each, 5023-vertex meshes at 60 fps that
move linearly in time, and a 440 Hz sinusoid at 22 kHz (int16 in one sequence, float in the others), pickled with
protocol 2 as the release's Python 2 pickles are. One train sequence has 0.3 s of extra audio (to be trimmed), and
one listed pair has no data (to be skipped).
"""
from __future__ import annotations

import os
import pickle

import numpy as np
import scipy.io.wavfile

from tfds_builders.vocaset import vocaset_dataset_builder as vb

RATE = 22000
FRAMES_60 = 12
TONE_HZ = 440.0
VELOCITY = np.array([0.001, -0.002, 0.0005], np.float32)   # metres per 60 fps frame

SEQUENCES = ((vb.TRAIN[0], "sentence01"), (vb.TRAIN[0], "sentence21"), (vb.VALIDATION[0], "sentence21"),
             (vb.TEST[0], "sentence22"), (vb.TEST[0], "sentence23"))
LONG_AUDIO = (vb.TRAIN[0], "sentence21")          # 0.3 s more audio than motion: trimmed
MISSING = (vb.VALIDATION[0], "sentence30")       # listed in the index with no frames: skipped


def template(subject: str) -> np.ndarray:
  rng = np.random.default_rng(sum(map(ord, subject)))
  return rng.normal(scale=0.05, size=(vb.NUM_VERTICES, 3)).astype(np.float32)


def vertices(subject: str) -> np.ndarray:
  """[FRAMES_60, 5023, 3]: the template moving linearly, frame f = template + f * VELOCITY."""
  f = np.arange(FRAMES_60, dtype=np.float32)[:, None, None]
  return template(subject)[None] + f * VELOCITY


def tone(seconds: float, *, as_int16: bool) -> np.ndarray:
  t = np.arange(int(round(seconds * RATE))) / RATE
  x = 0.5 * np.sin(2 * np.pi * TONE_HZ * t)
  return (x * 32767).astype(np.int16) if as_int16 else x.astype(np.float32)


def _audio(key, k):
  seconds = FRAMES_60 / 60 + (0.3 if key == LONG_AUDIO else 0.0)
  return tone(seconds, as_int16=(k == 0))


def write_original(root: str) -> None:
  os.makedirs(root, exist_ok=True)
  rows, index, audio = [], {}, {}
  for k, (subject, sentence) in enumerate(SEQUENCES):
    v = vertices(subject)
    index.setdefault(subject, {})[sentence] = {f: len(rows) + f for f in range(FRAMES_60)}
    rows.extend(v)
    audio.setdefault(subject, {})[sentence] = {"audio": _audio((subject, sentence), k), "sample_rate": RATE}
  index.setdefault(MISSING[0], {})[MISSING[1]] = {}
  np.save(os.path.join(root, "data_verts.npy"), np.stack(rows))
  for name, obj in (("subj_seq_to_idx.pkl", index), ("raw_audio_fixed.pkl", audio),
                    ("templates.pkl", {s: template(s) for s in {s for s, _ in SEQUENCES}})):
    with open(os.path.join(root, name), "wb") as f:
      pickle.dump(obj, f, protocol=2)


def write_faceformer(root: str) -> None:
  os.makedirs(os.path.join(root, "wav"), exist_ok=True)
  os.makedirs(os.path.join(root, "vertices_npy"), exist_ok=True)
  for k, (subject, sentence) in enumerate(SEQUENCES):
    stem = f"{subject}_{sentence}"
    np.save(os.path.join(root, "vertices_npy", stem + ".npy"), vertices(subject).reshape(FRAMES_60, -1))
    scipy.io.wavfile.write(os.path.join(root, "wav", stem + ".wav"), RATE, _audio((subject, sentence), k))
  with open(os.path.join(root, "templates.pkl"), "wb") as f:
    pickle.dump({s: template(s) for s in {s for s, _ in SEQUENCES}}, f, protocol=2)


def write_masks(path: str) -> None:
  """Synthetic FLAME-style masks (region name -> indices), in the real file's form."""
  rng = np.random.default_rng(0)
  masks = {name: np.sort(rng.choice(vb.NUM_VERTICES, n, replace=False)) for name, n in
           (("lips", 254), ("eye_region", 751), ("forehead", 133), ("nose", 379))}
  with open(path, "wb") as f:
    pickle.dump(masks, f, protocol=2)
