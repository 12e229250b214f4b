"""A player in the browser: plays a clip written by launch/animate.py in sync with its wav, or (--live) shows the face
driven by the streaming animator from a wav played in the page or the microphone.

  python launch/view.py runs/demo/animate/<clip>.glb            [--audio=<clip>.wav, default: the one beside it]
  python launch/view.py runs/demo/animate/<clip>_frames.json    (drawn on --dataset's first face)
  python launch/view.py --live --checkpoint=runs/demo/student [--audio=speech.wav] [--lookahead_ms=200]

Prints the page's address (http://127.0.0.1:8765/ by default) and serves until Ctrl-C; --open opens it in the
default browser. The page (three.js, vendored in dt_jax/viewer/static) has play/pause (space), a scrub bar and the
time and frame; in live mode, 'Play wav' plays the audio and streams it to the animator as it is heard,
'Microphone' streams the microphone (browsers allow it on localhost), and the measured latency (audio sent to its
frame back, the lookahead included) is shown. Bad input ends in one line (`view: <file>: <why>`), exit status 1.
"""
import logging
import sys
import threading
import webbrowser

from absl import app
from absl import flags
import numpy as np
import common_flags
import run_flags

from dt_jax import timebase
from dt_jax.data import audio as audio_lib
from dt_jax.data import source
from dt_jax.inference import stream as stream_lib
from dt_jax.train import checkpoint
from dt_jax.viewer import pages
from dt_jax.viewer import server

_AUDIO = flags.DEFINE_string("audio", None, "The clip's wav (default: <clip stem>.wav beside it), or in live mode a "
                             "wav the page plays and streams.")
_LIVE = flags.DEFINE_bool("live", False, "Drive the face live with the streaming animator of --checkpoint.")
_CKPT = common_flags.checkpoint(required=False)
_DATA_DIR = common_flags.data_dir("data")
_DATASET = flags.DEFINE_string("dataset", "synthetic_talkers", "The face a frames JSON is drawn on.")
_LOOKAHEAD = flags.DEFINE_float("lookahead_ms", 200.0, "Live: audio after a frame waited for before it is generated.",
                                lower_bound=0.0)
_WINDOW = flags.DEFINE_float("window_seconds", 6.0, "Live: the sampler's window (encoder context + lookahead).")
_STEPS = common_flags.num_steps()
_HOST = flags.DEFINE_string("host", "127.0.0.1", "Address to serve on (0.0.0.0: every interface).")
_PORT = flags.DEFINE_integer("port", 8765, "Port to serve on (0: any free port).", lower_bound=0, upper_bound=65535)
_OPEN = flags.DEFINE_bool("open", False, "Open the page in the default browser.")
flags.adopt_module_key_flags(common_flags)   # the shared flags show in --help


def _page(argv) -> server.Page:
  if _LIVE.value:
    if len(argv) > 1:
      raise ValueError("--live takes no clip (the page streams --audio or the microphone)")
    if not _CKPT.value:
      raise ValueError("--live needs --checkpoint (a student or teacher run)")
    run = run_flags.load_run("view", _CKPT.value, data_dir=_DATA_DIR.value)
    streamer = stream_lib.StreamingAnimator(run, lookahead_seconds=_LOOKAHEAD.value / 1000,
                                            window_seconds=_WINDOW.value, num_steps=_STEPS.value)
    print("view: compiling the streaming animator ...", flush=True)
    streamer.push(np.zeros(timebase.SAMPLE_RATE, np.float32))    # compile now, not on the page's first chunk
    streamer.finish()
    streamer.reset()
    return pages.live_page(run.dataset.rig, streamer, audio=_AUDIO.value, lookahead_ms=_LOOKAHEAD.value,
                           title=f"live: {_CKPT.value}")
  if len(argv) != 2:
    raise ValueError("give one clip (.glb or _frames.json from launch/animate.py), or --live --checkpoint=...")
  clip = argv[1]
  rig = source.open_dataset(_DATASET.value, data_dir=_DATA_DIR.value).rig if clip.endswith(".json") else None
  return pages.clip_page(clip, audio=_AUDIO.value, rig=rig)


def main(argv):
  checkpoint.quiet_orbax_logs()
  logging.getLogger("websockets").setLevel(logging.WARNING)     # not a line per request
  try:
    page = _page(argv)
    srv = server.Server(page, host=_HOST.value, port=_PORT.value)
  except (pages.PageError, audio_lib.AudioError, FileNotFoundError, ValueError, OSError) as e:
    sys.exit(f"view: {e}")
  print(f"view: serving {srv.url} (Ctrl-C to stop)", flush=True)
  if _OPEN.value:
    webbrowser.open(srv.url)
  try:
    threading.Event().wait()
  except KeyboardInterrupt:
    pass
  finally:
    srv.close()


if __name__ == "__main__":
  app.run(main)
