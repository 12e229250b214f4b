"""Models: shapes for any clip length, masks, ablation switches, and the encoder's frame alignment."""
import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import common
from configs import ours16
from dt_jax.models import audio_encoder as ae
from dt_jax.models import denoiser as dn
from dt_jax.models import personalizer as pz
from dt_jax.models import talker
from dt_jax.models import whisper

ENC = ae.EncoderConfig(conv_channels=(16,) * 7, width=16, layers=1, heads=2, pos_conv_kernel=8, pos_conv_groups=2,
                       dropout=0.0)


def _cfg(dim=52, **personal):
  return talker.TalkerConfig(encoder=ENC, personalizer=pz.PersonalizerConfig(width=16, num_speakers=4, heads=2,
                                                                             **personal),
                             denoiser=dn.DenoiserConfig(width=16, layers=1, heads=2, dropout=0.0), motion_dim=dim)


@functools.lru_cache(maxsize=None)
def _init(cfg, frames=30):
  m = talker.Talker(cfg)
  args = (jnp.zeros((1, frames * 1600 // 3)), jnp.zeros((1, frames, cfg.motion_dim)), jnp.zeros((1,)),
          jnp.ones((1, frames)))
  return jax.jit(m.apply), jax.jit(m.init)(jax.random.PRNGKey(0), *args)


@pytest.mark.parametrize("frames", [9, 31, 64])
def test_any_clip_length(frames):
  m, params = _init(_cfg())
  audio = jax.random.normal(jax.random.PRNGKey(1), (2, round(frames * 16000 / 30)))
  out, aux = m(params, audio, jnp.zeros((2, frames, 52)), jnp.zeros((2,)), jnp.ones((2, frames)))
  assert out.shape == (2, frames, 52) and aux["identity_logits"].shape == (2, 4)


def test_noise_gate_starts_as_the_plain_denoiser_and_can_drop_the_noisy_motion():
  """The gate is zero at init (the same output as without it, given the same weights); set to -1 at a noise level,
  that level's output no longer depends on z."""
  cfg = dn.DenoiserConfig(width=16, layers=1, heads=2, dropout=0.0)
  plain, gated = dn.Denoiser(cfg, 52), dn.Denoiser(dataclasses.replace(cfg, noise_gate=True), 52)
  z, feats = jax.random.normal(jax.random.PRNGKey(1), (2, 12, 52)), jnp.ones((2, 12, 16))
  kw = dict(audio_feats=feats, personal=feats, logsnr=jnp.array([-20.0, 3.0]), mask=jnp.ones((2, 12)))
  params = gated.init(jax.random.PRNGKey(0), z, **kw)["params"]
  assert not np.any(params["motion_gate"]["kernel"])
  np.testing.assert_allclose(gated.apply({"params": params}, z, **kw),
                             plain.apply({"params": {k: v for k, v in params.items() if k != "motion_gate"}}, z, **kw),
                             atol=1e-6)
  closed = {**params, "motion_gate": {"kernel": params["motion_gate"]["kernel"],
                                      "bias": jnp.full_like(params["motion_gate"]["bias"], -1.0)}}
  a = gated.apply({"params": closed}, z, **kw)
  b = gated.apply({"params": closed}, 3.0 * z, **kw)
  np.testing.assert_allclose(a, b, atol=1e-5)


def test_vertex_dimension():
  m, params = _init(_cfg(dim=15069), frames=12)
  out, _ = m(params, jnp.zeros((1, 6400)), jnp.zeros((1, 12, 15069)), jnp.zeros((1,)), jnp.ones((1, 12)))
  assert out.shape == (1, 12, 15069)


def test_padding_does_not_change_real_frames():
  m, params = _init(_cfg())
  audio = jax.random.normal(jax.random.PRNGKey(2), (1, 16000))
  z = jax.random.normal(jax.random.PRNGKey(3), (1, 30, 52))
  mask = jnp.ones((1, 30)).at[:, 20:].set(0.0)
  a, _ = m(params, audio, z, jnp.zeros((1,)), mask)
  b, _ = m(params, audio, z.at[:, 20:].set(9.0), jnp.zeros((1,)), mask)
  np.testing.assert_allclose(a[:, :20], b[:, :20], atol=1e-5)


def test_ablations_drop_their_branch():
  for ident, emo, keys in ((False, True, {"emotion_logits", "emotion_embedding"}),
                           (True, False, {"identity_logits", "identity_embedding"}), (False, False, set())):
    m = talker.Talker(_cfg(use_identity=ident, use_emotion=emo))
    args = (jnp.zeros((1, 16000)), jnp.zeros((1, 30, 52)), jnp.zeros((1,)), jnp.ones((1, 30)))
    params = jax.eval_shape(m.init, jax.random.PRNGKey(0), *args)          # traced, not compiled
    _, aux = jax.eval_shape(m.apply, params, *args)
    assert set(aux) == keys
    names = {jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(params)}
    assert any("identity_library" in n for n in names) == ident
    assert any("emotion_library" in n for n in names) == emo


def test_contrastive_loss_prefers_the_right_row():
  aux = {"identity_logits": jnp.array([[5.0, 0.0], [0.0, 5.0]])}
  losses = pz.contrastive_losses(aux, speaker=jnp.array([0, 0]), emotion=None)
  assert float(losses["identity"][0]) < 0.01 < float(losses["identity"][1])


def test_frame_resampling_is_aligned():
  # A feature that equals its own time in samples: resampled frames land on the frame centres.
  n = 100
  centre = jnp.arange(n, dtype=jnp.float32) * ENC.hop + ENC.receptive_field / 2.0
  out = ae.resample_to_frames(centre[None, :, None], num_frames=30, cfg=ENC)
  np.testing.assert_allclose(out[0, :, 0], (np.arange(30) + 0.5) / 30 * 16000, atol=1e-2)


def test_too_short_audio_is_a_clear_error():
  m, params = _init(_cfg())
  with pytest.raises(ValueError, match="receptive field"):
    m(params, jnp.zeros((1, 200)), jnp.zeros((1, 1, 52)), jnp.zeros((1,)), jnp.ones((1, 1)))


def test_paper_scale_encoder_is_hubert_base_sized():
  shapes = jax.eval_shape(lambda: ae.AudioEncoder(ae.EncoderConfig()).init(
      jax.random.PRNGKey(0), jnp.zeros((1, 16000)), num_frames=30))
  millions = sum(x.size for x in jax.tree.leaves(shapes)) / 1e6
  assert 90 < millions < 100                                     # HuBERT-base: 94.7 M


def test_waveform_normalisation_ignores_padding():
  audio = 0.1 * jax.random.normal(jax.random.PRNGKey(4), (1, 8000)) + 0.3
  mask = ae.sample_mask_from_frames(jnp.ones((1, 15)), 8000)
  padded = jnp.pad(audio, ((0, 0), (0, 8000)))
  padded_mask = ae.sample_mask_from_frames(jnp.ones((1, 30)).at[:, 15:].set(0.0), 16000)
  a, b = ae.normalize(audio, mask), ae.normalize(padded, padded_mask)
  np.testing.assert_allclose(b[:, :8000], a, atol=1e-4)
  np.testing.assert_allclose(b[:, 8000:], 0.0)
  assert abs(float(a.mean())) < 1e-4 and abs(float(a.std()) - 1.0) < 1e-3


@pytest.mark.parametrize("scale", ["tiny", "small", "paper"])
def test_student_encoder_costs_under_an_eighth_of_the_teachers(scale):
  """A 2-step student is 8x faster than the 16-step teacher at batch 1 only if its per-clip work is under 1/8 of
  the teacher's (configs/common.py): the student's encoder against the blocks of Whisper the scale's teacher uses
  (configs/ours16.py), counted in XLA's FLOPs for a 10 s clip, not timed."""
  samples = jax.ShapeDtypeStruct((1, 160000), jnp.float32)
  enc = ae.AudioEncoder(ae.EncoderConfig.from_dict(common.encoder(scale, student=True)))
  params = jax.eval_shape(lambda: enc.init(jax.random.PRNGKey(0), jnp.zeros((1, 16000)), num_frames=30))
  student = jax.jit(lambda p, a: enc.apply(p, a, num_frames=300)).lower(params, samples).cost_analysis()["flops"]
  name = ours16.DEFAULT_ENCODER[scale]
  teacher_enc = whisper.WhisperEncoder(whisper.CONFIGS[name], ours16.SPEECH_LAYERS[name])
  tparams = whisper.abstract_params(whisper.CONFIGS[name], ours16.SPEECH_LAYERS[name])
  teacher = jax.jit(lambda p, a: teacher_enc.apply({"params": p}, a)).lower(tparams, samples).cost_analysis()["flops"]
  assert student < teacher / 8, (student, teacher)


def test_condition_dropout_and_guided_denoiser():
  """keep = 0 makes an example's prediction independent of its audio (the unconditional model guidance needs);
  w = 1 is the conditional denoiser; w = 2 is x_u + 2 (x_c - x_u), batched, per example."""
  cfg = _cfg()
  m, params = _init(cfg)
  model, frames = talker.Talker(cfg), 30
  audio = jax.random.normal(jax.random.PRNGKey(1), (2, frames * 1600 // 3))
  z, lam = jax.random.normal(jax.random.PRNGKey(2), (2, frames, 52)), jnp.array([-3.0, 1.0])
  mask = jnp.ones((2, frames))
  keep = jnp.array([0.0, 1.0])
  a, _ = m(params, audio, z, lam, mask, keep=keep)
  b, _ = m(params, 5.0 * audio[::-1], z, lam, mask, keep=keep)
  np.testing.assert_allclose(a[0], b[0], atol=1e-5)                # dropped: the audio does not matter
  assert np.max(np.abs(a[1] - b[1])) > 1e-3                         # kept: it does
  feats, personal, _ = model.apply(params, audio, mask, method=talker.Talker.encode)
  denoise = lambda w: talker.denoiser_fn(model, params["params"], feats, personal, mask, guidance=w)(z, lam)
  x_c = model.apply(params, z, lam, feats, personal, mask, method=talker.Talker.denoise)
  x_u = model.apply(params, z, lam, jnp.zeros_like(feats), jnp.zeros_like(personal), mask,
                    method=talker.Talker.denoise)
  np.testing.assert_allclose(denoise(1.0), x_c, atol=1e-6)
  np.testing.assert_allclose(denoise(2.0), 2.0 * x_c - x_u, atol=1e-4)
  np.testing.assert_allclose(a[0], m(params, audio, z, lam, mask, keep=jnp.zeros(2))[0][0], atol=1e-5)


def test_the_sampler_keeps_every_step_in_the_data_range():
  """With the data's range (blendshapes: [0, 1] in data units) every step's x prediction is clipped and so is the
  result; without it a random model's samples leave the range."""
  from dt_jax.data import normalization  # pylint: disable=g-import-not-at-top
  from dt_jax.runs import loading  # pylint: disable=g-import-not-at-top
  from dt_jax.runs import sampling  # pylint: disable=g-import-not-at-top
  cfg = _cfg()
  _, params = _init(cfg)
  stats = normalization.MotionStats(mean=np.full(52, 0.2, np.float32), scale=0.1)
  audio, mask = jax.random.normal(jax.random.PRNGKey(4), (2, 16000)), jnp.ones((2, 30))
  z = 3.0 * jax.random.normal(jax.random.PRNGKey(5), (2, 30, 52))
  free = sampling.sample_fn(talker.Talker(cfg), num_steps=4, stats=stats)(params["params"], audio, mask, z)
  assert float(free.min()) < 0.0 or float(free.max()) > 1.0
  bounds = loading.data_range(52)
  kept = sampling.sample_fn(talker.Talker(cfg), num_steps=4, stats=stats, data_range=bounds)(
      params["params"], audio, mask, z)
  assert float(kept.min()) >= 0.0 and float(kept.max()) <= 1.0 and float(jnp.std(kept)) > 0.01
  lo, hi = loading.model_range(bounds, stats)
  np.testing.assert_allclose(lo, -2.0, atol=1e-6)
  np.testing.assert_allclose(hi, 8.0, atol=1e-5)
  assert loading.data_range(15069) is None
