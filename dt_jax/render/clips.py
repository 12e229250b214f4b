"""Rendering dataset clips: ground-truth videos and a contact sheet for a split."""
from __future__ import annotations

import os

import numpy as np
import tqdm

from dt_jax.render import image
from dt_jax.render import video


def pick(ds, *, split: str, num_clips: int) -> list[int]:
  """Indices of clips spread over speakers and emotions (deterministic)."""
  src = ds.splits[split]
  seen, first, rest = set(), [], []
  for i in range(len(src)):
    ex = src[i]
    key = (int(ex["speaker"]), int(ex["emotion"]))
    if key[0] not in {k[0] for k in seen} or key[1] not in {k[1] for k in seen}:
      seen.add(key)
      first.append(i)
    else:
      rest.append(i)
  return (first + rest)[:num_clips]


def render_ground_truth(ds, *, split: str, num_clips: int, out_dir: str, size: int = 256) -> list[str]:
  """Writes `<out_dir>/gt_<split>_<k>.mp4` (or .gif) per clip and `<out_dir>/gt_<split>_sheet.png`."""
  os.makedirs(out_dir, exist_ok=True)
  src, rows, written = ds.splits[split], [], []
  for k, i in enumerate(tqdm.tqdm(pick(ds, split=split, num_clips=num_clips), desc=f"render {split}", unit="clip")):
    ex = src[i]
    spk = int(ex["speaker"])
    verts = ds.rig.vertices(ex["motion"], spk)
    title = f"{ds.speakers[spk]} {ds.emotions[int(ex['emotion'])]}"
    frames = image.render_sequence(verts, ds.rig.faces, size=size, title=title,
                                   reference=ds.rig.templates[spk])
    rows.append(frames)
    written.append(video.write_video(frames, os.path.join(out_dir, f"gt_{split}_{k}.mp4"), audio=ex["audio"]))
  sheet = os.path.join(out_dir, f"gt_{split}_sheet.png")
  written.append(video.write_png(image.contact_sheet(rows), sheet))
  return written
