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


class VideoWriter:
  """Frames in, one at a time, straight to the encoder: H.264 MP4 through an ffmpeg pipe with the audio muxed in,
  or a GIF (imageio, no audio) when no ffmpeg exists. Memory stays flat in the clip's length.

    with VideoWriter("clip.mp4", audio=audio) as w:
      for frame in frames:            # uint8 [H, W, 3]
        w.write(frame)
    w.path                            # what was written (.mp4, or .gif)
  """

  def __init__(self, path: str, *, fps: int = timebase.FPS, audio: np.ndarray | None = None,
               sample_rate: int = timebase.SAMPLE_RATE):
    self.fps, self.audio, self.sample_rate = fps, audio, sample_rate
    self.exe = ffmpeg_exe()
    self.path = path if self.exe else os.path.splitext(path)[0] + ".gif"
    self.frames = 0
    self._proc = self._gif = self._tmp = None

  def _start(self, h: int, w: int) -> None:
    if self.exe is None:
      import imageio.v2 as imageio  # pylint: disable=g-import-not-at-top
      self._gif = imageio.get_writer(self.path + ".part.gif", mode="I", duration=1.0 / self.fps, loop=0)
      return
    self._tmp = tempfile.TemporaryDirectory()
    cmd = [self.exe, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-r", str(self.fps), "-i", "-"]
    if self.audio is not None:
      wav = os.path.join(self._tmp.name, "audio.wav")
      soundfile.write(wav, np.asarray(self.audio, np.float32), self.sample_rate)
      cmd += ["-i", wav, "-c:a", "aac", "-shortest"]
    cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart", self.path + ".part.mp4"]
    self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)  # pylint: disable=consider-using-with

  def write(self, frame: np.ndarray) -> None:
    frame = np.asarray(frame, np.uint8)
    if self.exe and (frame.shape[0] % 2 or frame.shape[1] % 2):     # yuv420p needs even sizes
      frame = np.pad(frame, ((0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0)), mode="edge")
    if self.frames == 0:
      self._start(*frame.shape[:2])
    if self._gif is not None:
      self._gif.append_data(frame)
    else:
      self._proc.stdin.write(frame.tobytes())
    self.frames += 1

  def close(self) -> str:
    if self._gif is not None:
      self._gif.close()
      os.replace(self.path + ".part.gif", self.path)
    elif self._proc is not None:
      self._proc.stdin.close()
      err = self._proc.stderr.read()
      if self._proc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed writing {self.path}: {err.decode(errors='replace')[-500:]}")
      os.replace(self.path + ".part.mp4", self.path)
    if self._tmp is not None:
      self._tmp.cleanup()
    self._proc = self._gif = self._tmp = None
    return self.path

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    if exc[0] is None:
      self.close()
    elif self._proc is not None:
      self._proc.kill()
    return False


def write_video(frames, path: str, *, fps: int = timebase.FPS, audio: np.ndarray | None = None,
                sample_rate: int = timebase.SAMPLE_RATE) -> str:
  """Writes `frames` (uint8 [T, H, W, 3], or any iterable of [H, W, 3]) as H.264 MP4 with `audio` muxed in; a GIF
  (no audio) when no ffmpeg exists. Returns the path written (its suffix says which)."""
  with VideoWriter(path, fps=fps, audio=audio, sample_rate=sample_rate) as w:
    for frame in frames:
      w.write(frame)
  return w.path
