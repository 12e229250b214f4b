"""The synthetic corpus's content: speakers (voice, style, habits, face), emotions, sentences, splits, utterances.

Everything is a pure function of (config, seed), so the corpus is identical wherever it is built. Speakers come in
four groups: `seen` (train, validation and test on unseen sentences), `held_out` (test_unseen: new speakers of
the voice families seen in training), `unseen_voice` (test_unseen_voice: a voice family no training speaker
has) and `unseen_language` (test_unseen_language: espeak-ng speakers of languages the corpus never uses otherwise,
speaking sentences of their own language). Test clips carry K alternative motions for the same audio (K draws of
the nonverbal layer).
"""
from __future__ import annotations

import dataclasses
import zlib

import numpy as np

from dt_jax import timebase
from tfds_builders.synthetic_talkers import face_model
from tfds_builders.synthetic_talkers import motion as motion_lib
from tfds_builders.synthetic_talkers import nonverbal
from tfds_builders.synthetic_talkers import speech

EMOTIONS = ("neutral", "happy", "angry", "sad", "surprised")
SPLITS = ("train", "validation", "test", "test_unseen", "test_unseen_voice", "test_unseen_language")
TEST_SPLITS = ("test", "test_unseen", "test_unseen_voice", "test_unseen_language")         # with alternates
GROUP_SPLITS = {"seen": ("train", "validation", "test"), "held_out": ("test_unseen",),
                "unseen_voice": ("test_unseen_voice",), "unseen_language": ("test_unseen_language",)}

