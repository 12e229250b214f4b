"""TFDS builder for 3D-ETF (EmoTalk, Peng et al., ICCV 2023), read from the user's `manual_dir`.

Layout: `{RAVDESS,HDTF}/{audio,blendshape}/<stem>.{wav,npy}`; per clip 52 ARKit coefficients at 30 fps [T, 52]
in EmoTalk's alphabetical column order (as `dt_jax.face.arkit.NAMES`), kept as they are (not clamped: values
below 0 and above 1 occur), and audio at the rate its header says (resampled to 16 kHz).

Labels from the stems:
* RAVDESS: seven dash-separated codes modality-channel-emotion-intensity-statement-repetition-actor; emotion
  01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust, 08 surprised; intensity 01 normal,
  02 strong; identity `RAVDESS_<actor>`.
* HDTF: `RD_Radio11_000` -> identity `HDTF_RD_Radio11` (the stem without its clip index), emotion neutral.

Split (no official one is public; deterministic and documented): identities are held out for `test_unseen`
(zero-shot: none of their clips is anywhere else): RAVDESS actors `held_out_actors` (default 21-24) and the HDTF
identities listed in `hdtf_held_out` plus those whose CRC32 falls in the lowest `hdtf_held_out_percent` percent.
The other identities' clips go to train / validation / test: within an identity, clips ordered by the CRC32 of
their stem, the first 10% (at least 1 when the identity has 3 or more) to test, the next 10% to validation.

Errors name the file: NaN/Inf or a wrong number of columns in a .npy, unreadable audio, audio and motion lengths
that disagree by more than a frame. Within a frame, the audio is fitted to the motion and counted in the log.
Metrics on vertices need a blendshape rig (`rig=`: template + 52 displacement fields, see
`dt_jax.face.rig.load_blendshape_rig`); without one they run in coefficient space and say so.
"""
from __future__ import annotations

import dataclasses
import os
import re
import zlib

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

from dt_jax import timebase
from dt_jax.data import audio as audio_lib
from dt_jax.data import schema
from dt_jax.face import arkit
from dt_jax.face import rig as rig_lib

EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
SOURCES = ("RAVDESS", "HDTF")
SPLITS = ("train", "validation", "test", "test_unseen")


@dataclasses.dataclass
class Etf3dConfig(tfds.core.BuilderConfig):
  held_out_actors: tuple[int, ...] = (21, 22, 23, 24)
  hdtf_held_out: tuple[str, ...] = ()
  hdtf_held_out_percent: int = 10


@dataclasses.dataclass(frozen=True)
class Clip:
  source: str
  stem: str
  identity: str
  emotion: str
  intensity: int


def parse_stem(source: str, stem: str, where: str) -> Clip:
  if source == "RAVDESS":
    codes = stem.split("-")
    if len(codes) != 7 or not all(c.isdigit() for c in codes):
      raise ValueError(f"{where}: a RAVDESS stem is seven dash-separated codes (e.g. 01-01-05-02-01-01-03)")
    emotion, intensity, actor = int(codes[2]), int(codes[3]), int(codes[6])
    if not 1 <= emotion <= 8 or intensity not in (1, 2):
      raise ValueError(f"{where}: emotion code {codes[2]} or intensity code {codes[3]} is out of range")
    return Clip(source, stem, f"RAVDESS_{actor:02d}", EMOTIONS[emotion - 1], intensity)
  identity = re.sub(r"_\d+$", "", stem)
  return Clip(source, stem, f"HDTF_{identity}", "neutral", 1)


def scan(root: str) -> list[Clip]:
  """Every clip with both files; a .npy without its .wav (or the reverse) is an error naming it."""
  clips = []
  for source in SOURCES:
    bs, au = os.path.join(root, source, "blendshape"), os.path.join(root, source, "audio")
    if not os.path.isdir(bs):
      continue
    stems = {os.path.splitext(f)[0] for f in os.listdir(bs) if f.endswith(".npy")}
    wavs = {os.path.splitext(f)[0] for f in os.listdir(au) if f.endswith(".wav")} if os.path.isdir(au) else set()
    for stem in sorted(stems ^ wavs):
      missing = "audio" if stem in stems else "blendshape"
      raise FileNotFoundError(f"{os.path.join(root, source)}: {stem} has no {missing} file")
    clips += [parse_stem(source, s, os.path.join(bs, s + ".npy")) for s in sorted(stems)]
  if not clips:
    raise FileNotFoundError(f"{root}: no clips; expected {{RAVDESS,HDTF}}/{{audio,blendshape}}/<stem>.{{wav,npy}}")
  return clips


def _crc(text: str) -> int:
  return zlib.crc32(text.encode())


