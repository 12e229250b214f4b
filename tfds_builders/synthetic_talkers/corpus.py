"""The synthetic corpus's content: speakers (voice, style, face), emotions, sentences, splits, and one utterance.

Everything is a pure function of (config, seed), so the corpus is identical wherever it is built.
"""
from __future__ import annotations

import dataclasses
import zlib

import numpy as np

from dt_jax import timebase
from tfds_builders.synthetic_talkers import face_model
from tfds_builders.synthetic_talkers import motion as motion_lib
from tfds_builders.synthetic_talkers import speech

EMOTIONS = ("neutral", "happy", "angry", "sad", "surprised")
SPLITS = ("train", "validation", "test", "test_unseen")

# Emotion -> (prosody: pitch shift, range x, rate x, volume x, tilt, word gap), face layer.
_EMOTION_PROSODY = {
    "neutral": (0, 1.0, 1.0, 1.0, 0.0, 0),
    "happy": (12, 1.5, 1.08, 1.15, 0.3, 0),
    "angry": (6, 1.25, 1.12, 1.45, 0.8, 0),
    "sad": (-10, 0.45, 0.85, 0.7, -0.5, 2),
    "surprised": (20, 1.8, 0.95, 1.2, 0.2, 0),
}
EMOTION_FACE = {
    "neutral": motion_lib.Emotion("neutral", (), 1.0, 1.0),
    "happy": motion_lib.Emotion("happy", (("mouthSmileLeft", 0.5), ("mouthSmileRight", 0.5),
                                          ("cheekSquintLeft", 0.4), ("cheekSquintRight", 0.4),
                                          ("eyeSquintLeft", 0.3), ("eyeSquintRight", 0.3)), 1.1, 1.2),
    "angry": motion_lib.Emotion("angry", (("browDownLeft", 0.6), ("browDownRight", 0.6), ("noseSneerLeft", 0.4),
                                          ("noseSneerRight", 0.4), ("eyeSquintLeft", 0.4), ("eyeSquintRight", 0.4),
                                          ("mouthPressLeft", 0.2), ("mouthPressRight", 0.2)), 1.25, 0.5),
    "sad": motion_lib.Emotion("sad", (("browInnerUp", 0.55), ("mouthFrownLeft", 0.45), ("mouthFrownRight", 0.45),
                                      ("eyeBlinkLeft", 0.15), ("eyeBlinkRight", 0.15)), 0.75, 0.6),
    "surprised": motion_lib.Emotion("surprised", (("browInnerUp", 0.5), ("browOuterUpLeft", 0.6),
                                                  ("browOuterUpRight", 0.6), ("eyeWideLeft", 0.6),
                                                  ("eyeWideRight", 0.6), ("jawOpen", 0.08)), 1.1, 1.5),
}
_ACCENTS = ("en-us", "en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-us-nyc")

_SUBJECTS = ("Bob", "Mom", "Pam", "Baby Bea", "A pilot", "The mob", "My boss", "Paul", "Mabel", "Woody")
_VERBS = ("bought", "brought", "moved", "painted", "pushed", "grabbed", "built", "dropped", "spotted", "combed",
          "wiped", "bumped", "mopped", "poured", "found")
_ADJS = ("blue", "big", "small", "bumpy", "purple", "warm", "cool", "old", "broken", "bright", "pale", "round")
_NOUNS = ("boat", "pump", "map", "moon", "box", "broom", "boot", "pipe", "bubble", "pool", "book", "wool",
          "bowl", "plum", "poem", "mop", "bamboo", "window")
_ENDS = ("by the pool", "on Monday", "before noon", "with a smile", "at home", "in the moonlight", "for my mom",
         "behind the barn", "above the bay", "near the woods", "", "", "")


def sentence(rng: np.random.Generator) -> str:
  words = [rng.choice(_SUBJECTS), rng.choice(_VERBS), "the", rng.choice(_ADJS), rng.choice(_NOUNS)]
  if rng.random() < 0.4:
    words += ["and", "the", rng.choice(_NOUNS)]
  end = rng.choice(_ENDS)
  return " ".join(words + ([end] if end else [])) + rng.choice([".", ".", "!", "?"])


@dataclasses.dataclass(frozen=True)
class Speaker:
  name: str
  voice: speech.Voice
  base_rate: int
  style: motion_lib.Style
  face: tuple[tuple[str, float], ...]     # identity warp parameters


