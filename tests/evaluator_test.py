"""Evaluation over a whole split: an oracle scores zero, the static face scores the ground truth's motion, and a
trained run samples and scores end to end."""
import json

import numpy as np
import pytest

from configs import ours16
from dt_jax.eval import evaluator
from dt_jax.runs import loading
from dt_jax.runs import sampling
from dt_jax.train import loop


def _tiny_cfg(data_dir, *, global_batch):
  cfg = ours16.get_config("dataset=synthetic_talkers,scale=tiny")
  cfg.data.data_dir = data_dir
  cfg.data.global_batch = global_batch
  cfg.train.steps = 3
  return cfg


def test_oracle_scores_zero_and_static_face_does_not(tiny):
  oracle = evaluator.evaluate(tiny, "test_unseen", lambda batch, seed: batch["motion"], batch_size=8)
  assert oracle["mean"]["lve"] == pytest.approx(0.0, abs=1e-9) and oracle["mean"]["mve"] == pytest.approx(0.0, abs=1e-9)
  static = evaluator.evaluate(tiny, "test_unseen", sampling.static_predictor, batch_size=8)
  assert static["mean"]["lve"] > static["mean"]["eve"] > 0 and static["mean"]["fdd"] > 0
  assert "vertices" in static["space"] and "| static |" in evaluator.table({"static": static})


def test_trained_run_samples_and_scores(tiny_data_dir, tmp_path):
  with pytest.raises(ValueError, match="does not divide over 8 devices"):
    loop.train(_tiny_cfg(tiny_data_dir, global_batch=4), str(tmp_path / "bad"))
  loop.train(_tiny_cfg(tiny_data_dir, global_batch=8), str(tmp_path / "run"))
  run = loading.load_run(str(tmp_path / "run"))
  ds = run.dataset
  predict = sampling.diffusion_predictor(run, num_steps=2)
  r = evaluator.evaluate(ds, "test_unseen", predict, seeds=(0, 1), batch_size=8)
  assert len(r["per_seed"]) == 2 and all(np.isfinite(v) for v in r["mean"].values())
  assert r["per_seed"][0]["lve"] != r["per_seed"][1]["lve"]        # seeds change the noise
  json.dumps(r)
