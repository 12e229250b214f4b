"""What the player page shows: a clip written by launch/animate.py (its .glb, or its frames JSON on a dataset's face)
with its wav, or the live face of a checkpoint's dataset driven by the streaming animator."""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from dt_jax import timebase
from dt_jax.data import audio as audio_lib
from dt_jax.face import arkit
from dt_jax.face import mesh
from dt_jax.face import rig as rig_lib
from dt_jax.inference import rig_formats
from dt_jax.inference import stream as stream_lib
from dt_jax.render import scene
from dt_jax.viewer import server


class PageError(ValueError):
  """A clip the player cannot show (missing, of another kind, malformed)."""


def _glb_bytes(template, faces, basis, weights) -> bytes:
  with tempfile.TemporaryDirectory() as tmp:
    path = rig_formats.write_glb(os.path.join(tmp, "clip.glb"), template=template, faces=faces, basis=basis,
                                 weights=weights)
    with open(path, "rb") as f:
      return f.read()


def _face_parts(template: np.ndarray) -> dict:
  """The mouth cavity's and eyeballs' places for the page (MediaPipe-topology faces; none for others)."""
  if not scene.is_mediapipe(len(template)):
    return {"mouth": None, "eyes": []}
  return {"mouth": {"ring": list(scene.MOUTH_RING), "unit": float(mesh.unit(template)),
                    "faces": scene.cavity(template)[1].tolist()},
          "eyes": [{"centre": c.tolist(), "radius": r} for c, r in scene.eyes(template)]}


def read_frames_json(path: str) -> np.ndarray:
  """[T, 52] weights from launch/animate.py's `<stem>_frames.json`; PageError naming the file when malformed."""
  try:
    with open(path) as f:
      doc = json.load(f)
    names = doc["names"]
    weights = np.asarray([[fr["weights"][n] for n in names] for fr in doc["frames"]], np.float32)
  except (OSError, ValueError, KeyError, TypeError) as e:
    raise PageError(f"{path}: not a frames JSON written by launch/animate.py ({type(e).__name__}: {e})") from e
  if list(names) != list(arkit.NAMES) or weights.ndim != 2 or not len(weights):
    raise PageError(f"{path}: expected frames of the 52 ARKit weights in launch/animate.py's order")
  return weights


def _audio(path: str | None) -> tuple[bytes | None, float | None]:
  if path is None:
    return None, None
  speech = audio_lib.load_speech(path)                              # checks it: rate, channels, finite, not empty
  with open(path, "rb") as f:
    return f.read(), len(speech) / timebase.SAMPLE_RATE


def clip_page(clip: str, *, audio: str | None = None, rig: rig_lib.Rig | None = None, speaker: int = 0) -> server.Page:
  """The player for `clip`: a .glb from launch/animate.py --gltf, or its `_frames.json` (drawn on `rig`'s face for
  `speaker`); `audio` defaults to the wav beside it with the clip's stem."""
  if not os.path.isfile(clip):
    raise PageError(f"{clip}: no such file")
  stem = os.path.splitext(clip)[0]
  if clip.endswith(".json"):
    if rig is None or rig.basis is None:
      raise PageError(f"{clip}: a frames JSON needs a blendshape dataset's face (--dataset, --data_dir)")
    weights = read_frames_json(clip)
    s = rig.speaker_index(speaker)
    glb, template = _glb_bytes(rig.templates[s], rig.faces, rig.basis[s], weights), rig.templates[s]
    stem = stem[:-len("_frames")] if stem.endswith("_frames") else stem
    frames = len(weights)
  elif clip.endswith(".glb"):
    with open(clip, "rb") as f:
      glb = f.read()
    template, frames = _glb_face(clip, glb)
  else:
    raise PageError(f"{clip}: expected a .glb or a frames .json written by launch/animate.py")
  if audio is None and os.path.isfile(stem + ".wav"):
    audio = stem + ".wav"
  return _page(glb, template, audio=audio, mode="clip", title=os.path.basename(clip), frames=frames)


def _page(glb: bytes, template: np.ndarray, *, audio: str | None, streamer=None, **config) -> server.Page:
  """The page for a face (`glb`, neutral vertices `template`) with the wav `audio`; `config` adds to its settings."""
  wav, seconds = _audio(audio)
  files = {"/clip.glb": glb, **({"/clip.wav": wav} if wav else {})}
  config = {"fps": timebase.FPS, "glb": "/clip.glb", "audio": "/clip.wav" if wav else None, "audio_seconds": seconds,
            **_face_parts(template), **config}
  return server.Page(config=config, files=files, streamer=streamer)


def _glb_face(path: str, glb: bytes) -> tuple[np.ndarray, int]:
  """The neutral vertices [V, 3] and frame count of one of our .glb files (PageError when it is not one)."""
  import pygltflib  # pylint: disable=g-import-not-at-top
  try:
    g = pygltflib.GLTF2.load_from_bytes(glb)
    blob = g.binary_blob()
    prim = g.meshes[0].primitives[0]

    def read(index, dtype, width):
      acc, view = g.accessors[index], g.bufferViews[g.accessors[index].bufferView]
      start = (view.byteOffset or 0) + (acc.byteOffset or 0)
      return np.frombuffer(blob, dtype, acc.count * width, start).reshape(acc.count, width)

    template = read(prim.attributes.POSITION, "<f4", 3)
    frames = g.accessors[g.animations[0].samplers[0].input].count if g.animations else 1
  except Exception as e:  # pylint: disable=broad-except  # pygltflib raises many types on a bad file
    raise PageError(f"{path}: not a glTF written by launch/animate.py --gltf ({type(e).__name__}: {e})") from e
  if not prim.targets or len(prim.targets) != arkit.NUM:
    raise PageError(f"{path}: expected a face with the 52 ARKit morph targets")
  return template.astype(np.float64), int(frames)


def live_page(rig: rig_lib.Rig, streamer: stream_lib.StreamingAnimator, *, audio: str | None = None,
              lookahead_ms: float = 200.0, title: str = "live") -> server.Page:
  """The live player: the dataset's first face (neutral, 52 morph targets), driven by the streaming animator over
  the /live WebSocket from the wav `audio` (played in the page) or the microphone."""
  if rig.basis is None:
    raise PageError("live mode drives a blendshape face; this run's dataset stores vertex offsets")
  glb = _glb_bytes(rig.templates[0], rig.faces, rig.basis[0], np.zeros((1, arkit.NUM), np.float32))
  return _page(glb, rig.templates[0], audio=audio, streamer=streamer, mode="live", title=title, frames=1,
               live="/live", sample_rate=timebase.SAMPLE_RATE, lookahead_ms=lookahead_ms, names=list(arkit.NAMES))
