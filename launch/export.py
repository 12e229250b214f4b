"""Exports a trained student's (or teacher's) whole sampler, waveform and noise in, motion out, any clip length.

  python launch/export.py --checkpoint=runs/demo/student --format=jax_export,onnx --out=runs/demo/export

Each export is loaded back in its runtime and compared with JAX on two clip lengths; <out>/export.json records
the signature, sizes and errors. Formats: jax_export (JAX only), onnx (onnxruntime; the `export` extra),
savedmodel (TensorFlow; the `tf` extra).
"""
import os

from absl import app
from absl import flags
import common_flags
import run_flags

from dt_jax.export import exporter
from dt_jax.export import sampler as sampler_lib
from dt_jax.train import checkpoint

_CKPT = common_flags.checkpoint()
_FORMAT = flags.DEFINE_list("format", ["jax_export", "onnx"], f"Any of {', '.join(exporter.FORMATS)}.")
_OUT = common_flags.out("export")
_STEPS = common_flags.num_steps()
_DATA_DIR = common_flags.data_dir()
_TFLITE = flags.DEFINE_bool("tflite", False, "With savedmodel: also try TFLite's converter.")
flags.adopt_module_key_flags(common_flags)   # the shared flags show in --help


def main(argv):
  del argv
  checkpoint.quiet_orbax_logs()
  run_flags.check_out("export", _OUT.value)
  unknown = [f for f in _FORMAT.value if f not in exporter.FORMATS]
  if unknown:
    raise app.UsageError(f"unknown --format {', '.join(unknown)}: choose from {', '.join(exporter.FORMATS)}")
  run = run_flags.load_run("export", _CKPT.value, data_dir=_DATA_DIR.value)
  sampler = sampler_lib.from_run(run, num_steps=_STEPS.value)
  records = []
  for fmt in _FORMAT.value:
    print(f"[export] {fmt} ...", flush=True)
    records.append(exporter.export(sampler, fmt, _OUT.value, tflite=_TFLITE.value))
  manifest = exporter.write_manifest(_OUT.value, sampler, records, checkpoint=os.path.abspath(run.workdir))
  print(f"{sampler.num_steps}-step sampler of {run.workdir}, {sampler.param_bytes / 1e6:.2f} MB of float32 "
        f"parameters")
  print(exporter.table(records))
  print(f"manifest: {manifest}")


if __name__ == "__main__":
  app.run(main)
