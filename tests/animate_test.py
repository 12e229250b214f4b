"""launch/animate.py and what it stands on: reading any wav, refusing bad input, long audio in seamless windows,
identity and emotion overrides, and the files written."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from dt_jax.data import audio as audio_lib
from dt_jax.inference import windows

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tone(seconds=0.5, rate=16000):
  t = np.arange(int(seconds * rate)) / rate
  return (0.4 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


@pytest.mark.parametrize("rate,channels,subtype", [(16000, 1, "PCM_16"), (44100, 2, "PCM_24"), (48000, 1, "FLOAT"),
                                                   (8000, 2, "PCM_32"), (22050, 1, "PCM_U8"), (32000, 1, "DOUBLE")])
def test_load_speech_reads_every_wav_kind(tmp_path, rate, channels, subtype):
  signal = _tone(rate=rate)
  data = np.stack([signal] * channels, axis=1) if channels > 1 else signal
  path = str(tmp_path / f"speech_{rate}_{subtype}.wav")
  soundfile.write(path, data, rate, subtype=subtype)
  got = audio_lib.load_speech(path)
  want = audio_lib.resample(signal, rate)
  assert got.dtype == np.float32 and got.ndim == 1
  assert len(got) == pytest.approx(0.5 * 16000, abs=2)
  tolerance = 2e-2 if subtype == "PCM_U8" else 2e-3     # 8-bit quantisation
  np.testing.assert_allclose(got[:len(want)], want[:len(got)], atol=tolerance)


def _bad(tmp_path, kind):
  path = str(tmp_path / f"{kind}.wav")
  if kind == "missing":
    return path
  if kind == "empty":
    open(path, "wb").close()
  elif kind == "corrupt":
    with open(path, "wb") as f:
      f.write(b"RIFF\x10\x00\x00\x00WAVEfmt " + os.urandom(64))
  elif kind == "no_samples":
    soundfile.write(path, np.zeros(0, np.float32), 16000)
  elif kind == "silent":
    soundfile.write(path, np.zeros(16000, np.float32), 16000)
  elif kind == "too_short":
    soundfile.write(path, _tone()[:300], 16000)
  elif kind in ("truncated", "header_4gb", "rate_1hz"):
    soundfile.write(path, _tone(2.0), 16000, subtype="PCM_16")
    data = bytearray(open(path, "rb").read())
    assert data[36:40] == b"data"                         # soundfile writes the plain 44-byte header
    if kind == "truncated":
      data = data[:len(data) // 2]
    elif kind == "header_4gb":
      data[40:44] = (0xFFFFFFF0).to_bytes(4, "little")
    else:
      data[24:28] = (1).to_bytes(4, "little")          # 64000 samples at 1 Hz would be 17.8 hours of motion
      data[28:32] = (2).to_bytes(4, "little")
    with open(path, "wb") as f:
      f.write(bytes(data))
  elif kind == "nan":
    a = _tone()
    a[100] = np.nan
    soundfile.write(path, a, 16000, subtype="FLOAT")
  return path


BAD = {"missing": "no such file", "empty": "empty file", "corrupt": "not a readable audio file",
       "no_samples": "no samples", "silent": "silent", "too_short": "shorter than one motion frame",
       "nan": "NaN", "truncated": "truncated or damaged", "header_4gb": "declares 4294967280 bytes",
       "rate_1hz": "sample rate 1 Hz is implausible"}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_load_speech_refuses_bad_input(tmp_path, kind):
  path = _bad(tmp_path, kind)
  with pytest.raises(audio_lib.AudioError, match=BAD[kind]) as e:
    audio_lib.load_speech(path)
  assert path in str(e.value) and "\n" not in str(e.value)


def test_windows_cover_the_clip_and_crossfade_continuously():
  assert windows.spans(50, window=60, overlap=10) == [(0, 50)]
  span_list = windows.spans(250, window=60, overlap=10)
  assert span_list[0][0] == 0 and span_list[-1][1] == 250
  assert all(e - s == 60 for s, e in span_list)
  assert all(b[0] < a[1] for a, b in zip(span_list, span_list[1:]))            # consecutive windows overlap
  # Each window outputs a different constant: the blend must move between them in small steps, never jump.
  pieces = [np.full((60, 3), float(k)) for k in range(len(span_list))]
  out = windows.crossfade(pieces, span_list, 250)
  steps = np.abs(np.diff(out[:, 0]))
  assert np.max(steps) <= 1.0 / 10 + 1e-6
  assert out[0, 0] == 0.0 and out[-1, 0] == len(span_list) - 1
  # A hard cut (no overlap) is what the crossfade avoids: the same pieces jump by a whole unit.
  cut = windows.spans(240, window=60, overlap=0)
  hard = windows.crossfade([np.full((60, 3), float(k)) for k in range(len(cut))], cut, 240)
  assert np.max(np.abs(np.diff(hard[:, 0]))) == 1.0
  with pytest.raises(ValueError):
    windows.spans(100, window=30, overlap=30)


@pytest.fixture(scope="module")
def student_run(tiny_student):
  from dt_jax.runs import loading  # pylint: disable=g-import-not-at-top
  workdir, data_dir = tiny_student
  return loading.load_run(workdir, data_dir=data_dir)


@pytest.fixture(scope="module")
def long_audio(student_run):
  """~4.3 s of the tiny corpus' speech (several clips back to back)."""
  src = student_run.dataset.splits["test"]
  return np.concatenate([src[i]["audio"] for i in range(min(len(src), 6))])[:int(4.3 * 16000)]


