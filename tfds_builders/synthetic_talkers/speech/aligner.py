"""Checking an engine's phone timings against a forced aligner that ships its acoustic model (pocketsphinx 5, BSD,
US-English model and dictionary inside the wheel; a test dependency).

The aligner's phones and the engine's are reduced to one alphabet (a vowel is 'V'; a consonant is its viseme
class, so t/d/n/l, s/z, p/b/m each agree whatever the accent), aligned as sequences (Needleman-Wunsch), and the
start times of matched phones compared after removing the constant offset between the two (the aligner's 10 ms
frames and its silence model put it a little early or late for every engine alike).
"""
from __future__ import annotations

import re

import numpy as np

from dt_jax import timebase
from tfds_builders.synthetic_talkers.speech import phones as phones_lib

_ARPABET = {   # pocketsphinx's CMU phones -> the shared alphabet
    "B": "PP", "P": "PP", "M": "PP", "F": "FF", "V": "FF", "TH": "TH", "DH": "TH", "T": "DD", "D": "DD", "N": "DD",
    "L": "DD", "S": "SS", "Z": "SS", "SH": "CH", "ZH": "CH", "CH": "CH", "JH": "CH", "K": "KK", "G": "KK",
    "NG": "KK", "HH": "KK", "R": "RR", "W": "W", "Y": "I",
}
_VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}


def align(audio: np.ndarray, text: str) -> list[tuple[float, float, str]]:
  """[(start_s, end_s, CMU phone)] of 16 kHz `audio` forced-aligned to `text` (silences left out)."""
  from pocketsphinx import Decoder  # pylint: disable=g-import-not-at-top
  words = re.sub(r"[^a-z' ]", " ", text.lower()).split()
  pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes()
  decoder = Decoder(samprate=timebase.SAMPLE_RATE, loglevel="FATAL")
  decoder.set_align_text(" ".join(words))
  for _ in range(2):        # first pass: words; second, after set_alignment(): phones
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    if _ == 0:
      decoder.set_alignment()
  out = []
  for word in decoder.get_alignment():
    for phone in word:
      if phone.name != "SIL":
        out.append((phone.start / 100.0, (phone.start + phone.duration) / 100.0, phone.name))
  return out


def _symbol_engine(phone: phones_lib.Phone) -> str | None:
  if phone.cls == phones_lib.PAUSE:
    return None
  return "V" if phone.cls == phones_lib.VOWEL else phone.visemes[0]


def _symbol_aligner(name: str) -> str:
  return "V" if name in _VOWELS else _ARPABET.get(name, "?")


def _pairs(a: list[str], b: list[str]) -> list[tuple[int, int]]:
  """Index pairs of equal symbols on a best global alignment (match +2, mismatch -1, gap -1)."""
  n, m = len(a), len(b)
  score = np.zeros((n + 1, m + 1))
  score[:, 0], score[0, :] = -np.arange(n + 1), -np.arange(m + 1)
  for i in range(1, n + 1):
    for j in range(1, m + 1):
      score[i, j] = max(score[i - 1, j - 1] + (2 if a[i - 1] == b[j - 1] else -1), score[i - 1, j] - 1,
                        score[i, j - 1] - 1)
  pairs, i, j = [], n, m
  while i > 0 and j > 0:
    if score[i, j] == score[i - 1, j - 1] + (2 if a[i - 1] == b[j - 1] else -1):
      if a[i - 1] == b[j - 1]:
        pairs.append((i - 1, j - 1))
      i, j = i - 1, j - 1
    elif score[i, j] == score[i - 1, j] - 1:
      i -= 1
    else:
      j -= 1
  return pairs[::-1]


def start_differences(engine: list[phones_lib.Phone], aligned: list[tuple[float, float, str]]) -> np.ndarray:
  """[M] engine start - aligner start (seconds) of the M phones the two sequences share."""
  eng = [p for p in engine if _symbol_engine(p) is not None]
  pairs = _pairs([_symbol_engine(p) for p in eng], [_symbol_aligner(x[2]) for x in aligned])
  return np.asarray([eng[i].start - aligned[j][0] for i, j in pairs])


def agreement(differences: np.ndarray, *, tolerance: float = 0.05) -> dict:
  """The constant offset (median difference) and the share of matched starts within `tolerance` after it."""
  offset = float(np.median(differences)) if len(differences) else 0.0
  within = float(np.mean(np.abs(differences - offset) <= tolerance)) if len(differences) else 0.0
  return {"matched": int(len(differences)), "offset_s": offset, "within": within}
