"""The Live Link Face formats: the app's recorded UDP packets decode and re-encode byte for byte, the CSV writer
and reader round-trip, and every malformed CSV is one error naming the file and line."""
import os
import struct

import numpy as np
import pytest

from dt_jax.face import arkit
from dt_jax.face import livelink

PACKETS = os.path.join(os.path.dirname(__file__), "testdata", "livelink_face", "dao_packets.bin")


def _recorded() -> list[bytes]:
  data, out, at = open(PACKETS, "rb").read(), [], 0
  while at < len(data):
    (size,) = struct.unpack(">I", data[at:at + 4])
    out.append(data[at + 4:at + 4 + size])
    at += 4 + size
  return out


def test_the_apps_packets_decode_and_encode_byte_for_byte():
  raw = _recorded()
  packets = [livelink.decode(r) for r in raw]
  assert len(packets) == 180 and {(p.version, p.rate, len(p.values)) for p in packets} == {(6, (60, 1), 61)}
  assert {(p.device_id, p.subject) for p in packets} == {("DEADC0DE-1337-1337-1337-CAFEBABE", "LLV Default Device")}
  assert np.all(np.diff([p.frame for p in packets]) > 0)
  weights = np.stack([p.weights for p in packets])                      # [180, 52] in arkit.NAMES order
  assert weights.min() >= 0 and weights.max() <= 1 and weights.max() > 0.5
  i = arkit.INDEX
  for pair in ("eyeLookDown", "eyeSquint", "mouthSmile", "mouthStretch"):        # the face's halves move together
    assert np.corrcoef(weights[:, i[pair + "Left"]], weights[:, i[pair + "Right"]])[0, 1] > 0.8, pair
  assert all(livelink.encode(p) == r for p, r in zip(packets, raw))
  # What the project sends, from those weights and rotations, is the app's packet but for device, subject and rate.
  p = packets[0]
  ours = livelink.decode(livelink.packet(p.weights, frame=p.frame, subject="Ada", rotations=p.values[52:]))
  np.testing.assert_array_equal(ours.values, p.values)
  assert (ours.subject, ours.rate, ours.version) == ("Ada", (30, 1), 6)
  same = livelink.Packet(subject=p.subject, frame=p.frame, values=ours.values, subframe=p.subframe, rate=p.rate,
                         device_id=p.device_id)
  assert livelink.encode(same) == raw[0]


def test_the_two_orders_differ_only_in_the_swapped_pairs():
  differ = [(a, b) for a, b in zip(livelink.ENUM_ORDER, livelink.CSV_ORDER) if a != b]
  assert differ == [("jawLeft", "jawRight"), ("jawRight", "jawLeft"), ("mouthLeft", "mouthRight"),
                    ("mouthRight", "mouthLeft")]
  w = np.zeros(52)
  w[arkit.INDEX["jawLeft"]] = 0.7
  values = livelink.decode(livelink.packet(w, frame=0, subject="s")).values
  assert values[livelink.ENUM_ORDER.index("jawLeft")] == np.float32(0.7) and values.sum() == np.float32(0.7)
  w = np.full(52, 1.5)
  assert livelink.decode(livelink.packet(w, frame=0, subject="s")).values[:52].max() == 1.0   # kept in [0, 1]


def test_truncated_or_foreign_packets_are_refused():
  raw = _recorded()[0]
  with pytest.raises(livelink.LiveLinkError, match="ends at byte 300"):
    livelink.decode(raw[:300])
  with pytest.raises(livelink.LiveLinkError, match="version 5"):
    livelink.decode(b"\x05" + raw[1:])
  with pytest.raises(livelink.LiveLinkError, match="2 bytes after"):
    livelink.decode(raw + b"\0\0")


def test_csv_round_trips_at_60_fps(tmp_path):
  rng = np.random.default_rng(0)
  w = rng.uniform(0, 1, (130, 52)).astype(np.float32)
  rot = rng.uniform(-0.3, 0.3, (130, 9)).astype(np.float32)
  path = livelink.write_csv(str(tmp_path / "take.csv"), w, rotations=rot, fps=60, first_frame=60 * 3600 * 10 + 7)
  header = open(path).readline().strip().split(",")
  assert header.index("JawRight") < header.index("JawLeft") and header.index("MouthRight") < header.index("MouthLeft")
  take = livelink.read_csv(path, timecode_fps=60)
  np.testing.assert_allclose(take.weights, w, atol=1e-6)
  np.testing.assert_allclose(take.rotations, rot, atol=1e-6)
  np.testing.assert_allclose(take.times, np.arange(130) / 60, atol=1e-9)
  assert take.start == pytest.approx(36000 + 7 / 60)


def _rows(path):
  return open(path).read().splitlines()


@pytest.mark.parametrize("damage, says", [
    (lambda r: [r[0].replace(",MouthClose", "")] + [x.split(",", 1)[0] + "," + x.split(",", 1)[1] for x in r[1:]],
     r"a\.csv:1: the header lacks 1 column\(s\): MouthClose"),
    (lambda r: r[:3] + [r[3] + ",0.5"] + r[4:], r"a\.csv:4: 64 fields, the header has 63"),
    (lambda r: r[:3] + [r[3].replace(",61,", ",52,", 1)] + r[4:], r"a\.csv:4: BlendShapeCount '52', expected 61"),
    (lambda r: r[:4] + [r[3]] + r[5:], r"a\.csv:5: timecode 00:00:00:02.000 repeats the line before's"),
    (lambda r: r[:4] + [r[2]] + r[5:], r"a\.csv:5: timecode 00:00:00:01.000 goes back from the line before's"),
    (lambda r: r[:5] + [r[5].replace("0.100000", "nan", 1)] + r[6:], r"a\.csv:6: EyeBlinkLeft not a finite number"),
    (lambda r: r[:5] + [r[5].replace("0.100000", "x", 1)] + r[6:], r"a\.csv:6: could not convert string to float"),
    (lambda r: r[:2] + ["00:00:61:00.000" + r[2][len("00:00:00:01.000"):]] + r[3:], r"a\.csv:3: timecode '00:00:61:00"),
    (lambda r: r[:1], r"a\.csv: no frames after the header"),
])
def test_every_malformed_csv_is_one_line_naming_file_and_line(tmp_path, damage, says):
  path = livelink.write_csv(str(tmp_path / "a.csv"), np.full((8, 52), 0.1), fps=60)
  damaged = "\n".join(damage(_rows(path))) + "\n"
  with open(path, "w") as f:
    f.write(damaged)
  with pytest.raises(livelink.LiveLinkError, match=says) as e:
    livelink.read_csv(path, timecode_fps=60)
  assert "\n" not in str(e.value)
