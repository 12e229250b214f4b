"""The step-halving target (Salimans & Ho 2022, "Progressive distillation for fast sampling of diffusion models").

A student with N/2 steps works on the grid u_i = i / (N/2); its teacher on u_j = j / N. For student index
i in {0 .. N/2 - 1}, u = (i + 1) / (N/2): the teacher takes two deterministic DDIM steps u -> u - 1/N -> u - 2/N from
z_u, landing on z''. The x-target is the x for which ONE student DDIM step u -> u'' = u - 2/N lands exactly on z'':

  x~ = (z'' - (sigma_u'' / sigma_u) z_u) / (alpha_u'' - (sigma_u'' / sigma_u) alpha_u),

with sigma_u'' / sigma_u = exp(0.5 (softplus(lambda_u) - softplus(lambda_u''))). Where i == 0 (u'' = 0, the
denominator degenerates) the target is the teacher's last x prediction, which is what its sampler returns.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from dt_jax.diffusion import process
from dt_jax.diffusion import samplers
from dt_jax.diffusion import schedule


def student_logsnrs(i, *, num_student_steps: int):
  """(lambda_u, lambda_u', lambda_u'') [B] each: the student's start, the teacher's midpoint, the student's end."""
  n = 2 * num_student_steps                                                    # the teacher's step count
  u = (i + 1) / num_student_steps
  return (schedule.logsnr_t(u), schedule.logsnr_t(u - 1.0 / n), schedule.logsnr_t(u - 2.0 / n))


def x_from_two_steps(*, z, z_pp, logsnr_t, logsnr_s):
  """x~ with ddim_step(z=z, x_pred=x~, logsnr_t, logsnr_s) == z_pp.  z, z_pp: [B, ...]; logsnr_*: [B]."""
  bt = lambda v: process.broadcast_left(v, z)
  alpha_t, _ = schedule.alpha_sigma(bt(logsnr_t))
  alpha_s, _ = schedule.alpha_sigma(bt(logsnr_s))
  ratio = jnp.exp(0.5 * (jax.nn.softplus(bt(logsnr_t)) - jax.nn.softplus(bt(logsnr_s))))   # sigma_s / sigma_t
  return (z_pp - ratio * z) / (alpha_s - ratio * alpha_t)


def x_target(teacher_denoise: Callable, *, z, i, num_student_steps: int):
  """The student's x-target [B, ...] for noisy input z [B, ...] at student index i [B] (int).

  teacher_denoise(z, logsnr [B]) -> x prediction: the frozen teacher, given the same audio and conditions as the
  student. Returns (x~, aux) with aux = {'z_pp': the teacher's two-step result, 'x_last': its second prediction}.
  """
  lam_u, lam_mid, lam_pp = student_logsnrs(i, num_student_steps=num_student_steps)
  x1 = teacher_denoise(z, lam_u)
  z_mid = samplers.ddim_step(z=z, x_pred=x1, logsnr_t=lam_u, logsnr_s=lam_mid)
  x2 = teacher_denoise(z_mid, lam_mid)
  z_pp = samplers.ddim_step(z=z_mid, x_pred=x2, logsnr_t=lam_mid, logsnr_s=lam_pp)
  x_t = x_from_two_steps(z=z, z_pp=z_pp, logsnr_t=lam_u, logsnr_s=lam_pp)
  x_t = jnp.where(process.broadcast_left(i == 0, z), x2, x_t)
  return jax.lax.stop_gradient(x_t), {"z_pp": z_pp, "x_last": x2}


def consistency_target(teacher_denoise: Callable, f_target: Callable, *, z, i, num_teacher_steps: int):
  """The consistency-distillation target [B, ...] for z [B, ...] at u = (i + 1) / N (i [B] int, N the teacher's
  steps): one deterministic DDIM step of the frozen teacher to u' = i / N, then the target network's consistency
  function there, f_target(z', lambda_u'). A student whose f is the teacher's ODE map (x at the end of the
  teacher's DDIM trajectory) meets it exactly, at every step."""
  lam_u = schedule.logsnr_t((i + 1) / num_teacher_steps)
  lam_next = schedule.logsnr_t(i / num_teacher_steps)
  z_next = samplers.ddim_step(z=z, x_pred=teacher_denoise(z, lam_u), logsnr_t=lam_u, logsnr_s=lam_next)
  return jax.lax.stop_gradient(f_target(z_next, lam_next))
