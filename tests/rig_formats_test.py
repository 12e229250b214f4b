"""Rig-ready outputs round-trip: the glTF's morph targets are named in ARKit order and its animation holds the
weights at 30 fps (read back by pygltflib and trimesh; the Khronos validator where the test set-up installed it),
the Live Link Face CSV has the app's columns, the JSON the weights, the point cache the vertices."""
import csv
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from dt_jax.face import arkit
from dt_jax.face import livelink
from dt_jax.inference import rig_formats

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VALIDATOR = os.path.join(ROOT, ".venv", "npm", "node_modules", "gltf-validator")


@pytest.fixture(scope="module")
def weights():
  rng = np.random.default_rng(0)
  return rng.uniform(0, 1, (45, 52)).astype(np.float32)


def test_glb_holds_named_targets_and_the_animation(tiny, weights, tmp_path):
  import pygltflib  # pylint: disable=g-import-not-at-top
  import trimesh  # pylint: disable=g-import-not-at-top
  rig = tiny.rig
  path = rig_formats.write_glb(str(tmp_path / "a.glb"), template=rig.templates[0], faces=rig.faces,
                               basis=rig.basis[0], weights=weights)
  g = pygltflib.GLTF2().load(path)
  mesh = g.meshes[0]
  assert mesh.extras["targetNames"] == list(arkit.NAMES) and len(mesh.primitives[0].targets) == 52
  blob = g.binary_blob()

  def read(index, dtype, width):
    acc = g.accessors[index]
    view = g.bufferViews[acc.bufferView]
    return np.frombuffer(blob, dtype, acc.count * width, view.byteOffset).reshape(acc.count, width)
  sampler = g.animations[0].samplers[0]
  np.testing.assert_allclose(read(sampler.input, "<f4", 1)[:, 0], np.arange(45) / 30, atol=1e-6)
  np.testing.assert_array_equal(read(sampler.output, "<f4", 1).reshape(45, 52), weights)
  assert g.animations[0].channels[0].target.path == "weights" and sampler.interpolation == "LINEAR"
  np.testing.assert_allclose(read(mesh.primitives[0].targets[5]["POSITION"], "<f4", 3), rig.basis[0][5])
  scene = trimesh.load(path)
  loaded = next(iter(scene.geometry.values()))
  np.testing.assert_allclose(np.asarray(loaded.vertices), rig.templates[0], atol=1e-6)
  assert len(loaded.faces) == len(rig.faces)
  if os.path.isdir(VALIDATOR) and shutil.which("node"):     # installed by launch/test.sh where npm exists
    script = ("const v=require(process.argv[1]);v.validateBytes(new Uint8Array(require('fs').readFileSync("
              "process.argv[2]))).then(r=>console.log(JSON.stringify(r.issues)))")
    out = subprocess.run(["node", "-e", script, VALIDATOR, path], capture_output=True, text=True, timeout=120)
    issues = json.loads(out.stdout)
    assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, issues["messages"][:5]


def test_live_link_csv_has_the_apps_columns(weights, tmp_path):
  path = livelink.write_csv(str(tmp_path / "a.csv"), weights)
  with open(path) as f:
    rows = list(csv.reader(f))
  head = rows[0]
  assert head[:4] == ["Timecode", "BlendShapeCount", "EyeBlinkLeft", "EyeLookDownLeft"]
  assert head[-9:] == list(livelink.ROTATIONS) and len(head) == 2 + 52 + 9
  assert head.index("JawOpen") == 2 + 17 and head[-10] == "TongueOut"
  assert len(rows) == 46 and rows[1][:2] == ["00:00:00:00.000", "61"] and rows[31][0] == "00:00:01:00.000"
  for name in ("JawOpen", "MouthClose", "BrowInnerUp", "EyeBlinkRight"):
    column = np.array([float(r[head.index(name)]) for r in rows[1:]])
    np.testing.assert_allclose(column, weights[:, arkit.INDEX[name[0].lower() + name[1:]]], atol=1e-6)
  assert all(r[-9:] == ["0"] * 9 for r in rows[1:])


def test_frame_json_and_point_cache_round_trip(weights, tmp_path):
  data = json.load(open(rig_formats.write_json(str(tmp_path / "a.json"), weights)))
  assert data["fps"] == 30 and data["names"] == list(arkit.NAMES) and len(data["frames"]) == 45
  assert data["frames"][30]["time"] == 1.0 and data["frames"][30]["weights"]["jawOpen"] == pytest.approx(
      float(weights[30, arkit.INDEX["jawOpen"]]), abs=1e-6)
  verts = np.random.default_rng(1).normal(size=(12, 468, 3)).astype(np.float32)
  np.testing.assert_array_equal(rig_formats.read_pc2(rig_formats.write_pc2(str(tmp_path / "a.pc2"), verts)), verts)


def test_every_rig_writer_keeps_weights_in_the_arkit_range(tiny, tmp_path):
  """Weights a run sampled outside [0, 1] (one trained before clip_x0) reach no rig: the .glb, the Live Link CSV,
  the JSON frames and the .npy are clamped, and the sidecar says how many were."""
  from dt_jax.inference import outputs  # pylint: disable=g-import-not-at-top
  w = np.random.default_rng(2).uniform(-0.3, 1.3, (20, 52)).astype(np.float32)
  rows = list(csv.reader(open(livelink.write_csv(str(tmp_path / "a.csv"), w))))
  values = np.array([[float(v) for v in r[2:2 + 52]] for r in rows[1:]])
  assert values.min() == 0.0 and values.max() == 1.0
  frames = json.load(open(rig_formats.write_json(str(tmp_path / "a.json"), w)))["frames"]
  flat = [v for f in frames for v in f["weights"].values()]
  assert min(flat) == 0.0 and max(flat) == 1.0 and rig_formats.frame_record(0, w[0])["weights"] == frames[0]["weights"]
  audio = np.zeros(int(20 * 16000 / 30) + 10, np.float32)
  written = outputs.write(tiny, w, audio, out_dir=str(tmp_path / "out"), stem="clip", speaker=0,
                          formats=outputs.Formats(render=False, gltf=True))
  assert np.load(written["npy"]).min() == 0.0 and np.load(written["npy"]).max() == 1.0
  outside = int(np.sum((w < 0) | (w > 1)))
  assert f"{outside} weights outside [0, 1] were clamped" in json.load(open(written["json"]))["note"]
  import pygltflib  # pylint: disable=g-import-not-at-top
  g = pygltflib.GLTF2().load(written["gltf"])
  acc = g.accessors[g.animations[0].samplers[0].output]
  view = g.bufferViews[acc.bufferView]
  animated = np.frombuffer(g.binary_blob(), "<f4", acc.count, view.byteOffset)
  assert animated.min() == 0.0 and animated.max() == 1.0
