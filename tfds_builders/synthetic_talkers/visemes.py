"""espeak-ng phoneme names -> viseme classes, and each viseme's ARKit target weights."""
from __future__ import annotations

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
    "AA": {"jawOpen": 0.65, "mouthLowerDownLeft": 0.3, "mouthLowerDownRight": 0.3, "mouthUpperUpLeft": 0.1,
           "mouthUpperUpRight": 0.1},
    "AE": {"jawOpen": 0.5, "mouthStretchLeft": 0.3, "mouthStretchRight": 0.3, "mouthLowerDownLeft": 0.2,
           "mouthLowerDownRight": 0.2},
    "E": {"jawOpen": 0.35, "mouthStretchLeft": 0.25, "mouthStretchRight": 0.25, "mouthSmileLeft": 0.1,
          "mouthSmileRight": 0.1},
    "I": {"jawOpen": 0.18, "mouthSmileLeft": 0.3, "mouthSmileRight": 0.3, "mouthStretchLeft": 0.3,
          "mouthStretchRight": 0.3},
    "O": {"jawOpen": 0.42, "mouthFunnel": 0.6, "mouthPucker": 0.3},
    "U": {"jawOpen": 0.15, "mouthPucker": 0.7, "mouthFunnel": 0.4},
    "@": {"jawOpen": 0.25},
}
# How strongly each class holds the lips / the jaw against its neighbours (coarticulation dominance).
LIP_DOMINANCE = {"sil": 0.3, "PP": 3.0, "FF": 2.5, "TH": 0.8, "DD": 0.15, "SS": 0.8, "CH": 1.8, "KK": 0.1,
                 "RR": 1.2, "W": 2.5, "AA": 1.0, "AE": 1.0, "E": 1.0, "I": 1.2, "O": 1.6, "U": 1.8, "@": 0.5}
JAW_DOMINANCE = {"sil": 0.3, "PP": 1.0, "FF": 1.0, "TH": 0.8, "DD": 0.6, "SS": 1.2, "CH": 0.8, "KK": 0.5,
                 "RR": 0.6, "W": 0.6, "AA": 1.5, "AE": 1.4, "E": 1.2, "I": 1.0, "O": 1.3, "U": 1.0, "@": 0.6}
JAW_CHANNELS = (arkit.INDEX["jawOpen"],)

TARGETS = np.zeros((len(CLASSES), arkit.NUM), np.float32)   # [C, 52]
for _c, _t in _TARGETS.items():
  for _n, _w in _t.items():
    TARGETS[CLASSES.index(_c), arkit.INDEX[_n]] = _w


def visemes(phone: str) -> tuple[str, ...]:
  """The viseme classes of one espeak phoneme name (pauses and unknown names are silence)."""
  if phone.startswith("_") or not phone:
    return ("sil",)
  if phone in _CONSONANTS:
    return (_CONSONANTS[phone],)
  if phone in _VOWELS:
    return _VOWELS[phone]
  for n in (3, 2, 1):   # longest known prefix, e.g. "aI@2" -> "aI@"
    head = phone[:n]
    if head in _VOWELS:
      return _VOWELS[head]
    if head in _CONSONANTS:
      return (_CONSONANTS[head],)
  return ("sil",)
