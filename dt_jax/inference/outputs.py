"""What `launch/animate.py` and `launch/stream.py` write: the motion as .npy (with a JSON sidecar saying what it
holds), an OBJ sequence on request, a rendered MP4 with the audio (GIF when no ffmpeg exists), and on request the
rig-ready formats of rig_formats.py (.glb or, for vertex datasets, a .pc2 point cache; Live Link Face CSV;
per-frame JSON) with the audio beside them as a 16 kHz wav."""
from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import soundfile
import tqdm

from dt_jax import timebase
from dt_jax.face import arkit
from dt_jax.face import livelink
from dt_jax.face import mesh
from dt_jax.inference import rig_formats
from dt_jax.render import image
from dt_jax.render import video


class FrameVertices:
  """A blendshape clip's vertices [T, V, 3], each frame computed when it is read: rendering and OBJ frames take one
  at a time, so no [T, V, 3] array grows with the clip (a 30-minute clip's would be 300 MB)."""

  def __init__(self, rig, motion: np.ndarray, speaker: int):
    self.rig, self.motion, self.speaker = rig, motion, speaker

  def __len__(self) -> int:
    return len(self.motion)

  def __getitem__(self, t: int) -> np.ndarray:
    return self.rig.vertices(self.motion[t:t + 1], self.speaker)[0]                # [V, 3]

  def __iter__(self):
    return (self[t] for t in range(len(self)))


@dataclasses.dataclass(frozen=True)
class Formats:
  """Which files to write beside the .npy and its JSON sidecar."""
  obj: bool = False             # one OBJ per frame
  render: bool = True           # MP4 with the audio
  gltf: bool = False            # .glb with ARKit morph targets and the animation (.pc2 for vertex datasets)
  livelink_csv: bool = False    # Live Link Face CSV (blendshape datasets)
  json: bool = False            # per-frame {ARKit name: weight} (blendshape datasets)


def _rig_files(ds, motion, verts, audio, *, base: str, speaker: int, formats: Formats) -> tuple[dict, list]:
  rig, written, notes = ds.rig, {}, []
  blendshapes = rig is not None and rig.basis is not None
  if formats.gltf and blendshapes and rig.templates is not None:
    s = rig.speaker_index(speaker)
    written["gltf"] = rig_formats.write_glb(base + ".glb", template=rig.templates[s], faces=rig.faces,
                                            basis=rig.basis[s], weights=motion)
  elif formats.gltf and verts is not None:
    written["pc2"] = rig_formats.write_pc2(base + ".pc2", verts)
    written["pc2_mesh"] = mesh.write_obj(base + "_neutral.obj", rig.templates[rig.speaker_index(speaker)], rig.faces)
    notes.append("a vertex dataset: a .pc2 point cache for the neutral mesh instead of a .glb")
  if formats.livelink_csv or formats.json:
    if motion.shape[1] != arkit.NUM:
      notes.append("Live Link CSV and per-frame JSON need the 52 ARKit weights; this is a vertex dataset")
    else:
      if formats.livelink_csv:
        written["livelink_csv"] = livelink.write_csv(base + "_livelink.csv", motion)
      if formats.json:
        written["frames_json"] = rig_formats.write_json(base + "_frames.json", motion)
  if any(k in written for k in ("gltf", "pc2", "livelink_csv", "frames_json")):
    written["wav"] = base + ".wav"
    soundfile.write(written["wav"], np.asarray(audio[:timebase.samples_for(len(motion))], np.float32),
                    timebase.SAMPLE_RATE)
  return written, notes


def write(ds, motion: np.ndarray, audio: np.ndarray, *, out_dir: str, stem: str, speaker: int,
          formats: Formats = Formats(), size: int = 256, title: str = "", meta: dict | None = None) -> dict[str, str]:
  """motion [T, D] (data units) of dataset `ds`, 16 kHz audio -> {'npy', 'json', 'obj', 'video', 'gltf', ...} paths.

  `<stem>.npy` holds blendshape coefficients [T, K] for a blendshape dataset and vertices [T, V, 3] (the speaker's
  template plus the offsets) for a vertex dataset. OBJ frames, the video and the rig files need a mesh (`speaker`
  picks its template); a dataset built without one gets the .npy only.
  """
  os.makedirs(out_dir, exist_ok=True)
  rig, base = ds.rig, os.path.join(out_dir, stem)
  has_mesh = rig is not None and rig.templates is not None
  coefficient_space = rig is None or rig.basis is not None or not has_mesh
  outside = 0
  if coefficient_space and motion.shape[1] == arkit.NUM:     # ARKit weights: a rig applies one outside [0, 1] backwards
    outside = int(np.sum((motion < arkit.WEIGHT_RANGE[0]) | (motion > arkit.WEIGHT_RANGE[1])))
    motion = rig_formats.arkit_weights(motion, np.float32)
  verts = None                                                                      # [T, V, 3]
  if has_mesh:
    verts = FrameVertices(rig, motion, speaker) if coefficient_space else rig.vertices(motion, speaker)
  data = motion if coefficient_space else verts
  written = {"npy": base + ".npy", "json": base + ".json"}
  np.save(written["npy"], np.asarray(data, np.float32))
  what = (f"blendshape coefficients [T, {motion.shape[1]}]" if coefficient_space
          else f"vertices [T, {verts.shape[1]}, 3] in metres (template + offsets)")
  info = {"holds": what, "shape": list(np.shape(data)), "fps": timebase.FPS,
          "template_speaker": ds.speakers[speaker] if has_mesh else None, **(meta or {})}
  if formats.obj and has_mesh:
    folder = base + "_obj"
    os.makedirs(folder, exist_ok=True)
    for t, v in enumerate(tqdm.tqdm(verts, desc="obj", unit="frame")):
      mesh.write_obj(os.path.join(folder, f"frame_{t:05d}.obj"), v, rig.faces)
    written["obj"] = folder
  if formats.render and has_mesh:        # each frame goes to the encoder as it is drawn: memory flat in length
    frames = image.render_frames(verts, rig.faces, size=size, title=title, reference=rig.templates[
        rig.speaker_index(speaker)], weights=motion, progress=True)
    written["video"] = video.write_video(frames, base + ".mp4", audio=audio[:timebase.samples_for(len(motion))])
  rig_written, notes = _rig_files(ds, motion, verts, audio, base=base, speaker=speaker, formats=formats)
  written.update(rig_written)
  if (formats.obj or formats.render or formats.gltf) and not has_mesh:
    notes.append("this dataset was built without a mesh: no OBJ frames, video or glTF")
  if outside:
    notes.append(f"{outside} weights outside [0, 1] were clamped (a run sampled without clip_x0)")
  if notes:
    info["note"] = "; ".join(notes)
  with open(written["json"], "w") as f:
    json.dump(info, f, indent=1)
  return written
