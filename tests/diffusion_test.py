"""Diffusion math: schedule endpoints, round trips, losses, and samplers that return x0 given the true x0."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dt_jax.diffusion import guidance
from dt_jax.diffusion import losses
from dt_jax.diffusion import process
from dt_jax.diffusion import samplers
from dt_jax.diffusion import schedule


def test_schedule_endpoints_and_monotone():
  assert float(schedule.logsnr_t(0.0)) == pytest.approx(20.0, abs=1e-3)
  assert float(schedule.logsnr_t(1.0)) == pytest.approx(-20.0, abs=5e-3)     # float32 tan near pi/2
  assert float(schedule.logsnr_t(0.0, logsnr_min=-10.0, logsnr_max=5.0)) == pytest.approx(5.0, abs=1e-4)
  lam = schedule.logsnr_t(schedule.u_grid(16))
  assert lam.shape == (17,) and bool(jnp.all(jnp.diff(lam) < 0))
  assert float(schedule.logsnr_t(0.5)) == pytest.approx(0.0, abs=1e-4)     # symmetric limits: SNR 1 halfway
  alpha, sigma = schedule.alpha_sigma(lam)
  np.testing.assert_allclose(alpha ** 2 + sigma ** 2, 1.0, atol=1e-6)


def test_schedule_is_exact_on_every_grid_in_float32():
  """lambda(u) to float32 rounding on the grids the samplers use, the ill-conditioned end u -> 1 included."""
  b, a = np.arctan(np.exp(-10.0)), np.arctan(np.exp(10.0)) - np.arctan(np.exp(-10.0))
  for n in (1, 2, 4, 8, 16):
    u = np.arange(n + 1) / n
    exact = -2.0 * np.log(np.tan(a * u + b))                                    # float64
    got = np.asarray(jax.jit(schedule.logsnr_t)(jnp.asarray(u, jnp.float32)))
    np.testing.assert_allclose(got, exact, atol=2e-5)
  assert float(schedule.logsnr_t(1.0)) == pytest.approx(-20.0, abs=1e-5)


def test_unrolled_sampler_equals_the_loop():
  denoise = lambda z, logsnr: jnp.tanh(z) * jax.nn.sigmoid(logsnr)[:, None, None]
  z = jax.random.normal(jax.random.PRNGKey(0), (2, 5, 3))
  looped = samplers.sample(denoise, z_init=z, num_steps=4)
  unrolled = samplers.sample(denoise, z_init=z, num_steps=4, unroll=True)
  np.testing.assert_allclose(np.asarray(unrolled), np.asarray(looped), atol=1e-6)


def test_round_trips():
  k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
  x = jax.random.normal(k1, (3, 5, 4))
  eps = jax.random.normal(k2, (3, 5, 4))
  logsnr = jax.random.uniform(k3, (3,), minval=-8.0, maxval=8.0)
  z = process.z_t(x=x, eps=eps, logsnr=logsnr)
  v = process.v_from_x_eps(x=x, eps=eps, logsnr=logsnr)
  np.testing.assert_allclose(process.x_from_eps(z=z, eps=eps, logsnr=logsnr), x, atol=2e-4)
  np.testing.assert_allclose(process.eps_from_x(z=z, x=x, logsnr=logsnr), eps, atol=2e-4)
  np.testing.assert_allclose(process.x_from_v(z=z, v=v, logsnr=logsnr), x, atol=1e-5)
  np.testing.assert_allclose(process.eps_from_v(z=z, v=v, logsnr=logsnr), eps, atol=1e-5)


def test_x0_loss_weights_and_masks():
  x = jnp.zeros((2, 4, 3))
  x_pred = x.at[:, :2].set(1.0).at[:, 2:].set(5.0)           # frames 2,3 wrong by 5 but masked in row 0
  mask = jnp.array([[1, 1, 0, 0], [1, 1, 1, 1]], jnp.float32)
  loss = losses.x0_loss(x_pred=x_pred, x=x, logsnr=jnp.array([jnp.log(4.0), -3.0]), mask=mask)
  np.testing.assert_allclose(loss, [4.0 * 1.0, 1.0 * (1 + 1 + 25 + 25) / 4], rtol=1e-5)


def test_velocity_loss_sees_motion_not_offsets_and_masks():
  x = jnp.zeros((2, 4, 3))
  offset = x + 7.0                                            # right motion, wrong place: no velocity error
  np.testing.assert_allclose(losses.velocity_loss(x_pred=offset, x=x, logsnr=jnp.zeros(2), mask=jnp.ones((2, 4))),
                             [0.0, 0.0], atol=1e-6)
  x_pred = x.at[:, 1].set(1.0).at[:, 3].set(5.0)             # differences 1, -1, 5 along time
  mask = jnp.array([[1, 1, 1, 0], [1, 1, 1, 1]], jnp.float32)   # row 0: the pair (2, 3) has a padded frame
  loss = losses.velocity_loss(x_pred=x_pred, x=x, logsnr=jnp.array([jnp.log(4.0), -3.0]), mask=mask)
  np.testing.assert_allclose(loss, [4.0 * (1 + 1) / 2, 1.0 * (1 + 1 + 25) / 3], rtol=1e-5)


@pytest.mark.parametrize("sampler", ["ddim", "ancestral"])
@pytest.mark.parametrize("num_steps", [1, 2, 16])
def test_true_x0_prediction_returns_x0(sampler, num_steps):
  x0 = jax.random.normal(jax.random.PRNGKey(1), (2, 6, 3))
  z = jax.random.normal(jax.random.PRNGKey(2), x0.shape)
  calls = []

  def denoise(z_t, logsnr):
    calls.append(logsnr.shape)
    return x0

  fn = jax.jit(lambda z: samplers.sample(denoise, z_init=z, num_steps=num_steps, sampler=sampler,
                                         rng=jax.random.PRNGKey(3)))
  np.testing.assert_allclose(fn(z), x0, atol=1e-6)
  assert calls == [(2,)]                       # traced once: a lax loop, not a Python loop


def test_ddim_step_is_deterministic_and_consistent():
  x0 = jnp.ones((1, 2, 2))
  eps = jnp.full((1, 2, 2), 0.5)
  lt, ls = jnp.array([-2.0]), jnp.array([3.0])
  z = process.z_t(x=x0, eps=eps, logsnr=lt)
  # With the true x0, DDIM moves along the same noise: z_s = alpha_s x0 + sigma_s eps.
  np.testing.assert_allclose(samplers.ddim_step(z=z, x_pred=x0, logsnr_t=lt, logsnr_s=ls),
                             process.z_t(x=x0, eps=eps, logsnr=ls), atol=1e-6)


def test_ancestral_step_matches_the_posterior_variance():
  z = jnp.zeros((20000, 1))
  lt, ls = jnp.full((20000,), -1.0), jnp.full((20000,), 2.0)
  noise = jax.random.normal(jax.random.PRNGKey(0), z.shape)
  out = samplers.ancestral_step(z=z, x_pred=jnp.zeros_like(z), logsnr_t=lt, logsnr_s=ls, noise=noise)
  _, sigma_s = schedule.alpha_sigma(2.0)
  expected_var = (1 - np.exp(-1.0 - 2.0)) * float(sigma_s) ** 2
  assert float(jnp.var(out)) == pytest.approx(expected_var, rel=0.05)


def test_bad_sampler_arguments():
  with pytest.raises(ValueError, match="unknown sampler"):
    samplers.sample(lambda z, l: z, z_init=jnp.zeros((1, 2)), num_steps=2, sampler="euler")
  with pytest.raises(ValueError, match="needs an rng"):
    samplers.sample(lambda z, l: z, z_init=jnp.zeros((1, 2)), num_steps=2, sampler="ancestral")


def test_guidance_combination_and_condition_dropout_share():
  x_c, x_u = jnp.full((2, 3), 2.0), jnp.full((2, 3), 0.5)
  np.testing.assert_allclose(guidance.x_guided(x_cond=x_c, x_uncond=x_u, w=1.0), x_c)
  np.testing.assert_allclose(guidance.x_guided(x_cond=x_c, x_uncond=x_u, w=0.0), x_u)
  np.testing.assert_allclose(guidance.x_guided(x_cond=x_c, x_uncond=x_u, w=3.0), 5.0)
  keep = guidance.keep(jax.random.PRNGKey(0), batch=20000, drop=0.1)
  assert set(np.unique(keep)) == {0.0, 1.0} and abs(1.0 - float(keep.mean()) - 0.1) < 0.01
  assert np.all(guidance.keep(jax.random.PRNGKey(0), batch=8, drop=0.0) == 1.0)
  with pytest.raises(ValueError, match="condition dropout"):
    guidance.keep(jax.random.PRNGKey(0), batch=8, drop=1.0)
