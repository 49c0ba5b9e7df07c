"""AnimeGAN (v1) generator, layer for layer as the official TF graph.

Source: [v1] TachibanaYoshino/AnimeGAN `net/generator.py` (G_net) and
`tools/ops.py`.

Building blocks (c(n) = max(1, round(n * width)); no conv has a bias):
  CNL   Conv2DNormLReLU: conv (3x3 reflect pad 1, or 1x1) -> instance norm
        (tools/ops.py instance_norm, eps 1e-5) -> lrelu(0.2)
  SEP   Separable_conv2d: depthwise 3x3 (stride s) -> pointwise 1x1 ->
        instance norm (tf.contrib.layers.instance_norm default eps 1e-6) ->
        lrelu(0.2); reflect pad 1 (stride 1) or (0, 1) bottom/right (stride 2).
        The contrib layer adds no bias because a normalizer_fn is given.
  DOWN  Downsample: bilinear resize to H//2 then SEP stride 1
  UP    Unsample: bilinear resize x2 then SEP stride 1
  IRB   InvertedRes_block as v2 but with instance norms (eps 1e-5) and a
        depthwise conv without bias.

  name        op                                   [v1] scope
  b1_conv0    CNL 3 -> c64                         G_MODEL/b1
  b1_conv1    CNL c64 -> c64
  b1_sep      SEP/2 c64 -> c128, summed with ...
  b1_down     DOWN  c64 -> c128
  b2_conv0    CNL c128 -> c128                     G_MODEL/b2
  b2_sep0     SEP c128 -> c128
  b2_sep1     SEP/2 c128 -> c256, summed with ...
  b2_down     DOWN  c128 -> c256
  m_conv0     CNL c256 -> c256                     G_MODEL/m
  r1..r8      IRB c256 -> c256 (+ residual)        G_MODEL/m/r1..r8
  m_conv1     CNL c256 -> c256
  u2_up       UP   c256 -> c128                    G_MODEL/u2
  u2_sep      SEP  c128 -> c128
  u2_conv     CNL  c128 -> c128
  u1_up       UP   c128 -> c128 ([v1] comment: 64 in the paper, 128 in code)
  u1_conv0    CNL  c128 -> c64                     G_MODEL/u1
  u1_conv1    CNL  c64 -> c64
  out         conv 1x1 c64 -> 3, tanh              G_MODEL

Param tree: CNL {'conv': {'kernel'}, 'norm': {'scale', 'bias'}};
SEP/DOWN/UP {'depthwise': {'kernel' [3, 3, 1, C]}, 'pointwise':
{'kernel' [1, 1, C, F]}, 'norm': {...}}; IRB {'expand': CNL,
'dwise': {'kernel' [3, 3, 1, b]}, 'norm1', 'project': {'kernel'}, 'norm2'}.
Total at width 1.0: 3,956,096 parameters.
"""

from __future__ import annotations

from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from animejax.models import layers
from animejax.models.animeganv2 import scaled
from animejax.models.animeganv2 import v2_pads

Array = jax.Array

# [v1] tools/ops.py instance_norm(epsilon=1e-05).
OPS_IN_EPS = 1e-5
# tf.contrib.layers.instance_norm default epsilon, used by [v1]
# Separable_conv2d's normalizer_fn.
CONTRIB_IN_EPS = 1e-6
# [v1] uses tf.contrib.layers conv defaults: xavier (glorot uniform) weights.
glorot = nn.initializers.xavier_uniform()


class ConvINLReLU(nn.Module):
  """[v1] Conv2DNormLReLU: conv (no bias) -> instance norm -> lrelu."""
  features: int
  kernel_size: int = 3
  dtype: Any = jnp.float32
  conv_impl: str = 'auto'

  @nn.compact
  def __call__(self, x: Array) -> Array:
    x = layers.Conv(self.features, self.kernel_size,
                    pads=v2_pads(self.kernel_size, 1), kernel_init=glorot,
                    dtype=self.dtype, conv_impl=self.conv_impl,
                    name='conv')(x)
    return layers.lrelu(layers.InstanceNorm(OPS_IN_EPS, name='norm')(x))


