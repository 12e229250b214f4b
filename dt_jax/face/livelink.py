"""Epic's Live Link Face app: the CSV it records per take, and the UDP packet it streams to Unreal.

One name table, two orders. Both carry the 52 ARKit blendshapes (PascalCase) then nine head and eye rotations:
* UDP (what Unreal's Live Link Face source receives on port 11111): Unreal's `EARFaceBlendShape` enum order.
* CSV (`Timecode,BlendShapeCount,<52 names>,HeadYaw,...,RightEyeRoll`): the same but for two swapped pairs, JawRight
  before JawLeft and MouthRight before MouthLeft, as the app writes its header.
The project's own order is arkit.NAMES (EmoTalk's, alphabetical); every conversion goes through the tables here.

Packet (version 6, all big-endian): uint8 version; int32 length + device id bytes; int32 length + subject name
bytes; frame time as int32 frame number, float32 sub-frame, int32 rate numerator, int32 rate denominator; uint8
value count (61); 61 float32 values.
"""
from __future__ import annotations

import csv
import dataclasses
import math
import re
import struct

import numpy as np

from dt_jax import timebase
from dt_jax.face import arkit

ENUM_ORDER = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft",
    "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight", "jawForward", "jawLeft", "jawRight", "jawOpen", "mouthClose", "mouthFunnel",
    "mouthPucker", "mouthLeft", "mouthRight", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft", "mouthPressRight",
    "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight", "browDownLeft",
    "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "cheekPuff", "cheekSquintLeft",
    "cheekSquintRight", "noseSneerLeft", "noseSneerRight", "tongueOut")
_CSV_SWAPS = {"jawLeft": "jawRight", "jawRight": "jawLeft", "mouthLeft": "mouthRight", "mouthRight": "mouthLeft"}
CSV_ORDER = tuple(_CSV_SWAPS.get(n, n) for n in ENUM_ORDER)
ROTATIONS = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll", "RightEyeYaw",
             "RightEyePitch", "RightEyeRoll")
NUM_VALUES = arkit.NUM + len(ROTATIONS)          # 61
PORT = 11111                                      # Unreal's Live Link Face source listens here
PACKET_VERSION = 6
DEVICE_ID = "DT-JAX-0000-0000-0000-STREAM"        # the device id this project's packets carry
assert sorted(ENUM_ORDER) == sorted(arkit.NAMES) and len(set(ENUM_ORDER)) == arkit.NUM


def pascal(name: str) -> str:
  return name[0].upper() + name[1:]


def columns(order: tuple[str, ...]) -> np.ndarray:
  """Indices into arkit.NAMES of `order`'s names: weights[..., columns(order)] is in that order."""
  return np.asarray([arkit.INDEX[n] for n in order])


def to_arkit(values: np.ndarray, order: tuple[str, ...]) -> np.ndarray:
  """[..., 52] in `order` -> [..., 52] in arkit.NAMES order."""
  out = np.empty_like(np.asarray(values))
  out[..., columns(order)] = values
  return out


class LiveLinkError(ValueError):
  """A Live Link Face file or packet that cannot be read; the message names the file and line (or the byte)."""


# --------------------------------------------------------------------------------------------------- timecodes

_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})[:;](\d{2,3})(?:\.(\d+))?$")


def timecode(frame: int, fps: int = timebase.FPS) -> str:
  """HH:MM:SS:FF.mmm of a frame counted from 0 at `fps` (the sub-frame field is 0)."""
  seconds, ff = divmod(frame, fps)
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f"{h:02d}:{m:02d}:{s:02d}:{ff:02d}.000"


def parse_timecode(text: str, fps: float) -> float:
  """Seconds of `HH:MM:SS:FF[.fff]` (FF frames at `fps`, .fff a fraction of a frame); ValueError when malformed."""
  m = _TIMECODE.match(text.strip())
  if not m or int(m.group(4)) >= math.ceil(fps) or int(m.group(2)) >= 60 or int(m.group(3)) >= 60:
    raise ValueError(f"timecode {text!r} is not HH:MM:SS:FF.fff at {fps:g} fps")
  h, mi, s, ff = (int(g) for g in m.groups()[:4])
  frac = float("0." + m.group(5)) if m.group(5) else 0.0
  return h * 3600 + mi * 60 + s + (ff + frac) / fps


