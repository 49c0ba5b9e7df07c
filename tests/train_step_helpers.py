"""Tiny models, configs and batches for the train-step and parallel tests.

The modules follow the interface contracts of animejax.models (generator
__call__(x); discriminator __call__(x, update_stats) with a 'spectral'
collection; a feature extractor __call__(x, layer=..., pre_relu=True)) but are
a few hundred parameters, so a step compiles and runs in seconds on CPU.
"""

import os
import sys
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # `configs` is a folder of the repo, not installed
  sys.path.insert(0, REPO)

from animejax.models.discriminators import AnimeGANDiscriminator  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax.sweep import apply_overrides  # pylint: disable=g-import-not-at-top,wrong-import-position
from configs import default  # pylint: disable=g-import-not-at-top,wrong-import-position

SIZE = 32


class TinyGenerator(nn.Module):
  """x -> x + 0.5 * tanh-bounded residual, clipped into [-1, 1] by tanh."""
  width: float = 1.0
  dtype: Any = jnp.float32
  size_multiple = 1

  @nn.compact
  def __call__(self, x):
    c = max(1, int(8 * self.width))
    h = x.astype(self.dtype)
    y = nn.Conv(c, (3, 3), dtype=self.dtype, param_dtype=jnp.float32)(h)
    y = nn.relu(y)
    y = nn.Conv(3, (3, 3), dtype=self.dtype, param_dtype=jnp.float32)(y)
    return jnp.tanh(h + y)


class TinyFeatures(nn.Module):
  """Two convs, a stand-in for VGG19 with its call signature."""
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, layer: str = 'conv4_4', pre_relu: bool = True):
    del layer
    x = nn.Conv(8, (3, 3), dtype=self.dtype, param_dtype=jnp.float32)(
        x.astype(self.dtype))
    x = nn.relu(x)
    x = nn.Conv(16, (3, 3), strides=(2, 2), dtype=self.dtype,
                param_dtype=jnp.float32)(x)
    return x if pre_relu else nn.relu(x)


def tiny_config(**overrides):
  """configs/default.py at 32 px with larger learning rates."""
  c = default.get_config()
  c.data.image_size = SIZE
  c.batch_size = 8
  c.optim.init_lr = 1e-3
  c.optim.g_lr = 1e-3
  c.optim.d_lr = 1e-3
  return apply_overrides(c, overrides)


def tiny_models(dtype=jnp.float32, spectral_norm=True):
  generator = TinyGenerator(dtype=dtype)
  discriminator = AnimeGANDiscriminator(ch=8, n_dis=2, norm='layer',
                                        spectral_norm=spectral_norm,
                                        dtype=dtype)
  vgg = TinyFeatures(dtype=dtype)
  vgg_params = jax.jit(TinyFeatures().init)(
      jax.random.key(123), jnp.zeros((1, SIZE, SIZE, 3)))['params']
  return generator, discriminator, vgg, vgg_params


def fixed_batch(batch_size=8, size=SIZE, seed=0):
  """Smooth random images in [-1, 1]; gray entries replicated to 3 channels."""
  rng = np.random.default_rng(seed)

  def images(n):
    low = rng.uniform(-1, 1, (n, size // 4, size // 4, 3))
    return np.clip(np.repeat(np.repeat(low, 4, 1), 4, 2) +
                   rng.normal(0, 0.05, (n, size, size, 3)), -1, 1)

  def gray(x):
    return np.repeat(x.mean(-1, keepdims=True), 3, -1)

  anime = images(batch_size)
  batch = {'photo': images(batch_size), 'anime': anime,
           'anime_gray': gray(anime), 'smooth_gray': gray(images(batch_size))}
  return {k: v.astype(np.float32) for k, v in batch.items()}
