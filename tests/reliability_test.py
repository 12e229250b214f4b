"""Nothing lost, nothing wrong in silence: a preempted run exits 143 and resumes, one writer per workdir, verified
checkpoints, named corrupt shards, one-line errors for bad configs and flags."""
import glob
import json
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
from dt_jax.train import session
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


def _damaged_copy(tiny_data_dir, tmp_path, split: str) -> str:
  """A copy of the tiny corpus under tmp_path/data with 64 bytes in the middle of a `split` shard flipped; returns
  the shard's path."""
  shutil.copytree(tiny_data_dir, tmp_path / "data")
  shard = glob.glob(str(tmp_path / "data" / "synthetic_talkers" / "tiny" / "*" / f"*{split}.array_record*"))[0]
  data = bytearray(open(shard, "rb").read())
  for i in range(len(data) // 2, len(data) // 2 + 64):
    data[i] ^= 0x55
  open(shard, "wb").write(bytes(data))
  return shard


def test_a_corrupt_shard_names_its_split_file_and_example(tiny_data_dir, tmp_path):
  shard = _damaged_copy(tiny_data_dir, tmp_path, "train")
  ds = source.open_dataset("synthetic_talkers/tiny", data_dir=str(tmp_path / "data"))
  errors = []
  for i in range(len(ds.splits["train"])):
    try:
      ds.splits["train"][i]
    except source.CorruptDataError as e:
      errors.append(str(e))
  assert errors and all(e.startswith("split 'train', example ") and os.path.basename(shard) in e for e in errors)


def _files(path):
  """{relative path: bytes} of every file under `path` (what a refused resume must leave as it was)."""
  out = {}
  for f in sorted(glob.glob(os.path.join(path, "**", "*"), recursive=True)):
    if os.path.isfile(f) and not f.endswith(".lock"):
      with open(f, "rb") as fh:
        out[os.path.relpath(f, path)] = fh.read()
  return out


def test_a_resume_with_another_config_is_refused_and_touches_nothing(tiny_data_dir, tmp_path):
  cfg = ours16.get_config("dataset=synthetic_talkers,scale=tiny,audio_encoder=scratch")
  cfg.data.data_dir, cfg.data.global_batch, cfg.train.steps, cfg.train.log_every = tiny_data_dir, 8, 2, 1
  loop.train(cfg, str(tmp_path))
  before = _files(str(tmp_path))
  changed = ours16.get_config("dataset=synthetic_talkers,scale=tiny,audio_encoder=scratch")
  changed.data.data_dir, changed.data.global_batch, changed.train.steps = tiny_data_dir, 8, 4
  changed.model.denoiser.layers += 1
  with pytest.raises(workdir_lib.ConfigMismatchError, match=r"model\.denoiser\.layers: 2 -> 3"):
    loop.train(changed, str(tmp_path))
  changed.model.denoiser.layers -= 1
  changed.data.name = "synthetic_talkers/default"
  with pytest.raises(workdir_lib.ConfigMismatchError, match=r"data\.name: synthetic_talkers/tiny -> "):
    loop.train(changed, str(tmp_path))
  changed.data.name = cfg.data.name
  changed.train.freeze_encoder_layers = 1          # not a model key, but the optimizer state has another layout
  with pytest.raises(ckpt_lib.CheckpointMismatchError, match=r"step 2 holds another state .* nothing was changed"):
    loop.train(changed, str(tmp_path))
  assert _files(str(tmp_path)) == before and not (tmp_path / "checkpoints_corrupt").exists()
  again = loop.train(cfg, str(tmp_path))           # the original config still finds its run whole
  assert again["step"] == 2


def _damaged_newest(tmp_path, how):
  """Steps 10 and 20 saved; step 20's checksum record removed or damaged, and then a byte of its weights flipped."""
  ckpt = ckpt_lib.Checkpointer(str(tmp_path / "checkpoints"))
  for step in (10, 20):
    ckpt.save(step, _state(step))
  record = tmp_path / "checkpoints" / "20" / "_CHECKPOINT_METADATA"
  assert record.exists()
  if how == "deleted":
    record.unlink()
  else:
    record.write_text(record.read_text()[:40])                            # torn JSON
  files = [f for f in glob.glob(str(tmp_path / "checkpoints" / "20" / "**" / "*"), recursive=True)
           if os.path.isfile(f)]
  biggest = max(files, key=os.path.getsize)
  data = bytearray(open(biggest, "rb").read())
  data[len(data) // 2] ^= 0x10
  open(biggest, "wb").write(bytes(data))
  ckpt.close()
  return ckpt_lib.Checkpointer(str(tmp_path / "checkpoints"))


@pytest.mark.parametrize("how", ["deleted", "damaged"])
def test_a_step_without_its_checksum_record_is_not_trusted(tmp_path, caplog, how):
  ckpt = _damaged_newest(tmp_path, how)
  with caplog.at_level("WARNING"):
    restored = ckpt.restore(jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), _state(0)))
  assert int(restored["step"]) == 10
  np.testing.assert_array_equal(restored["params"]["w"], _state(10)["params"]["w"])
  assert any("checkpoint 20" in r.message and "no checksum record" in r.message for r in caplog.records)
  assert ckpt.latest_step() == 10
  ckpt.close()


