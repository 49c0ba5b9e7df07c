"""SRGAN super-resolution networks (Ledig et al., CVPR 2017), NHWC Flax Linen.

Sources:
  [paper] Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a
          Generative Adversarial Network", CVPR 2017, Fig. 4.
  [port]  Lornatang/SRGAN-PyTorch `model.py` (HEAD 8842030, Dec 2025: classes
          SRResNet, _ResidualConvBlock, _UpsampleBlock, DiscriminatorForVGG;
          older revisions name the generator `Generator` with blocks
          conv_block1/2/3, same layers).
  [seed]  Team7-Code/anime-image-development `Super Resolution/generator.py`
          and `discriminator.py` (Keras, 32 -> 128 px anime faces).

SRResNet, [port] layer list (C = channels = 64, zero 'same' padding):
  conv1      conv 9x9 3 -> C + bias, PReLU          conv1.0, conv1.1
  trunk_i    16 x (conv 3x3 no bias, BN, PReLU,      trunk.i.rcb.0 .. 4
             conv 3x3 no bias, BN) + skip
  conv2      conv 3x3 no bias, BN, + conv1 output   conv2.0, conv2.1
  upsampling log2(upscale) x (conv 3x3 C -> 4C       upsampling.i.upsample_block
             + bias, pixel shuffle x2, PReLU)        .0 (conv), .2 (PReLU)
  conv3      conv 9x9 C -> 3 + bias                  conv3
  [port] then clamps to [0, 1] inside forward(), in training too.
Every [port] PReLU is torch `nn.PReLU()`: ONE slope shared by all channels,
initialised to 0.25.

[seed] generator (LRDim 32, 16 blocks), differences from [port]:
  - every conv has a bias (Keras Conv2D default), also before BN;
  - PReLU(shared_axes=[1, 2]): one slope per channel, initialised to 0
    (Keras default alpha_initializer='zeros');
  - BatchNormalization(momentum=0.5), epsilon 1e-3 (Keras default);
  - up-sampling = conv 3x3 -> 256, UpSampling2D(2) (nearest), PReLU: the
    channels stay 256, so the second up-sampling conv is 256 -> 256 and the
    9x9 output conv 256 -> 3 (pixel shuffle brings them back to C);
  - output activation tanh: input LR in [0, 1] (LRimages / 255), output and
    HR target in [-1, 1] ((HR - 127.5) / 127.5, SRGAN.py).
`seed_srresnet()` returns SRResNet configured so (2,040,067 parameters).

Param tree of SRResNet (kernels HWIO; torch OIHW -> transpose (2, 3, 1, 0)):
  conv1 {kernel, bias}, prelu1 {alpha}, trunk_i {conv1 {kernel}, bn1 {scale,
  bias}, prelu {alpha}, conv2 {kernel}, bn2}, conv2 {kernel}, bn2,
  upsampling_i {conv {kernel, bias}, prelu {alpha}}, conv3 {kernel, bias};
  batch_stats: every bn* {mean, var}.
Parameters at the [port] defaults (C 64, 16 blocks): x2 1,399,637,
x4 1,547,350, x8 1,695,063 (= torch `sum(p.numel())`); running statistics
are 'batch_stats', not counted.

BatchNorm momentum: flax/Keras `momentum` is the fraction of the old running
average KEPT (ra = m * ra + (1 - m) * batch); torch's is the fraction
REPLACED (ra = (1 - m) * ra + m * batch). torch's default 0.1 ([port]) is
flax 0.9; Keras 0.5 ([seed]) is flax 0.5. One more difference in training
mode: torch updates running_var with the unbiased batch variance (x n/(n-1),
n = N*H*W), flax with the biased one (1.000007 for a 16 x 96 x 96 batch).
Normalisation itself uses the biased variance in both.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from animejax.models import layers

Array = jax.Array

UPSAMPLE_MODES = ('pixel_shuffle', 'nearest')
OUT_ACTIVATIONS = ('none', 'tanh', 'clamp')
PRELU_MODES = ('shared', 'channel')
DISC_PADDINGS = ('torch', 'same')

# [port] nn.BatchNorm2d defaults: momentum 0.1 (torch convention), eps 1e-5.
TORCH_BN_MOMENTUM = 0.9
TORCH_BN_EPS = 1e-5
# [seed] BatchNormalization(momentum=0.5); Keras default epsilon=1e-3.
KERAS_BN_MOMENTUM = 0.5
KERAS_BN_EPS = 1e-3
# torch nn.PReLU(init=0.25); Keras PReLU alpha_initializer='zeros'.
TORCH_PRELU_INIT = 0.25
# [port] DiscriminatorForVGG: nn.LeakyReLU(0.2); [seed] LeakyReLU(alpha=0.2).
LEAKY_SLOPE = 0.2

# [port] SRResNet init: nn.init.kaiming_normal_(weight) (fan_in, gain
# sqrt(2), untruncated normal), biases 0, BN weight 1.
kaiming_normal = nn.initializers.variance_scaling(2.0, 'fan_in', 'normal')
# [port] DiscriminatorForVGG keeps torch's default Conv2d / Linear init:
# kaiming_uniform_(a=sqrt(5)) = U(+-sqrt(1 / fan_in)). (torch's default bias
# init U(+-1/sqrt(fan_in)) is replaced by zeros here.)
torch_default_init = nn.initializers.variance_scaling(1.0 / 3.0, 'fan_in',
                                                      'uniform')


def pixel_shuffle(x: Array, r: int) -> Array:
  """torch `F.pixel_shuffle` on NHWC: [N, H, W, C*r*r] -> [N, H*r, W*r, C].

  torch's ordering: out[c, h*r + i, w*r + j] = in[c*r*r + i*r + j, h, w]
  (channel-major). TF `depth_to_space` uses in[(i*r + j)*C + c] instead, so
  the two are not interchangeable without permuting the conv's output
  channels.
  """
  n, h, w, crr = x.shape
  if crr % (r * r):
    raise ValueError(f'pixel_shuffle({r}) needs channels divisible by {r * r},'
                     f' got {crr}.')
  c = crr // (r * r)
  x = x.reshape(n, h, w, c, r, r)
  x = x.transpose(0, 1, 4, 2, 5, 3)  # [N, H, i, W, j, C]
  return x.reshape(n, h * r, w * r, c)


def upsample_nearest(x: Array, r: int) -> Array:
  """Keras UpSampling2D(r) (interpolation='nearest'): repeats rows, columns."""
  return jnp.repeat(jnp.repeat(x, r, axis=1), r, axis=2)


class PReLU(nn.Module):
  """PReLU: x if x >= 0 else alpha * x. Param 'alpha': [1] or [C].

  'shared' = torch nn.PReLU() (num_parameters=1, [port]); 'channel' = Keras
  PReLU(shared_axes=[1, 2]) ([seed]) = torch nn.PReLU(C).
  """
  mode: str = 'shared'
  # (Not named `init`: a field of that name would hide Module.init.)
  alpha_init: float = TORCH_PRELU_INIT
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    if self.mode not in PRELU_MODES:
      raise ValueError(f'prelu={self.mode!r}; expected one of {PRELU_MODES}.')
    n = 1 if self.mode == 'shared' else x.shape[-1]
    alpha = self.param('alpha', nn.initializers.constant(self.alpha_init), (n,),
                       self.param_dtype)
    return jnp.where(x >= 0, x, alpha.astype(x.dtype) * x)


def _conv(features: int, k: int, use_bias: bool, dtype: Any, name: str,
          stride: int = 1, pads: layers.Pads | None = None,
          init: Any = kaiming_normal) -> layers.Conv:
  """Zero-padded conv ('same' for stride 1, as torch padding=k // 2)."""
  if pads is None:
    p = k // 2
    pads = (p, p, p, p)
  return layers.Conv(features, k, stride, pads=pads, pad_mode='zero',
                     use_bias=use_bias, dtype=dtype, kernel_init=init,
                     name=name)


def _bn(train: bool, momentum: float, eps: float, dtype: Any,
        name: str) -> nn.BatchNorm:
  # Statistics are reduced in float32 whatever `dtype` (flax default
  # force_float32_reductions=True).
  return nn.BatchNorm(use_running_average=not train, momentum=momentum,
                      epsilon=eps, dtype=dtype, name=name)


def _check_images(x: Array, name: str) -> None:
  if x.ndim != 4 or x.shape[-1] != 3:
    raise ValueError(f'{name} expects images [N, H, W, 3], got shape '
                     f'{tuple(x.shape)}.')


class ResidualBlock(nn.Module):
  """[port] _ResidualConvBlock: conv-BN-PReLU-conv-BN + identity."""
  bn_momentum: float = TORCH_BN_MOMENTUM
  bn_epsilon: float = TORCH_BN_EPS
  prelu: str = 'shared'
  prelu_init: float = TORCH_PRELU_INIT
  conv_bias: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, train: bool) -> Array:
    c = x.shape[-1]
    bn = lambda name: _bn(train, self.bn_momentum, self.bn_epsilon,
                          self.dtype, name)
    h = _conv(c, 3, self.conv_bias, self.dtype, 'conv1')(x)
    h = bn('bn1')(h)
    h = PReLU(self.prelu, self.prelu_init, name='prelu')(h)
    h = _conv(c, 3, self.conv_bias, self.dtype, 'conv2')(h)
    h = bn('bn2')(h)
    return h + x


