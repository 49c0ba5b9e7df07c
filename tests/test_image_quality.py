"""Y-channel PSNR / SSIM as the SR literature computes them (BasicSR,
MATLAB rgb2ycbcr), checked by hand values, a direct formula and
tf.image.ssim; MATLAB-style bicubic resizing."""

import math

import numpy as np
import pytest

from animejax import image_quality as iq


def _images(shape, seed=0):
  return np.random.default_rng(seed).uniform(0, 1, shape)


def _smooth_pair(n=2, h=40, w=44, seed=0):
  """A smooth image and a noisy copy: SSIM well away from 0 and 1."""
  rng = np.random.default_rng(seed)
  yy, xx = np.mgrid[0:h, 0:w] / 9.0
  base = np.stack([np.sin(yy + k) * np.cos(xx - k) for k in range(3)], -1)
  a = np.clip(0.5 + 0.4 * base[None] + 0.05 * rng.normal(size=(n, h, w, 3)),
              0, 1)
  b = np.clip(a + 0.08 * rng.normal(size=a.shape), 0, 1)
  return a, b


def test_rgb_to_y_hand_values():
  rgb = np.array([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1],
                  [0.5, 0.5, 0.5]], np.float64)[None]  # [1, 6, 3]
  # MATLAB rgb2ycbcr: Y = 16 + 65.481 R + 128.553 G + 24.966 B; white is
  # 16 + 219 = 235.
  np.testing.assert_allclose(
      iq.rgb_to_y(rgb)[0], [16.0, 235.0, 81.481, 144.553, 40.966, 125.5],
      atol=1e-9)
  with pytest.raises(ValueError, match='RGB'):
    iq.rgb_to_y(np.zeros((4, 4)))


def test_psnr_y_matches_direct_formula():
  a, b = _images((3, 20, 24, 3), 1), _images((3, 20, 24, 3), 2)
  got = iq.psnr_y(a, b, border=4)
  assert got.shape == (3,)
  for i in range(3):
    ya = 16 + a[i, 4:-4, 4:-4] @ [65.481, 128.553, 24.966]
    yb = 16 + b[i, 4:-4, 4:-4] @ [65.481, 128.553, 24.966]
    want = 10 * math.log10(255.0 ** 2 / np.mean((ya - yb) ** 2))
    assert got[i] == pytest.approx(want, abs=1e-10)
  # One image without a batch axis gives a scalar.
  assert iq.psnr_y(a[0], b[0]).shape == ()
  assert float(iq.psnr_y(a[0], b[0])) == pytest.approx(got[0])


def test_ssim_y_matches_tf_image_ssim():
  tf = pytest.importorskip('tensorflow')
  a, b = _smooth_pair()
  for border in (0, 4):
    got = iq.ssim_y(a, b, border=border)
    ya = iq.rgb_to_y(a)[..., None]
    yb = iq.rgb_to_y(b)[..., None]
    if border:
      ya = ya[:, border:-border, border:-border]
      yb = yb[:, border:-border, border:-border]
    # tf.image.ssim defaults: filter_size 11, filter_sigma 1.5, k1 0.01,
    # k2 0.03, VALID windows.
    want = tf.image.ssim(tf.constant(ya), tf.constant(yb), max_val=255.0,
                         filter_size=11, filter_sigma=1.5, k1=0.01,
                         k2=0.03).numpy()
    assert got.shape == (2,)
    assert 0.3 < got.min() and got.max() < 0.99
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_identical_images():
  a = _images((2, 24, 24, 3))
  assert np.all(np.isinf(iq.psnr_y(a, a)))
  # [port]'s eps 1e-8 on the [0, 1] MSE caps identical images at 80 dB.
  np.testing.assert_allclose(iq.psnr_y(a, a, eps=1e-8), 80.0)
  np.testing.assert_allclose(iq.ssim_y(a, a), 1.0, atol=1e-12)


def test_border_crop():
  a = _images((1, 32, 32, 3), 3)
  b = a.copy()
  b[:, :4] = 1 - b[:, :4]  # differs only in the top 4 rows
  assert np.isinf(iq.psnr_y(a, b, border=4)[0])
  assert iq.ssim_y(a, b, border=4)[0] == pytest.approx(1.0)
  assert np.isfinite(iq.psnr_y(a, b, border=3)[0])
  assert iq.ssim_y(a, b, border=0)[0] < 0.99
  with pytest.raises(ValueError, match='border'):
    iq.psnr_y(a, b, border=16)
  with pytest.raises(ValueError, match='11x11'):
    iq.ssim_y(a[:, :20, :20], b[:, :20, :20], border=5)


def test_quantize_rounds_to_8_bits():
  a = _images((1, 16, 16, 3), 4)
  b = np.round(a * 255) / 255 + 0.4 / 255  # rounds back to the same bytes
  assert np.isinf(iq.psnr_y(np.round(a * 255) / 255, b, quantize=True)[0])
  assert np.isfinite(iq.psnr_y(a, b)[0])


def test_pm1_psnr_conversion():
  a, b = _images((16, 16, 3), 5), _images((16, 16, 3), 6)
  # anime-image-development metrics.py: -10 log10(MSE) on [-1, 1] RGB.
  psnr_pm1 = -10 * math.log10(np.mean(((2 * a - 1) - (2 * b - 1)) ** 2))
  psnr_unit = 10 * math.log10(1.0 / np.mean((a - b) ** 2))
  assert iq.pm1_psnr_to_unit(psnr_pm1) == pytest.approx(psnr_unit)
  assert iq.PM1_TO_UNIT_PSNR_DB == pytest.approx(6.0206, abs=1e-4)


def test_imresize_bicubic():
  from PIL import Image  # pylint: disable=g-import-not-at-top
  const = np.full((1, 6, 7, 3), 0.3)
  np.testing.assert_allclose(iq.imresize_bicubic(const, 4), 0.3, atol=1e-12)
  np.testing.assert_allclose(iq.imresize_bicubic(const, 0.5), 0.3,
                             atol=1e-12)
  x = _images((1, 10, 12, 3), 7)
  up = iq.imresize_bicubic(x, 4)
  assert up.shape == (1, 40, 48, 3)
  # Away from the borders MATLAB bicubic (Keys a = -0.5, half-pixel
  # centres) equals PIL's float BICUBIC; they differ at the edges (MATLAB
  # mirrors, PIL renormalises the truncated kernel).
  ref = np.asarray(Image.fromarray(x[0, :, :, 0].astype(np.float32),
                                   mode='F').resize((48, 40), Image.BICUBIC))
  np.testing.assert_allclose(up[0, 8:-8, 8:-8, 0], ref[8:-8, 8:-8],
                             atol=1e-5)
  assert np.abs(up[0, :2, :, 0] - ref[:2]).max() > 1e-3
  # Antialiased x1/4 of a linear ramp: interior samples are the ramp at the
  # output pixel centres (the kernel reproduces linear functions).
  ramp = np.broadcast_to(np.arange(32.0)[None, :, None, None],
                         (1, 32, 32, 3))
  down = iq.imresize_bicubic(ramp, 0.25)
  assert down.shape == (1, 8, 8, 3)
  np.testing.assert_allclose(down[0, 2:-2, 0, 0], 4 * np.arange(2, 6) + 1.5,
                             atol=1e-9)
  base = iq.bicubic_baseline(x, 2)
  assert base.shape == (1, 20, 24, 3) and base.min() >= 0 and base.max() <= 1