def test_a_step_number_moved_aside_twice_keeps_both_copies(tmp_path):
  ckpt = ckpt_lib.Checkpointer(str(tmp_path / "checkpoints"))
  ckpt.save(10, _state(10))
  for _ in range(2):
    ckpt.save(20, _state(20))
    shutil.rmtree(tmp_path / "checkpoints" / "20" / "default" / "d")
    assert int(ckpt.restore_local()["step"]) == 10
  assert sorted(os.listdir(tmp_path / "checkpoints_corrupt")) == ["20", "20.2"]
  ckpt.close()


def test_a_torn_last_metrics_row_is_dropped_on_resume(tmp_path, caplog):
  logs = session.Logs(str(tmp_path), True)
  for step in (1, 2, 3):
    logs.write(step, {"train/loss": 1.0 / step})
  logs.close()
  with open(tmp_path / "metrics.jsonl", "a") as f:
    f.write('{"step": 4, "train/lo')                                       # killed mid-write
  with caplog.at_level("WARNING"):
    logs = session.Logs(str(tmp_path), True, resume_step=2)
  logs.write(3, {"train/loss": 0.25})
  logs.close()
  rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in rows] == [1, 2, 3] and rows[-1]["train/loss"] == 0.25
  assert any("metrics.jsonl line 4" in r.message and "dropped" in r.message for r in caplog.records)
  # TensorBoard is told to hide the first run's events from step 3 on (they were written again).
  from tensorboardX.proto import event_pb2  # pylint: disable=g-import-not-at-top
  starts = []
  for path in glob.glob(str(tmp_path / "tensorboard" / "events.*")):
    data, pos = open(path, "rb").read(), 0
    while pos < len(data):                                                 # TFRecord: length, crc, data, crc
      n = int.from_bytes(data[pos:pos + 8], "little")
      event = event_pb2.Event.FromString(data[pos + 12:pos + 12 + n])
      pos += 16 + n
      if event.HasField("session_log") and event.session_log.status == event_pb2.SessionLog.START:
        starts.append(event.step)
  assert starts == [3]


@pytest.mark.parametrize("args, says", [
    (TRAIN[:2] + ["--config=configs/ours16.py:scale=huge", "--workdir=/tmp/never"],
     "train: --config=configs/ours16.py:scale=huge: unknown scale 'huge'; one of tiny, small, paper"),
    ([sys.executable, "launch/animate.py", "--checkpoint=/nowhere", "--audio=launch"],
     "animate: launch: a directory, not an audio file"),
    (TRAIN + ["--config.train.steps=0", "--workdir=/tmp/never"], "train: train.steps=0: a run needs at least one step"),
    ([sys.executable, "launch/stream.py", "--checkpoint=/nowhere", "--audio=x.wav", "--udp=localhost"],
     "stream: --udp=localhost: expected host:port with a port in 1-65535"),
    ([sys.executable, "launch/stream.py", "--checkpoint=/nowhere", "--audio=x.wav", "--udp=localhost:99999"],
     "stream: --udp=localhost:99999: expected host:port with a port in 1-65535"),
    ([sys.executable, "launch/stream.py", "--checkpoint=/nowhere", "--audio=x.wav", "--livelink=localhost:0"],
     "stream: --livelink=localhost:0: expected host:port with a port in 1-65535"),
    ([sys.executable, "launch/animate.py", "--checkpoint=/nowhere", "--audio=x.wav", "--out=setup.cfg"],
     "animate: --out=setup.cfg is a file, not a folder"),
    ([sys.executable, "launch/build_data.py", "--dataset=vocaset/original", "--manual_dir=/nowhere",
      "--data_dir=/tmp/never"], "build_data: vocaset/original: --manual_dir=/nowhere does not exist or is empty"),
])
def test_bad_arguments_end_in_one_line(args, says, one_device_env):
  out = _launch(args, one_device_env)
  assert out.returncode == 1 and out.stderr.strip().splitlines()[-1].startswith(says), out.stderr[-2000:]


