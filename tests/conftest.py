"""Shared fixtures. 8 simulated CPU devices (set before JAX is imported) for the sharding tests, and one JAX
compilation cache per test run, shared by its xdist workers and the launchers they start, so the many tests that
compile the same tiny models pay each compile once (a fresh folder every run: nothing carries over between runs)."""
import os
import shutil
import tempfile

# The suite compiles far more than it runs: XLA's CPU backend at its lightest LLVM pipeline compiles the tiny
# models' steps about 40% faster (docs/findings.md), and the launchers the tests start inherit the flags.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8 --xla_backend_optimization_level=0 "
                      "--xla_llvm_disable_expensive_passes=true")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
_OWN_CACHE = None if "JAX_COMPILATION_CACHE_DIR" in os.environ else tempfile.mkdtemp(prefix="dt_jax_tests_jax_")
if _OWN_CACHE:
  os.environ["JAX_COMPILATION_CACHE_DIR"] = _OWN_CACHE                                     # xdist workers inherit it
  os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0.1"

import pytest  # noqa: E402


def pytest_sessionfinish(session):
  """The run's compilation cache goes with the run (removed by the process that made it; a cache the user set
  stays)."""
  del session
  if _OWN_CACHE:
    shutil.rmtree(_OWN_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def one_device_env():
  """The environment of a launcher the tests start on one CPU device: this run's XLA flags less the device count."""
  flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith("--xla_force_host_platform_device")]
  return dict(os.environ, XLA_FLAGS=" ".join(flags))


def _run_root(tmp_path_factory):
  """A folder this test run's pytest-xdist workers share (their common temp root)."""
  base = tmp_path_factory.getbasetemp()
  return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory):
  """The tiny synthetic corpus, built once for the whole run (the workers share it through a file lock)."""
  import filelock  # pylint: disable=g-import-not-at-top
  import tfds_builders  # pylint: disable=g-import-not-at-top
  data_dir = _run_root(tmp_path_factory) / "tiny_data"
  with filelock.FileLock(str(data_dir) + ".lock"):
    tfds_builders.build("synthetic_talkers/tiny", data_dir=str(data_dir))
  return str(data_dir)


@pytest.fixture(scope="session")
def tiny(tiny_data_dir):
  from dt_jax.data import source  # pylint: disable=g-import-not-at-top
  return source.open_dataset("synthetic_talkers/tiny", data_dir=tiny_data_dir)


@pytest.fixture(scope="session")
def tiny_student(tmp_path_factory, tiny_data_dir):
  """(student distill workdir, its data dir): a tiny teacher (4 steps) distilled 4 -> 2 in a few steps each.

  Built once for the whole run: the pytest-xdist workers share it through a file lock in their common temp root.
  """
  import filelock  # pylint: disable=g-import-not-at-top
  root = _run_root(tmp_path_factory) / "tiny_student"                                       # this run's only
  root.mkdir(parents=True, exist_ok=True)
  with filelock.FileLock(str(root) + ".lock"):
    data_dir, student = tiny_data_dir, str(root / "student")
    if not os.path.exists(os.path.join(student, "steps_2", "config.json")):
      from configs import ours16, ours2  # pylint: disable=g-import-not-at-top
      from dt_jax.distill import rounds  # pylint: disable=g-import-not-at-top
      from dt_jax.train import loop  # pylint: disable=g-import-not-at-top
      t = ours16.get_config("dataset=synthetic_talkers,scale=tiny")
      t.data.data_dir, t.data.global_batch, t.diffusion.num_steps, t.train.steps = data_dir, 8, 4, 4
      loop.train(t, str(root / "teacher"))
      s = ours2.get_config("dataset=synthetic_talkers,scale=tiny")
      s.data.data_dir, s.data.global_batch, s.distill.steps_per_round, s.distill.encoder_steps = data_dir, 8, 2, 2
      rounds.distill(s, teacher_dir=str(root / "teacher"), workdir=student)
  return student, data_dir


def _tiny_distill_configs(data_dir, variant="ours2"):
  """(teacher config, student config) of the distillation tests: a 4-step tiny teacher, batch 8."""
  from configs import ours16, ours2  # pylint: disable=g-import-not-at-top
  t = ours16.get_config("dataset=synthetic_talkers,scale=tiny")
  t.data.data_dir, t.data.global_batch, t.diffusion.num_steps, t.train.steps = data_dir, 8, 4, 30
  s = ours2.get_config(f"dataset=synthetic_talkers,scale=tiny,variant={variant}")
  s.data.data_dir, s.data.global_batch = data_dir, 8
  return t, s


@pytest.fixture(scope="session")
def distill_configs():
  """The function (data_dir, variant="ours2") -> (teacher config, student config) of the distillation tests."""
  return _tiny_distill_configs


def _shared_run(tmp_path_factory, name: str, build) -> str:
  """A folder `build(folder)` fills once for the whole test run; the xdist workers share it through a file lock
  (a build that died half-way is redone)."""
  import filelock  # pylint: disable=g-import-not-at-top
  root = _run_root(tmp_path_factory) / name
  with filelock.FileLock(str(root) + ".lock"):
    if not (root / ".complete").exists():
      shutil.rmtree(root, ignore_errors=True)
      root.mkdir(parents=True)
      build(str(root / "run"))
      (root / ".complete").touch()
  return str(root / "run")


@pytest.fixture(scope="session")
def teacher_dir(tiny_data_dir, tmp_path_factory):
  """A tiny 4-step teacher trained 30 steps (the distillation tests' teacher)."""
  from dt_jax.train import loop  # pylint: disable=g-import-not-at-top
  return _shared_run(tmp_path_factory, "teacher4",
                     lambda w: loop.train(_tiny_distill_configs(tiny_data_dir)[0], w))


@pytest.fixture(scope="session")
def distilled(teacher_dir, tiny_data_dir, tmp_path_factory):
  """(workdir, student config): teacher_dir distilled 4 -> 2 -> 1 with its encoder stage. Tests only read it."""
  from dt_jax.distill import rounds  # pylint: disable=g-import-not-at-top
  _, s_cfg = _tiny_distill_configs(tiny_data_dir)
  s_cfg.distill.end_steps = 1
  workdir = _shared_run(tmp_path_factory, "distilled",
                        lambda w: rounds.distill(s_cfg, teacher_dir=teacher_dir, workdir=w))
  return workdir, s_cfg
