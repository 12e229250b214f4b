"""3D-ETF builder on fixtures in the real layout: TFDS's test case, labels, splits, resampling, bad files, rigs."""
import atexit
import os
import shutil
import tempfile

import numpy as np
import pytest
import tensorflow_datasets as tfds

from dt_jax.data import source
from dt_jax.eval import metrics
import tfds_builders
from tfds_builders.etf3d import etf3d_dataset_builder as eb
from tfds_builders.etf3d import fixtures

_ROOT = tempfile.mkdtemp(prefix="etf3d_fixtures_")   # module level: TFDS's test case reads EXAMPLE_DIR at import
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)
fixtures.write(_ROOT)


class Etf3dTest(tfds.testing.DatasetBuilderTestCase):
  DATASET_CLASS = eb.Builder
  EXAMPLE_DIR = _ROOT
  # RAVDESS actor 01: 4 clips -> 1 test, 1 validation, 2 train; actor 02 and RD_Radio1: 3 clips -> 1/1/1;
  # actor 24 and the hashed-out HDTF identity -> test_unseen.
  SPLITS = {"train": 4, "validation": 3, "test": 3, "test_unseen": 2}
  MOCK_OUT_FORBIDDEN_OS_FUNCTIONS = False
  SKIP_CHECKSUMS = True


def _build(root, data_dir, **kwargs):
  tfds_builders.build("etf3d", data_dir=str(data_dir), manual_dir=root, builder_kwargs=kwargs)
  return source.open_dataset("etf3d", data_dir=str(data_dir))


def _examples(ds):
  return {split: [ds.splits[split][i] for i in range(len(ds.splits[split]))] for split in ds.splits}


def test_labels_values_audio_and_splits(tmp_path):
  ds = _build(_ROOT, tmp_path)
  ex = _examples(ds)
  by_stem = {e["utterance"].decode().split("/")[1]: e for split in ex for e in ex[split]}
  e = by_stem["01-01-05-02-01-01-01"]
  assert ds.speakers[int(e["speaker"])] == "RAVDESS_01" and ds.emotions[int(e["emotion"])] == "angry"
  assert int(e["intensity"]) == 2
  np.testing.assert_array_equal(e["motion"], fixtures.weights("01-01-05-02-01-01-01"))   # unclamped, as stored
  assert e["motion"].min() < 0 and e["motion"].max() > 1
  t = len(e["motion"])
  n = np.arange(len(e["audio"]))
  assert len(e["audio"]) == round(t * 16000 / 30)
  np.testing.assert_allclose(e["audio"][200:-200], 0.5 * np.sin(2 * np.pi * 440 * n / 16000)[200:-200], atol=0.01)
  hdtf = by_stem["RD_Radio1_000"]
  assert ds.speakers[int(hdtf["speaker"])] == "HDTF_RD_Radio1" and ds.emotions[int(hdtf["emotion"])] == "neutral"
  unseen = {ds.speakers[int(e["speaker"])] for e in ex["test_unseen"]}
  assert unseen == {"RAVDESS_24", "HDTF_" + fixtures.held_out_hdtf_identity()}
  for split in ("train", "validation", "test"):
    assert not unseen & {ds.speakers[int(e["speaker"])] for e in ex[split]}
  space = metrics.space_for(ds.rig, motion_dim=ds.motion_dim)
  assert space.name == "coefficients" and "COEFFICIENT" in metrics.describe(space)


def test_held_out_identities_are_a_config_knob():
  clips = eb.scan(_ROOT)
  cfg = eb.Etf3dConfig(name="x", held_out_actors=(2,), hdtf_held_out=("RD_Radio1",), hdtf_held_out_percent=0)
  unseen = {c.identity for c in eb.assign_splits(clips, cfg)["test_unseen"]}
  assert unseen == {"RAVDESS_02", "HDTF_RD_Radio1"}


def test_rig_puts_metrics_on_vertices(tmp_path):
  v = 7
  rng = np.random.default_rng(0)
  template, basis = rng.normal(size=(v, 3)).astype(np.float32), rng.normal(size=(52, v, 3)).astype(np.float32)
  np.savez(tmp_path / "rig.npz", template=template, basis=basis, lips=np.array([0, 1]),
           eye_forehead=np.array([5, 6]), upper_face=np.array([4, 5, 6]))
  ds = _build(_ROOT, tmp_path / "a", rig=str(tmp_path / "rig.npz"))
  space = metrics.space_for(ds.rig, motion_dim=ds.motion_dim)
  assert space.name == "vertices" and space.regions.lips.tolist() == [0, 1]
  e = ds.splits["train"][0]
  np.testing.assert_allclose(ds.rig.vertices(e["motion"], int(e["speaker"])),
                             template + np.einsum("tk,kvc->tvc", e["motion"], basis), atol=1e-5)
  heads = np.concatenate([template[None], template[None] + basis])          # the .npy form: absolute heads
  np.save(tmp_path / "heads.npy", heads)
  ds2 = _build(_ROOT, tmp_path / "b", rig=str(tmp_path / "heads.npy"))
  np.testing.assert_allclose(ds2.rig.basis[0], basis, atol=1e-5)


def _corrupt(tmp_path, edit):
  root = str(tmp_path / "root")
  shutil.copytree(_ROOT, root)
  path = edit(root)
  return root, path


@pytest.mark.parametrize("kind,match", [
    ("nan", "hold NaN"), ("columns", r"expected \[T, 52\]"), ("length", "s of audio but"),
    ("orphan", "has no audio file"), ("stem", "seven dash-separated codes")])
def test_bad_files_are_named(tmp_path, kind, match):
  stem = "01-01-03-01-02-02-01"

  def edit(root):
    npy = os.path.join(root, "RAVDESS", "blendshape", stem + ".npy")
    w = np.load(npy)
    if kind == "nan":
      w[2, 3] = np.nan
    elif kind == "columns":
      w = w[:, :51]
    elif kind == "length":
      w = np.concatenate([w, w])
    elif kind == "orphan":
      os.remove(os.path.join(root, "RAVDESS", "audio", stem + ".wav"))
    elif kind == "stem":
      os.rename(npy, npy.replace(stem, "01-01-03"))
      os.rename(os.path.join(root, "RAVDESS", "audio", stem + ".wav"),
                os.path.join(root, "RAVDESS", "audio", "01-01-03.wav"))
      return "01-01-03.npy"
    np.save(npy, w)
    return stem

  root, name = _corrupt(tmp_path, edit)
  with pytest.raises((ValueError, FileNotFoundError), match=match) as err:
    _build(root, tmp_path / "data")
  assert name in str(err.value)
