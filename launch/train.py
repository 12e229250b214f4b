"""Trains the diffusion teacher.

  python launch/train.py --config=configs/ours16.py:dataset=synthetic_talkers,scale=small --workdir=runs/teacher
  (--config.train.steps=500 and other overrides; multi-host: --coordinator=host:port --num_processes=N
   --process_id=i, see launch/recipes/)
Running the same command again resumes from the last intact checkpoint with the same data order. A preempted run
(SIGTERM) saves and exits 143; other errors are one line and exit 1.
"""
import sys

from absl import app
from absl import flags
from ml_collections import config_flags
import exits
import multihost_flags

from dt_jax.train import checkpoint
from dt_jax.train import distributed
from dt_jax.train import loop
import tfds_builders

_CONFIG = config_flags.DEFINE_config_file("config", None, "configs/<variant>.py:<args>", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Where checkpoints and logs go.", required=True)


def main(argv):
  del argv
  checkpoint.quiet_orbax_logs()
  multihost_flags.initialize()
  cfg = _CONFIG.value
  exits.guarded("train", loop.check_config, cfg)
  distributed.prepare_data(cfg, tfds_builders.build)
  result = exits.guarded("train", loop.train, cfg, _WORKDIR.value)
  print(f"step {result['step']}: train loss {result.get('train/loss', float('nan')):.4f}, "
        f"validation loss {result['val/loss']:.4f}")


if __name__ == "__main__":
  exits.check_config("train", sys.argv)
  app.run(main)
