"""TFDS builder for VOCASET (Cudeiro et al., CVPR 2019), read from the user's `manual_dir`.

Layouts (one builder config each):
* `original`: the release as downloaded from voca.is.tue.mpg.de: `data_verts.npy` [N, 5023, 3] at 60 fps over all
  sequences, `raw_audio_fixed.pkl` (subject -> sentence -> {'audio', 'sample_rate'}), `subj_seq_to_idx.pkl`
  (subject -> sentence -> {frame: row of data_verts}), `templates.pkl` (subject -> [5023, 3]).
* `faceformer`: FaceFormer's preprocessed layout: `wav/<subject>_<sentence>.wav`,
  `vertices_npy/<subject>_<sentence>.npy` [T, 15069] (still 60 fps), `templates.pkl`.
The pickles are Python 2 pickles; they are untrusted input and load through `dt_jax.safe_pickle` (numpy
arrays and plain containers only; anything else fails the build naming the file, and no code runs).

Output (the contract every builder emits, dt_jax/data/schema.py): audio resampled to 16 kHz from each sequence's
own sample rate (int16 or float accepted), motion at 30 fps (every second frame) as vertices minus the speaker's
template [T, 15069], `template`, `speaker`, emotion `neutral`. Sequences whose audio and motion disagree by more
than a frame are cut to the shorter and counted in the build log; missing (subject, sentence) pairs are skipped and
counted.

Split (FaceFormer, CodeTalker, FaceDiffuser; voca's config_parser):
* train: FaceTalk_170728_03272_TA, FaceTalk_170904_00128_TA, FaceTalk_170725_00137_TA, FaceTalk_170915_00223_TA,
  FaceTalk_170811_03274_TA, FaceTalk_170913_03279_TA, FaceTalk_170904_03276_TA, FaceTalk_170912_03278_TA,
  sentences 1-40 (the speaker ClassLabel keeps this one-hot order);
* validation: FaceTalk_170811_03275_TA, FaceTalk_170908_03277_TA, sentences 21-40;
* test: FaceTalk_170809_00138_TA, FaceTalk_170731_00024_TA, sentences 21-40.

Region index sets (lips, eye_forehead, upper_face) come from the user's FLAME masks, which we may not ship: put
`FLAME_masks.pkl` in `manual_dir` (or pass `regions=`): lips = `lips`, eye_forehead = upper_face =
`eye_region` U `forehead` (EmoTalk's EVE set; no official FDD set exists). Plain lists work too: a folder with
`lips.txt`, `eye_forehead.txt`, `upper_face.txt` of integers. Without them the metrics refuse with a clear message.
"""
from __future__ import annotations

import dataclasses
import os

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

from dt_jax import safe_pickle
from dt_jax import timebase
from dt_jax.data import audio as audio_lib
from dt_jax.data import schema
from dt_jax.face import rig as rig_lib

TRAIN = ("FaceTalk_170728_03272_TA", "FaceTalk_170904_00128_TA", "FaceTalk_170725_00137_TA",
         "FaceTalk_170915_00223_TA", "FaceTalk_170811_03274_TA", "FaceTalk_170913_03279_TA",
         "FaceTalk_170904_03276_TA", "FaceTalk_170912_03278_TA")
VALIDATION = ("FaceTalk_170811_03275_TA", "FaceTalk_170908_03277_TA")
TEST = ("FaceTalk_170809_00138_TA", "FaceTalk_170731_00024_TA")
SPLITS = {"train": (TRAIN, range(1, 41)), "validation": (VALIDATION, range(21, 41)), "test": (TEST, range(21, 41))}
NUM_VERTICES = 5023
_FILES = {"original": ("data_verts.npy", "raw_audio_fixed.pkl", "subj_seq_to_idx.pkl", "templates.pkl"),
          "faceformer": ("wav", "vertices_npy", "templates.pkl")}


@dataclasses.dataclass
class VocasetConfig(tfds.core.BuilderConfig):
  layout: str = "original"


