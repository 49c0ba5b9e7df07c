"""Tests for animejax/models/layers.py against torch / TF ops and numpy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from animejax.models import layers

torch = pytest.importorskip('torch')
F = torch.nn.functional


def _rand(shape, seed=0):
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _nchw(x):
  return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def _nhwc(t):
  return t.detach().numpy().transpose(0, 2, 3, 1)


def _oihw(kernel):  # HWIO -> torch OIHW
  return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))


def _torch_conv(x, kernel, stride, pads, mode):
  t, b, l, r = pads
  xt = F.pad(_nchw(x), (l, r, t, b), mode='reflect' if mode == 'reflect'
             else 'constant')
  return _nhwc(F.conv2d(xt, _oihw(kernel), stride=stride))


def test_reflect_pad_matches_numpy():
  x = _rand((2, 5, 6, 3))
  got = layers.reflect_pad(jnp.asarray(x), (1, 2, 0, 3))
  want = np.pad(x, ((0, 0), (1, 2), (0, 3), (0, 0)), mode='reflect')
  np.testing.assert_array_equal(got, want)
  with pytest.raises(ValueError, match='larger'):
    layers.reflect_pad(jnp.asarray(x), (5, 5, 0, 0))


# (kernel, stride, pads, pad_mode): every conv shape the generators use.
CONV_CASES = [
    (7, 1, (3, 3, 3, 3), 'reflect'),
    (3, 1, (1, 1, 1, 1), 'reflect'),
    (3, 2, (0, 1, 0, 1), 'reflect'),
    (1, 1, (0, 0, 0, 0), 'reflect'),
    (3, 1, (1, 1, 1, 1), 'zero'),
    (7, 1, (3, 3, 3, 3), 'zero'),
    (3, 2, (1, 1, 1, 1), 'zero'),
]


@pytest.mark.parametrize('k,stride,pads,mode', CONV_CASES)
@pytest.mark.parametrize('hw', [(12, 16), (9, 13)])
def test_conv2d_fast_plain_and_torch(k, stride, pads, mode, hw):
  x = _rand((2, *hw, 5), 1)
  kernel = _rand((k, k, 5, 4), 2) * 0.3
  want = _torch_conv(x, kernel, stride, pads, mode)
  for impl in ('plain', 'fast'):
    got = layers.conv2d(jnp.asarray(x), jnp.asarray(kernel), stride=stride,
                        pads=pads, pad_mode=mode, impl=impl)
    assert got.shape == want.shape, impl
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-5, err_msg=impl)


@pytest.mark.parametrize('hw', [(8, 8), (7, 10)])
def test_depthwise_fast_plain_and_torch(hw):
  x = _rand((2, *hw, 6), 3)
  kernel = _rand((3, 3, 1, 6), 4)
  xt = F.pad(_nchw(x), (1, 1, 1, 1), mode='reflect')
  want = _nhwc(F.conv2d(xt, _oihw(kernel), groups=6))
  for impl in ('plain', 'fast'):
    got = layers.depthwise_conv2d(jnp.asarray(x), jnp.asarray(kernel),
                                  impl=impl)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5, err_msg=impl)


def test_conv_modules_param_tree_is_impl_independent():
  x = jnp.asarray(_rand((1, 8, 8, 3)))
  trees = []
  for impl in ('plain', 'fast'):
    for mod in (layers.Conv(4, 3, 2, (0, 1, 0, 1), use_bias=True,
                            conv_impl=impl),
                layers.DepthwiseConv(conv_impl=impl)):
      v = jax.eval_shape(mod.init, jax.random.key(0), x)
      trees.append(jax.tree.map(lambda a: a.shape, v))
  assert trees[0] == trees[2] and trees[1] == trees[3]
  assert trees[1] == {'params': {'kernel': (3, 3, 1, 3), 'bias': (3,)}}


def test_conv_impl_resolution(monkeypatch):
  monkeypatch.delenv('ANIMEJAX_CONV_IMPL', raising=False)
  want = 'fast' if jax.default_backend() == 'cpu' else 'plain'
  assert layers.resolve_conv_impl('auto') == want
  monkeypatch.setenv('ANIMEJAX_CONV_IMPL', 'plain')
  assert layers.resolve_conv_impl('auto') == 'plain'
  assert layers.resolve_conv_impl('fast') == 'fast'
  with pytest.raises(ValueError, match='conv_impl'):
    layers.resolve_conv_impl('cudnn')
  monkeypatch.setenv('ANIMEJAX_CONV_IMPL', 'fastest')
  with pytest.raises(ValueError, match='ANIMEJAX_CONV_IMPL'):
    layers.resolve_conv_impl('auto')


def test_conv_transpose_matches_torch():
  x = _rand((2, 5, 7, 4), 5)
  mod = layers.ConvTranspose(3, 3, 2, padding=1, output_padding=1)
  v = mod.init(jax.random.key(0), jnp.asarray(x))
  kernel = np.asarray(v['params']['kernel'])  # [kh, kw, in, out]
  bias = _rand((3,), 6)
  v = {'params': {'kernel': kernel, 'bias': bias}}
  got = mod.apply(v, jnp.asarray(x))
  # torch ConvTranspose2d weight is [in, out, kh, kw].
  w = torch.from_numpy(np.ascontiguousarray(kernel.transpose(2, 3, 0, 1)))
  want = _nhwc(F.conv_transpose2d(_nchw(x), w, torch.from_numpy(bias),
                                  stride=2, padding=1, output_padding=1))
  assert got.shape == (2, 10, 14, 3)
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


def test_layer_norm_matches_torch_group_norm():
  x = _rand((2, 6, 5, 4), 7) * 3 + 1
  scale, bias = _rand((4,), 8), _rand((4,), 9)
  got = layers.LayerNorm(1e-5).apply(
      {'params': {'scale': scale, 'bias': bias}}, jnp.asarray(x))
  want = _nhwc(F.group_norm(_nchw(x), 1, torch.from_numpy(scale),
                            torch.from_numpy(bias), eps=1e-5))
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


def test_instance_norm_matches_torch():
  x = _rand((2, 6, 5, 4), 10) * 2 - 1
  scale, bias = _rand((4,), 11), _rand((4,), 12)
  got = layers.InstanceNorm(1e-5).apply(
      {'params': {'scale': scale, 'bias': bias}}, jnp.asarray(x))
  want = _nhwc(F.instance_norm(_nchw(x), weight=torch.from_numpy(scale),
                               bias=torch.from_numpy(bias), eps=1e-5))
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


def test_norms_in_bfloat16_keep_dtype():
  x = jnp.asarray(_rand((1, 4, 4, 3)), jnp.bfloat16)
  for mod in (layers.LayerNorm(), layers.InstanceNorm()):
    v = mod.init(jax.random.key(0), x)
    assert all(a.dtype == jnp.float32 for a in jax.tree.leaves(v))
    y = mod.apply(v, x)
    assert y.dtype == jnp.bfloat16


RESIZE_CASES = [((5, 7), (10, 14)), ((4, 6), (8, 12)), ((6, 9), (4, 3)),
                ((3, 3), (7, 5))]


@pytest.mark.parametrize('src,dst', RESIZE_CASES)
def test_resize_tf1_matches_tf_resize_bilinear(src, dst):
  tf = pytest.importorskip('tensorflow')
  x = _rand((2, *src, 3), 13)
  want = tf.compat.v1.image.resize_bilinear(
      x, dst, align_corners=False, half_pixel_centers=False).numpy()
  got = layers.resize_bilinear(jnp.asarray(x), dst, 'tf1')
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('src,dst', RESIZE_CASES[:2] + [((3, 3), (7, 5))])
def test_resize_align_corners_matches_torch(src, dst):
  x = _rand((2, *src, 3), 14)
  want = _nhwc(F.interpolate(_nchw(x), size=dst, mode='bilinear',
                             align_corners=True))
  got = layers.resize_bilinear(jnp.asarray(x), dst, 'align_corners')
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('src,dst', [((5, 7), (10, 14)), ((4, 6), (8, 12))])
def test_resize_half_pixel_matches_tf2_and_torch(src, dst):
  tf = pytest.importorskip('tensorflow')
  x = _rand((2, *src, 3), 15)
  got = layers.resize_bilinear(jnp.asarray(x), dst, 'half_pixel')
  want_tf = tf.image.resize(x, dst, method='bilinear').numpy()
  want_torch = _nhwc(F.interpolate(_nchw(x), size=dst, mode='bilinear',
                                   align_corners=False))
  np.testing.assert_allclose(got, want_tf, atol=1e-5, rtol=1e-5)
  np.testing.assert_allclose(got, want_torch, atol=1e-5, rtol=1e-5)


def test_resize_rejects_unknown_mode():
  with pytest.raises(ValueError, match='upsample'):
    layers.resize_bilinear(jnp.zeros((1, 2, 2, 1)), (4, 4), 'nearest')


def test_check_size_errors():
  layers.check_size(jnp.zeros((1, 8, 12, 3)), 4, 'G')
  with pytest.raises(ValueError, match='multiples of 4'):
    layers.check_size(jnp.zeros((1, 8, 10, 3)), 4, 'G')
  with pytest.raises(ValueError, match=r'\[N, H, W, 3\]'):
    layers.check_size(jnp.zeros((8, 8, 3)), 4, 'G')


@pytest.mark.parametrize('k,stride,pads', [(3, 1, (1, 1, 1, 1)),
                                           (7, 1, (3, 3, 3, 3)),
                                           (3, 2, (0, 1, 0, 1))])
def test_fast_conv_gradients_match_plain(k, stride, pads):
  x = jnp.asarray(_rand((1, 10, 9, 3), 16))
  kernel = jnp.asarray(_rand((k, k, 3, 2), 17))

  def loss(impl):
    def f(x, kernel):
      y = layers.conv2d(x, kernel, stride=stride, pads=pads, impl=impl)
      return jnp.sum(jnp.sin(y))
    return jax.jit(jax.grad(f, argnums=(0, 1)))(x, kernel)
  for a, b in zip(loss('plain'), loss('fast')):
    np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)
  dw = jnp.asarray(_rand((3, 3, 1, 3), 18))
  g = lambda impl: jax.jit(jax.grad(lambda x, w: jnp.sum(jnp.sin(
      layers.depthwise_conv2d(x, w, stride=stride, pads=pads, impl=impl))),
                                    argnums=(0, 1)))(x, dw)
  for a, b in zip(g('plain'), g('fast')):
    np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)
