"""TFDS's own builder test case on the tiny config (needs TensorFlow, from the `test` extra)."""
import tensorflow_datasets as tfds

from tfds_builders.synthetic_talkers import synthetic_talkers_dataset_builder as builder_lib


class SyntheticTalkersTest(tfds.testing.DatasetBuilderTestCase):
  DATASET_CLASS = builder_lib.Builder
  BUILDER_CONFIG_NAMES_TO_TEST = ["tiny"]
  SPLITS = {"train": 80, "validation": 20, "test": 40, "test_unseen": 20}
  MOCK_OUT_FORBIDDEN_OS_FUNCTIONS = False     # the builder writes rig.npz with numpy
  SKIP_CHECKSUMS = True                       # nothing is downloaded


if __name__ == "__main__":
  tfds.testing.test_main()
