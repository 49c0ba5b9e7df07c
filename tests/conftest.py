"""Shared pytest fixtures: locating ../shared and keeping JAX single-device.

Also keeps TF's `test_session` helper out of the collected tests.
"""

import os
import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def shared_dir() -> pathlib.Path | None:
  """The shared data/weights folder: $ANIMEJAX_SHARED or <repo>/../shared."""
  env = os.environ.get('ANIMEJAX_SHARED')
  path = pathlib.Path(env) if env else REPO_ROOT.parent / 'shared'
  return path if path.is_dir() else None


def _is_tf_test_session(item: pytest.Item) -> bool:
  """TF's `TensorFlowTestCase.test_session`: a helper named like a test."""
  obj = getattr(item, 'obj', None)
  return (item.name == 'test_session' and
          getattr(obj, '__module__', '').startswith('tensorflow.'))


def pytest_collection_modifyitems(config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
  """Drops TF's `test_session` helper from the collected tests.

  tf.test.TestCase (the base of tfds.testing.DatasetBuilderTestCase in
  test_data_tfds.py) has a context-manager method `test_session`; unittest
  collects it by its name and TF then skips it ("Not a test."), which showed
  as a skipped test from TF's own test_util.py in every run.
  """
  del config  # unused
  items[:] = [item for item in items if not _is_tf_test_session(item)]


@pytest.fixture
def shared() -> pathlib.Path:
  """Skips the test with a reason when the shared folder is missing."""
  path = shared_dir()
  if path is None:
    pytest.skip('shared data not found: set $ANIMEJAX_SHARED or put it at '
                '../shared beside the repository (README: "Tests", '
                '"Test data")')
  return path
