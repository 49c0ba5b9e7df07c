"""Noise-to-face networks: the Keras DCGAN of anime-image-development and
MakeGirlsMoe's DRAGAN. Exact parameter counts, parity with Keras (copied
weights, inference and train mode, BN moving statistics) and with torch
reimplementations, determinism, label conditioning, and the DRAGAN penalty
of animejax.losses against the MakeGirlsMoe recipe.

Sources (as in the model modules): [aid] Team7-Code/anime-image-development
`Image Generator/image_generator/dcgan_model.py`; [mgm] Jin et al. 2017
(arXiv:1708.05509) Figs. 3-4; [bhp] bhpfelix/PyTorch-Face-Generator-SRResNet-
based-ACGAN-DRAGAN `models.py`, `main.py`, `settings.py`; [cirq] CirQ/AnimeNet
`model.py`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from animejax import losses
from animejax.models import dcgan
from animejax.models import dragan


def _count(tree) -> int:
  return int(sum(np.prod(a.shape) for a in jax.tree.leaves(tree)))


def _fill(shapes, seed):
  """Random values for an eval_shape'd variable tree, every leaf exercised:
  kernels ~ N(0, 1 / fan_in), biases and PReLU alphas non-zero, BN scales
  around 1, running means around 0 and running variances in [0.5, 1.5]."""
  rng = np.random.default_rng(seed)

  def f(path, a):
    name = path[-1].key
    if name in ('scale', 'var'):
      v = rng.uniform(0.5, 1.5, a.shape)
    elif name in ('bias', 'mean'):
      v = 0.2 * rng.normal(size=a.shape)
    elif name == 'alpha':
      v = rng.uniform(0.0, 0.5, a.shape)
    else:  # kernels [..., in, out]
      v = rng.normal(size=a.shape) / np.sqrt(np.prod(a.shape[:-1]))
    return v.astype(np.float32)
  return jax.tree_util.tree_map_with_path(f, shapes)


def _shapes(module, *args):
  return jax.eval_shape(module.init, jax.random.key(0), *args)


def _variables(module, *args, seed=0):
  """Random variables without compiling `init` (its PRNG calls cost more
  than the forward pass on a CPU)."""
  return _fill(_shapes(module, *args), seed)


# ------------------------------------------------------------------ DCGAN


def _dcgan_g_count(s=32, widths=(256, 128, 64, 32), k=5, noise=100):
  """([aid] generator() params, BN statistics) from its layer list."""
  b = s // 2
  n0 = b * b * widths[0]
  params = noise * n0 + n0 + n0 + 2 * n0          # dense, prelu0, bn0
  stats = 2 * n0
  for cin, cout in zip(widths, widths[1:] + (3,)):
    params += k * k * cin * cout + cout           # transposed conv
    if cout != 3:
      params += s * s * cout + 2 * cout           # per-element prelu, bn
      stats += 2 * cout
  return params, stats


def _dcgan_d_count(s=32, widths=(32, 64, 128, 256), k=5):
  n, cin = 0, 3
  for f in widths:
    s //= 2
    n += k * k * cin * f + f + s * s * f          # conv, per-element prelu
    cin = f
  return n + s * s * cin + 1                      # dense 1


def test_dcgan_param_counts():
  g = _shapes(dcgan.DCGANGenerator(), jnp.zeros((1, 100)))
  assert (_count(g['params']), _count(g['batch_stats'])) == _dcgan_g_count()
  assert _count(g['params']) == 8_123_395
  assert _count(g['batch_stats']) == 131_520
  assert g['params']['prelu0']['alpha'].shape == (16 * 16 * 256,)
  assert g['params']['prelu1']['alpha'].shape == (32, 32, 128)
  assert g['params']['deconv1']['kernel'].shape == (5, 5, 256, 128)
  d = dcgan.DCGANDiscriminator()
  shapes = _shapes(d, jnp.zeros((1, 32, 32, 3)))['params']
  assert _count(shapes) == _dcgan_d_count() == 1_094_465
  # The minibatch-std channel adds one input to the dense head per position
  # of the last (2 x 2) map.
  d_std = dcgan.DCGANDiscriminator(minibatch_std=True)
  assert _count(_shapes(d_std, jnp.zeros((4, 32, 32, 3)))['params']) == (
      1_094_465 + 4)


@pytest.fixture(scope='module')
def keras():
  return pytest.importorskip('keras')


def _keras_generator(keras, size=32, widths=(256, 128, 64, 32)):
  """[aid] dcgan_model.generator() in keras 3 spelling (its size and widths
  are 32 and (256, 128, 64, 32))."""
  L = keras.layers  # pylint: disable=invalid-name
  b = size // 2
  model = keras.Sequential([keras.Input((100,)),
                            L.Dense(widths[0] * b * b,
                                    kernel_initializer='RandomNormal'),
                            L.PReLU(), L.BatchNormalization(momentum=0.5),
                            L.Reshape((b, b, widths[0])), L.UpSampling2D()])
  for f in widths[1:]:
    model.add(L.Conv2DTranspose(f, kernel_size=5, padding='same'))
    model.add(L.PReLU())
    model.add(L.BatchNormalization(momentum=0.5))
  model.add(L.Conv2DTranspose(3, 5, padding='same', activation='tanh'))
  return model


def _keras_discriminator(keras):
  """[aid] dcgan_model.discriminator(), in keras 3 spelling."""
  L = keras.layers  # pylint: disable=invalid-name
  model = keras.Sequential([keras.Input((32, 32, 3))])
  for f in (32, 64, 128, 256):
    model.add(L.Conv2D(f, 5, strides=2, padding='same'))
    model.add(L.PReLU())
    model.add(L.Dropout(0.2))
  model.add(L.Flatten())
  model.add(L.Dense(1, activation='sigmoid'))
  return model


def _to_keras(model, variables, order):
  """Copies our variables into the Keras layers that own weights, in order.

  Dense / Conv2D kernels as they are; Conv2DTranspose kernels are
  [kh, kw, out, in] in Keras and [kh, kw, in, out] here.
  """
  p, s = variables['params'], variables.get('batch_stats', {})
  owners = [l for l in model.layers if l.weights]
  assert len(owners) == len(order)
  for layer, name in zip(owners, order):
    kind = type(layer).__name__
    if kind == 'BatchNormalization':
      w = [p[name]['scale'], p[name]['bias'], s[name]['mean'], s[name]['var']]
    elif kind == 'PReLU':
      w = [p[name]['alpha']]
    elif kind == 'Conv2DTranspose':
      w = [np.transpose(p[name]['kernel'], (0, 1, 3, 2)), p[name]['bias']]
    else:
      w = [p[name]['kernel'], p[name]['bias']]
    layer.set_weights([np.asarray(a) for a in w])


_G_ORDER = ['dense', 'prelu0', 'bn0'] + [
    f'{n}{i}' for i in (1, 2, 3) for n in ('deconv', 'prelu', 'bn')] + ['out']


def test_dcgan_generator_matches_keras(keras):
  want_params, want_stats = _dcgan_g_count()
  assert (_keras_generator(keras).count_params() == want_params + want_stats
          == 8_254_915)
  # Numerics on a narrow copy (same layers; the full one only costs time).
  size, widths = 16, (16, 8, 8, 4)
  kg = _keras_generator(keras, size, widths)
  g = dcgan.DCGANGenerator(image_size=size, widths=widths)
  variables = _variables(g, jnp.zeros((1, 100)))
  _to_keras(kg, variables, _G_ORDER)
  z = np.random.default_rng(1).uniform(-1, 1, (4, 100)).astype(np.float32)

  got = jax.jit(g.apply)(variables, z)
  want = np.asarray(kg(z, training=False))
  assert got.shape == (4, size, size, 3)
  np.testing.assert_allclose(got, want, atol=2e-5)

  # Train mode: batch statistics, and every moving average updated as Keras.
  train = jax.jit(lambda v, x: g.apply(v, x, train=True,
                                       mutable=['batch_stats']))
  got, new = train(variables, z)
  want = np.asarray(kg(z, training=True))
  np.testing.assert_allclose(got, want, atol=2e-5)
  bns = [l for l in kg.layers if type(l).__name__ == 'BatchNormalization']
  for layer, name in zip(bns, ['bn0', 'bn1', 'bn2', 'bn3']):
    mean, var = (np.asarray(w) for w in layer.weights[2:])
    np.testing.assert_allclose(new['batch_stats'][name]['mean'], mean,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(new['batch_stats'][name]['var'], var,
                               rtol=1e-4, atol=1e-5)

  # bn0 by hand: moving = 0.5 * old + 0.5 * batch (biased batch variance).
  p = variables['params']
  h = z @ np.asarray(p['dense']['kernel']) + np.asarray(p['dense']['bias'])
  h = np.where(h >= 0, h, np.asarray(p['prelu0']['alpha']) * h)
  old = variables['batch_stats']['bn0']
  np.testing.assert_allclose(new['batch_stats']['bn0']['mean'],
                             0.5 * old['mean'] + 0.5 * h.mean(0), atol=1e-5)
  np.testing.assert_allclose(new['batch_stats']['bn0']['var'],
                             0.5 * old['var'] + 0.5 * h.var(0), atol=1e-4)


def test_keras_batch_norm_convention(keras):
  """momentum 0.5 / eps 1e-3 as keras.layers.BatchNormalization(momentum=0.5):
  one train-mode call moves the running mean halfway to the batch mean."""
  rng = np.random.default_rng(2)
  x = rng.normal(1.0, 2.0, (6, 3, 3, 5)).astype(np.float32)
  old_mean = rng.normal(size=5).astype(np.float32)
  old_var = rng.uniform(0.5, 2, 5).astype(np.float32)
  nn_bn = dcgan.keras_batch_norm('bn', train=True)
  variables = {'params': {'scale': np.ones(5, np.float32),
                          'bias': np.zeros(5, np.float32)},
               'batch_stats': {'mean': old_mean, 'var': old_var}}
  y, new = nn_bn.apply(variables, x, mutable=['batch_stats'])
  k = keras.layers.BatchNormalization(momentum=0.5)
  k.build(x.shape)
  k.set_weights([np.ones(5), np.zeros(5), old_mean, old_var])
  want = np.asarray(k(x, training=True))
  np.testing.assert_allclose(y, want, atol=1e-5)
  batch_mean = x.mean((0, 1, 2))
  np.testing.assert_allclose(new['batch_stats']['mean'],
                             0.5 * old_mean + 0.5 * batch_mean, rtol=1e-6)
  np.testing.assert_allclose(new['batch_stats']['mean'],
                             np.asarray(k.moving_mean), rtol=1e-6)
  np.testing.assert_allclose(new['batch_stats']['var'],
                             np.asarray(k.moving_variance), rtol=1e-5)
  assert nn_bn.epsilon == k.epsilon == 1e-3


def test_dcgan_discriminator_matches_keras(keras):
  kd = _keras_discriminator(keras)
  d = dcgan.DCGANDiscriminator()
  variables = _fill(_shapes(d, jnp.zeros((1, 32, 32, 3))), seed=3)
  assert kd.count_params() == _dcgan_d_count()
  _to_keras(kd, variables, [f'{n}{i}' for i in range(4)
                            for n in ('conv', 'prelu')] + ['head'])
  x = np.random.default_rng(4).uniform(-1, 1, (3, 32, 32, 3))
  x = x.astype(np.float32)
  logits = jax.jit(d.apply)(variables, x)
  assert logits.shape == (3,)
  prob = np.asarray(kd(x, training=False), np.float64)[:, 0]
  assert np.all((prob > 0.01) & (prob < 0.99))  # logits are comparable
  np.testing.assert_allclose(logits, np.log(prob) - np.log1p(-prob),
                             atol=1e-4)


def test_dcgan_generation_is_deterministic_for_a_seed():
  g = dcgan.DCGANGenerator(image_size=8, widths=(8, 4, 4, 2))
  variables = _variables(g, jnp.zeros((1, 100)))
  sample = jax.jit(lambda key: g.apply(
      variables, jax.random.uniform(key, (2, 100), minval=-1, maxval=1)))
  a, b = sample(jax.random.key(5)), sample(jax.random.key(5))
  assert a.shape == (2, 8, 8, 3)
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(a, sample(jax.random.key(6)))


def test_minibatch_std_matches_numpy():
  x = np.random.default_rng(7).normal(size=(8, 3, 2, 4)).astype(np.float32)
  got = dcgan.minibatch_std(jnp.asarray(x), group_size=4)
  assert got.shape == (8, 3, 2, 5)
  np.testing.assert_array_equal(got[..., :4], x)
  for i in range(8):  # ProGAN groups: sample i with i +- 2, i +- 4, ...
    group = x[i % 2::2]
    want = np.sqrt(group.var(0) + 1e-8).mean()
    np.testing.assert_allclose(got[i, ..., 4], want, rtol=1e-5)
  with pytest.raises(ValueError, match='multiple of the group size'):
    dcgan.minibatch_std(jnp.zeros((6, 2, 2, 1)), group_size=4)


# ------------------------------------------------------------------ DRAGAN


def _dragan_g_count(labels=34, noise=128, s=128, b=16, c=64, blocks=16,
                    prelu=False):
  """[mgm] Fig. 3 (params, BN statistics): biased convs, BN scale + bias."""
  conv = lambda k, i, o: k * k * i * o + o
  n_up = int(np.log2(s // b))
  n_bn = 2 + 2 * blocks + n_up
  params = ((noise + labels) * b * b * c + b * b * c
            + blocks * 2 * conv(3, c, c) + n_up * conv(3, c, 4 * c)
            + conv(9, c, 3) + 2 * c * n_bn)
  if prelu:  # one alpha per activation: in, 16 blocks, mid, up-samplers
    params += 2 + blocks + n_up
  return params, 2 * c * n_bn


def _dragan_d_count(labels=34, s=128, widths=(32, 64, 128, 256, 512, 1024),
                    blocks=2):
  conv = lambda k, i, o: k * k * i * o + o
  n = conv(4, 3, widths[0])
  for st, (cin, cout) in enumerate(zip(widths, widths[1:]), start=1):
    n += blocks * 2 * conv(3, cin, cin) + conv(4 if st < 3 else 3, cin, cout)
  flat = (s // 2 ** len(widths)) ** 2 * widths[-1]
  return n + flat + 1 + flat * labels + labels


@pytest.mark.parametrize('size, act', [(128, 'relu'), (64, 'prelu')])
def test_dragan_generator_param_counts(size, act):
  g = dragan.DRAGANGenerator(image_size=size, activation=act)
  z, y = jnp.zeros((1, 128)), jnp.zeros((1, 34))
  shapes = _shapes(g, z, y)
  counts = (_count(shapes['params']), _count(shapes['batch_stats']))
  assert counts == _dragan_g_count(s=size, prelu=act == 'prelu')
  if size == 128:
    assert counts == (4_315_715, 4_736)
    assert 'up2_conv' in shapes['params']
  else:  # two x2 stages at 64 px
    assert 'up1_conv' in shapes['params'] and 'up2_conv' not in shapes['params']
  out = jax.eval_shape(g.apply, shapes, z, y)
  assert out.shape == (1, size, size, 3)


def test_dragan_discriminator_param_count_and_heads():
  d = dragan.DRAGANDiscriminator()
  x = jnp.zeros((2, 128, 128, 3))
  shapes = _shapes(d, x)['params']
  assert _count(shapes) == _dragan_d_count() == 19_078_531
  assert shapes['stage3_down']['kernel'].shape == (3, 3, 128, 256)
  assert shapes['stage2_down']['kernel'].shape == (4, 4, 64, 128)
  assert shapes['adv']['kernel'].shape == (2 * 2 * 1024, 1)
  adv, cls = jax.eval_shape(d.apply, {'params': shapes}, x)
  assert adv.shape == (2,) and cls.shape == (2, 34)
  with pytest.raises(ValueError, match='multiple of 64'):
    jax.eval_shape(d.apply, {'params': shapes}, jnp.zeros((1, 96, 96, 3)))


# Narrow variants (CPU-trainable): 32 px, one x2 stage, 5 labels.
_NARROW_G = dict(num_labels=5, noise_dim=16, image_size=32, features=8,
                 num_res_blocks=2)
_NARROW_D = dict(num_labels=5, widths=(8, 16, 32), num_res_blocks=1)


def _torch_dragan_g(variables, z, labels, act, eps=dragan.BN_EPSILON):
  """[bhp] Generator.forward (eval mode) with torch F.* ops, our weights."""
  torch = pytest.importorskip('torch')
  F = torch.nn.functional  # pylint: disable=invalid-name
  t = lambda a: torch.from_numpy(np.array(a, np.float32))
  p, s = variables['params'], variables['batch_stats']

  def conv(h, name):
    k = t(p[name]['kernel']).permute(3, 2, 0, 1)
    return F.conv2d(h, k, t(p[name]['bias']), padding=k.shape[-1] // 2)

  def bn(h, name):
    return F.batch_norm(h, t(s[name]['mean']), t(s[name]['var']),
                        t(p[name]['scale']), t(p[name]['bias']), False, 0.0,
                        eps)

  def a(h, name):
    return (F.relu(h) if act == 'relu'
            else F.prelu(h, t(p[name]['prelu']['alpha']).reshape(1)))

  with torch.no_grad():
    h = torch.cat([t(z), t(labels)], 1)
    h = h @ t(p['dense']['kernel']) + t(p['dense']['bias'])
    h = h.reshape(len(z), 16, 16, -1).permute(0, 3, 1, 2)  # ours is HWC
    h = skip = a(bn(h, 'bn_in'), 'act_in')
    for i in range(_NARROW_G['num_res_blocks']):
      y = a(bn(conv(h, f'res{i}_conv1'), f'res{i}_bn1'), f'res{i}_act')
      h = h + bn(conv(y, f'res{i}_conv2'), f'res{i}_bn2')
    h = a(bn(h, 'bn_mid'), 'act_mid') + skip
    h = F.pixel_shuffle(conv(h, 'up0_conv'), 2)
    h = a(bn(h, 'up0_bn'), 'up0_act')
    h = torch.tanh(conv(h, 'out'))
  return h.permute(0, 2, 3, 1).numpy()


def _labels(n, seed):
  y = np.zeros((n, 5), np.float32)
  y[np.arange(n), np.random.default_rng(seed).integers(0, 5, n)] = 1.0
  return y


@pytest.mark.parametrize('act', ['relu', 'prelu'])
def test_dragan_generator_matches_torch_reimplementation(act):
  g = dragan.DRAGANGenerator(activation=act, **_NARROW_G)
  z = np.random.default_rng(8).normal(size=(3, 16)).astype(np.float32)
  y = _labels(3, seed=9)
  variables = _fill(_shapes(g, z, y), seed=10)
  got = jax.jit(g.apply)(variables, z, y)
  assert got.shape == (3, 32, 32, 3)
  np.testing.assert_allclose(got, _torch_dragan_g(variables, z, y, act),
                             atol=2e-5)


def test_pixel_shuffle_is_torch_order():
  torch = pytest.importorskip('torch')
  x = np.random.default_rng(11).normal(size=(2, 3, 5, 12)).astype(np.float32)
  want = torch.nn.functional.pixel_shuffle(
      torch.from_numpy(x).permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
  np.testing.assert_array_equal(dragan.pixel_shuffle(jnp.asarray(x)),
                                want.numpy())


def test_dragan_generation_deterministic_and_label_conditioned():
  g = dragan.DRAGANGenerator(**_NARROW_G)
  variables = _variables(g, jnp.zeros((1, 16)), jnp.zeros((1, 5)))

  @jax.jit
  def sample(key, labels):
    z = jax.random.normal(key, (labels.shape[0], 16))
    return g.apply(variables, z, labels)

  y = jnp.asarray(_labels(4, seed=12))
  a, b = sample(jax.random.key(1), y), sample(jax.random.key(1), y)
  assert a.shape == (4, 32, 32, 3) and float(jnp.max(jnp.abs(a))) <= 1.0
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(a, sample(jax.random.key(2), y))
  # Same noise, other labels: every image changes.
  other = sample(jax.random.key(1), jnp.roll(y, 1, axis=-1))
  assert np.all(np.abs(other - a).max(axis=(1, 2, 3)) > 1e-4)
  with pytest.raises(ValueError, match='labels must be'):
    g.apply(variables, jnp.zeros((1, 16)))


def _torch_dragan_d(params, x, slope=dragan.LEAKY_SLOPE):
  """[bhp]/[cirq] Discriminator.forward with torch F.* ops, our weights."""
  torch = pytest.importorskip('torch')
  F = torch.nn.functional  # pylint: disable=invalid-name
  t = lambda a: torch.from_numpy(np.array(a, np.float32))
  lrelu = lambda h: F.leaky_relu(h, slope)

  def conv(h, name, stride=1):
    k = t(params[name]['kernel']).permute(3, 2, 0, 1)
    return F.conv2d(h, k, t(params[name]['bias']), stride=stride, padding=1)

  with torch.no_grad():
    h = lrelu(conv(t(x).permute(0, 3, 1, 2), 'conv_in', 2))
    for s in (1, 2):
      y = lrelu(conv(h, f'stage{s}_res0_conv1'))
      h = lrelu(conv(y, f'stage{s}_res0_conv2') + h)
      h = lrelu(conv(h, f'stage{s}_down', 2))
    h = h.permute(0, 2, 3, 1).reshape(len(x), -1)  # ours flattens HWC
    adv = h @ t(params['adv']['kernel']) + t(params['adv']['bias'])
    cls = h @ t(params['cls']['kernel']) + t(params['cls']['bias'])
  return adv[:, 0].numpy(), cls.numpy()


def test_dragan_discriminator_matches_torch_reimplementation():
  d = dragan.DRAGANDiscriminator(**_NARROW_D)
  x = np.random.default_rng(13).uniform(-1, 1, (2, 32, 32, 3))
  x = x.astype(np.float32)
  variables = _fill(_shapes(d, x), seed=14)
  adv, cls = jax.jit(d.apply)(variables, x)
  want_adv, want_cls = _torch_dragan_d(variables['params'], x)
  np.testing.assert_allclose(adv, want_adv, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(cls, want_cls, rtol=1e-4, atol=1e-4)
  assert _count(variables) == _dragan_d_count(
      labels=5, s=32, widths=(8, 16, 32), blocks=1)
  # minibatch std: one more channel into both heads (4 x 4 positions).
  d_std = dragan.DRAGANDiscriminator(minibatch_std=True, **_NARROW_D)
  assert _count(_shapes(d_std, x)) == _count(variables) + 16 * (1 + 5)


# ------------------------------------------------------------------ penalty


def _toy_d(u, v):
  """A smooth per-sample 'discriminator' D(x)_b = sum v tanh(u x_b), written
  once for jax (float32) and once for torch (float64)."""
  torch = pytest.importorskip('torch')
  tu, tv = torch.from_numpy(u), torch.from_numpy(v)
  u, v = u.astype(np.float32), v.astype(np.float32)
  return (lambda x: jnp.sum(v * jnp.tanh(u * x), axis=(1, 2, 3)),
          lambda x: (tv * (tu * x).tanh()).sum(dim=(1, 2, 3)))


def _torch_recipe_penalty(d, real, beta, alpha, lam=0.5, unbiased=False):
  """MakeGirlsMoe's DRAGAN penalty as [bhp] main.py writes it:

    x_hat = alpha x + (1 - alpha) (x + 0.5 std(x) beta),  beta ~ U[0, 1)
    lam * mean_b (||d D(x_hat_b) / d x_hat_b|| - 1)^2,      lam = 0.5

  with the norm over the flattened image (DRAGAN, Kodali et al. 2017; [bhp]
  takes `gradients.norm(2, dim=1)`, a norm over the channels of each pixel),
  std over the whole batch (torch's .std() is unbiased unless told).
  """
  torch = pytest.importorskip('torch')
  x, beta, alpha = (torch.from_numpy(np.asarray(a, np.float64))
                    for a in (real, beta, alpha))
  std = x.std(unbiased=unbiased)
  x_hat = (alpha * x + (1 - alpha) * (x + 0.5 * std * beta)).requires_grad_()
  g = torch.autograd.grad(d(x_hat).sum(), x_hat)[0]
  norms = g.reshape(len(real), -1).norm(2, dim=1)
  return float(lam * ((norms - 1) ** 2).mean())


def test_dragan_penalty_vs_makegirlsmoe_recipe():
  rng = np.random.default_rng(15)
  real = rng.uniform(-1, 1, (4, 6, 5, 3)).astype(np.float32)
  u, v = rng.normal(size=(2, 6, 5, 3))
  d_jax, d_torch = _toy_d(u, v)
  # (An 'rbg' key: the penalty takes any key, and rbg compiles faster.)
  key = jax.random.key(16, impl='rbg')

  @jax.jit
  def run(r, k):
    # The draws of losses.dragan_points: U[0, 1) noise of the image's shape,
    # then one U[0, 1) per sample, from split(key).
    noise_key, alpha_key = jax.random.split(k)
    return (losses.dragan_penalty(d_jax, r, k),
            jax.random.uniform(noise_key, r.shape),
            jax.random.uniform(alpha_key, (r.shape[0], 1, 1, 1)))

  got, beta, a = jax.tree.map(np.asarray, run(jnp.asarray(real), key))
  got = 0.5 * float(got)
  # losses puts its alpha on the perturbed image: the recipe with 1 - alpha.
  want = _torch_recipe_penalty(d_torch, real, beta, 1 - a)
  np.testing.assert_allclose(got, want, rtol=1e-5)
  # The same draws with the recipe's weighting give another value (the same
  # distribution over draws, not the same number).
  swapped = _torch_recipe_penalty(d_torch, real, beta, a)
  assert abs(swapped - got) > 1e-3 * got
  # torch's unbiased std moves it by O(1 / batch elements) only.
  unbiased = _torch_recipe_penalty(d_torch, real, beta, 1 - a, unbiased=True)
  assert 0 < abs(unbiased - want) < 1e-2 * want


def test_dragan_penalty_runs_on_the_discriminator_head():
  d = dragan.DRAGANDiscriminator(**_NARROW_D)
  x = jnp.asarray(np.random.default_rng(17).uniform(-1, 1, (2, 32, 32, 3)),
                  jnp.float32)
  variables = _variables(d, x)
  d_fn = lambda y: d.apply(variables, y)[0]  # the real/fake logit head
  # Traced, not compiled: the head plugs into the penalty as a scalar loss.
  gp = jax.eval_shape(lambda r, k: losses.dragan_penalty(d_fn, r, k), x,
                      jax.random.key(1))
  assert gp.shape == () and gp.dtype == jnp.float32
