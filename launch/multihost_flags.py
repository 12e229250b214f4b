"""The multi-host flags of launch/train.py and launch/distill.py, passed to dt_jax.train.distributed."""
from absl import flags

from dt_jax.train import distributed

_COORDINATOR = flags.DEFINE_string("coordinator", None, "Multi-host: the coordinator's host:port.")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Multi-host: number of processes.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "Multi-host: this process's index.")
_MULTIHOST = flags.DEFINE_bool("multihost", False, "Call jax.distributed.initialize() with no arguments (TPU VMs, "
                               "SLURM/cluster auto-detection).")


def initialize() -> None:
  distributed.initialize(coordinator=_COORDINATOR.value, num_processes=_NUM_PROCESSES.value,
                         process_id=_PROCESS_ID.value, auto=_MULTIHOST.value)
