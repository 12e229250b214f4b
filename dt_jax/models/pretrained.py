"""Pretrained speech encoders: transformers' wav2vec2 / HuBERT checkpoints -> the teacher AudioEncoder's params.

A source is a transformers model folder (config.json beside model.safetensors, pytorch_model.bin or their sharded
index) or one weights file with its config.json next to it; the models may be bare (`HubertModel`) or carry a
head (`Wav2Vec2ForCTC`: keys under `wav2vec2.` / `hubert.`, the head is dropped). Every encoder parameter must be
filled from the source with the right shape, and every source tensor must be either used or a known training-only
extra (masking embedding, quantizer, CTC head); anything else is an error that lists the names.

Converted encoders are stored as `<dir>/encoder_config.json` + an orbax checkpoint `<dir>/params`, which
`configs/ours16.py:...,audio_encoder=<dir>` starts the teacher from.
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from dt_jax.models import audio_encoder

MODEL_TYPES = ("wav2vec2", "hubert")
PREFIXES = ("wav2vec2.", "hubert.")
# Source tensors that are not part of the encoder's forward pass at inference (pre-training and task heads).
IGNORED = re.compile(r"^(masked_spec_embed|quantizer\..*|project_q\..*|project_hid\..*|final_proj\..*|"
                     r"label_embs_concat|lm_head\..*|projector\..*|classifier\..*|dropout_features\..*)$")
CONFIG_FILE = "encoder_config.json"


class ConversionError(ValueError):
  """The source checkpoint does not fit the encoder (names or shapes); the message lists every problem."""


def read_source(path: str) -> tuple[dict, dict, dict[str, np.ndarray]]:
  """-> (transformers config, preprocessor config or {}, {name: float32 array}) from a folder or weights file."""
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path} does not exist")
  folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
  cfg_path = os.path.join(folder, "config.json")
  if not os.path.exists(cfg_path):
    raise FileNotFoundError(f"no config.json in {folder}: a transformers model folder is expected "
                            "(save_pretrained's output)")
  with open(cfg_path) as f:
    hf_cfg = json.load(f)
  pre_path = os.path.join(folder, "preprocessor_config.json")
  pre = {}
  if os.path.exists(pre_path):
    with open(pre_path) as f:
      pre = json.load(f)
  if os.path.isdir(path):
    files = (sorted(glob.glob(os.path.join(path, "*.safetensors"))) or
             sorted(glob.glob(os.path.join(path, "pytorch_model*.bin"))))
    if not files:
      raise FileNotFoundError(f"no *.safetensors or pytorch_model*.bin weights in {path}")
  else:
    files = [path]
  weights = {}
  for file in files:
    weights.update(_read_weights(file))
  return hf_cfg, pre, weights


def _read_weights(file: str) -> dict[str, np.ndarray]:
  if file.endswith(".safetensors"):
    from safetensors.numpy import load_file   # pylint: disable=g-import-not-at-top
    return {k: np.asarray(v, np.float32) for k, v in load_file(file).items()}
  if file.endswith((".bin", ".pt", ".pth")):
    try:
      import torch   # pylint: disable=g-import-not-at-top
    except ImportError as e:
      raise ImportError(f"{file} is a PyTorch pickle: reading it needs torch (pip install -e '.[hf]'), or "
                        "convert it to .safetensors first") from e
    sd = torch.load(file, map_location="cpu", weights_only=True)
    return {k: v.float().numpy() for k, v in sd.items()}
  raise ValueError(f"unknown weights file type: {file} (expected .safetensors or .bin)")


def encoder_config(hf_cfg: dict, preprocessor: dict | None = None) -> audio_encoder.EncoderConfig:
  """A transformers Wav2Vec2Config / HubertConfig (as a dict) -> the EncoderConfig with the same architecture."""
  kind = hf_cfg.get("model_type")
  if kind not in MODEL_TYPES:
    raise ConversionError(f"model_type {kind!r} is not supported; one of {', '.join(MODEL_TYPES)}")
  problems = []
  for key in ("hidden_act", "feat_extract_activation"):
    if hf_cfg.get(key, "gelu") != "gelu":
      problems.append(f"{key}={hf_cfg[key]!r} (only 'gelu')")
  if hf_cfg.get("conv_pos_batch_norm", False):
    problems.append("conv_pos_batch_norm=True (batch-normed position convolution)")
  if hf_cfg.get("position_embeddings_type") not in (None, "conv"):
    problems.append(f"position_embeddings_type={hf_cfg['position_embeddings_type']!r}")
  if hf_cfg.get("use_weighted_layer_sum", False):
    problems.append("use_weighted_layer_sum=True")
  width, inner = hf_cfg["hidden_size"], hf_cfg["intermediate_size"]
  if inner % width:
    problems.append(f"intermediate_size {inner} is not a multiple of hidden_size {width}")
  if problems:
    raise ConversionError("unsupported encoder settings: " + "; ".join(problems))
  return audio_encoder.EncoderConfig(
      conv_channels=tuple(hf_cfg["conv_dim"]), conv_kernels=tuple(hf_cfg["conv_kernel"]),
      conv_strides=tuple(hf_cfg["conv_stride"]), conv_norm=hf_cfg.get("feat_extract_norm", "group"),
      conv_bias=bool(hf_cfg.get("conv_bias", False)),
      feature_projection_norm=bool(hf_cfg.get("feat_proj_layer_norm", True)) if kind == "hubert" else True,
      width=width, layers=hf_cfg["num_hidden_layers"], heads=hf_cfg["num_attention_heads"],
      mlp_ratio=inner // width, pos_conv_kernel=hf_cfg["num_conv_pos_embeddings"],
      pos_conv_groups=hf_cfg["num_conv_pos_embedding_groups"],
      norm_first=bool(hf_cfg.get("do_stable_layer_norm", False)),
      layer_norm_eps=float(hf_cfg.get("layer_norm_eps", 1e-5)), dropout=float(hf_cfg.get("hidden_dropout", 0.1)),
      normalize_waveform=bool((preprocessor or {}).get("do_normalize", False)))


def _weight_norm(g, v):
  """torch weight_norm(dim=2) of the position conv: w[:, :, k] = g[k] v[:, :, k] / |v[:, :, k]|."""
  norm = np.sqrt(np.sum(np.square(v), axis=(0, 1), keepdims=True))
  return g * v / norm


def _torch_names(cfg: audio_encoder.EncoderConfig) -> dict[tuple[str, ...], tuple[str, str]]:
  """Flax param path -> (source tensor name, how to transform it)."""
  names = {}
  for i in range(len(cfg.conv_channels)):
    names[(f"conv_{i}", "kernel")] = (f"feature_extractor.conv_layers.{i}.conv.weight", "conv")
    names[(f"conv_{i}", "bias")] = (f"feature_extractor.conv_layers.{i}.conv.bias", "copy")
    for leaf, src in (("scale", "weight"), ("bias", "bias")):
      names[(f"conv_norm_{i}", leaf)] = (f"feature_extractor.conv_layers.{i}.layer_norm.{src}", "copy")
  names[("feature_norm", "scale")] = ("feature_projection.layer_norm.weight", "copy")
  names[("feature_norm", "bias")] = ("feature_projection.layer_norm.bias", "copy")
  names[("feature_projection", "kernel")] = ("feature_projection.projection.weight", "dense")
  names[("feature_projection", "bias")] = ("feature_projection.projection.bias", "copy")
  names[("pos_conv", "kernel")] = ("encoder.pos_conv_embed.conv", "weight_norm")
  names[("pos_conv", "bias")] = ("encoder.pos_conv_embed.conv.bias", "copy")
  names[("encoder_norm", "scale")] = ("encoder.layer_norm.weight", "copy")
  names[("encoder_norm", "bias")] = ("encoder.layer_norm.bias", "copy")
  for i in range(cfg.layers):
    src = f"encoder.layers.{i}."
    for ours, theirs in (("query", "q_proj"), ("key", "k_proj"), ("value", "v_proj")):
      names[(f"layer_{i}", "attention", ours, "kernel")] = (src + f"attention.{theirs}.weight", "heads_in")
      names[(f"layer_{i}", "attention", ours, "bias")] = (src + f"attention.{theirs}.bias", "heads_bias")
    names[(f"layer_{i}", "attention", "out", "kernel")] = (src + "attention.out_proj.weight", "heads_out")
    names[(f"layer_{i}", "attention", "out", "bias")] = (src + "attention.out_proj.bias", "copy")
    for ours, theirs in (("norm1", "layer_norm"), ("norm2", "final_layer_norm")):
      names[(f"layer_{i}", ours, "scale")] = (src + f"{theirs}.weight", "copy")
      names[(f"layer_{i}", ours, "bias")] = (src + f"{theirs}.bias", "copy")
    names[(f"layer_{i}", "mlp_in", "kernel")] = (src + "feed_forward.intermediate_dense.weight", "dense")
    names[(f"layer_{i}", "mlp_in", "bias")] = (src + "feed_forward.intermediate_dense.bias", "copy")
    names[(f"layer_{i}", "mlp_out", "kernel")] = (src + "feed_forward.output_dense.weight", "dense")
    names[(f"layer_{i}", "mlp_out", "bias")] = (src + "feed_forward.output_dense.bias", "copy")
  return names


def abstract_params(cfg: audio_encoder.EncoderConfig):
  """The encoder's parameter tree as ShapeDtypeStructs (no compute)."""
  enc = audio_encoder.AudioEncoder(dataclasses.replace(cfg, dropout=0.0))
  samples = cfg.receptive_field + cfg.hop
  return jax.eval_shape(lambda: enc.init(jax.random.PRNGKey(0), jnp.zeros((1, samples)), num_frames=None))["params"]


