"""The Flax Whisper encoder against references no one here wrote: CTranslate2's own encoder on the same log-mel
input, and librosa's STFT and mel filters for the frontend; the weights' hash check; padding-exactness."""
import os
import shutil

import ctranslate2
import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest

from dt_jax.models import audio_encoder
from dt_jax.models import whisper
from dt_jax.models import whisper_weights

NAME = "whisper_tiny_en"


@pytest.fixture(scope="module")
def encoder():
  params = whisper_weights.load(NAME)
  model = whisper.WhisperEncoder(whisper.CONFIGS[NAME])
  return model, params, jax.jit(lambda p, a, m: model.apply({"params": p}, a, sample_mask=m))


def _speechlike(seconds: float, seed: int = 0) -> np.ndarray:
  rng = np.random.default_rng(seed)
  t = np.arange(int(seconds * 16000)) / 16000
  voiced = np.sin(2 * np.pi * 130 * t) * (1 + np.sin(2 * np.pi * 3.5 * t)) * 0.2
  return (voiced + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


def test_weights_are_the_pinned_files_and_fill_every_parameter():
  params = whisper_weights.load(NAME)
  shapes = jax.tree.map(lambda x: x.shape, params)
  assert shapes == jax.tree.map(lambda x: x.shape, whisper.abstract_params(whisper.CONFIGS[NAME]))
  assert params["positions"].shape == (1500, 384) and params["layer_0"]["attention"]["query"]["kernel"].shape == (
      384, 6, 64)
  assert not np.any(params["layer_0"]["attention"]["key"]["bias"])      # Whisper's key projection has no bias


def test_a_file_with_another_hash_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
  src = whisper_weights.files(NAME)[0]
  bad = tmp_path / "model.bin"
  shutil.copy(src, bad)
  with open(bad, "r+b") as f:                            # one flipped byte deep in the weights
    f.seek(os.path.getsize(bad) // 2)
    byte = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([byte[0] ^ 0xFF]))
  monkeypatch.setattr(whisper_weights, "files", lambda name: [str(bad)])
  monkeypatch.setattr(whisper_weights, "parse_ctranslate2", lambda *a, **k: pytest.fail("parsed unverified bytes"))
  with pytest.raises(whisper_weights.WeightsError, match=f"{bad}: sha256 .* is not the pinned"):
    whisper_weights.read_verified(NAME)


def test_a_truncated_file_and_an_unknown_encoder_are_one_line_errors():
  data = whisper_weights.read_verified(NAME)
  with pytest.raises(whisper_weights.WeightsError, match="truncated CTranslate2 file"):
    whisper_weights.parse_ctranslate2(data[:5000], where="cut.bin")
  with pytest.raises(whisper_weights.WeightsError, match="unknown Whisper encoder 'whisper_huge'"):
    whisper_weights.files("whisper_huge")


def test_the_encoder_matches_ctranslate2_on_the_same_log_mel(encoder, tmp_path):
  model, params, _ = encoder
  folder = os.path.dirname(whisper_weights.files(NAME)[0])
  (tmp_path / "model.bin").write_bytes(whisper_weights.read_verified(NAME))
  for extra in ("config.json", "vocabulary.txt", "tokenizer.json"):
    shutil.copy(os.path.join(folder, extra), tmp_path / extra)
  reference = ctranslate2.models.Whisper(str(tmp_path), device="cpu", compute_type="float32")
  mel = (0.5 * np.random.default_rng(0).standard_normal((1, 80, 3000))).astype(np.float32)
  theirs = np.asarray(reference.encode(ctranslate2.StorageView.from_array(mel)))
  ours, mask = model.apply({"params": params}, jnp.asarray(mel.transpose(0, 2, 1)),
                           method=whisper.WhisperEncoder.encode_mel)
  assert theirs.shape == ours.shape == (1, 1500, 384) and float(mask.min()) == 1.0
  # fp16 weights, fp32 arithmetic on both sides, in different orders: measured 6.8e-4 on values up to 15
  np.testing.assert_allclose(np.asarray(ours), theirs, atol=2e-3)


def test_the_frontend_matches_librosa():
  np.testing.assert_allclose(whisper.mel_filters(), librosa.filters.mel(sr=16000, n_fft=400, n_mels=80).T,
                             atol=1e-7)
  audio = _speechlike(2.0071)
  frames = len(audio) // 160
  # Whisper's recipe: the clip followed by silence, a centred (reflect-padded) STFT, power, mel, log10 clamped
  # at 1e-10, floored 8 below the maximum, (x + 4) / 4; the first S // 160 frames.
  spec = librosa.stft(np.pad(audio, (0, 16000)), n_fft=400, hop_length=160, window="hann", center=True,
                      pad_mode="reflect")[:, :frames]
  mel = np.log10(np.maximum(librosa.filters.mel(sr=16000, n_fft=400, n_mels=80) @ np.abs(spec) ** 2, 1e-10))
  mel = (np.maximum(mel, mel.max() - 8.0) + 4.0) / 4.0
  ours, mask = whisper.log_mel(jnp.asarray(audio)[None])
  assert ours.shape == (1, frames, 80) and float(mask.sum()) == frames
  np.testing.assert_allclose(np.asarray(ours[0]).T, mel, atol=1e-4)


def test_a_clip_padded_in_a_batch_has_the_features_it_has_alone(encoder):
  _, params, fn = encoder
  clip, other = _speechlike(1.3, seed=1), _speechlike(2.6, seed=2)
  alone, alone_mask = fn(params, jnp.asarray(clip)[None], jnp.ones((1, len(clip))))
  batch = np.zeros((2, len(other)), np.float32)
  batch[0, :len(clip)], batch[1] = clip, other
  batch[0, len(clip):] = 0.3                             # garbage past the clip's end: masked, never heard
  smask = np.zeros_like(batch)
  smask[0, :len(clip)], smask[1] = 1.0, 1.0
  feats, fmask = fn(params, jnp.asarray(batch), jnp.asarray(smask))
  n = alone.shape[1]
  assert float(alone_mask.sum()) == n == whisper.encoder_frames(len(clip) // 160) == float(fmask[0].sum())
  np.testing.assert_allclose(np.asarray(feats[0, :n]), np.asarray(alone[0]), atol=3e-4)   # float32 order: 9e-5
  assert not np.any(np.asarray(feats[0, n:]))


def test_audio_longer_than_whisper_reads_is_refused(encoder):
  model, params, _ = encoder
  with pytest.raises(ValueError, match="Whisper encodes at most 30 s"):
    model.apply({"params": params}, jnp.zeros((1, 30 * 16000 + 640)))


def test_the_students_convolution_log_mel_matches_librosa():
  """The students' frontend (models/audio_encoder.py: the STFT as a strided convolution, VALID frames) is a true
  STFT: librosa's uncentred one through the same filters, log and floor."""
  audio = _speechlike(1.5, seed=3)
  spec = librosa.stft(audio, n_fft=400, hop_length=160, window="hann", center=False)
  mel = np.log10(np.maximum(librosa.filters.mel(sr=16000, n_fft=400, n_mels=80) @ np.abs(spec) ** 2, 1e-10))
  mel = (np.maximum(mel, mel.max() - 8.0) + 4.0) / 4.0
  padded = np.concatenate([audio, np.full(999, 0.5, np.float32)])        # masked samples past the clip
  ours, mask = audio_encoder.log_mel_frames(jnp.asarray(padded)[None],
                                            jnp.asarray((np.arange(len(padded)) < len(audio))[None], jnp.float32))
  n = int(mask.sum())
  assert n == mel.shape[1] == (len(audio) - 400) // 160 + 1
  np.testing.assert_allclose(np.asarray(ours[0, :n]).T, mel, atol=1e-3)
  assert not np.any(np.asarray(ours[0, n:]))