# --------------------------------------------------------------------------------------------------------- CSV

@dataclasses.dataclass(frozen=True)
class Take:
  """A Live Link Face CSV take: `times` [T] seconds since its first row's timecode, `weights` [T, 52] in
  arkit.NAMES order, `rotations` [T, 9] (ROTATIONS, radians as the app writes them), `start` the first row's
  timecode in seconds."""
  times: np.ndarray
  weights: np.ndarray
  rotations: np.ndarray
  start: float


def csv_header() -> list[str]:
  return ["Timecode", "BlendShapeCount"] + [pascal(n) for n in CSV_ORDER] + list(ROTATIONS)


def write_csv(path: str, weights: np.ndarray, *, rotations: np.ndarray | None = None, fps: int = timebase.FPS,
              first_frame: int = 0) -> str:
  """weights [T, 52] (arkit.NAMES order, clipped to [0, 1]) and rotations [T, 9] (default 0) -> the app's CSV,
  one row per frame at `fps` from timecode frame `first_frame`."""
  w = np.clip(np.asarray(weights, np.float64), *arkit.WEIGHT_RANGE)[:, columns(CSV_ORDER)]
  rot = np.zeros((len(w), len(ROTATIONS))) if rotations is None else np.asarray(rotations, np.float64)
  lines = [",".join(csv_header())]
  for t, (row, r) in enumerate(zip(w, rot)):
    values = [f"{v:.6f}" for v in row] + [f"{v:.6f}" if v else "0" for v in r]
    lines.append(",".join([timecode(first_frame + t, fps), str(NUM_VALUES)] + values))
  with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")
  return path


def _check_header(path: str, header: list[str]) -> list[int]:
  """The CSV columns of [Timecode, BlendShapeCount, CSV_ORDER..., ROTATIONS...] found by name."""
  names = [h.strip() for h in header]
  where = {n.lower(): i for i, n in enumerate(names)}
  wanted = ["Timecode", "BlendShapeCount"] + [pascal(n) for n in CSV_ORDER] + list(ROTATIONS)
  missing = [n for n in wanted if n.lower() not in where]
  if missing:
    raise LiveLinkError(f"{path}:1: the header lacks {len(missing)} column(s): {', '.join(missing[:6])}"
                        f"{' ...' if len(missing) > 6 else ''} (a Live Link Face ARKit-mode CSV is expected)")
  return [where[n.lower()] for n in wanted]


def read_csv(path: str, *, timecode_fps: float = 60.0) -> Take:
  """Reads the app's CSV; a missing column, a wrong count, a timecode that does not increase, or a value that is
  not a finite number is a LiveLinkError naming the file and line."""
  try:
    with open(path, newline="", encoding="utf-8-sig") as f:
      rows = list(csv.reader(f))
  except (OSError, UnicodeDecodeError) as e:
    raise LiveLinkError(f"{path}: cannot be read ({e})") from None
  if not rows:
    raise LiveLinkError(f"{path}: empty")
  cols = _check_header(path, rows[0])
  times, values = [], []
  for line, row in enumerate(rows[1:], start=2):
    if not any(cell.strip() for cell in row):
      continue
    if len(row) != len(rows[0]):
      raise LiveLinkError(f"{path}:{line}: {len(row)} fields, the header has {len(rows[0])}")
    try:
      t = parse_timecode(row[cols[0]], timecode_fps)
    except ValueError as e:
      raise LiveLinkError(f"{path}:{line}: {e}") from None
    if row[cols[1]].strip() != str(NUM_VALUES):
      raise LiveLinkError(f"{path}:{line}: BlendShapeCount {row[cols[1]].strip()!r}, expected {NUM_VALUES}")
    try:
      v = np.asarray([float(row[c]) for c in cols[2:]])
    except ValueError as e:
      raise LiveLinkError(f"{path}:{line}: {e}") from None
    if not np.all(np.isfinite(v)):
      names = [pascal(n) for n in CSV_ORDER] + list(ROTATIONS)
      bad = (names[i] for i in np.flatnonzero(~np.isfinite(v)))
      raise LiveLinkError(f"{path}:{line}: {', '.join(bad)} not a finite number")
    if times and t <= times[-1]:
      kind = "repeats" if t == times[-1] else "goes back from"
      raise LiveLinkError(f"{path}:{line}: timecode {row[cols[0]].strip()} {kind} the line before's (timecodes must "
                          f"increase; is the timecode rate {timecode_fps:g} fps?)")
    times.append(t)
    values.append(v)
  if not values:
    raise LiveLinkError(f"{path}: no frames after the header")
  v = np.stack(values)
  return Take(times=np.asarray(times) - times[0], weights=to_arkit(v[:, :arkit.NUM], CSV_ORDER).astype(np.float32),
              rotations=v[:, arkit.NUM:].astype(np.float32), start=times[0])


