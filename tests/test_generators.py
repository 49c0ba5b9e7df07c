"""Generators: parameter counts, parity with TF-op / torch re-implementations
of the official graphs, fast == plain conv paths, shapes, jit caching."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from animejax import models
from animejax.models import animeganv2

torch = pytest.importorskip('torch')


def _count(tree) -> int:
  return int(sum(np.prod(a.shape) for a in jax.tree.leaves(tree)))


def _init(module, seed=0):
  """Random params in the module's tree without compiling `init`.

  (Compiling a generator's init costs as much as its forward pass; numpy
  fills the eval_shape'd tree instead: He-normal kernels, non-trivial norm
  scales and biases so that every parameter is exercised.)
  """
  m = int(getattr(module, 'size_multiple', 4))
  shapes = jax.eval_shape(module.init, jax.random.key(0),
                          jnp.zeros((1, 4 * m, 4 * m, 3)))['params']
  rng = np.random.default_rng(seed)

  def f(path, a):
    name = path[-1].key
    if name == 'scale':
      v = 1 + 0.3 * rng.normal(size=a.shape)
    elif name == 'bias':
      v = 0.2 * rng.normal(size=a.shape)
    else:  # kernels [kh, kw, in, out]; depthwise [kh, kw, 1, C]
      fan_in = int(np.prod(a.shape[:-1]))
      v = rng.normal(size=a.shape) * np.sqrt(2.0 / fan_in)
    return v.astype(np.float32)
  return jax.tree_util.tree_map_with_path(f, shapes)


_JIT_CACHE = {}


def _apply(module, params, x):
  """Jitted apply, one compiled function per module config (shared by tests
  so each generator variant compiles once per input shape)."""
  key = repr(module)
  if key not in _JIT_CACHE:
    _JIT_CACHE[key] = jax.jit(module.apply)
  return _JIT_CACHE[key]({'params': params}, jnp.asarray(x))


# Non-square, a multiple of 4 but not of 8: odd-sized maps after each stride.
STD_SHAPE = (2, 36, 52, 3)


def _gen(name, **kw):
  return models.create_generator(name, width=0.25, **kw)


def _images(shape, seed=1):
  return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


# ------------------------------------------------------------------ registry


def test_registry_and_errors():
  assert set(models.GENERATORS) == {'animeganv2', 'animeganv1', 'cartoongan',
                                    'animeganv3'}
  assert set(models.DISCRIMINATORS) == {'animegan', 'cartoongan'}
  assert models.GENERATORS['animeganv2'] is animeganv2.AnimeGANv2Generator
  with pytest.raises(ValueError, match='known:.*animeganv2'):
    models.create_generator('animeganv9')
  with pytest.raises(ValueError, match='known:.*animegan'):
    models.create_discriminator('patchgan')


def test_from_config_passes_declared_fields():
  import ml_collections  # pylint: disable=g-import-not-at-top
  g = models.generator_from_config(ml_collections.ConfigDict(
      {'name': 'animeganv2', 'width': 0.5, 'upsample': 'align_corners',
       'init_from': ''}), dtype=jnp.bfloat16)
  assert (g.width, g.upsample, g.dtype) == (0.5, 'align_corners',
                                            jnp.bfloat16)
  d = models.discriminator_from_config(ml_collections.ConfigDict(
      {'name': 'animegan', 'ch': 16, 'n_dis': 2, 'norm': 'instance',
       'spectral_norm': False}))
  assert (d.ch, d.n_dis, d.norm, d.spectral_norm) == (16, 2, 'instance',
                                                      False)


# ------------------------------------------------------------------ AnimeGANv2


def test_v2_param_count_is_official():
  # [v2] The official generator holds 2,143,552 trainable parameters (21
  # convs without bias, 4 depthwise convs with bias, 24 layer norms).
  g = animeganv2.AnimeGANv2Generator()
  shapes = jax.eval_shape(g.init, jax.random.key(0),
                          jnp.zeros((1, 16, 16, 3)))['params']
  assert _count(shapes) == 2_143_552
  assert shapes['r1']['dwise']['kernel'].shape == (3, 3, 1, 256)
  assert shapes['A0']['conv']['kernel'].shape == (7, 7, 3, 32)
  assert shapes['out']['kernel'].shape == (1, 1, 32, 3)
  assert set(shapes) == {'A0', 'A1', 'A2', 'B0', 'B1', 'C0', 'r1', 'r2',
                          'r3', 'r4', 'C1', 'D0', 'D1', 'E0', 'E1', 'E2',
                          'out'}


def _tf_v2(params, x, eps, resize):
  """[v2] G_net written with tf.nn ops, reading our param tree."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  def pad(h, p):
    return tf.pad(h, [[0, 0], p[:2], p[2:], [0, 0]], mode='REFLECT')

  def ln(h, p):
    mean, var = tf.nn.moments(h, axes=[1, 2, 3], keepdims=True)
    return tf.nn.batch_normalization(h, mean, var, p['bias'], p['scale'], eps)

  def cnl(h, p, k=3, s=1):
    if s == 2:
      h = pad(h, [0, 1, 0, 1])
    elif k > 1:
      h = pad(h, [k // 2] * 4)
    h = tf.nn.conv2d(h, p['conv']['kernel'], s, 'VALID')
    return tf.nn.leaky_relu(ln(h, p['norm']), 0.2)

  def irb(h, p):
    y = cnl(h, p['expand'], k=1)
    w = np.transpose(p['dwise']['kernel'], (0, 1, 3, 2))  # -> [3, 3, C, 1]
    y = tf.nn.depthwise_conv2d(pad(y, [1] * 4), w, [1, 1, 1, 1], 'VALID')
    y = tf.nn.leaky_relu(ln(y + p['dwise']['bias'], p['norm1']), 0.2)
    y = ln(tf.nn.conv2d(y, p['project']['kernel'], 1, 'VALID'), p['norm2'])
    return h + y if h.shape[-1] == y.shape[-1] else y

  h = tf.constant(x)
  h = cnl(h, params['A0'], k=7)
  h = cnl(h, params['A1'], s=2)
  h = cnl(h, params['A2'])
  h = cnl(h, params['B0'], s=2)
  h = cnl(h, params['B1'])
  h = cnl(h, params['C0'])
  for r in ('r1', 'r2', 'r3', 'r4'):
    h = irb(h, params[r])
  h = cnl(h, params['C1'])
  h = resize(h, [2 * h.shape[1], 2 * h.shape[2]])
  h = cnl(h, params['D0'])
  h = cnl(h, params['D1'])
  h = resize(h, [2 * h.shape[1], 2 * h.shape[2]])
  h = cnl(h, params['E0'])
  h = cnl(h, params['E1'])
  h = cnl(h, params['E2'], k=7)
  return np.asarray(tf.tanh(tf.nn.conv2d(h, params['out']['kernel'], 1,
                                         'VALID')))


def test_v2_matches_tf_ops():
  tf = pytest.importorskip('tensorflow')
  # [v2] Unsample: tf.image.resize_images with the TF1 defaults.
  resize = lambda h, s: tf.compat.v1.image.resize_bilinear(
      h, s, align_corners=False, half_pixel_centers=False)
  g = _gen('animeganv2', conv_impl='plain')
  params = _init(g)
  x = _images(STD_SHAPE)
  want = _tf_v2(params, x, animeganv2.TF_LAYER_NORM_EPS, resize)
  got = _apply(g, params, x)
  assert got.shape == x.shape and got.dtype == jnp.float32
  np.testing.assert_allclose(got, want, atol=1e-4)


def _torch_v2(params, x):
  """animegan2-pytorch model.py's layer list (GroupNorm(1), reflection pads,
  bilinear align_corners=True), loaded from our param tree."""
  nn, F = torch.nn, torch.nn.functional
  t = lambda a: torch.from_numpy(np.ascontiguousarray(np.asarray(a)))

  def conv(p, groups=1):
    k = np.asarray(p['kernel'])
    m = nn.Conv2d(k.shape[2] * groups, k.shape[3], k.shape[0], groups=groups,
                  bias='bias' in p)
    m.weight.data = t(k.transpose(3, 2, 0, 1))
    if 'bias' in p:
      m.bias.data = t(p['bias'])
    return m

  def gn(p):
    m = nn.GroupNorm(1, len(p['scale']), eps=1e-5)
    m.weight.data, m.bias.data = t(p['scale']), t(p['bias'])
    return m

  def cnl(p, k=3, s=1, groups=1, conv_p=None):
    pad = (0, 1, 0, 1) if s == 2 else k // 2
    c = conv(conv_p or p['conv'], groups)
    c.stride = (s, s)
    return nn.Sequential(nn.ReflectionPad2d(pad), c, gn(p['norm']),
                         nn.LeakyReLU(0.2))

  def irb(p):
    c = np.asarray(p['dwise']['kernel']).shape[-1]
    layers = nn.Sequential(
        cnl(p['expand'], k=1),
        cnl({'norm': p['norm1']}, groups=c, conv_p=p['dwise']),
        conv(p['project']), gn(p['norm2']))
    return lambda h: h + layers(h) if h.shape[1] == layers(h).shape[1] \
        else layers(h)

  block_a = nn.Sequential(cnl(params['A0'], k=7), cnl(params['A1'], s=2),
                          cnl(params['A2']))
  block_b = nn.Sequential(cnl(params['B0'], s=2), cnl(params['B1']))
  irbs = [irb(params[r]) for r in ('r1', 'r2', 'r3', 'r4')]
  with torch.no_grad():
    inp = t(x.transpose(0, 3, 1, 2))
    h = block_a(inp)
    half = h.shape[-2:]
    h = cnl(params['C0'])(block_b(h))
    for f in irbs:
      h = f(h)
    h = cnl(params['C1'])(h)
    h = F.interpolate(h, half, mode='bilinear', align_corners=True)
    h = cnl(params['D1'])(cnl(params['D0'])(h))
    h = F.interpolate(h, inp.shape[-2:], mode='bilinear', align_corners=True)
    h = cnl(params['E2'], k=7)(cnl(params['E1'])(cnl(params['E0'])(h)))
    h = torch.tanh(conv(params['out'])(h))
  return h.numpy().transpose(0, 2, 3, 1)


def test_v2_matches_torch_port():
  g = _gen('animeganv2', upsample='align_corners', eps=1e-5,
           conv_impl='plain')
  params = _init(g, seed=3)
  x = _images(STD_SHAPE, seed=4)
  want = _torch_v2(params, x)
  got = _apply(g, params, x)
  np.testing.assert_allclose(got, want, atol=1e-4)


def test_v2_rejects_bad_sizes_and_modes():
  g = animeganv2.AnimeGANv2Generator(width=0.125)
  params = jax.eval_shape(g.init, jax.random.key(0),
                          jnp.zeros((1, 16, 16, 3)))['params']
  with pytest.raises(ValueError, match='multiples of 4'):
    jax.eval_shape(g.apply, {'params': params}, jnp.zeros((1, 18, 16, 3)))
  bad = animeganv2.AnimeGANv2Generator(width=0.125, upsample='nearest')
  with pytest.raises(ValueError, match='upsample'):
    jax.eval_shape(bad.apply, {'params': params}, jnp.zeros((1, 16, 16, 3)))


# ------------------------------------------------------------------ AnimeGAN v1


def _v1_count(width=1.0):
  """[v1] G_net parameter count from its layer list (no conv biases)."""
  c = lambda n: animeganv2.scaled(n, width)
  cnl = lambda i, o, k=3: k * k * i * o + 2 * o           # conv + IN
  sep = lambda i, o: 9 * i + i * o + 2 * o                 # dw + pw + IN
  irb = lambda i: i * 2 * i + 2 * 2 * i + 9 * 2 * i + 2 * 2 * i + 2 * i * i \
      + 2 * i
  return (cnl(3, c(64)) + cnl(c(64), c(64)) + 2 * sep(c(64), c(128))
          + cnl(c(128), c(128)) + sep(c(128), c(128)) + 2 * sep(c(128), c(256))
          + cnl(c(256), c(256)) + 8 * irb(c(256)) + cnl(c(256), c(256))
          + sep(c(256), c(128)) + sep(c(128), c(128)) + cnl(c(128), c(128))
          + sep(c(128), c(128)) + cnl(c(128), c(64)) + cnl(c(64), c(64))
          + c(64) * 3)


@pytest.mark.parametrize('width', [1.0, 0.25])
def test_v1_param_count(width):
  g = models.create_generator('animeganv1', width=width)
  shapes = jax.eval_shape(g.init, jax.random.key(0),
                          jnp.zeros((1, 16, 16, 3)))['params']
  assert _count(shapes) == _v1_count(width)
  if width == 1.0:
    assert _count(shapes) == 3_956_096  # ~3.96M as the [v1] README states


def _tf_v1(params, x):
  """[v1] G_net with tf.nn ops, reading our param tree."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  rs = lambda h, s: tf.compat.v1.image.resize_bilinear(
      h, s, align_corners=False, half_pixel_centers=False)
  pad = lambda h, p: tf.pad(h, [[0, 0], p[:2], p[2:], [0, 0]], mode='REFLECT')

  def inorm(h, p, eps):
    mean, var = tf.nn.moments(h, axes=[1, 2], keepdims=True)
    return tf.nn.batch_normalization(h, mean, var, p['bias'], p['scale'], eps)

  def cnl(h, p, k=3):
    h = pad(h, [1] * 4) if k == 3 else h
    h = tf.nn.conv2d(h, p['conv']['kernel'], 1, 'VALID')
    return tf.nn.leaky_relu(inorm(h, p['norm'], 1e-5), 0.2)

  def sep(h, p, s=1, resize=None):
    hh, ww = h.shape[1], h.shape[2]
    if resize == 'down':
      h = rs(h, [hh // 2, ww // 2])
    elif resize == 'up':
      h = rs(h, [2 * hh, 2 * ww])
    h = pad(h, [0, 1, 0, 1] if s == 2 else [1] * 4)
    dw = np.transpose(p['depthwise']['kernel'], (0, 1, 3, 2))
    h = tf.nn.separable_conv2d(h, dw, p['pointwise']['kernel'],
                               [1, s, s, 1], 'VALID')
    return tf.nn.leaky_relu(inorm(h, p['norm'], 1e-6), 0.2)

  def irb(h, p):
    y = cnl(h, p['expand'], k=1)
    dw = np.transpose(p['dwise']['kernel'], (0, 1, 3, 2))
    y = tf.nn.depthwise_conv2d(pad(y, [1] * 4), dw, [1, 1, 1, 1], 'VALID')
    y = tf.nn.leaky_relu(inorm(y, p['norm1'], 1e-5), 0.2)
    y = tf.nn.conv2d(y, p['project']['kernel'], 1, 'VALID')
    return h + inorm(y, p['norm2'], 1e-5)

  P = params  # pylint: disable=invalid-name
  h = tf.constant(x)
  h = cnl(cnl(h, P['b1_conv0']), P['b1_conv1'])
  h = sep(h, P['b1_sep'], s=2) + sep(h, P['b1_down'], resize='down')
  h = sep(cnl(h, P['b2_conv0']), P['b2_sep0'])
  h = sep(h, P['b2_sep1'], s=2) + sep(h, P['b2_down'], resize='down')
  h = cnl(h, P['m_conv0'])
  for i in range(1, 9):
    h = irb(h, P[f'r{i}'])
  h = cnl(h, P['m_conv1'])
  h = sep(h, P['u2_up'], resize='up')
  h = cnl(sep(h, P['u2_sep']), P['u2_conv'])
  h = sep(h, P['u1_up'], resize='up')
  h = cnl(cnl(h, P['u1_conv0']), P['u1_conv1'])
  return np.asarray(tf.tanh(tf.nn.conv2d(h, P['out']['kernel'], 1, 'VALID')))


def test_v1_matches_tf_ops():
  pytest.importorskip('tensorflow')
  g = _gen('animeganv1', conv_impl='plain')
  params = _init(g, seed=5)
  x = _images(STD_SHAPE, seed=6)
  want = _tf_v1(params, x)
  got = _apply(g, params, _images(STD_SHAPE, seed=6))
  np.testing.assert_allclose(got, want, atol=1e-4)


# ------------------------------------------------------------------ CartoonGAN


def _cg_count(width=1.0, blocks=8):
  """[cg] generator parameter count from its layer list (biased convs)."""
  c = lambda n: animeganv2.scaled(n, width)
  conv = lambda i, o, k=3: k * k * i * o + o
  norm = lambda o: 2 * o
  return (conv(3, c(64), 7) + norm(c(64))
          + conv(c(64), c(128)) + conv(c(128), c(128)) + norm(c(128))
          + conv(c(128), c(256)) + conv(c(256), c(256)) + norm(c(256))
          + blocks * 2 * (conv(c(256), c(256)) + norm(c(256)))
          + conv(c(256), c(128)) + conv(c(128), c(128)) + norm(c(128))
          + conv(c(128), c(64)) + conv(c(64), c(64)) + norm(c(64))
          + conv(c(64), 3, 7))


@pytest.mark.parametrize('width', [1.0, 0.25])
def test_cartoongan_param_count(width):
  g = models.create_generator('cartoongan', width=width)
  shapes = jax.eval_shape(g.init, jax.random.key(0),
                          jnp.zeros((1, 16, 16, 3)))['params']
  assert _count(shapes) == _cg_count(width)
  if width == 1.0:
    assert _count(shapes) == 11_129_667


def _torch_cartoongan(params, x, eps=1e-9):
  """CartoonGAN-Test-Pytorch-Torch Transformer.forward with F.* ops."""
  F = torch.nn.functional
  t = lambda a: torch.from_numpy(np.ascontiguousarray(np.asarray(a)))

  def conv(h, p, s=1, pad=1, reflect=False):
    w = t(np.asarray(p['kernel']).transpose(3, 2, 0, 1))
    if reflect:
      h, pad = F.pad(h, (pad,) * 4, mode='reflect'), 0
    return F.conv2d(h, w, t(p['bias']), stride=s, padding=pad)

  def deconv(h, p):
    w = t(np.asarray(p['kernel']).transpose(2, 3, 0, 1))
    return F.conv_transpose2d(h, w, t(p['bias']), 2, 1, 1)

  def inorm(h, p):  # biased variance, as InstanceNormalization
    mean = h.mean((2, 3), keepdim=True)
    var = h.var((2, 3), unbiased=False, keepdim=True)
    h = (h - mean) / torch.sqrt(var + eps)
    return h * t(p['scale'])[:, None, None] + t(p['bias'])[:, None, None]

  P = params  # pylint: disable=invalid-name
  with torch.no_grad():
    y = t(x.transpose(0, 3, 1, 2))
    y = F.relu(inorm(conv(y, P['conv01_1'], pad=3, reflect=True), P['in01_1']))
    y = F.relu(inorm(conv(conv(y, P['conv02_1'], s=2), P['conv02_2']),
                     P['in02_1']))
    y = F.relu(inorm(conv(conv(y, P['conv03_1'], s=2), P['conv03_2']),
                     P['in03_1']))
    for i in range(1, 9):
      r = P[f'res{i}']
      h = F.relu(inorm(conv(y, r['conv1'], reflect=True), r['norm1']))
      y = inorm(conv(h, r['conv2'], reflect=True), r['norm2']) + y
    y = F.relu(inorm(conv(deconv(y, P['deconv01_1']), P['deconv01_2']),
                     P['in12_1']))
    y = F.relu(inorm(conv(deconv(y, P['deconv02_1']), P['deconv02_2']),
                     P['in13_1']))
    y = torch.tanh(conv(y, P['deconv03_1'], pad=3, reflect=True))
  return y.numpy().transpose(0, 2, 3, 1)


def test_cartoongan_matches_torch_test_network():
  g = _gen('cartoongan', conv_impl='plain')
  params = _init(g, seed=7)
  x = _images(STD_SHAPE, seed=8)
  want = _torch_cartoongan(params, x)
  got = _apply(g, params, x)
  np.testing.assert_allclose(got, want, atol=1e-4)


# ------------------------------------------------------------------ all

GENERATOR_NAMES = ['animeganv2', 'animeganv1', 'cartoongan']


@pytest.mark.parametrize('name', GENERATOR_NAMES)
def test_fast_equals_plain_shapes_and_jit_cache(name):
  plain, fast = _gen(name, conv_impl='plain'), _gen(name, conv_impl='fast')
  params = _init(plain)
  assert (jax.tree.map(np.shape, _init(fast)) ==
          jax.tree.map(np.shape, params))
  x = _images(STD_SHAPE)
  a = _apply(plain, params, x)
  b = _apply(fast, params, x)
  assert a.shape == x.shape and a.dtype == jnp.float32
  assert float(jnp.max(jnp.abs(a))) <= 1.0 and float(jnp.std(a)) > 0.05
  # Summation order differs (shifted sums vs conv), nothing else.
  np.testing.assert_allclose(a, b, atol=5e-5)
  # One compilation per input shape, none for repeated shapes (checked on
  # the plain variant, which compiles faster).
  f = _JIT_CACHE[repr(plain)]
  n = f._cache_size()  # pylint: disable=protected-access
  for shape in [STD_SHAPE, (1, 24, 16, 3), (1, 24, 16, 3)]:
    assert _apply(plain, params, _images(shape)).shape == shape
  assert f._cache_size() == n + 1  # pylint: disable=protected-access


def test_v2_bfloat16_close_to_float32():
  params = _init(_gen('animeganv2'))
  x = _images(STD_SHAPE)
  y32 = _apply(_gen('animeganv2', conv_impl='fast'), params, x)
  y16 = _apply(_gen('animeganv2', dtype=jnp.bfloat16), params, x)
  assert y16.dtype == jnp.float32
  assert float(jnp.mean(jnp.abs(y16 - y32))) < 0.05
