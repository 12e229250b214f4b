"""Animates a wav as a live stream: the file is replayed in chunks (in real time by default), frames come out as
soon as their lookahead has arrived, and each can go to a game engine or a browser as a UDP datagram, or into
Unreal's Live Link as the Live Link Face app's packets.

  python launch/stream.py --checkpoint=runs/demo/student --audio=speech.wav --chunk_ms=40 --lookahead_ms=200 \\
      --out=out/ [--udp=127.0.0.1:9000] [--livelink=192.168.1.20[:11111] --livelink_subject=dt_jax] \\
      [--gltf --livelink_csv --json]

Prints each chunk's latency (its last sample's arrival to its frames being ready: lookahead + compute) at the end
as p50 / p95, and the real-time factor (compute over audio duration). Writes what launch/animate.py writes. A UDP
datagram per frame: {"frame", "time", "timecode", "weights": {ARKit name: weight}}; a consumer that is not
listening does not stop the stream. --livelink: one Live Link Face packet (version 6) per frame, the 52
weights in [0, 1], head and eye rotations 0, frame times at 30/1 fps, the subject named by --livelink_subject;
in Unreal add a Live Link Face source (it listens on UDP port 11111) and pick that subject. Bad input ends in one line (`stream: <file>: <why>`) and exit status 1.
"""
import json
import os
import socket
import sys
import time

from absl import app
from absl import flags
import numpy as np
import common_flags
import run_flags

from dt_jax import timebase
from dt_jax.data import audio as audio_lib
from dt_jax.face import arkit
from dt_jax.face import livelink
from dt_jax.inference import animator as animator_lib
from dt_jax.inference import outputs
from dt_jax.inference import rig_formats
from dt_jax.inference import stream as stream_lib
from dt_jax.train import checkpoint

_CKPT = common_flags.checkpoint()
_AUDIO = flags.DEFINE_string("audio", None, "Speech to stream (wav, flac, ...).", required=True)
_OUT = common_flags.out("out")
_CHUNK = flags.DEFINE_float("chunk_ms", 40.0, "Audio arrives in chunks of this many milliseconds.", lower_bound=1.0)
_LOOKAHEAD = flags.DEFINE_float("lookahead_ms", 200.0, "Audio after a frame waited for before it is generated.",
                                lower_bound=0.0)
_WINDOW = flags.DEFINE_float("window_seconds", 6.0, "The sampler's window (encoder context + lookahead).")
_STEPS = common_flags.num_steps()
_SEED = common_flags.noise_seed()
_REALTIME = flags.DEFINE_bool("realtime", True, "Replay at the speed of speech (else as fast as possible).")
_UDP = flags.DEFINE_string("udp", None, "host:port to send every frame to as a JSON datagram.")
_LIVELINK = flags.DEFINE_string("livelink", None, "host[:port] (default port 11111) to send every frame to as a Live "
                                "Link Face packet: Unreal's Live Link Face source receives it.")
_SUBJECT = flags.DEFINE_string("livelink_subject", "dt_jax", "The Live Link subject name the packets carry.")
_RENDER = flags.DEFINE_bool("render", False, "Render an MP4 with the audio at the end.")
_GLTF, _CSV, _JSON = common_flags.rig_outputs()
_DATA_DIR = common_flags.data_dir()
flags.adopt_module_key_flags(common_flags)   # the shared flags show in --help


def udp_address(target: str, *, flag: str = "--udp", default_port: int | None = None) -> tuple:
  """The socket address of host:port (host alone when there is a default port), resolved now; ValueError (one
  line) for a missing or out-of-range port or a host that does not resolve, before anything is streamed."""
  host, _, port = target.rpartition(":") if ":" in target or default_port is None else (target, "", str(default_port))
  if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
    raise ValueError(f"{flag}={target}: expected host:port with a port in 1-65535")
  try:
    family, _, _, _, addr = socket.getaddrinfo(host, int(port), type=socket.SOCK_DGRAM)[0]
  except socket.gaierror as e:
    raise ValueError(f"{flag}={target}: cannot resolve {host!r} ({e.strerror})") from None
  return family, addr


class _Udp:
  """Frames as datagrams, each made by `encode(frame index, weights [52])`; a refused or unreachable consumer is
  counted, never fatal."""

  def __init__(self, name: str, address: tuple, encode):
    self.name, (family, self.addr), self.encode = name, address, encode
    self.sock, self.failed, self.sent = socket.socket(family, socket.SOCK_DGRAM), 0, 0

  def send(self, first: int, frames: np.ndarray) -> None:
    for k, w in enumerate(frames):
      try:
        self.sock.sendto(self.encode(first + k, w), self.addr)
        self.sent += 1
      except OSError:
        self.failed += 1


