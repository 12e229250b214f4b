"""Audio I/O for builders and launchers: read any common wav, convert to float mono, resample, fit to frames."""
from __future__ import annotations

import math
import os
import subprocess

import numpy as np
import scipy.signal
import soundfile

from dt_jax.timebase import FPS
from dt_jax.timebase import SAMPLE_RATE
from dt_jax.timebase import samples_for

SILENCE_PEAK = 1e-4        # a clip whose loudest sample is below this (-80 dBFS) holds no speech to animate
RATE_RANGE = (4000, 384000)   # sample rates a speech recording plausibly has; outside, the header is wrong


class AudioError(ValueError):
  """Unreadable, empty, silent-only or non-finite audio; the message names the file."""


def to_float(audio, where: str = "audio") -> np.ndarray:
  """Mono float32 in [-1, 1] from int16/int32/uint8/float samples, [S] or [S, channels] (channels averaged)."""
  a = np.asarray(audio)
  if a.ndim == 2:
    a = a.mean(axis=1) if a.dtype.kind == "f" else a.astype(np.float64).mean(axis=1).astype(a.dtype)
  if a.ndim != 1:
    raise AudioError(f"{where}: expected audio [samples] or [samples, channels], got shape {a.shape}")
  if a.dtype == np.uint8:
    out = (a.astype(np.float32) - 128.0) / 128.0
  elif a.dtype.kind in "iu":
    out = a.astype(np.float32) / float(2 ** (8 * a.dtype.itemsize - 1))
  elif a.dtype.kind == "f":
    out = a.astype(np.float32)
  else:
    raise AudioError(f"{where}: unsupported sample type {a.dtype}")
  if out.size == 0:
    raise AudioError(f"{where}: no samples")
  if not np.all(np.isfinite(out)):
    raise AudioError(f"{where}: audio holds NaN or Inf")
  return out


def _wav_data_chunk(path) -> tuple[int, int] | None:
  """(bytes the header's data chunk declares, bytes the file holds after it) of a RIFF/WAVE file; None for
  another container (soundfile checks those) or a file whose chunk list is itself broken (soundfile refuses it)."""
  size = os.path.getsize(path)
  with open(path, "rb") as f:
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
      return None
    pos = 12
    while pos + 8 <= size:
      f.seek(pos)
      chunk = f.read(8)
      declared = int.from_bytes(chunk[4:8], "little")
      if chunk[:4] == b"data":
        return declared, size - pos - 8
      pos += 8 + declared + (declared & 1)
  return None


