"""Scores against the true distribution: closed-form and property cases on small arrays."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dt_jax.eval import distribution
from dt_jax.eval import metrics

REGIONS = metrics.Regions(lips=np.array([0, 1]), eye_forehead=np.array([2, 3]), upper_face=np.array([2, 3, 4]))


def _sets(seed=0, b=2, n=6, k=6, t=12, v=5):
  rng = np.random.default_rng(seed)
  truth = rng.normal(size=(b, k, t, v, 3)).astype(np.float32)
  model = rng.normal(size=(b, n, t, v, 3)).astype(np.float32)
  template = np.zeros((b, v, 3), np.float32)
  mask = np.ones((b, t), np.float32)
  mask[1, 9:] = 0.0
  return model, truth, template, mask


def _stats(samples, alternates, template, mask, idx=REGIONS.upper_face):
  return jax.tree.map(np.asarray, distribution.region_stats(jnp.asarray(samples), jnp.asarray(alternates),
                                                            template=jnp.asarray(template), mask=jnp.asarray(mask),
                                                            idx=idx))


def test_energy_of_a_set_to_itself_is_zero_and_symmetric():
  model, truth, template, mask = _sets()
  x = distribution._trajectories(jnp.asarray(model), jnp.asarray(template), REGIONS.upper_face, jnp.asarray(mask))
  y = distribution._trajectories(jnp.asarray(truth), jnp.asarray(template), REGIONS.upper_face, jnp.asarray(mask))
  scale = jnp.sum(jnp.asarray(mask), -1) * 3
  d = lambda a, b: distribution.distances(a, b, scale=scale)
  np.testing.assert_allclose(distribution.energy(d(x, x), d(x, x), d(x, x)), 0.0, atol=1e-5)
  np.testing.assert_allclose(distribution.energy(d(x, y), d(x, x), d(y, y)),
                             distribution.energy(d(y, x), d(y, y), d(x, x)), rtol=1e-5)
  assert np.all(np.asarray(distribution.energy(d(x, y), d(x, x), d(y, y))) > 0)


def test_samples_equal_to_the_alternates_score_diversity_one_and_the_least_distance():
  _, truth, template, mask = _sets()
  s = _stats(truth, truth, template, mask)
  np.testing.assert_allclose(s["div_model"] / s["div_truth"], 1.0, rtol=1e-6)
  np.testing.assert_allclose(s["energy"], 0.0, atol=1e-5)
  assert np.all(s["energy"] <= s["energy_floor"]) and np.all(s["energy_floor"] < s["energy_static"])


def test_fresh_draws_of_the_truth_sit_at_the_floor_on_average():
  """Independent samples of the same distribution score, on average, the floor (the alternates' halves against each
  other, rescaled to the sets' sizes), for any number of samples."""
  for n in (4, 8, 16):
    model, truth, template, mask = _sets(b=300, n=n, k=8, t=6, v=5, seed=n)
    s = _stats(model, truth, template, mask)
    assert np.mean(s["energy"]) == pytest.approx(np.mean(s["energy_floor"]), rel=0.15), n


def test_a_constant_model_has_no_diversity_and_permutations_change_nothing():
  model, truth, template, mask = _sets()
  const = np.repeat(model[:, :1], model.shape[1], axis=1)
  assert np.all(_stats(const, truth, template, mask)["div_model"] == pytest.approx(0.0, abs=1e-6))
  perm = np.random.default_rng(1).permutation(model.shape[1])
  a, b = _stats(model, truth, template, mask), _stats(model[:, perm], truth, template, mask)
  for key in ("div_model", "energy"):
    np.testing.assert_allclose(a[key], b[key], rtol=1e-5)


def test_best_of_n_with_the_truth_among_the_samples_is_zero():
  model, truth, _, mask = _sets()
  samples = np.concatenate([model[:, :3], truth[:, :1], model[:, 3:]], axis=1)
  out = jax.tree.map(np.asarray, distribution.best_and_mean(jnp.asarray(samples), jnp.asarray(truth[:, 0]),
                                                            mask=jnp.asarray(mask), regions=REGIONS))
  np.testing.assert_allclose(out["best_lve_sum"], 0.0, atol=1e-6)
  assert np.all(out["mean_lve_sum"] > 0) and np.all(out["probtalk_diversity"] > 0)
  same = jax.tree.map(np.asarray, distribution.best_and_mean(jnp.asarray(np.repeat(truth[:, :1], 3, 1)),
                                                             jnp.asarray(truth[:, 0]), mask=jnp.asarray(mask),
                                                             regions=REGIONS))
  np.testing.assert_allclose(same["probtalk_diversity"], 0.0, atol=1e-6)
