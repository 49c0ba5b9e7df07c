"""U-GAT-IT generator and discriminators (Kim et al., ICLR 2020), Flax Linen.

Layer for layer as the official PyTorch code [pt] znxlwm/UGATIT-pytorch
`networks.py` at its last revision (f7a4b59, 2019-08-27: ILN/AdaILN
statistics over dim=[2, 3] and [1, 2, 3]; AdaILN blocks residual since
1ed59f2), NHWC instead of NCHW. [tf] is the TF version taki0112/UGATIT
`ops.py`, cited where the two differ.

Generator ([pt] ResnetGenerator; C = 4 * ngf; every conv reflect-padded,
bias-free except conv1x1):
  stem      7x7 conv 3 -> ngf, InstanceNorm, ReLU          DownBlock.1
  down_i    3x3/2 conv, InstanceNorm, ReLU (i = 0, 1)       DownBlock.5, .9
  res_i     ResnetBlock: conv, IN, ReLU, conv, IN, + x      DownBlock.{12+i}
  CAM       gap_fc / gmp_fc: Linear(C -> 1, no bias) on the global average /
            max pool; their weights re-weight the map, concat -> 2C,
            conv1x1 (2C -> C, with bias), ReLU; heatmap = channel sum
  fc_0/1    Linear (no bias) + ReLU twice on the flattened map (full) or on
            its global average (light)                      FC.0, FC.2
  gamma/beta Linear (no bias)                               gamma, beta
  adares_i  ResnetAdaILNBlock: conv, AdaILN, ReLU, conv, AdaILN, + x
                                                            UpBlock1_{i+1}
  up_i      nearest x2, 3x3 conv, ILN, ReLU (i = 0, 1)      UpBlock2.2/.3,
                                                            UpBlock2.7/.8
  out       7x7 conv ngf -> 3, tanh                         UpBlock2.11
Returns (image [N, H, W, 3], cam_logit [N, 2], heatmap [N, H/4, W/4, 1]),
the order of [pt] ResnetGenerator.forward.

Discriminator ([pt] Discriminator; every conv 4x4, reflect pad 1, with bias,
LeakyReLU 0.2): n_layers - 2 stride-2 convs (ndf, 2 ndf, ...) and one
stride-1 conv to C = ndf * 2**(n_layers - 2); CAM as above with spectrally
normalised gap_fc / gmp_fc; conv1x1 (2C -> C, bias, NOT spectrally
normalised in [pt]) + LeakyReLU; heatmap; final 4x4 conv C -> 1 without bias.
[pt] UGATIT.py builds a global (n_layers=7) and a local (n_layers=5) one per
domain. Returns (out [N, h, w, 1], cam_logit [N, 2], heatmap [N, h', w', 1]).

Spectral norm: torch.nn.utils.spectral_norm semantics (not those of
animejax.models.spectral_norm, which follows AnimeGAN's TF op):
  W = weight_orig as a matrix [out, in*kh*kw]; u [out], v [in*kh*kw]
  persistent, initialised to normalize(N(0, 1)).
  training forward: v = normalize(W^T u); u = normalize(W v) (one power
    iteration, under no_grad: no gradient through u and v);
  every forward:    sigma = u . (W v); weight = weight_orig / sigma;
  eval forward:     no iteration, the stored u and v are used as they are.
  normalize(x) = x / max(||x||_2, 1e-12).
Here u and v live in the 'spectral' collection (`<module>/u`, `<module>/v`,
v in our kernel's (kh, kw, in) order); `update_stats=True` is the training
forward (the updated u, v are stored when 'spectral' is mutable),
`update_stats=False` the eval forward. In [pt] the CAM maps are re-weighted
by `list(self.gap_fc.parameters())[0]`, which under spectral_norm is
weight_orig: the un-normalised weight (the logits use weight_orig / sigma).
We reproduce that.

Initialisation follows torch's defaults ([pt] sets none of its own, except
rho/gamma/beta): conv and linear weights and biases U(+-1/sqrt(fan_in)).
Param counts at ngf = ndf = 64, n_blocks = 4, img_size = 256: full G
278,959,808, light G 10,589,888, global D 53,130,176, local D 3,290,560
(u and v not counted, as torch counts buffers).
"""