class SRResNet(nn.Module):
  """SRResNet / SRGAN generator: [N, h, w, 3] -> [N, h*upscale, w*upscale, 3].

  Defaults are [port]'s: input LR and output SR in [0, 1]. With
  out_activation='none' the output is NOT clamped; clamping at inference is
  the caller's job ([port] clamps inside forward() in training too: 'clamp'
  reproduces that, gradients vanish outside [0, 1]). 'tanh' gives [-1, 1]
  ([seed]). `__call__(x, train)`: BatchNorm uses batch statistics and updates
  'batch_stats' (apply with mutable=['batch_stats']) when train, frozen
  running statistics otherwise. Output float32 whatever `dtype` is.
  """
  channels: int = 64
  num_blocks: int = 16
  upscale: int = 4
  upsample: str = 'pixel_shuffle'
  out_activation: str = 'none'
  bn_momentum: float = TORCH_BN_MOMENTUM
  bn_epsilon: float = TORCH_BN_EPS
  prelu: str = 'shared'
  prelu_init: float = TORCH_PRELU_INIT
  conv_bias_before_bn: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, train: bool = False) -> Array:
    _check_images(x, 'SRResNet')
    if self.upsample not in UPSAMPLE_MODES:
      raise ValueError(f'upsample={self.upsample!r}; expected one of '
                       f'{UPSAMPLE_MODES}.')
    if self.out_activation not in OUT_ACTIVATIONS:
      raise ValueError(f'out_activation={self.out_activation!r}; expected '
                       f'one of {OUT_ACTIVATIONS}.')
    # [port] supports 2, 4, 8 (log2(upscale) x2 stages); any power of 2 here.
    n_up = int(round(math.log2(self.upscale))) if self.upscale > 1 else 0
    if self.upscale < 2 or 2 ** n_up != self.upscale:
      raise ValueError(f'upscale={self.upscale}; expected a power of 2 >= 2.')
    c, bias = self.channels, self.conv_bias_before_bn
    prelu = lambda name: PReLU(self.prelu, self.prelu_init, name=name)

    x = x.astype(self.dtype)
    head = _conv(c, 9, True, self.dtype, 'conv1')(x)
    head = prelu('prelu1')(head)
    h = head
    for i in range(self.num_blocks):
      h = ResidualBlock(self.bn_momentum, self.bn_epsilon, self.prelu,
                        self.prelu_init, bias, self.dtype,
                        name=f'trunk_{i}')(h, train)
    h = _conv(c, 3, bias, self.dtype, 'conv2')(h)
    h = _bn(train, self.bn_momentum, self.bn_epsilon, self.dtype, 'bn2')(h)
    h = h + head  # [port] torch.add(x, conv1): the long skip
    for i in range(n_up):
      # [port] _UpsampleBlock: conv C -> 4C, PixelShuffle(2), PReLU.
      # [seed] conv -> 256, UpSampling2D(2), PReLU (256 channels stay).
      h = _UpsampleBlock(4 * c, self.upsample, self.prelu, self.prelu_init,
                         self.dtype, name=f'upsampling_{i}')(h)
    y = _conv(3, 9, True, self.dtype, 'conv3')(h).astype(jnp.float32)
    if self.out_activation == 'tanh':
      y = jnp.tanh(y)
    elif self.out_activation == 'clamp':
      y = jnp.clip(y, 0.0, 1.0)
    return y


