"""Conv / norm / resize building blocks shared by the AnimeGAN generators.

All layers are NHWC, params float32, computation in `dtype` (norm statistics
in float32). Conv kernels are HWIO `[kh, kw, in, out]`; depthwise kernels are
`[kh, kw, 1, C]` (flax's grouped-conv layout; TF stores them `[kh, kw, C, 1]`).

Two numerically equivalent implementations, chosen by `conv_impl`:
  'plain'  reflect pad + `lax.conv_general_dilated(padding='VALID')`, grouped
           conv for depthwise: the literal translation of the TF graph.
  'fast'   formulations that avoid slow XLA:CPU paths (measured with jax
           0.10.2 on CPU, see the benchmark notes in `_conv_fast`):
           - a VALID conv is ~5-7x slower than the same conv with symmetric
             explicit padding, so the reflect-padded input is convolved with
             extra zero padding and the centre (= the VALID result) is cropped;
           - depthwise 3x3 via `feature_group_count=C` is ~20x slower than
             nine shifted multiply-adds, so it is written that way.
  'auto'   'fast' on CPU, 'plain' on GPU/TPU (where the XLA conv is fast).
The param tree is identical for every implementation, so weights move freely.
The default for 'auto' can be forced with $ANIMEJAX_CONV_IMPL=fast|plain.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

Array = jax.Array
Dtype = Any
Pads = tuple[int, int, int, int]  # (top, bottom, left, right)

CONV_IMPLS = ('auto', 'fast', 'plain')
UPSAMPLE_MODES = ('tf1', 'align_corners', 'half_pixel')
_DN = ('NHWC', 'HWIO', 'NHWC')

# [v2] tools/ops.py / net/generator.py: convs use
# tf.contrib.layers.variance_scaling_initializer() = factor 2, FAN_IN,
# truncated normal.
he_init = nn.initializers.variance_scaling(2.0, 'fan_in', 'truncated_normal')
# [v2] dwise_conv: the same initializer on a [3, 3, C, 1] variable, for which
# TF counts fan_in = 3 * 3 * C; our [3, 3, 1, C] layout needs in_axis=-1.
depthwise_init = nn.initializers.variance_scaling(
    2.0, 'fan_in', 'truncated_normal', in_axis=-1, out_axis=-2)


def resolve_conv_impl(impl: str) -> str:
  """'auto' -> 'fast' on CPU, 'plain' elsewhere; validates the name."""
  if impl not in CONV_IMPLS:
    raise ValueError(f'conv_impl={impl!r}; expected one of {CONV_IMPLS}.')
  if impl == 'auto':
    env = os.environ.get('ANIMEJAX_CONV_IMPL', '')
    if env:
      if env not in ('fast', 'plain'):
        raise ValueError(f'$ANIMEJAX_CONV_IMPL={env!r}; use fast or plain.')
      return env
    return 'fast' if jax.default_backend() == 'cpu' else 'plain'
  return impl


def reflect_pad(x: Array, pads: Pads) -> Array:
  """Reflect-pads H and W of an NHWC array (TF/torch REFLECT: edge excluded)."""
  t, b, l, r = pads
  if not (t or b or l or r):
    return x
  if max(t, b) >= x.shape[1] or max(l, r) >= x.shape[2]:
    raise ValueError(f'Reflect padding {pads} needs a feature map larger than '
                     f'the pad; got {x.shape[1]}x{x.shape[2]}. Use a larger '
                     'input image.')
  return jnp.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), mode='reflect')


def _pad(x: Array, pads: Pads, mode: str) -> Array:
  if mode == 'reflect':
    return reflect_pad(x, pads)
  if mode == 'zero':
    t, b, l, r = pads
    return jnp.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))
  raise ValueError(f'pad_mode={mode!r}; expected reflect or zero.')


def _conv_valid_plain(x: Array, kernel: Array, stride: int) -> Array:
  return lax.conv_general_dilated(x, kernel, (stride, stride), 'VALID',
                                  dimension_numbers=_DN)


def _conv_valid_fast(x: Array, kernel: Array, stride: int) -> Array:
  """Same result as a VALID conv, through XLA:CPU's fast padded conv.

  Benchmark (jax 0.10.2, XLA:CPU, 7x7 64->32 at 256x256): VALID on the
  reflect-padded map 427 ms, symmetric padding 62 ms. We add q zeros on each
  side, with q a multiple of the stride so that output rows stay on the VALID
  grid, then crop the rows that the zeros touched.

  (Also tried: the zero-padded SAME conv of the unpadded map plus a border
  recomputed from thin reflect-padded strips. Some single layers ran up to
  ~30% faster, the whole AnimeGANv2 forward did not, and it compiles ~2x
  slower, so the crop is kept.)
  """
  kh, kw = kernel.shape[:2]
  if kh == 1 and kw == 1 and stride == 1:
    return _conv_valid_plain(x, kernel, stride)  # no padding involved
  h, w = x.shape[1:3]
  out_h, out_w = (h - kh) // stride + 1, (w - kw) // stride + 1
  qh = stride * -(-((kh - 1) // 2) // stride)
  qw = stride * -(-((kw - 1) // 2) // stride)
  y = lax.conv_general_dilated(x, kernel, (stride, stride),
                               ((qh, qh), (qw, qw)), dimension_numbers=_DN)
  oh, ow = qh // stride, qw // stride
  return y[:, oh:oh + out_h, ow:ow + out_w, :]


def conv2d(x: Array, kernel: Array, *, stride: int = 1,
           pads: Pads = (0, 0, 0, 0), pad_mode: str = 'reflect',
           impl: str = 'auto') -> Array:
  """Pad (reflect or zero) then VALID conv, as [v2] tools Conv2D does."""
  impl = resolve_conv_impl(impl)
  if pad_mode == 'zero' and any(pads):
    # Zero padding is native to the conv and has no slow path.
    t, b, l, r = pads
    return lax.conv_general_dilated(x, kernel, (stride, stride),
                                    ((t, b), (l, r)), dimension_numbers=_DN)
  x = _pad(x, pads, pad_mode)
  if impl == 'plain':
    return _conv_valid_plain(x, kernel, stride)
  return _conv_valid_fast(x, kernel, stride)


def depthwise_conv2d(x: Array, kernel: Array, *, stride: int = 1,
                     pads: Pads = (1, 1, 1, 1), pad_mode: str = 'reflect',
                     impl: str = 'auto') -> Array:
  """Pad then VALID depthwise conv; kernel [kh, kw, 1, C]."""
  impl = resolve_conv_impl(impl)
  x = _pad(x, pads, pad_mode)
  kh, kw, _, c = kernel.shape
  if impl == 'plain':
    return lax.conv_general_dilated(x, kernel, (stride, stride), 'VALID',
                                    dimension_numbers=_DN,
                                    feature_group_count=c)
  # Benchmark (64x64x512, 3x3): grouped conv 95 ms, shifted sums 4 ms.
  h = (x.shape[1] - kh) // stride + 1
  w = (x.shape[2] - kw) // stride + 1
  y = None
  for i in range(kh):
    for j in range(kw):
      tap = lax.slice(x, (0, i, j, 0),
                      (x.shape[0], i + stride * (h - 1) + 1,
                       j + stride * (w - 1) + 1, c), (1, stride, stride, 1))
      term = tap * kernel[i, j, 0]
      y = term if y is None else y + term
  return y


class Conv(nn.Module):
  """Explicitly padded conv: params {'kernel' [kh, kw, in, out], 'bias'?}."""
  features: int
  kernel_size: int = 3
  stride: int = 1
  pads: Pads = (0, 0, 0, 0)
  pad_mode: str = 'reflect'
  use_bias: bool = False
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32
  kernel_init: Callable[..., Array] = he_init
  conv_impl: str = 'auto'

  @nn.compact
  def __call__(self, x: Array) -> Array:
    k = self.kernel_size
    kernel = self.param('kernel', self.kernel_init,
                        (k, k, x.shape[-1], self.features), self.param_dtype)
    y = conv2d(x.astype(self.dtype), kernel.astype(self.dtype),
               stride=self.stride, pads=self.pads, pad_mode=self.pad_mode,
               impl=self.conv_impl)
    if self.use_bias:
      bias = self.param('bias', nn.initializers.zeros, (self.features,),
                        self.param_dtype)
      y = y + bias.astype(self.dtype)
    return y


class DepthwiseConv(nn.Module):
  """Depthwise conv: params {'kernel' [k, k, 1, C], 'bias' [C]?}."""
  kernel_size: int = 3
  stride: int = 1
  pads: Pads = (1, 1, 1, 1)
  pad_mode: str = 'reflect'
  use_bias: bool = True
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32
  kernel_init: Callable[..., Array] = depthwise_init
  conv_impl: str = 'auto'

  @nn.compact
  def __call__(self, x: Array) -> Array:
    k, c = self.kernel_size, x.shape[-1]
    kernel = self.param('kernel', self.kernel_init, (k, k, 1, c),
                        self.param_dtype)
    y = depthwise_conv2d(x.astype(self.dtype), kernel.astype(self.dtype),
                         stride=self.stride, pads=self.pads, pad_mode=self.pad_mode,
                         impl=self.conv_impl)
    if self.use_bias:
      bias = self.param('bias', nn.initializers.zeros, (c,), self.param_dtype)
      y = y + bias.astype(self.dtype)
    return y


class ConvTranspose(nn.Module):
  """Transposed conv with torch semantics (padding, output_padding).

  Params {'kernel' [k, k, in, out], 'bias' [out]?}: the kernel is stored in the
  forward-conv orientation of the *gradient* (torch `[in, out, kh, kw]`
  transposed to `[kh, kw, in, out]`), i.e. out[i*s - p + a] += x[i] * k[a].
  """
  features: int
  kernel_size: int = 3
  stride: int = 2
  padding: int = 1
  output_padding: int = 1
  use_bias: bool = True
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32
  kernel_init: Callable[..., Array] = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: Array) -> Array:
    k, s, p = self.kernel_size, self.stride, self.padding
    kernel = self.param('kernel', self.kernel_init,
                        (k, k, x.shape[-1], self.features), self.param_dtype)
    # A transposed conv is the conv of the s-dilated input with the spatially
    # flipped kernel, padded by k - 1 - p (plus output_padding at the end).
    lo, hi = k - 1 - p, k - 1 - p + self.output_padding
    y = lax.conv_general_dilated(
        x.astype(self.dtype), kernel[::-1, ::-1].astype(self.dtype), (1, 1),
        ((lo, hi), (lo, hi)), lhs_dilation=(s, s), dimension_numbers=_DN)
    if self.use_bias:
      bias = self.param('bias', nn.initializers.zeros, (self.features,),
                        self.param_dtype)
      y = y + bias.astype(self.dtype)
    return y


def _normalize(x: Array, axes: Sequence[int], eps: float, scale: Array,
               bias: Array) -> Array:
  xf = x.astype(jnp.float32)
  mean = jnp.mean(xf, axis=axes, keepdims=True)
  var = jnp.mean(jnp.square(xf - mean), axis=axes, keepdims=True)
  y = (xf - mean) * lax.rsqrt(var + eps)
  return (y * scale + bias).astype(x.dtype)


class LayerNorm(nn.Module):
  """[v2] tf.contrib.layers.layer_norm on NHWC: statistics over (H, W, C) per
  sample, per-channel scale and bias (= torch GroupNorm(1, C)).

  eps: TF's layer_norm uses 1e-12 ([v2]); the animegan2-pytorch conversion
  uses GroupNorm's 1e-5.
  """
  eps: float = 1e-12
  param_dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    c = x.shape[-1]
    scale = self.param('scale', nn.initializers.ones, (c,), self.param_dtype)
    bias = self.param('bias', nn.initializers.zeros, (c,), self.param_dtype)
    return _normalize(x, (1, 2, 3), self.eps, scale, bias)


class InstanceNorm(nn.Module):
  """Per-sample, per-channel normalisation over (H, W) with scale and bias
  ([v1] tf.contrib.layers.instance_norm, torch InstanceNorm2d(affine))."""
  eps: float = 1e-6
  use_scale: bool = True
  use_bias: bool = True
  param_dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    c = x.shape[-1]
    scale = (self.param('scale', nn.initializers.ones, (c,), self.param_dtype)
             if self.use_scale else jnp.ones((c,), jnp.float32))
    bias = (self.param('bias', nn.initializers.zeros, (c,), self.param_dtype)
            if self.use_bias else jnp.zeros((c,), jnp.float32))
    return _normalize(x, (1, 2), self.eps, scale, bias)


def lrelu(x: Array, slope: float = 0.2) -> Array:
  """[v2] tools/ops.py lrelu: alpha 0.2."""
  return jnp.where(x >= 0, x, slope * x)


# ------------------------------------------------------------------ resizing


@functools.lru_cache(maxsize=256)
def _lerp_indices(n_in: int, n_out: int, mode: str
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(i0, i1, frac) with out[j] = in[i0] + (in[i1] - in[i0]) * frac."""
  j = np.arange(n_out, dtype=np.float64)
  if mode == 'tf1':
    # TF1 resize_bilinear, align_corners=False, half_pixel_centers=False:
    # src = dst * in / out (tensorflow/core/kernels/image/resize_bilinear_op).
    src = j * (n_in / n_out)
  elif mode == 'align_corners':
    # torch F.interpolate(align_corners=True): src = dst * (in-1) / (out-1).
    src = j * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros_like(j)
  else:
    raise ValueError(f'no index rule for mode {mode!r}')
  i0 = np.clip(np.floor(src), 0, n_in - 1).astype(np.int32)
  i1 = np.minimum(i0 + 1, n_in - 1).astype(np.int32)
  frac = (src - i0).astype(np.float32)
  return i0, i1, frac


