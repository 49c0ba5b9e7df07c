"""AnimeGANv2 generator, layer for layer as the official TF graph.

Source: [v2] TachibanaYoshino/AnimeGANv2 `net/generator.py` (G_net) and the
PyTorch conversion bryandlee/animegan2-pytorch `model.py` (same layers).

Layer list (c(n) = max(1, round(n * width)); every conv has no bias except
the depthwise one; CNL = Conv -> LayerNorm -> LeakyReLU(0.2)):

  name      op                                   [v2] scope
  A0        CNL 7x7   3 -> c32, reflect pad 3     G_MODEL/A/Conv
  A1        CNL 3x3/2 -> c64, reflect pad (0, 1)  G_MODEL/A/Conv_1
  A2        CNL 3x3   -> c64, reflect pad 1       G_MODEL/A/Conv_2
  B0        CNL 3x3/2 -> c128                     G_MODEL/B/Conv
  B1        CNL 3x3   -> c128                     G_MODEL/B/Conv_1
  C0        CNL 3x3   -> c128                     G_MODEL/C/Conv
  r1        IRB c128 -> c256 (no residual)        G_MODEL/C/r1
  r2..r4    IRB c256 -> c256 (+ residual)         G_MODEL/C/r2..r4
  C1        CNL 3x3   -> c128                     G_MODEL/C/Conv_1
  (resize x2)
  D0        CNL 3x3   -> c128                     G_MODEL/D/Conv
  D1        CNL 3x3   -> c128                     G_MODEL/D/Conv_1
  (resize x2)
  E0        CNL 3x3   -> c64                      G_MODEL/E/Conv
  E1        CNL 3x3   -> c64                      G_MODEL/E/Conv_1
  E2        CNL 7x7   -> c32                      G_MODEL/E/Conv_2
  out       conv 1x1  -> 3, no pad, then tanh     G_MODEL/out_layer/Conv

  IRB (InvertedRes_block, expansion 2), bottleneck b = round(2 * in):
    expand   CNL 1x1 in -> b (no pad)            <r>/Conv, <r>/LayerNorm
    dwise    depthwise 3x3 + bias, reflect pad 1 <r>/<r>/w, <r>/<r>/bias
    norm1    LayerNorm, then LeakyReLU           <r>/1
    project  conv 1x1 b -> out                   <r>/Conv_1
    norm2    LayerNorm (linear)                  <r>/2
    + input when in == out

Param tree (params collection):
  CNL blocks  {'conv': {'kernel' [k, k, in, out] (HWIO, as TF)},
               'norm': {'scale' [out], 'bias' [out]}}   (TF LayerNorm gamma/beta)
  IRB blocks  {'expand': <CNL>, 'dwise': {'kernel' [3, 3, 1, b], 'bias' [b]},
               'norm1': {'scale', 'bias'}, 'project': {'kernel' [1, 1, b, out]},
               'norm2': {'scale', 'bias'}}
  'out'       {'kernel' [1, 1, c32, 3]}
The TF depthwise variable `w` is [3, 3, C, 1]: transpose (0, 1, 3, 2) to ours.
Total at width 1.0: 2,143,552 parameters.

Numerics: `upsample` chooses the x2 bilinear resize ('tf1' as the TF graph,
'align_corners' as animegan2-pytorch, 'half_pixel' = jax.image.resize) and
`eps` the layer-norm epsilon (TF 1e-12, torch GroupNorm 1e-5).
"""

from __future__ import annotations

from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from animejax.models import layers

Array = jax.Array

# [v2] tools/ops.py layer_norm -> tf.contrib.layers.layer_norm, whose
# variance_epsilon is fixed at 1e-12.
TF_LAYER_NORM_EPS = 1e-12


def scaled(n: int, width: float) -> int:
  """Channel count n scaled by the width multiplier (at least 1)."""
  return max(1, int(round(n * width)))


def v2_pads(kernel_size: int, stride: int) -> layers.Pads:
  """[v2] net/generator.py Conv2D: reflect padding before a VALID conv."""
  if stride == 2:
    return (0, 1, 0, 1)  # pads bottom/right only
  if kernel_size in (3, 7):
    p = kernel_size // 2
    return (p, p, p, p)
  return (0, 0, 0, 0)  # 1x1 convs


