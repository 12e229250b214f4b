"""Pretrained encoders: transformers' PyTorch HuBERT / wav2vec2 -> our Flax encoder, same features (1e-4)."""
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import transformers

from configs import ours16
from dt_jax.models import audio_encoder
from dt_jax.models import pretrained
from dt_jax.train import loop

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, conv_dim=(16,) * 7,
             conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2), num_conv_pos_embeddings=16,
             num_conv_pos_embedding_groups=4)
VARIANTS = {   # name -> (model class, config class, what differs from the base layout)
    "hubert_base": (transformers.HubertModel, transformers.HubertConfig, {}),
    "hubert_no_proj_norm": (transformers.HubertModel, transformers.HubertConfig, dict(feat_proj_layer_norm=False)),
    "wav2vec2_base": (transformers.Wav2Vec2Model, transformers.Wav2Vec2Config, {}),
    "wav2vec2_large": (transformers.Wav2Vec2ForCTC, transformers.Wav2Vec2Config,   # with a CTC head to drop
                       dict(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True, vocab_size=12)),
}


def _reference(name, folder):
  """A random model of the variant (every weight perturbed, so layer norms are not the identity), saved."""
  model_cls, cfg_cls, extra = VARIANTS[name]
  torch.manual_seed(0)
  model = model_cls(cfg_cls(**SMALL, **extra)).eval()
  with torch.no_grad():
    for p in model.parameters():
      p.add_(0.1 * torch.randn_like(p))
  model.save_pretrained(folder)
  return model


@pytest.fixture(scope="module")
def references(tmp_path_factory):
  root = tmp_path_factory.mktemp("hf")
  return {name: (_reference(name, str(root / name)), str(root / name)) for name in VARIANTS}


def _features(cfg, params, wav):
  return np.asarray(audio_encoder.AudioEncoder(cfg).apply({"params": params}, jnp.asarray(wav), num_frames=None))


@pytest.mark.parametrize("name", list(VARIANTS))
def test_converted_weights_give_the_reference_features(references, name):
  model, folder = references[name]
  wav = np.random.RandomState(1).randn(2, 6123).astype(np.float32)   # not a multiple of the hop
  with torch.no_grad():
    base = model.wav2vec2 if hasattr(model, "wav2vec2") else model
    want = base(torch.from_numpy(wav)).last_hidden_state.numpy()        # [2, N, 32]
  hf_cfg, pre, weights = pretrained.read_source(folder)
  cfg = pretrained.encoder_config(hf_cfg, pre)
  assert (cfg.norm_first, cfg.conv_norm) == ((True, "layer") if name == "wav2vec2_large" else (False, "group"))
  got = _features(cfg, pretrained.convert(weights, cfg), wav)
  assert got.shape == want.shape
  np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


def test_pytorch_bin_weights_read_like_safetensors(references, tmp_path):
  model, folder = references["hubert_base"]
  model.config.save_pretrained(str(tmp_path))
  torch.save(model.state_dict(), str(tmp_path / "pytorch_model.bin"))
  cfg = pretrained.encoder_config(*pretrained.read_source(folder)[:2])
  a = pretrained.convert(pretrained.read_source(folder)[2], cfg)
  b = pretrained.convert(pretrained.read_source(str(tmp_path / "pytorch_model.bin"))[2], cfg)
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(x, y)


def test_mismatches_are_listed_not_left_random(references):
  _, folder = references["wav2vec2_base"]
  hf_cfg, _, weights = pretrained.read_source(folder)
  cfg = pretrained.encoder_config(hf_cfg)
  del weights["encoder.layers.1.feed_forward.output_dense.bias"]
  weights["encoder.layers.0.attention.q_proj.weight"] = np.zeros((32, 31), np.float32)
  weights["encoder.adapter.weight"] = np.zeros((3,), np.float32)
  with pytest.raises(pretrained.ConversionError) as e:
    pretrained.convert(weights, cfg)
  msg = str(e.value)
  for expected in ("missing (1): encoder.layers.1.feed_forward.output_dense.bias",
                   "encoder.layers.0.attention.q_proj.weight: (32, 31)", "unexpected (1): encoder.adapter.weight"):
    assert expected in msg
  with pytest.raises(pretrained.ConversionError, match="hidden_act='relu'"):
    pretrained.encoder_config({**hf_cfg, "hidden_act": "relu"})
  with pytest.raises(FileNotFoundError, match="does not exist"):
    pretrained.read_source(os.path.join(folder, "missing_folder_x"))
  with pytest.raises(FileNotFoundError, match="no config.json"):
    pretrained.read_source(os.path.dirname(folder))


@pytest.mark.slow
def test_teacher_starts_from_the_import_with_frozen_layers(references, tiny_data_dir, tmp_path):
  """The launcher as a user runs it, then two train steps: the frozen extractor and layer 0 stay as imported."""
  _, folder = references["hubert_base"]
  out = str(tmp_path / "hubert")
  subprocess.run([sys.executable, os.path.join(ROOT, "launch", "import_audio_encoder.py"), f"--source={folder}",
                  f"--out={out}"], check=True, cwd=ROOT)
  cfg = ours16.get_config(f"dataset=synthetic_talkers,scale=tiny,audio_encoder={out}")
  assert cfg.train.freeze_feature_extractor and cfg.model.audio_encoder_init == out      # no file read yet
  assert pretrained.with_imported_encoder(cfg.model).encoder.width == 32
  cfg.data.data_dir, cfg.data.global_batch = tiny_data_dir, 8
  cfg.train.freeze_encoder_layers = 1
  _, imported = pretrained.load(out)
  result = loop.train(cfg, str(tmp_path / "teacher"), stop_after=2)
  trained = jax.device_get(result["state"].params["audio_encoder"])
  for path in ("conv_0", "conv_norm_0", "conv_6", "layer_0"):
    for x, y in zip(jax.tree.leaves(imported[path]), jax.tree.leaves(trained[path])):
      np.testing.assert_array_equal(x, y)
  moved = [not np.array_equal(x, y) for x, y in zip(jax.tree.leaves(imported["layer_1"]),
                                                    jax.tree.leaves(trained["layer_1"]))]
  assert all(moved)
