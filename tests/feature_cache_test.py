"""The cache of a frozen pretrained encoder's features: what the talker computes, keyed by what made it, reused,
and read back as training windows of a clip's renditions."""
import numpy as np
import pytest

from configs import ours16
from dt_jax import timebase
from dt_jax.data import feature_store
from dt_jax.data import pipeline
from dt_jax.data import renditions
from dt_jax.models import talker
from dt_jax.models import whisper
from dt_jax.models import whisper_weights
from dt_jax.runs import loading
from dt_jax.train import feature_cache
from dt_jax.train import loop


@pytest.fixture(scope="module")
def cfg(tiny_data_dir):
  c = ours16.get_config("dataset=synthetic_talkers,scale=tiny")
  c.data.data_dir = tiny_data_dir
  return c


@pytest.fixture(scope="module")
def cached(tiny, cfg):
  return feature_cache.ensure(tiny, cfg)


def test_cached_features_are_what_the_talker_computes(tiny, cfg, cached):
  model = talker.from_config(cfg.model, motion_dim=52, num_speakers=len(tiny.speakers),
                             num_emotions=len(tiny.emotions))
  params = loading.with_speech_encoder(cfg.model, {})
  seed, augment, _ = feature_cache.recipe(cfg)
  src = tiny.splits["train"]
  assert set(cached) == {"train", "validation"} and cached["train"].renditions == cfg.data.features.renditions == 2
  for i, r in ((3, 0), (5, 1)):
    audio = renditions.audio(src[i], seed=seed, clip=i, r=r, cfg=augment, source=src)
    frames = timebase.frames_for(len(audio))
    ours = model.apply({"params": params}, audio[None], np.ones((1, frames), np.float32),
                       method=talker.Talker.speech_features)[0]
    stored = cached["train"].get(i, r)
    assert stored.shape == (frames, whisper.CONFIGS["whisper_tiny_en"].width)
    np.testing.assert_allclose(stored, np.asarray(ours), atol=2e-2)        # float16 storage of values up to ~20
    assert len(renditions.motion(src[i], seed=seed, clip=i, r=r, cfg=augment)) == frames
  assert not np.allclose(cached["train"].get(5, 0)[:10], cached["train"].get(5, 1)[:10], atol=0.1)


def test_a_second_call_reuses_the_cache_and_a_new_recipe_recomputes_only_what_changed(tiny, cfg, cached, monkeypatch):
  del cached
  computed = []
  real = feature_cache._compute                                   # pylint: disable=protected-access
  monkeypatch.setattr(feature_cache, "_compute", lambda *a, **k: computed.append(k["desc"]) or real(*a, **k))
  feature_cache.ensure(tiny, cfg)
  assert not computed                                              # same weights, audio and recipe: reused
  other = ours16.get_config("dataset=synthetic_talkers,scale=tiny")
  other.data.data_dir, other.data.features.seed = cfg.data.data_dir, 99
  feature_cache.ensure(tiny, other)
  assert computed == ["whisper_tiny_en features: train rendition 2/2"]   # the clean rendition's key ignores the seed
  feature_cache.ensure(tiny, cfg)                                  # back to the first recipe: recomputed once more
  assert len(computed) == 2
  key = feature_store.key(weights_sha256=whisper_weights.sha256("whisper_tiny_en"), audio_sha256="x", rendition=1,
                          recipe={"seed": 0})
  assert key != feature_store.key(weights_sha256="y" * 64, audio_sha256="x", rendition=1, recipe={"seed": 0})


def test_feature_windows_are_cut_from_one_rendition_and_resume_exactly(tiny, cfg, cached):
  windows = loop.feature_windows(cfg, cached, "train", with_audio=True)
  make = lambda start: pipeline.train_batches(tiny.splits["train"], window_frames=30, global_batch=4, seed=3,
                                              features=windows, start_step=start)
  first = make(0)
  b = first[2]
  assert b["features"].shape == (4, 30, 384) and b["motion"].shape == (4, 30, 52)
  assert b["audio"].shape == (4, timebase.samples_for(30)) and set(np.unique(b["mask"])) <= {0.0, 1.0}
  again = make(2)[0]
  for k in ("features", "motion", "audio", "mask"):
    np.testing.assert_array_equal(again[k], b[k])
  no_audio = pipeline.train_batches(tiny.splits["train"], window_frames=30, global_batch=4, seed=3,
                                    features=loop.feature_windows(cfg, cached, "train"))[2]
  assert "audio" not in no_audio
  np.testing.assert_array_equal(no_audio["features"], b["features"])


def test_a_stale_cache_is_named(tiny, cfg, cached):
  """Features whose clip no longer has their length (a corpus rebuilt under the cache's feet) stop the run."""
  windows = loop.feature_windows(cfg, cached, "train")
  ex = dict(tiny.splits["train"][0])
  ex["motion"] = ex["motion"][:-3]
  with pytest.raises(ValueError, match="is stale; delete it"):
    pipeline.feature_window(0, ex, np.random.default_rng(0), window_frames=30, windows=windows,
                            data_source=tiny.splits["train"])
