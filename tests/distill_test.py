"""Distillation: the perfect-student property, sharded == single-device distill step, and a tiny end-to-end run
(4 -> 2 -> 1, conftest's `distilled`) that lowers the distillation loss and stores no teacher encoder; resuming is
in distill_resume_test.py."""
import json
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import ours2
from dt_jax.data import pipeline
from dt_jax.data import sharding as data_sharding
from dt_jax.diffusion import samplers
from dt_jax.diffusion import schedule
from dt_jax.distill import enhancer
from dt_jax.distill import plan as plan_lib
from dt_jax.distill import rounds
from dt_jax.distill import step as distill_lib
from dt_jax.distill import targets
from dt_jax.runs import loading
from dt_jax.train import checkpoint as ckpt_lib


def _random_teacher(dim=6):
  """A small random network as the teacher's x prediction: any function of (z, lambda) will do."""
  k1, k2, k3 = jax.random.split(jax.random.PRNGKey(7), 3)
  w1, w2, b = (jax.random.normal(k1, (dim, 16)) / np.sqrt(dim), jax.random.normal(k2, (16, dim)) / 4.0,
               jax.random.normal(k3, (16,)))
  return lambda z, lam: jnp.tanh(z @ w1 + b * (lam / 20.0)[:, None, None]) @ w2


@pytest.mark.parametrize("n", [1, 2, 4, 8])
def test_perfect_student_lands_on_two_teacher_steps(n):
  denoise = _random_teacher()
  i = jnp.arange(n)                                                            # every student index at once
  z = jax.random.normal(jax.random.PRNGKey(0), (n, 5, 6))
  x_t, aux = targets.x_target(denoise, z=z, i=i, num_student_steps=n)
  lam_u, _, lam_pp = targets.student_logsnrs(i, num_student_steps=n)
  one_step = samplers.ddim_step(z=z, x_pred=x_t, logsnr_t=lam_u, logsnr_s=lam_pp)
  np.testing.assert_allclose(one_step[1:], aux["z_pp"][1:], atol=1e-5)         # i > 0: exactly z''
  np.testing.assert_allclose(x_t[0], aux["x_last"][0], atol=1e-6)              # i == 0: the teacher's last x


def test_perfect_student_samples_like_the_teacher():
  # A student that always outputs the x-target: its 4-step sample equals the teacher's 8-step sample.
  teacher, n = _random_teacher(), 4
  grid = schedule.logsnr_t((jnp.arange(n) + 1) / n)                          # [n] the student's start levels

  def student(z, lam):
    i = jnp.argmin(jnp.abs(lam[:, None] - grid[None]), axis=-1)
    return targets.x_target(teacher, z=z, i=i, num_student_steps=n)[0]
  z = jax.random.normal(jax.random.PRNGKey(1), (3, 5, 6))
  np.testing.assert_allclose(samplers.sample(student, z_init=z, num_steps=n),
                             samplers.sample(teacher, z_init=z, num_steps=2 * n), atol=1e-5)


def test_round_schedule_warms_up_then_anneals_to_zero():
  s = rounds.round_schedule(learning_rate=1e-3, warmup_steps=10, total_steps=100)
  np.testing.assert_allclose([float(s(k)) for k in (0, 5, 10, 55, 100)], [0.0, 5e-4, 1e-3, 5e-4, 0.0], atol=1e-9)
  s = rounds.round_schedule(learning_rate=1e-3, warmup_steps=0, total_steps=100)
  np.testing.assert_allclose([float(s(k)) for k in (0, 50, 100)], [1e-3, 5e-4, 0.0], atol=1e-9)


def test_plan_and_upper_face_channels():
  assert plan_lib.plan(teacher_steps=16, end_steps=2, target="teacher") == [8, 4, 2]
  assert plan_lib.plan(teacher_steps=16, end_steps=1, target="teacher") == [8, 4, 2, 1]
  assert plan_lib.plan(teacher_steps=16, end_steps=2, target="data") == [2]
  with pytest.raises(ValueError, match="powers of two"):
    plan_lib.plan(teacher_steps=12, end_steps=2, target="teacher")
  ch = enhancer.upper_face_channels(motion_dim=52, rig=None)
  assert 0 < len(ch) < 52
  with pytest.raises(ValueError, match="upper_face"):
    enhancer.upper_face_channels(motion_dim=300, rig=None)


