"""Loading untrusted pickles (e.g. VOCASET's): numpy arrays, dtypes and plain containers only; no code runs.

A pickle names the callables that rebuild its objects; a malicious one names `os.system` or similar. This
unpickler resolves only an allowlist (numpy's array reconstruction, dtypes, scalars, and plain containers) and
rejects anything else before it is called. Python 2 pickles load with `encoding="latin1"`.
"""
from __future__ import annotations

import _compat_pickle
import builtins
import codecs
import collections
import io
import pickle

import numpy as np


class UnsafePickleError(pickle.UnpicklingError):
  """The pickle refers to something other than numpy arrays and plain containers."""


def _allowed() -> dict[tuple[str, str], object]:
  multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray  # pylint: disable=protected-access
  allow = {}
  for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    allow[(mod, "_reconstruct")] = multiarray._reconstruct  # pylint: disable=protected-access
    allow[(mod, "scalar")] = multiarray.scalar
  numeric = np._core.numeric if hasattr(np, "_core") else np.core.numeric  # pylint: disable=protected-access
  for mod in ("numpy.core.numeric", "numpy._core.numeric"):      # protocol 5 out-of-band arrays
    allow[(mod, "_frombuffer")] = numeric._frombuffer  # pylint: disable=protected-access
  allow[("numpy", "ndarray")] = np.ndarray
  allow[("numpy", "dtype")] = np.dtype
  for name in dir(np.dtypes):               # newer numpy may pickle dtypes by their class
    if name.endswith("DType"):
      allow[("numpy.dtypes", name)] = getattr(np.dtypes, name)
  allow[("_codecs", "encode")] = codecs.encode   # bytes under protocol 2 (latin1 text -> bytes)
  for name in ("dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "bool", "str", "bytes",
               "bytearray"):
    allow[("builtins", name)] = getattr(builtins, name)
  allow[("collections", "OrderedDict")] = collections.OrderedDict
  return allow


class _RestrictedUnpickler(pickle.Unpickler):

  def __init__(self, file, *, where: str, **kwargs):
    super().__init__(file, **kwargs)
    self._where = where
    self._allow = _allowed()

  def find_class(self, module, name):
    # Python 2 names (__builtin__.set, copy_reg, ...) mapped as pickle's own find_class does.
    if (module, name) in _compat_pickle.NAME_MAPPING:
      module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    key = (module, name)
    if key not in self._allow:
      raise UnsafePickleError(f"{self._where}: refuses to load {module}.{name} (only numpy arrays, dtypes and "
                              "plain containers are allowed in a data pickle)")
    return self._allow[key]


def load(path, *, encoding: str = "latin1"):
  """Loads the pickle at `path` with the allowlist; raises UnsafePickleError or ValueError naming the file."""
  with open(path, "rb") as f:
    data = f.read()
  return loads(data, where=str(path), encoding=encoding)


def loads(data: bytes, *, where: str = "pickle", encoding: str = "latin1"):
  try:
    return _RestrictedUnpickler(io.BytesIO(data), where=where, encoding=encoding).load()
  except UnsafePickleError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f"{where}: not a readable pickle ({type(e).__name__}: {e})") from e