# ----------------------------------------------------------------------------------------------------- packets

@dataclasses.dataclass(frozen=True)
class Packet:
  """One Live Link Face UDP packet; `values` [61]: 52 blendshapes in ENUM_ORDER, then ROTATIONS."""
  subject: str
  frame: int
  values: np.ndarray
  subframe: float = 0.0
  rate: tuple[int, int] = (timebase.FPS, 1)
  device_id: str = DEVICE_ID
  version: int = PACKET_VERSION

  @property
  def weights(self) -> np.ndarray:
    """[52] in arkit.NAMES order."""
    return to_arkit(np.asarray(self.values[:arkit.NUM]), ENUM_ORDER)


def encode(p: Packet) -> bytes:
  values = np.asarray(p.values, ">f4")
  if values.shape != (NUM_VALUES,):
    raise ValueError(f"a Live Link Face packet carries {NUM_VALUES} values; got {values.shape}")
  device, subject = p.device_id.encode(), p.subject.encode()
  return b"".join([struct.pack(">B", p.version), struct.pack(">i", len(device)), device,
                   struct.pack(">i", len(subject)), subject,
                   struct.pack(">ifii", p.frame, p.subframe, *p.rate), struct.pack(">B", len(values)),
                   values.tobytes()])


def decode(data: bytes) -> Packet:
  """A packet from its bytes; LiveLinkError when truncated, of another version or with trailing bytes."""
  def take(n, at):
    if at + n > len(data):
      raise LiveLinkError(f"Live Link Face packet of {len(data)} bytes ends at byte {len(data)}, {at + n} needed")
    return data[at:at + n], at + n

  head, at = take(1, 0)
  if head[0] != PACKET_VERSION:
    raise LiveLinkError(f"Live Link Face packet version {head[0]}, only {PACKET_VERSION} is read")
  strings = []
  for _ in range(2):
    size, at = take(4, at)
    text, at = take(struct.unpack(">i", size)[0], at)
    strings.append(text.decode("utf-8", "replace"))
  time, at = take(16, at)
  frame, subframe, num, den = struct.unpack(">ifii", time)
  count, at = take(1, at)
  values, at = take(4 * count[0], at)
  if at != len(data):
    raise LiveLinkError(f"Live Link Face packet has {len(data) - at} bytes after its {count[0]} values")
  return Packet(subject=strings[1], frame=frame, values=np.frombuffer(values, ">f4").astype(np.float32),
                subframe=subframe, rate=(num, den), device_id=strings[0], version=head[0])


def packet(weights: np.ndarray, *, frame: int, subject: str, fps: int = timebase.FPS,
           rotations: np.ndarray | None = None) -> bytes:
  """The packet for one frame: weights [52] in arkit.NAMES order (clipped to [0, 1]), rotations [9] (0 unless
  given), frame time `frame` at `fps`/1."""
  w = np.clip(np.asarray(weights, np.float64), *arkit.WEIGHT_RANGE)[columns(ENUM_ORDER)]
  rot = np.zeros(len(ROTATIONS)) if rotations is None else np.asarray(rotations, np.float64)
  return encode(Packet(subject=subject, frame=frame, values=np.concatenate([w, rot]), rate=(fps, 1)))
