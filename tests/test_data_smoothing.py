"""Edge smoothing against the official per-pixel loop and shared references."""

import glob
import os

import cv2
import numpy as np
import pytest

from animejax.data import procedural
from animejax.data import smoothing


def _shared():
  root = os.environ.get('ANIMEJAX_SHARED') or os.path.join(
      os.path.dirname(__file__), '..', '..', 'shared')
  return os.path.abspath(root)


def test_vectorised_equals_official_loop():
  _, anime = procedural.render_pair(11, 40)
  ref = smoothing.edge_smooth_reference(anime)
  out = smoothing.edge_smooth(anime)
  assert smoothing.edge_mask(anime).mean() > 0.1  # the test has edges
  # Same sums up to float summation order: at most 1 level where a sum sits
  # on an integer boundary before truncation.
  diff = np.abs(out.astype(int) - ref.astype(int))
  assert diff.max() <= 1 and (diff > 0).mean() < 0.01
  np.testing.assert_array_equal(out[~smoothing.edge_mask(anime)],
                                anime[~smoothing.edge_mask(anime)])


def test_reflect_padding_is_reflect_101():
  # np.pad 'reflect' mirrors without repeating the edge pixel, like OpenCV
  # BORDER_REFLECT_101; 'symmetric' (BORDER_REFLECT) would differ.
  row = np.arange(5)[None, :, None].astype(np.uint8)
  padded = np.pad(row, ((0, 0), (2, 2), (0, 0)), mode='reflect')[0, :, 0]
  cv = cv2.copyMakeBorder(row[..., 0], 0, 0, 2, 2, cv2.BORDER_REFLECT_101)[0]
  np.testing.assert_array_equal(padded, cv)


def test_truncates_like_uint8_assignment():
  img = np.zeros((20, 20, 3), np.uint8)
  img[:, 10:] = 255
  img[:, :10] = 7
  out = smoothing.edge_smooth(img)
  g = cv2.getGaussianKernel(5, 0)
  k = (g @ g.T)
  # Column 9: weights on columns 7..11 -> 7*(cols 7..9) + 255*(cols 10, 11).
  expect = 7 * k[:, :3].sum() + 255 * k[:, 3:].sum()
  assert out[10, 9, 0] == int(expect)


def test_bad_input():
  with pytest.raises(ValueError, match='uint8'):
    smoothing.edge_smooth(np.zeros((8, 8, 3), np.float32))


def test_psnr_against_shared_reference():
  d = os.path.join(_shared(), 'data', 'style', 'illustrations')
  files = sorted(glob.glob(os.path.join(d, 'style', '*')))
  if not files:
    pytest.skip(f'shared illustrations not found under {d}')
  rows = []
  for f in files:
    stem = os.path.splitext(os.path.basename(f))[0]
    ref_path = glob.glob(os.path.join(d, 'smooth', stem + '.*'))[0]
    bgr = cv2.imread(f)
    ref = cv2.imread(ref_path)
    assert ref.shape == bgr.shape  # both 256x256 JPEGs
    out = smoothing.edge_smooth(bgr[..., ::-1].copy(), gray=cv2.imread(f, 0))
    out = out[..., ::-1]
    mask = smoothing.edge_mask(bgr[..., ::-1].copy(), cv2.imread(f, 0))
    err = (out.astype(float) - ref.astype(float)) ** 2
    psnr = lambda m: 10 * np.log10(255 ** 2 / max(m, 1e-10))
    rows.append((os.path.basename(f), psnr(err.mean()),
                 psnr(err[mask].mean()), psnr(err[~mask].mean()),
                 psnr(((bgr.astype(float) - ref) ** 2).mean())))
  print('\nedge_smooth vs shared reference (JPEG): image, PSNR all / in mask / '
        'outside mask (JPEG noise floor), identity PSNR')
  for r in rows:
    print('  %s %.2f %.2f %.2f %.2f' % r)
  mean = np.mean([r[1] for r in rows])
  print(f'  mean PSNR {mean:.2f} dB')
  # The reference was re-encoded as JPEG, so equality is impossible; ours
  # must be far closer to it than the unsmoothed input is.
  assert mean > 38
  assert all(r[1] > r[4] + 10 for r in rows)
