"""TFDS builder for livelink_face: your own captures, recorded with Epic's Live Link Face app in its ARKit mode.

manual_dir holds takes as the app writes them, a folder per take, under a folder per performer (or directly, with
the performer named by the builder's `performer` option):

  <manual_dir>/<performer>/<take>/<slate>_<n>_iPhone.csv   per frame: Timecode (HH:MM:SS:FF.mmm), BlendShapeCount,
                                                            52 ARKit weights, head and eye rotations (~60 fps)
  <manual_dir>/<performer>/<take>/<slate>_<n>_iPhone.mov   the take's video and its audio (read with ffmpeg)
                                                            - or a plain .wav beside the CSV
  <manual_dir>/<performer>/<take>/take.json                the take's metadata (optional): `timecode` of the
                                                            video's first frame, `frameRate` of the timecodes,
                                                            `emotion` (default: the builder's, neutral)
  <manual_dir>/splits.json                                 optional: {"train": [take, ...], "validation": [...],
                                                            "test": [...]}; else a seeded split by take

Each take becomes one example in the dataset contract (dt_jax/data/schema.py): the app's columns mapped to the
project's ARKit order (dt_jax.face.livelink), motion resampled from the timecodes to 30 fps by linear
interpolation, audio at 16 kHz, the two aligned by timecode, head yaw/pitch/roll kept as `head_rotation` [T, 3],
and the demo face's rig (MediaPipe's canonical mesh with the synthetic corpus's 52 shapes) written beside it.

Alignment: the CSV's first timecode minus the video's first-frame timecode (take.json) is how far into the audio
the first motion frame lies; without a take.json timecode the audio is taken to start with the first row. Both
are then cut to the span they share. A wrong offset shifts every lip movement by it: docs/datasets.md says what
one costs.
"""
from __future__ import annotations

import dataclasses
import json
import os

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

from dt_jax import timebase
from dt_jax.data import audio as audio_lib
from dt_jax.data import schema
from dt_jax.face import arkit
from dt_jax.face import livelink
from dt_jax.face import mesh as mesh_lib
from dt_jax.face import rig as rig_lib
from dt_jax.render import video
from tfds_builders.synthetic_talkers import face_model

# The synthetic corpus's emotions, in its order: a teacher trained on it fine-tunes with the same emotion table.
EMOTIONS = ("neutral", "happy", "angry", "sad", "surprised")
SPLIT_FILE = "splits.json"
MAX_AUDIO_SHORTFALL = 0.25    # seconds the audio may end before the motion; more is an error, not a trim
MIN_SECONDS = 0.5             # shorter shared spans are an error


@dataclasses.dataclass(frozen=True)
class TakeFiles:
  name: str                   # the take folder's name (unique per performer)
  performer: str
  csv: str
  audio: str                  # .wav or .mov
  meta: dict


@dataclasses.dataclass(frozen=True)
class Capture:
  audio: np.ndarray           # [S] float32 at 16 kHz
  motion: np.ndarray          # [T, 52] float32 at 30 fps, arkit.NAMES order
  head: np.ndarray            # [T, 3] float32 yaw, pitch, roll
  offset: float               # seconds into the audio of the first motion frame


def _take_csv(folder: str) -> str | None:
  csvs = sorted(f for f in os.listdir(folder) if f.lower().endswith(".csv") and not f.lower().endswith("_raw.csv")
                and f.lower() != "frame_log.csv")
  if len(csvs) > 1:
    raise ValueError(f"{folder}: {len(csvs)} CSV files ({', '.join(csvs)}); a take folder holds one")
  return os.path.join(folder, csvs[0]) if csvs else None


def _take_files(folder: str, performer: str) -> TakeFiles | None:
  csv = _take_csv(folder)
  if csv is None:
    return None
  media = sorted(f for f in os.listdir(folder) if f.lower().endswith((".wav", ".mov")))
  wavs = [f for f in media if f.lower().endswith(".wav")]
  if not media:
    raise ValueError(f"{csv}: the take has no audio (no .mov or .wav beside it)")
  meta, meta_path = {}, os.path.join(folder, "take.json")
  if os.path.exists(meta_path):
    try:
      with open(meta_path) as f:
        meta = json.load(f)
    except (OSError, ValueError) as e:
      raise ValueError(f"{meta_path}: not readable JSON ({e})") from None
    if not isinstance(meta, dict):
      raise ValueError(f"{meta_path}: expected a JSON object")
  return TakeFiles(name=os.path.basename(folder), performer=performer, csv=csv,
                   audio=os.path.join(folder, (wavs or media)[0]), meta=meta)


