"""The 'folders' source: decoding, bad files, process split, resume."""

import logging
import os

import ml_collections
import numpy as np
from PIL import Image
import pytest

from animejax import data
from animejax.data import folders


def _shared():
  root = os.environ.get('ANIMEJAX_SHARED') or os.path.join(
      os.path.dirname(__file__), '..', '..', 'shared')
  return os.path.abspath(root)


def _config(photo_dir, style_dir, **data_kw):
  c = ml_collections.ConfigDict()
  c.seed = 1
  c.batch_size = 4
  c.data = ml_collections.ConfigDict(dict(
      source='folders', photo_dir=str(photo_dir), style_dir=str(style_dir),
      smooth_dir='', val_dir='', image_size=16, crop_scale=(1.0, 1.0),
      flip=False, prefetch=1, num_val_images=2, style_mean_adjust=False))
  c.data.update(data_kw)
  return c


def _solid(path, value, size=(24, 20), mode='RGB', **save_kw):
  img = Image.new('RGB', size, (value, 255 - value, value // 2))
  if mode != 'RGB':
    img = img.convert(mode)
  img.save(path, **save_kw)


@pytest.fixture(scope='module')
def dirs(tmp_path_factory):
  root = tmp_path_factory.mktemp('imgs')
  photos, style, sub = root / 'photos', root / 'style', root / 'photos' / 'sub'
  for d in (photos, style, sub):
    d.mkdir(parents=True, exist_ok=True)
  # 10 solid photos (2 become the held-out val slice), distinct colours.
  for i in range(10):
    _solid((sub if i % 2 else photos) / f'p{i:02d}.PNG', 20 * i + 10)
  _solid(photos / 'cmyk.jpg', 200, mode='CMYK', quality=95)
  good = photos / 'good.jpg'
  _solid(good, 100, quality=95)
  raw = good.read_bytes()
  (photos / 'broken.jpg').write_bytes(raw[:len(raw) // 2])
  (photos / 'garbage.png').write_bytes(b'not an image at all')
  (photos / 'notes.txt').write_text('ignored: not an image extension')
  for i in range(5):
    _solid(style / f's{i}.png', 50 * i, size=(16, 16))
  _solid(style / 'gray.png', 90, size=(16, 16), mode='L')
  rgba = Image.new('RGBA', (16, 16), (255, 0, 0, 0))
  rgba.save(style / 'rgba.png')
  Image.fromarray(np.full((16, 16), 65535, np.uint16)).save(style / 'i16.png')
  _solid(style / 'pal.gif', 30, size=(16, 16), mode='P')
  return photos, style


def test_decode_modes_to_rgb(dirs):
  _, style = dirs
  d = lambda n: folders.decode(folders.read_file(str(style / n)))
  assert d('gray.png').shape == (16, 16, 3)
  np.testing.assert_array_equal(d('rgba.png'), 255)  # transparent -> white
  np.testing.assert_array_equal(d('i16.png'), 255)   # 16-bit full scale
  assert d('pal.gif').dtype == np.uint8
  cmyk = folders.decode(folders.read_file(str(dirs[0] / 'cmyk.jpg')))
  np.testing.assert_allclose(cmyk.mean((0, 1)), [200, 55, 100], atol=4)


def test_bad_files_skipped_and_named_once(dirs, caplog):
  photos, style = dirs
  with caplog.at_level(logging.WARNING):
    p = data.create_input_pipeline(_config(photos, style), process_index=0,
                                   process_count=1)
  names = sorted(os.path.basename(f) for f in p.skipped_files)
  assert names == ['broken.jpg', 'garbage.png']
  warnings = [r for r in caplog.records if 'unreadable' in r.getMessage()]
  assert len(warnings) == 1 and 'broken.jpg' in warnings[0].getMessage()
  b = next(iter(p.train_iter))
  for k in ('photo', 'anime', 'anime_gray', 'smooth_gray'):
    assert b[k].shape == (4, 16, 16, 3) and b[k].dtype == np.float32
    assert -1 <= b[k].min() and b[k].max() <= 1
  # 12 readable photos - 2 held out for validation; 9 style images.
  assert p.num_train_images == 10
  assert p.val_photos.shape == (2, 16, 16, 3) and p.val_targets is None


def test_empty_folder_error(tmp_path, dirs):
  (tmp_path / 'readme.txt').write_text('x')
  with pytest.raises(ValueError, match='data.photo_dir.*holds no images'):
    data.create_input_pipeline(_config(tmp_path, dirs[1]), process_index=0,
                               process_count=1)
  with pytest.raises(FileNotFoundError, match='data.style_dir'):
    data.create_input_pipeline(_config(dirs[0], tmp_path / 'nope'),
                               process_index=0, process_count=1)


def _photo_ids(batch):
  # Solid photos: the red channel identifies the file.
  return [int(round((x[0, 0, 0] + 1) * 127.5)) for x in batch['photo']]


def test_two_processes_disjoint_and_resume(dirs):
  photos, style = dirs
  c = _config(photos, style)
  full = iter(data.create_input_pipeline(c, process_index=0,
                                         process_count=1).train_iter)
  full = [next(full) for _ in range(5)]
  # One epoch = 10 photos = steps 0..1 (8) + half of step 2.
  seen = [[], []]
  for i in range(2):
    it = iter(data.create_input_pipeline(c, process_index=i,
                                         process_count=2).train_iter)
    for step in range(2):
      b = next(it)
      assert b['photo'].shape[0] == 2
      seen[i] += _photo_ids(b)
      for k in b:  # the two halves make the 1-process global batch
        np.testing.assert_array_equal(b[k], full[step][k][2 * i:2 * i + 2])
  assert len(set(seen[0])) == 4 and len(set(seen[1])) == 4
  assert not set(seen[0]) & set(seen[1])
  resumed = iter(data.create_input_pipeline(c, start_step=3, process_index=0,
                                            process_count=1).train_iter)
  for step in (3, 4):
    b = next(resumed)
    for k in b:
      np.testing.assert_array_equal(b[k], full[step][k])


def test_smooth_dir_and_mean_adjust(dirs, tmp_path):
  photos, style = dirs
  smooth = tmp_path / 'smooth'
  smooth.mkdir()
  for i in range(5):  # smooth files = uniform grey 77 (recognisable)
    Image.new('RGB', (16, 16), (77, 77, 77)).save(smooth / f's{i}.jpg')
  c = _config(photos, style, smooth_dir=str(smooth), style_mean_adjust=True)
  p = data.create_input_pipeline(c, process_index=0, process_count=1)
  adjust = np.asarray(p.info['style_mean_adjust'])
  # [v2] tools/data_mean.py on the readable style images, in BGR like cv2.
  bgr = [np.asarray(Image.open(f).convert('RGBA' if f.name == 'rgba.png'
                                          else 'RGB'))[..., :3][..., ::-1]
         for f in sorted(style.iterdir())]
  bgr[[f.name for f in sorted(style.iterdir())].index('rgba.png')] = np.full(
      (16, 16, 3), 255)  # transparent pixels composite to white
  b_g_r = np.mean([x.reshape(-1, 3).mean(0) for x in bgr], axis=0)
  np.testing.assert_allclose(adjust, (b_g_r.mean() - b_g_r)[::-1], atol=1e-3)
  assert np.abs(adjust).max() > 1
  b = next(iter(p.train_iter))
  gray = b['anime_gray'][..., 0]
  # anime = colour + adjust/127.5; gray images are not adjusted.
  r, g, bl = (b['anime'][..., j] - adjust[j] / 127.5 for j in range(3))
  y = np.round((0.299 * r + 0.587 * g + 0.114 * bl + 1) * 127.5)
  np.testing.assert_allclose(y, np.round((gray + 1) * 127.5), atol=1.01)


def test_shared_folders():
  root = os.path.join(_shared(), 'data')
  photo_dir = os.path.join(root, 'photos')
  style_dir = os.path.join(root, 'style', 'scenimefy')
  if not (os.path.isdir(photo_dir) and os.path.isdir(style_dir)):
    pytest.skip(f'shared photos/style not found under {root}')
  c = _config(photo_dir, style_dir, image_size=64, crop_scale=(0.5, 1.0),
              flip=True, style_mean_adjust=True)
  p = data.create_input_pipeline(c, process_index=0, process_count=1)
  assert p.skipped_files == []
  assert p.num_train_images >= 1000
  b = next(iter(p.train_iter))
  assert b['photo'].shape == (4, 64, 64, 3)
  assert np.std(b['photo']) > 0.1 and np.std(b['anime']) > 0.1
  assert p.val_style.shape == (2, 64, 64, 3)
