"""Smooth-shaded images of a face mesh from a fixed camera (orthographic, slight yaw), drawn offscreen with VTK.

Per-vertex normals (Phong shading), a dark mouth cavity with teeth and eyeballs that follow the eyeLook* weights on
MediaPipe-topology faces (`scene`), 8x multisampling. VTK's PyPI wheel draws through the system's OpenGL: with no
display through EGL (Mesa's libEGL renders in software on a CPU). One `Renderer` keeps its window across frames.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import weakref

import numpy as np
import tqdm
from vtkmodules import vtkRenderingFreeType  # pylint: disable=unused-import  # text
from vtkmodules import vtkRenderingOpenGL2  # pylint: disable=unused-import  # the OpenGL backend
from vtkmodules.util import numpy_support
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray
from vtkmodules.vtkCommonDataModel import vtkPolyData
from vtkmodules.vtkFiltersSources import vtkSphereSource
from vtkmodules.vtkRenderingCore import vtkActor
from vtkmodules.vtkRenderingCore import vtkLight
from vtkmodules.vtkRenderingCore import vtkPolyDataMapper
from vtkmodules.vtkRenderingCore import vtkRenderer
from vtkmodules.vtkRenderingCore import vtkRenderWindow
from vtkmodules.vtkRenderingCore import vtkTextActor
from vtkmodules.vtkRenderingCore import vtkWindowToImageFilter

from dt_jax.face import mesh
from dt_jax.render import scene

_SKIN = (0.93, 0.76, 0.64)
_PARTS = {"cavity": (0.32, 0.07, 0.08), "teeth": (0.95, 0.93, 0.86), "sclera": (0.96, 0.96, 0.94),
          "iris": (0.27, 0.42, 0.55), "pupil": (0.03, 0.03, 0.03)}


class RenderError(RuntimeError):
  """No offscreen OpenGL context could be made."""


def _rotation(yaw_deg: float, pitch_deg: float) -> np.ndarray:
  y, p = np.deg2rad(yaw_deg), np.deg2rad(pitch_deg)
  ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
  rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
  return rx @ ry


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
  """[V, 3] unit normals: the area-weighted mean of the adjoining triangles' normals."""
  fn = mesh.triangle_normals(vertices, faces)                                   # [F, 3], length = 2 x area
  n = np.zeros_like(vertices, dtype=np.float64)
  for k in range(3):
    np.add.at(n, faces[:, k], fn)
  return n / (np.linalg.norm(n, axis=-1, keepdims=True) + 1e-12)


class _Part:
  """One mesh actor whose points (and normals) are replaced every frame."""

  def __init__(self, renderer, faces: np.ndarray, color, *, specular: float = 0.1, smooth: bool = True):
    self.faces, self.smooth = np.asarray(faces, np.int64), smooth
    self.poly, self.points = vtkPolyData(), vtkPoints()
    cells = vtkCellArray()
    offsets = np.arange(0, 3 * len(self.faces) + 1, 3, dtype=np.int64)
    cells.SetData(numpy_support.numpy_to_vtkIdTypeArray(offsets, deep=True),
                  numpy_support.numpy_to_vtkIdTypeArray(self.faces.reshape(-1).copy(), deep=True))
    self.poly.SetPoints(self.points)
    self.poly.SetPolys(cells)
    mapper = vtkPolyDataMapper()
    mapper.SetInputData(self.poly)
    self.actor = vtkActor()
    self.actor.SetMapper(mapper)
    prop = self.actor.GetProperty()
    prop.SetColor(*color)
    prop.SetSpecular(specular)
    prop.SetSpecularPower(20)
    if smooth:
      prop.SetInterpolationToPhong()
    else:
      prop.SetInterpolationToFlat()
    prop.BackfaceCullingOff()
    renderer.AddActor(self.actor)

  def set(self, points: np.ndarray) -> None:
    points = np.ascontiguousarray(points, np.float64)
    self.points.SetData(numpy_support.numpy_to_vtk(points, deep=True))
    if self.smooth:
      self.poly.GetPointData().SetNormals(numpy_support.numpy_to_vtk(vertex_normals(points, self.faces), deep=True))
    self.poly.Modified()


