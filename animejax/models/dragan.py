"""MakeGirlsMoe's conditional DRAGAN (SRResNet-style G, residual D), NHWC.

Sources:
  [mgm] Jin et al. 2017, "Towards the Automatic Anime Characters Creation with
        Generative Adversarial Networks" (arXiv:1708.05509), Fig. 3 (G) and
        Fig. 4 (D): 128 x 128 faces, 128-d noise + 34 tags.
  [bhp] bhpfelix/PyTorch-Face-Generator-SRResNet-based-ACGAN-DRAGAN
        `models.py` (Generator, Discriminator, weights_init), a public
        PyTorch reimplementation, followed where [mgm] is silent.
  [cirq] CirQ/AnimeNet `model.py` (same layers; LeakyReLU slope 0.2).
  [a305] ANIME305/Anime-GAN-tensorflow `SResNetGAN.py` (log2(size / 16)
        sub-pixel stages, so 2 at 64 px).

Generator (c = features = 64, b = base_size = 16, S = image_size = 128):

  name        op                                          [mgm] Fig. 3
  dense       Dense (noise + labels) -> b*b*c (+ bias)    Dense(64*16*16)
  (reshape [b, b, c])
  bn_in       BN per channel, then act                    BN, Relu
  res<i>      16 x: conv 3x3 c, BN, act, conv 3x3 c, BN,  k3n64s1 blocks
              + block input
  bn_mid      BN, act, + the output of bn_in/act          BN, Relu, Sum
  up<i>       log2(S / b) x: conv 3x3 -> 4c, pixel        k3n256s1, Pixel
              shuffle x2 (-> c), BN, act                  Shuffler x2, BN, Relu
  out         conv 9x9 -> 3, tanh                         k9n3s1, Tanh

  act is ReLU in [mgm] Fig. 3 (and [bhp], [cirq]); activation='prelu' gives
  SRResNet's PReLU (one alpha per layer, init 0.25, as torch nn.PReLU()).
  [mgm] prints 'k3n64s1' above the post-residual BN but draws no conv there;
  we draw none, as [bhp] ([cirq] adds one).

Discriminator (widths w = (32, 64, 128, 256, 512, 1024)):

  conv_in     conv 4x4 stride 2 -> w0, LeakyReLU          k4n32s2
  stage<s>    for s = 1..5: num_res_blocks x (conv 3x3,   k3n{w}s1 blocks
              lrelu, conv 3x3, + input, lrelu) at w[s-1],
              then conv stride 2 -> w[s], lrelu           k4n64s2, k4n128s2,
              (4x4 for w1, w2, 3x3 after, as Fig. 4)      k3n256s2 ... k3n1024s2
  adv, cls    flatten, Dense 1 and Dense num_labels       Dense(1), Dense(34)

  [mgm] follows both heads with a sigmoid; ours returns logits. Fig. 4 draws
  two residual blocks at 32 channels and labels the later stages 'k3nXs1*4'
  (4 convs = 2 blocks, as [bhp]). The stride-2 kernels follow Fig. 4 ([bhp]
  and [cirq] use 4x4 for all five); they pad 1 on every side ([bhp]
  padding=1; halves even sizes for both kernel sizes).

Pixel shuffle uses torch's channel order (nn.PixelShuffle: input channel
c*4 + 2*i + j -> output (c, row offset i, col offset j)), so [bhp]-style
weights map conv for conv; the dense output is reshaped [b, b, c] (torch
views it [c, b, b]: permute its columns to import).

BatchNorm: [bhp] uses torch defaults, momentum 0.1 (weight of the batch
value) = flax momentum 0.9, eps 1e-5. Inits: [bhp] weights_init, N(0, 0.02)
for convs and BN scale N(1, 0.02); we use N(0, 0.02) for the dense layers too.

Full size (34 labels, S = 128): G 4,315,715 params + 4,736 BN statistics
(2,670,592 in the dense layer); D 19,078,531 params (143,395 in the two
heads).
"""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from animejax.models import dcgan

