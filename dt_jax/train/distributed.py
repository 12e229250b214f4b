"""Multi-host start-up shared by the launchers: jax.distributed from explicit values, and the dataset build on
process 0 with a barrier so that every process opens a finished dataset. (The absl flags live in launch/.)"""
from __future__ import annotations

import jax
from jax.experimental import multihost_utils



def initialize(*, coordinator: str | None = None, num_processes: int | None = None, process_id: int | None = None,
               auto: bool = False) -> None:
  """jax.distributed.initialize with a coordinator (gloo collectives on CPU), or with no arguments when `auto`
  (TPU VMs, SLURM and other cluster auto-detection); nothing for a single process.

  Process 0's coordinator service listens on the address given and nowhere else (JAX's default is every
  interface). It has no authentication: anyone who reaches the port can join the job, so on a cluster give it an
  address on the cluster's private network."""
  if coordinator:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes, process_id=process_id,
                               coordinator_bind_address=coordinator)
  elif auto:
    jax.distributed.initialize()


def prepare_data(cfg, build) -> None:
  """Builds the config's dataset on process 0 (the embedded corpus builds itself; real ones need manual_dir), the
  others waiting. `build` is tfds_builders.build, passed in by the launcher: dt_jax never imports the builders."""
  if jax.process_index() == 0:
    build(cfg.data.name, data_dir=cfg.data.data_dir, manual_dir=cfg.data.manual_dir or None)
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices("dataset built")
