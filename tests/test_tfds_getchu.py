"""The Kaggle/Getchu anime-face TFDS builder (animejax/data/tfds_getchu.py)
on a tiny archive of the published layout (archive.zip -> images/*.jpg) that
the test writes; nothing is downloaded."""

import io
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

tfds = pytest.importorskip('tensorflow_datasets')

from animejax.data import tfds_getchu  # pylint: disable=g-import-not-at-top,wrong-import-position


def _jpeg(value, size):
  buf = io.BytesIO()
  Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(
      buf, format='JPEG', quality=95)
  return buf.getvalue()


def _write_archive(path, sizes=(96, 120, 90)):
  with zipfile.ZipFile(path, 'w') as z:
    for i, s in enumerate(sizes):
      z.writestr(f'images/{i + 1}_2000.jpg', _jpeg(40 * (i + 1), s))
    z.writestr('images/broken_2001.jpg', b'not a jpeg')
  return {f'{i + 1}_2000.jpg': (s, 40 * (i + 1)) for i, s in enumerate(sizes)}


def _examples(builder):
  ds = builder.as_dataset(split='train')
  return {ex['filename'].decode(): ex['image'] for ex in tfds.as_numpy(ds)}


def test_builds_from_manual_zip(tmp_path):
  manual = tmp_path / 'manual'
  manual.mkdir()
  want = _write_archive(str(manual / tfds_getchu.ARCHIVE))
  builder = tfds_getchu.AnimeFaces(data_dir=str(tmp_path / 'tfds'))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=str(manual)))
  got = _examples(builder)
  assert sorted(got) == sorted(want)  # the broken file is skipped
  for name, (size, value) in want.items():
    assert got[name].shape == (size, size, 3)
    assert abs(float(got[name].mean()) - value) < 2  # JPEG round trip
  assert builder.info.splits['train'].num_examples == 3


def test_builds_from_extracted_folder(tmp_path):
  manual = tmp_path / 'manual'
  zpath = str(tmp_path / 'a.zip')
  want = _write_archive(zpath)
  zipfile.ZipFile(zpath).extractall(manual / 'animefacedataset')
  builder = tfds_getchu.AnimeFaces(data_dir=str(tmp_path / 'tfds'))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=str(manual)))
  assert sorted(_examples(builder)) == sorted(want)


def test_offline_message_names_archive_and_place(tmp_path):
  builder = tfds_getchu.AnimeFaces(data_dir=str(tmp_path / 'tfds'))
  missing = str(tmp_path / 'nowhere')
  with pytest.raises(Exception) as e:
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=missing))
  msg = str(e.value)
  assert tfds_getchu.ARCHIVE in msg and tfds_getchu.KAGGLE_URL in msg
  assert 'manual_dir' in msg
  empty = tmp_path / 'empty'
  (empty / 'images').mkdir(parents=True)
  (empty / 'readme.txt').write_text('no faces')
  with pytest.raises(tfds_getchu.ManualDataMissingError, match='no face'):
    tfds_getchu.find_images_dir(str(empty / 'images'))


def test_face_methods_read_it_as_a_source(tmp_path):
  import sys  # pylint: disable=g-import-not-at-top
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  if repo not in sys.path:
    sys.path.insert(0, repo)
  from animejax.data import labelled  # pylint: disable=g-import-not-at-top
  from animejax.methods import dcgan, dragan  # pylint: disable=g-import-not-at-top
  manual = tmp_path / 'manual'
  manual.mkdir()
  _write_archive(str(manual / tfds_getchu.ARCHIVE), sizes=(96, 120, 90, 100))
  c = dcgan.smoke_config()
  c.data.source = 'tfds'
  c.data.tfds_data_dir = str(tmp_path / 'tfds')
  c.data.manual_dir = str(manual)
  c.data.image_size = 32
  c.data.num_val_images = 1
  assert dcgan.config_errors(c) == []
  data = labelled.from_config(c.data)
  assert data.train_images.shape == (3, 32, 32, 3)
  assert data.val_images.shape == (1, 32, 32, 3)
  assert data.vocab == [] and data.train_labels.shape == (3, 0)
  # Flat faces stay flat through the area resize: the four values survive.
  means = sorted(np.concatenate([data.train_images, data.val_images]).mean(
      (1, 2, 3)).round())
  np.testing.assert_allclose(means, [40, 80, 120, 160], atol=2)
  d = dragan.smoke_config()
  d.data.source = 'tfds'
  assert any('no tags' in e for e in dragan.config_errors(d))
