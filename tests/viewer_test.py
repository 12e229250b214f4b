"""The browser player (launch/view.py): served pages, a clip played in headless Chromium (Debian's, installed by
launch/test.sh) with its morph weights and pixels read back, the live WebSocket mode driving the face."""
import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
import soundfile

from dt_jax.eval import articulation
from dt_jax.face import arkit
from dt_jax.inference import rig_formats
from dt_jax.viewer import pages
from dt_jax.viewer import server

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def clip(tiny, tmp_path_factory):
  """A test clip written as launch/animate.py writes it (.glb, _frames.json, .wav), with a vowel frame (the widest
  jaw at a vowel's middle) and a p/b/m frame (the narrowest lips at a bilabial's middle) of its true motion."""
  ex = next(e for e in tiny.splits["test"] if len(e["phone_class"]))
  spk, motion = int(ex["speaker"]), np.clip(ex["motion"], 0, 1)
  at = articulation.phone_frames(ex["phone_start"], ex["phone_end"], ex["phone_class"], len(motion))
  v = tiny.rig.vertices(motion, spk)
  gap = v[:, tiny.rig.lip_pair[0], 1] - v[:, tiny.rig.lip_pair[1], 1]
  vowel, closed = at["vowel"][np.argmax(gap[at["vowel"]])], at["bilabial"][np.argmin(gap[at["bilabial"]])]
  folder = tmp_path_factory.mktemp("clip")
  s = tiny.rig.speaker_index(spk)
  glb = rig_formats.write_glb(str(folder / "c.glb"), template=tiny.rig.templates[s], faces=tiny.rig.faces,
                              basis=tiny.rig.basis[s], weights=motion)
  rig_formats.write_json(str(folder / "c_frames.json"), motion)
  soundfile.write(folder / "c.wav", ex["audio"], 16000)
  return dict(glb=glb, json=str(folder / "c_frames.json"), motion=motion, vowel=int(vowel), closed=int(closed),
              gap_mm=(1000 * gap[vowel], 1000 * gap[closed]))