# Emotion -> prosody (espeak pitch units, range x, rate x, volume x, tilt, espeak word gap).
_EMOTION_PROSODY = {
    "neutral": (0, 1.0, 1.0, 1.0, 0.0, 0),
    "happy": (12, 1.5, 1.08, 1.15, 0.3, 0),
    "angry": (6, 1.25, 1.12, 1.45, 0.8, 0),
    "sad": (-10, 0.45, 0.85, 0.7, -0.5, 2),
    "surprised": (20, 1.8, 0.95, 1.2, 0.2, 0),
}
EMOTION_FACE = {
    "neutral": motion_lib.Emotion("neutral", (), 1.0, nonverbal.Mood()),
    "happy": motion_lib.Emotion("happy", (("mouthSmileLeft", 0.5), ("mouthSmileRight", 0.5),
                                          ("cheekSquintLeft", 0.4), ("cheekSquintRight", 0.4),
                                          ("eyeSquintLeft", 0.3), ("eyeSquintRight", 0.3)), 1.1,
                                nonverbal.Mood(brow=1.3, squint=2.0, gaze=1.1)),
    "angry": motion_lib.Emotion("angry", (("browDownLeft", 0.6), ("browDownRight", 0.6), ("noseSneerLeft", 0.4),
                                          ("noseSneerRight", 0.4), ("eyeSquintLeft", 0.4), ("eyeSquintRight", 0.4),
                                          ("mouthPressLeft", 0.2), ("mouthPressRight", 0.2)), 1.25,
                                nonverbal.Mood(blink=0.8, brow=0.4, frown=4.0, squint=2.0, gaze=0.7)),
    "sad": motion_lib.Emotion("sad", (("browInnerUp", 0.55), ("mouthFrownLeft", 0.45), ("mouthFrownRight", 0.45),
                                      ("eyeBlinkLeft", 0.15), ("eyeBlinkRight", 0.15)), 0.75,
                              nonverbal.Mood(blink=1.25, brow=0.6, frown=1.5, gaze=0.8)),
    "surprised": motion_lib.Emotion("surprised", (("browInnerUp", 0.5), ("browOuterUpLeft", 0.6),
                                                  ("browOuterUpRight", 0.6), ("eyeWideLeft", 0.6),
                                                  ("eyeWideRight", 0.6), ("jawOpen", 0.08)), 1.1,
                                    nonverbal.Mood(blink=0.6, brow=2.0, frown=0.3, gaze=1.3)),
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


# Sentences of the test_unseen_language speakers (espeak-ng language codes), plain everyday sentences rich in
# bilabials and open vowels, written for this corpus.
LANGUAGE_SENTENCES = {
    "es": ("Mi hermano compró un barco blanco en el puerto.", "Por la mañana bebemos café con leche.",
           "El perro de Pablo duerme bajo la mesa."),
    "de": ("Mein Bruder kauft morgen ein blaues Boot.", "Wir trinken am Abend Milch mit Honig.",
           "Die Mutter bringt Brot und Butter mit."),
    "fr": ("Mon père boit un bol de lait chaud.", "Nous partons demain matin pour Paris.",
           "La petite pomme tombe du pommier."),
    "cmn": ("我们明天早上一起去公园散步。", "妈妈买了一本蓝色的书。", "爸爸在北京工作了八年。"),
    "hi": ("मेरा भाई कल बाज़ार से आम लाया।", "माँ ने बच्चों के लिए पानी भरा।", "हम सुबह बगीचे में बैठे।"),
}


def sentence(rng: np.random.Generator) -> str:
  words = [rng.choice(_SUBJECTS), rng.choice(_VERBS), "the", rng.choice(_ADJS), rng.choice(_NOUNS)]
  if rng.random() < 0.4:
    words += ["and", "the", rng.choice(_NOUNS)]
  end = rng.choice(_ENDS)
  return " ".join(words + ([end] if end else [])) + rng.choice([".", ".", "!", "?"])


@dataclasses.dataclass(frozen=True)
class Roster:
  """How many speakers of each voice family each group has."""
  seen: tuple[tuple[str, int], ...]          # (family kind, count): "espeak" | "piper" | "kokoro"
  held_out: tuple[tuple[str, int], ...]
  unseen_voice: tuple[str, ...]              # Kokoro styles never heard in training (one speaker each)
  unseen_language: tuple[str, ...] = ()      # languages of LANGUAGE_SENTENCES (one espeak-ng speaker each)


@dataclasses.dataclass(frozen=True)
class Speaker:
  name: str
  group: str                                 # "seen" | "held_out" | "unseen_voice" | "unseen_language"
  voice: speech.Voice
  base_rate: int                             # espeak words per minute
  style: motion_lib.Style
  habits: nonverbal.Habits
  face: tuple[tuple[str, float], ...]        # identity warp parameters

  @property
  def family(self) -> str:
    return speech.family(self.voice)


def _voice(kind: str, index: int, rng: np.random.Generator, z: np.ndarray, *, name: str):
  """(voice, female) of the `index`-th speaker of a family kind; a bigger face goes with lower formants (z[0]).
  Two espeak speakers in three use a Klatt synthesizer variant (closer to speech a recogniser follows)."""
  if kind == "espeak":
    female = index % 2 == 1
    base_lo = rng.uniform(160, 200) if female else rng.uniform(80, 110)
    return speech.EspeakVoice(
        name=name, accent=str(_ACCENTS[index % len(_ACCENTS)]), gender="female" if female else "male",
        pitch_lo=int(base_lo), pitch_hi=int(base_lo * rng.uniform(1.3, 1.6)),
        formant_scale=float((1.12 if female else 0.97) - 0.05 * z[0]), breath=int(np.clip(2 + 2 * z[1], 0, 6)),
        roughness=int(np.clip(1 + 1.5 * z[2], 0, 5)), klatt=1 + index % 6 if index % 3 else 0), female
  if kind == "piper":                        # joe himself first, then pitch- and formant-shifted speakers
    female = index % 2 == 1
    f0, formant = ((rng.uniform(1.55, 1.85), rng.uniform(1.12, 1.2)) if female else
                   (rng.uniform(0.85, 1.15), rng.uniform(0.94, 1.04)) if index else (1.0, 1.0))
    return speech.NeuralVoice(name=name, engine="piper", f0_scale=float(f0),
                              formant_scale=float(formant - (0.03 * z[0] if index else 0.0)),
                              tempo=float(rng.uniform(0.92, 1.08)), noise_scale=float(rng.uniform(0.5, 0.8)),
                              noise_w=float(rng.uniform(0.6, 0.9))), female
  if kind in LANGUAGE_SENTENCES:             # an espeak-ng speaker of another language, its phones in IPA
    female = index % 2 == 0
    base_lo = rng.uniform(165, 200) if female else rng.uniform(85, 110)
    return speech.EspeakVoice(
        name=name, accent=kind, gender="female" if female else "male", pitch_lo=int(base_lo),
        pitch_hi=int(base_lo * rng.uniform(1.3, 1.6)), formant_scale=float((1.12 if female else 0.97) - 0.05 * z[0]),
        breath=int(np.clip(1 + z[1], 0, 3)), roughness=int(np.clip(1 + z[2], 0, 3)), klatt=2 if female else 0,
        ipa=True), female
  if kind == "kokoro":                       # mixes of the male kumo and the female alpha styles
    w = (0.6, 0.3, 0.8, 0.45, 0.15)[index % 5]
    style = tuple((n, v) for n, v in (("jm_kumo", w), ("jf_alpha", 1.0 - w)) if v > 0)
    return speech.NeuralVoice(name=name, engine="kokoro", style=style, tempo=float(rng.uniform(0.92, 1.05))), w < 0.5
  return speech.NeuralVoice(name=name, engine="kokoro", style=((kind, 1.0),),   # an unseen style, alone
                            tempo=float(rng.uniform(0.95, 1.05))), True


def make_speakers(roster: Roster, seed: int) -> list[Speaker]:
  """Seen speakers, then held-out ones, then one per unseen voice, then one per unseen language; style and face
  partly tied to the voice."""
  plan = [(group, kind) for group in ("seen", "held_out") for kind, n in getattr(roster, group) for _ in range(n)]
  plan += [("unseen_voice", style) for style in roster.unseen_voice]
  plan += [("unseen_language", language) for language in roster.unseen_language]
  out, counts = [], {}
  for k, (group, kind) in enumerate(plan):
    rng = np.random.default_rng([seed, 1, k])
    z = rng.normal(size=6)                                # shared latent: ties voice to face and style
    index = counts.get(kind, 0)
    counts[kind] = index + 1
    voice, female = _voice(kind, index, rng, z, name=f"dtj{k:02d}")
    style = motion_lib.Style(
        jaw_gain=float(np.clip(1.0 + 0.2 * z[1] + 0.1 * rng.normal(), 0.6, 1.5)),
        lip_gain=float(np.clip(1.0 + 0.15 * rng.normal(), 0.7, 1.3)),
        round_gain=float(np.clip(1.0 + 0.25 * rng.normal(), 0.5, 1.6)),
        spread_gain=float(np.clip(1.0 + 0.25 * rng.normal(), 0.5, 1.6)),
        asymmetry=float(np.clip(0.12 * rng.normal(), -0.25, 0.25)),
        smile_bias=float(np.clip(0.08 * z[3] + 0.05, 0.0, 0.25)),
        lead_s=float(np.clip(0.0125 + 0.006 * z[4], 0.0, 0.025)),
        tau_anticipation=float(rng.uniform(0.025, 0.045)), tau_carryover=float(rng.uniform(0.02, 0.04)))
    habits = nonverbal.Habits(
        blink_rate=float(rng.uniform(0.22, 0.45)), pause_blink=float(rng.uniform(0.3, 0.7)),
        brow_rate=float(rng.uniform(0.05, 0.2)), accent_brow=float(np.clip(0.35 + 0.15 * z[2], 0.1, 0.7)),
        brow_gain=float(np.clip(1.0 + 0.3 * z[2], 0.5, 1.6)), frown_rate=float(rng.uniform(0.02, 0.08)),
        gaze_hold=float(rng.uniform(0.6, 1.4)), gaze_range=float(rng.uniform(0.15, 0.35)),
        squint_rate=float(rng.uniform(0.02, 0.08)))
    face = dict(scale=float(1.0 + 0.05 * z[0] + (-0.04 if female else 0.03)), width=float(0.04 * rng.normal()),
                height=float(0.04 * rng.normal()), depth=float(0.04 * rng.normal()),
                mouth_width=float(0.08 * rng.normal()), lip_thickness=float(0.15 * rng.normal()),
                nose_length=float(0.3 * rng.normal()), jaw_width=float(0.06 * z[1]),
                chin_length=float(0.3 * rng.normal()), brow_height=float(0.2 * rng.normal()),
                eye_spacing=float(0.15 * rng.normal()))
    out.append(Speaker(name=f"S{k:02d}", group=group, voice=voice, base_rate=int(150 + 15 * z[4]), style=style,
                       habits=habits, face=tuple(sorted(face.items()))))
  return out


def prosody(emotion: str, rng: np.random.Generator) -> speech.Prosody:
  dp, range_x, rate_x, vol_x, tilt, gap = _EMOTION_PROSODY[emotion]
  return speech.Prosody(rate=float(rate_x * rng.uniform(0.95, 1.05)), pitch=int(dp + rng.integers(-3, 4)),
                        pitch_range=float(range_x), volume=float(vol_x), word_gap=gap, tilt=tilt)


@dataclasses.dataclass(frozen=True)
class Spec:
  """One utterance to generate."""
  key: str
  split: str
  speaker: int
  emotion: str
  sentence_id: str
  text: str


def specs(speakers: list[Speaker], *, train_sentences: int, validation_sentences: int, test_sentences: int,
          seed: int) -> list[Spec]:
  """All utterances, each sentence in every emotion: seen speakers' own training sentences; validation and test
  sentences from pools no training sentence comes from (test = seen speakers, unseen sentences); held-out and
  unseen-voice speakers speak the test pool; an unseen-language speaker speaks sentences of its language."""
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
  for k, spk in enumerate(speakers):
    rng = np.random.default_rng([seed, 3, k])
    chosen = []
    if spk.group == "seen":
      chosen += [("train", f"tr{k:02d}_{j}", fresh(rng)) for j in range(train_sentences)]
      chosen += [("validation", f"va{j}", val_pool[j]) for j in rng.permutation(len(val_pool))[:validation_sentences]]
    split = GROUP_SPLITS[spk.group][-1]
    pool = (LANGUAGE_SENTENCES[spk.voice.accent] if spk.group == "unseen_language" else test_pool)
    chosen += [(split, f"te{j}", pool[j]) for j in rng.permutation(len(pool))[:test_sentences]]
    for split_name, sid, text in chosen:
      for emotion in EMOTIONS:
        out.append(Spec(key=f"S{k:02d}_{emotion}_{sid}", split=split_name, speaker=k, emotion=emotion,
                        sentence_id=sid, text=text))
  return out


def speaker_faces(speakers: list[Speaker]) -> tuple[np.ndarray, np.ndarray]:
  """Templates [S, V, 3] and blendshape bases [S, 52, V, 3]."""
  templates = np.stack([face_model.identity_template(dict(s.face)) for s in speakers])
  return templates, np.stack([face_model.blendshape_basis(t) for t in templates])


@dataclasses.dataclass
class Clip:
  """One generated utterance: its audio, K motions of the face (the first is `motion`), its phones."""
  audio: np.ndarray               # float32 [S] at 16 kHz, S = samples_for(T)
  motions: np.ndarray             # float32 [K, T, 52]
  phones: list                    # speech.phones.Phone, clipped to the audio


def _key_seed(spec: Spec) -> list[int]:
  return [spec.speaker, EMOTIONS.index(spec.emotion), zlib.crc32(spec.text.encode())]


def utterance(synth: speech.Synthesizer, speaker: Speaker, spec: Spec, seed: int, *, draws: int = 1) -> Clip:
  """Speech of `spec` by `speaker` and `draws` motions of the face for it (nonverbal seeds 0..draws-1)."""
  rng = np.random.default_rng([seed, 4, *_key_seed(spec)])
  utt = synth.synthesize(spec.text, speaker.voice, prosody(spec.emotion, rng), seed=int(rng.integers(2 ** 31)),
                         base_rate=speaker.base_rate)
  frames = max(1, timebase.frames_for(len(utt.audio)))
  audio = np.zeros(timebase.samples_for(frames), np.float32)
  n = min(len(audio), len(utt.audio))
  audio[:n] = utt.audio[:n]
  end = len(audio) / timebase.SAMPLE_RATE
  phones = [dataclasses.replace(p, end=min(p.end, end)) for p in utt.phones if p.start < end]
  accent_times = motion_lib.accents(audio, frames)
  motions = [motion_lib.generate(phones=phones, audio=audio, style=speaker.style, emotion=EMOTION_FACE[spec.emotion],
                                 habits=speaker.habits, accent_times=accent_times,
                                 rng=np.random.default_rng([seed, 5, *_key_seed(spec), k])) for k in range(draws)]
  return Clip(audio=audio, motions=np.stack(motions), phones=phones)