def find_takes(root: str, *, performer: str = "performer") -> list[TakeFiles]:
  """Every take under `root`: <root>/<performer>/<take>/ or <root>/<take>/ (performer `performer`)."""
  takes = []
  for entry in sorted(os.listdir(root)):
    path = os.path.join(root, entry)
    if not os.path.isdir(path):
      continue
    take = _take_files(path, performer)
    if take is not None:
      takes.append(take)
      continue
    for sub in sorted(os.listdir(path)):
      if os.path.isdir(os.path.join(path, sub)) and (take := _take_files(os.path.join(path, sub), entry)):
        takes.append(take)
  if not takes:
    raise ValueError(f"{root}: no takes (folders holding a Live Link Face CSV and its .mov or .wav)")
  names = [(t.performer, t.name) for t in takes]
  if len(set(names)) != len(names):
    raise ValueError(f"{root}: two takes of one performer share a folder name")
  return takes


def _audio_of(take: TakeFiles) -> np.ndarray:
  if take.audio.lower().endswith(".wav"):
    audio, rate = audio_lib.read_wav(take.audio)
    return audio_lib.resample(audio, rate)
  return audio_lib.read_media(take.audio, ffmpeg=video.ffmpeg_exe())


def read_take(take: TakeFiles, *, timecode_fps: float = 60.0) -> Capture:
  """The take's audio and motion, resampled to 30 fps and aligned; ValueError naming the file when the take is
  unusable (livelink.LiveLinkError for the CSV, audio_lib.AudioError for the audio, both ValueErrors)."""
  rate = float(take.meta.get("frameRate", timecode_fps))
  csv = livelink.read_csv(take.csv, timecode_fps=rate)
  audio = _audio_of(take)
  offset = 0.0
  if "timecode" in take.meta:
    try:
      offset = csv.start - livelink.parse_timecode(str(take.meta["timecode"]), rate)
    except ValueError as e:
      raise ValueError(f"{os.path.join(os.path.dirname(take.csv), 'take.json')}: {e}") from None
  # Motion frame k (30 fps) is at time k / 30 after the CSV's first row, i.e. offset + k / 30 into the audio.
  first = max(0, int(np.ceil(-offset * timebase.FPS - 1e-9)))            # skip frames before the audio starts
  motion_end, audio_end = float(csv.times[-1]), len(audio) / timebase.SAMPLE_RATE - offset
  if audio_end < motion_end - MAX_AUDIO_SHORTFALL:
    raise ValueError(f"{take.audio}: {len(audio) / timebase.SAMPLE_RATE:.2f} s of audio ends "
                     f"{motion_end - audio_end:.2f} s "
                     f"before the motion of {take.csv} ({motion_end:.2f} s from {offset:+.3f} s): a cut recording?")
  last = int(np.floor(min(motion_end, audio_end - 1 / timebase.FPS) * timebase.FPS + 1e-9))
  if last - first + 1 < MIN_SECONDS * timebase.FPS:
    raise ValueError(f"{take.csv}: audio and motion share under {MIN_SECONDS} s (offset {offset:+.3f} s)")
  times = np.arange(first, last + 1) / timebase.FPS                              # [T] seconds from the first row
  motion = timebase.interpolate(csv.weights, times, times=csv.times)
  head = timebase.interpolate(csv.rotations[:, :3], times, times=csv.times)
  start = int(round((offset + times[0]) * timebase.SAMPLE_RATE))
  clip = audio[start:start + timebase.samples_for(len(times))]
  clip, motion, _ = audio_lib.fit_to_frames(clip, motion.astype(np.float32))
  return Capture(audio=clip, motion=np.clip(motion, *arkit.WEIGHT_RANGE), head=head[:len(motion)].astype(np.float32),
                 offset=offset)


