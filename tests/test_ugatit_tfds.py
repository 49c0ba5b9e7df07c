"""TFDS builder 'selfie2anime' on a tiny archive with the official layout:
standard builder checks, zip in manual_dir, the clear offline message, and
the U-GAT-IT data config reading it (config.data.source = 'tfds')."""

import os
import sys

import numpy as np
from PIL import Image
import pytest
import tensorflow_datasets as tfds

TESTS = os.path.dirname(os.path.abspath(__file__))
if TESTS not in sys.path:
  sys.path.insert(0, TESTS)
import tfds_archives  # pylint: disable=wrong-import-position

from animejax.data import tfds_selfie2anime
from animejax.methods import ugatit

_COUNTS = {'trainA': 3, 'trainB': 2, 'testA': 2, 'testB': 2}


def make_fake_archive(root: str, zip_name: str = 'selfie2anime.zip') -> str:
  """root/extracted/{trainA,...}/ (one greyscale JPEG among them), zipped."""
  rng = np.random.default_rng(0)
  ext = os.path.join(root, 'extracted')
  for split, n in _COUNTS.items():
    os.makedirs(os.path.join(ext, split))
    for i in range(n):
      a = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
      img = Image.fromarray(a)
      if split == 'trainA' and i == 0:
        img = img.convert('L')  # the builder stores RGB
      img.save(os.path.join(ext, split, f'{i:04d}.png'))
  (open(os.path.join(ext, 'trainB', 'broken.jpg'), 'wb')
   .write(b'not an image'))
  path = os.path.join(root, zip_name)
  return tfds_archives.zip_tree(ext, path)


class Selfie2animeBuilderTest(tfds_archives.ExtractedArchive,
                              tfds.testing.DatasetBuilderTestCase):
  """The standard TFDS checks, manual_dir = the extracted folders."""
  DATASET_CLASS = tfds_selfie2anime.Selfie2anime
  SPLITS = _COUNTS
  SKIP_CHECKSUMS = True  # manual-only, no published checksum
  make_archive = staticmethod(make_fake_archive)


def _data_config(tmp_path, manual):
  c = ugatit.smoke_config()
  c.data.source = 'tfds'
  c.data.manual_dir = str(manual)
  c.data.tfds_data_dir = str(tmp_path / 'tfds')
  c.data.num_val_images = 2
  return c


def test_zip_in_manual_dir_as_unpaired_folders(tmp_path):
  manual = tmp_path / 'manual'
  manual.mkdir()
  zpath = make_fake_archive(str(tmp_path / 'src'))
  os.rename(zpath, manual / 'selfie2anime.zip')
  c = _data_config(tmp_path, manual)
  root = tfds_selfie2anime.as_folders(c.data)
  for split, n in _COUNTS.items():
    assert len(os.listdir(os.path.join(root, split))) == n
  got = np.asarray(Image.open(os.path.join(root, 'trainA', '0000.png')))
  src = np.asarray(Image.open(tmp_path / 'src' / 'extracted' / 'trainA' /
                              '0000.png').convert('RGB'))
  np.testing.assert_array_equal(got, src)  # lossless, greyscale -> RGB
  # the U-GAT-IT method reads it through config.data.source = 'tfds'
  assert not ugatit.config_errors(c)
  p = ugatit.create(c).input_pipeline(0)
  assert p.num_train_images == 3  # trainA 3, trainB 2
  b = next(iter(p.train_iter))
  s = c.data.image_size
  assert b['a'].shape == b['b'].shape == (1, s, s, 3)
  assert p.val.val_a.shape == (2, s, s, 3)  # testA used, not held out
  assert not p.val.held_out
  assert tfds_selfie2anime.as_folders(c.data) == root  # written once


def test_offline_without_archive_names_file_and_folder(tmp_path):
  empty = tmp_path / 'manual'
  empty.mkdir()
  c = _data_config(tmp_path, empty)
  with pytest.raises(FileNotFoundError,
                     match=r"selfie2anime\.zip not found in .*manual"):
    tfds_selfie2anime.builder(c.data)
  c.data.manual_dir = str(tmp_path / 'does_not_exist')
  with pytest.raises(FileNotFoundError, match=r'selfie2anime\.zip'):
    tfds_selfie2anime.builder(c.data)


def test_config_rejects_unknown_source():
  c = ugatit.smoke_config()
  c.data.source = 'kaggle'
  assert any('data.source' in e for e in ugatit.config_errors(c))
