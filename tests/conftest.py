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