Array = jax.Array

# [mgm] Sec. 4 / Fig. 3: 128-d noise, 34 tags, 128 x 128 output.
NOISE_DIM = 128
NUM_LABELS = 34
# torch BatchNorm2d(momentum=0.1, eps=1e-5) in [bhp]: flax momentum is the
# weight of the *old* value, 1 - 0.1.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5
# [cirq] nn.LeakyReLU(negative_slope=0.2) ([bhp] uses torch's default 0.01;
# [mgm] does not say).
LEAKY_SLOPE = 0.2
# torch nn.PReLU(): num_parameters=1, init=0.25 (SRResNet's activation).
PRELU_INIT = 0.25
ACTIVATIONS = ('relu', 'prelu')

# [bhp] weights_init: conv weights N(0, 0.02), BN weight N(1, 0.02), bias 0.
w_init = nn.initializers.normal(0.02)


def _bn_scale_init(key: jax.Array, shape, dtype=jnp.float32) -> Array:
  return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def pixel_shuffle(x: Array, r: int = 2) -> Array:
  """torch nn.PixelShuffle(r) in NHWC: [N, H, W, C r^2] -> [N, rH, rW, C].

  Output (h r + i, w r + j, c) = input (h, w, c r^2 + i r + j).
  """
  n, h, w, cr2 = x.shape
  c = cr2 // (r * r)
  x = x.reshape(n, h, w, c, r, r).transpose(0, 1, 4, 2, 5, 3)
  return x.reshape(n, h * r, w * r, c)


def num_upsamples(image_size: int, base_size: int) -> int:
  """log2(image_size / base_size) x2 stages ([a305]: 3 at 128, 2 at 64)."""
  n = math.log2(image_size / base_size) if image_size >= base_size else -1
  if n != int(n) or n < 0:
    raise ValueError(f'image_size={image_size} must be base_size='
                     f'{base_size} times a power of 2.')
  return int(n)


class _Act(nn.Module):
  """ReLU, or a torch-style PReLU with one alpha (init 0.25)."""
  kind: str = 'relu'

  @nn.compact
  def __call__(self, x: Array) -> Array:
    if self.kind == 'relu':
      return nn.relu(x)
    return dcgan.PReLU(shared_axes=(1, 2, 3), alpha_init=PRELU_INIT,
                       name='prelu')(x)


class DRAGANGenerator(nn.Module):
  """[mgm] Fig. 3: (z [N, noise_dim], labels [N, num_labels]) -> [N, S, S, 3].

  labels are one-hot / multi-hot (or continuous) tag vectors concatenated to
  z; num_labels=0 gives an unconditional G (labels must then be None).
  `train` uses batch statistics and updates 'batch_stats'.
  """
  num_labels: int = NUM_LABELS
  noise_dim: int = NOISE_DIM
  image_size: int = 128
  base_size: int = 16
  features: int = 64
  num_res_blocks: int = 16
  activation: str = 'relu'
  bn_momentum: float = BN_MOMENTUM
  bn_epsilon: float = BN_EPSILON

  @nn.compact
  def __call__(self, z: Array, labels: Array | None = None,
               train: bool = False) -> Array:
    if self.activation not in ACTIVATIONS:
      raise ValueError(f'activation={self.activation!r}; expected one of '
                       f'{ACTIVATIONS}.')
    if z.ndim != 2 or z.shape[-1] != self.noise_dim:
      raise ValueError(f'z must be [N, {self.noise_dim}]; got {z.shape}.')
    if self.num_labels:
      if labels is None or labels.shape != (z.shape[0], self.num_labels):
        raise ValueError(f'labels must be [N, {self.num_labels}]; got '
                         f'{None if labels is None else labels.shape}.')
      z = jnp.concatenate([z, labels.astype(z.dtype)], axis=-1)
    elif labels is not None:
      raise ValueError('num_labels=0: the generator takes no labels.')
    n_up = num_upsamples(self.image_size, self.base_size)
    b, c = self.base_size, self.features
    bn = lambda name: nn.BatchNorm(
        use_running_average=not train, momentum=self.bn_momentum,
        epsilon=self.bn_epsilon, scale_init=_bn_scale_init, name=name)
    act = lambda name: _Act(self.activation, name=name)
    conv = lambda f, k, name: nn.Conv(f, (k, k), padding='SAME',
                                      kernel_init=w_init, name=name)

    x = nn.Dense(b * b * c, kernel_init=w_init, name='dense')(z)
    x = act('act_in')(bn('bn_in')(x.reshape(x.shape[0], b, b, c)))
    skip = x
    for i in range(self.num_res_blocks):
      y = bn(f'res{i}_bn1')(conv(c, 3, f'res{i}_conv1')(x))
      y = act(f'res{i}_act')(y)
      x = x + bn(f'res{i}_bn2')(conv(c, 3, f'res{i}_conv2')(y))
    x = act('act_mid')(bn('bn_mid')(x)) + skip
    for i in range(n_up):
      x = pixel_shuffle(conv(4 * c, 3, f'up{i}_conv')(x))
      x = act(f'up{i}_act')(bn(f'up{i}_bn')(x))
    return jnp.tanh(conv(3, 9, 'out')(x))


