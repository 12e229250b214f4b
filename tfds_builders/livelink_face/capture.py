"""Takes written as Epic's Live Link Face app writes them, and a synthetic performer's capture in that layout.

`write_take` makes one take folder from 60 fps weights and rotations and the take's audio: the app's CSV (through
dt_jax.face.livelink), the video with its audio as `.mov` (ffmpeg, AAC; or a `.wav`) and `take.json` with the
video's first-frame timecode. `write_capture` records a held-out speaker of the synthetic corpus (one no model
trains on) speaking fresh sentences, for measuring what fine-tuning to a performer buys.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile

import numpy as np
import soundfile
import tqdm

from dt_jax import timebase
from dt_jax.data import audio as audio_lib
from dt_jax.face import livelink
from dt_jax.render import video

CSV_FPS = 60                   # the app's capture rate
AUDIO_RATE = 48000             # the phone's audio rate
LEAD = 0.25                    # seconds the video (and its audio) starts before the first CSV row
START = (10 * 3600 + 2 * 60 + 3) * CSV_FPS + 12     # the first row's timecode, in 60 fps frames: 10:02:03:12


def write_take(folder: str, *, weights: np.ndarray, rotations: np.ndarray, audio: np.ndarray, slate: str = "Take",
               number: int = 1, mov: bool = True, meta: dict | None = None, start: int = START) -> str:
  """weights [T, 52] and rotations [T, 9] at 60 fps; audio at AUDIO_RATE starting LEAD s before the first row.
  Writes <folder>/<slate>_<number>_iPhone.csv, .mov (or .wav) and take.json; returns folder."""
  os.makedirs(folder, exist_ok=True)
  stem = os.path.join(folder, f"{slate}_{number}_iPhone")
  livelink.write_csv(stem + ".csv", weights, rotations=rotations, fps=CSV_FPS, first_frame=start)
  if mov:
    with tempfile.TemporaryDirectory() as tmp:
      wav = os.path.join(tmp, "a.wav")
      soundfile.write(wav, audio, AUDIO_RATE, subtype="PCM_16")
      seconds = len(audio) / AUDIO_RATE
      subprocess.run([video.ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
                      f"color=c=gray:s=64x64:r=30:d={seconds:.3f}", "-i", wav, "-c:v", "mpeg4", "-c:a", "aac",
                      "-shortest", stem + ".mov"], check=True, capture_output=True)
  else:
    soundfile.write(stem + ".wav", audio, AUDIO_RATE, subtype="PCM_16")
  info = {"slateName": slate, "takeNumber": number, "date": "2026-12-06", "frameRate": CSV_FPS,
          "timecode": livelink.timecode(start - int(round(LEAD * CSV_FPS)), CSV_FPS), "deviceModel": "iPhone14,2",
          "videoFile": os.path.basename(stem) + (".mov" if mov else ".wav"),
          "blendshapesFile": os.path.basename(stem) + ".csv"}
  with open(os.path.join(folder, "take.json"), "w") as f:
    json.dump({**info, **(meta or {})}, f, indent=1)
  return folder


def to_60fps(motion: np.ndarray) -> np.ndarray:
  """[T, D] at 30 fps -> [2T - 1, D] at 60 fps by linear interpolation (what the app would have sampled)."""
  return timebase.interpolate(motion, np.arange(2 * len(motion) - 1) / CSV_FPS,
                              times=np.arange(len(motion)) / timebase.FPS)


def write_capture(out: str, *, speaker: str = "S20", minutes: float = 5.0, sentences_per_take: int = 3,
                  test_share: float = 0.2, seed: int = 0, mov: bool = True) -> list[str]:
  """`minutes` of takes by `speaker` of the default synthetic corpus (a held-out, unseen-voice or unseen-language
  speaker: never in training) under <out>/<speaker>/, neutral, fresh sentences; and <out>/splits.json with the
  last `test_share` of the takes as test, two as validation. Returns the take folders."""
  from tfds_builders.synthetic_talkers import corpus  # pylint: disable=g-import-not-at-top
  from tfds_builders.synthetic_talkers import speech  # pylint: disable=g-import-not-at-top
  from tfds_builders.synthetic_talkers import synthetic_talkers_dataset_builder as st  # pylint: disable=g-import-not-at-top
  config = st.Builder.BUILDER_CONFIGS[0]
  speakers = corpus.make_speakers(config.roster, config.seed)
  names = [s.name for s in speakers]
  if speaker not in names or speakers[names.index(speaker)].group == "seen":
    raise ValueError(f"{speaker}: pick a speaker no model trains on: "
                     f"{', '.join(s.name for s in speakers if s.group != 'seen')}")
  k = names.index(speaker)
  synth = speech.Synthesizer([speakers[k].voice])
  rng = np.random.default_rng([seed, 77])
  folders, seconds = [], 0.0
  with tqdm.tqdm(total=round(minutes * 60), desc=f"capture of {speaker}", unit="s") as bar:
    while seconds < minutes * 60:
      n = len(folders) + 1
      text = " ".join(corpus.sentence(rng) for _ in range(sentences_per_take))
      spec = corpus.Spec(key=f"capture_{n}", split="capture", speaker=k, emotion="neutral", sentence_id=f"cap{n}",
                         text=text)
      clip = corpus.utterance(synth, speakers[k], spec, seed)
      weights = to_60fps(clip.motions[0])
      audio = audio_lib.resample(clip.audio, timebase.SAMPLE_RATE, AUDIO_RATE)
      audio = np.concatenate([np.zeros(int(LEAD * AUDIO_RATE), np.float32), audio])
      folders.append(write_take(os.path.join(out, speaker, f"20261206_Capture_{n}"), weights=weights,
                                rotations=np.zeros((len(weights), len(livelink.ROTATIONS))), audio=audio,
                                slate="Capture", number=n, mov=mov, meta={"text": text}))
      seconds += len(clip.audio) / timebase.SAMPLE_RATE
      bar.update(round(len(clip.audio) / timebase.SAMPLE_RATE))
  names = [os.path.basename(f) for f in folders]
  test = max(1, round(test_share * len(names)))
  with open(os.path.join(out, "splits.json"), "w") as f:
    json.dump({"train": names[:-test - 2], "validation": names[-test - 2:-test], "test": names[-test:]}, f, indent=1)
  return folders
