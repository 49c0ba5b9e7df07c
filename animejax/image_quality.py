"""Super-resolution image-quality metrics: PSNR and SSIM on the Y channel.

The SR literature (SRCNN onwards; SRGAN [Ledig et al. 2017] Table 2) reports
PSNR and SSIM on the luma (Y) channel of ITU-R BT.601 YCbCr as computed by
MATLAB `rgb2ycbcr`, after cropping `scale` pixels from each border. This
module does the same in numpy (float64), following BasicSR
`basicsr/metrics/psnr_ssim.py` (`calculate_psnr` / `calculate_ssim` with
test_y_channel=True, `to_y_channel`, `_ssim`):

  Y   = 16 + 65.481 R + 128.553 G + 24.966 B   (R, G, B in [0, 1]; Y in
        [16, 235] on the [0, 255] scale, not rounded).
  PSNR = 10 log10(255^2 / MSE(Y_a, Y_b)); inf for identical images.
  SSIM = mean of the SSIM map of Wang et al. 2004 with an 11x11 Gaussian
        window (sigma 1.5), K1 0.01, K2 0.03, L = 255, over the 'valid'
        window positions only (BasicSR crops 5 pixels of the filtered maps;
        tf.image.ssim uses padding='VALID': the same numbers).

Inputs are [..., H, W, 3] RGB in [0, 1] (batched [N, H, W, 3] gives one
value per image, [N]). `border` pixels are cropped from every side first
(BasicSR crop_border; SR papers use the scale factor, 4 for x4).

Where the sources differ:
  - Lornatang/SRGAN-PyTorch `image_quality_assessment.py` ([port]) adds
    eps 1e-8 to the MSE on the [0, 1] scale, so identical images give 80 dB
    (psnr_y(eps=1e-8) reproduces that); its SSIM rounds Y to integers and
    clips the contrast-structure map at 0 (both absent from BasicSR and
    tf.image.ssim; `quantize=True` rounds the RGB input to 8 bits instead, as
    evaluating saved PNGs does).
  - Team7-Code/anime-image-development `Super Resolution/metrics.py` reports
    "PSNR" = -10 log10(MSE) on [-1, 1] RGB (tanh range), averaged over the
    batch before the log, no Y channel, no border crop. The peak-to-peak
    range there is 2, so for the same images PSNR on [0, 1] = that figure
    + 20 log10(2) = that figure + 6.02 dB (MSE on [-1, 1] is 4x the MSE on
    [0, 1]). It stays an RGB PSNR, not comparable to the Y-channel figures
    here.
"""

from __future__ import annotations

import functools
import math

import numpy as np

# ITU-R BT.601 luma, MATLAB rgb2ycbcr on [0, 1] RGB, [0, 255] output scale
# (BasicSR rgb2ycbcr / bgr2ycbcr y_only; [port] imgproc.rgb_to_ycbcr_torch).
Y_WEIGHTS = np.array([65.481, 128.553, 24.966])
Y_OFFSET = 16.0
# Wang et al. 2004; BasicSR _ssim; tf.image.ssim defaults.
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
PEAK = 255.0
# anime-image-development PSNR ([-1, 1]) -> PSNR on [0, 1].
PM1_TO_UNIT_PSNR_DB = 20.0 * math.log10(2.0)  # 6.0206


def _as_rgb(img: np.ndarray, quantize: bool) -> np.ndarray:
  img = np.asarray(img, np.float64)
  if img.ndim < 3 or img.shape[-1] != 3:
    raise ValueError(f'expected RGB images [..., H, W, 3], got shape '
                     f'{img.shape}.')
  if quantize:
    img = np.round(np.clip(img, 0.0, 1.0) * 255.0) / 255.0
  return img


def rgb_to_y(img: np.ndarray) -> np.ndarray:
  """[..., H, W, 3] RGB in [0, 1] -> [..., H, W] BT.601 luma in [16, 235].

  MATLAB rgb2ycbcr for double input, times 255 (BasicSR to_y_channel): not
  rounded.
  """
  img = _as_rgb(img, quantize=False)
  return img @ Y_WEIGHTS + Y_OFFSET


def _crop(y: np.ndarray, border: int) -> np.ndarray:
  if border < 0:
    raise ValueError(f'border={border} must be >= 0.')
  if border == 0:
    return y
  h, w = y.shape[-2:]
  if 2 * border >= min(h, w):
    raise ValueError(f'border={border} leaves nothing of a {h}x{w} image.')
  return y[..., border:h - border, border:w - border]


def _pair_y(a: np.ndarray, b: np.ndarray, border: int,
            quantize: bool) -> tuple[np.ndarray, np.ndarray]:
  a, b = _as_rgb(a, quantize), _as_rgb(b, quantize)
  if a.shape != b.shape:
    raise ValueError(f'images differ in shape: {a.shape} vs {b.shape}.')
  return (_crop(a @ Y_WEIGHTS + Y_OFFSET, border),
          _crop(b @ Y_WEIGHTS + Y_OFFSET, border))


def psnr_y(a: np.ndarray, b: np.ndarray, border: int = 4, *,
           quantize: bool = False, eps: float = 0.0) -> np.ndarray:
  """PSNR (dB) of the Y channel, per image: [..., H, W, 3] -> [...].

  BasicSR calculate_psnr(test_y_channel=True): 10 log10(255^2 / MSE) over
  the border-cropped Y in [0, 255]; inf where the images are identical.
  eps: added to the MSE on the [0, 1] scale ([port] uses 1e-8, which caps
  identical images at 80 dB). quantize: round the RGB inputs to 8 bits first.
  """
  ya, yb = _pair_y(a, b, border, quantize)
  mse = np.mean((ya - yb) ** 2, axis=(-2, -1)) / PEAK ** 2 + eps
  with np.errstate(divide='ignore'):
    return 10.0 * np.log10(1.0 / mse)


