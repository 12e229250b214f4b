"""espeak-ng through ctypes: formant-synthesis voices with exact phoneme timings (its phoneme events).

The library and its data come from the pip wheel `espeakng-loader` (no system package). espeak-ng is GPL-3.0: it
is loaded dynamically as a build-time tool and never copied into this project. Each engine works on a private data
folder (symlinks into the wheel's data plus our own voice variant files), so speakers are voices with their own
formants, pitch range, breath and roughness.

The library is a process-global singleton with hidden state, so each utterance is spoken in a child process;
parallelise with processes, not threads.
"""
from __future__ import annotations

import ctypes
import dataclasses
import multiprocessing
import os
import re
import tempfile

import numpy as np

# espeak_AUDIO_OUTPUT / options / event ids, from speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002
_INITIALIZE_DONT_EXIT = 0x8000
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
# espeak_PARAMETER ids.
_RATE, _VOLUME, _PITCH, _RANGE, _WORDGAP = 1, 2, 3, 4, 7

class _EventID(ctypes.Union):
  _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
  _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
              ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
              ("user_data", ctypes.c_void_p), ("id", _EventID)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclasses.dataclass(frozen=True)
class EspeakVoice:
  """A speaker's voice: an espeak variant file plus base prosody."""
  name: str                 # variant file name, letters and digits only
  accent: str               # espeak language, e.g. "en-us", "en"
  gender: str               # "male" | "female"
  pitch_lo: int             # Hz, the variant's pitch range
  pitch_hi: int
  formant_scale: float      # vocal-tract-length proxy: 1.0 = default, >1 = shorter tract (higher formants)
  breath: int               # 0..10, aspiration noise
  roughness: int            # 0..7
  klatt: int = 0            # 0 = default synthesizer, else a Klatt variant (1..6)
  ipa: bool = False         # phoneme events in IPA (any language) instead of espeak's English mnemonics

  def variant_file(self) -> str:
    f = self.formant_scale
    lines = ["language variant", f"name {self.name}", f"gender {self.gender}", "",
             f"pitch {self.pitch_lo} {self.pitch_hi}"]
    for k in range(9):
      scale = f if k < 6 else 1.0
      lines.append(f"formant {k} {round(100 * scale)} 100 100")
    if self.breath:
      lines.append("breath " + " ".join([str(self.breath)] * 8))
    if self.roughness:
      lines.append(f"roughness {self.roughness}")
    if self.klatt:
      lines.append(f"klatt {self.klatt}")
    return "\n".join(lines) + "\n"


def _strip_stress(name: str) -> str:
  return re.sub(r"[',%=]", "", name)


class EspeakEngine:
  """espeak-ng with a private data folder holding our voices; every utterance is spoken in a fresh process.

  libespeak-ng keeps synthesis state in static variables (pitch flutter, phase, ...), so the same text spoken
  twice in one process comes out slightly different. A child that loads the library, speaks one utterance and
  exits makes each utterance a pure function of its inputs, whatever was spoken before. Children come from
  multiprocessing's fork server (a small process that never imports JAX), not from the caller.
  """

  def __init__(self, voices: list[EspeakVoice] | tuple[EspeakVoice, ...] = ()):
    import espeakng_loader  # pylint: disable=g-import-not-at-top

    self._tmp = tempfile.TemporaryDirectory(prefix="dt_jax_espeak_")
    self._parent = self._tmp.name
    self._library = espeakng_loader.get_library_path()
    data = os.path.join(self._parent, "espeak-ng-data")
    os.makedirs(os.path.join(data, "voices", "!v"))
    src = espeakng_loader.get_data_path()
    for entry in os.listdir(src):
      if entry != "voices":
        os.symlink(os.path.join(src, entry), os.path.join(data, entry))
    for entry in os.listdir(os.path.join(src, "voices")):
      if entry != "!v":
        os.symlink(os.path.join(src, "voices", entry), os.path.join(data, "voices", entry))
    for entry in os.listdir(os.path.join(src, "voices", "!v")):
      os.symlink(os.path.join(src, "voices", "!v", entry), os.path.join(data, "voices", "!v", entry))
    for voice in voices:
      with open(os.path.join(data, "voices", "!v", voice.name), "w") as f:
        f.write(voice.variant_file())

  def _speak(self, text: str, voice_name: bytes, knobs: _Knobs):
    ctx = multiprocessing.get_context("forkserver")   # children forked from a small server, never from a
    ctx.set_forkserver_preload([__name__])            # caller that may hold JAX threads
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_speak_child, args=(send, self._library, self._parent, text, voice_name, knobs),
                        daemon=True)
    child.start()
    send.close()
    try:
      ok, result = receive.recv()
    except EOFError:
      child.join()
      raise RuntimeError(f"espeak-ng child process died (exit code {child.exitcode}) speaking {text!r}") from None
    finally:
      receive.close()
    child.join()
    if not ok:
      raise result
    return result

  def synthesize(self, text: str, voice: EspeakVoice, prosody, *, base_rate: int, seed: int = 0):
    """(audio float32 at the library's rate, that rate, [(start_s, end_s, phoneme)]): espeak's own phoneme events
    (mnemonics, or IPA for a voice with `ipa`; stress marks stripped, its ';' pseudo-phoneme dropped), exact to
    the sample. `seed` seeds espeak's own
    random generator (its breath noise; seeded from the clock otherwise), so the audio is a function of the
    arguments."""
    knobs = _Knobs(rate=int(base_rate * prosody.rate), pitch=int(np.clip(50 + prosody.pitch, 0, 99)),
                   pitch_range=int(np.clip(50 * prosody.pitch_range, 0, 99)), word_gap=int(prosody.word_gap),
                   seed=int(seed) % 2 ** 32, ipa=voice.ipa)
    rate, raw, events = self._speak(text, f"{voice.accent}+{voice.name}".encode(), knobs)
    events = sorted(events)
    phones = []
    for k, (sample, ph) in enumerate(events):
      end = events[k + 1][0] if k + 1 < len(events) else len(raw)
      ph = _strip_stress(ph) if not voice.ipa else (ph.replace("ˈ", "").replace("ˌ", "") or "_")   # IPA pause: ''
      if ph and ph != ";" and end > sample:
        phones.append((sample / rate, end / rate, ph))
    return raw.astype(np.float32) / 32768.0, rate, phones


