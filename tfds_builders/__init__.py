"""One TFDS builder per dataset, and the two calls that need the builders' code: `builder` and `build`.

This package depends on dt_jax (the time base, the face rig, audio reading, the dataset contract in
dt_jax/data/schema.py) and never the other way round: dt_jax opens a built dataset from its own files
(dt_jax.data.source.open_dataset). Launchers and tests, above both, build through here.
"""
from __future__ import annotations

import importlib
import importlib.util
import os

import tensorflow_datasets as tfds


def builder(name: str, *, data_dir: str, **kwargs) -> tfds.core.DatasetBuilder:
  """The TFDS builder of `name` (`synthetic_talkers/tiny`, `vocaset/original`, ...; TFDS's own names too), with
  our builder's package (the sub-package of that name, when there is one) imported so TFDS knows it."""
  base = name.split("/")[0].split(":")[0]
  if base.isidentifier() and importlib.util.find_spec(f"{__name__}.{base}") is not None:
    importlib.import_module(f"{__name__}.{base}")
  return tfds.builder(name, data_dir=data_dir, file_format="array_record", **kwargs)


def build(name: str, *, data_dir: str, manual_dir: str | None = None,
          builder_kwargs: dict | None = None) -> tfds.core.DatasetBuilder:
  """Builds (or reuses) the dataset as array_record files under `data_dir`.

  manual_dir: where the user's downloaded files are (VOCASET, 3D-ETF); builder_kwargs: options of our builders
  (e.g. `num_workers`, `regions`, `rig`), None values dropped.
  """
  kwargs = {k: v for k, v in (builder_kwargs or {}).items() if v is not None}
  b = builder(name, data_dir=data_dir, **kwargs)
  built = os.path.exists(os.path.join(b.data_dir, "dataset_info.json"))
  if getattr(b, "MANUAL_DOWNLOAD_INSTRUCTIONS", None) and not built and not (
      manual_dir and os.path.isdir(manual_dir) and os.listdir(manual_dir)):
    raise FileNotFoundError(f"{name}: --manual_dir={manual_dir} does not exist or is empty: it must hold the files "
                            f"you downloaded (README, 'Real datasets')" if manual_dir else
                            f"{name}: needs --manual_dir, the folder of the files you downloaded (README, 'Real "
                            f"datasets')")
  config = tfds.download.DownloadConfig(manual_dir=manual_dir) if manual_dir else None
  b.download_and_prepare(file_format="array_record", download_config=config)
  return b