def test_a_guided_teacher_teaches_round_one_only():
  """The teacher's guidance weight (or distill.teacher_guidance) goes into the first round's targets; later rounds
  are taught by students (which sample unguided), and the no_distillation baseline learns from the data."""
  d = ours2.get_config("scale=tiny").distill
  got = [(s.name, s.loss.teacher_guidance) for s in plan_lib.stages(d, teacher_steps=16, face_channels=(0,),
                                                                     teacher_guidance=4.0)]
  assert got == [("encoder", 1.0), ("steps_8", 4.0), ("steps_4", 1.0), ("steps_2", 1.0)]
  d.teacher_guidance = 3.0          # the config's own weight for the targets wins over the teacher's
  assert [s.loss.teacher_guidance for s in plan_lib.stages(d, teacher_steps=16, face_channels=(0,),
                                                           teacher_guidance=4.0)] == [1.0, 3.0, 1.0, 1.0]
  base = ours2.get_config("scale=tiny,variant=no_distillation").distill
  assert {s.loss.teacher_guidance for s in plan_lib.stages(base, teacher_steps=16, face_channels=(0,),
                                                           teacher_guidance=4.0)} == {1.0}


def test_a_guidance_stage_comes_before_the_halving_rounds_of_a_guided_teacher():
  """distill.guidance_steps: steps_16 learns the guided teacher's x (target "guided", the teacher's w) on its grid,
  round 1 then halves that unguided student; a teacher sampled unguided, or the no_distillation baseline, gets
  none."""
  d = ours2.get_config("scale=tiny").distill
  d.guidance_steps = 7
  got = [(s.name, s.total, s.loss.target, s.loss.teacher_guidance, s.teacher_round)
         for s in plan_lib.stages(d, teacher_steps=16, face_channels=(0,), teacher_guidance=2.0)]
  assert got == [("encoder", d.encoder_steps, "teacher", 1.0, None), ("steps_16", 7, "guided", 2.0, None),
                 ("steps_8", d.steps_per_round, "teacher", 1.0, "steps_16"),
                 ("steps_4", d.steps_per_round, "teacher", 1.0, "steps_8"),
                 ("steps_2", d.steps_per_round, "teacher", 1.0, "steps_4")]
  assert [s.name for s in plan_lib.stages(d, teacher_steps=16, face_channels=(0,))] == [
      "encoder", "steps_8", "steps_4", "steps_2"]
  base = ours2.get_config("scale=tiny,variant=no_distillation").distill
  base.guidance_steps = 7
  assert [s.name for s in plan_lib.stages(base, teacher_steps=16, face_channels=(0,), teacher_guidance=2.0)] == [
      "encoder", "steps_2"]


def test_info_nce_prefers_the_diagonal():
  a = jnp.eye(4)
  assert float(enhancer.symmetric_info_nce(a, a, temperature=0.1)) < 0.01
  assert float(enhancer.symmetric_info_nce(a, jnp.roll(a, 1, 0), temperature=0.1)) > 5.0


