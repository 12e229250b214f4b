"""Exports of the whole sampler (jax_export, onnx, savedmodel): loaded back in their runtimes, they match JAX at
two clip lengths and another batch size; launch/export.py writes the manifest a user reads."""
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from dt_jax import timebase
from dt_jax.runs import loading
from dt_jax.runs import sampling
from dt_jax.export import exporter
from dt_jax.export import sampler as sampler_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOLERANCE = {"jax_export": 1e-6, "onnx": 1e-4, "savedmodel": 1e-5}


@pytest.fixture(scope="module")
def sampler(tiny_student):
  workdir, data_dir = tiny_student
  return sampler_lib.from_run(loading.load_run(workdir, data_dir=data_dir))


def test_sampler_matches_the_evaluation_sampler(sampler, tiny_student):
  workdir, data_dir = tiny_student
  run = loading.load_run(workdir, data_dir=data_dir)
  assert sampler.num_steps == 2 and sampler.motion_dim == run.dataset.motion_dim
  audio, noise = sampler.example_inputs(frames=40, batch=2)
  looped = sampling.sample_fn(run.model, num_steps=2, stats=run.stats, data_range=run.data_range)(
      run.params, audio, np.ones((2, 40)), noise)
  np.testing.assert_allclose(np.asarray(jax.jit(sampler.fn)(audio, noise)), np.asarray(looped), atol=1e-5)


@pytest.mark.parametrize("fmt", sorted(exporter.FORMATS))
def test_export_round_trip(sampler, fmt, tmp_path):
  record = exporter.export(sampler, fmt, str(tmp_path))
  parity = record["parity"]
  assert sorted(parity["per_frames"]) == sorted(exporter.CHECK_FRAMES)
  assert parity["max_abs_error"] <= TOLERANCE[fmt], parity
  assert parity["max_abs_motion"] > 0.01                     # a real output, not zeros
  assert parity["max_abs_motion"] <= 1.0 + TOLERANCE[fmt]     # blendshape weights stay in [0, 1] in every runtime
  assert record["bytes"] > 0.9 * sampler.param_bytes         # the parameters are inside
  # A third length at batch 1: nothing about the shapes was fixed at export time.
  call = exporter.FORMATS[fmt].load(os.path.join(tmp_path, record["path"]))
  audio, noise = sampler.example_inputs(frames=23, batch=1, seed=5)
  got = np.asarray(call(audio, noise))
  np.testing.assert_allclose(got, np.asarray(jax.jit(sampler.fn)(audio, noise)), atol=TOLERANCE[fmt])
  assert got.min() >= -TOLERANCE[fmt] and got.max() <= 1.0 + TOLERANCE[fmt]
  # The contract is checked before the runtime runs (its graph would give NaN everywhere, or frames past the audio).
  nan_audio = audio.copy()
  nan_audio[0, 100] = np.nan
  with pytest.raises(sampler_lib.InputError, match="audio holds 1 NaN or Inf values"):
    call(nan_audio, noise)
  with pytest.raises(sampler_lib.InputError, match="noise has 30 frames but .* make 23"):
    call(audio, np.concatenate([noise, noise[:, :7]], axis=1))


def test_jax_export_refuses_audio_shorter_than_the_encoder(sampler, tmp_path):
  from dt_jax.export import jax_format  # pylint: disable=g-import-not-at-top
  call = jax_format.load(jax_format.save(sampler, str(tmp_path)))
  short = sampler.min_samples - 1
  with pytest.raises(Exception, match="S >= |shape"):                # the graph's own constraint
    call(np.zeros((1, short), np.float32), np.zeros((1, timebase.frames_for(short), sampler.motion_dim), np.float32))


def test_export_launcher_writes_manifest(tiny_student, tmp_path):
  workdir, data_dir = tiny_student
  out = str(tmp_path / "export")
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "launch", "export.py"), f"--checkpoint={workdir}",
                         f"--data_dir={data_dir}", "--format=jax_export", f"--out={out}"],
                        capture_output=True, text=True, cwd=ROOT, check=False)
  assert proc.returncode == 0, proc.stderr[-2000:]
  manifest = json.load(open(os.path.join(out, "export.json")))
  assert manifest["num_steps"] == 2 and manifest["checkpoint"].endswith("steps_2")
  record = manifest["formats"]["jax_export"]
  assert record["parity"]["max_abs_error"] <= TOLERANCE["jax_export"]
  assert os.path.getsize(os.path.join(out, record["path"])) == record["bytes"]
  assert "| jax_export |" in proc.stdout
  bad = subprocess.run([sys.executable, os.path.join(ROOT, "launch", "export.py"), f"--checkpoint={workdir}",
                        "--format=tflite"], capture_output=True, text=True, cwd=ROOT, check=False)
  assert bad.returncode != 0 and "unknown --format tflite" in bad.stderr
