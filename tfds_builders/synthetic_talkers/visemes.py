"""espeak-ng phoneme names -> viseme classes, and each viseme's ARKit target weights."""
from __future__ import annotations

import unicodedata

import numpy as np

from dt_jax.face import arkit

# Viseme classes (16 as in common lip-sync rigs, plus a schwa).
CLASSES = ("sil", "PP", "FF", "TH", "DD", "SS", "CH", "KK", "RR", "W", "AA", "AE", "E", "I", "O", "U", "@")
BILABIAL = ("p", "b", "m")

_CONSONANTS = {
    "p": "PP", "b": "PP", "m": "PP", "f": "FF", "v": "FF", "T": "TH", "D": "TH",
    "t": "DD", "d": "DD", "n": "DD", "l": "DD", "t#": "DD", "d#": "DD", "n-": "DD", "l-": "DD", "L": "DD",
    "s": "SS", "z": "SS", "S": "CH", "Z": "CH", "tS": "CH", "dZ": "CH", "k": "KK", "g": "KK", "N": "KK",
    "h": "KK", "x": "KK", "?": "KK", "r": "RR", "r-": "RR", "w": "W", "j": "I",
}
_VOWELS = {   # diphthongs split in two
    "a": ("AE",), "a#": ("AE",), "A:": ("AA",), "A@": ("AA", "RR"), "A": ("AA",), "V": ("AA",), "0": ("AA",),
    "aI": ("AA", "I"), "aI@": ("AA", "I", "@"), "aI3": ("AA", "I", "RR"), "aU": ("AA", "U"),
    "E": ("E",), "e": ("E",), "e@": ("E", "@"), "eI": ("E", "I"), "3:": ("RR",), "3": ("RR",), "@": ("@",),
    "@2": ("@",), "@5": ("@",), "@L": ("@", "DD"), "i": ("I",), "i:": ("I",), "I": ("I",), "I2": ("I",),
    "I#": ("I",), "i@": ("I", "@"), "i@3": ("I", "RR"), "O:": ("O",), "O@": ("O", "RR"), "o@": ("O", "RR"),
    "O": ("O",), "OI": ("O", "I"), "oU": ("O", "U"), "o": ("O",), "u:": ("U",), "U": ("U",), "U@": ("U", "@"),
}
VOWEL_CLASSES = ("AA", "AE", "E", "I", "O", "U", "@")

_TARGETS = {   # viseme -> {arkit name: weight}
    "sil": {},
    "PP": {"jawOpen": 0.04, "mouthPressLeft": 0.35, "mouthPressRight": 0.35, "mouthRollLower": 0.1},
    "FF": {"jawOpen": 0.1, "mouthRollLower": 0.6, "mouthUpperUpLeft": 0.2, "mouthUpperUpRight": 0.2,
           "mouthShrugUpper": 0.15},
    "TH": {"jawOpen": 0.18, "tongueOut": 0.4, "mouthLowerDownLeft": 0.1, "mouthLowerDownRight": 0.1},
    "DD": {"jawOpen": 0.18, "mouthStretchLeft": 0.1, "mouthStretchRight": 0.1},
    "SS": {"jawOpen": 0.08, "mouthStretchLeft": 0.3, "mouthStretchRight": 0.3, "mouthSmileLeft": 0.1,
           "mouthSmileRight": 0.1},
    "CH": {"jawOpen": 0.12, "mouthFunnel": 0.55, "mouthPucker": 0.3, "mouthShrugUpper": 0.2},
    "KK": {"jawOpen": 0.22},
    "RR": {"jawOpen": 0.15, "mouthPucker": 0.45, "mouthFunnel": 0.25},
    "W": {"jawOpen": 0.08, "mouthPucker": 0.85, "mouthFunnel": 0.2},
    "AA": {"jawOpen": 0.75, "mouthLowerDownLeft": 0.3, "mouthLowerDownRight": 0.3, "mouthUpperUpLeft": 0.1,
           "mouthUpperUpRight": 0.1},
    "AE": {"jawOpen": 0.6, "mouthStretchLeft": 0.3, "mouthStretchRight": 0.3, "mouthLowerDownLeft": 0.2,
           "mouthLowerDownRight": 0.2},
    "E": {"jawOpen": 0.45, "mouthStretchLeft": 0.25, "mouthStretchRight": 0.25, "mouthSmileLeft": 0.1,
          "mouthSmileRight": 0.1},
    "I": {"jawOpen": 0.3, "mouthSmileLeft": 0.3, "mouthSmileRight": 0.3, "mouthStretchLeft": 0.3,
          "mouthStretchRight": 0.3},
    "O": {"jawOpen": 0.5, "mouthFunnel": 0.6, "mouthPucker": 0.3},
    "U": {"jawOpen": 0.25, "mouthPucker": 0.7, "mouthFunnel": 0.4},
    "@": {"jawOpen": 0.35},
}
# How strongly each class holds the lips / the jaw against its neighbours (coarticulation dominance).
LIP_DOMINANCE = {"sil": 0.3, "PP": 3.0, "FF": 2.5, "TH": 0.8, "DD": 0.15, "SS": 0.8, "CH": 1.8, "KK": 0.1,
                 "RR": 1.2, "W": 2.5, "AA": 1.5, "AE": 1.5, "E": 1.5, "I": 1.5, "O": 1.8, "U": 2.0, "@": 1.0}
