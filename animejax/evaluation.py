"""Evaluation metrics of a generator on the validation set.

Procedural source (paired ground truth): L1 and PSNR of G(photo) against the
anime rendering of the same scene, and the identity baseline PSNR(photo,
anime) that a useful G must beat, with the per-image gain over it and its
standard error (whether the validation set resolves the gain).

Both: colourfulness (Hasler & Suesstrunk, "Measuring colourfulness in
natural images", SPIE 2003, eq. 3) of G(photo), of the photos and of the
style/target images: anime styles are far more colourful than photos, so this
number moving from the photos' value towards the style's is visible
stylisation in one scalar.

Real data (unpaired): KID between VGG19 features of G(photo) and of style
images, and content preservation (the [v2] content loss between G(photo) and
photo). KID is the unbiased MMD^2 with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3 of Binkowski et al., "Demystifying MMD GANs"
(ICLR 2018), eq. 4 and section 4 (features: pooled conv activations here
instead of Inception pool3, since VGG19 is what the training already loads).
`kid_with_stderr` adds the estimate's two-sample jackknife standard error;
`fid` is the Frechet distance of Heusel et al. (NeurIPS 2017) as pytorch-fid
computes it. Both take features of any network; the caller names it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

# Spatially averaged post-ReLU conv5_4 activations (512-d) of VGG19: the
# deepest conv features, the closest VGG analogue of Inception's pool3 used by
# the KID paper.
KID_LAYER = 'conv5_4'
# Binkowski et al. average the estimate over subsets of 1000 samples
# (torch-fidelity's kid_subset_size default is 1000, 100 subsets).
KID_SUBSET_SIZE = 1000
KID_NUM_SUBSETS = 100


def best_metric(config) -> tuple[str, str]:
  """(metric name, 'max'|'min') that ranks checkpoints of this config."""
  if config.data.source == 'procedural':
    return 'eval/psnr', 'max'
  return 'eval/kid', 'min'


# ------------------------------------------------------------------ numpy
def psnr_per_image(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """[N] PSNR in dB of [-1, 1] images on a [0, 1] scale (capped at 100 dB)."""
  a = (np.asarray(a, np.float64) + 1.0) / 2.0
  b = (np.asarray(b, np.float64) + 1.0) / 2.0
  mse = np.mean((a - b) ** 2, axis=tuple(range(1, a.ndim)))
  # Identical images would give inf; cap at 100 dB.
  return 10.0 * np.log10(1.0 / np.maximum(mse, 1e-10))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
  """Mean over images of the PSNR in dB of [-1, 1] images on a [0, 1] scale."""
  return float(np.mean(psnr_per_image(a, b)))


def paired_gain(generated: np.ndarray, photos: np.ndarray,
                targets: np.ndarray) -> dict[str, float]:
  """How much G(photo) beats the identity, image by image, in PSNR.

  The same scenes score both, so the per-image differences cancel most of
  the scene-to-scene spread: their standard error says whether a gain is
  resolved by this many validation pairs (a mean PSNR difference alone does
  not). Keys: 'eval/psnr_gain' (mean dB), 'eval/psnr_gain_stderr' (standard
  error of that mean; only with 2 or more pairs), 'eval/psnr_win_rate'
  (fraction of pairs where G scores higher).
  """
  gain = psnr_per_image(generated, targets) - psnr_per_image(photos, targets)
  out = {'eval/psnr_gain': float(np.mean(gain)),
         'eval/psnr_win_rate': float(np.mean(gain > 0))}
  if len(gain) >= 2:
    out['eval/psnr_gain_stderr'] = float(np.std(gain, ddof=1) /
                                         np.sqrt(len(gain)))
  return out


def l1(a: np.ndarray, b: np.ndarray) -> float:
  """Mean absolute difference of [-1, 1] images, on a [0, 1] scale."""
  return float(np.mean(np.abs(np.asarray(a, np.float64) -
                              np.asarray(b, np.float64))) / 2.0)


def colorfulness(images: np.ndarray) -> float:
  """Mean Hasler-Suesstrunk colourfulness M of [-1, 1] RGB images.

  Per image on the 0-255 scale: rg = R - G, yb = (R + G) / 2 - B,
  M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2)
  (population standard deviations, as in the paper).
  """
  x = (np.asarray(images, np.float64) + 1.0) * 127.5
  if x.ndim != 4 or x.shape[-1] != 3:
    raise ValueError(f'colorfulness expects [N, H, W, 3] images, got {x.shape}')
  r, g, b = x[..., 0], x[..., 1], x[..., 2]
  rg = (r - g).reshape(len(x), -1)
  yb = (0.5 * (r + g) - b).reshape(len(x), -1)
  m = (np.sqrt(rg.std(1) ** 2 + yb.std(1) ** 2) +
       0.3 * np.sqrt(rg.mean(1) ** 2 + yb.mean(1) ** 2))
  return float(np.mean(m))


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """k(x, y) = (x.y / d + 1)^3, the KID kernel (Binkowski et al.)."""
  d = x.shape[1]
  return (x @ y.T / d + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
  """Unbiased MMD^2 estimate with the polynomial kernel (any set sizes)."""
  m, n = len(x), len(y)
  if m < 2 or n < 2:
    raise ValueError(f'KID needs at least 2 samples per set; got {m} and {n}.')
  kxx = polynomial_kernel(x, x)
  kyy = polynomial_kernel(y, y)
  kxy = polynomial_kernel(x, y)
  return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) +
               (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) -
               2.0 * kxy.mean())


def kid(x: np.ndarray, y: np.ndarray, subset_size: int = KID_SUBSET_SIZE,
        num_subsets: int = KID_NUM_SUBSETS, seed: int = 0) -> float:
  """Kernel Inception Distance between feature sets x [m, d] and y [n, d].

  When both sets fit in `subset_size` the estimate uses all samples once
  (deterministic); otherwise it averages `num_subsets` random subsets of
  `subset_size` samples drawn without replacement, as the paper does.
  """
  x = np.asarray(x, np.float64)
  y = np.asarray(y, np.float64)
  if len(x) <= subset_size and len(y) <= subset_size:
    return mmd2_unbiased(x, y)
  rng = np.random.default_rng(seed)
  size = min(subset_size, len(x), len(y))
  values = [mmd2_unbiased(x[rng.choice(len(x), size, replace=False)],
                          y[rng.choice(len(y), size, replace=False)])
            for _ in range(num_subsets)]
  return float(np.mean(values))


def fid(x: np.ndarray, y: np.ndarray) -> float:
  """Frechet distance of Gaussians fitted to feature sets x [m, d], y [n, d]:
  |mu_x - mu_y|^2 + tr(S_x + S_y - 2 (S_x S_y)^(1/2)) (Heusel et al. 2017;
  unbiased covariances, as pytorch-fid's np.cov)."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  mu_x, mu_y = x.mean(0), y.mean(0)
  s_x, s_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
  with warnings.catch_warnings():  # singular for N <= d: handled below
    warnings.simplefilter('ignore')
    covmean = scipy.linalg.sqrtm(s_x @ s_y)
    if not np.all(np.isfinite(covmean)):
      # pytorch-fid: a singular product -> add eps to the diagonals.
      off = np.eye(len(s_x)) * 1e-6
      covmean = scipy.linalg.sqrtm((s_x + off) @ (s_y + off))
  covmean = np.real(covmean)
  return float(np.sum((mu_x - mu_y) ** 2) + np.trace(s_x) + np.trace(s_y) -
               2.0 * np.trace(covmean))


def kid_with_stderr(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
  """Unbiased KID (`mmd2_unbiased`) on all of x and y, and its
  two-sample jackknife standard error (Arvesen 1969): leave-one-out
  estimates without each x_i and each y_j, var = (m-1)/m sum_i (t_i - t.)^2
  + (n-1)/n sum_j (t_j - t.)^2, computed from the kernel's row sums."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  m, n = len(x), len(y)
  if m < 3 or n < 3:
    raise ValueError(f'KID stderr needs >= 3 samples per set; got {m}, {n}.')
  kxx = polynomial_kernel(x, x)
  kyy = polynomial_kernel(y, y)
  kxy = polynomial_kernel(x, y)
  np.fill_diagonal(kxx, 0.0)
  np.fill_diagonal(kyy, 0.0)
  sxx, syy, sxy = kxx.sum(), kyy.sum(), kxy.sum()
  value = sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2 * sxy / (m * n)
  t_x = ((sxx - 2 * kxx.sum(1)) / ((m - 1) * (m - 2)) + syy / (n * (n - 1))
         - 2 * (sxy - kxy.sum(1)) / ((m - 1) * n))
  t_y = (sxx / (m * (m - 1)) + (syy - 2 * kyy.sum(1)) / ((n - 1) * (n - 2))
         - 2 * (sxy - kxy.sum(0)) / (m * (n - 1)))
  var = ((m - 1) / m * np.sum((t_x - t_x.mean()) ** 2) +
         (n - 1) / n * np.sum((t_y - t_y.mean()) ** 2))
  return float(value), float(np.sqrt(var))


# ------------------------------------------------------------------ models
def _batched(fn: Callable[[jax.Array], jax.Array], images: np.ndarray,
             batch_size: int) -> np.ndarray:
  """Applies a jitted fn in fixed-size chunks (one compilation; pads the end)."""
  out = []
  n = len(images)
  for start in range(0, n, batch_size):
    chunk = images[start:start + batch_size]
    pad = batch_size - len(chunk)
    if pad:
      chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, 0)], 0)
    out.append(np.asarray(fn(jnp.asarray(chunk)))[:len(chunk) - pad])
  return np.concatenate(out, 0)


class Evaluator:
  """Jitted generator/VGG applications and the metrics of one config."""

  def __init__(self, generator, vgg, vgg_params, content_layer: str,
               batch_size: int):
    self.batch_size = batch_size
    self._vgg_params = vgg_params
    self._generate = jax.jit(
        lambda p, x: jnp.clip(generator.apply({'params': p}, x), -1.0, 1.0))

    def pooled(vp, x):
      f = vgg.apply({'params': vp}, x, layer=KID_LAYER, pre_relu=False)
      return jnp.mean(f.astype(jnp.float32), axis=(1, 2))

    def content(vp, gx, x):
      # [v2] con_loss: L1 (mean) between VGG features of G(x) and x.
      fg = vgg.apply({'params': vp}, gx, layer=content_layer, pre_relu=True)
      fx = vgg.apply({'params': vp}, x, layer=content_layer, pre_relu=True)
      return jnp.mean(jnp.abs(fg.astype(jnp.float32) - fx.astype(jnp.float32)),
                      axis=(1, 2, 3))

    self._pooled = jax.jit(pooled)
    self._content = jax.jit(content)
    # (style array, its KID features): the validation style set is the same
    # array at every periodic eval, and its VGG pass costs as much as the
    # generated images' (2.4 s of 5.6 s for 64 images at 64 px on 2 cores).
    self._style_cache: tuple[np.ndarray, np.ndarray] | None = None

  def generate(self, g_params: Any, photos: np.ndarray) -> np.ndarray:
    return _batched(lambda x: self._generate(g_params, x), photos,
                    self.batch_size)

  def features(self, images: np.ndarray) -> np.ndarray:
    return _batched(lambda x: self._pooled(self._vgg_params, x), images,
                    self.batch_size)

  def style_features(self, val_style: np.ndarray) -> np.ndarray:
    """features(val_style), computed once per style array (not copied: an
    array changed in place after a call keeps its old features)."""
    if self._style_cache is None or self._style_cache[0] is not val_style:
      self._style_cache = (val_style, self.features(val_style))
    return self._style_cache[1]

  def content_loss(self, generated: np.ndarray, photos: np.ndarray) -> float:
    both = np.concatenate([generated, photos], axis=-1)
    per_image = _batched(
        lambda z: self._content(self._vgg_params, z[..., :3], z[..., 3:]),
        both, self.batch_size)
    return float(np.mean(per_image))

  def __call__(self, g_params: Any, val_photos: np.ndarray,
               val_targets: np.ndarray | None = None,
               val_style: np.ndarray | None = None,
               generated: np.ndarray | None = None) -> dict[str, float]:
    """All metrics that the available validation data allow ('eval/...')."""
    if generated is None:
      generated = self.generate(g_params, val_photos)
    out = {'eval/content': self.content_loss(generated, val_photos),
           'eval/colorfulness': colorfulness(generated),
           'eval/colorfulness_photo': colorfulness(val_photos)}
    style = val_targets if val_targets is not None else val_style
    if style is not None and len(style):
      out['eval/colorfulness_style'] = colorfulness(style)
    if val_targets is not None:
      out['eval/l1'] = l1(generated, val_targets)
      out['eval/psnr'] = psnr(generated, val_targets)
      out['eval/l1_identity'] = l1(val_photos, val_targets)
      out['eval/psnr_identity'] = psnr(val_photos, val_targets)
      out.update(paired_gain(generated, val_photos, val_targets))
    if val_style is not None and len(val_style) >= 2 and len(generated) >= 2:
      out['eval/kid'] = kid(self.features(generated),
                            self.style_features(val_style))
    return out
