"""The 16-step diffusion teacher (DiffusionTalker "Ours-16").

  --config=configs/ours16.py:dataset=synthetic_talkers,scale=small
  --config=configs/ours16.py:dataset=vocaset,scale=paper,audio_encoder=pretrained/hubert_base
args: dataset = synthetic_talkers | vocaset | etf3d; scale = tiny (tests) | small (CPU demo) | paper;
audio_encoder = whisper_base (default at small and paper) | whisper_tiny_en (default at tiny): OpenAI Whisper's
encoder from its pip package, frozen, its features computed once per clip and cached beside the dataset
(`data.features.renditions` per training clip: the clean audio and seeded augmented renditions); scratch: a
wav2vec2-shaped encoder trained with the teacher; or a folder written by launch/import_audio_encoder.py: the
teacher's encoder takes that HuBERT / wav2vec2 architecture and starts from its weights, with the conv feature
extractor frozen (--config.train.freeze_feature_extractor=False to train it, --config.train.freeze_encoder_layers=N
to also freeze the first N transformer layers).
"""
import ml_collections

from configs import common
from dt_jax.models import whisper

DEFAULT_ENCODER = {"tiny": "whisper_tiny_en", "small": "whisper_base", "paper": "whisper_base"}
# The Whisper block whose output the teacher hears: base's 4th of 6 predicts the lips best (docs/findings.md).
SPEECH_LAYERS = {"whisper_base": 4, "whisper_tiny_en": 3}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  args = common.parse(arg, dataset="synthetic_talkers", scale="small", audio_encoder="")
  scale = args["scale"]
  choice = args["audio_encoder"] or DEFAULT_ENCODER[scale]
  c = ml_collections.ConfigDict()
  c.data = common.data(args)
  # Cached features of a frozen pretrained encoder: per training clip, the clean audio and renditions - 1 seeded
  # augmented renditions (data.augment's variety, drawn once per clip), so augmentation still reaches the teacher.
  c.data.features = dict(renditions={"tiny": 2, "small": 3, "paper": 8}[scale], seed=0)
  c.model = common.model(scale)
  c.model.audio_encoder_init = ""
  if choice in whisper.CONFIGS:
    c.model.speech_encoder, c.model.speech_layers = choice, SPEECH_LAYERS[choice]
    c.model.adapter_width = c.model.personalizer.width
  elif choice != "scratch":
    c.model.audio_encoder_init = choice     # its architecture is read when the run starts (train/loop.py)
  # guidance: classifier-free, on the audio; at `small` w = 2 makes the Whisper teacher articulate as the truth does
  # (docs/findings.md).
  # clip_x0: every sampling step keeps the x prediction in the data's range (blendshape weights in [0, 1]).
  c.diffusion = dict(num_steps=16, guidance={"tiny": 1.0, "small": 2.0, "paper": 1.0}[scale], clip_x0=True)
  c.train = dict(steps={"tiny": 40, "small": 2000, "paper": 200_000}[scale], learning_rate=1e-3 if scale != "paper"
                 else 2e-4, warmup_steps={"tiny": 5, "small": 200, "paper": 5000}[scale], weight_decay=1e-4,
                 clip_norm=1.0, ema_decay={"tiny": 0.9, "small": 0.9987, "paper": 0.999}[scale], w_identity=0.1,
                 w_emotion=0.1, w_velocity=0.0, cond_drop=0.0 if scale == "tiny" else 0.1, seed=0,
                 log_every={"tiny": 10, "small": 50, "paper": 200}[scale],
                 save_every={"tiny": 20, "small": 500, "paper": 5000}[scale],
                 freeze_feature_extractor=bool(c.model.audio_encoder_init), freeze_encoder_layers=0, init_from="")
  # init_from: a trained teacher's workdir to fine-tune from (e.g. on your own Live Link Face takes).
  # ema_decay: at `small` an average over the last ~770 of 2000 steps keeps the upper face's variety (docs/findings.md).
  # w_velocity: FaceDiffuser's velocity loss beside the x0 loss; off, since it made the distilled student worse
  # (docs/findings.md).
  # Parameter sharding rules (regex over '/'-joined paths -> "fsdp" | "replicate"); data parallel by default.
  c.sharding = dict(rules=[(".*", "replicate")])
  return c
