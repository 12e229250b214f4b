"""`onnx`: the sampler as an ONNX graph through jax2onnx, run here in onnxruntime:

  sess = onnxruntime.InferenceSession("sampler.onnx")
  motion, = sess.run(["motion"], {"audio": audio, "noise": noise})

The graph does not check its inputs (dt_jax/export/sampler.py says the contract); load() below does.
"""
from __future__ import annotations

import os

from dt_jax.export import sampler as sampler_lib

FILENAME = "sampler.onnx"


def save(sampler: sampler_lib.Sampler, out_dir: str) -> str:
  import jax2onnx  # pylint: disable=g-import-not-at-top
  import onnx  # pylint: disable=g-import-not-at-top
  os.makedirs(out_dir, exist_ok=True)
  model = jax2onnx.to_onnx(sampler.fn, list(sampler.symbolic_inputs()), model_name="dt_jax_sampler",
                           input_names=["audio", "noise"], output_names=["motion"])
  onnx.helper.set_model_props(model, {"min_samples": str(sampler.min_samples)})   # read back by load()
  onnx.checker.check_model(model)
  path = os.path.join(out_dir, FILENAME)
  onnx.save(model, path + ".part")
  os.replace(path + ".part", path)
  return path


def load(path: str):
  import onnxruntime  # pylint: disable=g-import-not-at-top
  session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
  min_samples = int(session.get_modelmeta().custom_metadata_map.get("min_samples", 0))

  def call(audio, noise):
    audio, noise = sampler_lib.check_inputs(audio, noise, min_samples=min_samples)
    return session.run(["motion"], {"audio": audio, "noise": noise})[0]
  return call
