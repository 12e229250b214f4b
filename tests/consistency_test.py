"""Consistency distillation: the boundary condition holds by construction, a student equal to the teacher's DDIM
ODE map meets every target exactly, one multistep step is one application of f, and the step shards."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dt_jax.diffusion import consistency
from dt_jax.diffusion import samplers
from dt_jax.diffusion import schedule
from dt_jax.distill import targets

N = 8


def _teacher(dim=6):
  """A small random network as the teacher's x prediction: any function of (z, lambda) will do."""
  k1, k2 = jax.random.split(jax.random.PRNGKey(3))
  w1, w2 = jax.random.normal(k1, (dim + 1, 16)) / 3, jax.random.normal(k2, (16, dim)) / 4
  return lambda z, lam: jnp.tanh(jnp.concatenate([z, jnp.broadcast_to(lam[:, None, None] / 20, z.shape[:-1] + (1,))],
                                                 -1) @ w1) @ w2


def _ode_map(teacher, z, i):
  """The x at the end of the teacher's DDIM trajectory from u = i / N: what a perfect consistency student returns."""
  b = z.shape[0]
  for j in range(i, 0, -1):
    lam_t = jnp.full((b,), schedule.logsnr_t(j / N))
    lam_s = jnp.full((b,), schedule.logsnr_t((j - 1) / N))
    z = samplers.ddim_step(z=z, x_pred=teacher(z, lam_t), logsnr_t=lam_t, logsnr_s=lam_s)
  alpha0, _ = schedule.alpha_sigma(schedule.logsnr_t(0.0))
  return z / alpha0


def test_the_boundary_condition_holds_whatever_the_network():
  z = jax.random.normal(jax.random.PRNGKey(0), (3, 5, 6))
  lam0 = jnp.full((3,), schedule.logsnr_t(0.0))
  alpha0, _ = schedule.alpha_sigma(lam0[0])
  for x_net in (jnp.zeros_like(z), 1e3 * jnp.ones_like(z)):
    np.testing.assert_allclose(consistency.consistency_fn(z=z, x_net=x_net, logsnr=lam0), z / alpha0, rtol=1e-6)
  assert float(consistency.c_skip(schedule.logsnr_t(0.0))) == 1.0 and float(consistency.c_out(
      schedule.logsnr_t(0.0))) == 0.0
  assert float(consistency.c_skip(schedule.logsnr_t(1.0))) < 1e-6        # at pure noise f is the network


@pytest.mark.parametrize("i", [0, 3, N - 1])
def test_a_student_equal_to_the_teachers_ode_map_has_zero_loss(i):
  teacher = _teacher()
  z = jax.random.normal(jax.random.PRNGKey(1), (4, 7, 6))
  ode = lambda zz, lam: _ode_map(teacher, zz, int(round(float(_u(lam[0])) * N)))
  target = targets.consistency_target(teacher, ode, z=z, i=jnp.full((4,), i), num_teacher_steps=N)
  student = _ode_map(teacher, z, i + 1)                                  # f(z_u, u), u = (i + 1) / N
  np.testing.assert_allclose(student, target, atol=1e-5)


def _u(lam):
  """The time u of a log-SNR on the cosine schedule (inverse of schedule.logsnr_t)."""
  b = np.arctan(np.exp(-0.5 * schedule.LOGSNR_MAX))
  a = np.arctan(np.exp(-0.5 * schedule.LOGSNR_MIN)) - b
  return (np.arctan(np.exp(-0.5 * float(lam))) - b) / a


def test_multistep_sampling_with_one_step_is_one_application_of_f():
  teacher = _teacher()
  f = lambda z, lam: consistency.consistency_fn(z=z, x_net=teacher(z, lam), logsnr=lam)
  z = jax.random.normal(jax.random.PRNGKey(2), (2, 9, 6))
  np.testing.assert_array_equal(consistency.sample(f, z_init=z, num_steps=1), f(z, jnp.full((2,), schedule.logsnr_t(1.0))))
  two = consistency.sample(f, z_init=z, num_steps=2)
  x1 = f(z, jnp.full((2,), schedule.logsnr_t(1.0)))
  lam = jnp.full((2,), schedule.logsnr_t(0.5))
  again = f(jnp.sqrt(jax.nn.sigmoid(lam))[:, None, None] * x1 + jnp.sqrt(jax.nn.sigmoid(-lam))[:, None, None]
            * consistency.fresh_noise(z, 1), lam)
  np.testing.assert_allclose(two, again, rtol=1e-5, atol=1e-6)
  assert not np.allclose(consistency.fresh_noise(z, 1), z)