def _down_kernel(stage: int) -> int:
  """[mgm] Fig. 4: k4 for the convs to 32, 64, 128 channels, then k3."""
  return 4 if stage < 3 else 3


class DRAGANDiscriminator(nn.Module):
  """[mgm] Fig. 4: images [N, S, S, 3] -> (adv logits [N], cls logits
  [N, num_labels]; None when num_labels=0).

  S must be a multiple of 2^len(widths); at 128 the last map is 2 x 2 x 1024.
  `minibatch_std` (not in [mgm]) appends `dcgan.minibatch_std()` before the
  flatten; it makes each logit depend on the other samples of its group (so
  per-sample input gradients, as in a gradient penalty, see the others too).
  """
  num_labels: int = NUM_LABELS
  widths: Sequence[int] = (32, 64, 128, 256, 512, 1024)
  num_res_blocks: int = 2
  leaky_slope: float = LEAKY_SLOPE
  minibatch_std: bool = False
  minibatch_group: int = 4

  @nn.compact
  def __call__(self, x: Array) -> tuple[Array, Array | None]:
    m = 2 ** len(self.widths)
    if x.shape[1] % m or x.shape[2] % m:
      raise ValueError(f'image size {x.shape[1:3]} must be a multiple of {m} '
                       f'({len(self.widths)} stride-2 convs).')
    lrelu = lambda h: nn.leaky_relu(h, self.leaky_slope)

    def down(h, f, k, name):
      return lrelu(nn.Conv(f, (k, k), strides=2, padding=((1, 1), (1, 1)),
                           kernel_init=w_init, name=name)(h))

    x = down(x, self.widths[0], _down_kernel(0), 'conv_in')
    for s, f in enumerate(self.widths[1:], start=1):
      c = x.shape[-1]
      for i in range(self.num_res_blocks):
        y = nn.Conv(c, (3, 3), padding='SAME', kernel_init=w_init,
                    name=f'stage{s}_res{i}_conv1')(x)
        y = nn.Conv(c, (3, 3), padding='SAME', kernel_init=w_init,
                    name=f'stage{s}_res{i}_conv2')(lrelu(y))
        x = lrelu(y + x)
      x = down(x, f, _down_kernel(s), f'stage{s}_down')
    if self.minibatch_std:
      x = dcgan.minibatch_std(x, self.minibatch_group)
    x = x.reshape(x.shape[0], -1)
    adv = nn.Dense(1, kernel_init=w_init, name='adv')(x)[:, 0]
    cls = (nn.Dense(self.num_labels, kernel_init=w_init, name='cls')(x)
           if self.num_labels else None)
    return adv, cls
