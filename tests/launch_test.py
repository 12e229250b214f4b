"""The launchers as a user runs them, and the vertex-offset config of the corpus."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import soundfile
import pytest

from dt_jax.data import pipeline
from dt_jax.data import source
from tfds_builders.synthetic_talkers import synthetic_talkers_dataset_builder as builder_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(args, **kw):
  return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture(scope="module")
def vertices_dir(tmp_path_factory):
  """synthetic_talkers/vertices built by launch/build_data.py with TensorFlow hidden (installed for TFDS's builder
  test case): the library path never needs it."""
  data_dir = tmp_path_factory.mktemp("vertices")
  code = ("import sys, runpy\n"
          "class Hide:\n"                      # every finder answers 'not installed' for tensorflow
          "  def __init__(self, f): self.f = f\n"
          "  def find_spec(self, name, path=None, target=None):\n"
          "    if name.split('.')[0] == 'tensorflow': return None\n"
          "    return self.f.find_spec(name, path, target) if hasattr(self.f, 'find_spec') else None\n"
          "  def invalidate_caches(self): getattr(self.f, 'invalidate_caches', lambda: None)()\n"
          "sys.meta_path[:] = [Hide(f) for f in sys.meta_path]\n"
          "sys.path.insert(0, 'launch')\n"    # as `python launch/build_data.py` does: its sibling modules import
          f"sys.argv = ['build_data.py', '--dataset=synthetic_talkers/vertices', '--data_dir={data_dir}']\n"
          "runpy.run_path('launch/build_data.py', run_name='__main__')\n")
  proc = _run(["-c", code])
  assert proc.returncode == 0, proc.stderr[-3000:]
  return data_dir, proc.stdout


def test_build_data_works_without_tensorflow(vertices_dir):
  data_dir, stdout = vertices_dir
  assert "test_unseen_voice" in stdout and "4 (S00..S03)" in stdout and "2 (S04..S05)" in stdout
  version = str(builder_lib.Builder.VERSION)
  summary = json.loads((data_dir / "synthetic_talkers" / "vertices" / version / "summary.json").read_text())
  assert summary["splits"]["train"]["examples"] == 60 and summary["motion_dim"] == 468 * 3
  assert summary["splits"]["test_unseen_voice"]["voices"] == {"kokoro:jf_nezumi": 5}
  assert summary["splits"]["test_unseen_language"]["voices"] == {"espeak:es": 5}
  again = _run(["launch/build_data.py", "--dataset=synthetic_talkers/vertices", f"--data_dir={data_dir}"])
  assert again.returncode == 0 and "Reusing dataset" in again.stderr + again.stdout


def test_render_data(tiny_data_dir, tmp_path):
  proc = _run(["launch/render_data.py", "--dataset=synthetic_talkers/tiny", f"--data_dir={tiny_data_dir}",
               "--split=test", "--num_clips=2", f"--out={tmp_path}", "--write_wavs", "--size=128"])
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert re.search(r"\d+ frames of 128 x 128 px drawn and encoded in [\d.]+ s: \d+ frames/s", proc.stdout)
  assert sorted(os.listdir(tmp_path)) == ["gt_test_0.mp4", "gt_test_0.wav", "gt_test_1.mp4", "gt_test_1.wav",
                                          "gt_test_sheet.png"]
  wav, rate = soundfile.read(os.path.join(tmp_path, "gt_test_0.wav"), dtype="float32")
  assert rate == 16000
  ds = source.open_dataset("synthetic_talkers/tiny", data_dir=tiny_data_dir)
  from dt_jax.render import clips  # pylint: disable=g-import-not-at-top
  np.testing.assert_allclose(wav, ds.splits["test"][clips.pick(ds, split="test", num_clips=2)[0]]["audio"],
                             atol=1e-4)


def test_missing_dataset_says_how_to_build(tmp_path):
  with pytest.raises(FileNotFoundError, match="launch/build_data.py --dataset=synthetic_talkers/tiny"):
    source.open_dataset("synthetic_talkers/tiny", data_dir=str(tmp_path))


def test_vertices_config(vertices_dir):
  ds = source.open_dataset("synthetic_talkers/vertices", data_dir=str(vertices_dir[0]))
  assert ds.motion_dim == 468 * 3 and ds.rig.basis is None and len(ds.splits["test_unseen"]) == 10
  ex = ds.splits["train"][0]
  s = int(ex["speaker"])
  np.testing.assert_allclose(ex["template"], ds.rig.templates[s].reshape(-1))
  verts = ds.rig.vertices(ex["motion"], s)
  lips = ds.rig.regions["lips"]
  moved = np.linalg.norm(verts - ds.rig.templates[s][None], axis=-1)
  assert moved[:, lips].max() > 0.003                             # the lips move by millimetres
  b = pipeline.train_batches(ds.splits["train"], window_frames=30, global_batch=2, seed=0)[0]
  assert b["motion"].shape == (2, 30, 1404) and b["template"].shape == (2, 1404)


@pytest.mark.parametrize("dataset", ["vocaset/original", "vocaset/faceformer", "etf3d"])
def test_build_data_builds_real_formats(dataset, tmp_path):
  manual = tmp_path / "manual"
  extra = []
  if dataset.startswith("vocaset"):
    from tfds_builders.vocaset import fixtures  # pylint: disable=g-import-not-at-top
    (fixtures.write_original if dataset.endswith("original") else fixtures.write_faceformer)(str(manual))
    fixtures.write_masks(str(tmp_path / "FLAME_masks.pkl"))
    extra = [f"--regions={tmp_path / 'FLAME_masks.pkl'}"]
  else:
    from tfds_builders.etf3d import fixtures  # pylint: disable=g-import-not-at-top
    fixtures.write(str(manual))
  proc = _run(["launch/build_data.py", f"--dataset={dataset}", f"--manual_dir={manual}",
               f"--data_dir={tmp_path / 'data'}", *extra])
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "train" in proc.stdout and "validation" in proc.stdout and "built at" in proc.stdout
  ds = source.open_dataset(dataset, data_dir=str(tmp_path / "data"))
  assert ds.rig.has_regions == dataset.startswith("vocaset")
  # The input pipeline takes every dataset unchanged: same schema, only D differs.
  b = pipeline.train_batches(ds.splits["train"], window_frames=9, global_batch=2, seed=0)[0]
  assert b["motion"].shape == (2, 9, ds.motion_dim) and b["audio"].shape == (2, 4800)
  e = next(pipeline.eval_batches(ds.splits["test"], batch_size=2))
  assert e["motion"].shape[2] == ds.motion_dim and e["valid"].sum() >= 1