class Builder(tfds.core.GeneratorBasedBuilder):
  """VOCASET: 12 speakers, 40 sentences each, FLAME meshes at 60 fps (emitted at 30 fps) with audio."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release."}
  BUILDER_CONFIGS = [
      VocasetConfig(name="original", description="The release's data_verts.npy + pickles.", layout="original"),
      VocasetConfig(name="faceformer", description="FaceFormer's wav/ + vertices_npy/ layout.", layout="faceformer"),
  ]
  DEFAULT_CONFIG_NAME = "original"
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
  Register at https://voca.is.tue.mpg.de and download the training data. Put in manual_dir either the release's
  files (data_verts.npy, raw_audio_fixed.pkl, subj_seq_to_idx.pkl, templates.pkl; config `original`) or
  FaceFormer's preprocessed folders (wav/, vertices_npy/, templates.pkl; config `faceformer`). For the metrics add
  FLAME_masks.pkl from https://flame.is.tue.mpg.de (FLAME's licence: not redistributed here).
  """

  def __init__(self, *, regions: str | None = None, **kwargs):
    self._regions_path = regions
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    dim = NUM_VERTICES * 3
    return self.dataset_info_from_configs(
        features=schema.features(motion_dim=dim, speakers=list(TRAIN + VALIDATION + TEST), emotions=["neutral"]),
        homepage="https://voca.is.tue.mpg.de",
        metadata=schema.metadata(representation="vertex_offsets", source_fps=60),
    )

  def _check_layout(self, root: str) -> None:
    layout = self.builder_config.layout
    missing = [f for f in _FILES[layout] if not os.path.exists(os.path.join(root, f))]
    if missing:
      other = "faceformer" if layout == "original" else "original"
      hint = (f"; these look like the `{other}` layout: build vocaset/{other}"
              if all(os.path.exists(os.path.join(root, f)) for f in _FILES[other]) else "")
      raise FileNotFoundError(f"vocaset/{layout}: {root} lacks {', '.join(missing)}{hint}")

  def _split_generators(self, dl_manager):
    root = os.fspath(dl_manager.manual_dir)
    self._check_layout(root)
    templates = safe_pickle.load(os.path.join(root, "templates.pkl"))
    if not isinstance(templates, dict):
      raise ValueError(f"{os.path.join(root, 'templates.pkl')}: expected a dict subject -> [5023, 3] template")
    names = TRAIN + VALIDATION + TEST
    stacked = np.zeros((len(names), NUM_VERTICES, 3), np.float32)
    for i, subject in enumerate(names):
      if subject in templates:
        t = np.asarray(templates[subject], np.float32).reshape(-1, 3)
        if t.shape != (NUM_VERTICES, 3) or not np.all(np.isfinite(t)):
          raise ValueError(f"templates.pkl: template of {subject} is {t.shape} or non-finite; expected (5023, 3)")
        stacked[i] = t
    regions_path = self._regions_path
    for candidate in ("FLAME_masks.pkl", "regions"):
      if regions_path is None and os.path.exists(os.path.join(root, candidate)):
        regions_path = os.path.join(root, candidate)
    regions = rig_lib.load_regions(regions_path) if regions_path else {}
    if not regions:
      logging.warning("vocaset: no FLAME_masks.pkl or regions/ in %s: the rig has no region sets, so LVE/EVE/FDD "
                      "cannot be computed until the dataset is rebuilt with them", root)
    for name, idx in regions.items():
      if idx.size == 0 or idx.min() < 0 or idx.max() >= NUM_VERTICES:
        raise ValueError(f"{regions_path}: region {name} has indices outside 0..{NUM_VERTICES - 1}")
    os.makedirs(self.data_dir, exist_ok=True)
    rig_lib.Rig(speakers=names, templates=stacked, faces=np.zeros((0, 3), np.int32), regions=regions).save(
        os.path.join(self.data_dir, schema.RIG_FILE))
    source = _Source(root, self.builder_config.layout)
    return {split: self._generate_examples(split, source, templates) for split in SPLITS}

  def _generate_examples(self, split, source, templates):
    subjects, sentences = SPLITS[split]
    missing, trimmed, written = 0, 0, 0
    for subject in subjects:
      for n in sentences:
        sentence = f"sentence{n:02d}"
        seq = source.read(subject, sentence)
        if seq is None:
          missing += 1
          continue
        if subject not in templates:
          raise ValueError(f"templates.pkl has no template for {subject}, which has sequences")
        verts60, audio, rate, where = seq
        verts = np.asarray(verts60, np.float32).reshape(len(verts60), NUM_VERTICES, 3)[::2]   # 60 -> 30 fps
        if len(verts) == 0 or not np.all(np.isfinite(verts)):
          raise ValueError(f"{where}: vertices are empty or hold NaN/Inf")
        wav = audio_lib.resample(audio_lib.to_float(audio, where), rate)
        wav, verts, cut = audio_lib.fit_to_frames(wav, verts)
        trimmed += cut
        template = np.asarray(templates[subject], np.float32).reshape(NUM_VERTICES, 3)
        written += 1
        yield f"{subject}_{sentence}", {
            "audio": wav, "motion": (verts - template[None]).reshape(len(verts), -1), "template": template.reshape(-1),
            "speaker": subject, "emotion": "neutral", "intensity": 1, "utterance": f"{subject}_{sentence}"}
    logging.info("vocaset %s: %d sequences, %d (subject, sentence) pairs missing, %d trimmed to the shorter of "
                 "audio and motion", split, written, missing, trimmed)


