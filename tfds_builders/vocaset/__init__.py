"""vocaset: VOCASET from a user's manual_dir. Importing this registers the builder with TFDS."""
from tfds_builders.vocaset.vocaset_dataset_builder import Builder  # noqa: F401
