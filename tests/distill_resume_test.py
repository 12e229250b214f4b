"""Distillation that stops and goes on inside a round: preempted by SIGTERM (the run stops, saying so; the rerun
ends as an uninterrupted one at every round), and the consistency student stopped and resumed."""
import json
import os
import signal

import jax
import numpy as np
import pytest

from dt_jax.data import pipeline
from dt_jax.distill import rounds
from dt_jax.runs import loading
from dt_jax.train import checkpoint as ckpt_lib
from dt_jax.train import loop
from dt_jax.train import session


def test_consistency_distillation_resumes_exactly_and_samples_at_any_step_count(distilled, teacher_dir,
                                                                               tiny_data_dir, tmp_path, distill_configs):
  """One consistency student (sharing the encoder stage) trained whole and, elsewhere, killed and resumed: the same
  parameters; it samples at 1, 2 and 4 steps with the consistency sampler."""
  from dt_jax.runs import sampling  # pylint: disable=g-import-not-at-top
  full_dir, _ = distilled
  _, cfg = distill_configs(tiny_data_dir)
  cfg.distill.target, cfg.distill.encoder_from = "consistency", full_dir
  rounds.distill(cfg, teacher_dir=teacher_dir, workdir=str(tmp_path / "whole"))
  rounds.distill(cfg, teacher_dir=teacher_dir, workdir=str(tmp_path / "killed"), stop_after=7)
  assert not rounds.round_done(str(tmp_path / "killed" / "steps_2"), cfg.distill.steps_per_round)
  rounds.distill(cfg, teacher_dir=teacher_dir, workdir=str(tmp_path / "killed"))
  a, b = (loading.load_run(str(tmp_path / w)) for w in ("whole", "killed"))
  assert a.sampler == "consistency" and a.num_steps == 2
  for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
    np.testing.assert_allclose(x, y, atol=1e-6)
  batch = next(pipeline.eval_batches(a.dataset.splits["test"], batch_size=2, split="test"))
  outs = [np.asarray(sampling.diffusion_predictor(a, num_steps=k)(batch, 0)) for k in (1, 2, 4)]
  assert all(np.all(np.isfinite(o)) for o in outs) and not np.allclose(outs[0], outs[2])



def test_sigterm_mid_round_stops_and_a_rerun_equals_an_uninterrupted_distillation(distilled, teacher_dir, tmp_path,
                                                                                 monkeypatch):
  """SIGTERM in round 4 -> 2 saves that round and stops (no 'final' score, no round taught by the unfinished
  student); the same call again resumes it, and every round ends as in an uninterrupted distillation."""
  full_dir, s_cfg = distilled
  cfg = type(s_cfg)(s_cfg.to_dict())
  cfg.distill.log_every = 1
  workdir = str(tmp_path / "preempted")
  write = session.Logs.write

  def write_then_preempt(self, step, metrics):
    write(self, step, metrics)
    if self.path == os.path.join(workdir, "steps_2", "metrics.jsonl") and step == 7:
      os.kill(os.getpid(), signal.SIGTERM)
  monkeypatch.setattr(session.Logs, "write", write_then_preempt)
  with pytest.raises(session.Preempted, match=r"preempted \(SIGTERM\) at step 7 of 20"):
    rounds.distill(cfg, teacher_dir=teacher_dir, workdir=workdir)
  monkeypatch.undo()
  assert ckpt_lib.Checkpointer(os.path.join(workdir, "steps_2", "checkpoints")).latest_step() == 7
  assert not os.path.exists(os.path.join(workdir, "steps_1"))
  logged = [json.loads(line) for line in open(os.path.join(workdir, "steps_2", "metrics.jsonl"))]
  assert [r["step"] for r in logged if "val/dis" in r] == [0]                      # no score of an unfinished round
  rounds.distill(cfg, teacher_dir=teacher_dir, workdir=workdir)
  for n in (2, 1):
    a = loading.load_run(os.path.join(full_dir, f"steps_{n}")).params
    b = loading.load_run(os.path.join(workdir, f"steps_{n}")).params
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
      np.testing.assert_allclose(x, y, atol=1e-6)
  steps = [json.loads(line)["step"] for line in open(os.path.join(workdir, "steps_2", "metrics.jsonl"))]
  train_steps = [s for s in steps if s > 0]
  assert len(train_steps) == len(set(train_steps)) + 1                             # each step once (+ the final val)




def test_an_unfinished_teacher_is_refused_and_its_students_are_redone_once_it_finishes(tiny_data_dir, tmp_path,
                                                                                       distill_configs,
                                                                                       one_device_env):
  """Issue 38, item 3: a teacher stopped at step 6 of 12 is refused by distill and by the launchers unless
  allowed; a student distilled from it records so, and once the teacher finishes the same distill command sets the
  stale stages aside and distills again."""
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  t_cfg, s_cfg = distill_configs(tiny_data_dir)
  t_cfg.train.steps = 12
  s_cfg.distill.steps_per_round, s_cfg.distill.encoder_steps = 2, 2
  teacher, student = str(tmp_path / "teacher"), str(tmp_path / "student")
  loop.train(t_cfg, teacher, stop_after=6)
  with pytest.raises(loading.UnfinishedRunError, match=r"step 6 of 12 .* --allow_unfinished"):
    rounds.distill(s_cfg, teacher_dir=teacher, workdir=student)
  assert not os.path.exists(os.path.join(student, "encoder"))
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  out = subprocess.run([sys.executable, "launch/export.py", f"--checkpoint={teacher}", "--format=jax_export",
                        f"--out={tmp_path / 'export'}"], cwd=root, env=one_device_env, capture_output=True, text=True,
                       timeout=300)
  assert out.returncode == 1 and out.stderr.strip().splitlines()[-1].startswith(f"export: {teacher} is unfinished")
  rounds.distill(s_cfg, teacher_dir=teacher, workdir=student, allow_unfinished=True)
  assert loading.read_config(os.path.join(student, "steps_2")).distill.teacher_checkpoint.startswith("6:")
  early = loading.load_run(student).checkpoint
  rounds.distill(s_cfg, teacher_dir=teacher, workdir=student, allow_unfinished=True)   # nothing changed: kept
  assert loading.load_run(student).checkpoint == early
  assert not os.path.exists(os.path.join(student, "encoder.teacher_6"))
  loop.train(t_cfg, teacher)                                                           # the teacher finishes
  rounds.distill(s_cfg, teacher_dir=teacher, workdir=student)
  assert sorted(n for n in os.listdir(student) if "teacher_" in n) == ["encoder.teacher_6", "steps_2.teacher_6"]
  assert loading.read_config(os.path.join(student, "steps_2")).distill.teacher_checkpoint.startswith("12:")
  assert loading.load_run(student).checkpoint != early
