"""Nothing lost, nothing wrong in silence: a preempted run exits 143 and resumes, one writer per workdir, verified
checkpoints, named corrupt shards, one-line errors for bad configs and flags."""
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import ours16
from dt_jax.data import source
from dt_jax.train import checkpoint as ckpt_lib
from dt_jax.train import loop
from dt_jax.train import workdir as workdir_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = [sys.executable, "launch/train.py", "--config=configs/ours16.py:dataset=synthetic_talkers,scale=tiny"]


def _launch(args, env, **kw):
  return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, **kw)


def test_preempted_training_exits_143_and_resumes(tiny_data_dir, tmp_path, one_device_env):
  args = TRAIN + [f"--config.data.data_dir={tiny_data_dir}", "--config.train.steps=400",
                  "--config.train.log_every=1", f"--workdir={tmp_path}"]
  proc = subprocess.Popen(args, cwd=ROOT, env=one_device_env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  deadline = time.time() + 240
  while time.time() < deadline and proc.poll() is None:
    rows = (tmp_path / "metrics.jsonl").read_text().count("train/loss") if (tmp_path / "metrics.jsonl").exists() else 0
    if rows >= 3:
      break
    time.sleep(0.05)
  proc.send_signal(signal.SIGTERM)
  out, err = proc.communicate(timeout=120)
  assert proc.returncode == 143, err[-2000:]
  lines = [line for line in err.splitlines() if line.startswith("train: preempted")]
  assert len(lines) == 1 and "preempted (SIGTERM) at step" in lines[0] and "run the same command" in lines[0]
  saved = ckpt_lib.Checkpointer(str(tmp_path / "checkpoints"))
  at = saved.latest_step()
  saved.close()
  assert 3 <= at < 400 and "step" not in out                               # saved, and no normal summary
  again = _launch(args[:-1] + ["--config.train.steps=" + str(at + 2), f"--workdir={tmp_path}"], one_device_env)
  assert again.returncode == 0, again.stderr[-2000:]
  steps = [int(line.split('"step": ')[1].split(",")[0].rstrip("}")) for line in
           (tmp_path / "metrics.jsonl").read_text().splitlines() if "train/loss" in line]
  assert steps == list(range(1, at + 3))                                  # each step once, in order


def test_a_second_process_on_a_locked_workdir_stops_naming_the_holder(tiny_data_dir, tmp_path, one_device_env):
  with workdir_lib.WorkdirLock(str(tmp_path)):
    other = _launch(TRAIN + [f"--config.data.data_dir={tiny_data_dir}", f"--workdir={tmp_path}"], one_device_env)
  assert other.returncode == 1
  last = other.stderr.strip().splitlines()[-1]
  assert last.startswith(f"train: {tmp_path} is in use by {socket.gethostname()} pid {os.getpid()} since ")
  assert not (tmp_path / "checkpoints").exists()                          # it wrote nothing


def test_a_stale_lock_is_taken_over(tmp_path):
  holder = subprocess.Popen([sys.executable, "-c", "import sys, time; sys.path.insert(0, sys.argv[1]); "
                             "from dt_jax.train import workdir; l = workdir.WorkdirLock(sys.argv[2]).__enter__(); "
                             "print('held', flush=True); time.sleep(600)", ROOT, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
  assert holder.stdout.readline().strip() == "held"
  with pytest.raises(workdir_lib.WorkdirBusyError, match=f"pid {holder.pid}"):
    workdir_lib.WorkdirLock(str(tmp_path)).__enter__()
  holder.kill()                                                           # dies holding it
  holder.wait()
  with workdir_lib.WorkdirLock(str(tmp_path)):
    assert f"pid {os.getpid()}" in (tmp_path / ".lock").read_text()


def _state(step):
  w = np.random.default_rng(step).standard_normal((64, 64)).astype(np.float32)   # incompressible, as weights are
  return {"step": jnp.asarray(step), "params": {"w": jnp.asarray(w), "b": jnp.arange(64.0)}}


def test_flipped_bytes_are_caught_and_the_previous_step_restored(tmp_path, caplog):
  ckpt = ckpt_lib.Checkpointer(str(tmp_path / "checkpoints"))
  for step in (10, 20):
    ckpt.save(step, _state(step))
  files = [f for f in glob.glob(str(tmp_path / "checkpoints" / "20" / "**" / "*"), recursive=True)
           if os.path.isfile(f)]
  biggest = max(files, key=os.path.getsize)                               # the weights' compressed chunk
  data = bytearray(open(biggest, "rb").read())
  data[len(data) // 2] ^= 0x10
  open(biggest, "wb").write(bytes(data))
  raw = ckpt.manager.restore(20)                                          # orbax alone reads it without a word
  assert not np.array_equal(np.asarray(raw["params"]["w"]), np.asarray(_state(20)["params"]["w"]))
  with caplog.at_level("WARNING"):
    restored = ckpt.restore(jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), _state(0)))
  assert int(restored["step"]) == 10
  np.testing.assert_array_equal(restored["params"]["w"], _state(10)["params"]["w"])
  assert any("checkpoint 20" in r.message and "checksums" in r.message for r in caplog.records)
  assert ckpt.latest_step() == 10 and os.path.isdir(tmp_path / "checkpoints_corrupt" / "20")
  ckpt.save(20, _state(20))                                               # the step number is free again
  ckpt.close()


def test_missing_files_fall_back_and_no_intact_step_is_one_line(tmp_path):
  ckpt = ckpt_lib.Checkpointer(str(tmp_path / "checkpoints"))
  for step in (10, 20):
    ckpt.save(step, _state(step))
  shutil.rmtree(tmp_path / "checkpoints" / "20" / "default" / "d")
  assert int(ckpt.restore_local()["step"]) == 10
  for f in glob.glob(str(tmp_path / "checkpoints" / "10" / "default" / "**" / "*"), recursive=True):
    if os.path.isfile(f):
      open(f, "wb").close()                                               # truncated to nothing
  with pytest.raises(ckpt_lib.CheckpointError, match="no intact checkpoint") as err:
    ckpt.restore_local()
  assert "\n" not in str(err.value)
  ckpt.close()


def test_a_corrupt_shard_names_its_split_file_and_example(tiny_data_dir, tmp_path):
  shutil.copytree(tiny_data_dir, tmp_path / "data")
  shard = glob.glob(str(tmp_path / "data" / "synthetic_talkers" / "tiny" / "*" / "*train.array_record*"))[0]
  data = bytearray(open(shard, "rb").read())
  for i in range(len(data) // 2, len(data) // 2 + 64):
    data[i] ^= 0x55
  open(shard, "wb").write(bytes(data))
  ds = source.open_dataset("synthetic_talkers/tiny", data_dir=str(tmp_path / "data"))
  errors = []
  for i in range(len(ds.splits["train"])):
    try:
      ds.splits["train"][i]
    except source.CorruptDataError as e:
      errors.append(str(e))
  assert errors and all(e.startswith("split 'train', example ") and os.path.basename(shard) in e for e in errors)


def test_resuming_with_another_model_names_the_keys(tiny_data_dir, tmp_path):
  cfg = ours16.get_config("dataset=synthetic_talkers,scale=tiny")
  cfg.data.data_dir, cfg.data.global_batch, cfg.train.steps = tiny_data_dir, 8, 1
  loop.train(cfg, str(tmp_path))
  cfg.model.denoiser.layers += 1
  with pytest.raises(workdir_lib.ConfigMismatchError, match=r"model\.denoiser\.layers: 2 -> 3"):
    loop.train(cfg, str(tmp_path))


@pytest.mark.parametrize("args, says", [
    (TRAIN[:2] + ["--config=configs/ours16.py:scale=huge", "--workdir=/tmp/never"],
     "train: --config=configs/ours16.py:scale=huge: unknown scale 'huge'; one of tiny, small, paper"),
    ([sys.executable, "launch/animate.py", "--checkpoint=/nowhere", "--audio=launch"],
     "animate: launch: a directory, not an audio file"),
])
def test_bad_arguments_end_in_one_line(args, says, one_device_env):
  out = _launch(args, one_device_env)
  assert out.returncode == 1 and out.stderr.strip().splitlines()[-1] == says
