"""StyleGAN2 (config F / ADA) generator and discriminator in Flax, NHWC.

Source: [ada] NVlabs/stylegan2-ada-pytorch `training/networks.py`
(MappingNetwork, SynthesisLayer, ToRGBLayer, SynthesisBlock, SynthesisNetwork,
Generator, DiscriminatorBlock, MinibatchStdLayer, DiscriminatorEpilogue,
Discriminator), `torch_utils/ops/bias_act.py` (`_bias_act_ref`),
`torch_utils/ops/upfirdn2d.py` (`_upfirdn2d_ref`, `setup_filter`,
`upsample2d`) and `torch_utils/ops/conv2d_resample.py` (padding arithmetic).

Only the G 'skip' and D 'resnet' architectures are implemented (the ones of
every published StyleGAN2/ADA config). Pure JAX ops: the FIR [1,3,3,1]
filter runs as two 1-D depthwise convolutions (it is an outer product), the
up-sampling conv as an input-dilated convolution, the down-sampling conv as
a strided convolution; the modulated conv is the non-fused form (scale the
activations by the styles, one shared-weight conv, scale by the
demodulation coefficients), which XLA compiles into a plain convolution.

Parameters are the official raw (un-scaled) tensors in their official
layouts, so a converted state_dict maps 1:1 by name:
  FC 'weight' [out, in], 'bias' [out]; conv 'weight' [O, I, kh, kw],
  'bias' [O]; b4 'const' [C, 4, 4]; SynthesisLayer 'noise_strength' [].
Equalized learning rate: weight_gain = lr_multiplier / sqrt(fan_in) is
applied at runtime ([ada] FullyConnectedLayer / Conv2dLayer).
Buffers live in the 'buffers' collection: 'mapping/w_avg' [w_dim] and
'synthesis/b<res>/conv<i>/noise_const' [res, res].
Module names equal the official attribute names (mapping.fc0,
synthesis.b8.conv0.affine, b4.fc, ...), so a state_dict key
'a.b.c' is the tree path ('a', 'b', 'c').

Mixed precision (`dtype=jnp.bfloat16` on SynthesisNetwork / Generator /
Discriminator) follows [ada]'s `use_fp16` blocks (networks.py
SynthesisBlock / DiscriminatorBlock, enabled by train.py num_fp16_res=4):
the blocks of the `num_bf16_res` highest resolutions, from
max(2 ** (log2(R) + 1 - num_bf16_res), 8) up, cast their input activations
to the compute dtype, and every conv inside them (modulated 3x3 convs,
ToRGB, the up/down FIR filters, D's fromrgb/conv0/conv1/skip) runs in it;
weights, styles, demodulation coefficients, noise and biases are computed
in float32 and cast at the point of use. Parameters (hence gradients and
the optimiser) stay float32, and so do the mapping network, the affine
(style) layers, the skip-connected RGB image (each ToRGB output is cast
back, [ada] `y.to(torch.float32)`), D's epilogue b4 (mbstd, conv, fc, out)
and every block below that resolution. How ours differs from [ada]'s fp16:
bfloat16 has float32's exponent range, so we need neither the
conv_clamp=256 that [ada]'s train.py switches on with fp16 (model.conv_clamp
keeps its own value, 0 = none by default), nor modulated_conv2d's
pre-normalisation of weight and styles by their max norms "to avoid FP16
overflow" (demodulation cancels it up to its 1e-8 epsilon), nor any loss
scaling (neither has [ada]: with fp16 it relies on the clamp and on
nan_to_num of the gradients, which our method keeps).
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

# [ada] bias_act.activation_funcs: lrelu alpha 0.2, def_gain sqrt(2).
LRELU_ALPHA = 0.2
LRELU_GAIN = math.sqrt(2.0)
# [ada] networks.py: resample_filter=[1,3,3,1] everywhere.
RESAMPLE_FILTER = (1.0, 3.0, 3.0, 1.0)


# ---------------------------------------------------------------------------
# Reference-exact ops.


def bias_act(x: Array, b: Optional[Array], act: str = 'linear',
             gain: Optional[float] = None,
             clamp: Optional[float] = None) -> Array:
  """[ada] bias_act._bias_act_ref on the channel (last) axis."""
  if b is not None:
    x = x + b.astype(x.dtype)
  if act == 'lrelu':
    x = jnp.where(x >= 0, x, x * LRELU_ALPHA)
    def_gain = LRELU_GAIN
  elif act == 'linear':
    def_gain = 1.0
  else:
    raise ValueError(f'unsupported activation {act!r}')
  gain = def_gain if gain is None else gain
  if gain != 1:
    x = x * gain
  if clamp is not None and clamp >= 0:
    x = jnp.clip(x, -clamp, clamp)
  return x


def _filter_1d(taps: Sequence[float]) -> np.ndarray:
  """1-D factor of [ada] upfirdn2d.setup_filter(f) (2-D = outer product)."""
  f = np.asarray(taps, np.float64)
  return (f / f.sum()).astype(np.float32)  # outer(f,f)/sum^2 = 2-D / sum.


def upfirdn2d(x: Array, taps: Sequence[float], up: int = 1, down: int = 1,
              padding: Sequence[int] = (0, 0, 0, 0), gain: float = 1.0,
              flip_filter: bool = False) -> Array:
  """[ada] upfirdn2d._upfirdn2d_ref with a separable filter, NHWC.

  Args:
    x: [N, H, W, C].
    taps: 1-D filter taps (normalised here as setup_filter does).
    up: zero-insertion up-sampling factor.
    down: down-sampling factor (keep every `down`-th pixel).
    padding: (x0, x1, y0, y1) with respect to the up-sampled image; negative
      values crop.
    gain: overall signal gain (applied as gain**0.5 per axis).
    flip_filter: False = convolution (the reference default).
  """
  px0, px1, py0, py1 = padding
  c = x.shape[-1]
  # Zero insertion + pad/crop in one lax.pad: interior up-1 zeros, and the
  # up-1 trailing zeros of the reference's reshape+pad go to the high side.
  x = jax.lax.pad(x, jnp.array(0, x.dtype),
                  [(0, 0, 0), (py0, py1 + up - 1, up - 1),
                   (px0, px1 + up - 1, up - 1), (0, 0, 0)])
  f = _filter_1d(taps) * np.float32(math.sqrt(gain))
  if not flip_filter:
    f = f[::-1]  # lax convs correlate; the reference convolves.
  f = jnp.asarray(f.copy(), x.dtype)
  k = len(taps)
  dn = ('NHWC', 'HWIO', 'NHWC')
  x = jax.lax.conv_general_dilated(
      x, jnp.tile(f.reshape(k, 1, 1, 1), (1, 1, 1, c)), (down, 1),
      'VALID', dimension_numbers=dn, feature_group_count=c)
  x = jax.lax.conv_general_dilated(
      x, jnp.tile(f.reshape(1, k, 1, 1), (1, 1, 1, c)), (1, down),
      'VALID', dimension_numbers=dn, feature_group_count=c)
  return x


def upsample2d(x: Array, taps: Sequence[float] = RESAMPLE_FILTER) -> Array:
  """[ada] upfirdn2d.upsample2d(x, f, up=2): padding and gain up**2."""
  fw = len(taps)
  p0, p1 = (fw + 2 - 1) // 2, (fw - 2) // 2
  return upfirdn2d(x, taps, up=2, padding=(p0, p1, p0, p1), gain=4.0)


def _oihw_to_hwio(w: Array) -> Array:
  return jnp.transpose(w, (2, 3, 1, 0))


def conv2d_resample(x: Array, w: Array, up: int = 1, down: int = 1,
                    padding: int = 0,
                    taps: Sequence[float] = RESAMPLE_FILTER) -> Array:
  """[ada] conv2d_resample for the cases StyleGAN2 uses, NHWC.

  `w` is [O, I, kh, kw] (torch layout, already scaled). For up == 1 the
  reference correlates (flip_weight=True); for up == 2 it runs
  conv_transpose2d with flip_weight=False, which is an input-dilated
  correlation with the spatially flipped kernel.
  """
  _, _, kh, kw = w.shape
  fw = len(taps)
  dn = ('NHWC', 'HWIO', 'NHWC')
  p = padding
  if up == 1 and down == 1:
    return jax.lax.conv_general_dilated(
        x, _oihw_to_hwio(w), (1, 1), [(p, p), (p, p)], dimension_numbers=dn)
  if up == 1 and down > 1:
    p0 = p + (fw - down + 1) // 2
    p1 = p + (fw - down) // 2
    if kh == 1 and kw == 1:
      x = upfirdn2d(x, taps, down=down, padding=(p0, p1, p0, p1))
      return jax.lax.conv_general_dilated(
          x, _oihw_to_hwio(w), (1, 1), 'VALID', dimension_numbers=dn)
    x = upfirdn2d(x, taps, padding=(p0, p1, p0, p1))
    return jax.lax.conv_general_dilated(
        x, _oihw_to_hwio(w), (down, down), 'VALID', dimension_numbers=dn)
  if up > 1 and down == 1 and kh == kw and kh > 1:
    p0 = p + (fw + up - 1) // 2 - (kw - 1)
    p1 = p + (fw - up) // 2 - (kw - up)
    t = max(min(-p0, -p1), 0)
    # conv_transpose2d(x, w^T, stride=up, padding=t) as a dilated conv.
    k = _oihw_to_hwio(w)[::-1, ::-1]
    x = jax.lax.conv_general_dilated(
        x, k, (1, 1), [(kh - 1 - t, kh - 1 - t)] * 2, lhs_dilation=(up, up),
        dimension_numbers=dn)
    return upfirdn2d(x, taps, padding=(p0 + t, p1 + t, p0 + t, p1 + t),
                     gain=float(up * up))
  raise NotImplementedError(f'conv2d_resample up={up} down={down} k={kh}')


def normalize_2nd_moment(x: Array, eps: float = 1e-8) -> Array:
  """[ada] networks.normalize_2nd_moment over the feature axis."""
  return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True)
                           + eps)


# ---------------------------------------------------------------------------
# Layers.


class FullyConnectedLayer(nn.Module):
  """[ada] FullyConnectedLayer: weight [out, in] ~ N(0, 1) / lr_multiplier."""
  in_features: int
  out_features: int
  use_bias: bool = True
  activation: str = 'linear'
  lr_multiplier: float = 1.0
  bias_init: float = 0.0

  @nn.compact
  def __call__(self, x: Array) -> Array:
    lr = self.lr_multiplier
    w = self.param('weight', lambda k: jax.random.normal(
        k, (self.out_features, self.in_features)) / lr)
    w = w * (lr / math.sqrt(self.in_features))
    b = None
    if self.use_bias:
      b = self.param('bias', lambda k: jnp.full(
          (self.out_features,), self.bias_init, jnp.float32))
      b = b * lr
    x = x @ w.T.astype(x.dtype)
    return bias_act(x, b, self.activation)


class Conv2dLayer(nn.Module):
  """[ada] Conv2dLayer (used by D): equalized lr conv + bias_act."""
  in_channels: int
  out_channels: int
  kernel_size: int
  use_bias: bool = True
  activation: str = 'linear'
  down: int = 1
  conv_clamp: Optional[float] = None

  @nn.compact
  def __call__(self, x: Array, gain: float = 1.0) -> Array:
    k = self.kernel_size
    w = self.param('weight', lambda r: jax.random.normal(
        r, (self.out_channels, self.in_channels, k, k)))
    w = w * (1.0 / math.sqrt(self.in_channels * k * k))
    b = (self.param('bias', nn.initializers.zeros, (self.out_channels,))
         if self.use_bias else None)
    x = conv2d_resample(x, w.astype(x.dtype), down=self.down, padding=k // 2)
    act_gain = (LRELU_GAIN if self.activation == 'lrelu' else 1.0) * gain
    clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
    return bias_act(x, b, self.activation, gain=act_gain, clamp=clamp)


def modulated_conv2d(x: Array, weight: Array, styles: Array,
                     noise: Optional[Array] = None, up: int = 1,
                     padding: int = 0, demodulate: bool = True) -> Array:
  """[ada] modulated_conv2d, non-fused form (fused_modconv=False).

  x [N, H, W, I], weight [O, I, kh, kw], styles [N, I]. The reference
  computes dcoefs = rsqrt(sum_{i,k} (w[o,i,k] s[n,i])^2 + 1e-8); here
  sum_i s[n,i]^2 * sum_k w[o,i,k]^2, the same sum.
  """
  x = x * styles[:, None, None, :].astype(x.dtype)
  x = conv2d_resample(x, weight.astype(x.dtype), up=up, padding=padding)
  if demodulate:
    wsq = jnp.sum(jnp.square(weight), axis=(2, 3))  # [O, I]
    dcoefs = jax.lax.rsqrt(jnp.square(styles) @ wsq.T + 1e-8)  # [N, O]
    x = x * dcoefs[:, None, None, :].astype(x.dtype)
  if noise is not None:
    x = x + noise.astype(x.dtype)
  return x


class SynthesisLayer(nn.Module):
  """[ada] SynthesisLayer: affine -> modulated 3x3 conv -> noise -> lrelu."""
  in_channels: int
  out_channels: int
  w_dim: int
  resolution: int
  up: int = 1
  use_noise: bool = True
  conv_clamp: Optional[float] = None
  kernel_size: int = 3

  @nn.compact
  def __call__(self, x: Array, w: Array, noise_mode: str = 'const',
               gain: float = 1.0) -> Array:
    if noise_mode not in ('random', 'const', 'none'):
      raise ValueError(f'noise_mode {noise_mode!r}')
    k, res = self.kernel_size, self.resolution
    styles = FullyConnectedLayer(self.w_dim, self.in_channels, bias_init=1.0,
                                 name='affine')(w)
    weight = self.param('weight', lambda r: jax.random.normal(
        r, (self.out_channels, self.in_channels, k, k)))
    noise = None
    if self.use_noise:
      const = self.variable('buffers', 'noise_const', lambda: jax.random.normal(
          self.make_rng('params'), (res, res)))
      strength = self.param('noise_strength', nn.initializers.zeros, ())
      if noise_mode == 'random':
        noise = jax.random.normal(self.make_rng('noise'),
                                  (x.shape[0], res, res, 1)) * strength
      elif noise_mode == 'const':
        noise = (const.value * strength)[None, :, :, None]
    bias = self.param('bias', nn.initializers.zeros, (self.out_channels,))
    x = modulated_conv2d(x, weight, styles, noise, up=self.up, padding=k // 2)
    clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
    return bias_act(x, bias, 'lrelu', gain=LRELU_GAIN * gain, clamp=clamp)


class ToRGBLayer(nn.Module):
  """[ada] ToRGBLayer: modulated 1x1 conv without demodulation."""
  in_channels: int
  out_channels: int
  w_dim: int
  conv_clamp: Optional[float] = None

  @nn.compact
  def __call__(self, x: Array, w: Array) -> Array:
    styles = FullyConnectedLayer(self.w_dim, self.in_channels, bias_init=1.0,
                                 name='affine')(w)
    styles = styles * (1.0 / math.sqrt(self.in_channels))  # weight_gain.
    weight = self.param('weight', lambda r: jax.random.normal(
        r, (self.out_channels, self.in_channels, 1, 1)))
    bias = self.param('bias', nn.initializers.zeros, (self.out_channels,))
    x = modulated_conv2d(x, weight, styles, demodulate=False)
    return bias_act(x, bias, 'linear', clamp=self.conv_clamp)


# ---------------------------------------------------------------------------
# Networks.


def _channels(res: int, channel_base: int, channel_max: int) -> int:
  # [ada] channels_dict = {res: min(channel_base // res, channel_max)}.
  return min(channel_base // res, channel_max)


def low_precision_resolution(img_resolution: int, num_res: int) -> int:
  """Lowest block resolution that computes in the low-precision dtype.

  [ada] networks.py: fp16_resolution = max(2 ** (log2(R) + 1 - num_fp16_res),
  8) and use_fp16 = (res >= fp16_resolution); num_res = 0 gives 2 R (none).
  """
  return max(2 ** (int(np.log2(img_resolution)) + 1 - num_res), 8)


class MappingNetwork(nn.Module):
  """[ada] MappingNetwork: z (+ embedded c) -> w, 8 FC lrelu, lr x0.01."""
  z_dim: int = 512
  c_dim: int = 0
  w_dim: int = 512
  num_ws: Optional[int] = None
  num_layers: int = 8
  embed_features: Optional[int] = None
  layer_features: Optional[int] = None
  lr_multiplier: float = 0.01
  w_avg_beta: Optional[float] = 0.995

  @nn.compact
  def __call__(self, z: Optional[Array], c: Optional[Array] = None,
               truncation_psi: float = 1.0,
               truncation_cutoff: Optional[int] = None,
               update_w_avg: bool = False) -> Array:
    embed = self.w_dim if self.embed_features is None else self.embed_features
    if self.c_dim == 0:
      embed = 0
    layer = self.w_dim if self.layer_features is None else self.layer_features
    feats = ([self.z_dim + embed] + [layer] * (self.num_layers - 1)
             + [self.w_dim])
    x = None
    if self.z_dim > 0:
      x = normalize_2nd_moment(z.astype(jnp.float32))
    if self.c_dim > 0:
      y = FullyConnectedLayer(self.c_dim, embed, name='embed')(
          c.astype(jnp.float32))
      y = normalize_2nd_moment(y)
      x = jnp.concatenate([x, y], axis=1) if x is not None else y
    for idx in range(self.num_layers):
      x = FullyConnectedLayer(feats[idx], feats[idx + 1], activation='lrelu',
                              lr_multiplier=self.lr_multiplier,
                              name=f'fc{idx}')(x)
    track = self.num_ws is not None and self.w_avg_beta is not None
    if track:
      w_avg = self.variable('buffers', 'w_avg', jnp.zeros, (self.w_dim,))
      if update_w_avg and not self.is_initializing():
        # [ada]: w_avg = lerp(mean(x), w_avg, beta).
        mean = jnp.mean(jax.lax.stop_gradient(x), axis=0)
        w_avg.value = mean + self.w_avg_beta * (w_avg.value - mean)
    if self.num_ws is not None:
      x = jnp.repeat(x[:, None, :], self.num_ws, axis=1)
    if truncation_psi != 1:
      if not track:
        raise ValueError('truncation needs w_avg tracking')
      avg = w_avg.value
      if self.num_ws is None or truncation_cutoff is None:
        x = avg + truncation_psi * (x - avg)
      else:
        head = avg + truncation_psi * (x[:, :truncation_cutoff] - avg)
        x = jnp.concatenate([head, x[:, truncation_cutoff:]], axis=1)
    return x


class SynthesisBlock(nn.Module):
  """[ada] SynthesisBlock, architecture 'skip'."""
  in_channels: int
  out_channels: int
  w_dim: int
  resolution: int
  img_channels: int
  is_last: bool
  conv_clamp: Optional[float] = None
  use_noise: bool = True
  dtype: Any = jnp.float32  # its convs' compute dtype ([ada] use_fp16)

  @property
  def num_conv(self) -> int:
    return 1 if self.in_channels == 0 else 2

  @nn.compact
  def __call__(self, x: Optional[Array], img: Optional[Array], ws: Array,
               noise_mode: str = 'const') -> tuple[Array, Array]:
    res, c = self.resolution, self.out_channels
    kw = dict(w_dim=self.w_dim, resolution=res, conv_clamp=self.conv_clamp,
              use_noise=self.use_noise)
    if self.in_channels == 0:
      const = self.param('const', lambda r: jax.random.normal(r, (c, res, res)))
      x = jnp.broadcast_to(jnp.transpose(const, (1, 2, 0))[None],
                           (ws.shape[0], res, res, c)).astype(self.dtype)
      x = SynthesisLayer(c, c, name='conv1', **kw)(x, ws[:, 0], noise_mode)
    else:
      x = x.astype(self.dtype)  # [ada] x.to(dtype=dtype)
      x = SynthesisLayer(self.in_channels, c, up=2, name='conv0', **kw)(
          x, ws[:, 0], noise_mode)
      x = SynthesisLayer(c, c, name='conv1', **kw)(x, ws[:, 1], noise_mode)
    if img is not None:
      img = upsample2d(img)
    y = ToRGBLayer(c, self.img_channels, self.w_dim,
                   conv_clamp=self.conv_clamp, name='torgb')(
                       x, ws[:, self.num_conv])
    y = y.astype(jnp.float32)  # [ada] the image stays float32
    img = img + y if img is not None else y
    return x, img


class SynthesisNetwork(nn.Module):
  """[ada] SynthesisNetwork: const 4x4 -> blocks b4 .. b<resolution>."""
  w_dim: int = 512
  img_resolution: int = 256
  img_channels: int = 3
  channel_base: int = 32768
  channel_max: int = 512
  conv_clamp: Optional[float] = None
  use_noise: bool = True
  # Compute dtype of the num_bf16_res highest-resolution blocks (module
  # docstring); float32 = [ada]'s fp32 network, bit-identical to no dtype.
  dtype: Any = jnp.float32
  num_bf16_res: int = 4  # [ada] train.py num_fp16_res=4

  @property
  def block_resolutions(self) -> list[int]:
    log2 = int(np.log2(self.img_resolution))
    return [2 ** i for i in range(2, log2 + 1)]

  @property
  def num_ws(self) -> int:
    # Each block: its convs; the last also its ToRGB ([ada] num_ws).
    return 2 * len(self.block_resolutions)

  @nn.compact
  def __call__(self, ws: Array, noise_mode: str = 'const') -> Array:
    """ws [N, num_ws, w_dim] -> image [N, H, W, img_channels] (NHWC)."""
    ws = ws.astype(jnp.float32)
    x = img = None
    w_idx = 0
    low = low_precision_resolution(self.img_resolution, self.num_bf16_res)
    for res in self.block_resolutions:
      cin = (_channels(res // 2, self.channel_base, self.channel_max)
             if res > 4 else 0)
      block = SynthesisBlock(
          cin, _channels(res, self.channel_base, self.channel_max),
          self.w_dim, res, self.img_channels,
          is_last=res == self.img_resolution, conv_clamp=self.conv_clamp,
          use_noise=self.use_noise,
          dtype=self.dtype if res >= low else jnp.float32, name=f'b{res}')
      n = block.num_conv
      x, img = block(x, img, ws[:, w_idx:w_idx + n + 1], noise_mode)
      w_idx += n
    return img


class Generator(nn.Module):
  """[ada] Generator = MappingNetwork + SynthesisNetwork. Output NHWC."""
  z_dim: int = 512
  c_dim: int = 0
  w_dim: int = 512
  img_resolution: int = 256
  img_channels: int = 3
  mapping_layers: int = 8
  mapping_lr_multiplier: float = 0.01
  w_avg_beta: Optional[float] = 0.995
  channel_base: int = 32768
  channel_max: int = 512
  conv_clamp: Optional[float] = None
  dtype: Any = jnp.float32  # synthesis compute dtype (SynthesisNetwork)
  num_bf16_res: int = 4

  def setup(self):
    self.synthesis = SynthesisNetwork(
        self.w_dim, self.img_resolution, self.img_channels,
        self.channel_base, self.channel_max, self.conv_clamp,
        dtype=self.dtype, num_bf16_res=self.num_bf16_res)
    self.mapping = MappingNetwork(
        self.z_dim, self.c_dim, self.w_dim, self.num_ws,
        num_layers=self.mapping_layers,
        lr_multiplier=self.mapping_lr_multiplier, w_avg_beta=self.w_avg_beta)

  @property
  def num_ws(self) -> int:
    return 2 * (int(np.log2(self.img_resolution)) - 1)

  def __call__(self, z: Array, c: Optional[Array] = None,
               truncation_psi: float = 1.0,
               truncation_cutoff: Optional[int] = None,
               noise_mode: str = 'const', update_w_avg: bool = False) -> Array:
    ws = self.mapping(z, c, truncation_psi, truncation_cutoff, update_w_avg)
    return self.synthesis(ws, noise_mode)

  def map(self, z, c=None, truncation_psi=1.0, truncation_cutoff=None,
          update_w_avg=False) -> Array:
    """z -> ws [N, num_ws, w_dim] (use with `apply(..., method='map')`)."""
    return self.mapping(z, c, truncation_psi, truncation_cutoff, update_w_avg)

  def synthesize(self, ws: Array, noise_mode: str = 'const') -> Array:
    return self.synthesis(ws, noise_mode)


class DiscriminatorBlock(nn.Module):
  """[ada] DiscriminatorBlock, architecture 'resnet'."""
  in_channels: int
  tmp_channels: int
  out_channels: int
  img_channels: int
  conv_clamp: Optional[float] = None
  dtype: Any = jnp.float32  # its convs' compute dtype ([ada] use_fp16)

  @nn.compact
  def __call__(self, x: Optional[Array], img: Array) -> Array:
    tmp, out, clamp = self.tmp_channels, self.out_channels, self.conv_clamp
    if x is not None:
      x = x.astype(self.dtype)  # [ada] x.to(dtype=dtype)
    if self.in_channels == 0:
      x = Conv2dLayer(self.img_channels, tmp, 1, activation='lrelu',
                      conv_clamp=clamp, name='fromrgb')(img.astype(self.dtype))
    half = math.sqrt(0.5)
    y = Conv2dLayer(tmp, out, 1, use_bias=False, down=2, name='skip')(
        x, gain=half)
    x = Conv2dLayer(tmp, tmp, 3, activation='lrelu', conv_clamp=clamp,
                    name='conv0')(x)
    x = Conv2dLayer(tmp, out, 3, activation='lrelu', down=2,
                    conv_clamp=clamp, name='conv1')(x, gain=half)
    return y + x


def minibatch_std(x: Array, group_size: Optional[int] = 4,
                  num_channels: int = 1) -> Array:
  """[ada] MinibatchStdLayer on NHWC; sample g*n + j is in group j."""
  n, h, w, c = x.shape
  g = min(group_size, n) if group_size is not None else n
  f = num_channels
  y = x.reshape(g, -1, h, w, f, c // f)
  y = y - jnp.mean(y, axis=0)
  y = jnp.sqrt(jnp.mean(jnp.square(y), axis=0) + 1e-8)  # [n, H, W, F, c]
  y = jnp.mean(y, axis=(1, 2, 4))  # [n, F]
  y = jnp.tile(y[:, None, None, :], (g, h, w, 1))
  return jnp.concatenate([x, y.astype(x.dtype)], axis=-1)


class DiscriminatorEpilogue(nn.Module):
  """[ada] DiscriminatorEpilogue (resnet): mbstd, conv, fc, out."""
  in_channels: int
  cmap_dim: int
  resolution: int = 4
  mbstd_group_size: Optional[int] = 4
  mbstd_num_channels: int = 1
  conv_clamp: Optional[float] = None

  @nn.compact
  def __call__(self, x: Array, cmap: Optional[Array]) -> Array:
    c, r = self.in_channels, self.resolution
    x = x.astype(jnp.float32)
    if self.mbstd_num_channels > 0:
      x = minibatch_std(x, self.mbstd_group_size, self.mbstd_num_channels)
    x = Conv2dLayer(c + self.mbstd_num_channels, c, 3, activation='lrelu',
                    conv_clamp=self.conv_clamp, name='conv')(x)
    # torch flattens NCHW: channel-major order.
    x = jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)
    x = FullyConnectedLayer(c * r * r, c, activation='lrelu', name='fc')(x)
    x = FullyConnectedLayer(c, 1 if self.cmap_dim == 0 else self.cmap_dim,
                            name='out')(x)
    if self.cmap_dim > 0:
      x = jnp.sum(x * cmap, axis=1, keepdims=True) / math.sqrt(self.cmap_dim)
    return x


class Discriminator(nn.Module):
  """[ada] Discriminator, resnet: image NHWC [N, R, R, C] -> logits [N, 1]."""
  c_dim: int = 0
  img_resolution: int = 256
  img_channels: int = 3
  channel_base: int = 32768
  channel_max: int = 512
  conv_clamp: Optional[float] = None
  cmap_dim: Optional[int] = None
  mbstd_group_size: Optional[int] = 4
  mbstd_num_channels: int = 1
  mapping_layers: int = 8
  # Compute dtype of the num_bf16_res highest-resolution blocks (module
  # docstring); the epilogue b4 is always float32, as in [ada].
  dtype: Any = jnp.float32
  num_bf16_res: int = 4  # [ada] train.py num_fp16_res=4

  @nn.compact
  def __call__(self, img: Array, c: Optional[Array] = None) -> Array:
    log2 = int(np.log2(self.img_resolution))
    ch = lambda r: _channels(r, self.channel_base, self.channel_max)
    low = low_precision_resolution(self.img_resolution, self.num_bf16_res)
    x = None
    for res in [2 ** i for i in range(log2, 2, -1)]:
      x = DiscriminatorBlock(
          ch(res) if res < self.img_resolution else 0, ch(res), ch(res // 2),
          self.img_channels, conv_clamp=self.conv_clamp,
          dtype=self.dtype if res >= low else jnp.float32, name=f'b{res}')(
              x, img)
    cmap_dim = ch(4) if self.cmap_dim is None else self.cmap_dim
    cmap = None
    if self.c_dim == 0:
      cmap_dim = 0
    else:
      cmap = MappingNetwork(0, self.c_dim, cmap_dim, None,
                            num_layers=self.mapping_layers, w_avg_beta=None,
                            name='mapping')(None, c)
    return DiscriminatorEpilogue(
        ch(4), cmap_dim, 4, self.mbstd_group_size, self.mbstd_num_channels,
        self.conv_clamp, name='b4')(x, cmap)
