"""AnimeGANv3 generator (inference path of the official graphs), Flax Linen.

Reconstructed from the official frozen graph `AnimeGANv3_Shinkai_37.pb`
(scopes `generator/base` and `generator/main`) and checked op by op against
[v3] TachibanaYoshino/AnimeGANv3 `net/generator.py` and `tools/ops.py`.
Training builds a second decoder (`support`, same shape as `main`); the
released inference graphs keep only `base` + `main`, so that is what is here.

variant='full' (all released Hayao/Shinkai/... .pb/.onnx/.tflite models),
c = round(32 * width):

  enc0  reflect-pad 3, conv7x7 3->c,    LADE, lrelu        x0 (skip)
  enc1  pad (1,0), conv3x3/2 c->c,      LADE, lrelu
  enc2  reflect-pad 1, conv3x3 c->2c,   LADE, lrelu        x1 (skip)
  enc3  conv3x3/2 2c->2c; enc4 2c->4c                      x2 (skip)
  enc5  conv3x3/2 4c->4c; enc6 4c->4c                      x3
  attention: external attention (memory 4c x 128) + BN + residual, lrelu
  up2 -> dec0 4c->4c, +x2 -> dec1 4c->4c
  up2 -> dec2 4c->2c, +x1 -> dec3 2c->2c
  up2 -> dec4 2c->c,  +x0 -> dec5 c->c
  out_conv reflect-pad 3, conv7x7 c->3, tanh

  conv = reflect pad + VALID conv without bias ([v3] tools/ops.py Conv2D:
  stride-2 3x3 pads top/left 1, bottom/right 0); LADE(x) = instance-normalised
  x rescaled to the mean/std of a 1x1 conv of x (eps 1e-5, population
  variance); up2 = TF1 `resize_images` bilinear (align_corners=False,
  half_pixel_centers=False); lrelu slope 0.2.

variant='tiny' (the `AnimeGANv3_tiny_*` portrait models, e.g. Cute.onnx):
batch norm folded into conv bias at export, c = round(16 * width):
  enc0 conv7x7 3->c (x0); enc1 /2 c->c; enc2 c->c (x1); enc3 /2 c->2c;
  enc4 2c->2c (x2); enc5 /2 2c->4c; enc6 4c->4c (x3); enc7 /2 4c->8c;
  enc8 8c->8c; res0, res1 bottleneck residual blocks (1x1 8c->4c, 3x3 4c->4c,
  1x1 4c->8c without bias, + input, lrelu);
  up2 dec0 8c->4c +x3, dec1, dec2; up2 dec3 4c->2c +x2, dec4, dec5;
  up2 dec6 2c->c +x1, dec7, dec8; up2 dec9 c->c +x0;
  dec10 conv3x3 c->c + LADE, lrelu; out_conv 7x7 c->3, tanh.

Param tree: {'enc0': {'conv': {'kernel'}, 'lade': {'kernel'}}, ...,
'attention': {'proj_in': {'kernel'}, 'memory' [4c,128], 'proj_out':
{'kernel'}, 'bn': {'scale','bias','mean','var'}}, 'dec0'..'dec5',
'out_conv': {'kernel'}} (full); tiny blocks hold 'conv': {'kernel','bias'}
and res blocks 'reduce'/'conv'/'expand'.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from animejax.models import layers

# [v3] tools/ops.py External_attention_v3: k = 128 memory units.
MEMORY_UNITS = 128


def upsample2x_tf1(x: jax.Array) -> jax.Array:
  """2x bilinear resize as TF1 ResizeBilinear (no corner/half-pixel align).

  Source coordinate = dst / 2, so even outputs copy the input and odd ones
  average a pixel with its next neighbour (the last one is clamped).
  """
  def along(v, axis):
    nxt = jnp.concatenate(
        [jax.lax.slice_in_dim(v, 1, None, axis=axis),
         jax.lax.slice_in_dim(v, v.shape[axis] - 1, None, axis=axis)],
        axis=axis)
    mid = v + (nxt - v) * 0.5
    out = jnp.stack([v, mid], axis=axis + 1)
    shape = list(v.shape)
    shape[axis] *= 2
    return out.reshape(shape)
  return along(along(x, 1), 2)


def pad_conv(x: jax.Array, features: int, kernel: int = 3, stride: int = 1,
             use_bias: bool = False, dtype: Any = jnp.float32,
             conv_impl: str = 'auto', name: str = 'conv') -> jax.Array:
  """Reflect pad + VALID conv, as [v3] tools/ops.py Conv2D.

  Call inside a compact method: the conv named `name` belongs to it
  (params {'kernel' HWIO, 'bias'?}).
  """
  k, s = kernel, stride
  if (k - s) % 2 == 0:
    lo = hi = (k - s) // 2
  else:  # [v3] ops.Conv2D: the odd extra pixel goes top/left
    hi = (k - s) // 2
    lo = k - s - hi
  # [v3] ops.py weight_init = tf_contrib xavier_initializer (uniform).
  return layers.Conv(features, k, s, pads=(lo, hi, lo, hi), use_bias=use_bias,
                     dtype=dtype, kernel_init=nn.initializers.xavier_uniform(),
                     conv_impl=conv_impl, name=name)(x)


def lade(x: jax.Array, t: jax.Array, eps: float) -> jax.Array:
  """[v3] tools/ops.py LADE: normalise x, give it t's per-channel stats."""
  dtype = x.dtype
  x = x.astype(jnp.float32)
  t = t.astype(jnp.float32)
  t_mean = t.mean(axis=(1, 2), keepdims=True)
  t_var = jnp.square(t - t_mean).mean(axis=(1, 2), keepdims=True)
  x_mean = x.mean(axis=(1, 2), keepdims=True)
  x_var = jnp.square(x - x_mean).mean(axis=(1, 2), keepdims=True)
  y = (x - x_mean) / jnp.sqrt(x_var + eps) * jnp.sqrt(t_var + eps) + t_mean
  return y.astype(dtype)