class Renderer:
  """Renders [V, 3] vertices of one topology to uint8 [size, size, 3] images.

  In a process that has imported TensorFlow it draws in a child process instead (`_Child`): TensorFlow's own LLVM
  and Mesa's crash together in one process (a segfault at the first draw, or at exit)."""

  def __init__(self, faces: np.ndarray, *, reference: np.ndarray, size: int = 256, yaw: float = 15.0,
               pitch: float = 5.0, title: str | None = None):
    self._child = None
    if "tensorflow" in sys.modules:
      self._child = _Child(dict(faces=faces, reference=reference, size=size, yaw=yaw, pitch=pitch, title=title))
      return
    if not os.environ.get("DISPLAY"):
      os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")   # no X server: skip its probe
    self.size, self.faces = size, np.asarray(faces)
    self.reference = np.asarray(reference, np.float64)
    self.rot = _rotation(yaw, pitch)
    ref = self.reference @ self.rot.T
    self.centre = (ref.max(0) + ref.min(0)) / 2
    self.half = 0.55 * np.max(ref.max(0)[:2] - ref.min(0)[:2])
    self.ren = vtkRenderer()
    self.ren.SetBackground(1.0, 1.0, 1.0)
    self.ren.AutomaticLightCreationOff()
    for position, intensity in (((0.35, 0.45, 1.0), 0.85), ((-0.6, -0.2, 0.6), 0.3)):
      light = vtkLight()
      light.SetLightTypeToCameraLight()
      light.SetPosition(*position)
      light.SetFocalPoint(0.0, 0.0, 0.0)
      light.SetIntensity(intensity)
      self.ren.AddLight(light)
    self.window = vtkRenderWindow()
    self.window.SetOffScreenRendering(True)
    self.window.SetMultiSamples(8)                  # anti-aliasing (VTK's FXAA pass reads back black under EGL)
    self.window.SetSize(size, size)
    self.window.AddRenderer(self.ren)
    self.skin = _Part(self.ren, self.faces, _SKIN)
    self.extras = scene.is_mediapipe(len(self.reference))
    if self.extras:
      self._add_extras()
    cam = self.ren.GetActiveCamera()                # looks down -z at the centred, turned face
    cam.ParallelProjectionOn()
    cam.SetParallelScale(self.half)
    cam.SetFocalPoint(0.0, 0.0, 0.0)
    cam.SetPosition(0.0, 0.0, 1.0)
    cam.SetViewUp(0.0, 1.0, 0.0)
    self.text = vtkTextActor()
    self.text.GetTextProperty().SetColor(0.0, 0.0, 0.0)
    self.text.GetTextProperty().SetFontSize(max(8, round(11 * size / 256)))
    self.text.SetDisplayPosition(round(0.03 * size), round(0.93 * size))
    self.text.SetInput(title or "")
    self.ren.AddViewProp(self.text)
    self._grab = vtkWindowToImageFilter()
    self._grab.SetInput(self.window)
    self._grab.SetInputBufferTypeToRGB()
    self.window.Render()
    if not self.window.SupportsOpenGL():
      raise RenderError("VTK could not make an offscreen OpenGL context: install Mesa's EGL (Debian: apt-get "
                        "install libegl1 libegl-mesa0), or run with a DISPLAY")

  def _add_extras(self) -> None:
    self.cavity = _Part(self.ren, scene.cavity(self.reference)[1], _PARTS["cavity"], specular=0.0, smooth=False)
    self.teeth = _Part(self.ren, scene.teeth(self.reference, self.reference)[1], _PARTS["teeth"], smooth=False)
    self.balls = []
    for _ in range(2):
      parts = []
      for name, res in (("sclera", 32), ("iris", 24), ("pupil", 16)):
        src = vtkSphereSource()
        src.SetThetaResolution(res)
        src.SetPhiResolution(res)
        mapper = vtkPolyDataMapper()
        mapper.SetInputConnection(src.GetOutputPort())
        actor = vtkActor()
        actor.SetMapper(mapper)
        actor.GetProperty().SetColor(*_PARTS[name])
        actor.GetProperty().SetSpecular(0.4 if name == "sclera" else 0.2)
        actor.GetProperty().SetInterpolationToPhong()
        self.ren.AddActor(actor)
        parts.append((src, actor))
      self.balls.append(parts)

  def _place_extras(self, v: np.ndarray, gaze: np.ndarray) -> None:
    to_view = lambda p: (np.asarray(p) @ self.rot.T) - self.centre
    self.cavity.set(to_view(scene.cavity(v)[0]))
    self.teeth.set(to_view(scene.teeth(v, self.reference)[0]))
    for (centre, r), d, parts in zip(scene.eyes(v), gaze, self.balls):
      for (src, actor), (along, radius) in zip(parts, ((0.0, 1.0), (0.6, 0.45), (0.82, 0.2))):
        src.SetRadius(radius * r)
        actor.SetPosition(*to_view(centre + along * r * d))

  def __call__(self, vertices: np.ndarray, title: str | None = None, *, gaze: np.ndarray | None = None) -> np.ndarray:
    """uint8 [size, size, 3] of vertices [V, 3]; `gaze` [2, 3] the right and left eye's view directions."""
    if self._child is not None:
      return self._child(vertices, title, gaze)
    v = np.asarray(vertices, np.float64)
    self.skin.set((v @ self.rot.T) - self.centre)
    if self.extras:
      self._place_extras(v, scene.gaze(None, 1)[0] if gaze is None else gaze)
    self.ren.GetActiveCamera().SetClippingRange(0.5, 1.5)
    if title is not None:
      self.text.SetInput(title)
    self.window.Render()
    self._grab.Modified()
    self._grab.Update()
    img = numpy_support.vtk_to_numpy(self._grab.GetOutput().GetPointData().GetScalars())
    return img.reshape(self.size, self.size, 3)[::-1].copy()


