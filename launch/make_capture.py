"""Writes a synthetic performer's Live Link Face capture: a speaker of the synthetic corpus that no model trains on,
speaking fresh sentences, as take folders in the app's layout (CSV, .mov with the audio, take.json) plus a
splits.json; for trying launch/recipes/finetune_performer.sh without an iPhone and for measuring it.

  python launch/make_capture.py --speaker=S20 --minutes=5 --out=captures/S20
"""
import sys

from absl import app
from absl import flags
import common_flags

from tfds_builders.livelink_face import capture

_SPEAKER = flags.DEFINE_string("speaker", "S20", "A held-out, unseen-voice or unseen-language corpus speaker.")
_MINUTES = flags.DEFINE_float("minutes", 5.0, "Minutes of speech.", lower_bound=0.05)
_SENTENCES = flags.DEFINE_integer("sentences_per_take", 3, "Sentences per take.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Which sentences.")
_OUT = common_flags.out(required=True, what="Where the take folders go (<out>/<speaker>/...).")
flags.adopt_module_key_flags(common_flags)   # the shared flags show in --help


def main(argv):
  del argv
  try:
    folders = capture.write_capture(_OUT.value, speaker=_SPEAKER.value, minutes=_MINUTES.value,
                                    sentences_per_take=_SENTENCES.value, seed=_SEED.value)
  except ValueError as e:
    sys.exit(f"make_capture: {e}")
  print(f"{len(folders)} takes of {_SPEAKER.value} under {_OUT.value} (splits in {_OUT.value}/splits.json)")


if __name__ == "__main__":
  app.run(main)
