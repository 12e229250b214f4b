"""Phones from every engine in one form: (start, end, label, visemes, class), from espeak's mnemonics or IPA.

Every example of the corpus stores its phones' start, end and class (pause / vowel / bilabial / other), so metrics
can look at vowels, p/b/m and pauses on any split; the motion generator reads their viseme classes.
"""
from __future__ import annotations

import dataclasses

from tfds_builders.synthetic_talkers import visemes as vis

PAUSE, VOWEL, BILABIAL, OTHER = 0, 1, 2, 3
CLASS_NAMES = ("pause", "vowel", "bilabial", "other")


@dataclasses.dataclass(frozen=True)
class Phone:
  start: float                  # seconds
  end: float
  label: str                    # the engine's own name (espeak mnemonic or IPA)
  visemes: tuple[str, ...]      # viseme classes (diphthongs split in two or three)
  cls: int                      # PAUSE | VOWEL | BILABIAL | OTHER

  def shifted(self, seconds: float) -> "Phone":
    return dataclasses.replace(self, start=self.start + seconds, end=self.end + seconds)


def make(start: float, end: float, label: str, *, alphabet: str) -> Phone:
  """A phone from an espeak mnemonic (`alphabet="espeak"`) or an IPA label (`"ipa"`)."""
  v, vowel = vis.espeak_visemes(label) if alphabet == "espeak" else vis.ipa_visemes(label)
  cls = PAUSE if v == ("sil",) else VOWEL if vowel else BILABIAL if v == ("PP",) else OTHER
  return Phone(start=float(start), end=float(end), label=label, visemes=v, cls=cls)