class _Child:
  """A Renderer in a spawned process (which imports no TensorFlow), frames back through a pipe."""

  def __init__(self, kwargs: dict):
    ctx = multiprocessing.get_context("spawn")
    self._conn, child = ctx.Pipe()
    self._proc = ctx.Process(target=_serve, args=(child, kwargs), daemon=True, name="renderer")
    self._proc.start()
    child.close()
    weakref.finalize(self, _Child._stop, self._conn, self._proc)

  def __call__(self, vertices, title, gaze) -> np.ndarray:
    self._conn.send((np.asarray(vertices, np.float64), title, None if gaze is None else np.asarray(gaze)))
    try:
      out = self._conn.recv()
    except EOFError as e:
      raise RenderError(f"the rendering process ended (exit code {self._proc.exitcode})") from e
    if isinstance(out, BaseException):
      raise out
    return out

  @staticmethod
  def _stop(conn, proc) -> None:
    try:
      conn.send(None)
    except (OSError, ValueError):
      pass
    proc.join(timeout=10)
    if proc.is_alive():
      proc.kill()


def _serve(conn, kwargs: dict) -> None:
  """The child's loop: (vertices, title, gaze) in, an image (or the exception) out, until None."""
  try:
    renderer = Renderer(**kwargs)
  except Exception as e:  # pylint: disable=broad-except  # handed to the parent, which raises it
    conn.send(e)
    return
  while (job := conn.recv()) is not None:
    try:
      conn.send(renderer(job[0], job[1], gaze=job[2]))
    except Exception as e:  # pylint: disable=broad-except
      conn.send(e)


def render_frames(vertices: np.ndarray, faces: np.ndarray, *, size: int = 256, title: str = "",
                  reference: np.ndarray | None = None, weights: np.ndarray | None = None, progress: bool = False):
  """[T, V, 3] -> uint8 frames [size, size, 3], one at a time (a progress bar per frame with `progress`); the eyes
  follow `weights` [T, 52] (ARKit) when given."""
  r = Renderer(faces, reference=vertices[0] if reference is None else reference, size=size, title=title)
  directions = scene.gaze(weights, len(vertices))
  for v, d in zip(tqdm.tqdm(vertices, desc="render", unit="frame", disable=not progress), directions):
    yield r(v, gaze=d)


def render_sequence(vertices: np.ndarray, faces: np.ndarray, *, size: int = 256, title: str = "",
                    reference: np.ndarray | None = None, weights: np.ndarray | None = None,
                    progress: bool = False) -> np.ndarray:
  """[T, V, 3] -> uint8 [T, size, size, 3], all frames in memory (short clips: side by side, contact sheets)."""
  return np.stack(list(render_frames(vertices, faces, size=size, title=title, reference=reference, weights=weights,
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
