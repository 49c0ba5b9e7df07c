"""Tiny generators and weights files shared by the inference/CLI/export tests."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from animejax import weights_io

# A tiny real architecture: AnimeGANv3 (full) at width 0.25 (8 channels).
TINY_ARCH = 'animeganv3'
TINY_KWARGS = {'width': 0.25}


class LocalGenerator(nn.Module):
  """A generator with a purely local receptive field (no global norms).

  conv/2 -> conv/2 -> 2 convs -> nearest x2 -> conv -> x2 -> conv, tanh:
  size_multiple 4 like AnimeGANv2, receptive field ~60 px.
  """
  dtype: jnp.dtype = jnp.float32
  size_multiple = 4

  @nn.compact
  def __call__(self, x):
    x = x.astype(self.dtype)
    conv = lambda f, s=1: nn.Conv(f, (3, 3), (s, s), padding='SAME',
                                  dtype=self.dtype)
    x = nn.leaky_relu(conv(8, 2)(x), 0.2)
    x = nn.leaky_relu(conv(16, 2)(x), 0.2)
    x = nn.leaky_relu(conv(16)(x), 0.2)
    x = nn.leaky_relu(conv(16)(x), 0.2)
    x = jnp.repeat(jnp.repeat(x, 2, 1), 2, 2)
    x = nn.leaky_relu(conv(8)(x), 0.2)
    x = jnp.repeat(jnp.repeat(x, 2, 1), 2, 2)
    return jnp.tanh(conv(3)(x).astype(jnp.float32))


def tiny_module(dtype=jnp.float32):
  from animejax.models import animeganv3  # pylint: disable=g-import-not-at-top
  return animeganv3.AnimeGANv3Generator(dtype=dtype, **TINY_KWARGS)


def init_params(module, seed=0, size=32):
  """Random params without compiling `init` (slow on a shared CPU).

  Shapes come from jax.eval_shape; kernels ~ N(0, 1/fan_in), norm scales and
  variances 1, biases and means 0.
  """
  x = jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)
  shapes = jax.eval_shape(module.init, jax.random.key(seed), x)['params']
  rng = np.random.default_rng(seed)

  def fill(path, leaf):
    name = str(getattr(path[-1], 'key', path[-1]))
    if name in ('scale', 'var'):
      return np.ones(leaf.shape, np.float32)
    if name in ('bias', 'mean'):
      return np.zeros(leaf.shape, np.float32)
    fan_in = int(np.prod(leaf.shape[:-1])) or 1
    return (rng.standard_normal(leaf.shape) / np.sqrt(fan_in)).astype(
        np.float32)
  return jax.tree_util.tree_map_with_path(fill, shapes)


def ensure_registry(monkeypatch):
  """Makes models.create_generator('animeganv3', ...) work.

  Uses the real registry when the generators module provides it; otherwise
  installs a one-entry stand-in for the duration of the test.
  """
  from animejax import models  # pylint: disable=g-import-not-at-top
  if TINY_ARCH in getattr(models, 'GENERATORS', {}):
    return
  from animejax.models import animeganv3  # pylint: disable=g-import-not-at-top
  registry = {TINY_ARCH: animeganv3.AnimeGANv3Generator}
  monkeypatch.setattr(models, 'GENERATORS', registry, raising=False)
  monkeypatch.setattr(models, 'create_generator',
                      lambda name, **kw: registry[name](**kw), raising=False)


def write_tiny_weights(path, seed=0, params=None):
  module = tiny_module()
  if params is None:
    params = init_params(module, seed)
  params = jax.tree.map(np.asarray, params)
  weights_io.save(str(path), weights_io.GeneratorWeights(
      TINY_ARCH, dict(TINY_KWARGS), params, {'note': 'random test weights'}))
  return module, params


def smooth_image(h, w, seed=0):
  """A smooth random colour field (uint8), like a photo without texture."""
  rng = np.random.default_rng(seed)
  small = rng.uniform(0, 255, (max(2, h // 40), max(2, w // 40), 3))
  import cv2  # pylint: disable=g-import-not-at-top
  img = cv2.resize(small.astype(np.float32), (w, h),
                   interpolation=cv2.INTER_CUBIC)
  img += rng.normal(0, 6, img.shape)
  return np.clip(img, 0, 255).astype(np.uint8)