def read_wav(path) -> tuple[np.ndarray, int]:
  """(float32 mono samples, sample rate from the header); a clear AudioError for a corrupt or empty file, a header
  whose sample rate no recording has, and a wav whose data is shorter than its header says (a truncated copy, or a
  header claiming gigabytes): soundfile would quietly read what is there."""
  try:
    info = soundfile.info(str(path))
    data, rate = soundfile.read(str(path), always_2d=False)
  except (RuntimeError, soundfile.LibsndfileError, ValueError) as e:
    raise AudioError(f"{path}: not a readable audio file ({' '.join(str(e).split())})") from e
  if not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
    raise AudioError(f"{path}: the header's sample rate {rate} Hz is implausible for speech (expected "
                     f"{RATE_RANGE[0]}-{RATE_RANGE[1]} Hz): a damaged or mislabelled file")
  chunk = _wav_data_chunk(str(path))
  if chunk is not None and chunk[0] > chunk[1]:
    frame_bytes = max(1, chunk[1] // max(1, info.frames)) if info.frames else 1
    raise AudioError(f"{path}: the header declares {chunk[0]} bytes of samples ({chunk[0] / frame_bytes / rate:.1f} s) "
                     f"but the file holds {chunk[1]} ({chunk[1] / frame_bytes / rate:.1f} s): truncated or damaged")
  return to_float(data, str(path)), int(rate)


def load_speech(path) -> np.ndarray:
  """A speech file for animation -> float32 mono at 16 kHz. Any rate, mono or stereo, 8/16/24/32-bit integer or
  float samples. AudioError (naming the file, one line) for a missing, empty, corrupt, NaN-holding or silent-only
  file and for one shorter than a motion frame (1/30 s)."""
  if os.path.isdir(path):
    raise AudioError(f"{path}: a directory, not an audio file")
  if not os.path.isfile(path):
    raise AudioError(f"{path}: no such file")
  if os.path.getsize(path) == 0:
    raise AudioError(f"{path}: empty file (0 bytes)")
  audio, rate = read_wav(path)
  audio = resample(audio, rate)
  if len(audio) < samples_for(1):
    raise AudioError(f"{path}: {len(audio) / SAMPLE_RATE * 1000:.1f} ms of audio is shorter than one motion frame "
                     f"({1000 / FPS:.1f} ms)")
  peak = float(np.max(np.abs(audio)))
  if peak < SILENCE_PEAK:
    raise AudioError(f"{path}: silent (peak {20 * math.log10(max(peak, 1e-12)):.0f} dBFS): no speech to animate")
  return audio


def read_media(path, *, ffmpeg: str | None) -> np.ndarray:
  """The audio track of a video (e.g. the .mov a phone records) as float32 mono at 16 kHz, decoded by `ffmpeg`
  (the binary's path: imageio-ffmpeg's, dt_jax.render.video.ffmpeg_exe). AudioError (one line, naming the file)
  when there is no ffmpeg, no such file, no audio track, or the file cannot be decoded."""
  if not os.path.isfile(path):
    raise AudioError(f"{path}: no such file")
  if not ffmpeg:
    raise AudioError(f"{path}: reading a video's audio needs ffmpeg (pip install imageio-ffmpeg)")
  out = subprocess.run([ffmpeg, "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a:0", "-vn", "-ac", "1",
                        "-ar", str(SAMPLE_RATE), "-f", "f32le", "-"], capture_output=True, timeout=600)
  err = " ".join(out.stderr.decode(errors="replace").split())
  if out.returncode != 0 and "matches no streams" in err:
    raise AudioError(f"{path}: has no audio track")
  if out.returncode != 0:
    raise AudioError(f"{path}: cannot be decoded by ffmpeg ({err[-200:]})")
  audio = np.frombuffer(out.stdout, np.float32).copy()
  if not len(audio):
    raise AudioError(f"{path}: its audio track is empty")
  return to_float(audio, str(path))


def resample(audio: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
  """Polyphase resampling by the exact rational factor rate_out / rate_in."""
  if rate_in <= 0:
    raise AudioError(f"invalid sample rate {rate_in}")
  if rate_in == rate_out:
    return np.asarray(audio, np.float32)
  g = math.gcd(int(rate_in), int(rate_out))
  return scipy.signal.resample_poly(audio, rate_out // g, rate_in // g).astype(np.float32)


def fit_to_frames(audio: np.ndarray, motion: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
  """Aligns 16 kHz audio and 30 fps motion: (audio, motion, trimmed).

  Within one frame of each other the audio is padded or cut to exactly `round(T * 16000 / 30)` samples; further
  apart, both are cut to the shorter duration and `trimmed` is True (builders count these in their log).
  """
  t_audio = len(audio) * FPS / SAMPLE_RATE
  trimmed = abs(t_audio - len(motion)) > 1.0
  frames = min(len(motion), int(math.floor(t_audio + 1e-6))) if trimmed else len(motion)
  if frames < 1:
    raise AudioError(f"clip shorter than one frame ({len(audio)} samples, {len(motion)} frames)")
  motion = motion[:frames]
  n = samples_for(frames)
  out = np.zeros(n, np.float32)
  out[:min(n, len(audio))] = audio[:n]
  return out, motion, trimmed
