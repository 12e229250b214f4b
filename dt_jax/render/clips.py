"""Rendering dataset clips: ground-truth videos and a contact sheet for a split."""
from __future__ import annotations

import os

import numpy as np
import soundfile
import tqdm

from dt_jax import timebase
from dt_jax.render import image
from dt_jax.render import video


def pick(ds, *, split: str, num_clips: int) -> list[int]:
  """Indices of clips to show (deterministic): the first clip's sentence and speaker in every emotion (the paired
  data), then one clip of each other speaker."""
  src = ds.splits[split]
  keys = [(int(src[i]["speaker"]), bytes(src[i]["utterance"]), int(src[i]["emotion"])) for i in range(len(src))]
  if not keys:
    return []
  spk0, utt0, _ = keys[0]
  paired = sorted((i for i, k in enumerate(keys) if k[:2] == (spk0, utt0)), key=lambda i: keys[i][2])
  others, seen = [], {spk0}
  for i, (spk, _, _) in enumerate(keys):
    if spk not in seen:
      seen.add(spk)
      others.append(i)
  rest = [i for i in range(len(keys)) if i not in set(paired) | set(others)]
  return (paired + others + rest)[:num_clips]


def render_ground_truth(ds, *, split: str, num_clips: int, out_dir: str, size: int = 256,
                        write_wavs: bool = False) -> list[str]:
  """Writes `<out_dir>/gt_<split>_<k>.mp4` (or .gif) per clip and `<out_dir>/gt_<split>_sheet.png` (and each
  clip's 16 kHz audio as `gt_<split>_<k>.wav` with `write_wavs`, input for launch/animate.py)."""
  os.makedirs(out_dir, exist_ok=True)
  src, rows, written = ds.splits[split], [], []
  for k, i in enumerate(tqdm.tqdm(pick(ds, split=split, num_clips=num_clips), desc=f"render {split}", unit="clip")):
    ex = src[i]
    spk = int(ex["speaker"])
    verts = ds.rig.vertices(ex["motion"], spk)
    title = f"{ds.speakers[spk]} {ds.emotions[int(ex['emotion'])]}"
    frames = image.render_sequence(verts, ds.rig.faces, size=size, title=title,
                                   reference=ds.rig.templates[spk], weights=ex["motion"])
    rows.append(frames)
    written.append(video.write_video(frames, os.path.join(out_dir, f"gt_{split}_{k}.mp4"), audio=ex["audio"]))
    if write_wavs:
      written.append(os.path.join(out_dir, f"gt_{split}_{k}.wav"))
      soundfile.write(written[-1], np.asarray(ex["audio"], np.float32), timebase.SAMPLE_RATE)
  sheet = os.path.join(out_dir, f"gt_{split}_sheet.png")
  written.append(video.write_png(image.contact_sheet(rows), sheet))
  return written


def render_comparison(ds, *, split: str, index: int, motions: dict[str, np.ndarray], out_dir: str,
                      size: int = 256) -> list[str]:
  """Ground truth beside each model's motion [T, D] for clip `index` of `split`: `<out_dir>/compare_<split>_<k>.mp4`
  (with the clip's audio; GIF without ffmpeg) and a PNG contact sheet (one row per column)."""
  os.makedirs(out_dir, exist_ok=True)
  ex = ds.splits[split][index]
  spk = int(ex["speaker"])
  label = f"{ds.speakers[spk]} {ds.emotions[int(ex['emotion'])]}"
  columns = []
  for name, motion in tqdm.tqdm({"ground truth": ex["motion"], **motions}.items(), desc="render", unit="clip"):
    verts = ds.rig.vertices(np.asarray(motion)[: len(ex["motion"])], spk)
    columns.append(image.render_sequence(verts, ds.rig.faces, size=size, title=f"{name}: {label}",
                                         reference=ds.rig.templates[spk], weights=motion))
  stem = os.path.join(out_dir, f"compare_{split}_{index}")
  return [video.write_video(image.side_by_side(*columns), stem + ".mp4", audio=ex["audio"]),
          video.write_png(image.contact_sheet(columns), stem + "_sheet.png")]