class ConvLADE(nn.Module):
  """conv -> LADE (its own 1x1 conv) -> leaky ReLU 0.2."""
  features: int
  kernel: int = 3
  stride: int = 1
  eps: float = 1e-5
  dtype: Any = jnp.float32
  conv_impl: str = 'auto'

  @nn.compact
  def __call__(self, x):
    x = pad_conv(x, self.features, self.kernel, self.stride, dtype=self.dtype,
                 conv_impl=self.conv_impl, name='conv')
    t = pad_conv(x, self.features, 1, dtype=self.dtype,
                 conv_impl=self.conv_impl, name='lade')
    return nn.leaky_relu(lade(x, t, self.eps), 0.2)


class ConvAct(nn.Module):
  """conv (+bias: batch norm folded at export) -> leaky ReLU 0.2."""
  features: int
  kernel: int = 3
  stride: int = 1
  dtype: Any = jnp.float32
  conv_impl: str = 'auto'

  @nn.compact
  def __call__(self, x):
    x = pad_conv(x, self.features, self.kernel, self.stride, use_bias=True,
                 dtype=self.dtype, conv_impl=self.conv_impl, name='conv')
    return nn.leaky_relu(x, 0.2)


class ExternalAttention(nn.Module):
  """[v3] tools/ops.py External_attention_v3 (inference: BN uses stats)."""
  eps: float = 1e-9     # [v3] ops.py: attn / (1e-9 + sum)
  bn_eps: float = 1e-3  # [v3] ops.py batch_norm_wrapper epsilon=0.001
  dtype: Any = jnp.float32
  conv_impl: str = 'auto'

  @nn.compact
  def __call__(self, x):
    n, h, w, c = x.shape
    memory = self.param('memory', nn.initializers.xavier_uniform(),
                        (c, MEMORY_UNITS), jnp.float32).astype(self.dtype)
    y = pad_conv(x, c, 1, dtype=self.dtype, conv_impl=self.conv_impl,
                 name='proj_in')
    attn = y.reshape(n, h * w, c) @ memory
    # Softmax over positions, then normalise over memory units.
    attn = jax.nn.softmax(attn.astype(jnp.float32), axis=1)
    attn = attn / (self.eps + attn.sum(axis=2, keepdims=True))
    y = (attn.astype(self.dtype) @ memory.T).reshape(n, h, w, c)
    y = pad_conv(y, c, 1, dtype=self.dtype, conv_impl=self.conv_impl,
                 name='proj_out')
    bn = {k: self.param(k, init, (c,), jnp.float32) for k, init in (
        ('scale', nn.initializers.ones), ('bias', nn.initializers.zeros),
        ('mean', nn.initializers.zeros), ('var', nn.initializers.ones))}
    inv = bn['scale'] * jax.lax.rsqrt(bn['var'] + self.bn_eps)
    y = ((y - bn['mean']) * inv + bn['bias']).astype(self.dtype)
    return nn.leaky_relu(y + x, 0.2)


