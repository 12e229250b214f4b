"""The pure teacher train step: diffusion x0 loss (truncated-SNR weight), an optional velocity loss, and the
contrastive personalizer losses."""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import optax

from dt_jax.diffusion import guidance
from dt_jax.diffusion import losses as diffusion_losses
from dt_jax.diffusion import process
from dt_jax.diffusion import schedule
from dt_jax.models import personalizer
from dt_jax.train import state as state_lib


@dataclasses.dataclass(frozen=True)
class StepConfig:
  num_steps: int = 16           # the teacher's grid u_i = i / N; t is drawn uniformly on it
  w_identity: float = 0.1
  w_emotion: float = 0.1
  ema_decay: float = 0.999
  w_velocity: float = 0.0       # weight of the velocity loss (frame differences); 0 leaves it out
  cond_drop: float = 0.0        # share of examples trained without their conditioning (classifier-free guidance)


def personalizer_terms(aux, batch, *, w_identity: float, w_emotion: float):
  """(weighted sum of the enabled InfoNCE losses, metrics with their accuracies) of a personalizer's aux."""
  contrastive = personalizer.contrastive_losses(aux, speaker=batch["speaker"], emotion=batch["emotion"])
  total, metrics = 0.0, {}
  for name, weight, label in (("identity", w_identity, "speaker"), ("emotion", w_emotion, "emotion")):
    if name in contrastive:
      total = total + weight * jnp.mean(contrastive[name])
      metrics[name] = jnp.mean(contrastive[name])
      metrics[f"{name}_acc"] = jnp.mean(jnp.argmax(aux[f"{name}_logits"], -1) == batch[label])
  return total, metrics


def loss_fn(params, batch, rng, *, model, cfg: StepConfig, train: bool = True):
  """(scalar loss, metrics) for a batch {audio [B, S] or cached speech features [B, T, C], motion [B, T, D], mask
  [B, T], speaker, emotion}."""
  x, mask = batch["motion"], batch["mask"]
  k_t, k_eps, k_drop, k_keep = jax.random.split(rng, 4)
  i = jax.random.randint(k_t, (x.shape[0],), 1, cfg.num_steps + 1)
  logsnr = schedule.logsnr_t(i / cfg.num_steps)                                       # [B]
  eps = jax.random.normal(k_eps, x.shape, x.dtype)
  z = process.z_t(x=x, eps=eps, logsnr=logsnr)
  keep = guidance.keep(k_keep, batch=x.shape[0], drop=cfg.cond_drop) if cfg.cond_drop and train else None
  x_pred, aux = model.apply({"params": params}, batch.get("audio"), z, logsnr, mask, features=batch.get("features"),
                            keep=keep, train=train, rngs={"dropout": k_drop})
  x0 = diffusion_losses.x0_loss(x_pred=x_pred, x=x, logsnr=logsnr, mask=mask)        # [B]
  extra, metrics = personalizer_terms(aux, batch, w_identity=cfg.w_identity, w_emotion=cfg.w_emotion)
  loss = jnp.mean(x0) + extra
  metrics["x0"] = jnp.mean(x0)
  if cfg.w_velocity:
    velocity = jnp.mean(diffusion_losses.velocity_loss(x_pred=x_pred, x=x, logsnr=logsnr, mask=mask))
    loss = loss + cfg.w_velocity * velocity
    metrics["velocity"] = velocity
  metrics["loss"] = loss
  return loss, metrics


def train_step(state: state_lib.TrainState, batch, rng, *, model, tx: optax.GradientTransformation,
               cfg: StepConfig):
  """One optimizer step; returns (new state, metrics). The gradient is of the global-batch mean loss."""
  rng = jax.random.fold_in(rng, state.step)
  (_, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, batch, rng, model=model, cfg=cfg)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  ema = jax.tree.map(lambda e, p: cfg.ema_decay * e + (1.0 - cfg.ema_decay) * p, state.ema_params, params)
  metrics["grad_norm"] = optax.tree.norm(grads)
  return state.replace(step=state.step + 1, params=params, opt_state=opt_state, ema_params=ema), metrics
