"""What every launcher that reads a trained run shares (animate, stream, evaluate, export, benchmark,
render_compare): --allow_unfinished, and one line instead of a traceback for a run it cannot use or an output
folder it cannot write."""
import os
import sys

from absl import flags

from dt_jax.runs import loading
from dt_jax.train import checkpoint

ALLOW_UNFINISHED = flags.DEFINE_bool(
    "allow_unfinished", False, "Use a run that stopped before its configured step count as it is (a warning says "
    "how far it got). Refused by default: an unfinished run is usually one that was killed or is still running.")
UNUSABLE = (loading.UnfinishedRunError, FileNotFoundError, checkpoint.CheckpointError)


def load_run(name: str, path: str, *, data_dir: str | None = None) -> loading.Run:
  """loading.load_run with --allow_unfinished; an unusable run ends the launcher `name` with one line."""
  try:
    return loading.load_run(path, data_dir=data_dir, allow_unfinished=ALLOW_UNFINISHED.value)
  except UNUSABLE as e:
    sys.exit(f"{name}: {' '.join(str(e).split())}")


def check_out(name: str, path: str | None) -> None:
  """Ends the launcher `name` with one line, before any work, when its output folder `path` is an existing file or
  cannot be made."""
  if not path:
    return
  if os.path.exists(path) and not os.path.isdir(path):
    sys.exit(f"{name}: --out={path} is a file, not a folder")
  try:
    os.makedirs(path, exist_ok=True)
  except OSError as e:
    sys.exit(f"{name}: --out={path} cannot be made ({e.strerror})")
