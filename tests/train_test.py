"""Teacher training: sharded == single-device step, kill-and-resume, and an honest learning test."""
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from configs import ours16
from dt_jax.data import pipeline
from dt_jax.data import sharding as data_sharding
from dt_jax.runs import loading
from dt_jax.train import checkpoint as ckpt_lib
from dt_jax.train import loop
from dt_jax.train import session
from dt_jax.train import optimizer
from dt_jax.train import step as step_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cfg(data_dir, **train):
  c = ours16.get_config("dataset=synthetic_talkers,scale=tiny")
  c.data.data_dir = data_dir
  c.data.global_batch = 8
  c.train.update(train)
  return c


def _one_step(cfg, tiny, devices, rules):
  mesh = data_sharding.data_mesh(devices)
  model = loading.model_for(cfg, tiny)
  tx = optimizer.make(learning_rate=1e-3, warmup_steps=1, total_steps=10, weight_decay=1e-4, clip_norm=1.0)
  host = pipeline.train_batches(tiny.splits["train"], window_frames=30, global_batch=8, seed=0)[0]
  batch = data_sharding.global_batch(host, mesh)
  state, shardings = loop.init_state(model, tx, batch, seed=0, mesh=mesh, rules=rules)
  fn = jax.jit(lambda s, b, r: step_lib.train_step(s, b, r, model=model, tx=tx, cfg=loop.step_config(cfg)),
               out_shardings=(shardings, None))
  state, metrics = fn(state, batch, jax.random.PRNGKey(0))
  return jax.device_get(state.params), float(metrics["loss"])


def test_sharded_step_equals_single_device(tiny, tiny_data_dir):
  cfg = _cfg(tiny_data_dir)
  single, loss1 = _one_step(cfg, tiny, jax.devices()[:1], [(".*", "replicate")])
  for rules in ([(".*", "replicate")], [(".*", "fsdp")]):
    sharded, loss8 = _one_step(cfg, tiny, jax.devices(), rules)
    assert loss8 == pytest.approx(loss1, rel=1e-5)
    for a, b in zip(jax.tree.leaves(single), jax.tree.leaves(sharded)):
      np.testing.assert_allclose(a, b, atol=1e-5)


def test_velocity_loss_is_added_with_its_weight(tiny, tiny_data_dir):
  cfg = _cfg(tiny_data_dir, w_velocity=2.0)
  assert loop.step_config(cfg).w_velocity == 2.0
  del cfg.train["w_velocity"]
  assert loop.step_config(loading.upgrade_config(cfg)).w_velocity == 0.0   # configs written before the key existed
  mesh = data_sharding.data_mesh(jax.devices()[:1])
  model = loading.model_for(cfg, tiny)
  tx = optimizer.make(learning_rate=1e-3, warmup_steps=1, total_steps=10, weight_decay=1e-4, clip_norm=1.0)
  batch = data_sharding.global_batch(pipeline.train_batches(tiny.splits["train"], window_frames=30, global_batch=8,
                                                            seed=0)[0], mesh)
  state, _ = loop.init_state(model, tx, batch, seed=0, mesh=mesh, rules=[(".*", "replicate")])
  out = {w: step_lib.loss_fn(state.params, batch, jax.random.PRNGKey(1), model=model, train=False,
                             cfg=step_lib.StepConfig(num_steps=16, w_velocity=w)) for w in (0.0, 2.0)}
  assert "velocity" not in out[0.0][1] and float(out[2.0][1]["velocity"]) > 0
  assert float(out[2.0][0]) == pytest.approx(float(out[0.0][0]) + 2.0 * float(out[2.0][1]["velocity"]), rel=1e-5)


def test_fsdp_rules_shard_what_divides():
  from jax.sharding import PartitionSpec as P  # pylint: disable=g-import-not-at-top
  from dt_jax.train import sharding  # pylint: disable=g-import-not-at-top
  rules = [("denoiser/.*kernel", "fsdp"), (".*", "replicate")]
  assert sharding.param_spec("denoiser/layer_0/mlp_in/kernel", (32, 128), rules=rules, axis_size=8) == P(None, "data")
  assert sharding.param_spec("denoiser/layer_0/mlp_in/bias", (128,), rules=rules, axis_size=8) == P()
  assert sharding.param_spec("denoiser/x/kernel", (3, 5), rules=rules, axis_size=8) == P()