JAW_DOMINANCE = {"sil": 0.3, "PP": 1.0, "FF": 1.0, "TH": 0.8, "DD": 0.6, "SS": 1.2, "CH": 0.8, "KK": 0.5,
                 "RR": 0.6, "W": 0.6, "AA": 2.0, "AE": 1.9, "E": 1.7, "I": 1.3, "O": 1.8, "U": 1.3, "@": 1.0}
JAW_CHANNELS = (arkit.INDEX["jawOpen"],)

TARGETS = np.zeros((len(CLASSES), arkit.NUM), np.float32)   # [C, 52]
for _c, _t in _TARGETS.items():
  for _n, _w in _t.items():
    TARGETS[CLASSES.index(_c), arkit.INDEX[_n]] = _w


def espeak_visemes(phone: str) -> tuple[tuple[str, ...], bool]:
  """(viseme classes, is a vowel) of one espeak phoneme name (pauses and unknown names are silence)."""
  if phone.startswith("_") or not phone:
    return ("sil",), False
  if phone in _CONSONANTS:
    return (_CONSONANTS[phone],), False
  if phone in _VOWELS:
    return _VOWELS[phone], True
  for n in (3, 2, 1):   # longest known prefix, e.g. "aI@2" -> "aI@"
    head = phone[:n]
    if head in _VOWELS:
      return _VOWELS[head], True
    if head in _CONSONANTS:
      return (_CONSONANTS[head],), False
  return ("sil",), False