def _sinks() -> list[_Udp]:
  """The UDP consumers the flags ask for (checked and resolved before anything is loaded)."""
  sinks = []
  if _UDP.value:
    sinks.append(_Udp("JSON datagrams", udp_address(_UDP.value),
                      lambda t, w: json.dumps(rig_formats.frame_record(t, w)).encode()))
  if _LIVELINK.value:
    sinks.append(_Udp("Live Link Face packets",
                      udp_address(_LIVELINK.value, flag="--livelink", default_port=livelink.PORT),
                      lambda t, w: livelink.packet(w, frame=t, subject=_SUBJECT.value)))
  return sinks


def _replay(streamer, speech: np.ndarray, sinks: list[_Udp]):
  """Feeds the file chunk by chunk; returns (motion [T, D], per-chunk latencies, compute seconds)."""
  chunk = max(1, int(round(_CHUNK.value / 1000 * timebase.SAMPLE_RATE)))
  pieces, latencies, compute, t0 = [], [], 0.0, time.perf_counter()
  for start in range(0, len(speech), chunk):
    arrival = t0 + min(start + chunk, len(speech)) / timebase.SAMPLE_RATE    # when its last sample exists
    if _REALTIME.value:
      time.sleep(max(0.0, arrival - time.perf_counter()))
    c0 = time.perf_counter()
    frames = streamer.push(speech[start:start + chunk])
    done = time.perf_counter()
    compute += done - c0
    if len(frames):
      for sink in sinks:
        sink.send(streamer.emitted - len(frames), frames)
      latencies.append(_LOOKAHEAD.value / 1000 + (done - c0 if not _REALTIME.value else done - arrival))
      pieces.append(frames)
  c0 = time.perf_counter()
  tail = streamer.finish()
  compute += time.perf_counter() - c0
  for sink in sinks:
    sink.send(streamer.emitted - len(tail), tail)
  return np.concatenate(pieces + [tail]), latencies, compute


def main(argv):
  del argv
  checkpoint.quiet_orbax_logs()
  try:
    sinks = _sinks()
    run_flags.check_out("stream", _OUT.value)
    speech = audio_lib.load_speech(_AUDIO.value)
    run = run_flags.load_run("stream", _CKPT.value, data_dir=_DATA_DIR.value)
    streamer = stream_lib.StreamingAnimator(run, lookahead_seconds=_LOOKAHEAD.value / 1000,
                                            window_seconds=_WINDOW.value, num_steps=_STEPS.value, seed=_SEED.value)
    if sinks and run.dataset.motion_dim != arkit.NUM:
      raise ValueError(f"--udp and --livelink send the 52 ARKit weights; {run.dataset.name} is a vertex dataset")
  except (audio_lib.AudioError, animator_lib.AnimateError, FileNotFoundError, ValueError) as e:
    sys.exit(f"stream: {e}")
  motion, latencies, compute = _replay(streamer, speech, sinks)
  seconds = len(speech) / timebase.SAMPLE_RATE
  p50, p95 = (np.percentile(latencies, [50, 95]) * 1000) if latencies else (float("nan"),) * 2
  print(f"{len(motion)} frames ({seconds:.1f} s) from {_AUDIO.value}: chunks of {_CHUNK.value:.0f} ms, lookahead "
        f"{_LOOKAHEAD.value:.0f} ms; latency p50 {p50:.0f} ms, p95 {p95:.0f} ms; real-time factor "
        f"{compute / seconds:.3f}" + "".join(f"; {s.sent} {s.name} ({s.failed} not delivered)" for s in sinks))
  stem = os.path.splitext(os.path.basename(_AUDIO.value))[0]
  meta = {"checkpoint": run.workdir, "seed": _SEED.value, "audio": _AUDIO.value, "chunk_ms": _CHUNK.value,
          "lookahead_ms": _LOOKAHEAD.value, "latency_ms_p50": float(p50), "latency_ms_p95": float(p95),
          "real_time_factor": compute / seconds}
  formats = outputs.Formats(render=_RENDER.value, gltf=_GLTF.value, livelink_csv=_CSV.value, json=_JSON.value)
  written = outputs.write(run.dataset, motion, speech, out_dir=_OUT.value, stem=stem, speaker=0, formats=formats,
                          meta=meta)
  for kind, path in written.items():
    print(f"  {kind}: {path}")


if __name__ == "__main__":
  app.run(main)
