"""livelink_face: your own Live Link Face takes from a manual_dir. Importing this registers the builder with TFDS."""
from tfds_builders.livelink_face.livelink_face_dataset_builder import Builder  # noqa: F401
