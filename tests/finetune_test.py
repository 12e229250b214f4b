"""Fine-tuning a trained teacher on a performer's Live Link Face takes (train.init_from): the base run's weights
and motion statistics carry over, the identity library is remade for the new speakers."""
import os

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