class _UpsampleBlock(nn.Module):
  """conv 3x3 -> `features` (+ bias), x2 up-sampling, PReLU."""
  features: int
  upsample: str = 'pixel_shuffle'
  prelu: str = 'shared'
  prelu_init: float = TORCH_PRELU_INIT
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    h = _conv(self.features, 3, True, self.dtype, 'conv')(x)
    if self.upsample == 'pixel_shuffle':
      h = pixel_shuffle(h, 2)
    else:
      h = upsample_nearest(h, 2)
    return PReLU(self.prelu, self.prelu_init, name='prelu')(h)


def seed_srresnet(**overrides: Any) -> SRResNet:
  """[seed] generator.py as an SRResNet: 32 -> 128 px, tanh, Keras BN."""
  kw = dict(channels=64, num_blocks=16, upscale=4, upsample='nearest',
            out_activation='tanh', bn_momentum=KERAS_BN_MOMENTUM,
            bn_epsilon=KERAS_BN_EPS, prelu='channel', prelu_init=0.0,
            conv_bias_before_bn=True)
  kw.update(overrides)
  return SRResNet(**kw)


def _same_pads(n: int, k: int, s: int) -> tuple[int, int]:
  """TF/Keras padding='same': total max((ceil(n/s) - 1)*s + k - n, 0), the
  odd pixel at the end (bottom/right)."""
  total = max((-(-n // s) - 1) * s + k - n, 0)
  return total // 2, total - total // 2


class SRGANDiscriminator(nn.Module):
  """[port] DiscriminatorForVGG: images [N, S, S, 3] -> logits [N, 1].

  8 convs 3x3 (C, C, 2C, 2C, 4C, 4C, 8C, 8C; strides 1, 2, 1, 2, ...), BN
  after all but the first, LeakyReLU(0.2); then flatten, dense 1024,
  LeakyReLU(0.2), dense 1. [port] has no adaptive pooling: the head's input
  is 8C x (S/16)^2, fixed by the image size, and forward() asserts S == 96
  (6 x 6 x 512 = 18,432 inputs). `image_size` enforces that (None: any
  size, the dense kernel then follows it; [seed] uses 128). The flatten is
  in NHWC order (H, W, C), as Keras; torch flattens (C, H, W), which
  `convert_torch_state_dict` permutes. No sigmoid: [port] trains with
  BCEWithLogitsLoss; [seed] ends in Dense(1, activation='sigmoid').

  padding: 'torch' = zero pad 1 on every side (also stride 2); 'same' =
  Keras 'same' (stride 2 on even sizes pads bottom/right only) for [seed].
  conv_bias: bias on the BN'd convs too ([seed], Keras default); the first
  conv always has one. 23,563,649 parameters at [port]'s defaults.
  """
  channels: int = 64
  image_size: int | None = 96
  dense_features: int = 1024
  padding: str = 'torch'
  conv_bias: bool = False
  bn_momentum: float = TORCH_BN_MOMENTUM
  bn_epsilon: float = TORCH_BN_EPS
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, train: bool = False) -> Array:
    _check_images(x, 'SRGANDiscriminator')
    if self.padding not in DISC_PADDINGS:
      raise ValueError(f'padding={self.padding!r}; expected one of '
                       f'{DISC_PADDINGS}.')
    if self.image_size is not None and x.shape[1:3] != (self.image_size,
                                                        self.image_size):
      raise ValueError(f'SRGANDiscriminator(image_size={self.image_size}) got'
                       f' {x.shape[1]}x{x.shape[2]} images; the dense head '
                       'is tied to the input size ([port] asserts 96x96).')
    c = self.channels
    widths = (c, c, 2 * c, 2 * c, 4 * c, 4 * c, 8 * c, 8 * c)
    h = x.astype(self.dtype)
    for i, f in enumerate(widths):
      s = 1 if i % 2 == 0 else 2
      if self.padding == 'torch':
        pads = (1, 1, 1, 1)
      else:
        pads = _same_pads(h.shape[1], 3, s) + _same_pads(h.shape[2], 3, s)
      h = _conv(f, 3, i == 0 or self.conv_bias, self.dtype, f'conv{i}',
                stride=s, pads=pads, init=torch_default_init)(h)
      if i > 0:
        h = _bn(train, self.bn_momentum, self.bn_epsilon, self.dtype,
                f'bn{i}')(h)
      h = layers.lrelu(h, LEAKY_SLOPE)
    h = h.reshape(h.shape[0], -1)
    h = nn.Dense(self.dense_features, dtype=self.dtype,
                 kernel_init=torch_default_init, name='dense0')(h)
    h = layers.lrelu(h, LEAKY_SLOPE)
    h = nn.Dense(1, dtype=self.dtype, kernel_init=torch_default_init,
                 name='dense1')(h)
    return h.astype(jnp.float32)


# ------------------------------------------------------- torch state dicts


# Older [port] revisions (class Generator): conv_block1/2/3 = conv1/2/3.
_OLD_NAMES = {'conv_block1.': 'conv1.', 'conv_block2.': 'conv2.',
              'conv_block3.': 'conv3.'}


def _normalize_keys(state_dict: Mapping[str, Any]) -> dict[str, np.ndarray]:
  """Unwraps {'state_dict': ...} ([port] checkpoints), drops the 'module.'
  (DataParallel) and '_orig_mod.' (torch.compile; [port]
  utils.load_state_dict strips it too) prefixes, renames old block names."""
  if 'state_dict' in state_dict and isinstance(state_dict['state_dict'],
                                               Mapping):
    state_dict = state_dict['state_dict']
  out = {}
  for k, v in state_dict.items():
    for prefix in ('module.', '_orig_mod.'):
      if k.startswith(prefix):
        k = k[len(prefix):]
    for old, new in _OLD_NAMES.items():
      if k.startswith(old):
        k = new + k[len(old):]
    out[k] = np.asarray(v)
  return out


def _conv_w(w: np.ndarray) -> np.ndarray:
  return np.ascontiguousarray(np.transpose(w, (2, 3, 1, 0)), np.float32)


def _f32(a: np.ndarray) -> np.ndarray:
  return np.asarray(a, np.float32)


_Converted = tuple[dict[str, Any], dict[str, Any], set[str]]


def _convert_generator(sd: dict[str, np.ndarray]) -> _Converted:
  params: dict[str, Any] = {}
  stats: dict[str, Any] = {}
  used: set[str] = set()

  def get(key):
    used.add(key)
    return sd[key]

  def conv(prefix, bias=True):
    p = {'kernel': _conv_w(get(prefix + '.weight'))}
    if bias or prefix + '.bias' in sd:
      p['bias'] = _f32(get(prefix + '.bias'))
    return p

  def bn(prefix):
    used.add(prefix + '.num_batches_tracked')
    return ({'scale': _f32(get(prefix + '.weight')),
             'bias': _f32(get(prefix + '.bias'))},
            {'mean': _f32(get(prefix + '.running_mean')),
             'var': _f32(get(prefix + '.running_var'))})

  def prelu(key):
    return {'alpha': _f32(get(key)).reshape(-1)}

  params['conv1'] = conv('conv1.0')
  params['prelu1'] = prelu('conv1.1.weight')
  n_blocks = len({k.split('.')[1] for k in sd if k.startswith('trunk.')})
  for i in range(n_blocks):
    r = f'trunk.{i}.rcb'
    b, s = {}, {}
    b['conv1'] = conv(f'{r}.0', bias=False)
    b['bn1'], s['bn1'] = bn(f'{r}.1')
    b['prelu'] = prelu(f'{r}.2.weight')
    b['conv2'] = conv(f'{r}.3', bias=False)
    b['bn2'], s['bn2'] = bn(f'{r}.4')
    params[f'trunk_{i}'], stats[f'trunk_{i}'] = b, s
  params['conv2'] = conv('conv2.0', bias=False)
  params['bn2'], stats['bn2'] = bn('conv2.1')
  n_up = len({k.split('.')[1] for k in sd if k.startswith('upsampling.')})
  for i in range(n_up):
    u = f'upsampling.{i}.upsample_block'
    params[f'upsampling_{i}'] = {'conv': conv(f'{u}.0'),
                                 'prelu': prelu(f'{u}.2.weight')}
  params['conv3'] = conv('conv3')
  return params, stats, used


def _convert_discriminator(sd: dict[str, np.ndarray]) -> _Converted:
  params: dict[str, Any] = {}
  stats: dict[str, Any] = {}
  used: set[str] = set()

  def get(key):
    used.add(key)
    return sd[key]

  # [port] features: conv0 at 0 (LeakyReLU 1), then (conv, BN, LeakyReLU)
  # triples: conv i at 3i - 1, its BN at 3i.
  for i in range(8):
    ci = 0 if i == 0 else 3 * i - 1
    p = {'kernel': _conv_w(get(f'features.{ci}.weight'))}
    if f'features.{ci}.bias' in sd:
      p['bias'] = _f32(get(f'features.{ci}.bias'))
    params[f'conv{i}'] = p
    if i > 0:
      b = f'features.{3 * i}'
      used.add(b + '.num_batches_tracked')
      params[f'bn{i}'] = {'scale': _f32(get(b + '.weight')),
                          'bias': _f32(get(b + '.bias'))}
      stats[f'bn{i}'] = {'mean': _f32(get(b + '.running_mean')),
                         'var': _f32(get(b + '.running_var'))}
  # classifier.0: Linear(8C * S' * S', 1024) over torch's (C, H, W) flatten;
  # our flatten is (H, W, C).
  w0 = get('classifier.0.weight')
  c = params['conv7']['kernel'].shape[-1]
  side = math.isqrt(w0.shape[1] // c)
  if side * side * c != w0.shape[1]:
    raise ValueError(f'classifier.0 has {w0.shape[1]} inputs: not 8C x S x S '
                     f'with 8C = {c}.')
  w0 = w0.reshape(w0.shape[0], c, side, side).transpose(2, 3, 1, 0)
  params['dense0'] = {'kernel': _f32(w0.reshape(-1, w0.shape[-1])),
                      'bias': _f32(get('classifier.0.bias'))}
  params['dense1'] = {'kernel': _f32(get('classifier.2.weight').T),
                      'bias': _f32(get('classifier.2.bias'))}
  return params, stats, used


def convert_torch_state_dict(state_dict: Mapping[str, Any]
                             ) -> dict[str, Any]:
  """[port] state dict (numpy arrays, its key names) -> flax variables.

  Detects the network by its keys: SRResNet / Generator (conv1.*, trunk.*,
  upsampling.*) or DiscriminatorForVGG (features.*, classifier.*). Returns
  {'params': ..., 'batch_stats': ...} for `SRResNet(channels, num_blocks,
  upscale)` / `SRGANDiscriminator(channels, image_size)` matching the weight
  shapes. Raises KeyError on missing keys and ValueError on unused ones.
  """
  sd = _normalize_keys(state_dict)
  if any(k.startswith('features.') for k in sd):
    params, stats, used = _convert_discriminator(sd)
  else:
    params, stats, used = _convert_generator(sd)
  unused = sorted(k for k in sd if k not in used)
  if unused:
    raise ValueError(f'unconverted keys in the state dict: {unused[:8]}')
  return {'params': params, 'batch_stats': stats}