# IPA (Piper, Kokoro): labels after merging (stress marks dropped, length marks and two-letter phones joined).
_IPA_CONSONANTS = {
    "p": "PP", "b": "PP", "m": "PP", "f": "FF", "v": "FF", "θ": "TH", "ð": "TH", "t": "DD", "d": "DD", "n": "DD",
    "l": "DD", "ɾ": "DD", "ɫ": "DD", "s": "SS", "z": "SS", "ʃ": "CH", "ʒ": "CH", "tʃ": "CH", "dʒ": "CH", "ʧ": "CH",
    "ʤ": "CH", "k": "KK", "ɡ": "KK", "g": "KK", "ŋ": "KK", "h": "KK", "x": "KK", "ʔ": "KK", "ç": "KK", "ɹ": "RR",
    "r": "RR", "ɻ": "RR", "w": "W", "ʍ": "W", "j": "I",
    # other languages (espeak-ng's IPA events for the test_unseen_language speakers)
    "β": "PP", "ɸ": "FF", "ʋ": "FF", "ɲ": "DD", "ʎ": "DD", "ʈ": "DD", "ɖ": "DD", "ɳ": "DD", "ɭ": "DD", "ɽ": "DD",
    "ts": "SS", "dz": "SS", "c": "CH", "ɟ": "CH", "ɕ": "CH", "ʑ": "CH", "ʂ": "CH", "ʐ": "CH", "tɕ": "CH",
    "dʑ": "CH", "ɣ": "KK", "ʁ": "KK", "ʀ": "KK", "q": "KK", "ɦ": "KK", "ʝ": "I", "ɥ": "W",
}
_IPA_VOWELS = {
    "ɑ": ("AA",), "ɒ": ("AA",), "ʌ": ("AA",), "æ": ("AE",), "a": ("AE",), "ɛ": ("E",), "e": ("E",), "ɪ": ("I",),
    "i": ("I",), "ᵻ": ("I",), "ɨ": ("I",), "ɔ": ("O",), "o": ("O",), "ʊ": ("U",), "u": ("U",), "ə": ("@",),
    "ɐ": ("@",), "ɚ": ("RR",), "ɝ": ("RR",), "ɜ": ("RR",),
    "eɪ": ("E", "I"), "A": ("E", "I"), "aɪ": ("AA", "I"), "I": ("AA", "I"), "aʊ": ("AA", "U"), "W": ("AA", "U"),
    "oʊ": ("O", "U"), "O": ("O", "U"), "ɔɪ": ("O", "I"), "Y": ("O", "I"), "əʊ": ("@", "U"), "ɪə": ("I", "@"),
    "eə": ("E", "@"), "ʊə": ("U", "@"),
    # other languages: rounded front vowels take the rounded lips, unrounded back ones the spread
    "y": ("U",), "ʏ": ("U",), "ø": ("O",), "œ": ("O",), "ɤ": ("@",), "ɯ": ("I",), "ɘ": ("@",),
}
IPA_PAUSES = frozenset("^$_.,!?;:—…") | {" "}
IPA_TWO_LETTER = frozenset(k for k in list(_IPA_CONSONANTS) + list(_IPA_VOWELS) if len(k) == 2)


def ipa_visemes(label: str) -> tuple[tuple[str, ...], bool]:
  """(viseme classes, is a vowel) of one IPA phone label; length marks, accents and modifier letters are ignored;
  pauses are silence."""
  core = "".join(c for c in label if not (unicodedata.combining(c) or unicodedata.category(c) == "Lm"))
  if not core or all(c in IPA_PAUSES for c in core):
    return ("sil",), False
  core = "".join(c for c in core if c not in _MARKS)
  if core in _IPA_VOWELS:
    return _IPA_VOWELS[core], True
  if core in _IPA_CONSONANTS:
    return (_IPA_CONSONANTS[core],), False
  return _ipa_sequence(core, label)


# espeak-ng's IPA events mark stress and write some phones with an ASCII suffix ('s.' retroflex, 'ə-' reduced).
_MARKS = frozenset("ˈˌ.-")


def _ipa_sequence(core: str, label: str) -> tuple[tuple[str, ...], bool]:
  """A label no table holds as a whole (espeak-ng's Mandarin finals 'iɛ', 'onɡ', its aspirated 'tɕh', precomposed
  nasal vowels 'ã'): the visemes of its symbols in order, two-letter symbols first, accents dropped; an 'h' after a
  consonant is aspiration and adds none."""
  core = "".join(c for c in unicodedata.normalize("NFD", core) if not unicodedata.combining(c))   # ã -> a
  out, vowel, k = [], False, 0
  while k < len(core):
    two, one = core[k:k + 2], core[k]
    sym = two if len(two) == 2 and (two in _IPA_VOWELS or two in _IPA_CONSONANTS) else one
    k += len(sym)
    if sym == "h" and out and not vowel_of(out[-1]):
      continue
    if sym in _IPA_VOWELS:
      new, vowel = _IPA_VOWELS[sym], True
    elif sym in _IPA_CONSONANTS:
      new = (_IPA_CONSONANTS[sym],)
    else:
      raise KeyError(f"unknown IPA phone {label!r} (symbol {sym!r})")
    out += [v for v in new if not out or out[-1] != v]
  return tuple(out), vowel


def vowel_of(viseme: str) -> bool:
  return viseme in VOWEL_CLASSES
