"""Builds a dataset as array_record files (no TensorFlow needed) and prints its summary.

  python launch/build_data.py --dataset=synthetic_talkers/tiny --data_dir=data
  python launch/build_data.py --dataset=vocaset/original --manual_dir=~/vocaset --data_dir=data
  python launch/build_data.py --dataset=etf3d --manual_dir=~/3D-ETF --data_dir=data [--rig=rig.npz]
"""
import json
import os
import sys

from absl import app
from absl import flags
import common_flags

from dt_jax import safe_pickle
from dt_jax.data import source
from dt_jax.data import summary
import tfds_builders

_DATASET = flags.DEFINE_string("dataset", "synthetic_talkers", "TFDS name[/config].")
_DATA_DIR = common_flags.data_dir("data")
_MANUAL_DIR = flags.DEFINE_string("manual_dir", None, "The downloaded files (vocaset, etf3d) or your Live Link Face "
                                  "takes (livelink_face): see README.")
_WORKERS = flags.DEFINE_integer("num_workers", None, "synthetic_talkers: generator processes (default: CPUs).")
_REGIONS = flags.DEFINE_string("regions", None, "vocaset: FLAME_masks.pkl or a folder of <region>.txt lists.")
_RIG = flags.DEFINE_string("rig", None, "etf3d: blendshape rig (.npz template+basis, or .npy [53, V, 3]).")
_PERFORMER = flags.DEFINE_string("performer", None, "livelink_face: the performer of takes not in a performer folder.")
_SPLIT_FILE = flags.DEFINE_string("split_file", None, "livelink_face: {\"train\": [take, ...], \"validation\": [...], "
                                  "\"test\": [...]} (default: <manual_dir>/splits.json, else a seeded split).")
_EMOTION = flags.DEFINE_string("emotion", None, "livelink_face: the takes' emotion unless take.json names one.")
flags.adopt_module_key_flags(common_flags)   # the shared flags show in --help


def main(argv):
  del argv
  try:
    b = tfds_builders.build(_DATASET.value, data_dir=_DATA_DIR.value, manual_dir=_MANUAL_DIR.value,
                            builder_kwargs={"num_workers": _WORKERS.value, "regions": _REGIONS.value, "rig": _RIG.value,
                                            "performer": _PERFORMER.value, "split_file": _SPLIT_FILE.value,
                                            "emotion": _EMOTION.value})
  except (FileNotFoundError, ValueError, safe_pickle.UnsafePickleError) as e:   # the builders' errors name the file
    sys.exit(f"build_data: {' '.join(str(e).split())}")
  s = summary.summarize(source.open_dataset(_DATASET.value, data_dir=_DATA_DIR.value))
  with open(os.path.join(b.data_dir, "summary.json"), "w") as f:
    json.dump(s, f, indent=1)
  print(summary.format_summary(s))
  print(f"built at {b.data_dir}")


if __name__ == "__main__":
  app.run(main)
