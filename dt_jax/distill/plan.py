"""What a distillation runs, as data: the rounds' step counts, the student's model config and the list of stages.

Pure functions of the configs (no files, no devices), so the benchmark and tests can read a plan without training.
A distill workdir holds one run directory per stage: `encoder/` (the encoder-compression stage, unless shared from
another workdir with `distill.encoder_from`), then `steps_8/`, `steps_4/`, `steps_2/` for 16 -> 2.
"""
from __future__ import annotations

import dataclasses
import math

import ml_collections

from dt_jax.distill import step as distill_step
from dt_jax.models import whisper


def plan(*, teacher_steps: int, end_steps: int, target: str) -> list[int]:
  """The student step counts of the rounds: [8, 4, 2] for 16 -> 2; [2] for the no_distillation baseline and for
  a consistency student (one stage; it samples at any step count, end_steps by default)."""
  if teacher_steps & (teacher_steps - 1) or end_steps & (end_steps - 1) or not 1 <= end_steps < teacher_steps:
    raise ValueError(f"cannot halve {teacher_steps} steps down to {end_steps}: both must be powers of two, "
                     f"end < start")
  halvings = [teacher_steps >> k for k in range(1, int(math.log2(teacher_steps // end_steps)) + 1)]
  return halvings if target == "teacher" else [end_steps]


def student_model_config(cfg, teacher_cfg) -> ml_collections.ConfigDict:
  """The full student model config: the student's small encoder (+ projection to the teacher's feature width: a
  pretrained encoder's, before the teacher's adapter, which the student keeps), the teacher's personalizer and
  denoiser shapes, no dropout, the variant's identity/emotion switches."""
  model = ml_collections.ConfigDict(teacher_cfg.model.to_dict())
  model.encoder = ml_collections.ConfigDict(dict(cfg.model.encoder))
  model.encoder.dropout = 0.0
  model.audio_encoder_init = ""          # the student's encoder is its own (L_ae), never the imported one
  model.denoiser.dropout = 0.0
  model.speech_encoder = ""              # nor the teacher's pretrained one: the student hears through its own
  model.feature_width = (whisper.CONFIGS[teacher_cfg.model.speech_encoder].width if teacher_cfg.model.speech_encoder
                         else teacher_cfg.model.encoder.width)
  model.personalizer.use_identity = cfg.model.personalizer.use_identity
  model.personalizer.use_emotion = cfg.model.personalizer.use_emotion
  return model


@dataclasses.dataclass(frozen=True)
class Stage:
  """One stage of a distillation: trained in `<workdir>/<name>` for `total` optimizer steps."""
  name: str                         # "encoder" | "steps_<N>"
  num_steps: int                    # the student's sampling steps (the teacher's own for the encoder stage)
  total: int                        # optimizer steps
  loss: distill_step.DistillConfig
  data_seed: int
  teacher_round: str | None         # the stage whose student teaches this one; None: the teacher itself

  @property
  def encoder_only(self) -> bool:
    return self.loss.encoder_only

  @property
  def label(self) -> str:
    """What the progress bar calls it."""
    if self.encoder_only:
      return f"encoder ({'L_out' if self.loss.encoder_loss == 'outputs' else 'L_ae'})"
    if self.loss.target == "teacher":
      return f"distill {2 * self.num_steps}->{self.num_steps}"
    if self.loss.target == "consistency":
      return f"consistency ({self.loss.num_student_steps}-step teacher)"
    if self.loss.target == "guided":
      return f"guidance (w = {self.loss.teacher_guidance:g} into one pass)"
    return f"no_distillation {self.num_steps}-step"

  @property
  def val_key(self) -> str:
    """The loss term its validation score reports."""
    if self.encoder_only:
      return "out" if self.loss.encoder_loss == "outputs" else "ae"
    return "dis"


def stages(d, *, teacher_steps: int, face_channels: tuple[int, ...], teacher_guidance: float = 1.0) -> list[Stage]:
  """The stages of config block `d` (cfg.distill) for a teacher of `teacher_steps`: the encoder stage first (on the
  teacher's own grid, the teacher's personalizer and denoiser untouched) unless it comes from `encoder_from`, then
  the halving rounds. The `no_distillation` variant (target "data") and consistency distillation (target
  "consistency", on the teacher's own grid) get one stage with all the halving rounds' budget. The first round's
  targets come from the teacher sampled with guidance weight `d.teacher_guidance`, or with its own weight
  `teacher_guidance` where that is 0; later rounds' teachers are students, which sample unguided. With
  `d.guidance_steps` and a guided teacher, halving starts from a guidance stage instead (Meng et al. 2023, "On
  distillation of guided diffusion models"): `steps_<N>`, the student on the teacher's own grid learning the guided
  teacher's x prediction at the same z, all of it trained; round 1 then halves that unguided student."""
  teacher_guidance = d.teacher_guidance or teacher_guidance
  guided_stage = bool(d.guidance_steps) and teacher_guidance != 1.0 and d.target == "teacher"
  rounds = plan(teacher_steps=teacher_steps, end_steps=d.end_steps, target=d.target)
  halvings = len(plan(teacher_steps=teacher_steps, end_steps=d.end_steps, target="teacher"))
  per_round = d.steps_per_round * (halvings if d.target in ("data", "consistency") else 1)
  common = dict(w_pc=d.w_pc, w_identity=d.w_identity, w_emotion=d.w_emotion, pc_temperature=d.pc_temperature,
                face_channels=tuple(face_channels))
  out = []
  if not d.encoder_from and d.encoder_steps:
    out.append(Stage("encoder", teacher_steps, d.encoder_steps, distill_step.DistillConfig(
        num_student_steps=teacher_steps, encoder_only=True, encoder_loss=d.encoder_loss, **common),
                     d.seed + 50, None))
  if guided_stage:
    out.append(Stage(f"steps_{teacher_steps}", teacher_steps, d.guidance_steps, distill_step.DistillConfig(
        num_student_steps=teacher_steps, target="guided", w_ae=d.w_ae, teacher_guidance=teacher_guidance,
        **common), d.seed + 40, None))
    rounds_w, first_teacher = 1.0, f"steps_{teacher_steps}"
  else:
    rounds_w, first_teacher = (teacher_guidance if d.target != "data" else 1.0), None
  for k, n in enumerate(rounds):
    grid = teacher_steps if d.target == "consistency" else n        # consistency: pairs on the teacher's grid
    ae = d.w_ae if k < d.ae_rounds and not guided_stage else 0.0
    out.append(Stage(f"steps_{n}", n, per_round, distill_step.DistillConfig(
        num_student_steps=grid, target=d.target, w_ae=ae, ema_decay=d.ema_decay,
        teacher_guidance=rounds_w if k == 0 else 1.0, **common), d.seed + k,
        f"steps_{rounds[k - 1]}" if k else first_teacher))
  return out