def convert(weights: dict[str, np.ndarray], cfg: audio_encoder.EncoderConfig) -> dict:
  """Source tensors -> the encoder's params; raises ConversionError listing missing, unexpected or misshapen."""
  weights = {_strip(k): v for k, v in weights.items()}
  heads, names = cfg.heads, _torch_names(cfg)
  missing, misshapen, used = [], [], set()
  flat = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(abstract_params(cfg))[0]:
    key = tuple(p.key for p in path)
    name, how = names.get(key, (None, None))
    if name is None:
      missing.append("/".join(key) + " (no source name known)")
      continue
    if how == "weight_norm":
      found = _pos_conv_weight(weights, name)
      if found is None:
        missing.append(name + ".weight (or its weight_g/weight_v, parametrizations.weight.original0/1)")
        continue
      value, srcs = found
    elif name not in weights:
      missing.append(name)
      continue
    else:
      value, srcs = weights[name], [name]
    used.update(srcs)
    try:
      value = _to_flax(value, how, heads)
    except ValueError:
      value = None
    if value is None or value.shape != leaf.shape:
      misshapen.append(f"{srcs[-1]}: {weights[srcs[-1]].shape} for {'/'.join(key)} {leaf.shape}")
      continue
    flat[key] = jnp.asarray(value, jnp.float32)
  unexpected = sorted(k for k in weights if k not in used and not IGNORED.match(k))
  if missing or misshapen or unexpected:
    lines = ([f"missing ({len(missing)}): " + ", ".join(missing)] if missing else []) + \
            ([f"wrong shape ({len(misshapen)}): " + "; ".join(misshapen)] if misshapen else []) + \
            ([f"unexpected ({len(unexpected)}): " + ", ".join(unexpected)] if unexpected else [])
    raise ConversionError("the checkpoint does not fit the encoder config:\n  " + "\n  ".join(lines))
  params = {}
  for key, value in flat.items():
    node = params
    for part in key[:-1]:
      node = node.setdefault(part, {})
    node[key[-1]] = value
  return params


