"""TFDS builder 'cartoonset' on tiny archives in the published layout."""

import os
import tarfile

import numpy as np
from PIL import Image
import pytest
import tensorflow_datasets as tfds

from animejax.data import tfds_cartoonset as cs


def _csv(seed: int) -> tuple[str, dict]:
  rng = np.random.default_rng(seed)
  attrs = {n: int(rng.integers(0, k)) for n, k in cs.ATTRIBUTES.items()}
  text = ''.join(f'"{n}", {attrs[n]}, {cs.ATTRIBUTES[n]}\n'
                 for n in cs.ATTRIBUTES)
  return text, attrs


def _write(folder, ids):
  """cs<id>.png (RGBA: transparent left half) + cs<id>.csv per id."""
  os.makedirs(folder, exist_ok=True)
  want = {}
  for i in ids:
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[:, :, 0] = 10 * (i % 20)
    rgba[:, 10:, 3] = 255            # right half opaque, left transparent
    Image.fromarray(rgba, 'RGBA').save(os.path.join(folder, f'cs{i}.png'))
    text, attrs = _csv(i)
    with open(os.path.join(folder, f'cs{i}.csv'), 'w') as f:
      f.write(text)
    want[f'cs{i}.png'] = (attrs, 10 * (i % 20))
  return want


def _check(builder, want, prefix=''):
  got = {}
  for ex in tfds.as_numpy(builder.as_dataset(split='train')):
    got[ex['filename'].decode()] = ex
  assert sorted(got) == sorted(prefix + k for k in want)
  for name, (attrs, red) in want.items():
    ex = got[prefix + name]
    assert {k: int(v) for k, v in ex['attributes'].items()} == attrs
    img = ex['image']
    assert img.shape == (20, 20, 3)
    np.testing.assert_array_equal(img[:, :10], 255)       # alpha -> white
    np.testing.assert_array_equal(img[:, 10:, 0], red)
    np.testing.assert_array_equal(img[:, 10:, 1:], 0)


def test_10k_archive_in_manual_dir(tmp_path, monkeypatch):
  want = _write(tmp_path / 'src' / 'cartoonset10k', [1, 2, 3])
  manual = tmp_path / 'manual'
  manual.mkdir()
  with tarfile.open(manual / 'cartoonset10k.tgz', 'w:gz') as tar:
    tar.add(tmp_path / 'src' / 'cartoonset10k', 'cartoonset10k')
  # The URL must not be used when the manual archive is there.
  monkeypatch.setattr(cs.Cartoonset, 'urls',
                      {'10k': 'file:///nonexistent/x.tgz', '100k': ''})
  builder = cs.Cartoonset(config='10k', data_dir=str(tmp_path / 'tfds'))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=str(manual)))
  assert builder.info.splits['train'].num_examples == 3
  _check(builder, want)
  out = tmp_path / 'exported'
  assert cs.export_images(builder, str(out), size=8) == 3
  assert sorted(os.listdir(out)) == ['cs1.png', 'cs2.png', 'cs3.png']
  assert np.asarray(Image.open(out / 'cs1.png')).shape == (8, 8, 3)


def test_100k_extracted_folder_and_download(tmp_path, monkeypatch):
  src = tmp_path / 'manual' / 'cartoonset100k'
  want = {}
  for shard, ids in (('0', [5, 6]), ('1', [7])):
    want.update({f'{shard}/{k}': v for k, v in
                 _write(src / shard, ids).items()})
  builder = cs.Cartoonset(config='100k', data_dir=str(tmp_path / 'tfds'))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=str(tmp_path / 'manual')))
  _check(builder, want)
  # Without a manual_dir the (file://) URL is downloaded and extracted.
  with tarfile.open(tmp_path / 'c.tgz', 'w:gz') as tar:
    tar.add(src, 'cartoonset100k')
  monkeypatch.setattr(cs.Cartoonset, 'urls',
                      {'10k': '', '100k': 'file://' + str(tmp_path / 'c.tgz')})
  builder = cs.Cartoonset(config='100k', data_dir=str(tmp_path / 'tfds2'))
  builder.download_and_prepare()
  _check(builder, want)


def test_offline_error_names_file_url_and_manual_dir(tmp_path, monkeypatch):
  url = 'file://' + str(tmp_path / 'missing' / 'cartoonset10k.tgz')
  monkeypatch.setattr(cs.Cartoonset, 'urls', {'10k': url, '100k': ''})
  builder = cs.Cartoonset(config='10k', data_dir=str(tmp_path / 'tfds'))
  with pytest.raises(RuntimeError) as e:
    builder.download_and_prepare()
  msg = str(e.value)
  assert 'cartoonset10k.tgz' in msg and url in msg and 'manual_dir' in msg


def test_parse_attributes_checks_names_and_counts():
  text, attrs = _csv(0)
  assert cs.parse_attributes(text) == attrs
  with pytest.raises(ValueError, match="unknown attribute 'tail'"):
    cs.parse_attributes(text + '"tail", 0, 2\n', 'x.csv')
  with pytest.raises(ValueError,
                     match=r'hair = \d+ of 100, but Cartoon Set has 111'):
    cs.parse_attributes(text.replace('111', '100'), 'x.csv')
  with pytest.raises(ValueError, match=r"missing attributes \['eye_angle'\]"):
    cs.parse_attributes(text.split('\n', 1)[1], 'x.csv')