class _Source:
  """Reads one (subject, sentence) from either layout: (vertices [T60, ...], audio, rate, where) or None."""

  def __init__(self, root: str, layout: str):
    self.root, self.layout = root, layout
    if layout == "original":
      path = os.path.join(root, "data_verts.npy")
      try:
        self.verts = np.load(path, mmap_mode="r", allow_pickle=False)
      except ValueError as e:
        raise ValueError(f"{path}: not a plain .npy array ({e})") from e
      if self.verts.ndim != 3 or self.verts.shape[1:] != (NUM_VERTICES, 3):
        raise ValueError(f"{path}: expected [N, {NUM_VERTICES}, 3], got {self.verts.shape}")
      self.audio = safe_pickle.load(os.path.join(root, "raw_audio_fixed.pkl"))
      self.index = safe_pickle.load(os.path.join(root, "subj_seq_to_idx.pkl"))

  def read(self, subject: str, sentence: str):
    if self.layout == "original":
      frames = self.index.get(subject, {}).get(sentence)
      clip = self.audio.get(subject, {}).get(sentence)
      if not frames or clip is None:
        return None
      where = f"data_verts.npy/raw_audio_fixed.pkl [{subject}][{sentence}]"
      rows = [frames[f] for f in sorted(frames)]
      if min(rows) < 0 or max(rows) >= len(self.verts):
        raise ValueError(f"subj_seq_to_idx.pkl [{subject}][{sentence}]: rows outside data_verts.npy")
      try:
        return self.verts[rows], clip["audio"], int(clip["sample_rate"]), where
      except (KeyError, TypeError) as e:
        raise ValueError(f"raw_audio_fixed.pkl [{subject}][{sentence}]: expected {{'audio', 'sample_rate'}}") from e
    stem = f"{subject}_{sentence}"
    npy, wav = os.path.join(self.root, "vertices_npy", stem + ".npy"), os.path.join(self.root, "wav", stem + ".wav")
    if not (os.path.exists(npy) and os.path.exists(wav)):
      return None
    try:
      verts = np.load(npy, allow_pickle=False)
    except ValueError as e:
      raise ValueError(f"{npy}: not a plain .npy array ({e})") from e
    if verts.ndim != 2 or verts.shape[1] != NUM_VERTICES * 3:
      raise ValueError(f"{npy}: expected [T, {NUM_VERTICES * 3}], got {verts.shape}")
    audio, rate = audio_lib.read_wav(wav)
    return verts, audio, rate, npy