@functools.lru_cache(maxsize=4)
def gaussian_window_1d(size: int = SSIM_WINDOW,
                       sigma: float = SSIM_SIGMA) -> np.ndarray:
  """Normalised 1-D Gaussian (cv2.getGaussianKernel; MATLAB fspecial); the
  2-D SSIM window is its outer product."""
  x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
  g = np.exp(-(x ** 2) / (2.0 * sigma ** 2))
  return g / g.sum()


def _filter_valid(img: np.ndarray, g: np.ndarray) -> np.ndarray:
  """Separable 'valid' correlation of [..., H, W] with the window g x g."""
  k = g.shape[0]
  v = np.lib.stride_tricks.sliding_window_view(img, k, axis=-2)
  img = v @ g  # [..., H - k + 1, W]
  v = np.lib.stride_tricks.sliding_window_view(img, k, axis=-1)
  return v @ g


def ssim_y(a: np.ndarray, b: np.ndarray, border: int = 4, *,
           quantize: bool = False) -> np.ndarray:
  """SSIM of the Y channel, per image: [..., H, W, 3] -> [...].

  BasicSR calculate_ssim(test_y_channel=True) / tf.image.ssim(max_val=255)
  on Y: 11x11 Gaussian window (sigma 1.5), C1 = (0.01 L)^2, C2 = (0.03 L)^2,
  L = 255, the map averaged over the valid window positions. The cropped
  image must be at least 11x11.
  """
  ya, yb = _pair_y(a, b, border, quantize)
  if min(ya.shape[-2:]) < SSIM_WINDOW:
    raise ValueError(f'SSIM needs at least {SSIM_WINDOW}x{SSIM_WINDOW} '
                     f'pixels after the border crop, got {ya.shape[-2:]}.')
  g = gaussian_window_1d()
  c1 = (SSIM_K1 * PEAK) ** 2
  c2 = (SSIM_K2 * PEAK) ** 2
  mu_a, mu_b = _filter_valid(ya, g), _filter_valid(yb, g)
  var_a = _filter_valid(ya * ya, g) - mu_a ** 2
  var_b = _filter_valid(yb * yb, g) - mu_b ** 2
  cov = _filter_valid(ya * yb, g) - mu_a * mu_b
  ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2) /
              ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2)))
  return ssim_map.mean(axis=(-2, -1))


def pm1_psnr_to_unit(psnr_pm1: float) -> float:
  """anime-image-development's -10 log10(MSE) on [-1, 1] -> PSNR on [0, 1]
  (+20 log10(2) = +6.02 dB; both RGB, no border crop)."""
  return psnr_pm1 + PM1_TO_UNIT_PSNR_DB


# ------------------------------------------------------------ bicubic resize


def _cubic(x: np.ndarray) -> np.ndarray:
  """Keys cubic kernel, a = -0.5 (MATLAB imresize 'bicubic')."""
  ax = np.abs(x)
  ax2, ax3 = ax ** 2, ax ** 3
  return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) +
          (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def _resize_weights(n_in: int, n_out: int, scale: float
                    ) -> tuple[np.ndarray, np.ndarray]:
  """MATLAB imresize contributions(): (indices [n_out, P], weights)."""
  width = 4.0 / scale if scale < 1 else 4.0  # antialiasing when shrinking
  x = np.arange(1, n_out + 1, dtype=np.float64)
  u = x / scale + 0.5 * (1 - 1 / scale)  # 1-based input coordinate
  left = np.floor(u - width / 2)
  p = int(math.ceil(width)) + 2
  idx = left[:, None] + np.arange(p)[None, :]
  dist = u[:, None] - idx
  w = scale * _cubic(scale * dist) if scale < 1 else _cubic(dist)
  w = w / w.sum(axis=1, keepdims=True)
  # Out-of-range indices mirror (MATLAB: aux = [1:n, n:-1:1]).
  aux = np.concatenate([np.arange(n_in), np.arange(n_in)[::-1]])
  idx = aux[np.mod(idx.astype(np.int64) - 1, 2 * n_in)]
  return idx, w


def imresize_bicubic(img: np.ndarray, scale: float) -> np.ndarray:
  """MATLAB `imresize(img, scale, 'bicubic')` for float images [..., H, W, C].

  Output size ceil(H * scale) x ceil(W * scale); antialiased when scale < 1;
  borders mirrored; no clipping or rounding (MATLAB rounds and saturates
  only uint8 inputs). This is how the SR benchmarks' LR images are made
  (BasicSR `imresize`, [port] imgproc.image_resize). Differs from
  jax.image.resize / PIL (which renormalise the kernel at the borders instead
  of mirroring) near the edges only, and from torch bicubic (a = -0.75)
  everywhere.
  """
  img = np.asarray(img, np.float64)
  h, w = img.shape[-3:-1]
  out_h, out_w = int(math.ceil(h * scale)), int(math.ceil(w * scale))
  # MATLAB resizes the dimension with the smaller scale first; the scales
  # are equal here, so rows first.
  idx, wt = _resize_weights(h, out_h, scale)
  img = np.einsum('...hpwc,hp->...hwc', img[..., idx, :, :], wt)
  idx, wt = _resize_weights(w, out_w, scale)
  img = np.einsum('...hwpc,wp->...hwc', img[..., :, idx, :], wt)
  return img


def bicubic_baseline(lr: np.ndarray, scale: int) -> np.ndarray:
  """The 'Bicubic' row of SR tables: LR [..., h, w, 3] in [0, 1] up-sampled
  by `scale` with MATLAB bicubic, clipped to [0, 1]."""
  return np.clip(imresize_bicubic(lr, float(scale)), 0.0, 1.0)
