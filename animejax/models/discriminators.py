"""Patch discriminators of AnimeGAN (v1/v2) and CartoonGAN, NHWC Flax Linen.

Both map images [N, H, W, 3] in [-1, 1] to patch logits [N, H/4, W/4, 1]
(no sigmoid: the losses take logits). Variables: 'params' (float32) and, with
spectral norm on, 'spectral' (power-iteration vectors, see spectral_norm.py),
updated only by `apply(..., update_stats=True, mutable=['spectral'])`.

Sources:
  [v2] TachibanaYoshino/AnimeGANv2 net/discriminator.py D_net, tools/ops.py.
  [v1] TachibanaYoshino/AnimeGAN net/discriminator.py (same graph with
       instance_norm instead of layer_norm).
  [cg] Chen et al., CartoonGAN, CVPR 2018, Fig. 2, and the reference port
       znxlwm/pytorch-CartoonGAN networks.py `discriminator`.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from animejax.models.spectral_norm import SNConv

# [v2] tools/ops.py lrelu(x, 0.2)
LEAKY_SLOPE = 0.2
# tf.contrib.layers.layer_norm: variance_epsilon = 1e-12 (float32).
LAYER_NORM_EPS = 1e-12
# [v1]/[v2] tools/ops.py instance_norm(epsilon=1e-05); also nn.InstanceNorm2d.
INSTANCE_NORM_EPS = 1e-5

NORMS = ('layer', 'instance', 'none')

# Zero padding of a 3x3 conv: [v2] tools/ops.py conv() pads `pad` on all sides
# when (kernel - stride) is even, else `pad` top/left and
# `kernel - stride - pad` bottom/right: (1, 0) for 3x3 stride 2.
_PAD_S1 = ((1, 1), (1, 1))
_PAD_TF_S2 = ((1, 0), (1, 0))


class Norm(nn.Module):
  """Layer norm over (H, W, C) or instance norm over (H, W), per-channel affine.

  'layer' is tf.contrib.layers.layer_norm with its defaults (begin_norm_axis=1,
  begin_params_axis=-1: statistics over H, W, C; gamma/beta per channel), i.e.
  GroupNorm with one group. Statistics are computed in float32.
  """
  kind: str = 'layer'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    if self.kind == 'none':
      return x
    if self.kind == 'layer':
      axes, eps = (1, 2, 3), LAYER_NORM_EPS
    elif self.kind == 'instance':
      axes, eps = (1, 2), INSTANCE_NORM_EPS
    else:
      raise ValueError(f'Unknown discriminator norm {self.kind!r}; expected '
                       f'one of {NORMS} (config key discriminator.norm).')
    c = x.shape[-1]
    scale = self.param('scale', nn.initializers.ones, (c,), jnp.float32)
    bias = self.param('bias', nn.initializers.zeros, (c,), jnp.float32)
    x32 = x.astype(jnp.float32)
    mean = jnp.mean(x32, axis=axes, keepdims=True)
    var = jnp.mean(jnp.square(x32 - mean), axis=axes, keepdims=True)
    y = (x32 - mean) * jax.lax.rsqrt(var + eps) * scale + bias
    return y.astype(self.dtype)


def _check_input(x: jax.Array, multiple: int, name: str) -> None:
  if x.ndim != 4 or x.shape[-1] != 3:
    raise ValueError(f'{name} expects images [N, H, W, 3], got {x.shape}.')
  h, w = x.shape[1:3]
  if h % multiple or w % multiple:
    raise ValueError(
        f'{name} needs H and W divisible by {multiple} (got {h}x{w}); crop or '
        'resize the images (config key data.image_size).')


class AnimeGANDiscriminator(nn.Module):
  """AnimeGAN v1/v2 discriminator D_net.

  With ch=64, n_dis=3 ([v2] defaults): 32 -> (s2) 64 -> 128 -> (s2) 128 ->
  256 -> 256 -> 1 channels, 3x3 convs without bias, 1,128,800 parameters
  (layer norm) and 865 spectral-norm vector entries. Output is at
  1 / 2**(n_dis - 1) resolution (1/4 for n_dis=3).

  Attributes:
    ch: base width; the first conv has ch // 2 channels ([v2] --ch 64).
    n_dis: number of stages; n_dis - 1 stride-2 convs ([v2] --n_dis 3).
    norm: 'layer' ([v2]), 'instance' ([v1]) or 'none'.
    spectral_norm: spectral-normalise every conv ([v2] --sn True).
    dtype: compute dtype; params stay float32.
  """
  ch: int = 64
  n_dis: int = 3
  norm: str = 'layer'
  spectral_norm: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, update_stats: bool = False) -> jax.Array:
    _check_input(x, 2 ** (self.n_dis - 1), type(self).__name__)
    if self.norm not in NORMS:
      raise ValueError(f'Unknown discriminator norm {self.norm!r}; expected '
                       f'one of {NORMS} (config key discriminator.norm).')

    def conv(y, features, stride, name):
      return SNConv(features, 3, stride, _PAD_S1 if stride == 1 else _PAD_TF_S2,
                    use_bias=False, spectral_norm=self.spectral_norm,
                    dtype=self.dtype, name=name)(y, update_stats)

    def lrelu(y):
      return nn.leaky_relu(y, LEAKY_SLOPE)

    # Module names follow the [v2] TF variable scopes.
    channel = self.ch // 2
    x = lrelu(conv(x.astype(self.dtype), channel, 1, 'conv_0'))
    for i in range(1, self.n_dis):
      x = lrelu(conv(x, channel * 2, 2, f'conv_s2_{i}'))
      x = conv(x, channel * 4, 1, f'conv_s1_{i}')
      x = lrelu(Norm(self.norm, self.dtype, name=f'norm_{i}')(x))
      channel *= 2
    x = conv(x, channel * 2, 1, 'last_conv')
    x = lrelu(Norm(self.norm, self.dtype, name='last_norm')(x))
    return conv(x, 1, 1, 'D_logit')


class CartoonGANDiscriminator(nn.Module):
  """CartoonGAN discriminator ([cg] Fig. 2).

  k3n32s1 lrelu; k3n64s2 lrelu; k3n128s1 norm lrelu; k3n128s2 lrelu;
  k3n256s1 norm lrelu; k3n256s1 norm lrelu; k3n1s1 (logits; the reference
  port's final sigmoid lives in the BCE loss). Convs have biases and pad 1 on
  every side, stride 2 included, as in the PyTorch reference port. The port's
  InstanceNorm2d has no affine parameters; ours keeps a per-channel
  scale/bias (initialised to the identity), like the AnimeGAN norms.

  Attributes:
    ch: base width; the first conv has ch // 2 channels (64 -> 32 as [cg]).
    n_dis: accepted for a uniform registry signature; must be 3 (the
      published depth) and is otherwise ignored.
    norm: 'instance' ([cg] port), 'layer' or 'none'.
    spectral_norm: optional spectral normalisation (not in [cg]).
    dtype: compute dtype; params stay float32.
  """
  ch: int = 64
  n_dis: int = 3
  norm: str = 'instance'
  spectral_norm: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, update_stats: bool = False) -> jax.Array:
    _check_input(x, 4, type(self).__name__)
    if self.n_dis != 3:
      raise ValueError(f'CartoonGANDiscriminator has a fixed depth; '
                       f'discriminator.n_dis must be 3, got {self.n_dis}.')
    nf = self.ch // 2

    def conv(y, features, stride, name):
      return SNConv(features, 3, stride, _PAD_S1, use_bias=True,
                    spectral_norm=self.spectral_norm, dtype=self.dtype,
                    name=name)(y, update_stats)

    def norm_lrelu(y, name):
      return nn.leaky_relu(Norm(self.norm, self.dtype, name=name)(y),
                           LEAKY_SLOPE)

    x = nn.leaky_relu(conv(x.astype(self.dtype), nf, 1, 'conv_0'), LEAKY_SLOPE)
    x = nn.leaky_relu(conv(x, nf * 2, 2, 'conv_1'), LEAKY_SLOPE)
    x = norm_lrelu(conv(x, nf * 4, 1, 'conv_2'), 'norm_2')
    x = nn.leaky_relu(conv(x, nf * 4, 2, 'conv_3'), LEAKY_SLOPE)
    x = norm_lrelu(conv(x, nf * 8, 1, 'conv_4'), 'norm_4')
    x = norm_lrelu(conv(x, nf * 8, 1, 'conv_5'), 'norm_5')
    return conv(x, 1, 1, 'logits')
