"""Converts a pretrained HuBERT / wav2vec2 checkpoint (transformers layout) into the teacher's audio encoder.

  python launch/import_audio_encoder.py --source=checkpoints/hubert-base-ls960 --out=pretrained/hubert_base
  python launch/train.py --config=configs/ours16.py:dataset=vocaset,scale=paper,audio_encoder=pretrained/hubert_base \\
      --workdir=runs/teacher_vocaset
--source: a model folder (config.json + model.safetensors or pytorch_model.bin, as save_pretrained writes it,
or a Hugging Face hub snapshot folder) or one weights file with its config.json beside it. Nothing is downloaded.
Writes <out>/encoder_config.json and the orbax checkpoint <out>/params. A tensor that does not fit (missing,
misshapen or unknown) stops the conversion with the full list; nothing is left at its random initialisation.
"""
from absl import app
from absl import flags
import jax
import common_flags

from dt_jax.models import pretrained

_SOURCE = flags.DEFINE_string("source", None, "Checkpoint folder or weights file.", required=True)
_OUT = common_flags.out(required=True)
flags.adopt_module_key_flags(common_flags)   # the shared flags show in --help


def main(argv):
  del argv
  hf_cfg, pre, weights = pretrained.read_source(_SOURCE.value)
  cfg = pretrained.encoder_config(hf_cfg, pre)
  params = pretrained.convert(weights, cfg)
  pretrained.save(_OUT.value, cfg, params, source=_SOURCE.value)
  count = sum(x.size for x in jax.tree.leaves(params))
  print(f"{hf_cfg['model_type']} encoder: {cfg.layers} layers x {cfg.width}, conv norm {cfg.conv_norm}, "
        f"{'pre' if cfg.norm_first else 'post'}-norm, {count / 1e6:.1f}M parameters -> {_OUT.value}")


if __name__ == "__main__":
  app.run(main)
