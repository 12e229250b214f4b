"""Rendering: shaded frames, side by side, contact sheets, MP4 with audio, GIF fallback."""
import os
import subprocess
import sys

import numpy as np
import pytest

from dt_jax.face import arkit
from dt_jax.render import clips
from dt_jax.render import image
from dt_jax.render import scene
from dt_jax.render import video


@pytest.fixture(scope="module")
def face(tiny):
  rig = tiny.rig
  return rig, image.Renderer(rig.faces, reference=rig.templates[0], size=96)


def test_frames_show_the_face_and_its_motion(face):
  rig, render = face
  neutral = render(rig.templates[0])
  opened = render(rig.templates[0] + rig.basis[0, arkit.INDEX["jawOpen"]])
  assert neutral.shape == (96, 96, 3) and neutral.dtype == np.uint8
  face_px = np.mean(np.any(neutral < 250, axis=-1))
  assert 0.3 < face_px < 0.95                                      # a face fills the frame, not all of it
  diff = np.any(neutral != opened, axis=-1)
  rows = np.flatnonzero(diff.any(1))
  assert rows.min() > 96 // 2                                      # an open jaw changes only the lower face


def _mouth_dark(img):
  r, g, b = (img[..., k].astype(int) for k in range(3))
  return np.sum((r < 140) & (r > g + 25) & (b < 90))          # the cavity's dark red


def test_the_mouth_opens_onto_a_cavity_and_the_eyes_look(face):
  rig, render = face
  t, b = rig.templates[0], rig.basis[0]
  assert _mouth_dark(render(t)) == 0                               # lips closed at rest: nothing inside shows
  assert _mouth_dark(render(t + b[arkit.INDEX["jawOpen"]])) > 15
  ahead = render(t)
  w = np.zeros((1, 52))
  w[0, arkit.INDEX["eyeLookOutLeft"]] = w[0, arkit.INDEX["eyeLookInRight"]] = 1.0
  look = render(t, gaze=scene.gaze(w, 1)[0])
  rows = np.flatnonzero(np.any(ahead != look, axis=-1).any(1))
  assert len(rows) and rows.max() < 96 // 2                        # only the eyes change, in the upper half