@dataclasses.dataclass(frozen=True)
class _Knobs:
  """espeak's own parameters for one utterance."""
  rate: int                 # words per minute
  pitch: int                # 0..99 within the voice's range
  pitch_range: int          # 0..99
  word_gap: int             # x10 ms
  volume: int = 100
  seed: int = 0             # espeak_ng_SetRandSeed: the breath noise's generator
  ipa: bool = False         # phoneme events named in IPA


def _speak_child(conn, library: str, parent: str, text: str, voice_name: bytes, knobs: _Knobs) -> None:
  """Child process body: speak once with a freshly loaded library and send (ok, result) back."""
  try:
    conn.send((True, _speak_once(library, parent, text, voice_name, knobs)))
  except Exception as e:  # pylint: disable=broad-except
    conn.send((False, e))
  finally:
    conn.close()


def _speak_once(library: str, parent: str, text: str, voice_name: bytes, knobs: _Knobs):
  """(rate, int16 samples, [(sample, phoneme)]) from a library loaded in this process only."""
  lib = ctypes.CDLL(library)
  lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                               ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
  options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT | (_INITIALIZE_PHONEME_IPA if knobs.ipa else 0)
  rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, parent.encode(), options)
  if rate <= 0:
    raise RuntimeError(f"espeak_Initialize failed ({rate}) with data folder {parent}")
  chunks, events = [], []

  def on_audio(wav, n, ev):
    i = 0
    while ev[i].type != _EVENT_LIST_TERMINATED:
      if ev[i].type == _EVENT_PHONEME:
        events.append((ev[i].sample, ev[i].id.string.decode("utf-8", "replace")))
      i += 1
    if n > 0:
      chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
    return 0

  callback = _CALLBACK(on_audio)
  lib.espeak_SetSynthCallback(callback)
  rc = lib.espeak_SetVoiceByName(voice_name)
  if rc != 0:   # espeak silently keeps the previous voice on failure: never let that pass
    raise ValueError(f"espeak-ng rejected voice {voice_name.decode()!r} (rc={rc})")
  for param, value in ((_RATE, knobs.rate), (_PITCH, knobs.pitch), (_RANGE, knobs.pitch_range),
                       (_WORDGAP, knobs.word_gap), (_VOLUME, knobs.volume)):
    lib.espeak_SetParameter(param, int(value), 0)
  lib.espeak_ng_SetRandSeed(ctypes.c_long(knobs.seed))   # after espeak_Initialize, which seeds it from the clock
  buf = text.encode("utf-8") + b"\0"
  rc = lib.espeak_Synth(buf, len(buf), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
  if rc != 0:
    raise RuntimeError(f"espeak_Synth failed (rc={rc}) on {text!r}")
  lib.espeak_Synchronize()
  return rate, (np.concatenate(chunks) if chunks else np.zeros(0, np.int16)), events
