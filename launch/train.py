"""Trains the diffusion teacher.

  python launch/train.py --config=configs/ours16.py:dataset=synthetic_talkers,scale=small --workdir=runs/teacher
  (--config.train.steps=500 and other overrides; multi-host: --coordinator=host:port --num_processes=N
   --process_id=i, see launch/recipes/)
Running the same command again resumes from the last checkpoint with the same data order.
"""
from absl import app
from absl import flags
import jax
from jax.experimental import multihost_utils
from ml_collections import config_flags

from dt_jax.data import source
from dt_jax.train import loop

_CONFIG = config_flags.DEFINE_config_file("config", None, "configs/<variant>.py:<args>", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Where checkpoints and logs go.", required=True)
_COORDINATOR = flags.DEFINE_string("coordinator", None, "Multi-host: the coordinator's host:port.")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Multi-host: number of processes.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "Multi-host: this process's index.")
_MULTIHOST = flags.DEFINE_bool("multihost", False, "Call jax.distributed.initialize() with no arguments (TPU VMs, "
                               "SLURM/cluster auto-detection).")


def main(argv):
  del argv
  if _COORDINATOR.value:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=_COORDINATOR.value, num_processes=_NUM_PROCESSES.value,
                               process_id=_PROCESS_ID.value)
  elif _MULTIHOST.value:
    jax.distributed.initialize()
  cfg = _CONFIG.value
  if jax.process_index() == 0:     # the embedded corpus builds itself; real datasets need their manual_dir
    source.build(cfg.data.name, data_dir=cfg.data.data_dir, manual_dir=cfg.data.manual_dir or None)
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices("dataset built")
  result = loop.train(cfg, _WORKDIR.value)
  print(f"step {result['step']}: train loss {result.get('train/loss', float('nan')):.4f}, "
        f"validation loss {result['val/loss']:.4f}")


if __name__ == "__main__":
  app.run(main)