class _SizeMultiple:
  """`size_multiple`: 8 for 'full' (3 stride-2 stages), 16 for 'tiny' (4).

  Read on the class (no instance) it answers 16, valid for both.
  """

  def __get__(self, obj, objtype=None):
    if obj is None or getattr(obj, 'variant', 'full') == 'tiny':
      return 16
    return 8


class AnimeGANv3Generator(nn.Module):
  """AnimeGANv3 generator: x [N,H,W,3] in [-1,1] -> same shape in [-1,1].

  H and W must be multiples of `size_multiple`.
  """
  width: float = 1.0
  variant: str = 'full'  # 'full' | 'tiny'
  lade_eps: float = 1e-5  # [v3] tools/ops.py LADE eps
  attention_eps: float = 1e-9
  bn_eps: float = 1e-3
  dtype: Any = jnp.float32
  conv_impl: str = 'auto'  # see models/layers.py ('fast' CPU path)

  size_multiple = _SizeMultiple()

  def _ch(self, base: int) -> int:
    return max(1, int(round(base * self.width)))

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    if x.ndim != 4 or x.shape[-1] != 3:
      raise ValueError(f'AnimeGANv3Generator wants [N,H,W,3], got {x.shape}.')
    m = self.size_multiple
    if x.shape[1] % m or x.shape[2] % m:
      raise ValueError(
          f'AnimeGANv3Generator ({self.variant}) needs H and W divisible by '
          f'{m}; got {x.shape[1]}x{x.shape[2]}. Pad or resize the input.')
    x = x.astype(self.dtype)
    if self.variant == 'full':
      y = self._full(x)
    elif self.variant == 'tiny':
      y = self._tiny(x)
    else:
      raise ValueError(
          f"variant must be 'full' or 'tiny', got {self.variant!r}")
    return jnp.tanh(y.astype(jnp.float32))

  def _full(self, x):
    c = self._ch(32)
    kw = dict(dtype=self.dtype, conv_impl=self.conv_impl)
    blk = lambda f, name, k=3, s=1: ConvLADE(
        f, k, s, eps=self.lade_eps, name=name, **kw)
    x0 = blk(c, 'enc0', k=7)(x)
    x1 = blk(2 * c, 'enc2')(blk(c, 'enc1', s=2)(x0))
    x2 = blk(4 * c, 'enc4')(blk(2 * c, 'enc3', s=2)(x1))
    x3 = blk(4 * c, 'enc6')(blk(4 * c, 'enc5', s=2)(x2))
    y = ExternalAttention(self.attention_eps, self.bn_eps, name='attention',
                          **kw)(x3)
    y = blk(4 * c, 'dec1')(blk(4 * c, 'dec0')(upsample2x_tf1(y)) + x2)
    y = blk(2 * c, 'dec3')(blk(2 * c, 'dec2')(upsample2x_tf1(y)) + x1)
    y = blk(c, 'dec5')(blk(c, 'dec4')(upsample2x_tf1(y)) + x0)
    return pad_conv(y, 3, 7, name='out_conv', **kw)

  def _tiny(self, x):
    c = self._ch(16)
    kw = dict(dtype=self.dtype, conv_impl=self.conv_impl)
    blk = lambda f, name, k=3, s=1: ConvAct(f, k, s, name=name, **kw)
    x0 = blk(c, 'enc0', k=7)(x)
    x1 = blk(c, 'enc2')(blk(c, 'enc1', s=2)(x0))
    x2 = blk(2 * c, 'enc4')(blk(2 * c, 'enc3', s=2)(x1))
    x3 = blk(4 * c, 'enc6')(blk(4 * c, 'enc5', s=2)(x2))
    y = blk(8 * c, 'enc8')(blk(8 * c, 'enc7', s=2)(x3))
    for i in range(2):
      r = blk(4 * c, f'res{i}_reduce', k=1)(y)
      r = blk(4 * c, f'res{i}_conv')(r)
      r = pad_conv(r, 8 * c, 1, name=f'res{i}_expand', **kw)
      y = nn.leaky_relu(r + y, 0.2)
    for i, (f, skip) in enumerate(((4 * c, x3), (2 * c, x2), (c, x1))):
      y = blk(f, f'dec{3 * i}')(upsample2x_tf1(y)) + skip
      y = blk(f, f'dec{3 * i + 2}')(blk(f, f'dec{3 * i + 1}')(y))
    y = blk(c, 'dec9')(upsample2x_tf1(y)) + x0
    y = ConvLADE(c, 3, eps=self.lade_eps, name='dec10', **kw)(y)
    return pad_conv(y, 3, 7, name='out_conv', **kw)
