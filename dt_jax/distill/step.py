"""The pure distill step: one optimizer step of the N/2-step student against the frozen N-step teacher.

  L = L_dis + w_ae L_ae + w_pc L_pc + w_id L_id + w_emo L_emo        (encoder_only: L = L_out or L_ae)
L_dis: max(SNR, 1) ||x_student - x~||^2 with x~ the two-teacher-steps target (targets.py); teacher and student see
the same z, noise level and audio (a teacher with a frozen pretrained encoder reads that audio's cached features,
`batch["features"]`); a guided teacher (classifier-free guidance, diffusion/guidance.py) teaches with its guided
predictions, so the student samples unguided with the guidance built in; where the data has a range (`x_range`)
the teacher's predictions are clipped to it, as its sampler does. L_ae: the student's (projected)
audio features against the frozen teacher encoder's, frame-aligned (encoder compression). L_pc: the enhancer
(enhancer.py). L_id, L_emo: the personalizer's InfoNCE terms, as in the teacher. `encoder_only` is the
encoder-compression stage before the first round: only the student's encoder and projection get gradients, from
L_out (the copied denoiser on the student's features against the teacher's x prediction at the same z and noise
level) or L_ae alone. With target="data" the teacher's target is replaced by the data (the `no_distillation`
baseline: a plain diffusion loss on the student's own grid). With target="consistency" (consistency distillation,
diffusion/consistency.py) L_dis is ||f_theta(z_u, u) - f_ema(z_u', u')||^2 over valid frames, z_u' one teacher DDIM
step nearer the data on the teacher's grid and f_ema the student's EMA (in the state): one student that samples in
any number of steps.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from dt_jax.diffusion import consistency
from dt_jax.diffusion import guidance as guidance_lib
from dt_jax.diffusion import losses as diffusion_losses
from dt_jax.diffusion import process
from dt_jax.diffusion import schedule
from dt_jax.distill import enhancer
from dt_jax.distill import targets
from dt_jax.models import talker
from dt_jax.train import step as train_step_lib


@dataclasses.dataclass(frozen=True)
class DistillConfig:
  num_student_steps: int
  target: str = "teacher"            # "teacher" (halving) | "data" (no_distillation) | "consistency" | "guided"
  ema_decay: float = 0.95            # consistency: the target network is this EMA of the student
  w_ae: float = 1.0                  # 0 once the encoder is compressed (rounds after the first)
  w_pc: float = 0.1                  # 0 = no enhancer
  w_identity: float = 0.1
  w_emotion: float = 0.1
  pc_temperature: float = 0.1
  face_channels: tuple[int, ...] = ()   # upper-face motion channels for L_pc
  encoder_only: bool = False         # the encoder-compression stage before the first round
  encoder_loss: str = "outputs"      # its loss: "outputs" (match the teacher's x prediction) | "features" (L_ae)
  teacher_guidance: float = 1.0      # the teacher's classifier-free guidance weight in its targets (round 1)
  cond_drop: float = 0.0             # share of examples whose conditioning teacher and student both drop, so the
                                     # student keeps an unconditional mode and can be sampled with guidance


class DistillState(flax.struct.PyTreeNode):
  step: jax.Array
  params: Any          # the student talker's parameters (all that is needed to sample)
  heads: Any           # training-only parameters: the enhancer's projections
  opt_state: Any
  ema: Any = None      # consistency distillation: the target network (an EMA of params); None otherwise


def create(params, heads, tx: optax.GradientTransformation, *, ema: bool = False) -> DistillState:
  return DistillState(step=jnp.zeros((), jnp.int32), params=params, heads=heads,
                      opt_state=tx.init({"student": params, "heads": heads}),
                      ema=jax.tree.map(jnp.array, params) if ema else None)


def _masked_mean(err, mask):        # err [B, T, ...] -> scalar over valid frames
  err = jnp.mean(err.reshape(err.shape[:2] + (-1,)), -1)
  return jnp.sum(err * mask) / jnp.maximum(jnp.sum(mask), 1.0)


ENCODER_PARAMS = ("audio_encoder", "encoder_projection")   # what the encoder stage trains


def _encoder_stage_loss(params, teacher_params, *, z, logsnr, audio, mask, t_feats, t_personal,
                        student: talker.Talker, teacher: talker.Talker, cfg: DistillConfig):
  """The encoder stage: only the student's encoder and projection learn (the rest is held by stop_gradient).
  encoder_loss="outputs": the student, on the same z and noise level, must predict what the teacher predicts,
  max(SNR, 1) weighted, so that only what the copied personalizer and denoiser use is matched; "features": L_ae
  alone (every feature dim of the teacher's encoder, at equal weight)."""
  params = {k: v if k in ENCODER_PARAMS else jax.lax.stop_gradient(v) for k, v in params.items()}
  feats, personal, _ = student.apply({"params": params}, audio, mask, method=talker.Talker.encode)
  ae = _masked_mean(jnp.square(feats - t_feats), mask)
  if cfg.encoder_loss == "features":
    return ae, {"ae": ae, "loss": ae}
  if cfg.encoder_loss != "outputs":
    raise ValueError(f"unknown encoder_loss {cfg.encoder_loss!r}: outputs or features")
  x_teacher = teacher.apply({"params": teacher_params}, z, logsnr, t_feats, t_personal, mask,
                            method=talker.Talker.denoise)
  x_pred = student.apply({"params": params}, z, logsnr, feats, personal, mask, method=talker.Talker.denoise)
  out = jnp.mean(diffusion_losses.x0_loss(x_pred=x_pred, x=x_teacher, logsnr=logsnr, mask=mask))
  return out, {"out": out, "ae": ae, "loss": out}


def _ema_consistency_fn(ema_params, *, audio, mask, student: talker.Talker):
  """The target network's f(z, lambda): the student's EMA, conditioned on the same audio."""
  ema_params = jax.lax.stop_gradient(ema_params)
  feats, personal, _ = student.apply({"params": ema_params}, audio, mask, method=talker.Talker.encode)

  def f(z, logsnr):
    x_net = student.apply({"params": ema_params}, z, logsnr, feats, personal, mask, method=talker.Talker.denoise)
    return consistency.consistency_fn(z=z, x_net=x_net, logsnr=logsnr)
  return f


def teacher_encoding(teacher: talker.Talker, teacher_params, batch):
  """The teacher's (features, personal) of a batch: from its cached speech features where it has a frozen
  pretrained encoder, else from the audio."""
  if teacher.cfg.speech_encoder:
    if "features" not in batch:
      raise ValueError("a teacher with a pretrained speech encoder distills from cached features (batch['features'])")
    return teacher.apply({"params": teacher_params}, batch["features"], batch["mask"],
                         method=talker.Talker.encode_features)[:2]
  return teacher.apply({"params": teacher_params}, batch["audio"], batch["mask"], method=talker.Talker.encode)[:2]


def loss_fn(trainable, teacher_params, batch, rng, *, student: talker.Talker, teacher: talker.Talker,
            heads: enhancer.EnhancerHeads, cfg: DistillConfig, ema_params=None, x_range=None):
  """(scalar loss, metrics). trainable = {'student': params, 'heads': params}; the teacher's are frozen;
  `ema_params` (consistency) the frozen target network; `x_range` (lo [D], hi [D]) the data's range in model
  units, kept by the teacher's predictions."""
  audio, x, mask = batch["audio"], batch["motion"], batch["mask"]
  k_i, k_eps, k_keep = jax.random.split(rng, 3)
  n = cfg.num_student_steps
  i = jax.random.randint(k_i, (x.shape[0],), 0, n)                                        # [B]
  logsnr = schedule.logsnr_t((i + 1) / n)
  eps = jax.random.normal(k_eps, x.shape, x.dtype)
  z = process.z_t(x=x, eps=eps, logsnr=logsnr)                                             # [B, T, D]

  teacher_params = jax.lax.stop_gradient(teacher_params)
  t_feats, t_personal = teacher_encoding(teacher, teacher_params, batch)
  t_feats_all = t_feats                              # L_ae compares every example's features
  keep = (guidance_lib.keep(k_keep, batch=x.shape[0], drop=cfg.cond_drop)[:, None, None] if cfg.cond_drop else 1.0)
  if cfg.cond_drop and not cfg.encoder_only:        # dropped examples: both sides unconditional
    t_feats, t_personal = t_feats * keep, t_personal * keep
  if cfg.encoder_only:
    return _encoder_stage_loss(trainable["student"], teacher_params, z=z, logsnr=logsnr, audio=audio, mask=mask,
                               t_feats=t_feats, t_personal=t_personal, student=student, teacher=teacher, cfg=cfg)
  t_denoise = talker.denoiser_fn(teacher, teacher_params, t_feats, t_personal, mask, guidance=cfg.teacher_guidance,
                                 x_range=x_range)
  if cfg.target == "teacher":
    x_target, _ = targets.x_target(t_denoise, z=z, i=i, num_student_steps=n)
  elif cfg.target == "guided":          # guidance distillation: the guided teacher's x at the same z, one network
    x_target = jax.lax.stop_gradient(t_denoise(z, logsnr))
  elif cfg.target == "data":
    x_target = x
  elif cfg.target == "consistency":
    x_target = targets.consistency_target(
        t_denoise, _ema_consistency_fn(ema_params, audio=audio, mask=mask, student=student), z=z, i=i,
        num_teacher_steps=n)
  else:
    raise ValueError(f"unknown distillation target {cfg.target!r}: teacher, guided, data or consistency")

  params = trainable["student"]
  feats, personal, aux = student.apply({"params": params}, audio, mask, method=talker.Talker.encode)
  x_pred = student.apply({"params": params}, z, logsnr, feats * keep, personal * keep, mask,
                         method=talker.Talker.denoise)
  if cfg.target == "consistency":      # f_theta(z, u) against the target network's f one teacher step on
    f = consistency.consistency_fn(z=z, x_net=x_pred, logsnr=logsnr)
    dis = _masked_mean(jnp.square(f - x_target), mask)
  else:
    dis = jnp.mean(diffusion_losses.x0_loss(x_pred=x_pred, x=x_target, logsnr=logsnr, mask=mask))
  loss, metrics = train_step_lib.personalizer_terms(aux, batch, w_identity=cfg.w_identity, w_emotion=cfg.w_emotion)
  loss = loss + dis
  metrics["dis"] = dis
  if cfg.w_ae:
    ae = _masked_mean(jnp.square(feats - jax.lax.stop_gradient(t_feats_all)), mask)
    loss, metrics["ae"] = loss + cfg.w_ae * ae, ae
  if cfg.w_pc:
    face = x_pred[..., np.asarray(cfg.face_channels)]                                     # [B, T, K]
    a, b = heads.apply({"params": trainable["heads"]}, personal, face, mask)
    pc = enhancer.symmetric_info_nce(a, b, temperature=cfg.pc_temperature)
    loss, metrics["pc"] = loss + cfg.w_pc * pc, pc
  metrics["loss"] = loss
  return loss, metrics


def distill_step(state: DistillState, teacher_params, batch, rng, *, student: talker.Talker,
                 teacher: talker.Talker, heads: enhancer.EnhancerHeads, tx: optax.GradientTransformation,
                 cfg: DistillConfig, x_range=None):
  """One optimizer step of the student; the teacher's parameters are an explicit, frozen argument."""
  rng = jax.random.fold_in(rng, state.step)
  trainable = {"student": state.params, "heads": state.heads}
  (_, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      trainable, teacher_params, batch, rng, student=student, teacher=teacher, heads=heads, cfg=cfg,
      ema_params=state.ema, x_range=x_range)
  updates, opt_state = tx.update(grads, state.opt_state, trainable)
  new = optax.apply_updates(trainable, updates)
  metrics["grad_norm"] = optax.tree.norm(grads)
  ema = state.ema
  if ema is not None:
    ema = jax.tree.map(lambda e, p: cfg.ema_decay * e + (1.0 - cfg.ema_decay) * p, ema, new["student"])
  return state.replace(step=state.step + 1, params=new["student"], heads=new["heads"], opt_state=opt_state,
                       ema=ema), metrics
