"""Shared fixtures. Tests run on one CPU device, as a user's machine has (8 simulated devices made every training
step an 8-way program on 2 cores); a test marked `@pytest.mark.devices(8)` runs in a child pytest that simulates
8 (set before JAX is imported there), sharing this run's tiny corpus and runs. One JAX compilation cache per test
run, shared by its xdist workers, their children and the launchers they start, so the many tests that compile the
same tiny models pay each compile once (a fresh folder every run: nothing carries over between runs)."""
import os
import shutil
import subprocess
import sys
import tempfile

_DEVICES = int(os.environ.get("DT_JAX_TEST_DEVICES", "1"))        # the child of a devices(N) test sets N
if _DEVICES > 1:
  os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={_DEVICES}"
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


def _run_root(tmp_path_factory):
  """A folder this test run's pytest-xdist workers (and their devices(N) children) share."""
  import pathlib  # pylint: disable=g-import-not-at-top
  if os.environ.get("DT_JAX_TEST_ROOT"):
    return pathlib.Path(os.environ["DT_JAX_TEST_ROOT"])
  base = tmp_path_factory.getbasetemp()
  return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def pytest_pyfunc_call(pyfuncitem):
  """A test marked devices(N) on a process with fewer devices runs in a child pytest with N simulated CPU devices;
  its result is the child's (its fixtures here are set up, so shared builds are ready for the child)."""
  marker = pyfuncitem.get_closest_marker("devices")
  if marker is None or _DEVICES >= marker.args[0]:
    return None
  root = _run_root(pyfuncitem.config._tmp_path_factory)  # pylint: disable=protected-access
  env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
  env.update(DT_JAX_TEST_DEVICES=str(marker.args[0]), DT_JAX_TEST_ROOT=str(root))
  basetemp = tempfile.mkdtemp(prefix="devices_", dir=root)
  cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
         f"--basetemp={basetemp}", f"{pyfuncitem.path}::{pyfuncitem.name}"]
  proc = subprocess.run(cmd, cwd=str(pyfuncitem.config.rootpath), env=env, capture_output=True, text=True,
                        timeout=600)
  assert proc.returncode == 0, f"on {marker.args[0]} devices:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
  return True


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory):
  """The tiny synthetic corpus, built once for the whole run (the workers share it through a file lock)."""
  import filelock  # pylint: disable=g-import-not-at-top
  from dt_jax.data import source  # pylint: disable=g-import-not-at-top
  data_dir = _run_root(tmp_path_factory) / "tiny_data"
  with filelock.FileLock(str(data_dir) + ".lock"):
    source.build("synthetic_talkers/tiny", data_dir=str(data_dir))
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
