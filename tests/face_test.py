"""The canonical mesh, the ARKit names, rigs, and the procedural blendshape basis."""
import numpy as np
import pytest

from dt_jax.face import arkit
from dt_jax.face import mesh
from dt_jax.face import rig as rig_lib
from tfds_builders.synthetic_talkers import corpus
from tfds_builders.synthetic_talkers import face_model
from tfds_builders.synthetic_talkers import synthetic_talkers_dataset_builder

_NEUTRAL = dict(scale=1.0, width=0.0, height=0.0, depth=0.0, mouth_width=0.0, lip_thickness=0.0,
                nose_length=0.0, jaw_width=0.0, chin_length=0.0, brow_height=0.0, eye_spacing=0.0)


def _lip_gap_mm(v):
  up, lo = list(mesh.LIPS_INNER_UPPER[1:-1]), list(mesh.LIPS_INNER_LOWER[1:-1])
  return 1000 * np.max(v[up, 1] - v[lo, 1])


def test_arkit_order_is_emotalk():
  assert arkit.NAMES[0] == "browDownLeft" and arkit.NAMES[-1] == "tongueOut"
  assert arkit.INDEX["eyeBlinkLeft"] == 8 and arkit.INDEX["jawOpen"] == 24 and arkit.INDEX["mouthClose"] == 26


def test_canonical_mesh_is_open_with_a_closed_neutral():
  m = mesh.canonical()
  assert m.vertices.shape == (468, 3) and m.faces.shape == (898 - 18 - 28, 3)
  inner = set(mesh.LIPS_INNER_UPPER + mesh.LIPS_INNER_LOWER)
  assert not any(set(f) <= inner for f in m.faces.tolist())      # mouth slit opened
  assert abs(_lip_gap_mm(m.vertices)) < 0.01                      # lips meet at rest (asset: 5.5 mm open)
  width = m.vertices[mesh.EAR_LEFT, 0] - m.vertices[mesh.EAR_RIGHT, 0]
  assert 0.14 < width < 0.17                                      # metres
  lips, eyes, upper = (set(m.regions[k].tolist()) for k in ("lips", "eye_forehead", "upper_face"))
  assert {0, 13, 14, 17, 61, 291} <= lips and not lips & eyes
  assert {159, 386, 10, 105, 334} <= eyes <= upper and not lips & upper


def test_obj_errors_name_the_file(tmp_path):
  bad = tmp_path / "bad.obj"
  bad.write_text("v 0 0 0\nv 1 x 0\n")
  with pytest.raises(ValueError, match="bad.obj:2"):
    mesh.read_obj(bad)


def test_basis_opens_closes_and_blinks():
  t = face_model.identity_template(_NEUTRAL)
  b = face_model.blendshape_basis(t)
  assert b.shape == (52, 468, 3) and np.all(np.isfinite(b))
  assert _lip_gap_mm(t + b[arkit.INDEX["jawOpen"]]) > 11.0           # upper minus lower: mouth open > 8 mm
  assert abs(_lip_gap_mm(t + b[arkit.INDEX["jawOpen"]] + b[arkit.INDEX["mouthClose"]])) < 0.2   # lips meet
  lid = lambda v: 1000 * (v[386, 1] - v[374, 1])
  assert lid(t) > 5.0 and lid(t + b[arkit.INDEX["eyeBlinkLeft"]]) < 0.6
  assert lid(t + b[arkit.INDEX["eyeBlinkRight"]]) == pytest.approx(lid(t))   # the other eye stays open
  brow = b[arkit.INDEX["browInnerUp"], 107, 1]
  assert brow > 0.003                                                 # brows rise by millimetres


