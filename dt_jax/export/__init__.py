"""Exporting the whole sampler (waveform and noise in, motion out, any clip length) to other runtimes:
`jax_export` (serialized StableHLO), `onnx` (jax2onnx, run in onnxruntime), `savedmodel` (jax2tf, TensorFlow)."""