def _resize_axis(x: Array, axis: int, n_out: int, mode: str) -> Array:
  n_in = x.shape[axis]
  if n_in == n_out:
    return x
  i0, i1, frac = _lerp_indices(n_in, n_out, mode)
  shape = [1] * x.ndim
  shape[axis] = n_out
  f = jnp.asarray(frac, x.dtype).reshape(shape)
  if mode == 'tf1' and n_out == 2 * n_in:
    # x2 exactly: even rows copy, odd rows are midpoints (last one clamped).
    # Strided writes instead of gathers; same numbers as the general rule.
    nxt = jnp.concatenate([lax.slice_in_dim(x, 1, n_in, axis=axis),
                           lax.slice_in_dim(x, n_in - 1, n_in, axis=axis)],
                          axis=axis)
    mid = x + (nxt - x) * jnp.asarray(0.5, x.dtype)
    y = jnp.stack([x, mid], axis=axis + 1)
    new_shape = list(x.shape)
    new_shape[axis] = n_out
    return y.reshape(new_shape)
  a = jnp.take(x, jnp.asarray(i0), axis=axis)
  b = jnp.take(x, jnp.asarray(i1), axis=axis)
  return a + (b - a) * f


def resize_bilinear(x: Array, size: tuple[int, int], mode: str) -> Array:
  """Bilinear resize of NHWC `x` to `size` = (H, W).

  mode: 'tf1' = TF1 `tf.image.resize_images` (align_corners=False,
  half_pixel_centers=False), as the official AnimeGAN TF graphs;
  'align_corners' = torch `F.interpolate(align_corners=True)`, as the
  animegan2-pytorch conversion; 'half_pixel' = `jax.image.resize` bilinear
  (= TF2 `tf.image.resize`, torch align_corners=False; antialiased when
  shrinking).
  """
  if mode not in UPSAMPLE_MODES:
    raise ValueError(f'upsample={mode!r}; expected one of {UPSAMPLE_MODES}.')
  h, w = size
  if mode == 'half_pixel':
    return jax.image.resize(x, (x.shape[0], h, w, x.shape[3]), 'bilinear')
  # TF interpolates rows first then columns; separable, so the order only
  # changes rounding.
  return _resize_axis(_resize_axis(x, 1, h, mode), 2, w, mode)


def check_size(x: Array, multiple: int, name: str) -> None:
  """Raises unless x is NHWC with 3 channels and H, W multiples of `multiple`."""
  if x.ndim != 4 or x.shape[-1] != 3:
    raise ValueError(f'{name} expects images [N, H, W, 3], got shape '
                     f'{tuple(x.shape)}.')
  h, w = x.shape[1:3]
  if h % multiple or w % multiple or h < multiple or w < multiple:
    raise ValueError(
        f'{name} needs H and W to be positive multiples of {multiple} (got '
        f'{h}x{w}); pad or resize the image first (animejax.inference does '
        'this for you).')
