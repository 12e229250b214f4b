"""`savedmodel`: the sampler through jax2tf as a TensorFlow SavedModel (TensorFlow is the optional `tf` extra):

  f = tf.saved_model.load("savedmodel").signatures["serving_default"]
  motion = f(audio=tf.constant(audio), noise=tf.constant(noise))["motion"]

jax2tf embeds the StableHLO in an XlaCallModule op: TensorFlow runs it on CPU, GPU and TPU; TFLite's converter does
not take that op (`tflite_status` in export.json records what it said).
"""
from __future__ import annotations

import os
import shutil

from dt_jax.export import sampler as sampler_lib

DIRNAME = "savedmodel"


def _tflite(path: str) -> str:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    blob = tf.lite.TFLiteConverter.from_saved_model(path).convert()
  except Exception as e:  # pylint: disable=broad-except  # the converter raises many types; its message is what counts
    return "not converted: " + " ".join(str(e).split())[:300]
  with open(os.path.join(os.path.dirname(path), "sampler.tflite"), "wb") as f:
    f.write(blob)
  return "converted: sampler.tflite"


def save(sampler: sampler_lib.Sampler, out_dir: str, *, tflite: bool = False) -> str:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from jax.experimental import jax2tf  # pylint: disable=g-import-not-at-top
  converted = jax2tf.convert(sampler.fn, polymorphic_shapes=["(b, s)", f"(b, t, {sampler.motion_dim})"],
                             polymorphic_constraints=[f"s >= {sampler.min_samples}"], with_gradient=False)
  module = tf.Module()
  module.sample = tf.function(
      lambda audio, noise: {"motion": converted(audio, noise)}, autograph=False,
      input_signature=[tf.TensorSpec([None, None], tf.float32, name="audio"),
                       tf.TensorSpec([None, None, sampler.motion_dim], tf.float32, name="noise")])
  path = os.path.join(out_dir, DIRNAME)
  shutil.rmtree(path + ".part", ignore_errors=True)
  tf.saved_model.save(module, path + ".part", signatures=module.sample.get_concrete_function())
  shutil.rmtree(path, ignore_errors=True)
  os.replace(path + ".part", path)
  if tflite:
    with open(os.path.join(out_dir, "tflite_status.txt"), "w") as f:
      f.write(_tflite(path) + "\n")
  return path


def load(path: str):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  fn = tf.saved_model.load(path).signatures["serving_default"]
  def call(audio, noise):
    audio, noise = sampler_lib.check_inputs(audio, noise)
    return fn(audio=tf.constant(audio), noise=tf.constant(noise))["motion"].numpy()
  return call
