"""TFDS's own builder test case on the vertices config, the quickest to build (needs TensorFlow, from the `test`
extra)."""
import tensorflow_datasets as tfds

from tfds_builders.synthetic_talkers import synthetic_talkers_dataset_builder as builder_lib


class SyntheticTalkersTest(tfds.testing.DatasetBuilderTestCase):
  DATASET_CLASS = builder_lib.Builder
  BUILDER_CONFIG_NAMES_TO_TEST = ["vertices"]
  SPLITS = {"train": 60, "validation": 20, "test": 20, "test_unseen": 10, "test_unseen_voice": 5,
           "test_unseen_language": 5}
  MOCK_OUT_FORBIDDEN_OS_FUNCTIONS = False     # the builder writes rig.npz with numpy
  SKIP_CHECKSUMS = True                       # nothing is downloaded


if __name__ == "__main__":
  tfds.testing.test_main()