def _final_params(workdir):
  ckpt = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"))
  step = ckpt.latest_step()
  restored = ckpt.restore_local(step)
  ckpt.close()
  return step, restored


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_parameters(tiny_data_dir, tmp_path, one_device_env):
  args = [sys.executable, "launch/train.py", "--config=configs/ours16.py:dataset=synthetic_talkers,scale=tiny",
          f"--config.data.data_dir={tiny_data_dir}", "--config.train.steps=20", "--config.train.save_every=10"]
  env = one_device_env
  whole = subprocess.run(args + [f"--workdir={tmp_path / 'whole'}"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
  assert whole.returncode == 0, whole.stderr[-2000:]
  killed_dir = tmp_path / "killed"
  proc = subprocess.Popen(args + [f"--workdir={killed_dir}"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  deadline = time.time() + 240
  while not (killed_dir / "checkpoints" / "10").exists() and time.time() < deadline and proc.poll() is None:
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert not (killed_dir / "checkpoints" / "20").exists()          # it really died before the end
  again = subprocess.run(args + [f"--workdir={killed_dir}"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
  assert again.returncode == 0, again.stderr[-2000:]
  (s1, a), (s2, b) = _final_params(tmp_path / "whole"), _final_params(killed_dir)
  assert s1 == s2 == 20
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_allclose(x, y, atol=1e-6)


@pytest.mark.slow
def test_tiny_teacher_learns(tiny_data_dir, tmp_path):
  cfg = _cfg(tiny_data_dir, steps=300, log_every=100, save_every=300, learning_rate=2e-3, warmup_steps=20)
  start = loop.train(cfg, str(tmp_path / "w0"), stop_after=0)["val/loss"]
  end = loop.train(cfg, str(tmp_path / "w1"))["val/loss"]
  assert end < 0.5 * start, (start, end)


@pytest.mark.slow
def test_two_processes_agree_with_one(tiny_data_dir, tmp_path, one_device_env):
  base = [sys.executable, "launch/train.py", "--config=configs/ours16.py:dataset=synthetic_talkers,scale=tiny",
          f"--config.data.data_dir={tiny_data_dir}", "--config.train.steps=1", "--config.train.save_every=1"]
  env = one_device_env                                             # one CPU device per process
  port = 20000 + os.getpid() % 20000
  procs = [subprocess.Popen(base + [f"--workdir={tmp_path / 'two'}", f"--coordinator=127.0.0.1:{port}",
                                    "--num_processes=2", f"--process_id={i}"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
  one = subprocess.run(base + [f"--workdir={tmp_path / 'one'}"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
  outs = [p.communicate(timeout=300) for p in procs]
  assert one.returncode == 0, one.stderr[-2000:]
  assert all(p.returncode == 0 for p in procs), outs[0][1][-2000:] + outs[1][1][-2000:]
  (s1, a), (s2, b) = _final_params(tmp_path / "one"), _final_params(tmp_path / "two")
  assert s1 == s2 == 1
  for x, y in zip(jax.tree.leaves(a["params"]), jax.tree.leaves(b["params"])):
    np.testing.assert_allclose(x, y, atol=1e-5)


def test_divergence_stops_and_keeps_the_last_good_checkpoint(tiny_data_dir, tmp_path):
  loop.train(_cfg(tiny_data_dir, steps=2, save_every=2), str(tmp_path))               # a good checkpoint at 2
  wild = _cfg(tiny_data_dir, steps=30, log_every=1, save_every=1, learning_rate=1e30, warmup_steps=1)
  with pytest.raises(session.NonFiniteLossError, match=r"not finite.*last good checkpoint \(step \d+\)") as err:
    loop.train(wild, str(tmp_path))                                                   # resumes, then diverges
  failed_at = int(str(err.value).split(":")[0].split()[1])
  ckpt = ckpt_lib.Checkpointer(str(tmp_path / "checkpoints"))
  assert 2 <= ckpt.latest_step() < failed_at <= 30
  assert bool(session.all_finite(ckpt.restore_local()["params"]))                        # resumable
  ckpt.close()