from __future__ import annotations

import math
from typing import Any, Callable, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from animejax.models import layers

Array = jax.Array

# [pt] adaILN / ILN eps=1e-5; nn.InstanceNorm2d default eps=1e-5 (biased
# variance, affine=False, no running stats).
NORM_EPS = 1e-5
# [pt] adaILN: self.rho.data.fill_(0.9). ([tf] initialises rho to 1.0 and
# uses clip(rho - 0.1, 0, 1), i.e. the same 0.9 at the start.)
ADAILN_RHO_INIT = 0.9
# [pt] ILN: rho 0.0, gamma 1.0, beta 0.0.
ILN_RHO_INIT = 0.0
# [pt] Discriminator: nn.LeakyReLU(0.2, True).
LEAKY_SLOPE = 0.2
# torch.nn.utils.spectral_norm(eps=1e-12), n_power_iterations=1.
SN_EPS = 1e-12
# [pt] ResnetGenerator: n_downsampling = 2.
N_DOWNSAMPLING = 2
# 'unbiased': torch.var's default (Bessel's correction), as [pt] ILN/AdaILN.
# 'biased': tf.nn.moments, as [tf] ops.py adaptive_instance_layer_norm.
VARIANCES = ('unbiased', 'biased')


def torch_kernel_init(key: Array, shape: tuple[int, ...],
                      dtype: Any = jnp.float32) -> Array:
  """nn.Conv2d / nn.Linear weight default: kaiming_uniform_(a=sqrt(5)).

  That is U(-b, b) with b = sqrt(6 / ((1 + 5) * fan_in)) = 1 / sqrt(fan_in);
  fan_in = prod(shape[:-1]) for our [kh, kw, in, out] and [in, out] kernels.
  """
  bound = 1.0 / math.sqrt(math.prod(shape[:-1]))
  return jax.random.uniform(key, shape, dtype, -bound, bound)


