"""etf3d: 3D-ETF (EmoTalk) from a user's manual_dir. Importing this registers the builder with TFDS."""
from tfds_builders.etf3d.etf3d_dataset_builder import Builder  # noqa: F401
