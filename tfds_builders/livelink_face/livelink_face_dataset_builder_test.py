"""livelink_face: takes in the app's layout build into the dataset contract, aligned by timecode; every bad take
is one line naming its file; a failed build leaves no finished dataset."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from dt_jax.data import audio as audio_lib
from dt_jax.data import source
from dt_jax.face import arkit
from dt_jax.render import video
import tfds_builders
from tfds_builders.livelink_face import fixtures
from tfds_builders.livelink_face import livelink_face_dataset_builder as lb

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  root = tmp_path_factory.mktemp("livelink")
  takes = fixtures.write_takes(str(root / "takes"), {"ada": 4, "ben": 1})
  out = subprocess.run([sys.executable, "launch/build_data.py", "--dataset=livelink_face", f"--manual_dir={takes}",
                        f"--data_dir={root / 'data'}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  return takes, source.open_dataset("livelink_face", data_dir=str(root / "data"))


def test_takes_build_into_the_contract_at_30_fps(built):
  _, ds = built
  assert ds.speakers == ["ada", "ben"] and ds.motion_dim == 52 and ds.rig.basis.shape == (1, 52, 468, 3)
  assert {k: len(v) for k, v in ds.splits.items()} == {"train": 3, "validation": 1, "test": 1}
  ex = ds.splits["train"][0]
  t = len(ex["motion"])
  assert ex["head_rotation"].shape == (t, 3) and len(ex["audio"]) == round(t * 16000 / 30) and t == 60
  seed = {"ada": 0, "ben": 10}[ds.speakers[ex["speaker"]]] + int(source.text(ex["utterance"])[-1])
  np.testing.assert_allclose(ex["motion"][:, arkit.INDEX["jawOpen"]], fixtures.jaw(np.arange(t) / 30, seed), atol=2e-6)
  np.testing.assert_allclose(ex["motion"][:, arkit.INDEX["jawLeft"]], 0.3, atol=1e-6)   # not swapped with jawRight
  assert np.all(ex["motion"][:, arkit.INDEX["jawRight"]] == 0)
  np.testing.assert_allclose(ex["head_rotation"][:, 0], 0.1 * np.sin(np.pi * np.arange(t) / 30), atol=2e-6)


def test_audio_and_motion_are_aligned_by_timecode(built):
  """The buzz's loudness follows jawOpen: frame by frame it matches best at no shift (the audio began 0.25 s, 7.5
  frames, before the first row)."""
  _, ds = built
  for ex in ds.splits["train"]:
    frames = np.arange(len(ex["motion"])) * 16000 // 30
    loud = np.array([np.abs(ex["audio"][max(0, s - 266):s + 267]).mean() for s in frames])   # around each frame
    jaw = ex["motion"][:, arkit.INDEX["jawOpen"]]
    fit = {lag: np.corrcoef(loud[5 + lag:-5 + lag], jaw[5:-5])[0, 1] for lag in range(-4, 5)}
    assert max(fit, key=fit.get) == 0 and fit[0] > 0.99, fit


def test_a_flat_folder_of_takes_with_wavs_names_its_performer(tmp_path):
  for n in (1, 2, 3):
    fixtures.write_take(str(tmp_path / f"t{n}"), number=n, seed=n, mov=False)
  takes = lb.find_takes(str(tmp_path), performer="cleo")
  assert [(t.performer, t.name, os.path.splitext(t.audio)[1]) for t in takes] == [("cleo", f"t{n}", ".wav")
                                                                                   for n in (1, 2, 3)]
  capture = lb.read_take(takes[0])
  assert capture.offset == pytest.approx(0.25) and capture.motion.shape == (60, 52)
  os.remove(tmp_path / "t1" / "take.json")                    # no metadata: the audio starts with the first row
  assert lb.read_take(lb.find_takes(str(tmp_path))[0]).offset == 0.0


def _bad(tmp_path, damage):
  folder = fixtures.write_take(str(tmp_path / "take"), mov=False)
  damage(folder)
  return lb.read_take(lb.find_takes(str(tmp_path))[0])


def test_bad_takes_are_one_line_naming_the_file(tmp_path):
  with pytest.raises(ValueError, match=r"Demo_1_iPhone\.csv: the take has no audio"):
    _bad(tmp_path / "a", lambda f: os.remove(os.path.join(f, "Demo_1_iPhone.wav")))
  short = lambda f: audio_lib.soundfile.write(os.path.join(f, "Demo_1_iPhone.wav"), np.zeros(30000), 48000)  # noqa: E731
  with pytest.raises(ValueError, match=r"Demo_1_iPhone\.wav: 0\.62 s of audio ends 1\.61 s before the motion"):
    _bad(tmp_path / "b", short)
  nan = lambda f: open(os.path.join(f, "Demo_1_iPhone.csv"), "a").write(  # noqa: E731
      "10:02:05:12.000,61," + ",".join(["nan"] * 61) + "\n")
  with pytest.raises(ValueError, match=r"Demo_1_iPhone\.csv:122: EyeBlinkLeft, .* not a finite number"):
    _bad(tmp_path / "c", nan)
  silent = fixtures.write_take(str(tmp_path / "d" / "take"), mov=False)
  os.remove(os.path.join(silent, "Demo_1_iPhone.wav"))
  subprocess.run([video.ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=c=gray:s=64x64:r=30:d=1", "-c:v",
                  "mpeg4", os.path.join(silent, "Demo_1_iPhone.mov")], check=True)
  with pytest.raises(audio_lib.AudioError, match=r"Demo_1_iPhone\.mov: has no audio track"):
    lb.read_take(lb.find_takes(str(tmp_path / "d"))[0])
  takes = lb.find_takes(str(tmp_path / "c"))
  split = tmp_path / "split.json"
  split.write_text('{"train": ["take", "other"]}')
  with pytest.raises(ValueError, match="names takes that are not there: other"):
    lb.assign_splits(takes, split_file=str(split), seed=0)
  with pytest.raises(ValueError, match="a seeded split needs at least 3"):
    lb.assign_splits(takes, split_file=None, seed=0)


def test_a_failed_build_leaves_no_finished_dataset(built, tmp_path):
  takes, _ = built
  copy = shutil.copytree(takes, tmp_path / "takes")
  csv = next(os.path.join(d, f) for d, _, fs in os.walk(copy / "ben") for f in fs if f.endswith(".csv"))
  lines = open(csv).read().splitlines()
  open(csv, "w").write("\n".join(lines[:40] + [lines[39]] + lines[40:]) + "\n")     # a repeated timecode
  out = subprocess.run([sys.executable, "launch/build_data.py", "--dataset=livelink_face", f"--manual_dir={copy}",
                        f"--data_dir={tmp_path / 'data'}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert out.returncode == 1
  assert out.stderr.strip().splitlines()[-1].startswith(f"build_data: {csv}:41: timecode ") and "repeats" in out.stderr
  with pytest.raises(FileNotFoundError, match="is not built"):
    source.open_dataset("livelink_face", data_dir=str(tmp_path / "data"))
  assert tfds_builders.builder("livelink_face", data_dir=str(tmp_path / "data")).info.splits == {}