def test_one_window_equals_sampling_the_whole_clip(student_run, long_audio):
  from dt_jax import timebase  # pylint: disable=g-import-not-at-top
  from dt_jax.inference import animator  # pylint: disable=g-import-not-at-top
  from dt_jax.runs import sampling  # pylint: disable=g-import-not-at-top
  audio = long_audio[:int(1.5 * 16000)]
  anim = animator.Animator(student_run, window_seconds=10.0)
  got = anim.animate(audio, seed=3)
  frames = timebase.frames_for(len(audio))
  assert got.shape == (frames, student_run.dataset.motion_dim)
  z = anim.noise(frames, seed=3)[None]                                 # frame t's noise: (seed, t) alone
  fn = sampling.sample_fn(student_run.model, num_steps=2, stats=student_run.stats, data_range=student_run.data_range)
  want = fn(student_run.params, audio[None, :timebase.samples_for(frames)], np.ones((1, frames), np.float32), z)
  np.testing.assert_allclose(got, np.asarray(want[0]), atol=1e-5)


def test_long_audio_has_no_seams(student_run, long_audio):
  from dt_jax.inference import animator  # pylint: disable=g-import-not-at-top
  anim = animator.Animator(student_run, window_seconds=1.0, overlap_seconds=0.3)
  motion = anim.animate(long_audio, seed=0)
  span_list = anim.spans(long_audio)
  assert len(span_list) >= 4 and motion.shape[0] == span_list[-1][1]
  speed = np.linalg.norm(np.diff(motion, axis=0), axis=1)                      # [T - 1] frame-to-frame change
  seams = np.zeros_like(speed, bool)
  for (_, end), (start, _) in zip(span_list, span_list[1:]):
    seams[max(start - 1, 0):end] = True                                           # every step inside an overlap
  assert np.max(speed[seams]) <= 1.5 * np.percentile(speed[~seams], 99)
  # Frames only one window covers are exactly that window sampled alone (its audio, its slice of the clip's noise,
  # the clip's embeddings): the windows sit where they should.
  emb = {k: v[None] for k, v in anim.clip_embeddings(long_audio)[0].items()}
  noise = anim.noise(motion.shape[0], seed=0)[None]
  start, end = span_list[1]
  alone = anim._sample(student_run.params, animator.segment(long_audio, start, end)[None],  # pylint: disable=protected-access
                       np.ones((1, end - start), np.float32), noise[:, start:end], emb)[0]
  inner = slice(span_list[0][1] - start, span_list[2][0] - start)
  np.testing.assert_allclose(motion[start:end][inner], np.asarray(alone)[inner], atol=1e-5)


