"""Renders ground-truth clips of a built dataset: a PNG contact sheet and one MP4 (with audio) or GIF per clip, and
says how many frames per second it drew and encoded.

  python launch/render_data.py --dataset=synthetic_talkers --data_dir=data --split=test --out=runs/demo [--size=512]
"""
import time

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
_SIZE = common_flags.frame_size()
flags.adopt_module_key_flags(common_flags)   # the shared flags show in --help


def main(argv):
  del argv
  ds = source.open_dataset(_DATASET.value, data_dir=_DATA_DIR.value)
  frames = sum(len(ds.splits[_SPLIT.value][i]["motion"]) for i in clips.pick(ds, split=_SPLIT.value, num_clips=_NUM.value))
  start = time.perf_counter()
  for path in clips.render_ground_truth(ds, split=_SPLIT.value, num_clips=_NUM.value, out_dir=_OUT.value,
                                        size=_SIZE.value, write_wavs=_WAVS.value):
    print(path)
  seconds = time.perf_counter() - start
  print(f"{frames} frames of {_SIZE.value} x {_SIZE.value} px drawn and encoded in {seconds:.1f} s: "
        f"{frames / seconds:.0f} frames/s")


if __name__ == "__main__":
  app.run(main)
