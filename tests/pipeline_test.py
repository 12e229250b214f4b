"""Input pipeline: windows, masks, deterministic resumable order, process slices, eval padding, device layout."""
import jax
import numpy as np
import pytest

from dt_jax.data import pipeline
from dt_jax.data import schema
from dt_jax.data import sharding


def _fake(n, *, frames=40, dim=4, bad=None):
  """A list data source of n clips; bad = {index: 'nan' | 'length'} corrupts some."""
  out = []
  for i in range(n):
    t = frames + i
    ex = {"audio": np.full(pipeline.samples_for(t), i, np.float32), "motion": np.full((t, dim), i, np.float32),
          "template": np.zeros(dim, np.float32), "speaker": i % 3, "emotion": i % 5, "intensity": 1,
          "utterance": f"clip {i}".encode()}
    if bad and bad.get(i) == "nan":
      ex["motion"][3, 1] = np.nan
    if bad and bad.get(i) == "length":
      ex["audio"] = ex["audio"][: len(ex["audio"]) // 2]
    out.append(ex)
  return out


def test_windows_are_aligned_and_masked():
  src = _fake(6, frames=20)
  ds = pipeline.train_batches(src, window_frames=30, global_batch=4, seed=0)
  b = ds[0]
  assert b["audio"].shape == (4, 16000) and b["motion"].shape == (4, 30, 4) and b["mask"].shape == (4, 30)
  for j in range(4):
    i = int(b["motion"][j, 0, 0])                    # clips are constant-valued: value = source index
    t = 20 + i
    n = min(30, t)
    assert b["mask"][j].sum() == n and np.all(b["motion"][j, n:] == 0)
    assert np.all(b["audio"][j, :pipeline.samples_for(n) - 1] == i)   # audio crop matches the motion crop
    assert b["speaker"][j] == i % 3 and b["emotion"][j] == i % 5


def test_crops_are_aligned_in_time():
  t = 90
  frame_of_sample = np.floor(np.arange(pipeline.samples_for(t)) / (16000 / 30)).astype(np.float32)
  ex = {"audio": frame_of_sample, "motion": np.arange(t, dtype=np.float32)[:, None],
        "template": np.zeros(1, np.float32), "speaker": 0, "emotion": 0}
  rng = np.random.default_rng(0)
  mid = ((np.arange(15) + 0.5) * 16000 / 30).astype(int)       # the middle sample of each window frame
  for _ in range(20):
    w = pipeline.crop_window(ex, rng, window_frames=15)
    np.testing.assert_array_equal(w["audio"][mid], w["motion"][:, 0])


def test_order_is_deterministic_resumable_and_per_epoch_shuffled():
  src = _fake(10)
  ds = pipeline.train_batches(src, window_frames=8, global_batch=5, seed=3)
  again = pipeline.train_batches(src, window_frames=8, global_batch=5, seed=3)
  resumed = pipeline.train_batches(src, window_frames=8, global_batch=5, seed=3, start_step=7)
  for s in range(7, 10):
    np.testing.assert_array_equal(ds[s]["motion"], resumed[s - 7]["motion"])
  np.testing.assert_array_equal(ds[0]["audio"], again[0]["audio"])
  epoch = lambda e: [int(v) for s in (2 * e, 2 * e + 1) for v in ds[s]["motion"][:, 0, 0]]
  assert sorted(epoch(0)) == list(range(10)) == sorted(epoch(1)) and epoch(0) != epoch(1)
  other = pipeline.train_batches(src, window_frames=8, global_batch=5, seed=4)
  assert not np.array_equal(ds[0]["motion"], other[0]["motion"])


def test_processes_read_their_rows_of_the_global_batch():
  src = _fake(12)
  whole = pipeline.train_batches(src, window_frames=8, global_batch=6, seed=0)
  parts = [pipeline.train_batches(src, window_frames=8, global_batch=6, seed=0, process_index=p,
                                  process_count=3, start_step=2) for p in range(3)]
  np.testing.assert_array_equal(np.concatenate([p[0]["motion"] for p in parts]), whole[2]["motion"])
  with pytest.raises(ValueError, match="does not divide"):
    pipeline.train_batches(src, window_frames=8, global_batch=7, seed=0, process_count=2)


@pytest.mark.parametrize("kind,match", [("nan", "NaN"), ("length", "samples but motion has")])
def test_bad_examples_are_named(kind, match):
  src = _fake(4, bad={2: kind})
  with pytest.raises(schema.BadExampleError, match=rf"train\[2\] clip 2: .*{match}"):
    ds = pipeline.train_batches(src, window_frames=8, global_batch=4, seed=0)
    ds[0]
  with pytest.raises(schema.BadExampleError, match=r"test\[2\] clip 2"):
    list(pipeline.eval_batches(src, batch_size=2, split="test"))


def test_eval_batches_cover_every_clip_once_with_static_shapes():
  src = _fake(5, frames=31)
  batches = list(pipeline.eval_batches(src, batch_size=2))
  assert {b["motion"].shape for b in batches} == {(2, 60, 4)}
  idx = np.concatenate([b["index"][b["valid"] > 0] for b in batches])
  assert sorted(idx.tolist()) == list(range(5))
  last = batches[-1]
  assert last["valid"].tolist() == [1.0, 0.0] and last["mask"][1].sum() == 0
  for b in batches:
    for j in np.flatnonzero(b["valid"]):
      assert b["mask"][j].sum() == 31 + b["index"][j]


def test_real_corpus_batches(tiny):
  ds = pipeline.train_batches(tiny.splits["train"], window_frames=45, global_batch=8, seed=0)
  b = ds[0]
  assert b["motion"].shape == (8, 45, 52) and b["audio"].shape == (8, 24000)
  assert np.all(np.isfinite(b["motion"])) and b["motion"].max() <= 1.0


def test_global_batch_over_eight_devices():
  assert jax.device_count() == 8
  mesh = sharding.data_mesh()
  batch = {"x": np.arange(16 * 3, dtype=np.float32).reshape(16, 3), "y": np.arange(16)}
  g = sharding.global_batch(batch, mesh)
  assert g["x"].shape == (16, 3) and len(g["x"].sharding.device_set) == 8
  assert g["x"].addressable_shards[1].data.shape == (2, 3)
  np.testing.assert_array_equal(np.asarray(jax.jit(lambda t: t.sum(0))(g["x"])), batch["x"].sum(0))


def test_speed_changes_keep_audio_and_motion_aligned():
  """A window cut at another speed holds more (or fewer) source frames, both streams resampled alike."""
  from dt_jax.data import augment  # pylint: disable=g-import-not-at-top
  t = 120
  frame_of_sample = (np.arange(pipeline.samples_for(t)) / (16000 / 30) / 200).astype(np.float32)   # in [-1, 1]
  ex = {"audio": frame_of_sample, "motion": (np.arange(t, dtype=np.float32) + 0.5)[:, None],
        "template": np.zeros(1, np.float32), "speaker": 0, "emotion": 0}
  cfg = augment.AugmentConfig(p_speed=1.0, speed=(0.8, 1.2), p_reverb=0.0, p_noise=0.0, p_band=0.0,
                              gain_db=(0.0, 0.0))
  mid = ((np.arange(20) + 0.5) * 16000 / 30).astype(int)
  spans = []
  for seed in range(10):
    w = pipeline.crop_window(ex, np.random.default_rng(seed), window_frames=20, augment=cfg)
    assert w["audio"].shape == (pipeline.samples_for(20),) and w["motion"].shape == (20, 1)
    np.testing.assert_allclose(200 * w["audio"][mid], w["motion"][:, 0], atol=0.06)   # same source time, both
    spans.append(w["motion"][-1, 0] - w["motion"][0, 0])
  assert min(spans) < 19 * 0.95 and max(spans) > 19 * 1.05                         # faster and slower windows


def test_augmentation_is_reproducible_by_seed_and_step_and_off_in_evaluation(tiny):
  from dt_jax.data import augment  # pylint: disable=g-import-not-at-top
  src = tiny.splits["train"]
  kw = dict(window_frames=30, global_batch=4, augment=augment.AugmentConfig())
  aug = pipeline.train_batches(src, seed=5, **kw)
  again = pipeline.train_batches(src, seed=5, start_step=3, **kw)
  other = pipeline.train_batches(src, seed=6, **kw)
  plain = pipeline.train_batches(src, window_frames=30, global_batch=4, seed=5)
  for s in range(3, 6):
    for key in ("audio", "motion", "mask"):
      np.testing.assert_array_equal(aug[s][key], again[s - 3][key])          # resume augments alike
  assert not np.array_equal(aug[3]["audio"], other[3]["audio"])
  changed = [not np.allclose(aug[s]["audio"], plain[s]["audio"]) for s in range(8)]
  assert sum(changed) >= 6                                                   # most windows are altered
  batch = next(pipeline.eval_batches(tiny.splits["test"], batch_size=4, split="test"))
  ex = tiny.splits["test"][int(batch["index"][0])]
  np.testing.assert_array_equal(batch["audio"][0, :len(ex["audio"])], ex["audio"])   # evaluation: untouched
  assert augment.from_config({"enabled": False}) is None
