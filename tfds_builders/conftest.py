"""The builders' tests run on tfds.testing.DatasetBuilderTestCase, a tf.test.TestCase: its `test_session` helper (used
by its graph-mode runs) is named like a test, and TF skips it when pytest collects it, so it is left uncollected."""


def pytest_collection_modifyitems(config, items):
  helpers = [item for item in items if item.name == "test_session" and "tfds_builders" in item.nodeid]
  if helpers:
    items[:] = [item for item in items if item not in helpers]
    config.hook.pytest_deselected(items=helpers)
