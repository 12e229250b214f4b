"""The 16-step diffusion teacher (DiffusionTalker "Ours-16").

  --config=configs/ours16.py:dataset=synthetic_talkers,scale=small
args: dataset = synthetic_talkers | vocaset | etf3d; scale = tiny (tests) | small (CPU demo) | paper.
"""
import ml_collections

from configs import common


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  args = common.parse(arg, dataset="synthetic_talkers", scale="small")
  scale = args["scale"]
  c = ml_collections.ConfigDict()
  c.data = common.data(args)
  c.model = common.model(scale)
  c.diffusion = dict(num_steps=16)
  c.train = dict(steps={"tiny": 40, "small": 2000, "paper": 200_000}[scale], learning_rate=1e-3 if scale != "paper"
                 else 2e-4, warmup_steps={"tiny": 5, "small": 200, "paper": 5000}[scale], weight_decay=1e-4,
                 clip_norm=1.0, ema_decay=0.999 if scale != "tiny" else 0.9, w_identity=0.1, w_emotion=0.1,
                 seed=0, log_every={"tiny": 10, "small": 50, "paper": 200}[scale],
                 save_every={"tiny": 20, "small": 500, "paper": 5000}[scale])
  # Parameter sharding rules (regex over '/'-joined paths -> "fsdp" | "replicate"); data parallel by default.
  c.sharding = dict(rules=[(".*", "replicate")])
  return c
