"""Builds a dataset as array_record files (no TensorFlow needed) and prints its summary.

  python launch/build_data.py --dataset=synthetic_talkers/tiny --data_dir=data
"""
import json
import os

from absl import app
from absl import flags

from dt_jax.data import source
from dt_jax.data import summary

_DATASET = flags.DEFINE_string("dataset", "synthetic_talkers", "TFDS name[/config].")
_DATA_DIR = flags.DEFINE_string("data_dir", "data", "Where the built dataset goes.")
_WORKERS = flags.DEFINE_integer("num_workers", None, "Generator processes (default: the CPU count).")


def main(argv):
  del argv
  b = source.build(_DATASET.value, data_dir=_DATA_DIR.value, num_workers=_WORKERS.value)
  s = summary.summarize(source.open_dataset(_DATASET.value, data_dir=_DATA_DIR.value))
  with open(os.path.join(b.data_dir, "summary.json"), "w") as f:
    json.dump(s, f, indent=1)
  print(summary.format_summary(s))
  print(f"built at {b.data_dir}")


if __name__ == "__main__":
  app.run(main)
