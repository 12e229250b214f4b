"""Shaded images of a face mesh from a fixed camera (orthographic, slight yaw), with matplotlib's Agg backend.

Flat Lambert shading, faces drawn back to front. One `Renderer` reuses its figure across frames, so a clip of a
few hundred frames renders in seconds on a CPU.
"""
from __future__ import annotations

import numpy as np
import tqdm
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

_SKIN = np.array([0.93, 0.76, 0.64])
_LIGHT = np.array([0.35, 0.45, 1.0]) / np.linalg.norm([0.35, 0.45, 1.0])


def _rotation(yaw_deg: float, pitch_deg: float) -> np.ndarray:
  y, p = np.deg2rad(yaw_deg), np.deg2rad(pitch_deg)
  ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
  rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
  return rx @ ry


class Renderer:
  """Renders [V, 3] vertices of one topology to uint8 [size, size, 3] images."""

  def __init__(self, faces: np.ndarray, *, reference: np.ndarray, size: int = 256, yaw: float = 15.0,
               pitch: float = 5.0, title: str | None = None):
    self.faces = np.asarray(faces)
    self.rot = _rotation(yaw, pitch)
    ref = np.asarray(reference, np.float64) @ self.rot.T
    self.centre = (ref.max(0) + ref.min(0)) / 2
    self.half = 0.55 * np.max(ref.max(0)[:2] - ref.min(0)[:2])
    dpi = 100
    self.fig = Figure(figsize=(size / dpi, size / dpi), dpi=dpi, facecolor="white")
    self.canvas = FigureCanvasAgg(self.fig)
    self.ax = self.fig.add_axes((0, 0, 1, 1))
    self.ax.set_xlim(-self.half, self.half)
    self.ax.set_ylim(-self.half, self.half)
    self.ax.set_aspect("equal")
    self.ax.axis("off")
    self.poly = PolyCollection([], linewidths=0.4, antialiaseds=True)
    self.ax.add_collection(self.poly)
    self.text = self.ax.text(0.03, 0.97, title or "", transform=self.ax.transAxes, va="top", fontsize=9)

  def __call__(self, vertices: np.ndarray, title: str | None = None) -> np.ndarray:
    v = (np.asarray(vertices, np.float64) @ self.rot.T) - self.centre
    tri = v[self.faces]                                              # [F, 3, 3]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.linalg.norm(n, axis=-1, keepdims=True) + 1e-12
    visible = n[:, 2] > 0
    shade = 0.25 + 0.75 * np.clip(n @ _LIGHT, 0, 1)
    order = np.argsort(tri[:, :, 2].mean(1))
    order = order[visible[order]]
    self.poly.set_verts(tri[order, :, :2])
    colors = np.clip(shade[order, None] * _SKIN, 0, 1)
    self.poly.set_facecolors(colors)
    self.poly.set_edgecolors(colors)          # hides the hairline seams between triangles
    if title is not None:
      self.text.set_text(title)
    self.canvas.draw()
    return np.asarray(self.canvas.buffer_rgba())[..., :3].copy()


def render_frames(vertices: np.ndarray, faces: np.ndarray, *, size: int = 256, title: str = "",
                  reference: np.ndarray | None = None, progress: bool = False):
  """[T, V, 3] -> uint8 frames [size, size, 3], one at a time (a progress bar per frame with `progress`)."""
  r = Renderer(faces, reference=vertices[0] if reference is None else reference, size=size, title=title)
  for v in tqdm.tqdm(vertices, desc="render", unit="frame", disable=not progress):
    yield r(v)


def render_sequence(vertices: np.ndarray, faces: np.ndarray, *, size: int = 256, title: str = "",
                    reference: np.ndarray | None = None, progress: bool = False) -> np.ndarray:
  """[T, V, 3] -> uint8 [T, size, size, 3], all frames in memory (short clips: side by side, contact sheets)."""
  return np.stack(list(render_frames(vertices, faces, size=size, title=title, reference=reference,
                                     progress=progress)))


def side_by_side(*columns: np.ndarray) -> np.ndarray:
  """Frames [T, H, W, 3] of equal T and H concatenated left to right (e.g. ground truth | prediction)."""
  t = min(len(c) for c in columns)
  return np.concatenate([c[:t] for c in columns], axis=2)


def contact_sheet(rows: list[np.ndarray], *, frames_per_row: int = 6) -> np.ndarray:
  """One image: each row shows `frames_per_row` evenly spaced frames of one clip [T, H, W, 3]."""
  out = []
  for clip in rows:
    idx = np.linspace(0, len(clip) - 1, frames_per_row).round().astype(int)
    out.append(np.concatenate(list(clip[idx]), axis=1))
  width = max(r.shape[1] for r in out)
  out = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in out]
  return np.concatenate(out, axis=0)
