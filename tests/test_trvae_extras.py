"""trVAE data and evaluation extras: face cropping in the labelled-folder
source, the domain classifier's training / file cache in the method."""

import os
import sys

import ml_collections
import numpy as np
import pytest
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # `configs` is a folder of the repo, not installed
  sys.path.insert(0, REPO)
TESTS = os.path.dirname(os.path.abspath(__file__))
if TESTS not in sys.path:
  sys.path.insert(0, TESTS)

from animejax import faces  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax.data import conditions  # pylint: disable=g-import-not-at-top,wrong-import-position
import test_faces  # pylint: disable=g-import-not-at-top,wrong-import-position


def _face_folders(tmp_path):
  """real: 3 'faces' (the test cascade's dark/bright edge) + 3 flat images
  (no face); anime: 4 flat images. PNG, 120x100."""
  edge = np.repeat(test_faces._edge_image()[..., None], 3, axis=2)  # pylint: disable=protected-access
  for sub, n in (('real', 6), ('anime', 4)):
    os.makedirs(tmp_path / sub)
    for i in range(n):
      img = (edge if sub == 'real' and i < 3 else
             np.full((100, 120, 3), 40 + 20 * i, np.uint8))
      Image.fromarray(img).save(tmp_path / sub / f'{i}.png')
  return ml_collections.ConfigDict(dict(
      source='folders', root=str(tmp_path), conditions='real=real;anime=anime',
      image_size=16, num_val_per_condition=2, max_per_condition=0,
      balanced=False, crop='center', procedural_epoch_size=4,
      face_crop='real:real', face_margin=0.0,
      face_cascade_dir=str(tmp_path / 'cascades')))


def test_face_crop_in_labelled_folders(tmp_path, monkeypatch):
  cfg = _face_folders(tmp_path)
  os.makedirs(tmp_path / 'cascades')
  # The hand-written Haar cascade stands in for OpenCV's frontal-face file.
  test_faces._write_haar(  # pylint: disable=protected-access
      tmp_path / 'cascades' / faces.CASCADES['real'].filename)
  monkeypatch.setattr(faces, '_opencv_data_dir', lambda: '')
  data = conditions.load(cfg, seed=0)
  real = np.concatenate([data.val[0], data.train[0]])
  plain_cfg = ml_collections.ConfigDict(cfg.to_dict())
  plain_cfg.face_crop = ''
  plain = conditions.load(plain_cfg, seed=0)
  plain_real = np.concatenate([plain.val[0], plain.train[0]])
  # Same order; the 3 edge images are cropped (differ), the flat ones fall
  # back to the centre crop (equal); anime is untouched.
  same = [np.array_equal(a, b) for a, b in zip(real, plain_real)]
  assert sorted(same) == [False] * 3 + [True] * 3
  np.testing.assert_array_equal(data.val[1], plain.val[1])
  # A face crop is the square around the detection, resized: compare with
  # crop_face + load_image's resize directly.
  edge = np.repeat(test_faces._edge_image()[..., None], 3, axis=2)  # pylint: disable=protected-access
  cut = faces.crop_face(edge, margin=0.0,
                        cascade=str(tmp_path / 'cascades' /
                                    faces.CASCADES['real'].filename))
  want = np.asarray(Image.fromarray(cut).resize((16, 16), Image.BICUBIC))
  assert any(np.array_equal(want, r) for r in real)


def test_face_crop_offline_and_bad_spec(tmp_path, monkeypatch):
  cfg = _face_folders(tmp_path)
  monkeypatch.setattr(faces, '_opencv_data_dir', lambda: '')

  def offline(url, dest):
    raise OSError('network unreachable')
  monkeypatch.setattr(faces, '_urlopen_to', offline)
  with pytest.raises(faces.CascadeUnavailableError,
                     match='haarcascade_frontalface_default.xml'):
    conditions.load(cfg, seed=0)
  cfg.face_crop = 'cartoon:real'
  with pytest.raises(ValueError, match=r"names \['cartoon'\], which are not"):
    conditions.load(cfg, seed=0)
  for bad in ('real', 'real:cat'):
    with pytest.raises(ValueError, match='config.data.face_crop'):
      conditions.parse_face_crop(bad)
  assert conditions.parse_face_crop(' real:real , anime:anime') == {
      'real': 'real', 'anime': 'anime'}
  from animejax.methods import trvae  # pylint: disable=g-import-not-at-top
  from configs import trvae_small  # pylint: disable=g-import-not-at-top
  c = trvae_small.get_config()
  c.data.face_crop = 'real:dog'
  assert any('config.data.face_crop' in e for e in trvae.config_errors(c))


@pytest.mark.slow  # trains the tiny classifier: ~10 CPU-seconds idle
def test_method_classifier_trains_once_and_uses_its_file(tmp_path):
  from animejax import methods  # pylint: disable=g-import-not-at-top
  from animejax.methods import trvae  # pylint: disable=g-import-not-at-top
  config = trvae.smoke_config()
  config.eval.classifier_file = str(tmp_path / 'clf' / 'c.msgpack')
  method = methods.create(config)
  data = method._load()  # pylint: disable=protected-access
  clf = method._classifier(data)  # pylint: disable=protected-access
  assert clf.names == ('photo', 'anime')
  assert os.path.isfile(config.eval.classifier_file)
  assert method._classifier(data) is clf  # pylint: disable=protected-access
  # A new method (another run) loads the file instead of training.
  other = methods.create(config)
  loaded = other._classifier(data)  # pylint: disable=protected-access
  x = data.val_float(0)
  np.testing.assert_array_equal(loaded.logits(x), clf.logits(x))
  # A file for other conditions is refused with the fix.
  config2 = ml_collections.ConfigDict(config.to_dict())
  method2 = methods.create(config2)
  method2.condition_names = ('real', 'anime')
  with pytest.raises(ValueError, match='delete it or set'):
    method2._classifier(data)  # pylint: disable=protected-access
