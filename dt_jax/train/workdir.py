"""What a run may assume about its directory: it is the only writer (an exclusive `flock` on `<workdir>/.lock`),
and a resumed run has the config its checkpoints were written with.

A second run on the same workdir stops with one line naming the holder (host and process id, written into the
file). The kernel drops the lock when its process dies, however it dies, so a stale lock left by a killed run is
simply taken over. In a multi-host run the process that writes the logs and configs (process 0) holds it.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time

from absl import logging


class WorkdirBusyError(RuntimeError):
  """Another live process holds the workdir."""


class WorkdirLock:
  """Context manager: `with WorkdirLock(workdir): ...` (a no-op when `enabled` is False)."""

  def __init__(self, workdir: str, *, enabled: bool = True):
    self.path = os.path.join(workdir, ".lock")
    self.enabled = enabled
    self._fd = None

  def __enter__(self):
    if not self.enabled:
      return self
    os.makedirs(os.path.dirname(self.path), exist_ok=True)
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "another process"
      os.close(fd)
      if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
        raise WorkdirBusyError(f"{os.path.dirname(self.path)} is in use by {holder}; wait for it to finish or use "
                               f"another --workdir") from None
      raise
    previous = os.pread(fd, 512, 0).decode(errors="replace").strip()
    if previous:
      logging.info("took over %s from a process that is gone (%s)", self.path, previous)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{socket.gethostname()} pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(),
              0)
    self._fd = fd
    return self

  def __exit__(self, *exc):
    if self._fd is not None:
      os.ftruncate(self._fd, 0)
      fcntl.flock(self._fd, fcntl.LOCK_UN)
      os.close(self._fd)
      self._fd = None
    return False


class ConfigMismatchError(ValueError):
  """A workdir's checkpoints were written with another model or step count than the config resuming them."""


def _flat(d, prefix=""):
  out = {}
  for k, v in d.items():
    if isinstance(v, dict):
      out.update(_flat(v, f"{prefix}{k}."))
    else:
      out[f"{prefix}{k}"] = v
  return out


def check_resume(workdir: str, cfg, *, blocks=("model", "diffusion"), keys=("data.name",)) -> None:
  """Raises ConfigMismatchError (one line, naming the keys that differ) when `workdir/config.json` exists and its
  `blocks` or `keys` (dotted) differ from `cfg`'s: the checkpoints there cannot be resumed by this config. Nothing
  in the workdir is touched."""
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    return
  with open(path) as f:
    saved = json.load(f)
  now = json.loads(cfg.to_json_best_effort())
  diff = []
  for block in blocks:
    a, b = _flat(saved.get(block, {})), _flat(now.get(block, {}))
    diff += [f"{block}.{k}: {a.get(k, '(absent)')} -> {b.get(k, '(absent)')}" for k in sorted(set(a) | set(b))
             if a.get(k) != b.get(k)]
  a, b = _flat(saved), _flat(now)
  diff += [f"{k}: {a.get(k, '(absent)')} -> {b.get(k, '(absent)')}" for k in keys if a.get(k) != b.get(k)]
  if diff:
    raise ConfigMismatchError(f"{workdir} holds a run with another config ({path}); it differs in "
                              f"{'; '.join(diff[:6])}{' ...' if len(diff) > 6 else ''}: use another --workdir")