def torch_bias_init(fan_in: int) -> Callable[..., Array]:
  """nn.Conv2d / nn.Linear bias default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
  bound = 1.0 / math.sqrt(fan_in)

  def init(key: Array, shape: tuple[int, ...], dtype: Any = jnp.float32
           ) -> Array:
    return jax.random.uniform(key, shape, dtype, -bound, bound)
  return init


def _normalize(x: Array, eps: float = SN_EPS) -> Array:
  """torch.nn.functional.normalize(x, dim=0, eps): x / max(||x||, eps)."""
  return x / jnp.maximum(jnp.sqrt(jnp.sum(x * x)), eps)


def _unit_normal(key: Array, shape: tuple[int, ...]) -> Array:
  # torch spectral_norm apply(): normalize(weight.new_empty(n).normal_(0, 1)).
  return _normalize(jax.random.normal(key, shape, jnp.float32))


def spectral_sigma(mdl: nn.Module, w: Array, update_stats: bool) -> Array:
  """sigma of w [rows, out] (= torch's weight_mat transposed), torch rules.

  Declares 'spectral' variables u [out] and v [rows] on `mdl`; runs one power
  iteration when `update_stats` (torch training mode) and stores the result
  when 'spectral' is mutable; without it uses the stored u, v (torch eval).
  """
  rows, out = w.shape
  u_var = mdl.variable('spectral', 'u', lambda: _unit_normal(
      mdl.make_rng('params'), (out,)))
  v_var = mdl.variable('spectral', 'v', lambda: _unit_normal(
      mdl.make_rng('params'), (rows,)))
  u, v = u_var.value, v_var.value
  if update_stats and not mdl.is_initializing():
    # torch: computed under torch.no_grad(), then cloned.
    wc = jax.lax.stop_gradient(w)
    v = jax.lax.stop_gradient(_normalize(wc @ u))      # W^T u
    u = jax.lax.stop_gradient(_normalize(wc.T @ v))    # W v
    if mdl.is_mutable_collection('spectral'):
      u_var.value, v_var.value = u, v
  return jnp.dot(u, w.T @ v)                           # u . (W v)


class Conv(nn.Module):
  """Reflect-padded VALID conv, torch default init; kernel [k, k, in, out].

  With `spectral_norm`, the kernel is divided by its torch-style spectral
  norm (see the module docstring) and `update_stats` is the training flag.
  """
  features: int
  kernel_size: int
  stride: int = 1
  pad: int = 0
  use_bias: bool = False
  spectral_norm: bool = False
  dtype: Any = jnp.float32
  conv_impl: str = 'auto'

  @nn.compact
  def __call__(self, x: Array, update_stats: bool = False) -> Array:
    k, c_in = self.kernel_size, x.shape[-1]
    kernel = self.param('kernel', torch_kernel_init,
                        (k, k, c_in, self.features), jnp.float32)
    if self.spectral_norm:
      sigma = spectral_sigma(self, kernel.reshape(-1, self.features),
                             update_stats)
      kernel = kernel / sigma
    p = self.pad
    y = layers.conv2d(x.astype(self.dtype), kernel.astype(self.dtype),
                      stride=self.stride, pads=(p, p, p, p),
                      pad_mode='reflect', impl=self.conv_impl)
    if self.use_bias:
      bias = self.param('bias', torch_bias_init(k * k * c_in),
                        (self.features,), jnp.float32)
      y = y + bias.astype(self.dtype)
    return y


class Linear(nn.Module):
  """nn.Linear without bias, torch default init; kernel [in, out]."""
  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    kernel = self.param('kernel', torch_kernel_init,
                        (x.shape[-1], self.features), jnp.float32)
    return x.astype(self.dtype) @ kernel.astype(self.dtype)


class CAMLinear(nn.Module):
  """[pt] gap_fc / gmp_fc: Linear(C -> 1, bias=False), optionally with SN.

  Returns (logit [N, 1], map weight [C]). The map weight is
  `list(fc.parameters())[0]` in [pt]: the raw kernel even under spectral
  norm (weight_orig), while the logit uses the normalised one.
  """
  spectral_norm: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, pooled: Array, update_stats: bool = False
               ) -> tuple[Array, Array]:
    kernel = self.param('kernel', torch_kernel_init, (pooled.shape[-1], 1),
                        jnp.float32)
    w = kernel
    if self.spectral_norm:
      w = kernel / spectral_sigma(self, kernel, update_stats)
    logit = pooled.astype(self.dtype) @ w.astype(self.dtype)
    return logit, kernel[:, 0].astype(self.dtype)


def class_activation(x: Array, gap_fc: CAMLinear, gmp_fc: CAMLinear,
                     update_stats: bool = False) -> tuple[Array, Array]:
  """[pt] CAM head: (cam_logit [N, 2], re-weighted map [N, H, W, 2C])."""
  gap_logit, gap_w = gap_fc(jnp.mean(x, axis=(1, 2)), update_stats)
  gmp_logit, gmp_w = gmp_fc(jnp.max(x, axis=(1, 2)), update_stats)
  cam_logit = jnp.concatenate([gap_logit, gmp_logit], axis=-1)
  return cam_logit, jnp.concatenate([x * gap_w, x * gmp_w], axis=-1)


def _moments(x: Array, axes: tuple[int, ...], unbiased: bool
             ) -> tuple[Array, Array]:
  mean = jnp.mean(x, axis=axes, keepdims=True)
  n = math.prod(x.shape[a] for a in axes)
  ssq = jnp.sum(jnp.square(x - mean), axis=axes, keepdims=True)
  return mean, ssq / (n - 1 if unbiased else n)


def instance_layer_mix(x: Array, rho: Array, variance: str,
                       eps: float = NORM_EPS) -> Array:
  """rho * InstanceNorm(x) + (1 - rho) * LayerNorm(x), float32 statistics.

  [pt] ILN / adaILN forward: instance statistics over (H, W), layer
  statistics over (H, W, C), both with torch.var (unbiased by default).
  """
  if variance not in VARIANCES:
    raise ValueError(f'variance={variance!r}; expected one of {VARIANCES}.')
  unbiased = variance == 'unbiased'
  xf = x.astype(jnp.float32)
  in_mean, in_var = _moments(xf, (1, 2), unbiased)
  ln_mean, ln_var = _moments(xf, (1, 2, 3), unbiased)
  out_in = (xf - in_mean) / jnp.sqrt(in_var + eps)
  out_ln = (xf - ln_mean) / jnp.sqrt(ln_var + eps)
  return rho * out_in + (1.0 - rho) * out_ln


class AdaILN(nn.Module):
  """[pt] adaILN: params {'rho' [C]} (init 0.9); gamma, beta [N, C] given."""
  variance: str = 'unbiased'

  @nn.compact
  def __call__(self, x: Array, gamma: Array, beta: Array) -> Array:
    rho = self.param('rho', nn.initializers.constant(ADAILN_RHO_INIT),
                     (x.shape[-1],), jnp.float32)
    y = instance_layer_mix(x, rho, self.variance)
    y = y * gamma[:, None, None, :] + beta[:, None, None, :]
    return y.astype(x.dtype)


class ILN(nn.Module):
  """[pt] ILN: params {'rho' (0), 'gamma' (1), 'beta' (0)}, each [C]."""
  variance: str = 'unbiased'

  @nn.compact
  def __call__(self, x: Array) -> Array:
    c = x.shape[-1]
    rho = self.param('rho', nn.initializers.constant(ILN_RHO_INIT), (c,),
                     jnp.float32)
    gamma = self.param('gamma', nn.initializers.ones, (c,), jnp.float32)
    beta = self.param('beta', nn.initializers.zeros, (c,), jnp.float32)
    y = instance_layer_mix(x, rho, self.variance) * gamma + beta
    return y.astype(x.dtype)


def instance_norm(x: Array) -> Array:
  """nn.InstanceNorm2d(C) defaults: eps 1e-5, biased variance, no affine."""
  xf = x.astype(jnp.float32)
  mean, var = _moments(xf, (1, 2), unbiased=False)
  return ((xf - mean) * jax.lax.rsqrt(var + NORM_EPS)).astype(x.dtype)


class ResnetBlock(nn.Module):
  """[pt] ResnetBlock(dim, use_bias=False): conv1 = conv_block.1, conv2 = .5."""
  dtype: Any = jnp.float32
  conv_impl: str = 'auto'

  @nn.compact
  def __call__(self, x: Array) -> Array:
    c = x.shape[-1]
    h = Conv(c, 3, pad=1, dtype=self.dtype, conv_impl=self.conv_impl,
             name='conv1')(x)
    h = nn.relu(instance_norm(h))
    h = Conv(c, 3, pad=1, dtype=self.dtype, conv_impl=self.conv_impl,
             name='conv2')(h)
    return x + instance_norm(h)


class ResnetAdaILNBlock(nn.Module):
  """[pt] ResnetAdaILNBlock(dim, use_bias=False), residual (since 1ed59f2)."""
  variance: str = 'unbiased'
  dtype: Any = jnp.float32
  conv_impl: str = 'auto'

  @nn.compact
  def __call__(self, x: Array, gamma: Array, beta: Array) -> Array:
    c = x.shape[-1]
    h = Conv(c, 3, pad=1, dtype=self.dtype, conv_impl=self.conv_impl,
             name='conv1')(x)
    h = nn.relu(AdaILN(self.variance, name='norm1')(h, gamma, beta))
    h = Conv(c, 3, pad=1, dtype=self.dtype, conv_impl=self.conv_impl,
             name='conv2')(h)
    return x + AdaILN(self.variance, name='norm2')(h, gamma, beta)


def upsample_nearest(x: Array) -> Array:
  """nn.Upsample(scale_factor=2, mode='nearest') on NHWC."""
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


class UGATITGenerator(nn.Module):
  """[pt] ResnetGenerator(3, 3, ngf, n_blocks, img_size, light).

  Attributes:
    ngf: base width ([pt] main.py --ch 64).
    n_blocks: residual blocks before and after the CAM ([pt] main.py
      --n_res 4; ResnetGenerator's own default is 6).
    img_size: training resolution ([pt] --img_size 256). The full model's
      first FC layer takes the whole (img_size/4)^2 * 4 ngf map, so it only
      accepts img_size x img_size inputs; the light one takes any size.
    light: U-GAT-IT light ([pt] --light): the gamma/beta MLP reads the
      global average of the map instead of the flattened map.
    variance: 'unbiased' (torch.var default, as [pt] ILN/AdaILN) or
      'biased' (tf.nn.moments, the [tf] convention). InstanceNorm2d is
      biased in both.
    dtype: compute dtype; params stay float32, norm statistics float32.
    conv_impl: 'auto' | 'fast' | 'plain', see animejax.models.layers.
  """
  ngf: int = 64
  n_blocks: int = 4
  img_size: int = 256
  light: bool = False
  variance: str = 'unbiased'
  dtype: Any = jnp.float32
  conv_impl: str = 'auto'

  size_multiple: ClassVar[int] = 4

  @nn.compact
  def __call__(self, x: Array) -> tuple[Array, Array, Array]:
    if self.variance not in VARIANCES:
      raise ValueError(f'variance={self.variance!r}; expected one of '
                       f'{VARIANCES}.')
    if x.ndim != 4 or x.shape[-1] != 3:
      raise ValueError(f'UGATITGenerator expects images [N, H, W, 3], got '
                       f'{x.shape}.')
    if not self.light and tuple(x.shape[1:3]) != (self.img_size,) * 2:
      raise ValueError(
          f'The full UGATITGenerator takes img_size x img_size inputs '
          f'({self.img_size}x{self.img_size}), got {x.shape[1]}x{x.shape[2]}: '
          'its FC layer reads the flattened feature map. Use light=True for '
          'other sizes.')
    kw = dict(dtype=self.dtype, conv_impl=self.conv_impl)
    c = self.ngf
    h = Conv(c, 7, pad=3, name='stem', **kw)(x)
    h = nn.relu(instance_norm(h))
    for i in range(N_DOWNSAMPLING):
      c *= 2
      h = Conv(c, 3, stride=2, pad=1, name=f'down_{i}', **kw)(h)
      h = nn.relu(instance_norm(h))
    for i in range(self.n_blocks):
      h = ResnetBlock(name=f'res_{i}', **kw)(h)

    cam_logit, h = class_activation(
        h, CAMLinear(dtype=self.dtype, name='gap_fc'),
        CAMLinear(dtype=self.dtype, name='gmp_fc'))
    h = nn.relu(Conv(c, 1, use_bias=True, name='conv1x1', **kw)(h))
    heatmap = jnp.sum(h, axis=-1, keepdims=True)

    if self.light:
      z = jnp.mean(h, axis=(1, 2))
    else:
      # [pt] x.view(N, -1) flattens NCHW as (C, H, W); ours is (H, W, C): the
      # converter permutes FC.0's columns accordingly.
      z = h.reshape(h.shape[0], -1)
    z = nn.relu(Linear(c, self.dtype, name='fc_0')(z))
    z = nn.relu(Linear(c, self.dtype, name='fc_1')(z))
    gamma = Linear(c, self.dtype, name='gamma')(z)
    beta = Linear(c, self.dtype, name='beta')(z)

    for i in range(self.n_blocks):
      h = ResnetAdaILNBlock(self.variance, name=f'adares_{i}', **kw)(
          h, gamma, beta)
    for i in range(N_DOWNSAMPLING):
      c //= 2
      h = Conv(c, 3, pad=1, name=f'up_{i}', **kw)(upsample_nearest(h))
      h = nn.relu(ILN(self.variance, name=f'up_norm_{i}')(h))
    image = jnp.tanh(Conv(3, 7, pad=3, name='out', **kw)(h))
    return image, cam_logit, heatmap


class UGATITDiscriminator(nn.Module):
  """[pt] Discriminator(3, ndf, n_layers): global (7) or local (5).

  Every conv and linear is spectrally normalised as in [pt] except conv1x1.
  Call with `update_stats=True` (and mutable=['spectral'] to keep the new
  u, v) for a torch training-mode forward, False for eval mode.

  Attributes:
    ndf: base width ([pt] --ch 64).
    n_layers: 7 = global D, 5 = local D ([pt] UGATIT.py); at least 3.
    dtype: compute dtype; params, u, v and sigma stay float32.
    conv_impl: 'auto' | 'fast' | 'plain', see animejax.models.layers.
  """
  ndf: int = 64
  n_layers: int = 5
  dtype: Any = jnp.float32
  conv_impl: str = 'auto'

  @nn.compact
  def __call__(self, x: Array, update_stats: bool = False
               ) -> tuple[Array, Array, Array]:
    if self.n_layers < 3:
      raise ValueError(f'n_layers must be >= 3, got {self.n_layers}.')
    if x.ndim != 4 or x.shape[-1] != 3:
      raise ValueError(f'UGATITDiscriminator expects images [N, H, W, 3], got '
                       f'{x.shape}.')

    def sn_conv(y, features, stride, use_bias, name):
      return Conv(features, 4, stride=stride, pad=1, use_bias=use_bias,
                  spectral_norm=True, dtype=self.dtype,
                  conv_impl=self.conv_impl, name=name)(y, update_stats)

    def lrelu(y):
      return nn.leaky_relu(y, LEAKY_SLOPE)

    # [pt] model: one stride-2 conv to ndf, n_layers - 3 more doubling the
    # width, then a stride-1 conv doubling it once more.
    h = lrelu(sn_conv(x, self.ndf, 2, True, 'conv_0'))
    for i in range(1, self.n_layers - 2):
      h = lrelu(sn_conv(h, self.ndf * 2 ** i, 2, True, f'conv_{i}'))
    c = self.ndf * 2 ** (self.n_layers - 2)
    h = lrelu(sn_conv(h, c, 1, True, f'conv_{self.n_layers - 2}'))

    cam_logit, h = class_activation(
        h, CAMLinear(True, self.dtype, name='gap_fc'),
        CAMLinear(True, self.dtype, name='gmp_fc'), update_stats)
    h = lrelu(Conv(c, 1, use_bias=True, dtype=self.dtype,
                   conv_impl=self.conv_impl, name='conv1x1')(h))
    heatmap = jnp.sum(h, axis=-1, keepdims=True)
    out = sn_conv(h, 1, 1, False, 'conv_out')
    return out, cam_logit, heatmap


def clip_rho(params: Any, lo: float = 0.0, hi: float = 1.0) -> Any:
  """Clips every 'rho' leaf to [lo, hi]: [pt] RhoClipper(0, 1), which
  UGATIT.py applies to both generators after each G optimiser step."""
  def clip(path, leaf):
    key = path[-1]
    name = getattr(key, 'key', getattr(key, 'name', None))
    return jnp.clip(leaf, lo, hi) if name == 'rho' else leaf
  return jax.tree_util.tree_map_with_path(clip, params)