def _to_flax(value, how: str, heads: int):
  """A torch tensor -> the Flax layout of the leaf it fills."""
  if how in ("conv", "weight_norm"):
    return np.transpose(value, (2, 1, 0))                          # torch [out, in/g, k] -> flax [k, in/g, out]
  if how == "dense":
    return value.T                                                 # [out, in] -> [in, out]
  if how == "heads_in":
    return value.T.reshape(value.shape[1], heads, -1)              # [h*d, in] -> [in, h, d]
  if how == "heads_bias":
    return value.reshape(heads, -1)
  if how == "heads_out":
    return value.T.reshape(heads, -1, value.shape[0])              # [out, h*d] -> [h, d, out]
  return value


def _strip(name: str) -> str:
  for prefix in PREFIXES:
    if name.startswith(prefix):
      return name[len(prefix):]
  return name


def _pos_conv_weight(weights, name):
  """The effective position-conv weight from any of torch's weight-norm spellings (or a plain weight)."""
  for g, v in ((name + ".parametrizations.weight.original0", name + ".parametrizations.weight.original1"),
               (name + ".weight_g", name + ".weight_v")):
    if g in weights and v in weights:
      return _weight_norm(weights[g], weights[v]), [g, v]
  if name + ".weight" in weights:
    return weights[name + ".weight"], [name + ".weight"]
  return None


def save(out_dir: str, cfg: audio_encoder.EncoderConfig, params: dict, *, source: str = "") -> None:
  out_dir = os.path.abspath(out_dir)
  os.makedirs(out_dir, exist_ok=True)
  with ocp.StandardCheckpointer() as ckptr:
    ckptr.save(os.path.join(out_dir, "params"), params, force=True)
  with open(os.path.join(out_dir, CONFIG_FILE), "w") as f:
    json.dump({"encoder": dataclasses.asdict(cfg), "source": source}, f, indent=1)


def load_config(path: str) -> audio_encoder.EncoderConfig:
  file = os.path.join(path, CONFIG_FILE)
  if not os.path.exists(file):
    raise FileNotFoundError(f"{file} not found: make it with launch/import_audio_encoder.py")
  with open(file) as f:
    return audio_encoder.EncoderConfig.from_dict(json.load(f)["encoder"])


def with_imported_encoder(model_cfg):
  """The model config with `encoder` read from the folder named by `audio_encoder_init` (configs name the folder;
  the architecture is read here, when a run starts, so that building a config reads no file); unchanged when
  there is none."""
  if not model_cfg.get("audio_encoder_init"):
    return model_cfg
  model_cfg = model_cfg.copy_and_resolve_references()
  model_cfg.encoder = type(model_cfg)(dataclasses.asdict(load_config(model_cfg.audio_encoder_init)))
  return model_cfg


def load(path: str) -> tuple[audio_encoder.EncoderConfig, dict]:
  """-> (encoder config, params) saved by `save`."""
  cfg = load_config(path)
  with ocp.StandardCheckpointer() as ckptr:
    params = ckptr.restore(os.path.join(os.path.abspath(path), "params"), abstract_params(cfg))
  return cfg, params