def _models(tiny, t_cfg, s_cfg, mesh):
  """A random teacher, the student transplanted from it, enhancer heads and one batch on `mesh`. The teacher has a
  trained encoder (audio_encoder=scratch): these tests check the step's algebra, which a teacher reading cached
  Whisper features (the distilled fixture's) shares."""
  from configs import ours16  # pylint: disable=g-import-not-at-top
  t_cfg = type(t_cfg)(t_cfg.to_dict())
  t_cfg.model = ours16.get_config("dataset=synthetic_talkers,scale=tiny,audio_encoder=scratch").model
  teacher = loading.model_for(t_cfg, tiny)
  model_cfg = plan_lib.student_model_config(s_cfg, t_cfg)
  student = loading.model_for(type(s_cfg)({"model": model_cfg}), tiny)
  batch = data_sharding.global_batch(
      pipeline.train_batches(tiny.splits["train"], window_frames=30, global_batch=8, seed=0)[0], mesh)
  args = (batch["audio"], batch["motion"], jnp.zeros(8), batch["mask"])
  t_params = teacher.init(jax.random.PRNGKey(0), *args)["params"]
  s_params, _, _ = rounds.transplant(student.init(jax.random.PRNGKey(1), *args)["params"], t_params)
  face = tuple(int(c) for c in enhancer.upper_face_channels(motion_dim=52, rig=None))
  heads = enhancer.EnhancerHeads(16)
  h = heads.init(jax.random.PRNGKey(2), jnp.zeros((8, 30, 32)), batch["motion"][..., np.asarray(face)],
                 batch["mask"])["params"]
  return teacher, student, heads, batch, t_params, s_params, h, face


def _one_distill_step(devices, tiny, t_cfg, s_cfg, target="teacher"):
  teacher, student, heads, batch, t_params, s_params, h, face = _models(tiny, t_cfg, s_cfg,
                                                                        data_sharding.data_mesh(devices))
  import optax  # pylint: disable=g-import-not-at-top
  tx = optax.sgd(0.1)   # not Adam: it blows up float noise in exactly-zero gradients (attention key biases)
  state = distill_lib.create(s_params, h, tx, ema=target == "consistency")
  cfg = distill_lib.DistillConfig(num_student_steps=4 if target == "consistency" else 2, face_channels=face,
                                  target=target)
  fn = jax.jit(lambda s, t, b, r: distill_lib.distill_step(s, t, b, r, student=student, teacher=teacher,
                                                           heads=heads, tx=tx, cfg=cfg))
  state, metrics = fn(state, t_params, batch, jax.random.PRNGKey(3))
  assert set(metrics) >= {"dis", "ae", "pc", "identity", "emotion", "loss"}
  return jax.device_get(state.params), float(metrics["loss"])


def test_sharded_distill_step_equals_single_device(tiny, tiny_data_dir, distill_configs):
  t_cfg, s_cfg = distill_configs(tiny_data_dir)
  single, loss1 = _one_distill_step(jax.devices()[:1], tiny, t_cfg, s_cfg)
  sharded, loss8 = _one_distill_step(jax.devices(), tiny, t_cfg, s_cfg)
  assert loss8 == pytest.approx(loss1, rel=1e-5)
  for a, b in zip(jax.tree.leaves(single), jax.tree.leaves(sharded)):
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_sharded_consistency_step_equals_single_device(tiny, tiny_data_dir, distill_configs):
  t_cfg, s_cfg = distill_configs(tiny_data_dir)
  single, loss1 = _one_distill_step(jax.devices()[:1], tiny, t_cfg, s_cfg, target="consistency")
  sharded, loss8 = _one_distill_step(jax.devices()[:8], tiny, t_cfg, s_cfg, target="consistency")
  assert loss1 == pytest.approx(loss8, rel=1e-5)
  for a, b in zip(jax.tree.leaves(single), jax.tree.leaves(sharded)):
    np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("encoder_loss", ["outputs", "features"])
def test_encoder_stage_loss_trains_the_encoder_alone(tiny, tiny_data_dir, encoder_loss, distill_configs):
  """Both encoder-stage losses are 0 for a student that is the teacher, and move only the student's encoder and
  projection (the copied personalizer and denoiser get exactly zero gradient)."""
  t_cfg, s_cfg = distill_configs(tiny_data_dir)
  teacher, student, heads, batch, t_params, s_params, h, face = _models(
      tiny, t_cfg, s_cfg, data_sharding.data_mesh(jax.devices()[:1]))
  cfg = distill_lib.DistillConfig(num_student_steps=4, face_channels=face, encoder_only=True,
                                  encoder_loss=encoder_loss)
  loss = lambda tr, model: distill_lib.loss_fn(tr, t_params, batch, jax.random.PRNGKey(3), student=model,
                                               teacher=teacher, heads=heads, cfg=cfg)
  same, _ = loss({"student": t_params, "heads": h}, teacher)
  assert float(same) == 0.0
  (value, metrics), grads = jax.value_and_grad(loss, has_aux=True)({"student": s_params, "heads": h}, student)
  assert float(value) > 0 and set(metrics) == ({"out", "ae", "loss"} if encoder_loss == "outputs" else
                                               {"ae", "loss"})
  for part, g in grads["student"].items():
    norm = float(sum(jnp.sum(jnp.abs(x)) for x in jax.tree.leaves(g)))
    assert (norm > 0) == (part in distill_lib.ENCODER_PARAMS), (part, norm)


