"""Multi-host start-up shared by the launchers: absl flags for jax.distributed, and the dataset build on process 0
with a barrier so that every process opens a finished dataset."""
from __future__ import annotations

from absl import flags
import jax
from jax.experimental import multihost_utils

from dt_jax.data import source

_COORDINATOR = flags.DEFINE_string("coordinator", None, "Multi-host: the coordinator's host:port.")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Multi-host: number of processes.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "Multi-host: this process's index.")
_MULTIHOST = flags.DEFINE_bool("multihost", False, "Call jax.distributed.initialize() with no arguments (TPU VMs, "
                               "SLURM/cluster auto-detection).")


def initialize() -> None:
  """jax.distributed.initialize from the flags (gloo collectives on CPU); nothing for a single process."""
  if _COORDINATOR.value:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=_COORDINATOR.value, num_processes=_NUM_PROCESSES.value,
                               process_id=_PROCESS_ID.value)
  elif _MULTIHOST.value:
    jax.distributed.initialize()


def prepare_data(cfg) -> None:
  """Builds the config's dataset on process 0 (the embedded corpus builds itself; real ones need manual_dir)."""
  if jax.process_index() == 0:
    source.build(cfg.data.name, data_dir=cfg.data.data_dir, manual_dir=cfg.data.manual_dir or None)
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices("dataset built")
