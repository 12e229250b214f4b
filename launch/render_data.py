"""Renders ground-truth clips of a built dataset: a PNG contact sheet and one MP4 (with audio) or GIF per clip.

  python launch/render_data.py --dataset=synthetic_talkers --data_dir=data --split=test --out=runs/demo
"""
from absl import app
from absl import flags
import common_flags

from dt_jax.data import source
from dt_jax.render import clips

_DATASET = flags.DEFINE_string("dataset", "synthetic_talkers", "TFDS name[/config].")
_DATA_DIR = common_flags.data_dir("data")
_SPLIT = flags.DEFINE_string("split", "test", "Split to draw clips from.")
_NUM = flags.DEFINE_integer("num_clips", 4, "How many clips (one per emotion of a sentence, then more).")
_OUT = common_flags.out("runs/demo")
_WAVS = flags.DEFINE_bool("write_wavs", False, "Also write each clip's audio as a 16 kHz wav.")
flags.adopt_module_key_flags(common_flags)   # the shared flags show in --help


def main(argv):
  del argv
  ds = source.open_dataset(_DATASET.value, data_dir=_DATA_DIR.value)
  for path in clips.render_ground_truth(ds, split=_SPLIT.value, num_clips=_NUM.value, out_dir=_OUT.value,
                                        write_wavs=_WAVS.value):
    print(path)


if __name__ == "__main__":
  app.run(main)