def _count(tree):
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def test_encoder_stage_compresses_the_encoder_alone(distilled, teacher_dir):
  """Before round 1, L_ae alone (the default for a Whisper teacher): its validation loss falls, and only the
  encoder and projection move (the adapter, personalizer and denoiser are still the teacher's)."""
  workdir, _ = distilled
  logged = [json.loads(line) for line in open(os.path.join(workdir, "encoder", "metrics.jsonl"))]
  val = [r["val/ae"] for r in logged if "val/ae" in r]
  assert len(val) == 2 and val[1] < 0.8 * val[0], val
  assert all("train/dis" not in r for r in logged)
  teacher = loading.load_run(teacher_dir).params
  stage = ckpt_lib.Checkpointer(os.path.join(workdir, "encoder", "checkpoints")).restore_local()["params"]
  for part in ("feature_adapter", "personalizer", "denoiser"):
    for x, y in zip(jax.tree.leaves(teacher[part]), jax.tree.leaves(stage[part])):
      np.testing.assert_array_equal(x, y)
  assert loading.distill_rounds(workdir).keys() == {2, 1}            # the stage is not a round


def test_ablation_shares_the_encoder_stage(distilled, teacher_dir, tiny_data_dir, tmp_path, distill_configs):
  workdir, _ = distilled
  _, cfg = distill_configs(tiny_data_dir, variant="no_distillation")
  cfg.distill.steps_per_round, cfg.distill.end_steps, cfg.distill.encoder_from = 1, 2, workdir
  rounds.distill(cfg, teacher_dir=teacher_dir, workdir=str(tmp_path / "nd"))
  assert sorted(f for f in os.listdir(tmp_path / "nd") if not f.startswith(".")) == ["rounds.json", "steps_2"]  # no
  # encoder stage of its own (".lock" is the workdir's writer lock)
  cfg.model.encoder.width *= 2
  with pytest.raises(ValueError, match="another student encoder"):
    rounds.distill(cfg, teacher_dir=teacher_dir, workdir=str(tmp_path / "wide"))
  cfg.distill.encoder_from = str(tmp_path / "nd")
  with pytest.raises(FileNotFoundError, match="no encoder stage"):
    rounds.distill(cfg, teacher_dir=teacher_dir, workdir=str(tmp_path / "none"))


def test_shared_encoder_stage_knows_its_teacher_from_any_directory(distilled, teacher_dir, tmp_path, monkeypatch):
  """A stage distilled with a relative --teacher is found again from another working directory (the resolved path
  is stored), and one from another teacher is refused."""
  workdir, s_cfg = distilled
  encoder = plan_lib.student_model_config(s_cfg, loading.load_run(teacher_dir).cfg).encoder
  c = json.load(open(os.path.join(workdir, "encoder", "config.json")))
  assert c["distill"]["teacher_realpath"] == os.path.realpath(teacher_dir)
  c["distill"]["teacher"] = os.path.join("..", "runs", "teacher")     # as launched from some other folder
  stage = tmp_path / "student" / "encoder"
  shutil.copytree(os.path.join(workdir, "encoder"), stage)
  with open(stage / "config.json", "w") as f:
    json.dump(c, f)
  monkeypatch.chdir(tmp_path)
  at = loading.load_run(teacher_dir).checkpoint
  assert c["distill"]["teacher_checkpoint"] == at and c["distill"]["stage_steps"] > 0
  assert jax.tree.leaves(rounds.shared_encoder_stage("student", teacher_dir=teacher_dir, teacher_checkpoint=at,
                                                     encoder=encoder))
  with pytest.raises(ValueError, match="was compressed from"):
    rounds.shared_encoder_stage("student", teacher_dir=str(tmp_path), teacher_checkpoint=at, encoder=encoder)
  with pytest.raises(ValueError, match="the teacher is now at 9:"):
    rounds.shared_encoder_stage("student", teacher_dir=teacher_dir, teacher_checkpoint="9:0", encoder=encoder)