def test_emotion_and_speaker_overrides(student_run, long_audio):
  from dt_jax.inference import animator  # pylint: disable=g-import-not-at-top
  anim = animator.Animator(student_run)
  audio, reference = long_audio[:16000], long_audio[-16000:]
  plain = anim.animate(audio, seed=0)
  emotions = list(student_run.dataset.emotions)
  happy = anim.emotion_embedding(emotions[1])
  np.testing.assert_allclose(happy, student_run.params["personalizer"]["emotion_library"][1])
  with_emotion = anim.animate(audio, seed=0, embeddings={"emotion": happy})
  assert np.max(np.abs(with_emotion - plain)) > 1e-4
  own, probs = anim.clip_embeddings(reference)
  assert probs.shape == (student_run.model.cfg.personalizer.num_speakers,) and probs.sum() == pytest.approx(1, 1e-5)
  with_speaker = anim.animate(audio, seed=0, embeddings={"identity": own["identity"]})
  assert np.max(np.abs(with_speaker - plain)) > 1e-4
  with pytest.raises(animator.AnimateError, match="unknown emotion 'bored'"):
    anim.emotion_embedding("bored")
  anim.branches = ("identity",)                                                  # as a no_emotion model
  with pytest.raises(animator.AnimateError, match="no emotion embedding"):
    anim.emotion_embedding(emotions[0])


def _animate(*args):
  return subprocess.run([sys.executable, os.path.join(ROOT, "launch", "animate.py"), *args], capture_output=True,
                        text=True, cwd=ROOT, check=False)


def test_animate_launcher_writes_motion_obj_and_video(tiny_student, student_run, tmp_path):
  workdir, data_dir = tiny_student
  src = student_run.dataset.splits["test"][0]
  stereo = np.stack([src["audio"], 0.5 * src["audio"]], axis=1)
  wav = str(tmp_path / "hello.wav")
  soundfile.write(wav, audio_lib.resample(stereo, 16000, 44100), 44100, subtype="PCM_24")
  out = str(tmp_path / "out")
  proc = _animate(f"--checkpoint={workdir}", f"--data_dir={data_dir}", f"--audio={wav}", f"--out={out}",
                  f"--emotion={student_run.dataset.emotions[2]}", "--obj", "--size=64")
  assert proc.returncode == 0, proc.stderr[-2000:]
  motion = np.load(os.path.join(out, "hello.npy"))
  frames = int(np.floor(len(audio_lib.load_speech(wav)) * 30 / 16000 + 1e-6))
  assert motion.shape == (frames, student_run.dataset.motion_dim)
  info = json.load(open(os.path.join(out, "hello.json")))
  assert info["shape"] == list(motion.shape) and info["emotion"] == student_run.dataset.emotions[2]
  assert info["num_steps"] == 2
  objs = sorted(os.listdir(os.path.join(out, "hello_obj")))
  assert len(objs) == frames
  from dt_jax.face import mesh  # pylint: disable=g-import-not-at-top
  v, f = mesh.read_obj(os.path.join(out, "hello_obj", objs[0]))
  np.testing.assert_allclose(v, student_run.dataset.rig.vertices(motion[:1], info["template_speaker"])[0], atol=1e-5)
  assert len(f) == len(student_run.dataset.rig.faces)
  video = [n for n in os.listdir(out) if n.startswith("hello.") and n.endswith((".mp4", ".gif"))]
  assert video and os.path.getsize(os.path.join(out, video[0])) > 1000


@pytest.mark.parametrize("kind", ["silent", "nan"])
def test_animate_launcher_fails_in_one_line(tiny_student, tmp_path, kind):
  workdir, data_dir = tiny_student
  proc = _animate(f"--checkpoint={workdir}", f"--data_dir={data_dir}", f"--audio={_bad(tmp_path, kind)}",
                  f"--out={tmp_path}")
  assert proc.returncode != 0
  last = proc.stderr.strip().splitlines()[-1]
  assert last.startswith("animate: ") and BAD[kind] in last
  assert "Traceback" not in proc.stderr


def test_animate_launcher_rejects_unknown_emotion(tiny_student, tmp_path):
  workdir, data_dir = tiny_student
  wav = str(tmp_path / "ok.wav")
  soundfile.write(wav, _tone(1.0), 16000)
  proc = _animate(f"--checkpoint={workdir}", f"--data_dir={data_dir}", f"--audio={wav}", f"--out={tmp_path}",
                  "--emotion=bored", "--norender")
  assert proc.returncode != 0 and proc.stderr.strip().splitlines()[-1].startswith("animate: unknown emotion 'bored'")
