"""Streaming: equal to offline when the lookahead covers the clip, smoothly worse below it, a latency bound on a
synthetic clock, refused chunks that leave the stream intact, and the launcher with UDP frames."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from dt_jax.face import livelink

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def run_and_audio(tiny_student):
  from dt_jax.runs import loading  # pylint: disable=g-import-not-at-top
  workdir, data_dir = tiny_student
  run = loading.load_run(workdir, data_dir=data_dir)
  src = run.dataset.splits["test"]
  audio = np.concatenate([src[i]["audio"] for i in range(3)])[:int(3.0 * 16000)]
  return run, audio


def _stream(run, audio, *, lookahead, chunk=640, window=4.0, bad=()):
  from dt_jax.inference import stream  # pylint: disable=g-import-not-at-top
  s = stream.StreamingAnimator(run, lookahead_seconds=lookahead, window_seconds=window, seed=1)
  out, emitted_at = [], []
  for k, start in enumerate(range(0, len(audio), chunk)):
    for b in bad if k == 3 else ():
      with pytest.raises(stream.StreamError):
        s.push(*b[:1], **b[1])
    frames = s.push(audio[start:start + chunk])
    out.append(frames)
    emitted_at += [min(start + chunk, len(audio)) / 16000] * len(frames)     # when that chunk's audio was all there
  tail = s.finish()
  return np.concatenate(out + [tail]), np.asarray(emitted_at), len(tail)


def test_streamed_equals_offline_when_the_lookahead_covers_the_clip(run_and_audio):
  from dt_jax.inference import animator  # pylint: disable=g-import-not-at-top
  run, audio = run_and_audio
  offline = animator.Animator(run, window_seconds=10.0).animate(audio, seed=1)
  streamed, emitted_at, tail = _stream(run, audio, lookahead=4.0, window=4.0)
  assert tail == len(offline) and len(emitted_at) == 0                       # everything waited for the end
  np.testing.assert_allclose(streamed, offline, atol=1e-4)


def test_streaming_degrades_smoothly_below_the_offline_window(run_and_audio):
  """In a 3 s window: a lookahead that covers the 3 s clip is offline exactly; less lookahead, further from it."""
  from dt_jax.inference import animator  # pylint: disable=g-import-not-at-top
  run, audio = run_and_audio
  offline = animator.Animator(run, window_seconds=10.0).animate(audio, seed=1)
  scale = float(np.mean((offline - offline.mean(0)) ** 2))
  gaps = []
  for lookahead in (3.0, 1.0, 0.3, 0.0):
    streamed, _, _ = _stream(run, audio, lookahead=lookahead, window=3.0)
    assert streamed.shape == offline.shape and np.all(np.isfinite(streamed))
    gaps.append(float(np.mean((streamed - offline) ** 2)) / scale)
  assert gaps == sorted(gaps) and gaps[0] < 1e-9 < gaps[-1], gaps
  assert gaps[1] < 0.2, gaps                                                  # a second of lookahead stays close


def test_latency_is_bounded_by_the_lookahead_on_a_synthetic_clock(run_and_audio):
  """Audio arrives in 40 ms chunks at the speed of speech and compute takes no time on this clock: every frame is
  out once its end and `lookahead` more have arrived, within one chunk."""
  run, audio = run_and_audio
  chunk, lookahead = 640, 0.2
  _, emitted_at, tail = _stream(run, audio, lookahead=lookahead, chunk=chunk, window=1.5)
  frame_end = (np.arange(len(emitted_at)) + 1) / 30
  latency = emitted_at - frame_end
  assert len(emitted_at) > 60 and tail <= round(lookahead * 30) + 1
  assert np.all(latency >= lookahead - 1 / 30 - 1e-9) and np.all(latency <= lookahead + chunk / 16000 + 1e-9)


def test_bad_chunks_are_refused_and_the_stream_goes_on(run_and_audio):
  run, audio = run_and_audio
  clean, _, _ = _stream(run, audio, lookahead=0.2, window=1.5)
  nan = np.full(640, np.nan, np.float32)
  refused, _, _ = _stream(run, audio, lookahead=0.2, window=1.5,
                          bad=[(nan, {}), (audio[:100], {"sample_rate": 44100}), (np.zeros((10, 2)), {})])
  np.testing.assert_array_equal(refused, clean)


def _listener():
  sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
  sock.bind(("127.0.0.1", 0))
  sock.settimeout(0.05)
  return sock, sock.getsockname()[1]


def _received(sock) -> list[bytes]:
  got = []
  while True:
    try:
      got.append(sock.recv(65536))
    except socket.timeout:
      return got


def test_stream_launcher_sends_frames_over_udp_and_writes_rig_files(tiny_student, run_and_audio, tmp_path):
  """JSON datagrams (--udp) and Live Link Face packets (--livelink) over loopback carry the frames the stream
  wrote; the Live Link CSV it writes reads back to the same weights."""
  workdir, data_dir = tiny_student
  _, audio = run_and_audio
  wav = tmp_path / "speech.wav"
  soundfile.write(wav, audio[:16000], 16000)
  listener, port = _listener()
  unreal, unreal_port = _listener()
  base = [sys.executable, "launch/stream.py", f"--checkpoint={workdir}", f"--data_dir={data_dir}", f"--audio={wav}",
          "--norealtime", "--lookahead_ms=100", "--window_seconds=1.5"]
  out = subprocess.run(base + [f"--out={tmp_path / 'a'}", f"--udp=127.0.0.1:{port}", "--gltf", "--livelink_csv",
                               f"--livelink=127.0.0.1:{unreal_port}", "--livelink_subject=Ada"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  got = [json.loads(g) for g in _received(listener)]
  assert [g["frame"] for g in got] == list(range(30)) and len(got[0]["weights"]) == 52
  assert "latency p50" in out.stdout and "real-time factor" in out.stdout and "30 Live Link Face packets" in out.stdout
  assert (tmp_path / "a" / "speech.glb").exists() and (tmp_path / "a" / "speech_livelink.csv").exists()
  packets = [livelink.decode(g) for g in _received(unreal)]
  streamed = np.load(tmp_path / "a" / "speech.npy")                                  # [30, 52], clamped to [0, 1]
  assert [p.frame for p in packets] == list(range(30)) and {(p.subject, p.rate, p.version) for p in packets} == {
      ("Ada", (30, 1), 6)}
  np.testing.assert_allclose(np.stack([p.weights for p in packets]), streamed, atol=1e-7)
  assert all(np.all(p.values[52:] == 0) for p in packets)
  take = livelink.read_csv(str(tmp_path / "a" / "speech_livelink.csv"), timecode_fps=30)
  np.testing.assert_allclose(take.weights, streamed, atol=1e-6)
  np.testing.assert_allclose(take.times, np.arange(30) / 30, atol=1e-9)
  unreal.close()
  listener.close()                                         # nobody listens now: the stream still completes
  deaf = subprocess.run(base + [f"--out={tmp_path / 'b'}", f"--udp=127.0.0.1:{port}"], cwd=ROOT, capture_output=True,
                        text=True, timeout=300)
  assert deaf.returncode == 0 and np.load(tmp_path / "b" / "speech.npy").shape == (30, 52), deaf.stderr[-2000:]
  bad = subprocess.run(base[:4] + [f"--audio={tmp_path}", "--norealtime"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
  assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1] == f"stream: {tmp_path}: a directory, not an audio file"
