"""Fine-tuning a trained teacher on a performer's Live Link Face takes (train.init_from): the base run's weights
and motion statistics carry over, the identity library is remade for the new speakers."""
import json
import os
import subprocess
import sys

import jax
import numpy as np

from dt_jax.train import sharding
import tfds_builders
from tfds_builders.livelink_face import fixtures


def _leaves(params) -> dict:
  return {sharding.path_name(k): np.asarray(v) for k, v in jax.tree_util.tree_flatten_with_path(params)[0]}


def test_a_fine_tune_starts_from_the_base_run(tiny_student, tmp_path):
  from configs import ours16  # pylint: disable=g-import-not-at-top
  from dt_jax.runs import loading  # pylint: disable=g-import-not-at-top
  from dt_jax.train import loop  # pylint: disable=g-import-not-at-top
  base_dir = os.path.join(os.path.dirname(tiny_student[0]), "teacher")
  takes = fixtures.write_takes(str(tmp_path / "takes"), {"ada": 3}, mov=False)
  tfds_builders.build("livelink_face", data_dir=str(tmp_path / "data"), manual_dir=takes)
  cfg = ours16.get_config("dataset=livelink_face,scale=tiny")
  cfg.data.data_dir, cfg.data.global_batch, cfg.diffusion.num_steps = str(tmp_path / "data"), 8, 4
  # A learning rate of 0: the two steps leave the weights as the base run made them.
  cfg.train.update(steps=2, learning_rate=0.0, warmup_steps=1, save_every=2, init_from=base_dir)
  loop.train(cfg, str(tmp_path / "performer"))
  base, tuned = loading.load_run(base_dir), loading.load_run(str(tmp_path / "performer"))
  assert tuned.dataset.speakers == ["ada"] and len(base.dataset.speakers) > 1
  b, t = _leaves(base.params), _leaves(tuned.params)
  library = [n for n in t if n.endswith("identity_library")]
  assert len(library) == 1 and t[library[0]].shape[0] == 1 and b[library[0]].shape[0] == len(base.dataset.speakers)
  np.testing.assert_allclose(t[library[0]][0], b[library[0]].mean(0), rtol=1e-6)
  assert set(t) == set(b)
  for name in set(t) - set(library):                       # the EMA of unchanged weights moves by rounding only
    np.testing.assert_allclose(t[name], b[name], rtol=1e-5, atol=1e-6, err_msg=name)
  np.testing.assert_array_equal(tuned.stats.mean, base.stats.mean)

  # The base run scored on the performer's takes, as the fine-tuning recipe measures it (here the truth played one
  # frame late, which needs no sampling: what a misalignment costs).
  out = subprocess.run([sys.executable, "launch/evaluate.py", f"--checkpoint={base_dir}", "--dataset=livelink_face",
                        f"--data_dir={tmp_path / 'data'}", "--split=test", "--baseline=shifted", "--shift_ms=33.3",
                        f"--out={tmp_path / 'eval'}"], cwd=os.path.dirname(os.path.dirname(__file__)),
                       capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  row = json.load(open(tmp_path / "eval" / "eval_livelink_face_test_shifted+33.3ms.json"))["truth +33.3 ms"]
  assert row["per_seed"][0]["sequences"] == 1 and row["mean"]["lve"] > 0


def test_the_shifted_truth_is_the_truth_moved_in_time():
  from dt_jax.runs import sampling  # pylint: disable=g-import-not-at-top
  motion = np.arange(2 * 6 * 2, dtype=np.float32).reshape(2, 6, 2)
  mask = np.array([[1] * 6, [1] * 4 + [0] * 2], np.float32)
  batch = {"motion": motion, "mask": mask}
  same = sampling.shifted_truth_predictor(0.0)(batch, 0)
  np.testing.assert_array_equal(same[0], motion[0])
  np.testing.assert_array_equal(same[1, :4], motion[1, :4])                          # frames past the mask: held
  late = sampling.shifted_truth_predictor(1000 / 30)(batch, 0)                         # one frame late
  np.testing.assert_array_equal(late[0], motion[0, [0, 0, 1, 2, 3, 4]])
  np.testing.assert_array_equal(late[1, :4], motion[1, [0, 0, 1, 2]])
  half = sampling.shifted_truth_predictor(-500 / 30)(batch, 0)                         # half a frame early
  np.testing.assert_allclose(half[1, :4], (motion[1, [0, 1, 2, 3]] + motion[1, [1, 2, 3, 3]]) / 2)
