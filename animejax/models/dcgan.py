"""DCGAN of the anime-image-development recipe (Keras, 32x32 faces), NHWC.

Source: [aid] Team7-Code/anime-image-development
`Image Generator/image_generator/dcgan_model.py` (`generator()`,
`discriminator()`) and `dcgan_utils.py` (`get_x`: noise U(-1, 1), 100-d).
Keras defaults it relies on are cited as [keras] (keras.layers.*).

Generator (S = image_size = 32, b = S / 2; widths (256, 128, 64, 32)):

  name      op                                         [aid] layer
  dense     Dense 100 -> b*b*256 (+ bias), N(0, 0.05)  Dense('RandomNormal')
  prelu0    PReLU, one alpha per element (b*b*256)     PReLU()
  bn0       BatchNorm over the b*b*256 features        BatchNormalization(0.5)
  (reshape [b, b, 256], nearest x2 up-sampling)        Reshape, UpSampling2D
  deconv1   5x5 stride-1 'same' transposed conv 128    Conv2DTranspose(128, 5)
  prelu1    PReLU, one alpha per element [S, S, 128]   PReLU()
  bn1       BatchNorm per channel                      BatchNormalization(0.5)
  deconv2/3 + prelu2/3 + bn2/3: the same with 64, 32
  out       5x5 stride-1 'same' transposed conv 3, tanh  Conv2DTranspose(3, 5)

  Note the order PReLU -> BN (not BN -> PReLU), and that bn0 normalises each
  of the b*b*256 dense outputs separately (it precedes the Reshape).

Discriminator: four 5x5 stride-2 'same' convs (32, 64, 128, 256), each +
PReLU (per element) + Dropout(0.2), flatten, Dense 1. [aid] ends with a
sigmoid and binary cross-entropy; ours returns the logit [N] (the losses
take logits: sigmoid(logit) is [aid]'s output).

Param tree ('params'; 'batch_stats' holds BN 'mean'/'var'):
  dense {'kernel' [100, b*b*256], 'bias'}; prelu<i> {'alpha' [...]};
  bn<i> {'scale', 'bias'}; deconv<i>/out {'kernel' [5, 5, in, out], 'bias'};
  D: conv<i> {'kernel' [5, 5, in, out], 'bias'}, prelu<i>, head {'kernel',
  'bias'}.
Weights from Keras: Dense/Conv2D kernels as they are; Conv2DTranspose kernels
are stored [kh, kw, out, in] by Keras: transpose (0, 1, 3, 2) to ours (no
flip: see `layers.ConvTranspose`); BN gamma/beta/moving_mean/moving_variance
-> scale/bias/mean/var.

Full size (S = 32): G 8,123,395 params + 131,520 BN statistics (Keras
count_params 8,254,915; 6,619,136 in the dense layer, 294,912 PReLU alphas);
D 1,094,465 params (15,360 PReLU alphas).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from animejax.models import layers

Array = jax.Array

# [aid] dcgan_utils.get_x / train(): noise = np.random.uniform(-1, 1, (n, 100)).
NOISE_DIM = 100
# [aid] BatchNormalization(momentum=0.5). Keras updates
# moving = momentum * moving + (1 - momentum) * batch, as flax.linen's
# BatchNorm does with the same number (both with the biased batch variance).
# PyTorch's `momentum` is the weight of the *batch* value: torch momentum =
# 1 - Keras momentum (0.5 here either way), and torch's running variance
# takes the unbiased batch variance.
BN_MOMENTUM = 0.5
# [keras] BatchNormalization(epsilon=1e-3) (flax and torch default to 1e-5).
BN_EPSILON = 1e-3
# [aid] Dropout(0.2) after every discriminator block.
DROPOUT = 0.2
# [aid] Dense(..., kernel_initializer='RandomNormal'): [keras] RandomNormal
# defaults to mean 0, stddev 0.05.
dense_init = nn.initializers.normal(0.05)
# [keras] Conv2D / Conv2DTranspose / Dense default kernel_initializer
# 'glorot_uniform' (symmetric in fan_in/fan_out, so the kernel layout does not
# matter) and bias_initializer 'zeros'.
glorot_init = nn.initializers.xavier_uniform()


def minibatch_std(x: Array, group_size: int = 4, eps: float = 1e-8) -> Array:
  """Appends the minibatch standard deviation as one more channel.

  Karras et al. 2018 (ProGAN, `minibatch_stddev_layer` in tkarras/
  progressive_growing_of_gans networks2.py): samples are split into groups of
  G = min(group_size, N) (sample i is in group i mod N/G); per group, the
  std over its G samples of every feature, averaged over H, W, C, is appended
  to each of its samples as a constant [H, W, 1] map. (IllustrationGAN,
  tdrussell/IllustrationGAN custom_ops.py, used Salimans et al.'s minibatch
  discrimination for the same purpose: a cross-sample statistic so D can see
  a lack of diversity.)

  Args:
    x: [N, H, W, C]; N must be a multiple of min(group_size, N).
    group_size: G.
    eps: added to the variance before the square root, as ProGAN.

  Returns:
    [N, H, W, C + 1].
  """
  n, h, w, c = x.shape
  g = min(group_size, n)
  if n % g:
    raise ValueError(f'minibatch_std: batch {n} is not a multiple of the '
                     f'group size {g}.')
  y = x.astype(jnp.float32).reshape(g, n // g, h, w, c)
  y = y - jnp.mean(y, axis=0)
  y = jnp.sqrt(jnp.mean(jnp.square(y), axis=0) + eps)   # [N/G, H, W, C]
  y = jnp.mean(y, axis=(1, 2, 3))                       # [N/G]
  y = jnp.tile(y, g)[:, None, None, None]               # sample i -> i mod N/G
  y = jnp.broadcast_to(y, (n, h, w, 1)).astype(x.dtype)
  return jnp.concatenate([x, y], axis=-1)


class PReLU(nn.Module):
  """[keras] PReLU: max(x, 0) + alpha * min(x, 0), alpha initialised to 0.

  One alpha per element of x.shape[1:] (Keras shared_axes=None, as [aid]),
  except along `shared_axes` (1-based like Keras, e.g. (1, 2) = one alpha per
  channel, (1, 2, 3) = a single alpha as torch nn.PReLU()). Params
  {'alpha' [x.shape[1:] with the shared axes set to 1]}.
  """
  shared_axes: Sequence[int] = ()
  alpha_init: float = 0.0

  @nn.compact
  def __call__(self, x: Array) -> Array:
    shape = tuple(1 if i + 1 in self.shared_axes else d
                  for i, d in enumerate(x.shape[1:]))
    alpha = self.param('alpha', nn.initializers.constant(self.alpha_init),
                       shape, jnp.float32)
    return jnp.where(x >= 0, x, alpha.astype(x.dtype) * x)


def keras_batch_norm(name: str, train: bool) -> nn.BatchNorm:
  """[aid] BatchNormalization(momentum=0.5) with the [keras] epsilon 1e-3."""
  return nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM,
                      epsilon=BN_EPSILON, name=name)


class DCGANGenerator(nn.Module):
  """[aid] generator(): z [N, noise_dim] -> images [N, S, S, 3] in (-1, 1).

  `train` uses batch statistics in the BNs and updates 'batch_stats'
  (apply(..., train=True, mutable=['batch_stats'])). The per-element PReLU
  alphas fix the image size at init (= image_size).
  """
  noise_dim: int = NOISE_DIM
  image_size: int = 32
  widths: Sequence[int] = (256, 128, 64, 32)
  kernel_size: int = 5

  @nn.compact
  def __call__(self, z: Array, train: bool = False) -> Array:
    if self.image_size % 2:
      raise ValueError(f'image_size={self.image_size} must be even (one x2 '
                       'up-sampling).')
    if z.ndim != 2 or z.shape[-1] != self.noise_dim:
      raise ValueError(f'z must be [N, {self.noise_dim}]; got {z.shape}.')
    b, c0 = self.image_size // 2, self.widths[0]
    x = nn.Dense(b * b * c0, kernel_init=dense_init, name='dense')(z)
    x = PReLU(name='prelu0')(x)
    x = keras_batch_norm('bn0', train)(x)
    x = x.reshape(x.shape[0], b, b, c0)
    # [keras] UpSampling2D(): size 2, interpolation 'nearest'.
    x = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
    # [keras] Conv2DTranspose(strides=1, padding='same'): out[i - p + a] +=
    # x[i] k[a] with p = (k - 1) / 2, i.e. torch ConvTranspose2d(padding=p).
    p = (self.kernel_size - 1) // 2
    deconv = lambda f, name: layers.ConvTranspose(
        f, self.kernel_size, stride=1, padding=p, output_padding=0,
        kernel_init=glorot_init, name=name)
    for i, f in enumerate(self.widths[1:], start=1):
      x = deconv(f, f'deconv{i}')(x)
      x = PReLU(name=f'prelu{i}')(x)
      x = keras_batch_norm(f'bn{i}', train)(x)
    return jnp.tanh(deconv(3, 'out')(x))


class DCGANDiscriminator(nn.Module):
  """[aid] discriminator(): images [N, S, S, 3] -> logits [N].

  Dropout needs an rng 'dropout' when train=True. `minibatch_std` (not in
  [aid]) appends `minibatch_std()` before the flatten; it makes each logit
  depend on the other samples of its group.
  """
  widths: Sequence[int] = (32, 64, 128, 256)
  kernel_size: int = 5
  dropout: float = DROPOUT
  minibatch_std: bool = False
  minibatch_group: int = 4

  @nn.compact
  def __call__(self, x: Array, train: bool = False) -> Array:
    k = self.kernel_size
    for i, f in enumerate(self.widths):
      # [keras] Conv2D(strides=2, padding='same') = lax 'SAME' (the extra pad
      # of an odd total goes bottom/right).
      x = nn.Conv(f, (k, k), strides=2, padding='SAME',
                  kernel_init=glorot_init, name=f'conv{i}')(x)
      x = PReLU(name=f'prelu{i}')(x)
      x = nn.Dropout(self.dropout, deterministic=not train)(x)
    if self.minibatch_std:
      x = minibatch_std(x, self.minibatch_group)
    x = x.reshape(x.shape[0], -1)  # [keras] Flatten (channels_last order)
    return nn.Dense(1, kernel_init=glorot_init, name='head')(x)[:, 0]
