"""How the training launchers end: a preempted run exits 143 (128 + SIGTERM) saying it saved; a run that cannot go
on (a busy or mismatched workdir, no intact checkpoint, a non-finite loss, a bad teacher) exits 1 with one line."""
import signal
import sys

from dt_jax.train import checkpoint
from dt_jax.train import session
from dt_jax.train import workdir

PREEMPTED = 143
_ONE_LINE = (workdir.WorkdirBusyError, workdir.ConfigMismatchError, checkpoint.CheckpointError,
             checkpoint.CheckpointMismatchError, session.NonFiniteLossError, FileNotFoundError, ValueError)


def _terminated_early(*_):
  raise session.Preempted("preempted (SIGTERM) outside the training steps (start-up, or a validation): every saved "
                       "checkpoint is kept; run the same command again")


def guarded(name: str, fn, *args, **kwargs):
  """fn(*args, **kwargs), or the exit above. SIGTERM where the training loop has not taken it over (loading data,
  compiling, validating) ends the same way, with its line."""
  signal.signal(signal.SIGTERM, _terminated_early)
  try:
    return fn(*args, **kwargs)
  except session.Preempted as e:
    print(f"{name}: {e}", file=sys.stderr, flush=True)
    sys.exit(PREEMPTED)
  except _ONE_LINE as e:
    sys.exit(f"{name}: {' '.join(str(e).split())}")


def check_config(name: str, argv: list[str]) -> None:
  """Loads the --config=<file>[:args] of argv once before absl does, so a bad config arg ends in one line (absl's
  flag error would print ml_collections' traceback)."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  value = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
  if value is None:
    return
  path, _, arg = value.partition(":")
  try:
    spec = importlib.util.spec_from_file_location("_checked_config", path)
    if spec is None:
      raise FileNotFoundError(f"no config file {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.get_config(arg) if arg else module.get_config()
  except (ValueError, KeyError, FileNotFoundError, AttributeError) as e:
    sys.exit(f"{name}: --config={value}: {' '.join(str(e).split())}")
