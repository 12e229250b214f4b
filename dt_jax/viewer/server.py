"""The browser player's server: one local port serves the page, the vendored three.js, the clip and its audio, and
(in live mode) a WebSocket on which the page streams 16 kHz audio and gets the streaming animator's frames back.

Routes: `/` the page, `/static/...` its files, `/config.json` what the page should show, `/clip.glb` the face
with its morph animation (or, live, the neutral face with its 52 morph targets), `/clip.wav` the audio, `/live` the
WebSocket. Live protocol: the page sends binary messages, a uint32 chunk number then float32 samples at 16 kHz
(little-endian), and the text "end" when its audio ends; each chunk is answered by one JSON message
{"chunk", "frames": [[t, [52 weights]], ...], "compute_ms"}; "end" by the remaining frames with "chunk": null,
after which the next chunk starts a new stream.
"""
from __future__ import annotations

import asyncio
import dataclasses
import http
import importlib.resources
import json
import mimetypes
import struct
import threading
import time

import numpy as np
from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.http11 import Response

from dt_jax.inference import rig_formats
from dt_jax.inference import stream as stream_lib

STATIC = importlib.resources.files("dt_jax.viewer") / "static"
_TYPES = {".js": "text/javascript", ".html": "text/html; charset=utf-8", ".json": "application/json",
          ".glb": "model/gltf-binary", ".wav": "audio/wav", ".md": "text/plain; charset=utf-8"}


@dataclasses.dataclass
class Page:
  """What the server hands out: the page's settings and the clip's files (bytes, by route)."""
  config: dict
  files: dict[str, bytes]
  streamer: stream_lib.StreamingAnimator | None = None


def _response(status: http.HTTPStatus, body: bytes, content_type: str) -> Response:
  headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))),
                     ("Cache-Control", "no-store")])
  return Response(status.value, status.phrase, headers, body)


def _static(path: str) -> bytes | None:
  node = STATIC
  for part in path.split("/"):
    if part in ("", ".", "..") or part.startswith("."):
      return None
    node = node / part
  return node.read_bytes() if node.is_file() else None


def _content_type(path: str) -> str:
  ext = path[path.rfind("."):] if "." in path else ""
  return _TYPES.get(ext) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def http_handler(page: Page):
  """The websockets `process_request` hook: files for every route but /live (None lets the WebSocket through)."""

  def process_request(connection, request):
    path = request.path.split("?")[0]
    if path == "/live":
      if page.streamer is None:
        return connection.respond(http.HTTPStatus.NOT_FOUND, "this player was not started with --live\n")
      return None
    if path == "/":
      path = "/static/index.html"
    if path == "/favicon.ico":
      return _response(http.HTTPStatus.NO_CONTENT, b"", "image/x-icon")
    if path == "/config.json":
      return _response(http.HTTPStatus.OK, json.dumps(page.config).encode(), _TYPES[".json"])
    body = page.files.get(path)
    if body is None and path.startswith("/static/"):
      body = _static(path[len("/static/"):])
    if body is None:
      return connection.respond(http.HTTPStatus.NOT_FOUND, f"{path}: no such file\n")
    return _response(http.HTTPStatus.OK, body, _content_type(path))

  return process_request


def live_handler(page: Page):
  """The /live WebSocket: chunks in, frames out, one stream at a time (the animator is shared). Chunks that arrive
  while the animator works are taken together in its next push, so a slow machine answers later, never falls
  further and further behind."""
  lock = asyncio.Lock()

  async def handle(ws):
    async with lock:
      streamer = page.streamer
      streamer.reset()
      queue: asyncio.Queue = asyncio.Queue()

      async def receive():
        async for message in ws:
          queue.put_nowait(message)
        queue.put_nowait(None)

      receiver = asyncio.create_task(receive())
      try:
        while True:
          batch = [await queue.get()]
          while not queue.empty():
            batch.append(queue.get_nowait())
          chunks, last = [], None
          for message in batch:
            if message is None or isinstance(message, str):
              await _push(ws, streamer, chunks, last)
              chunks, last = [], None
              if message is None:
                return
              if message.strip() == "end":
                frames = await asyncio.to_thread(streamer.finish)
                await ws.send(_frames_message(None, streamer.emitted - len(frames), frames, 0.0))
                streamer.reset()
              continue
            if len(message) < 4 or (len(message) - 4) % 4:
              await ws.send(json.dumps({"error": "a chunk is a uint32 number then float32 samples"}))
              continue
            (number,) = struct.unpack("<I", message[:4])
            samples = np.frombuffer(message[4:], "<f4")
            if not np.all(np.isfinite(samples)):
              await ws.send(json.dumps({"chunk": number, "error": "a chunk holding NaN or Inf"}))
              continue
            chunks.append(samples)
            last = number
          await _push(ws, streamer, chunks, last)
      finally:
        receiver.cancel()

  return handle


async def _push(ws, streamer: stream_lib.StreamingAnimator, chunks: list, last: int | None) -> None:
  """Pushes the chunks together and answers with the frames they made ready, numbered by the last chunk."""
  if not chunks:
    return
  t0 = time.perf_counter()
  frames = await asyncio.to_thread(streamer.push, np.concatenate(chunks))
  await ws.send(_frames_message(last, streamer.emitted - len(frames), frames, 1000 * (time.perf_counter() - t0)))


def _frames_message(chunk: int | None, start: int, frames: np.ndarray, compute_ms: float) -> str:
  weights = rig_formats.arkit_weights(frames)
  return json.dumps({"chunk": chunk, "compute_ms": round(compute_ms, 2),
                     "frames": [[start + i, [round(float(x), 5) for x in w]] for i, w in enumerate(weights)]})


class Server:
  """Serves `page` on host:port (port 0: any free one) from a background thread until `close()`.

    with Server(page, port=8765) as s:
      print(s.url)
  """

  def __init__(self, page: Page, *, host: str = "127.0.0.1", port: int = 0):
    self.page, self.host = page, host
    self._loop = asyncio.new_event_loop()
    self._ready = threading.Event()
    self._stop: asyncio.Future | None = None
    self._error: BaseException | None = None
    self._thread = threading.Thread(target=self._run, args=(port,), daemon=True, name="viewer")
    self._thread.start()
    self._ready.wait()
    if self._error is not None:
      raise OSError(f"cannot serve on {host}:{port}: {self._error}") from self._error

  def _run(self, port: int) -> None:
    asyncio.set_event_loop(self._loop)
    self._loop.run_until_complete(self._main(port))

  async def _main(self, port: int) -> None:
    self._stop = self._loop.create_future()
    try:
      server = await serve(live_handler(self.page), self.host, port, process_request=http_handler(self.page),
                           max_size=2 ** 22)
    except OSError as e:
      self._error = e
      self._ready.set()
      return
    self.port = server.sockets[0].getsockname()[1]
    self._ready.set()
    async with server:
      await self._stop

  @property
  def url(self) -> str:
    return f"http://{self.host}:{self.port}/"

  def close(self) -> None:
    if self._stop is not None and not self._stop.done():
      self._loop.call_soon_threadsafe(self._stop.set_result, None)
    self._thread.join(timeout=10)

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()
    return False
