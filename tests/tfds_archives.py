"""Test scaffolding shared by the manual_dir TFDS builders' tests."""

import os
import tempfile
import zipfile


def zip_tree(folder: str, path: str) -> str:
  """Zips every file under `folder` (names relative to it) into `path`."""
  with zipfile.ZipFile(path, 'w') as z:
    for d, _, files in os.walk(folder):
      for f in files:
        full = os.path.join(d, f)
        z.write(full, os.path.relpath(full, folder))
  return path


class ExtractedArchive:
  """Mixin for a tfds.testing.DatasetBuilderTestCase: EXAMPLE_DIR is the
  'extracted' folder that `make_archive(root)` writes under a temporary
  root (list it before DatasetBuilderTestCase among the bases)."""

  @staticmethod
  def make_archive(root: str) -> str:
    raise NotImplementedError

  @classmethod
  def setUpClass(cls):
    cls._tmp = tempfile.TemporaryDirectory()
    cls.make_archive(cls._tmp.name)
    cls.EXAMPLE_DIR = os.path.join(cls._tmp.name, 'extracted')
    super().setUpClass()

  @classmethod
  def tearDownClass(cls):
    super().tearDownClass()
    cls._tmp.cleanup()
