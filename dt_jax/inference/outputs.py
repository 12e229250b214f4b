"""What `launch/animate.py` writes: the motion as .npy (with a JSON sidecar saying what it holds), an OBJ sequence
on request, and a rendered MP4 with the audio (GIF when no ffmpeg exists)."""
from __future__ import annotations

import json
import os

import numpy as np
import tqdm

from dt_jax import timebase
from dt_jax.face import mesh
from dt_jax.render import image
from dt_jax.render import video


def write(ds, motion: np.ndarray, audio: np.ndarray, *, out_dir: str, stem: str, speaker: int, obj: bool = False,
          render: bool = True, size: int = 256, title: str = "", meta: dict | None = None) -> dict[str, str]:
  """motion [T, D] (data units) of dataset `ds`, 16 kHz audio -> {'npy', 'json', 'obj', 'video'} paths written.

  `<stem>.npy` holds blendshape coefficients [T, K] for a blendshape dataset and vertices [T, V, 3] (the speaker's
  template plus the offsets) for a vertex dataset. OBJ frames and the video need a mesh (`speaker` picks its
  template); a dataset built without one gets the .npy only.
  """
  os.makedirs(out_dir, exist_ok=True)
  rig, base = ds.rig, os.path.join(out_dir, stem)
  has_mesh = rig is not None and rig.templates is not None
  coefficient_space = rig is None or rig.basis is not None or not has_mesh
  verts = rig.vertices(motion, speaker) if has_mesh else None                       # [T, V, 3]
  data = motion if coefficient_space else verts
  written = {"npy": base + ".npy", "json": base + ".json"}
  np.save(written["npy"], np.asarray(data, np.float32))
  what = (f"blendshape coefficients [T, {motion.shape[1]}]" if coefficient_space
          else f"vertices [T, {verts.shape[1]}, 3] in metres (template + offsets)")
  info = {"holds": what, "shape": list(np.shape(data)), "fps": timebase.FPS,
          "template_speaker": ds.speakers[speaker] if has_mesh else None, **(meta or {})}
  if obj and has_mesh:
    folder = base + "_obj"
    os.makedirs(folder, exist_ok=True)
    for t, v in enumerate(tqdm.tqdm(verts, desc="obj", unit="frame")):
      mesh.write_obj(os.path.join(folder, f"frame_{t:05d}.obj"), v, rig.faces)
    written["obj"] = folder
  if render and has_mesh:
    frames = image.render_sequence(verts, rig.faces, size=size, title=title, reference=rig.templates[
        rig.speaker_index(speaker)], progress=True)
    written["video"] = video.write_video(frames, base + ".mp4", audio=audio[:timebase.samples_for(len(motion))])
  if (obj or render) and not has_mesh:
    info["note"] = "this dataset was built without a mesh: no OBJ frames or video"
  with open(written["json"], "w") as f:
    json.dump(info, f, indent=1)
  return written
