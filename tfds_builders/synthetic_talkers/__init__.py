"""synthetic_talkers: the embedded default dataset. Importing this registers the builder with TFDS."""
from tfds_builders.synthetic_talkers.synthetic_talkers_dataset_builder import Builder  # noqa: F401
