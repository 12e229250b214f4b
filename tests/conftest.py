"""Shared fixtures. 8 simulated CPU devices (set before JAX is imported) for the sharding tests."""
import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory):
  """The tiny synthetic corpus, built once per test process."""
  from dt_jax.data import source  # pylint: disable=g-import-not-at-top
  data_dir = str(tmp_path_factory.mktemp("data"))
  source.build("synthetic_talkers/tiny", data_dir=data_dir)
  return data_dir


@pytest.fixture(scope="session")
def tiny(tiny_data_dir):
  from dt_jax.data import source  # pylint: disable=g-import-not-at-top
  return source.open_dataset("synthetic_talkers/tiny", data_dir=tiny_data_dir)


@pytest.fixture(scope="session")
def tiny_student(tmp_path_factory):
  """(student distill workdir, its data dir): a tiny teacher (4 steps) distilled 4 -> 2 in a few steps each.

  Built once for the whole run: the pytest-xdist workers share it through a file lock in their common temp root.
  """
  import filelock  # pylint: disable=g-import-not-at-top
  base = tmp_path_factory.getbasetemp()
  root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "tiny_student"   # this run's only
  root.mkdir(parents=True, exist_ok=True)
  with filelock.FileLock(str(root) + ".lock"):
    data_dir, student = str(root / "data"), str(root / "student")
    if not os.path.exists(os.path.join(student, "steps_2", "config.json")):
      from configs import ours16, ours2  # pylint: disable=g-import-not-at-top
      from dt_jax.data import source  # pylint: disable=g-import-not-at-top
      from dt_jax.distill import rounds  # pylint: disable=g-import-not-at-top
      from dt_jax.train import loop  # pylint: disable=g-import-not-at-top
      source.build("synthetic_talkers/tiny", data_dir=data_dir)
      t = ours16.get_config("dataset=synthetic_talkers,scale=tiny")
      t.data.data_dir, t.data.global_batch, t.diffusion.num_steps, t.train.steps = data_dir, 8, 4, 4
      loop.train(t, str(root / "teacher"))
      s = ours2.get_config("dataset=synthetic_talkers,scale=tiny")
      s.data.data_dir, s.data.global_batch, s.distill.steps_per_round, s.distill.encoder_steps = data_dir, 8, 2, 2
      rounds.distill(s, teacher_dir=str(root / "teacher"), workdir=student)
  return student, data_dir