def test_renders_beside_tensorflow():
  """TensorFlow's LLVM and Mesa's segfault together in one process; with TensorFlow loaded the renderer draws in a
  child process. A fresh process imports TensorFlow first, then draws a face and exits cleanly."""
  code = ("import tensorflow, numpy as np\n"
          "from dt_jax.face import mesh\nfrom dt_jax.render import image\n"
          "m = mesh.canonical()\nimg = image.Renderer(m.faces, reference=m.vertices, size=48)(m.vertices)\n"
          "print(int(np.mean(np.any(img < 250, axis=-1)) * 100))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  assert 30 < int(out.stdout.split()[-1]) < 95                     # a face drawn, not an empty frame


def test_gaze_from_weights():
  w = np.zeros((2, 52))
  w[0, arkit.INDEX["eyeLookOutLeft"]] = w[0, arkit.INDEX["eyeLookInRight"]] = 1.0    # both look to their left
  w[1, arkit.INDEX["eyeLookUpLeft"]] = w[1, arkit.INDEX["eyeLookUpRight"]] = 1.0
  d = scene.gaze(w, 2)
  assert np.allclose(np.linalg.norm(d, axis=-1), 1.0)
  assert (d[0, :, 0] > 0.3).all() and (d[1, :, 1] > 0.3).all() and np.allclose(d[1, :, 0], 0.0)
  assert np.allclose(scene.gaze(None, 3)[..., 2], 1.0)            # no weights (vertex data): straight ahead


def test_side_by_side_and_sheet():
  a = np.zeros((5, 8, 10, 3), np.uint8)
  b = np.full((4, 8, 6, 3), 255, np.uint8)
  both = image.side_by_side(a, b)
  assert both.shape == (4, 8, 16, 3)
  sheet = image.contact_sheet([a, b], frames_per_row=3)
  assert sheet.shape == (16, 30, 3)


def _probe(path):
  exe = video.ffmpeg_exe()
  out = subprocess.run([exe, "-hide_banner", "-i", path], capture_output=True, text=True).stderr
  return out


def test_mp4_has_video_and_audio(tmp_path):
  frames = np.random.default_rng(0).integers(0, 255, (15, 33, 40, 3), dtype=np.uint8)   # odd size: padded
  path = video.write_video(frames, str(tmp_path / "a.mp4"), audio=np.zeros(8000, np.float32))
  assert path.endswith(".mp4") and os.path.getsize(path) > 0
  info = _probe(path)
  assert "Video: h264" in info and "Audio: aac" in info and "Duration: 00:00:00.5" in info
  assert not any(p.endswith(".part.mp4") for p in os.listdir(tmp_path))


def test_gif_when_no_encoder(tmp_path, monkeypatch):
  monkeypatch.setattr(video, "ffmpeg_exe", lambda: None)
  frames = np.stack([np.full((10, 10, 3), 80 * k, np.uint8) for k in range(3)])
  path = video.write_video(frames, str(tmp_path / "b.mp4"))
  import PIL.Image  # pylint: disable=g-import-not-at-top
  assert path.endswith(".gif") and PIL.Image.open(path).n_frames == 3


def test_ground_truth_clips(tiny, tmp_path):
  paths = clips.render_ground_truth(tiny, split="test_unseen", num_clips=2, out_dir=str(tmp_path), size=64)
  assert [os.path.basename(p) for p in paths] == ["gt_test_unseen_0.mp4", "gt_test_unseen_1.mp4",
                                                  "gt_test_unseen_sheet.png"]
  src = tiny.splits["test_unseen"]
  picked = clips.pick(tiny, split="test_unseen", num_clips=6)
  first5 = [(int(src[i]["speaker"]), src[i]["utterance"], int(src[i]["emotion"])) for i in picked[:5]]
  assert len({(s, u) for s, u, _ in first5}) == 1 and sorted(e for _, _, e in first5) == list(range(5))
  assert int(src[picked[5]]["speaker"]) != first5[0][0]       # then another speaker


def test_long_clips_stream_frames_to_the_encoder(tiny, tmp_path, monkeypatch):
  """animate's outputs render a frame and hand it to the video encoder before drawing the next, so memory does
  not grow with the clip (the 10-minute wav of the reliability issue peaked at 11 GB holding every frame)."""
  from dt_jax.inference import outputs  # pylint: disable=g-import-not-at-top
  from dt_jax.render import image  # pylint: disable=g-import-not-at-top
  events = []
  draw, write = image.Renderer.__call__, video.VideoWriter.write
  monkeypatch.setattr(image.Renderer, "__call__", lambda self, *a, **k: (events.append("draw"), draw(self, *a, **k))[1])
  monkeypatch.setattr(video.VideoWriter, "write", lambda self, f: (events.append("write"), write(self, f))[1])
  frames = 300
  motion = np.zeros((frames, tiny.motion_dim), np.float32)
  motion[:, 24] = 0.3 * (1 + np.sin(np.arange(frames) / 5))                       # jawOpen moves
  written = outputs.write(tiny, motion, np.zeros(16000 * 10, np.float32), out_dir=str(tmp_path), stem="long",
                          speaker=0, size=48, formats=outputs.Formats(render=True))
  assert events == ["draw", "write"] * frames
  assert "Duration: 00:00:10.0" in _probe(written["video"])
  lazy = outputs.FrameVertices(tiny.rig, motion, 0)              # the vertices are made a frame at a time too
  assert len(lazy) == frames
  np.testing.assert_allclose(np.stack(list(lazy))[::50], tiny.rig.vertices(motion, 0)[::50], atol=1e-7)
