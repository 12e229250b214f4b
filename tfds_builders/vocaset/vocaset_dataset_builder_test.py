"""VOCASET builder on fixtures in the real formats: TFDS's test case, resampling, bad input, poisoned pickles."""
import os
import pickle
import tempfile

import numpy as np
import pytest
import tensorflow_datasets as tfds

from dt_jax import safe_pickle
from dt_jax.data import source
import tfds_builders
from tfds_builders.vocaset import fixtures
from tfds_builders.vocaset import vocaset_dataset_builder as vb

_TMP = tempfile.mkdtemp(prefix="vocaset_fixtures_")
_ORIGINAL, _FACEFORMER = os.path.join(_TMP, "original"), os.path.join(_TMP, "faceformer")
fixtures.write_original(_ORIGINAL)
fixtures.write_masks(os.path.join(_ORIGINAL, "FLAME_masks.pkl"))
fixtures.write_faceformer(_FACEFORMER)
_SPLITS = {"train": 2, "validation": 1, "test": 2}


class _Fixture:
  """What both layouts' builder test cases share."""
  DATASET_CLASS = vb.Builder
  SPLITS = _SPLITS
  MOCK_OUT_FORBIDDEN_OS_FUNCTIONS = False     # the builder writes rig.npz with numpy
  SKIP_CHECKSUMS = True                       # nothing is downloaded


class VocasetOriginalTest(_Fixture, tfds.testing.DatasetBuilderTestCase):
  BUILDER_CONFIG_NAMES_TO_TEST = ["original"]
  EXAMPLE_DIR = _ORIGINAL


class VocasetFaceformerTest(_Fixture, tfds.testing.DatasetBuilderTestCase):
  BUILDER_CONFIG_NAMES_TO_TEST = ["faceformer"]
  EXAMPLE_DIR = _FACEFORMER


def _build(config, manual_dir, data_dir, **kwargs):
  tfds_builders.build(f"vocaset/{config}", data_dir=str(data_dir), manual_dir=manual_dir, builder_kwargs=kwargs)
  return source.open_dataset(f"vocaset/{config}", data_dir=str(data_dir))


@pytest.mark.parametrize("config,root", [("original", _ORIGINAL), ("faceformer", _FACEFORMER)],
                         ids=["original", "faceformer"])
def test_fps_sample_rate_and_offsets(config, root, tmp_path):
  ds = _build(config, root, tmp_path)
  by_key = {}
  for split in ds.splits:
    for i in range(len(ds.splits[split])):
      ex = ds.splits[split][i]
      by_key[ex["utterance"].decode()] = ex
  assert len(by_key) == 5
  ex = by_key[f"{vb.TEST[0]}_sentence22"]
  t = fixtures.FRAMES_60 // 2
  # 60 -> 30 fps keeps every second frame: frame k is 2k frames of linear motion from the template.
  expected = (2 * np.arange(t, dtype=np.float32)[:, None, None] * fixtures.VELOCITY).repeat(vb.NUM_VERTICES, 1)
  np.testing.assert_allclose(ex["motion"].reshape(t, vb.NUM_VERTICES, 3), expected, atol=1e-6)
  np.testing.assert_allclose(ex["template"], fixtures.template(vb.TEST[0]).reshape(-1))
  # 22 kHz -> 16 kHz: the 440 Hz tone, sample-aligned, away from the filter's edges.
  n = np.arange(len(ex["audio"]))
  tone = 0.5 * np.sin(2 * np.pi * fixtures.TONE_HZ * n / 16000)
  assert len(ex["audio"]) == 16000 * t // 30
  np.testing.assert_allclose(ex["audio"][200:-200], tone[200:-200], atol=0.01)
  long = by_key["_".join(fixtures.LONG_AUDIO)]
  assert len(long["motion"]) == t and len(long["audio"]) == 16000 * t // 30      # trimmed to the motion
  assert ds.speakers[int(ex["speaker"])] == vb.TEST[0] and ds.emotions == ["neutral"]


def test_regions_from_masks_and_lists(tmp_path):
  ds = _build("original", _ORIGINAL, tmp_path / "a")
  masks = pickle.load(open(os.path.join(_ORIGINAL, "FLAME_masks.pkl"), "rb"))
  np.testing.assert_array_equal(ds.rig.regions["lips"], np.unique(masks["lips"]))
  np.testing.assert_array_equal(ds.rig.regions["eye_forehead"], np.union1d(masks["eye_region"], masks["forehead"]))
  lists = tmp_path / "lists"
  lists.mkdir()
  for name, idx in (("lips", "1, 2, 3"), ("eye_forehead", "4 5"), ("upper_face", "4,5,6")):
    (lists / f"{name}.txt").write_text(idx)
  ds = _build("faceformer", _FACEFORMER, tmp_path / "b", regions=str(lists))
  assert ds.rig.regions["upper_face"].tolist() == [4, 5, 6] and ds.rig.templates.shape == (12, vb.NUM_VERTICES, 3)


def _copy(src, dst):
  import shutil  # pylint: disable=g-import-not-at-top
  shutil.copytree(src, dst)
  return str(dst)


def test_poisoned_pickle_neither_loads_nor_runs(tmp_path):
  root = _copy(_ORIGINAL, tmp_path / "poisoned")
  marker = tmp_path / "pwned"

  class Evil:
    def __reduce__(self):
      return (os.system, (f"touch {marker}",))

  with open(os.path.join(root, "raw_audio_fixed.pkl"), "wb") as f:
    pickle.dump({"x": Evil()}, f, protocol=2)
  with pytest.raises(safe_pickle.UnsafePickleError, match=r"raw_audio_fixed.pkl: refuses to load posix.system"):
    _build("original", root, tmp_path / "data")
  assert not marker.exists()


def test_bad_files_are_named(tmp_path):
  root = _copy(_FACEFORMER, tmp_path / "nan")
  stem = f"{vb.TEST[0]}_sentence22"
  v = np.load(os.path.join(root, "vertices_npy", stem + ".npy"))
  v[2, 7] = np.nan                          # an even 60 fps frame: kept at 30 fps
  np.save(os.path.join(root, "vertices_npy", stem + ".npy"), v)
  with pytest.raises(ValueError, match=rf"{stem}.npy: vertices are empty or hold NaN"):
    _build("faceformer", root, tmp_path / "d1")
  root = _copy(_FACEFORMER, tmp_path / "wav")
  open(os.path.join(root, "wav", stem + ".wav"), "wb").write(b"RIFF-not-really")
  with pytest.raises(ValueError, match=rf"{stem}.wav: not a readable audio file"):
    _build("faceformer", root, tmp_path / "d2")


def test_wrong_layout_says_which_config(tmp_path):
  with pytest.raises(FileNotFoundError, match="build vocaset/faceformer"):
    _build("original", _FACEFORMER, tmp_path)