class ConvNormLReLU(nn.Module):
  """[v2] Conv2DNormLReLU: conv (no bias) -> layer norm -> lrelu(0.2)."""
  features: int
  kernel_size: int = 3
  stride: int = 1
  eps: float = TF_LAYER_NORM_EPS
  dtype: Any = jnp.float32
  conv_impl: str = 'auto'

  @nn.compact
  def __call__(self, x: Array) -> Array:
    x = layers.Conv(self.features, self.kernel_size, self.stride,
                    pads=v2_pads(self.kernel_size, self.stride),
                    dtype=self.dtype, conv_impl=self.conv_impl,
                    name='conv')(x)
    x = layers.LayerNorm(self.eps, name='norm')(x)
    return layers.lrelu(x)


class InvertedResBlock(nn.Module):
  """[v2] InvertedRes_block: 1x1 expand, depthwise 3x3, 1x1 linear project."""
  features: int
  expansion: float = 2.0
  eps: float = TF_LAYER_NORM_EPS
  dtype: Any = jnp.float32
  conv_impl: str = 'auto'

  @nn.compact
  def __call__(self, x: Array) -> Array:
    c_in = x.shape[-1]
    bottleneck = max(1, int(round(self.expansion * c_in)))
    h = ConvNormLReLU(bottleneck, 1, eps=self.eps, dtype=self.dtype,
                      conv_impl=self.conv_impl, name='expand')(x)
    h = layers.DepthwiseConv(3, pads=(1, 1, 1, 1), dtype=self.dtype,
                             conv_impl=self.conv_impl, name='dwise')(h)
    h = layers.lrelu(layers.LayerNorm(self.eps, name='norm1')(h))
    h = layers.Conv(self.features, 1, dtype=self.dtype,
                    conv_impl=self.conv_impl, name='project')(h)
    h = layers.LayerNorm(self.eps, name='norm2')(h)
    if c_in == self.features:  # [v2] residual only when shapes match
      h = x.astype(h.dtype) + h
    return h


class AnimeGANv2Generator(nn.Module):
  """AnimeGANv2 G_net. x [N, H, W, 3] in [-1, 1] -> same shape in [-1, 1].

  H and W must be multiples of `size_multiple` (two stride-2 convs, two x2
  resizes). Output is float32 whatever `dtype` (the compute dtype) is.
  """
  width: float = 1.0
  upsample: str = 'tf1'
  eps: float = TF_LAYER_NORM_EPS
  dtype: Any = jnp.float32
  conv_impl: str = 'auto'

  size_multiple: ClassVar[int] = 4

  @nn.compact
  def __call__(self, x: Array) -> Array:
    layers.check_size(x, self.size_multiple, 'AnimeGANv2Generator')
    if self.upsample not in layers.UPSAMPLE_MODES:
      raise ValueError(f'upsample={self.upsample!r}; expected one of '
                       f'{layers.UPSAMPLE_MODES}.')
    c = lambda n: scaled(n, self.width)
    kw = dict(eps=self.eps, dtype=self.dtype, conv_impl=self.conv_impl)
    cnl = lambda f, name, k=3, s=1: ConvNormLReLU(f, k, s, name=name, **kw)
    irb = lambda f, name: InvertedResBlock(f, name=name, **kw)
    h_in, w_in = x.shape[1:3]

    x = x.astype(self.dtype)
    x = cnl(c(32), 'A0', k=7)(x)
    x = cnl(c(64), 'A1', s=2)(x)
    x = cnl(c(64), 'A2')(x)
    half = x.shape[1:3]
    x = cnl(c(128), 'B0', s=2)(x)
    x = cnl(c(128), 'B1')(x)
    x = cnl(c(128), 'C0')(x)
    for name in ('r1', 'r2', 'r3', 'r4'):
      x = irb(c(256), name)(x)
    x = cnl(c(128), 'C1')(x)
    # [v2] Unsample: resize x2 then CNL; animegan2-pytorch resizes to the
    # size of block A's output and then of the input (= x2 here).
    x = layers.resize_bilinear(x, half, self.upsample)
    x = cnl(c(128), 'D0')(x)
    x = cnl(c(128), 'D1')(x)
    x = layers.resize_bilinear(x, (h_in, w_in), self.upsample)
    x = cnl(c(64), 'E0')(x)
    x = cnl(c(64), 'E1')(x)
    x = cnl(c(32), 'E2', k=7)(x)
    x = layers.Conv(3, 1, dtype=self.dtype, conv_impl=self.conv_impl,
                    name='out')(x)
    return jnp.tanh(x.astype(jnp.float32))
