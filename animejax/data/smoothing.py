"""Edge smoothing of style images, as CartoonGAN and AnimeGAN prepare them.

Reference: [v2] tools/edge_smooth.py (taken from taki0112/CartoonGAN-Tensorflow;
CartoonGAN, Chen et al. CVPR 2018, section 3.2):

  gray  = cv2.imread(f, 0)                       # grayscale of the image
  edges = cv2.Canny(gray, 100, 200)
  mask  = cv2.dilate(edges, np.ones((5, 5)))
  pad   = np.pad(bgr, 2, mode='reflect')         # no edge repeat
  out[y, x, c] = sum(pad[y:y+5, x:x+5, c] * gauss)   where mask != 0
  gauss = outer(cv2.getGaussianKernel(5, 0))     # sigma 0.3*((5-1)/2-1)+0.8=1.1

The official loop assigns each float sum into the uint8 image, which
truncates. Here the whole padded image is filtered once (cv2.filter2D in
float64, correlation == convolution for this symmetric kernel) and the mask
selects the pixels; np.pad 'reflect' equals OpenCV's BORDER_REFLECT_101, and
since we pad explicitly the filter's own border mode never touches the kept
pixels. tests/test_data_smoothing.py checks this against the per-pixel loop.
"""

from __future__ import annotations

import cv2
import numpy as np

_KSIZE = 5                      # [v2] edge_smooth.py kernel_size = 5
_CANNY_LOW, _CANNY_HIGH = 100, 200  # [v2] cv2.Canny(gray_img, 100, 200)


def _gauss_kernel() -> np.ndarray:
  g = cv2.getGaussianKernel(_KSIZE, 0)
  return g @ g.T


def edge_mask(rgb: np.ndarray, gray: np.ndarray | None = None) -> np.ndarray:
  """Boolean [H, W] mask of the dilated Canny edges that get smoothed."""
  if gray is None:
    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
  edges = cv2.Canny(gray, _CANNY_LOW, _CANNY_HIGH)
  return cv2.dilate(edges, np.ones((_KSIZE, _KSIZE), np.uint8)) != 0


def edge_smooth(rgb: np.ndarray, gray: np.ndarray | None = None) -> np.ndarray:
  """Edge-smoothed copy of an [H, W, 3] uint8 RGB image.

  Args:
    rgb: [H, W, 3] uint8 (channel order does not matter for the blur).
    gray: optional [H, W] uint8 grayscale to detect edges on (the official
      script uses cv2.imread(path, 0), which for JPEGs is libjpeg's own
      luma decode); default cv2 RGB2GRAY of `rgb`.

  Returns:
    [H, W, 3] uint8.
  """
  rgb = np.asarray(rgb)
  if rgb.ndim != 3 or rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
    raise ValueError('edge_smooth wants an [H, W, 3] uint8 RGB image, got '
                     f'shape {rgb.shape} dtype {rgb.dtype}.')
  if min(rgb.shape[:2]) < 3:
    raise ValueError(f'edge_smooth needs at least 3x3 pixels, got {rgb.shape}.')
  mask = edge_mask(rgb, gray)
  out = rgb.copy()
  if not mask.any():
    return out
  p = _KSIZE // 2
  padded = np.pad(rgb, ((p, p), (p, p), (0, 0)), mode='reflect')
  blurred = cv2.filter2D(padded.astype(np.float64), -1, _gauss_kernel(),
                         borderType=cv2.BORDER_CONSTANT)[p:-p, p:-p]
  # Truncation, as the official float -> uint8 assignment.
  out[mask] = blurred[mask].astype(np.uint8)
  return out


def edge_smooth_reference(rgb: np.ndarray,
                          gray: np.ndarray | None = None) -> np.ndarray:
  """The official per-pixel loop (slow; for tests only)."""
  mask = edge_mask(rgb, gray)
  gauss = _gauss_kernel()
  p = _KSIZE // 2
  padded = np.pad(rgb, ((p, p), (p, p), (0, 0)), mode='reflect')
  out = rgb.copy()
  for y, x in zip(*np.nonzero(mask)):
    for c in range(3):
      out[y, x, c] = np.sum(padded[y:y + _KSIZE, x:x + _KSIZE, c] * gauss)
  return out
