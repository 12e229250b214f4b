"""Per-token durations of the neural engines (IPA characters, stress and length marks, word spaces) -> phones.

Piper and Kokoro report how many samples each input token produced. Tokens are single IPA characters: a stress
mark belongs to the phone after it, a length mark (and a combining accent or a modifier letter such as ʲ) to the phone before it, the two-letter
phones (eɪ, aɪ, aʊ, oʊ, ɔɪ, tʃ, dʒ) are one phone, and the space between words carries real sound (30-90 ms),
which goes to the next phone (that agrees best with a forced aligner; see speech/aligner.py).
"""
from __future__ import annotations

import unicodedata

from tfds_builders.synthetic_talkers import visemes as vis

STRESS = frozenset("ˈˌ")
LENGTH = frozenset("ːˑ")


def _modifier(token: str) -> bool:
  """A combining accent or a modifier letter (ʲ, ʰ, ...): part of the phone before it."""
  return len(token) == 1 and (unicodedata.combining(token) > 0 or unicodedata.category(token) == "Lm")


def merge(tokens: list[tuple[str, int]]) -> list[tuple[int, int, str]]:
  """[(token, samples)] in order -> [(start_sample, end_sample, label)], covering every sample exactly once."""
  out: list[list] = []             # [start, end, label]
  pos, pending = 0, None           # pending: where the samples of stress marks / spaces not yet placed began
  for token, n in tokens:
    start, end = pos, pos + int(n)
    pos = end
    if token in STRESS or token == " ":
      pending = start if pending is None else pending
      continue
    joins = out and pending is None and (token in LENGTH or _modifier(token)
                                         or out[-1][2] + token in vis.IPA_TWO_LETTER)
    if joins:
      out[-1][1], out[-1][2] = end, out[-1][2] + token
      continue
    out.append([start if pending is None else pending, end, token])
    pending = None
  if pending is not None:          # trailing marks: the last phone keeps their samples
    if out:
      out[-1][1] = pos
    else:
      out.append([pending, pos, " "])
  return [(a, b, label) for a, b, label in out]
