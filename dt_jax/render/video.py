"""Frames to MP4 with the clip's audio (ffmpeg from imageio-ffmpeg, or the system's), or to GIF without one."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import numpy as np
import soundfile

from dt_jax import timebase


def ffmpeg_exe() -> str | None:
  """Path of an ffmpeg binary, or None when neither imageio-ffmpeg's nor the system's exists."""
  try:
    import imageio_ffmpeg  # pylint: disable=g-import-not-at-top
    return imageio_ffmpeg.get_ffmpeg_exe()
  except (ImportError, RuntimeError):
    return shutil.which("ffmpeg")


def write_png(image: np.ndarray, path: str) -> str:
  import PIL.Image  # pylint: disable=g-import-not-at-top
  PIL.Image.fromarray(np.asarray(image, np.uint8)).save(path)
  return path


def write_gif(frames: np.ndarray, path: str, *, fps: int = timebase.FPS) -> str:
  import PIL.Image  # pylint: disable=g-import-not-at-top
  images = [PIL.Image.fromarray(np.asarray(f, np.uint8)) for f in frames]
  images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
  return path


def write_video(frames: np.ndarray, path: str, *, fps: int = timebase.FPS, audio: np.ndarray | None = None,
                sample_rate: int = timebase.SAMPLE_RATE) -> str:
  """Writes `frames` [T, H, W, 3] uint8 as H.264 MP4 with `audio` muxed in; falls back to GIF (no audio) when no
  ffmpeg exists. Returns the path written (its suffix says which)."""
  frames = np.asarray(frames, np.uint8)
  exe = ffmpeg_exe()
  if exe is None:
    return write_gif(frames, os.path.splitext(path)[0] + ".gif", fps=fps)
  h, w = frames.shape[1:3]
  if h % 2 or w % 2:      # yuv420p needs even sizes
    frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    h, w = frames.shape[1:3]
  with tempfile.TemporaryDirectory() as tmp:
    cmd = [exe, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-r", str(fps), "-i", "-"]
    if audio is not None:
      wav = os.path.join(tmp, "audio.wav")
      soundfile.write(wav, np.asarray(audio, np.float32), sample_rate)
      cmd += ["-i", wav, "-c:a", "aac", "-shortest"]
    part = path + ".part.mp4"
    cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart", part]
    proc = subprocess.run(cmd, input=frames.tobytes(), capture_output=True, check=False)
    if proc.returncode != 0:
      raise RuntimeError(f"ffmpeg failed writing {path}: {proc.stderr.decode(errors='replace')[-500:]}")
    os.replace(part, path)
  return path
