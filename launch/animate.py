"""Animates a face from a wav with a trained teacher or student: .npy motion, optional OBJ frames, an MP4 with audio.

  python launch/animate.py --checkpoint=runs/demo/student --audio=speech.wav --out=out/
  python launch/animate.py --checkpoint=runs/demo/student --audio=speech.wav --out=out/ \\
      --speaker_from=ref.wav --emotion=happy --obj --gltf --livelink_csv --json

Any common wav (any rate, mono or stereo, integer or float samples) is resampled to 16 kHz. Identity and emotion
come from the audio itself unless --speaker_from (a reference clip's identity) or --emotion (a name the model was
trained with) overrides them. Long audio is animated in overlapping windows crossfaded without seams. Bad input
(missing, empty, corrupt, silent-only or NaN audio, shorter than a frame, an unknown emotion) exits non-zero with
a one-line message.
"""
import os
import sys

from absl import app
from absl import flags
import common_flags
import run_flags

from dt_jax import timebase
from dt_jax.data import audio as audio_lib
from dt_jax.inference import animator as animator_lib
from dt_jax.inference import outputs
from dt_jax.train import checkpoint

_CKPT = common_flags.checkpoint()
_AUDIO = flags.DEFINE_string("audio", None, "Speech to animate (wav, flac, ...).", required=True)
_OUT = common_flags.out("out")
_STEPS = common_flags.num_steps()
_SEED = common_flags.noise_seed()
_SPEAKER_FROM = flags.DEFINE_string("speaker_from", None, "A reference clip whose identity to use.")
_EMOTION = flags.DEFINE_string("emotion", None, "An emotion by name (overrides the one heard in the audio).")
_TEMPLATE = flags.DEFINE_string("template", None, "Speaker whose face to show (default: the closest identity).")
_OBJ = flags.DEFINE_bool("obj", False, "Also write one OBJ per frame.")
_RENDER = flags.DEFINE_bool("render", True, "Render an MP4 with the audio (GIF without ffmpeg).")
_GLTF, _CSV, _JSON = common_flags.rig_outputs()
_WINDOW = flags.DEFINE_float("window_seconds", 10.0, "Window length for long audio.")
_OVERLAP = flags.DEFINE_float("overlap_seconds", 1.0, "Crossfaded overlap between windows.")
_DATA_DIR = common_flags.data_dir()
_SIZE = common_flags.frame_size()
flags.adopt_module_key_flags(common_flags)   # the shared flags show in --help


def main(argv):
  del argv
  checkpoint.quiet_orbax_logs()
  run_flags.check_out("animate", _OUT.value)
  try:
    speech = audio_lib.load_speech(_AUDIO.value)
    reference = audio_lib.load_speech(_SPEAKER_FROM.value) if _SPEAKER_FROM.value else None
    run = run_flags.load_run("animate", _CKPT.value, data_dir=_DATA_DIR.value)
    anim = animator_lib.Animator(run, num_steps=_STEPS.value, window_seconds=_WINDOW.value,
                                 overlap_seconds=_OVERLAP.value)
    persona = anim.persona(speech, reference=reference, emotion=_EMOTION.value, template=_TEMPLATE.value)
    motion = anim.animate(speech, seed=_SEED.value, embeddings=persona.embeddings)
  except (audio_lib.AudioError, animator_lib.AnimateError, FileNotFoundError) as e:
    sys.exit(f"animate: {e}")
  stem = os.path.splitext(os.path.basename(_AUDIO.value))[0]
  title = f"{anim.num_steps}-step" + (f", {_EMOTION.value}" if _EMOTION.value else "")
  meta = {"checkpoint": run.workdir, "num_steps": anim.num_steps, "seed": _SEED.value, "audio": _AUDIO.value,
          "speaker_from": _SPEAKER_FROM.value, "emotion": _EMOTION.value, "seconds": len(speech) / timebase.SAMPLE_RATE}
  formats = outputs.Formats(obj=_OBJ.value, render=_RENDER.value, gltf=_GLTF.value, livelink_csv=_CSV.value,
                            json=_JSON.value)
  written = outputs.write(run.dataset, motion, speech, out_dir=_OUT.value, stem=stem, speaker=persona.speaker,
                          formats=formats, size=_SIZE.value, title=title, meta=meta)
  print(f"{len(motion)} frames ({len(motion) / timebase.FPS:.1f} s) from {_AUDIO.value}")
  for kind, path in written.items():
    print(f"  {kind}: {path}")


if __name__ == "__main__":
  app.run(main)