def test_no_weights_in_the_unit_cube_fold_the_face():
  """The rig never turns a triangle inside out: each shape alone and every pair at full weight, and 1500 sparse
  random mixtures in [0, 1]^52, on the neutral face and on every fourth corpus speaker's (whose warps fold nothing
  either). docs/findings.md has the count over every speaker and dense mixtures."""
  canon = mesh.canonical()
  rng = np.random.default_rng(0)
  i, j = np.triu_indices(52)
  pairs = np.zeros((len(i), 52))
  pairs[np.arange(len(i)), i] = pairs[np.arange(len(i)), j] = 1.0
  sparse = rng.uniform(0, 1, (1500, 52)) * (rng.uniform(size=(1500, 52)) < 0.15)
  weights = np.concatenate([pairs, sparse])
  speakers = corpus.make_speakers(synthetic_talkers_dataset_builder.SyntheticTalkersConfig(name="x").roster, seed=0)
  for t in [face_model.identity_template(_NEUTRAL), *(face_model.identity_template(dict(s.face))
                                                      for s in speakers[::4])]:
    assert not mesh.inverted_triangles(t, canon.faces, canon.vertices).any()
    rig = rig_lib.Rig(speakers=("s",), templates=t[None], faces=canon.faces, regions={},
                      basis=face_model.blendshape_basis(t)[None])
    folds = rig.folds(weights, 0)
    assert folds.max() == 0, f"{(folds > 0).sum()} of {len(weights)} weight vectors fold the face"


def test_the_corpus_never_folds_the_face(tiny):
  """Every frame of every true motion (and alternate) of the test splits, on its speaker's face: 0 inverted."""
  frames = 0
  for name in (s for s in tiny.splits if s.startswith("test")):
    for ex in tiny.splits[name]:
      for motion in [ex["motion"], *ex.get("motion_alternates", [])]:
        folds = tiny.rig.folds(motion, int(ex["speaker"]))
        assert folds.max() == 0, f"{name} {ex['key']}: {(folds > 0).sum()} frames fold"
        frames += len(motion)
  assert frames > 1000


def test_flip_edge_keeps_orientation():
  v = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float64)
  faces = np.array([[0, 1, 2], [0, 2, 3]])                                   # diagonal 0-2
  flipped = mesh.flip_edge(faces, 0, 2)
  assert sorted(map(sorted, flipped.tolist())) == [[0, 1, 3], [1, 2, 3]]     # diagonal 1-3
  assert (mesh.triangle_normals(v, flipped)[:, 2] > 0).all()
  with pytest.raises(ValueError, match="not shared"):
    mesh.flip_edge(faces, 0, 1)


def test_basis_scales_with_the_face():
  t = face_model.identity_template(_NEUTRAL)
  big = face_model.identity_template(dict(_NEUTRAL, scale=1.2))
  ratio = (np.abs(face_model.blendshape_basis(big)).max() / np.abs(face_model.blendshape_basis(t)).max())
  assert ratio == pytest.approx(1.2, rel=1e-3)


def test_rig_round_trip_and_vertices(tmp_path):
  t = face_model.identity_template(_NEUTRAL)
  b = face_model.blendshape_basis(t)
  m = mesh.canonical()
  rig = rig_lib.Rig(speakers=("A", "B"), templates=np.stack([t, t + 0.01]), faces=m.faces, regions=m.regions,
                    basis=np.stack([b, b]))
  rig.save(str(tmp_path / "rig.npz"))
  back = rig_lib.Rig.load(str(tmp_path / "rig.npz"))
  assert back.speakers == ("A", "B") and np.array_equal(back.basis, rig.basis)
  w = np.zeros((3, 52), np.float32)
  w[1, arkit.INDEX["jawOpen"]] = 1.0
  v = back.vertices(w, "B")
  np.testing.assert_allclose(v[0], t + 0.01, atol=1e-7)
  np.testing.assert_allclose(v[1], t + 0.01 + b[arkit.INDEX["jawOpen"]], atol=1e-6)
  with pytest.raises(ValueError, match="channels"):
    back.vertices(np.zeros((3, 7)), 0)


def test_rig_load_rejects_bad_files(tmp_path):
  (tmp_path / "junk.npz").write_bytes(b"not a zip")
  with pytest.raises(ValueError, match="junk.npz"):
    rig_lib.Rig.load(str(tmp_path / "junk.npz"))
  np.savez(tmp_path / "partial.npz", speakers=np.array(["A"]), templates=np.zeros((1, 3, 3)),
           faces=np.zeros((1, 3), int), region_lips=np.array([0]))
  with pytest.raises(ValueError, match="eye_forehead"):
    rig_lib.Rig.load(str(tmp_path / "partial.npz"))