def test_distillation_lowers_its_loss_and_drops_the_teacher_encoder(distilled, teacher_dir):
  workdir, _ = distilled
  for n in (2, 1):
    logged = [json.loads(line) for line in open(os.path.join(workdir, f"steps_{n}", "metrics.jsonl"))]
    val = [r["val/dis"] for r in logged if "val/dis" in r]
    assert len(val) == 2 and val[1] < 0.9 * val[0], (n, val)
  assert loading.resolve_run(workdir) == os.path.join(workdir, "steps_1")
  teacher, student = loading.load_run(teacher_dir), loading.load_run(os.path.join(workdir, "steps_2"))
  t_cfg, t_params, s_cfg, s_params = teacher.cfg, teacher.params, student.cfg, student.params
  np.testing.assert_array_equal(student.stats.mean, teacher.stats.mean)
  assert s_cfg.diffusion.num_steps == 2 and s_cfg.model.feature_width == 384      # Whisper tiny.en's width
  assert not s_cfg.model.speech_encoder and "speech_encoder" not in s_params
  enc_t = _count(t_params["speech_encoder"])
  assert _count(s_params) <= _count(t_params) - enc_t + _count(s_params["audio_encoder"]) + _count(
      s_params["encoder_projection"])
  assert _count(s_params["audio_encoder"]) < enc_t / 3
  saved = ckpt_lib.Checkpointer(os.path.join(workdir, "steps_2", "checkpoints")).restore_local()
  assert set(saved) - {"ema"} == {"step", "params", "heads", "opt_state"}   # nothing of the teacher is stored,
  assert not jax.tree.leaves(saved.get("ema"))                               # and no EMA outside consistency


def test_a_student_is_refused_as_a_teacher(distilled, teacher_dir, tmp_path):
  full_dir, s_cfg = distilled
  with pytest.raises(ValueError, match=r"is a distilled student \(1 steps\), not a teacher"):
    rounds.distill(s_cfg, teacher_dir=full_dir, workdir=str(tmp_path / "x"))


def test_launchers_distill_evaluate_and_tabulate(teacher_dir, tiny_data_dir, tmp_path):
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  run = lambda *a: subprocess.run([sys.executable, *a], cwd=root, capture_output=True, text=True, timeout=300)
  work = str(tmp_path / "nd")
  proc = run("launch/distill.py", "--config=configs/ours2.py:scale=tiny,variant=no_distillation",
             f"--config.data.data_dir={tiny_data_dir}", "--config.data.global_batch=8",
             "--config.distill.steps_per_round=3", f"--teacher={teacher_dir}", f"--workdir={work}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "2-step student" in proc.stdout
  proc = run("launch/evaluate.py", f"--checkpoint={work}", "--split=test", "--seeds=1", f"--out={tmp_path}/ev")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "| 2-step |" in proc.stdout                      # the run's own step count by default
  os.rename(f"{tmp_path}/ev/eval_test_2step.json", f"{tmp_path}/ev/nd.json")
  proc = run("launch/eval_table.py", f"--eval_dir={tmp_path}/ev", "--names=nd")
  assert proc.returncode == 0 and "| nd |" in proc.stdout, proc.stderr[-3000:]
  proc = run("launch/eval_table.py", f"--eval_dir={tmp_path}/ev", "--names=nd,missing")
  assert proc.returncode != 0 and "launch/evaluate.py" in proc.stderr