def _serve(args, timeout=240):
  """Starts launch/view.py on a free port; returns (process, url) once it serves."""
  proc = subprocess.Popen([sys.executable, "launch/view.py", "--port=0", *args], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
  lines = []
  for line in proc.stdout:
    lines.append(line)
    m = re.search(r"serving (http://\S+)", line)
    if m:
      threading.Thread(target=proc.stdout.read, daemon=True).start()      # keeps draining its output
      return proc, m.group(1)
  proc.wait(timeout=timeout)
  raise AssertionError("view.py did not serve:\n" + "".join(lines[-30:]))


@pytest.fixture(scope="module")
def browser():
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top
  with sync_playwright() as p:
    b = p.chromium.launch(executable_path=CHROMIUM, args=["--enable-unsafe-swiftshader", "--use-angle=swiftshader",
                                                          "--autoplay-policy=no-user-gesture-required"])
    yield b
    b.close()


def _open(browser, url):
  page = browser.new_page(viewport={"width": 480, "height": 480})
  errors = []
  page.on("pageerror", lambda e: errors.append(str(e)))
  page.goto(url)
  page.wait_for_function("window.viewer && window.viewer.ready", timeout=60000)
  assert not errors, errors
  return page


def _dark_pixels(page) -> int:
  """Pixels of the mouth cavity's dark red around the mouth's centre in a screenshot."""
  import io  # pylint: disable=g-import-not-at-top
  import PIL.Image  # pylint: disable=g-import-not-at-top
  img = np.asarray(PIL.Image.open(io.BytesIO(page.screenshot())).convert("RGB")).astype(int)
  x, y = (int(round(c)) for c in page.evaluate("viewer.project(viewer.mouth())"))
  crop = img[max(0, y - 30):y + 30, max(0, x - 40):x + 40]
  r, g, b = crop[..., 0], crop[..., 1], crop[..., 2]
  return int(np.sum((r < 110) & (r > g + 15) & (b < 60)))


def test_the_player_shows_the_clip_frame_by_frame_and_plays(clip, browser):
  """Seeking to a vowel and to a p/b/m frame of a known clip: the page's morph weights are that frame's, and the
  screenshot shows the mouth open onto its dark cavity at the vowel and closed at the p/b/m; Play runs the clock."""
  proc, url = _serve([clip["glb"]])
  try:
    page = _open(browser, url)
    config = page.evaluate("viewer.config")
    assert config["mode"] == "clip" and config["audio"] == "/clip.wav" and config["frames"] == len(clip["motion"])
    dark = {}
    for name in ("vowel", "closed"):
      t = clip[name]
      page.evaluate(f"viewer.seek({t} / 30)")
      state = page.evaluate("viewer.state()")
      assert state["frame"] == t
      got = np.array([state["weights"][n] for n in arkit.NAMES])
      np.testing.assert_allclose(got, clip["motion"][t], atol=1e-5)
      dark[name] = _dark_pixels(page)
    assert clip["gap_mm"][0] > 3.0 and clip["gap_mm"][1] < 1.0, clip["gap_mm"]
    assert dark["vowel"] > 40 and dark["closed"] < dark["vowel"] / 4, dark
    page.click("#play")
    page.wait_for_timeout(700)
    state = page.evaluate("viewer.state()")
    assert state["playing"] and 0.3 < state["time"] < 3.0
    assert page.evaluate("document.getElementById('status').textContent") in ("", "the browser would not play audio")
    page.close()
  finally:
    proc.terminate()
    proc.wait(timeout=30)


def test_live_mode_drives_the_face_from_a_wav(clip, tiny_student, browser):
  """--live: 'Play wav' streams the clip's audio to the animator as it plays; every frame comes back, the face
  moves, and the page shows a latency of at least the lookahead. The WebSocket refuses a NaN chunk in one line."""
  workdir, data_dir = tiny_student
  wav = os.path.splitext(clip["glb"])[0] + ".wav"
  proc, url = _serve(["--live", f"--checkpoint={workdir}", f"--data_dir={data_dir}", f"--audio={wav}",
                      "--lookahead_ms=100", "--window_seconds=1.5"])
  try:
    page = _open(browser, url)
    page.evaluate("viewer.liveWav()")
    frames = len(soundfile.read(wav)[0]) * 30 // 16000
    page.wait_for_function(f"viewer.state().live.received >= {frames}", timeout=120000)
    state = page.evaluate("viewer.state()")
    assert state["live"]["connected"] and state["live"]["p50"] >= 100.0
    assert any(v > 0.01 for v in state["weights"].values())
    assert re.match(r"latency \d+ ms \(lookahead 100 ms\)", page.inner_text("#latency"))
    page.close()
    from websockets.sync.client import connect  # pylint: disable=g-import-not-at-top
    with connect(url.replace("http", "ws") + "live") as ws:
      ws.send(np.uint32(7).tobytes() + np.full(800, np.nan, "<f4").tobytes())
      assert json.loads(ws.recv()) == {"chunk": 7, "error": "a chunk holding NaN or Inf"}
      ws.send(np.uint32(8).tobytes() + np.zeros(1600, "<f4").tobytes())
      reply = json.loads(ws.recv())
      assert reply["chunk"] == 8 and all(len(w) == 52 for _, w in reply["frames"])
  finally:
    proc.terminate()
    proc.wait(timeout=30)


def test_pages_serve_a_frames_json_and_refuse_bad_clips(clip, tiny, tmp_path):
  page = pages.clip_page(clip["json"], rig=tiny.rig)
  with server.Server(page) as s:
    config = json.load(urllib.request.urlopen(s.url + "config.json"))
    assert config["frames"] == len(clip["motion"]) and config["audio"] == "/clip.wav" and len(config["eyes"]) == 2
    html = urllib.request.urlopen(s.url).read().decode()
    assert "/static/player.js" in html and "vendor/three/three.module.min.js" in html
    assert urllib.request.urlopen(s.url + "static/vendor/three/loaders/GLTFLoader.js").status == 200
    for missing in ("static/../server.py", "nothing.glb", "live"):
      with pytest.raises(urllib.error.HTTPError, match="404"):
        urllib.request.urlopen(s.url + missing)
  np.testing.assert_allclose(pages.read_frames_json(clip["json"]), clip["motion"], atol=1e-6)
  (tmp_path / "bad_frames.json").write_text('{"names": ["x"], "frames": []}')
  (tmp_path / "bad.glb").write_bytes(b"glTF not really")
  (tmp_path / "c.txt").write_text("hello")
  for path, why in ((tmp_path / "none.glb", "no such file"), (tmp_path / "bad_frames.json", "52 ARKit weights"),
                    (tmp_path / "bad.glb", "not a glTF"), (tmp_path / "c.txt", "expected a .glb")):
    with pytest.raises(pages.PageError, match=why):
      pages.clip_page(str(path), rig=tiny.rig)
  with pytest.raises(pages.PageError, match="needs a blendshape dataset"):
    pages.clip_page(clip["json"])
