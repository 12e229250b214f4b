"""The 16-step diffusion teacher (DiffusionTalker "Ours-16").

  --config=configs/ours16.py:dataset=synthetic_talkers,scale=small
  --config=configs/ours16.py:dataset=vocaset,scale=paper,audio_encoder=pretrained/hubert_base
args: dataset = synthetic_talkers | vocaset | etf3d; scale = tiny (tests) | small (CPU demo) | paper;
audio_encoder = a folder written by launch/import_audio_encoder.py: the teacher's encoder takes that
architecture and starts from its weights, with the conv feature extractor frozen
(--config.train.freeze_feature_extractor=False to train it, --config.train.freeze_encoder_layers=N to also
freeze the first N transformer layers).
"""
import dataclasses

import ml_collections

from configs import common
from dt_jax.models import pretrained


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  args = common.parse(arg, dataset="synthetic_talkers", scale="small", audio_encoder="")
  scale = args["scale"]
  c = ml_collections.ConfigDict()
  c.data = common.data(args)
  c.model = common.model(scale)
  c.model.audio_encoder_init = args["audio_encoder"]
  if args["audio_encoder"]:
    c.model.encoder = ml_collections.ConfigDict(dataclasses.asdict(pretrained.load_config(args["audio_encoder"])))
  # guidance: classifier-free, on the audio; at `small` w = 5 makes unheard voices articulate (docs/findings.md).
  c.diffusion = dict(num_steps=16, guidance={"tiny": 1.0, "small": 5.0, "paper": 1.0}[scale])
  c.train = dict(steps={"tiny": 40, "small": 2000, "paper": 200_000}[scale], learning_rate=1e-3 if scale != "paper"
                 else 2e-4, warmup_steps={"tiny": 5, "small": 200, "paper": 5000}[scale], weight_decay=1e-4,
                 clip_norm=1.0, ema_decay={"tiny": 0.9, "small": 0.9987, "paper": 0.999}[scale], w_identity=0.1,
                 w_emotion=0.1, w_velocity=0.0, cond_drop=0.0 if scale == "tiny" else 0.1, seed=0,
                 log_every={"tiny": 10, "small": 50, "paper": 200}[scale],
                 save_every={"tiny": 20, "small": 500, "paper": 5000}[scale],
                 freeze_feature_extractor=bool(args["audio_encoder"]), freeze_encoder_layers=0)
  # ema_decay: at `small` an average over the last ~770 of 2000 steps keeps the upper face's variety (docs/findings.md).
  # w_velocity: FaceDiffuser's velocity loss beside the x0 loss; off, since it made the distilled student worse
  # (docs/findings.md).
  # Parameter sharding rules (regex over '/'-joined paths -> "fsdp" | "replicate"); data parallel by default.
  c.sharding = dict(rules=[(".*", "replicate")])
  return c