def make_speakers(num: int, seed: int) -> list[Speaker]:
  """Speakers whose style is partly tied to their voice (a bigger face goes with lower formants, ...)."""
  out = []
  for k in range(num):
    rng = np.random.default_rng([seed, 1, k])
    z = rng.normal(size=6)                                # shared latent: ties voice to face and style
    female = k % 2 == 1
    base_lo = rng.uniform(160, 200) if female else rng.uniform(80, 110)
    formant = (1.12 if female else 0.97) - 0.05 * z[0]
    voice = speech.Voice(name=f"dtj{k:02d}", accent=str(_ACCENTS[k % len(_ACCENTS)]),
                         gender="female" if female else "male", pitch_lo=int(base_lo),
                         pitch_hi=int(base_lo * rng.uniform(1.3, 1.6)), formant_scale=float(formant),
                         breath=int(np.clip(2 + 2 * z[1], 0, 6)), roughness=int(np.clip(1 + 1.5 * z[2], 0, 5)))
    style = motion_lib.Style(
        jaw_gain=float(np.clip(1.0 + 0.2 * z[1] + 0.1 * rng.normal(), 0.6, 1.5)),
        lip_gain=float(np.clip(1.0 + 0.15 * rng.normal(), 0.7, 1.3)),
        round_gain=float(np.clip(1.0 + 0.25 * rng.normal(), 0.5, 1.6)),
        spread_gain=float(np.clip(1.0 + 0.25 * rng.normal(), 0.5, 1.6)),
        asymmetry=float(np.clip(0.12 * rng.normal(), -0.25, 0.25)),
        smile_bias=float(np.clip(0.08 * z[3] + 0.05, 0.0, 0.25)),
        lead_s=float(np.clip(0.0125 + 0.006 * z[4], 0.0, 0.025)),
        brow_coupling=float(np.clip(1.0 + 0.4 * z[2], 0.2, 2.0)),
        blink_every=int(rng.integers(5, 10)),
        tau_anticipation=float(rng.uniform(0.04, 0.08)),
        tau_carryover=float(rng.uniform(0.03, 0.07)))
    face = dict(scale=float(1.0 + 0.05 * z[0] + (-0.04 if female else 0.03)), width=float(0.04 * rng.normal()),
                height=float(0.04 * rng.normal()), depth=float(0.04 * rng.normal()),
                mouth_width=float(0.08 * rng.normal()), lip_thickness=float(0.15 * rng.normal()),
                nose_length=float(0.3 * rng.normal()), jaw_width=float(0.06 * z[1]),
                chin_length=float(0.3 * rng.normal()), brow_height=float(0.2 * rng.normal()),
                eye_spacing=float(0.15 * rng.normal()))
    out.append(Speaker(name=f"S{k:02d}", voice=voice, base_rate=int(150 + 15 * z[4]), style=style,
                       face=tuple(sorted(face.items()))))
  return out


def prosody(speaker: Speaker, emotion: str, rng: np.random.Generator) -> speech.Prosody:
  dp, rng_x, rate_x, vol_x, tilt, gap = _EMOTION_PROSODY[emotion]
  return speech.Prosody(rate=int(speaker.base_rate * rate_x * rng.uniform(0.95, 1.05)),
                        pitch=int(np.clip(50 + dp + rng.integers(-3, 4), 0, 99)),
                        pitch_range=int(np.clip(50 * rng_x, 0, 99)), volume=int(np.clip(100 * vol_x, 0, 200)),
                        word_gap=gap, tilt=tilt)


@dataclasses.dataclass(frozen=True)
class Spec:
  """One utterance to generate."""
  key: str
  split: str
  speaker: int
  emotion: str
  sentence_id: str
  text: str


def specs(*, num_speakers: int, num_held_out: int, train_sentences: int, validation_sentences: int,
          test_sentences: int, seed: int) -> list[Spec]:
  """All utterances: seen speakers' own training sentences; validation and test sentences from pools no
  training sentence comes from (test = seen speakers, unseen sentences); held-out speakers speak the test pool."""
  used, out = set(), []
  def fresh(rng):
    while True:
      s = sentence(rng)
      if s not in used:
        used.add(s)
        return s
  pool_rng = np.random.default_rng([seed, 2])
  val_pool = [fresh(pool_rng) for _ in range(max(validation_sentences, 1) * 3)]
  test_pool = [fresh(pool_rng) for _ in range(max(test_sentences, 1) * 3)]
  seen = num_speakers - num_held_out
  for k in range(num_speakers):
    rng = np.random.default_rng([seed, 3, k])
    chosen = []
    if k < seen:
      chosen += [("train", f"tr{k:02d}_{j}", fresh(rng)) for j in range(train_sentences)]
      chosen += [("validation", f"va{j}", val_pool[j]) for j in rng.permutation(len(val_pool))[:validation_sentences]]
      chosen += [("test", f"te{j}", test_pool[j]) for j in rng.permutation(len(test_pool))[:test_sentences]]
    else:
      chosen += [("test_unseen", f"te{j}", test_pool[j]) for j in rng.permutation(len(test_pool))[:test_sentences]]
    for split, sid, text in chosen:
      for emotion in EMOTIONS:
        out.append(Spec(key=f"S{k:02d}_{emotion}_{sid}", split=split, speaker=k, emotion=emotion,
                        sentence_id=sid, text=text))
  return out


def speaker_faces(speakers: list[Speaker]) -> tuple[np.ndarray, np.ndarray]:
  """Templates [S, V, 3] and blendshape bases [S, 52, V, 3]."""
  templates = np.stack([face_model.identity_template(dict(s.face)) for s in speakers])
  return templates, np.stack([face_model.blendshape_basis(t) for t in templates])


def utterance(synth: speech.Synthesizer, speaker: Speaker, spec: Spec, seed: int):
  """(audio [S] float32 16 kHz, weights [T, 52] float32, phones) with S = round(T * 16000 / 30) exactly."""
  rng = np.random.default_rng([seed, 4, spec.speaker, EMOTIONS.index(spec.emotion), zlib.crc32(spec.text.encode())])
  utt = synth.synthesize(spec.text, speaker.voice, prosody(speaker, spec.emotion, rng))
  frames = max(1, timebase.frames_for(len(utt.audio)))
  audio = np.zeros(timebase.samples_for(frames), np.float32)
  n = min(len(audio), len(utt.audio))
  audio[:n] = utt.audio[:n]
  weights = motion_lib.generate(phones=utt.phones, audio=audio, style=speaker.style,
                                emotion=EMOTION_FACE[spec.emotion])
  return audio, weights, utt.phones
