"""The 2-step student ("Ours-2") distilled from the 16-step teacher, and its ablations.

  python launch/distill.py --config=configs/ours2.py:dataset=synthetic_talkers,scale=small \\
      --teacher=runs/teacher --workdir=runs/student
args: dataset = synthetic_talkers | vocaset | etf3d; scale = tiny | small | paper;
variant = ours2 | no_identity | no_emotion | no_enhancer | no_distillation (the paper's ablations: without the
identity or the emotion embedding, without the personalizer enhancer L_pc, and a 2-step model trained directly
with the diffusion loss on the same budget instead of distilled);
method = halving (the paper's step halving) | consistency (consistency distillation: one student that samples in
any number of steps) | direct (the diffusion loss on the student's own grid, as no_distillation); with
--config.distill.end_steps=1|2|4 for the step count (halving: down to it; the others: the grid / default sampling).
The personalizer and denoiser shapes come from the teacher's own config; `model.encoder` is the student's.
"""
import ml_collections

from configs import common

VARIANTS = ("ours2", "no_identity", "no_emotion", "no_enhancer", "no_distillation")
METHODS = {"halving": "teacher", "consistency": "consistency", "direct": "data"}     # -> distill.target


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  args = common.parse(arg, dataset="synthetic_talkers", scale="small", variant="ours2", method="halving")
  scale, variant, method = args["scale"], args["variant"], args["method"]
  if variant not in VARIANTS:
    raise ValueError(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
  if method not in METHODS:
    raise ValueError(f"unknown method {method!r}; one of {', '.join(METHODS)}")
  c = ml_collections.ConfigDict()
  c.variant = variant
  c.data = common.data(args)
  c.model = dict(encoder=common.encoder(scale, student=True),
                 personalizer=dict(use_identity=variant != "no_identity", use_emotion=variant != "no_emotion"))
  c.diffusion = dict(num_steps=2, clip_x0=True)     # the data's range kept at every step, as the teacher does
  # encoder_steps: the encoder-compression stage before round 1, which the student's lips depend on
  # (encoder_from=<distill workdir> shares that workdir's stage, so ablations differ only in what they ablate).
  # encoder_loss="features": L_ae on the teacher's features, the best of the two for a Whisper teacher.
  # w_ae 0.1: L_ae at 1 outweighs the distillation loss ~10x. teacher_guidance: the w of round 1's targets (0: the
  # teacher's own). guidance_steps: > 0 puts a guidance stage before the halving rounds (off: it did not help).
  # The probes behind each choice are in docs/findings.md.
  c.distill = dict(
      target="data" if variant == "no_distillation" else METHODS[method], end_steps=2, teacher="",
      steps_per_round={"tiny": 20, "small": 300, "paper": 50_000}[scale],
      encoder_steps={"tiny": 10, "small": 1500, "paper": 20_000}[scale], encoder_loss="features", encoder_from="",
      learning_rate={"tiny": 1e-3, "small": 5e-4, "paper": 1e-4}[scale], warmup_steps=0, clip_norm=1.0,
      w_ae=0.1, ae_rounds=1, w_pc=0.0 if variant == "no_enhancer" else 0.1, pc_temperature=0.1, ema_decay=0.95,
      heads_width={"tiny": 16, "small": 64, "paper": 256}[scale], w_identity=0.1, w_emotion=0.1, seed=0,
      teacher_guidance=0.0, guidance_steps=0,
      log_every={"tiny": 10, "small": 50, "paper": 200}[scale],
      save_every={"tiny": 10, "small": 200, "paper": 5000}[scale])
  c.sharding = dict(rules=[(".*", "replicate")])
  return c
