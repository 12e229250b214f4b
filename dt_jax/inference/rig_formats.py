"""Outputs a rig or an engine loads: a binary glTF with the face's ARKit morph targets and their animation, the
Live Link Face CSV that Unreal's MetaHuman tools import, per-frame JSON for web players, and a point cache for
vertex datasets.

* `.glb`: one mesh (the speaker's neutral face), 52 morph targets (the rig's blendshape displacements) named by
  their ARKit names in `mesh.extras.targetNames`, and one animation whose `weights` channel holds the 52 weights
  per frame at 30 fps (LINEAR keyframes). Blender's glTF importer, three.js's GLTFLoader and Unreal read it.
* Live Link Face CSV: dt_jax.face.livelink.write_csv (the app's columns and order, 30 fps timecodes, head and eye
  rotations 0); the same module encodes the app's UDP packets for launch/stream.py --livelink.
* JSON: {"fps", "names", "frames": [{"time", "weights": {name: weight}}]}.
* `.pc2` (vertex datasets): Blender's Mesh Cache modifier reads it (POINTCACHE2: header, then float32 x, y, z of
  every vertex of every frame).
"""
from __future__ import annotations

import json
import struct

import numpy as np

from dt_jax import timebase
from dt_jax.face import arkit
from dt_jax.face import livelink

def arkit_weights(weights, dtype=np.float64) -> np.ndarray:
  """ARKit weights as a rig must receive them: in [0, 1] (arkit.WEIGHT_RANGE), whatever the model gave; every
  writer below goes through it (a run trained before the sampler kept the range may leave it)."""
  return np.clip(np.asarray(weights, dtype), *arkit.WEIGHT_RANGE)


def frame_record(t: int, weights: np.ndarray) -> dict:
  """One frame as JSON: {'frame', 'time' (s), 'timecode', 'weights': {ARKit name: weight}}."""
  return {"frame": int(t), "time": round(t / timebase.FPS, 6), "timecode": livelink.timecode(t),
          "weights": {n: round(float(v), 6) for n, v in zip(arkit.NAMES, arkit_weights(weights))}}


def write_json(path: str, weights: np.ndarray) -> str:
  with open(path, "w") as f:
    json.dump({"fps": timebase.FPS, "names": list(arkit.NAMES),
               "frames": [frame_record(t, w) for t, w in enumerate(np.asarray(weights))]}, f)
  return path


def write_pc2(path: str, vertices: np.ndarray) -> str:
  """vertices [T, V, 3] -> a POINTCACHE2 file (Blender's Mesh Cache modifier) at 30 fps from frame 0."""
  v = np.asarray(vertices, "<f4")
  with open(path, "wb") as f:
    f.write(struct.pack("<12siiffi", b"POINTCACHE2\0", 1, v.shape[1], 0.0, 1.0, v.shape[0]))
    f.write(v.tobytes())
  return path


def read_pc2(path: str) -> np.ndarray:
  with open(path, "rb") as f:
    magic, _, points, _, _, samples = struct.unpack("<12siiffi", f.read(32))
    if magic != b"POINTCACHE2\0":
      raise ValueError(f"{path}: not a POINTCACHE2 file")
    return np.frombuffer(f.read(), "<f4").reshape(samples, points, 3)


def _buffer_view(blob: bytearray, data: np.ndarray, *, target: int | None = None) -> tuple[int, int]:
  """Appends `data` (4-byte aligned) to the binary chunk; (offset, length)."""
  while len(blob) % 4:
    blob.append(0)
  offset = len(blob)
  blob.extend(np.ascontiguousarray(data).tobytes())
  del target
  return offset, len(blob) - offset


def write_glb(path: str, *, template: np.ndarray, faces: np.ndarray, basis: np.ndarray, weights: np.ndarray,
              fps: int = timebase.FPS) -> str:
  """A binary glTF: the neutral face `template` [V, 3] with triangles `faces` [F, 3], morph targets `basis`
  [52, V, 3] (displacements, named by ARKit) and the weights [T, 52] as an animation at `fps`."""
  import pygltflib  # pylint: disable=g-import-not-at-top
  g = pygltflib
  blob = bytearray()
  views, accessors = [], []

  def add(data: np.ndarray, *, kind: str, component: int, target: int | None = None, bounds: bool = False):
    offset, length = _buffer_view(blob, data)
    views.append(g.BufferView(buffer=0, byteOffset=offset, byteLength=length, target=target))
    flat = data.reshape(len(data), -1)
    acc = g.Accessor(bufferView=len(views) - 1, componentType=component, count=len(data), type=kind)
    if bounds:
      acc.min, acc.max = flat.min(0).tolist(), flat.max(0).tolist()
    accessors.append(acc)
    return len(accessors) - 1

  position = add(np.asarray(template, "<f4"), kind=g.VEC3, component=g.FLOAT, target=g.ARRAY_BUFFER, bounds=True)
  indices = add(np.asarray(faces, "<u4").reshape(-1), kind=g.SCALAR, component=g.UNSIGNED_INT,
                target=g.ELEMENT_ARRAY_BUFFER)
  targets = [{"POSITION": add(np.asarray(d, "<f4"), kind=g.VEC3, component=g.FLOAT, target=g.ARRAY_BUFFER,
                               bounds=True)} for d in basis]
  w = arkit_weights(weights, "<f4")
  times = add((np.arange(len(w)) / fps).astype("<f4"), kind=g.SCALAR, component=g.FLOAT, bounds=True)
  values = add(w.reshape(-1), kind=g.SCALAR, component=g.FLOAT)
  primitive = g.Primitive(attributes=g.Attributes(POSITION=position), indices=indices, targets=targets)
  gltf = g.GLTF2(
      asset=g.Asset(generator="dt_jax", version="2.0"), scene=0, scenes=[g.Scene(nodes=[0])],
      nodes=[g.Node(mesh=0, name="face")],
      meshes=[g.Mesh(name="face", primitives=[primitive], weights=[0.0] * len(basis),
                     extras={"targetNames": list(arkit.NAMES)})],
      animations=[g.Animation(name="talk", samplers=[g.AnimationSampler(input=times, output=values,
                                                                          interpolation="LINEAR")],
                              channels=[g.AnimationChannel(sampler=0, target=g.AnimationChannelTarget(
                                  node=0, path="weights"))])],
      accessors=accessors, bufferViews=views, buffers=[g.Buffer(byteLength=len(blob))])
  gltf.set_binary_blob(bytes(blob))
  gltf.save_binary(path)
  return path