class SeparableConv(nn.Module):
  """[v1] Separable_conv2d: depthwise -> pointwise -> instance norm -> lrelu.

  `resize`: 'down' / 'up' first resizes bilinearly to H//2 / 2H ([v1]
  Downsample / Unsample), with the `upsample` rule.
  """
  features: int
  stride: int = 1
  resize: str = ''
  upsample: str = 'tf1'
  dtype: Any = jnp.float32
  conv_impl: str = 'auto'

  @nn.compact
  def __call__(self, x: Array) -> Array:
    h, w = x.shape[1:3]
    if self.resize == 'down':
      x = layers.resize_bilinear(x, (h // 2, w // 2), self.upsample)
    elif self.resize == 'up':
      x = layers.resize_bilinear(x, (2 * h, 2 * w), self.upsample)
    x = layers.DepthwiseConv(3, self.stride, v2_pads(3, self.stride),
                             use_bias=False, kernel_init=glorot,
                             dtype=self.dtype, conv_impl=self.conv_impl,
                             name='depthwise')(x)
    x = layers.Conv(self.features, 1, kernel_init=glorot, dtype=self.dtype,
                    conv_impl=self.conv_impl, name='pointwise')(x)
    return layers.lrelu(layers.InstanceNorm(CONTRIB_IN_EPS, name='norm')(x))


class InvertedResBlockIN(nn.Module):
  """[v1] InvertedRes_block: as v2's with instance norms, dwise w/o bias."""
  features: int
  expansion: float = 2.0
  dtype: Any = jnp.float32
  conv_impl: str = 'auto'

  @nn.compact
  def __call__(self, x: Array) -> Array:
    c_in = x.shape[-1]
    bottleneck = max(1, int(round(self.expansion * c_in)))
    h = ConvINLReLU(bottleneck, 1, dtype=self.dtype, conv_impl=self.conv_impl,
                    name='expand')(x)
    # [v1] dwise_conv: truncated normal stddev 0.02, bias=False.
    h = layers.DepthwiseConv(
        3, pads=(1, 1, 1, 1), use_bias=False,
        kernel_init=nn.initializers.truncated_normal(0.02), dtype=self.dtype,
        conv_impl=self.conv_impl, name='dwise')(h)
    h = layers.lrelu(layers.InstanceNorm(OPS_IN_EPS, name='norm1')(h))
    h = layers.Conv(self.features, 1, kernel_init=glorot, dtype=self.dtype,
                    conv_impl=self.conv_impl, name='project')(h)
    h = layers.InstanceNorm(OPS_IN_EPS, name='norm2')(h)
    if c_in == self.features:
      h = x.astype(h.dtype) + h
    return h


class AnimeGANv1Generator(nn.Module):
  """AnimeGAN G_net. x [N, H, W, 3] in [-1, 1] -> same shape in [-1, 1]."""
  width: float = 1.0
  upsample: str = 'tf1'
  dtype: Any = jnp.float32
  conv_impl: str = 'auto'

  size_multiple: ClassVar[int] = 4

  @nn.compact
  def __call__(self, x: Array) -> Array:
    layers.check_size(x, self.size_multiple, 'AnimeGANv1Generator')
    if self.upsample not in layers.UPSAMPLE_MODES:
      raise ValueError(f'upsample={self.upsample!r}; expected one of '
                       f'{layers.UPSAMPLE_MODES}.')
    c = lambda n: scaled(n, self.width)
    kw = dict(dtype=self.dtype, conv_impl=self.conv_impl)
    cnl = lambda f, name, k=3: ConvINLReLU(f, k, name=name, **kw)
    sep = lambda f, name, s=1, r='': SeparableConv(
        f, s, r, self.upsample, name=name, **kw)

    x = x.astype(self.dtype)
    x = cnl(c(64), 'b1_conv0')(x)
    x = cnl(c(64), 'b1_conv1')(x)
    x = sep(c(128), 'b1_sep', s=2)(x) + sep(c(128), 'b1_down', r='down')(x)
    x = cnl(c(128), 'b2_conv0')(x)
    x = sep(c(128), 'b2_sep0')(x)
    x = sep(c(256), 'b2_sep1', s=2)(x) + sep(c(256), 'b2_down', r='down')(x)
    x = cnl(c(256), 'm_conv0')(x)
    for i in range(1, 9):
      x = InvertedResBlockIN(c(256), name=f'r{i}', **kw)(x)
    x = cnl(c(256), 'm_conv1')(x)
    x = sep(c(128), 'u2_up', r='up')(x)
    x = sep(c(128), 'u2_sep')(x)
    x = cnl(c(128), 'u2_conv')(x)
    x = sep(c(128), 'u1_up', r='up')(x)
    x = cnl(c(64), 'u1_conv0')(x)
    x = cnl(c(64), 'u1_conv1')(x)
    x = layers.Conv(3, 1, kernel_init=glorot, dtype=self.dtype,
                    conv_impl=self.conv_impl, name='out')(x)
    return jnp.tanh(x.astype(jnp.float32))