def assign_splits(takes: list[TakeFiles], *, split_file: str | None, seed: int) -> dict[str, list[TakeFiles]]:
  """The user's split file ({"train": [take names], ...}; every take in exactly one), else a seeded split by
  take: a tenth (at least one) for validation and for test."""
  if split_file:
    try:
      with open(split_file) as f:
        wanted = json.load(f)
    except (OSError, ValueError) as e:
      raise ValueError(f"{split_file}: not readable JSON ({e})") from None
    if not isinstance(wanted, dict) or set(wanted) - {"train", "validation", "test"}:
      raise ValueError(f"{split_file}: expected {{\"train\": [...], \"validation\": [...], \"test\": [...]}}")
    where = {name: split for split, names in wanted.items() for name in names}
    unknown = sorted(set(where) - {t.name for t in takes})
    missing = sorted({t.name for t in takes} - set(where))
    if unknown or missing:
      raise ValueError(f"{split_file}: " + "; ".join(
          ([f"names takes that are not there: {', '.join(unknown)}"] if unknown else []) +
          ([f"leaves out: {', '.join(missing)}"] if missing else [])))
    return {s: [t for t in takes if where[t.name] == s] for s in ("train", "validation", "test")}
  if len(takes) < 3:
    raise ValueError(f"{len(takes)} take(s): a seeded split needs at least 3 (or give a {SPLIT_FILE})")
  order = np.random.default_rng(seed).permutation(len(takes))
  held = max(1, round(len(takes) / 10))
  pick = lambda idx: [takes[i] for i in sorted(idx)]  # noqa: E731
  return {"validation": pick(order[:held]), "test": pick(order[held:2 * held]), "train": pick(order[2 * held:])}


def demo_rig(performers: list[str]) -> rig_lib.Rig:
  """The demo face (canonical mesh, the synthetic corpus's 52 shapes), shared by every performer."""
  m = mesh_lib.canonical()
  basis = face_model.blendshape_basis(m.vertices)
  return rig_lib.Rig(speakers=tuple(performers), templates=m.vertices[None], faces=m.faces, regions=m.regions,
                     basis=basis[None], lip_pair=mesh_lib.LIP_PAIR)


class Builder(tfds.core.GeneratorBasedBuilder):
  """Live Link Face takes: 16 kHz speech, 30 fps ARKit weights, head rotation, one performer per speaker."""

  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {"1.0.0": "First release.", "1.1.0": "The demo face's rig that never folds (synthetic_talkers 2.2.0)."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = """Record takes with Epic's Live Link Face app (ARKit mode), copy the take folders
  off the phone into <manual_dir>/<performer>/ and pass --manual_dir (see the builder's docstring)."""

  def __init__(self, *, performer: str | None = None, split_file: str | None = None, emotion: str | None = None,
               timecode_fps: float | None = None, seed: int = 0, **kwargs):
    self._performer, self._split_file, self._seed = performer or "performer", split_file, seed
    self._emotion, self._timecode_fps = emotion or "neutral", timecode_fps or 60.0
    if self._emotion not in EMOTIONS:
      raise ValueError(f"emotion {self._emotion!r}: one of {', '.join(EMOTIONS)}")
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        # speakers None: the performers are named by the folders when building
        features=schema.features(motion_dim=arkit.NUM, speakers=None, emotions=list(EMOTIONS), extra={
            "head_rotation": tfds.features.Tensor(shape=(None, 3), dtype=np.float32)}),
        homepage="https://dev.epicgames.com/documentation/en-us/unreal-engine/recording-face-animation-on-ios-device-in-unreal-engine",
        metadata=schema.metadata(representation="arkit52", source="Live Link Face (ARKit mode)"),
    )

  def _split_generators(self, dl_manager):
    root = os.fspath(dl_manager.manual_dir)
    takes = find_takes(root, performer=self._performer)
    performers = sorted({t.performer for t in takes})
    self.info.features["speaker"].names = performers
    split_file = self._split_file or (os.path.join(root, SPLIT_FILE) if os.path.exists(os.path.join(root, SPLIT_FILE))
                                      else None)
    splits = assign_splits(takes, split_file=split_file, seed=self._seed)
    os.makedirs(self.data_dir, exist_ok=True)
    demo_rig(performers).save(os.path.join(self.data_dir, schema.RIG_FILE))
    return {name: self._generate_examples(name, split_takes) for name, split_takes in splits.items()}

  def _generate_examples(self, split, takes):
    for take in takes:
      capture = read_take(take, timecode_fps=self._timecode_fps)
      emotion = take.meta.get("emotion", self._emotion)
      if emotion not in EMOTIONS:
        raise ValueError(f"{take.csv}: take.json's emotion {emotion!r} is not one of {', '.join(EMOTIONS)}")
      logging.info("livelink_face %s: %s/%s, %d frames, audio offset %+.3f s", split, take.performer, take.name,
                   len(capture.motion), capture.offset)
      yield f"{take.performer}/{take.name}", {
          "audio": capture.audio, "motion": capture.motion, "template": np.zeros(arkit.NUM, np.float32),
          "speaker": take.performer, "emotion": emotion, "intensity": 1, "utterance": f"{take.performer}/{take.name}",
          "head_rotation": capture.head}
