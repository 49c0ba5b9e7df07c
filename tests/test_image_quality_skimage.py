"""Y-PSNR / Y-SSIM equal scikit-image's on the same Y channel and border
crop (issue 19's check; tests/test_image_quality.py checks tf.image.ssim).

scikit-image's references, set up as the SR literature measures:
  Y     skimage.color.rgb2ycbcr(rgb in [0, 1])[..., 0] (BT.601, [16, 235]);
  PSNR  skimage.metrics.peak_signal_noise_ratio(data_range=255);
  SSIM  skimage.metrics.structural_similarity(data_range=255,
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        (Wang et al. 2004's 11x11 Gaussian window; skimage averages the map
        after cropping (win - 1) / 2 pixels: the 'valid' positions).
Images: bicubic x4 down/up-sampled pairs of anime illustrations from
../shared/data/sr/anime_hr (skipped when absent) and synthetic ones.
"""

import glob
import os

import numpy as np
from PIL import Image
import pytest

from animejax import image_quality as iq
from animejax.data import sr_pairs

skimage = pytest.importorskip('skimage')
from skimage import color  # pylint: disable=g-import-not-at-top,wrong-import-position
from skimage import metrics  # pylint: disable=g-import-not-at-top,wrong-import-position

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get('ANIMEJAX_SHARED', os.path.join(REPO, '..', 'shared'))
ANIME_HR = os.path.join(SHARED, 'data', 'sr', 'anime_hr')


def _skimage_y(rgb01: np.ndarray, border: int) -> np.ndarray:
  y = color.rgb2ycbcr(rgb01)[..., 0]
  return y[border:-border, border:-border] if border else y


def _check(hr_u8: np.ndarray, sr_u8: np.ndarray, border: int) -> None:
  hr, sr = hr_u8 / 255.0, sr_u8 / 255.0
  ya, yb = _skimage_y(sr, border), _skimage_y(hr, border)
  want_psnr = metrics.peak_signal_noise_ratio(yb, ya, data_range=255)
  want_ssim = metrics.structural_similarity(
      yb, ya, data_range=255, gaussian_weights=True, sigma=1.5,
      use_sample_covariance=False)
  np.testing.assert_allclose(iq.psnr_y(sr, hr, border), want_psnr,
                             rtol=1e-10)
  np.testing.assert_allclose(iq.ssim_y(sr, hr, border), want_ssim,
                             rtol=1e-7, atol=1e-9)


def _bicubic_pair(hr_u8: np.ndarray, scale: int = 4):
  """(HR cropped to a multiple of scale, MATLAB-bicubic down + up)."""
  h, w = (s // scale * scale for s in hr_u8.shape[:2])
  hr = hr_u8[:h, :w]
  lr = sr_pairs.downscale(hr, scale)
  up = iq.bicubic_baseline(lr.astype(np.float32) / 255.0, scale)
  return hr, np.clip(np.round(up * 255.0), 0, 255).astype(np.uint8)


def test_matches_skimage_on_synthetic_images():
  rng = np.random.default_rng(0)
  yy, xx = np.mgrid[0:72, 0:88]
  smooth = 120 + 80 * np.sin(xx[..., None] / (4.0 + np.arange(3)) +
                             yy[..., None] / 7.0)
  hr = np.clip(smooth + rng.normal(0, 10, smooth.shape), 0, 255).astype(
      np.uint8)
  for border in (0, 4):
    hr_c, sr = _bicubic_pair(hr)
    _check(hr_c, sr, border)
    noisy = np.clip(hr.astype(int) + rng.integers(-20, 21, hr.shape), 0,
                    255).astype(np.uint8)
    _check(hr, noisy, border)


@pytest.mark.skipif(not os.path.isdir(ANIME_HR),
                    reason=f'no {ANIME_HR} (see README "Test data")')
def test_matches_skimage_on_anime_illustrations():
  paths = sorted(glob.glob(os.path.join(ANIME_HR, '*')))[-3:]
  assert paths
  for path in paths:
    hr = np.asarray(Image.open(path).convert('RGB'))
    y, x = hr.shape[0] // 2 - 96, hr.shape[1] // 2 - 128  # the centre
    hr_c, sr = _bicubic_pair(hr[y:y + 192, x:x + 256])
    assert (hr_c != sr).any()
    _check(hr_c, sr, border=4)  # x4: the SR tables' 4-px crop
