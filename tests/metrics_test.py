"""Metrics with closed-form answers."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dt_jax.eval import metrics

V = 6
REGIONS = metrics.Regions(lips=np.array([0, 1]), eye_forehead=np.array([4, 5]), upper_face=np.array([3, 4, 5]))


def _seq(t=10, seed=0):
  rng = np.random.default_rng(seed)
  template = rng.normal(size=(V, 3)).astype(np.float32)
  return template, template + 0.1 * rng.normal(size=(t, V, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def stats_fn():
  return jax.jit(lambda p, g, tpl, m: metrics.sequence_stats(p, g, template=tpl, mask=m, regions=REGIONS))


def test_identical_sequences_score_zero(stats_fn):
  tpl, gt = _seq()
  acc = metrics.Accumulator()
  acc.add(stats_fn(gt[None], gt[None], tpl[None], jnp.ones((1, 10))))
  r = acc.result()
  assert r["lve"] == r["eve"] == r["mve"] == 0.0 and r["frames"] == 10
  assert r["fdd"] == pytest.approx(0.0, abs=1e-8)


def test_known_offset_gives_its_square(stats_fn):
  tpl, gt = _seq()
  pred = gt.copy()
  pred[:, 1] += np.array([0.3, 0.4, 0.0])        # one lip vertex off by 0.5
  pred[:, 5] += np.array([0.0, 0.0, 0.2])        # one eye vertex off by 0.2
  acc = metrics.Accumulator()
  acc.add(stats_fn(pred[None], gt[None], tpl[None], jnp.ones((1, 10))))
  r = acc.result()
  assert r["lve"] == pytest.approx(0.25, rel=1e-5) and r["eve"] == pytest.approx(0.04, rel=1e-4)
  assert r["mve"] == pytest.approx(0.25, rel=1e-5)
  assert metrics.in_paper_units(r)["lve"] == pytest.approx(0.25e5, rel=1e-5)


def test_static_prediction_fdd_equals_ground_truth_dynamics(stats_fn):
  tpl, gt = _seq(t=12, seed=1)
  pred = np.repeat(gt[:1], 12, axis=0)            # no motion at all
  acc = metrics.Accumulator()
  acc.add(stats_fn(pred[None], gt[None], tpl[None], jnp.ones((1, 12))))
  d2 = np.sum((gt[:, REGIONS.upper_face] - tpl[REGIONS.upper_face]) ** 2, axis=-1)
  expected = d2.std(axis=0).mean()                # np.std, ddof = 0
  assert acc.result()["fdd"] == pytest.approx(expected, rel=1e-5) and acc.result()["abs_fdd"] > 0


def test_frames_pool_and_padding_is_ignored(stats_fn):
  tpl, gt = _seq(t=20)
  pred = gt.copy()
  pred[:, 0, 0] += 1.0                               # every frame: lip error 1
  pred[10:, 0, 0] += 1.0                             # frames 10..19: lip error 4
  mask = np.ones((2, 20), np.float32)
  mask[0, 5:] = 0                                    # sequence 0: 5 real frames (error 1)
  acc = metrics.Accumulator()
  acc.add(stats_fn(np.stack([pred, pred]), np.stack([gt, gt]), np.stack([tpl, tpl]), mask))
  r = acc.result()
  assert r["frames"] == 25
  assert r["lve"] == pytest.approx((5 * 1 + 10 * 1 + 10 * 4) / 25, rel=1e-5)   # pooled over frames
  # FDD is a mean over sequences; a filler row (valid = 0) does not count.
  acc2 = metrics.Accumulator()
  acc2.add(stats_fn(np.stack([pred, pred]), np.stack([gt, gt]), np.stack([tpl, tpl]), mask), valid=[1, 0])
  assert acc2.result()["sequences"] == 1


def test_fdd_ignores_padded_frames():
  tpl, gt = _seq(t=8)
  padded = np.concatenate([gt, np.zeros((4, V, 3), np.float32)])
  mask = np.r_[np.ones(8), np.zeros(4)].astype(np.float32)
  a = metrics.dynamics(jnp.asarray(padded), template=tpl, idx=REGIONS.upper_face, mask=mask)
  b = metrics.dynamics(jnp.asarray(gt), template=tpl, idx=REGIONS.upper_face, mask=np.ones(8, np.float32))
  assert float(a) == pytest.approx(float(b), rel=1e-6)


def test_blendshapes_through_the_rig(tiny):
  rig = tiny.rig
  ex = tiny.splits["test"][0]
  s = int(ex["speaker"])
  v = metrics.blendshapes_to_vertices(jnp.asarray(ex["motion"]), template=rig.templates[s], basis=rig.basis[s])
  np.testing.assert_allclose(np.asarray(v), rig.vertices(ex["motion"], s), atol=1e-6)
  regions = metrics.Regions.from_rig(rig)
  zero = np.zeros_like(ex["motion"])                 # a neutral face against the real motion
  vz = metrics.blendshapes_to_vertices(jnp.asarray(zero), template=rig.templates[s], basis=rig.basis[s])
  st = metrics.sequence_stats(vz[None], v[None], template=rig.templates[s][None],
                              mask=jnp.ones((1, len(zero))), regions=regions)
  acc = metrics.Accumulator()
  acc.add(st)
  r = metrics.in_paper_units(acc.result())
  assert r["lve"] > r["eve"] > 0 and r["fdd"] > 0       # speech moves the lips most; neutral has no dynamics
