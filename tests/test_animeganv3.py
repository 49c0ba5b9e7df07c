"""AnimeGANv3Generator: building blocks against numpy/TF, shapes, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from animejax.models import animeganv3
from animejax.models.animeganv3 import AnimeGANv3Generator


def test_upsample_matches_tf1_resize_bilinear():
  import tensorflow as tf
  x = np.random.default_rng(0).normal(size=(2, 5, 7, 3)).astype(np.float32)
  ref = tf.compat.v1.image.resize_bilinear(
      x, (10, 14), align_corners=False, half_pixel_centers=False).numpy()
  np.testing.assert_allclose(animeganv3.upsample2x_tf1(jnp.asarray(x)), ref,
                             atol=1e-6)


def test_lade_matches_published_formula():
  rng = np.random.default_rng(1)
  x = rng.normal(2.0, 3.0, size=(2, 6, 5, 4)).astype(np.float32)
  t = rng.normal(-1.0, 0.5, size=(2, 6, 5, 4)).astype(np.float32)
  eps = 1e-5  # [v3] tools/ops.py LADE
  mx, vx = x.mean((1, 2), keepdims=True), x.var((1, 2), keepdims=True)
  mt, vt = t.mean((1, 2), keepdims=True), t.var((1, 2), keepdims=True)
  ref = (x - mx) / np.sqrt(vx + eps) * np.sqrt(vt + eps) + mt
  np.testing.assert_allclose(animeganv3.lade(jnp.asarray(x), jnp.asarray(t),
                                             eps), ref, rtol=1e-5, atol=1e-5)


def test_external_attention_matches_numpy():
  rng = np.random.default_rng(2)
  x = rng.normal(size=(1, 4, 6, 8)).astype(np.float32)
  mod = animeganv3.ExternalAttention()
  params = mod.init(jax.random.key(0), x)['params']
  params = jax.tree.map(
      lambda p: p + rng.normal(0, 0.1, p.shape).astype(np.float32), params)
  params['var'] = np.abs(params['var']) + 0.5
  y = np.asarray(mod.apply({'params': params}, x))
  # numpy from [v3] tools/ops.py External_attention_v3 (inference BN).
  p = jax.tree.map(np.asarray, params)
  h = x.reshape(1, 24, 8) @ p['proj_in']['kernel'][0, 0]
  a = h @ p['memory']
  a = np.exp(a - a.max(1, keepdims=True))
  a /= a.sum(1, keepdims=True)
  a /= 1e-9 + a.sum(2, keepdims=True)
  h = (a @ p['memory'].T) @ p['proj_out']['kernel'][0, 0]
  h = (h - p['mean']) / np.sqrt(p['var'] + 1e-3) * p['scale'] + p['bias']
  h = h.reshape(x.shape) + x
  ref = np.where(h > 0, h, 0.2 * h)
  np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('variant,multiple,n_params', [
    ('full', 8, 1027776), ('tiny', 16, 605616)])
def test_shapes_and_param_counts(variant, multiple, n_params):
  model = AnimeGANv3Generator(variant=variant)
  assert model.size_multiple == multiple
  x = jnp.zeros((1, 2 * multiple, 3 * multiple, 3))
  shapes = jax.eval_shape(model.init, jax.random.key(0), x)['params']
  # Official counts: Shinkai_37.pb / tiny_Cute.onnx weights without the
  # graph's padding/shape constants.
  assert sum(np.prod(s.shape) for s in jax.tree.leaves(shapes)) == n_params


def random_params(model, x, seed=0):
  """He-scaled normal params from the init shapes (eager init is slow)."""
  shapes = jax.eval_shape(model.init, jax.random.key(0), x)['params']
  rng = np.random.default_rng(seed)
  def draw(path, s):
    name = jax.tree_util.keystr(path)
    if 'var' in name or 'scale' in name:
      return np.ones(s.shape, np.float32)
    if s.ndim == 1:
      return np.zeros(s.shape, np.float32)
    fan_in = np.prod(s.shape[:-1])
    return rng.normal(0, np.sqrt(2 / fan_in), s.shape).astype(np.float32)
  return jax.tree_util.tree_map_with_path(draw, shapes)


@pytest.mark.parametrize('variant', ['full', 'tiny'])
def test_small_width_runs_in_range(variant):
  model = AnimeGANv3Generator(width=0.25, variant=variant)
  x = jax.random.uniform(jax.random.key(1), (2, 32, 48, 3), minval=-1,
                         maxval=1)
  params = random_params(model, x)
  y = jax.jit(model.apply)({'params': params}, x)
  assert y.shape == x.shape and float(jnp.abs(y).max()) <= 1.0
  assert np.isfinite(np.asarray(y)).all() and float(jnp.std(y)) > 0.01


def test_bf16_block_close_to_float32():
  x = jax.random.normal(jax.random.key(0), (1, 16, 16, 8))
  block = animeganv3.ConvLADE(8)
  params = block.init(jax.random.key(1), x)['params']
  y = block.apply({'params': params}, x)
  y16 = animeganv3.ConvLADE(8, dtype=jnp.bfloat16).apply({'params': params}, x)
  assert y16.dtype == jnp.bfloat16
  assert float(jnp.abs(y16.astype(jnp.float32) - y).mean()) < 0.05


def test_bad_sizes_raise():
  model = AnimeGANv3Generator(width=0.25)
  with pytest.raises(ValueError, match='divisible by 8'):
    model.init(jax.random.key(0), jnp.zeros((1, 20, 24, 3)))
  with pytest.raises(ValueError, match=r'\[N,H,W,3\]'):
    model.init(jax.random.key(0), jnp.zeros((1, 16, 16, 4)))
  with pytest.raises(ValueError, match='variant'):
    AnimeGANv3Generator(variant='big').init(jax.random.key(0),
                                            jnp.zeros((1, 16, 16, 3)))
