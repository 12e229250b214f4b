"""The dataset contract: what every dataset's examples hold, what some add, what every dataset records about
itself, and the check an example passes before training or evaluation reads it.

The builders in tfds_builders/ declare their features and metadata through `features` and `metadata`;
dt_jax.data reads examples through `check_example`. One place, so a new dataset (or a new optional feature) is
added here once.

Every example:
  audio      [S] float32, mono at timebase.SAMPLE_RATE
  motion     [T, D] float32 at timebase.FPS (D = 52 ARKit weights, or V*3 vertex offsets)
  template   [D] float32, the speaker's neutral face in the same representation
  speaker, emotion: class labels; intensity: int32; utterance: text (the clip's name)
Optional:
  motion_alternates [K, T, D]: K other true motions of the same clip (synthetic test splits)
  voice: text (the speech engine); phone_start, phone_end [P] float32 seconds, phone_class [P] int32
  extra features a builder declares (e.g. head rotation), which the models do not read.
"""
from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from dt_jax.timebase import FPS
from dt_jax.timebase import SAMPLE_RATE

RIG_FILE = "rig.npz"          # the rig every builder writes beside its data (dt_jax.face.rig.Rig)
REPRESENTATIONS = ("arkit52", "vertex_offsets")


def features(*, motion_dim: int, speakers: list[str] | None, emotions: list[str], alternates: bool = False,
             voice: bool = False, phones: bool = False, extra: dict | None = None) -> tfds.features.FeaturesDict:
  """The FeaturesDict of a dataset; speakers None when their names are only known once the files are read."""
  spec = {
      "audio": tfds.features.Tensor(shape=(None,), dtype=np.float32),
      "motion": tfds.features.Tensor(shape=(None, motion_dim), dtype=np.float32),
      "template": tfds.features.Tensor(shape=(motion_dim,), dtype=np.float32),
      "speaker": tfds.features.ClassLabel(names=list(speakers)) if speakers is not None else tfds.features.ClassLabel(),
      "emotion": tfds.features.ClassLabel(names=list(emotions)),
      "intensity": tfds.features.Scalar(dtype=np.int32),
      "utterance": tfds.features.Text(),
  }
  if alternates:
    spec["motion_alternates"] = tfds.features.Tensor(shape=(None, None, motion_dim), dtype=np.float32,
                                                     encoding="bytes")
  if voice:
    spec["voice"] = tfds.features.Text()
  if phones:
    spec.update(phone_start=tfds.features.Tensor(shape=(None,), dtype=np.float32),
                phone_end=tfds.features.Tensor(shape=(None,), dtype=np.float32),
                phone_class=tfds.features.Tensor(shape=(None,), dtype=np.int32))
  clash = sorted(set(extra or {}) & set(spec))
  if clash:
    raise ValueError(f"extra features {clash} would replace the contract's own")
  return tfds.features.FeaturesDict({**spec, **(extra or {})})


def metadata(*, representation: str, **more) -> tfds.core.MetadataDict:
  """What every dataset records (time base, representation, rig file) and what a builder adds."""
  if representation not in REPRESENTATIONS:
    raise ValueError(f"representation {representation!r}: one of {', '.join(REPRESENTATIONS)}")
  return tfds.core.MetadataDict(fps=FPS, sample_rate=SAMPLE_RATE, rig_file=RIG_FILE, representation=representation,
                                **more)


class BadExampleError(ValueError):
  """An example whose audio and motion disagree, or that holds NaN/Inf."""


def check_example(ex: dict, where: str) -> None:
  """Raises BadExampleError naming `where` (e.g. 'train[17] S03_happy_tr03_2') when `ex` is unusable."""
  audio, motion = np.asarray(ex["audio"]), np.asarray(ex["motion"])
  if audio.ndim != 1 or motion.ndim != 2 or len(motion) == 0:
    raise BadExampleError(f"{where}: expected audio [S] and motion [T, D]; got {audio.shape} and {motion.shape}")
  expected = len(motion) * SAMPLE_RATE / FPS
  if abs(len(audio) - expected) > SAMPLE_RATE / FPS:
    raise BadExampleError(f"{where}: audio has {len(audio)} samples but motion has {len(motion)} frames "
                          f"(expected {expected:.0f} +- {SAMPLE_RATE // FPS} samples at {SAMPLE_RATE} Hz, {FPS} fps)")
  if "template" in ex and np.shape(ex["template"]) != motion.shape[1:]:
    raise BadExampleError(f"{where}: template {np.shape(ex['template'])} does not match motion {motion.shape} "
                          f"(expected [D])")
  if "motion_alternates" in ex and np.shape(ex["motion_alternates"])[1:] != motion.shape:
    raise BadExampleError(f"{where}: motion_alternates {np.shape(ex['motion_alternates'])} do not match motion "
                          f"{motion.shape} (expected [K, T, D])")
  for key in ("audio", "motion", "template", "motion_alternates"):
    if key in ex and not np.all(np.isfinite(ex[key])):
      raise BadExampleError(f"{where}: {key} holds NaN or Inf")
  if "phone_start" in ex:
    start, end = np.asarray(ex["phone_start"]), np.asarray(ex["phone_end"])
    if start.shape != end.shape or start.shape != np.shape(ex["phone_class"]) or np.any(end < start):
      raise BadExampleError(f"{where}: phone_start, phone_end and phone_class must be [P] with start <= end")