def test_an_unresolvable_udp_host_is_one_line_before_streaming(one_device_env):
  out = _launch([sys.executable, "launch/stream.py", "--checkpoint=/nowhere", "--audio=x.wav",
                 "--udp=no-such-host.invalid:9000"], one_device_env)
  assert out.returncode == 1
  assert out.stderr.strip().splitlines()[-1].startswith("stream: --udp=no-such-host.invalid:9000: cannot resolve")


_BIND_PROBE = """
import socket, sys
from dt_jax.train import distributed
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
distributed.initialize(coordinator=f"127.0.0.1:{port}", num_processes=1, process_id=0)
for name in ("/proc/net/tcp", "/proc/net/tcp6"):
  for line in open(name).read().splitlines()[1:]:
    local, state = line.split()[1], line.split()[3]
    if state == "0A" and int(local.split(":")[1], 16) == port:   # 0A: LISTEN
      print(local.split(":")[0])
"""


def test_the_coordinator_listens_only_on_the_address_given(one_device_env):
  out = _launch([sys.executable, "-c", _BIND_PROBE], one_device_env)
  assert out.returncode == 0, out.stderr[-2000:]
  addresses = out.stdout.split()
  # 127.0.0.1 as /proc/net/tcp writes it, bare or IPv4-mapped in tcp6; all interfaces would be 00000000 or [::].
  assert addresses and all(a.endswith("0100007F") and a.strip("0") != "" for a in addresses), addresses


def test_a_damaged_validation_split_stops_the_run_before_its_first_step(tiny_data_dir, tmp_path):
  _damaged_copy(tiny_data_dir, tmp_path, "validation")
  cfg = ours16.get_config("dataset=synthetic_talkers,scale=tiny")
  cfg.data.data_dir, cfg.data.global_batch, cfg.train.steps = str(tmp_path / "data"), 8, 2
  with pytest.raises(source.CorruptDataError, match="split 'validation', example"):
    loop.train(cfg, str(tmp_path / "run"))
  assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_run_started_again_from_step_0_logs_its_step_0_row_once(tmp_path):
  logs = session.Logs(str(tmp_path), True)
  logs.write(0, {"val/dis": 1.0})                                          # a stage's opening validation
  logs.write(1, {"train/loss": 0.5})                                       # killed before its first checkpoint
  logs.close()
  logs = session.Logs(str(tmp_path), True, resume_step=0)
  logs.write(0, {"val/dis": 1.0})
  logs.close()
  assert [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [0]


def test_a_failed_save_is_one_line_and_orbax_logs_no_tracebacks(tmp_path, monkeypatch, capsys):
  """A save that fails (here a full disk, as the OS says it) ends in one CheckpointError line naming the step and the
  newest kept one; orbax's own error records reach the log as their message, without the traceback."""
  import errno  # pylint: disable=g-import-not-at-top
  import logging  # pylint: disable=g-import-not-at-top
  ckpt = ckpt_lib.Checkpointer(str(tmp_path / "checkpoints"))
  ckpt.save(10, _state(10))

  def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")
  monkeypatch.setattr(ckpt.manager, "save", full_disk)
  with pytest.raises(ckpt_lib.CheckpointError, match=r"cannot save step 20 .*No space left on device.*newest: 10"):
    ckpt.save(20, _state(20))
  ckpt.close()
  ckpt_lib.quiet_orbax_logs()
  try:
    raise OSError(errno.ENOSPC, "No space left on device")
  except OSError:
    record = logging.getLogger("absl").makeRecord("absl", logging.ERROR, "/x/orbax/checkpoint/async.py", 1,
                                                  "save failed", (), sys.exc_info())
  kept = [f for f in logging.getLogger("absl").filters if isinstance(f, ckpt_lib._OrbaxInfoFilter)][0].filter(record)
  assert kept and record.exc_info is None and record.getMessage() == "save failed"