def assign_splits(clips: list[Clip], cfg: Etf3dConfig) -> dict[str, list[Clip]]:
  def held_out(c: Clip) -> bool:
    if c.source == "RAVDESS":
      return int(c.identity.split("_")[1]) in cfg.held_out_actors
    name = c.identity[len("HDTF_"):]
    return name in cfg.hdtf_held_out or _crc(name) % 100 < cfg.hdtf_held_out_percent
  out = {s: [] for s in SPLITS}
  by_identity: dict[str, list[Clip]] = {}
  for c in clips:
    if held_out(c):
      out["test_unseen"].append(c)
    else:
      by_identity.setdefault(c.identity, []).append(c)
  for identity in sorted(by_identity):
    ordered = sorted(by_identity[identity], key=lambda c: (_crc(c.stem), c.stem))
    n = len(ordered)
    k = max(1, n // 10) if n >= 3 else 0
    out["test"] += ordered[:k]
    out["validation"] += ordered[k:2 * k]
    out["train"] += ordered[2 * k:]
  return out


class Builder(tfds.core.GeneratorBasedBuilder):
  """3D-ETF: RAVDESS (emotional) and HDTF (neutral) clips with 52 ARKit coefficients at 30 fps."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release."}
  BUILDER_CONFIGS = [Etf3dConfig(name="default", description="RAVDESS actors 21-24 and ~10% of HDTF held out.")]
  DEFAULT_CONFIG_NAME = "default"
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
  Request 3D-ETF from the EmoTalk authors (agreement form; see github.com/psyai-net/EmoTalk_release) and unpack it
  so that manual_dir holds RAVDESS/{audio,blendshape}/ and HDTF/{audio,blendshape}/.
  """

  def __init__(self, *, rig: str | None = None, regions: str | None = None, **kwargs):
    self._rig_path, self._regions_path = rig, regions
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        # speakers None: their names are set from the files when building
        features=schema.features(motion_dim=arkit.NUM, speakers=None, emotions=list(EMOTIONS)),
        homepage="https://github.com/psyai-net/EmoTalk_release",
        metadata=schema.metadata(representation="arkit52"),
    )

  def _split_generators(self, dl_manager):
    root = os.fspath(dl_manager.manual_dir)
    clips = scan(root)
    identities = sorted({c.identity for c in clips})
    self.info.features["speaker"].names = identities
    template = basis = None
    faces, regions = np.zeros((0, 3), np.int32), {}
    if self._rig_path:
      template, basis, faces, regions = rig_lib.load_blendshape_rig(self._rig_path)
      template, basis = template[None], basis[None]                 # one face shared by every identity
    else:
      logging.warning("etf3d: no blendshape rig given: metrics will run in ARKit coefficient space")
    if self._regions_path:
      regions = rig_lib.load_regions(self._regions_path)
    os.makedirs(self.data_dir, exist_ok=True)
    rig_lib.Rig(speakers=tuple(identities), templates=template, faces=faces, regions=regions, basis=basis).save(
        os.path.join(self.data_dir, schema.RIG_FILE))
    splits = assign_splits(clips, self.builder_config)
    return {name: self._generate_examples(name, root, split_clips) for name, split_clips in splits.items()}

  def _generate_examples(self, split, root, clips):
    fitted = 0
    for clip in clips:
      npy = os.path.join(root, clip.source, "blendshape", clip.stem + ".npy")
      wav = os.path.join(root, clip.source, "audio", clip.stem + ".wav")
      try:
        weights = np.load(npy, allow_pickle=False)
      except (OSError, ValueError) as e:
        raise ValueError(f"{npy}: not a plain .npy array ({e})") from e
      if weights.ndim != 2 or weights.shape[1] != arkit.NUM or len(weights) == 0:
        raise ValueError(f"{npy}: expected [T, {arkit.NUM}] blendshape coefficients, got {weights.shape}")
      if not np.all(np.isfinite(weights)):
        raise ValueError(f"{npy}: blendshape coefficients hold NaN or Inf")
      audio, rate = audio_lib.read_wav(wav)
      audio = audio_lib.resample(audio, rate)
      frames_audio = len(audio) * timebase.FPS / timebase.SAMPLE_RATE
      if abs(frames_audio - len(weights)) > 1.0:
        raise ValueError(f"{wav}: {len(audio) / timebase.SAMPLE_RATE:.3f} s of audio but {npy} has "
                         f"{len(weights)} frames ({len(weights) / timebase.FPS:.3f} s at {timebase.FPS} fps)")
      fitted += len(audio) != timebase.samples_for(len(weights))
      audio, weights, _ = audio_lib.fit_to_frames(audio, weights.astype(np.float32))
      yield f"{clip.source}_{clip.stem}", {
          "audio": audio, "motion": weights, "template": np.zeros(arkit.NUM, np.float32),
          "speaker": clip.identity, "emotion": clip.emotion, "intensity": clip.intensity,
          "utterance": f"{clip.source}/{clip.stem}"}
    logging.info("etf3d %s: %d clips, %d with audio fitted to the motion within a frame", split, len(clips), fitted)
