"""TFDS builder 'animegan' on a fake archive with the official layout."""

import os
import sys

import numpy as np
from PIL import Image
import tensorflow_datasets as tfds

TESTS = os.path.dirname(os.path.abspath(__file__))
if TESTS not in sys.path:
  sys.path.insert(0, TESTS)
import tfds_archives  # pylint: disable=wrong-import-position

from animejax import data
from animejax.data import tfds_animegan

# Counts of the fake archive (the real one: train_photo 6656, Hayao 1792...).
_COUNTS = {'train_photo': 3, 'style': 3, 'smooth': 3, 'val': 2, 'test': 2}


def make_fake_archive(root: str) -> str:
  """Writes the dataset.zip layout under root/extracted and zips it."""
  rng = np.random.default_rng(0)
  ext = os.path.join(root, 'extracted')

  def put(sub, n, size=24):
    os.makedirs(os.path.join(ext, sub), exist_ok=True)
    for i in range(n):
      a = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
      a[size // 2:, :] = 30  # an edge for the smoothing
      Image.fromarray(a).save(os.path.join(ext, sub, f'{i}.jpg'), quality=90)

  put('train_photo', 3)
  put('val', 2)
  put('test/test_photo', 2)
  for style in ('Hayao', 'Shinkai', 'Paprika'):
    put(f'{style}/style', 3)
    if style != 'Shinkai':  # Shinkai: smooth images made by the builder
      put(f'{style}/smooth', 3)
  path = os.path.join(root, 'dataset.zip')
  return tfds_archives.zip_tree(ext, path)


class AnimeganBuilderTest(tfds_archives.ExtractedArchive,
                          tfds.testing.DatasetBuilderTestCase):
  """The standard TFDS builder checks (splits, features, no os/open use)."""
  DATASET_CLASS = tfds_animegan.Animegan
  BUILDER_CONFIG_NAMES_TO_TEST = ['hayao', 'shinkai']
  SPLITS = _COUNTS
  # No checksum is published for dataset.zip (see the builder's docstring).
  SKIP_CHECKSUMS = True
  make_archive = staticmethod(make_fake_archive)


def _names(builder, split):
  ds = builder.as_dataset(split=split, decoders={
      'image': tfds.decode.SkipDecoding()})
  return sorted(ex['filename'].decode() for ex in tfds.as_numpy(ds))


def test_download_from_file_url(tmp_path, monkeypatch):
  zpath = make_fake_archive(str(tmp_path / 'src'))
  monkeypatch.setattr(tfds_animegan.Animegan, 'url', 'file://' + zpath)
  builder = tfds_animegan.Animegan(config='shinkai',
                                   data_dir=str(tmp_path / 'tfds'))
  builder.download_and_prepare()
  for split, n in _COUNTS.items():
    assert builder.info.splits[split].num_examples == n
  assert _names(builder, 'smooth') == [f'Shinkai/smooth/{i}.jpg'
                                       for i in range(3)]
  # The generated smooth image is edge_smooth of the 256x256 style image.
  ex = next(iter(tfds.as_numpy(builder.as_dataset(split='smooth'))))
  assert ex['image'].shape == (256, 256, 3)


def test_manual_dir_and_tfds_source(tmp_path):
  manual = tmp_path / 'manual'
  zpath = make_fake_archive(str(tmp_path / 'src'))
  manual.mkdir()
  os.rename(zpath, manual / 'dataset.zip')
  from configs import default  # pylint: disable=g-import-not-at-top
  c = default.get_config()
  c.data.source = 'tfds'
  c.data.style = 'Hayao'
  c.data.tfds_data_dir = str(tmp_path / 'tfds')
  c.data.manual_dir = str(manual)
  c.data.image_size = 16
  c.data.num_val_images = 2
  c.batch_size = 2
  # URL unreachable: the manual archive must be used, never the network.
  p = data.create_input_pipeline(c, process_index=0, process_count=1)
  assert p.num_train_images == 3
  b = next(iter(p.train_iter))
  assert b['photo'].shape == (2, 16, 16, 3)
  assert p.val_photos.shape == (2, 16, 16, 3)
  assert p.val_style.shape == (2, 16, 16, 3)
