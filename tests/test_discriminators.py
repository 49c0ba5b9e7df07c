"""Tests for the spectral norm and the AnimeGAN / CartoonGAN discriminators."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from animejax.models import discriminators
from animejax.models import spectral_norm as sn_lib


def _np_power_iteration(w, u, eps=1e-12):
  """AnimeGANv2 tools/ops.py spectral_norm, transcribed to numpy (float64)."""
  w2 = w.reshape(-1, w.shape[-1]).astype(np.float64)
  l2 = lambda a: a / (np.sqrt(np.sum(a ** 2)) + eps)
  v = l2(u @ w2.T)
  u_new = l2(v @ w2)
  sigma = (v @ w2 @ u_new.T)[0, 0]
  return (w2 / sigma).reshape(w.shape), u_new, sigma


def test_power_iteration_matches_numpy():
  rng = np.random.default_rng(0)
  w = rng.normal(size=(3, 3, 4, 5)).astype(np.float32)
  u = rng.normal(size=(1, 5)).astype(np.float32)
  got_w, got_u, got_sigma = sn_lib.power_iteration(jnp.asarray(w),
                                                   jnp.asarray(u))
  want_w, want_u, want_sigma = _np_power_iteration(w, u)
  np.testing.assert_allclose(got_w, want_w, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(got_u, want_u, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(got_sigma, want_sigma, rtol=1e-5)


def test_sn_conv_updates_only_in_training_mode():
  conv = sn_lib.SNConv(6, spectral_norm=True)
  x = jax.random.normal(jax.random.key(1), (2, 8, 8, 3))
  variables = conv.init(jax.random.key(0), x)
  u0 = np.asarray(variables['spectral']['u'])
  assert u0.shape == (1, 6) and np.all(np.abs(u0) <= 2.0)  # truncated normal

  # Eval: the same one iteration from the stored u, nothing written back.
  _, upd = conv.apply(variables, x, update_stats=False, mutable=['spectral'])
  np.testing.assert_array_equal(upd['spectral']['u'], u0)
  # Training mode without a mutable collection: no error, no update.
  y_eval = conv.apply(variables, x, update_stats=True)
  # Training mode: u moves to the numpy power-iteration result.
  y_train, upd = conv.apply(variables, x, update_stats=True,
                            mutable=['spectral'])
  want_w, want_u, _ = _np_power_iteration(
      np.asarray(variables['params']['kernel']), u0)
  np.testing.assert_allclose(upd['spectral']['u'], want_u, rtol=1e-5,
                             atol=1e-6)
  np.testing.assert_allclose(y_train, y_eval, rtol=1e-6, atol=1e-6)
  # The forward uses the normalised kernel: compare with a plain conv.
  want_y = jax.lax.conv_general_dilated(
      x, jnp.asarray(want_w, jnp.float32), (1, 1), ((1, 1), (1, 1)),
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  np.testing.assert_allclose(y_train, want_y, rtol=1e-4, atol=1e-5)


def test_sn_conv_gradient_flows_through_power_iteration():
  # [v2] tools/ops.py has no stop_gradient on u, v: d/dW includes their
  # dependence on W. (Inside the discriminators this term happens to vanish:
  # every SN conv but the 1-channel logit conv feeds a scale-invariant norm,
  # and for 1 output channel the one iteration is exact.)
  tf = pytest.importorskip('tensorflow')
  conv = sn_lib.SNConv(6, spectral_norm=True)
  x = np.random.default_rng(5).normal(size=(2, 6, 6, 3)).astype(np.float32)
  variables = conv.init(jax.random.key(0), x)
  weights = np.random.default_rng(6).normal(size=(2, 6, 6, 6)).astype(
      np.float32)
  grad = jax.grad(lambda p: jnp.sum(weights * conv.apply(
      {**variables, 'params': p}, x)))(variables['params'])['kernel']

  w = tf.Variable(np.asarray(variables['params']['kernel']))
  with tf.GradientTape() as tape:
    w2 = tf.reshape(w, [-1, 6])
    l2 = lambda a: a / (tf.reduce_sum(a ** 2) ** 0.5 + 1e-12)
    v = l2(tf.matmul(np.asarray(variables['spectral']['u']), tf.transpose(w2)))
    u = l2(tf.matmul(v, w2))
    w_sn = tf.reshape(w2 / tf.matmul(tf.matmul(v, w2), tf.transpose(u)),
                      w.shape)
    y = tf.nn.conv2d(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), w_sn, 1,
                     'VALID')
    loss = tf.reduce_sum(weights * y)
  want = tape.gradient(loss, w).numpy()
  np.testing.assert_allclose(grad, want, rtol=1e-4,
                             atol=1e-4 * np.abs(want).max())


def test_repeated_updates_converge_to_unit_spectral_norm():
  conv = sn_lib.SNConv(8, spectral_norm=True,
                       kernel_init=jax.nn.initializers.normal(1.0))
  x = jnp.ones((1, 4, 4, 5))
  variables = conv.init(jax.random.key(3), x)
  kernel = np.asarray(variables['params']['kernel'])
  apply = jax.jit(lambda v: conv.apply(v, x, update_stats=True,
                                       mutable=['spectral'])[1])
  for _ in range(60):
    variables = {**variables, **apply(variables)}
  w_sn, _, sigma = sn_lib.power_iteration(
      jnp.asarray(kernel), variables['spectral']['u'])
  top = np.linalg.svd(np.asarray(w_sn).reshape(-1, 8), compute_uv=False)[0]
  assert abs(top - 1.0) < 1e-3, top
  np.testing.assert_allclose(
      sigma, np.linalg.svd(kernel.reshape(-1, 8), compute_uv=False)[0],
      rtol=1e-3)


@pytest.mark.parametrize('cls', [discriminators.AnimeGANDiscriminator,
                                 discriminators.CartoonGANDiscriminator])
@pytest.mark.parametrize('hw', [(32, 32), (64, 40)])
def test_output_shapes_and_collections(cls, hw):
  model = cls(ch=8, n_dis=3, norm='layer', spectral_norm=True)
  x = jnp.zeros((2, *hw, 3))
  variables = model.init(jax.random.key(0), x)
  assert set(variables) == {'params', 'spectral'}
  y = model.apply(variables, x)
  assert y.shape == (2, hw[0] // 4, hw[1] // 4, 1)
  for leaf in jax.tree.leaves(variables):
    assert leaf.dtype == jnp.float32


def test_no_spectral_collection_without_sn():
  model = discriminators.AnimeGANDiscriminator(ch=8, spectral_norm=False)
  variables = model.init(jax.random.key(0), jnp.zeros((1, 16, 16, 3)))
  assert set(variables) == {'params'}


def test_bad_inputs():
  model = discriminators.AnimeGANDiscriminator(ch=8)
  with pytest.raises(ValueError, match='divisible by 4'):
    model.init(jax.random.key(0), jnp.zeros((1, 30, 32, 3)))
  with pytest.raises(ValueError, match=r'\[N, H, W, 3\]'):
    model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 1)))
  with pytest.raises(ValueError, match='discriminator.norm'):
    discriminators.AnimeGANDiscriminator(ch=8, norm='batch').init(
        jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  with pytest.raises(ValueError, match='n_dis must be 3'):
    discriminators.CartoonGANDiscriminator(ch=8, n_dis=4).init(
        jax.random.key(0), jnp.zeros((1, 32, 32, 3)))


def test_published_parameter_counts():
  x = jnp.zeros((1, 16, 16, 3))

  def count(model, col):
    shapes = jax.eval_shape(model.init, jax.random.key(0), x)
    return sum(int(np.prod(a.shape)) for a in jax.tree.leaves(shapes.get(col)))

  # [v2] ch=64, n_dis=3: 9*(3*32 + 32*64 + 64*128 + 128*128 + 128*256
  # + 256*256 + 256*1) conv weights + 2*(128 + 256 + 256) norm affine.
  d = discriminators.AnimeGANDiscriminator()
  assert count(d, 'params') == 1_128_800
  assert count(d, 'spectral') == 32 + 64 + 128 + 128 + 256 + 256 + 1
  # CartoonGAN: the same conv shapes plus biases.
  assert count(discriminators.CartoonGANDiscriminator(), 'params') == (
      1_128_800 + 865)


def _tf_animegan_d(x, params, spectral, ch, n_dis, norm, sn):
  """[v2] net/discriminator.py D_net rebuilt from tf.nn ops (eager).

  Returns (logits, d sum(logits) / d kernels, updated u per conv).
  """
  tf = pytest.importorskip('tensorflow')
  del ch
  kernels = {name: tf.Variable(p['kernel']) for name, p in params.items()
             if 'kernel' in p}
  new_u = {}

  def conv(y, name, stride):
    w = kernels[name]
    if sn:  # tools/ops.py spectral_norm, one iteration, gradients through u, v.
      shape = w.shape
      w2 = tf.reshape(w, [-1, shape[-1]])
      l2 = lambda a: a / (tf.reduce_sum(a ** 2) ** 0.5 + 1e-12)
      v = l2(tf.matmul(tf.constant(spectral[name]['u']), tf.transpose(w2)))
      u = l2(tf.matmul(v, w2))
      new_u[name] = u.numpy()
      sigma = tf.matmul(tf.matmul(v, w2), tf.transpose(u))
      w = tf.reshape(w2 / sigma, shape)
    pad = [[1, 1], [1, 1]] if stride == 1 else [[1, 0], [1, 0]]  # 3-2 odd.
    y = tf.pad(y, [[0, 0], *pad, [0, 0]])
    return tf.nn.conv2d(y, w, [1, stride, stride, 1], 'VALID')

  def normalize(y, name):
    axes = [1, 2, 3] if norm == 'layer' else [1, 2]
    mean, var = tf.nn.moments(y, axes, keepdims=True)
    return tf.nn.batch_normalization(
        y, mean, var, offset=params[name]['bias'], scale=params[name]['scale'],
        variance_epsilon=1e-12 if norm == 'layer' else 1e-5)

  lrelu = lambda y: tf.nn.leaky_relu(y, 0.2)
  with tf.GradientTape() as tape:
    y = lrelu(conv(tf.constant(x), 'conv_0', 1))
    for i in range(1, n_dis):
      y = lrelu(conv(y, f'conv_s2_{i}', 2))
      y = lrelu(normalize(conv(y, f'conv_s1_{i}', 1), f'norm_{i}'))
    y = lrelu(normalize(conv(y, 'last_conv', 1), 'last_norm'))
    y = conv(y, 'D_logit', 1)
    total = tf.reduce_sum(y)
  grads = tape.gradient(total, kernels)
  return y.numpy(), {k: g.numpy() for k, g in grads.items()}, new_u


@pytest.mark.parametrize('norm,sn', [('layer', True), ('instance', False)])
def test_animegan_d_matches_tensorflow(norm, sn):
  ch, n_dis = 8, 3
  model = discriminators.AnimeGANDiscriminator(ch=ch, n_dis=n_dis, norm=norm,
                                               spectral_norm=sn)
  # Small inputs give small activation variances, so the norm epsilons
  # (1e-12 layer, 1e-5 instance) visibly matter.
  x = np.random.default_rng(0).uniform(-1e-3, 1e-3, (2, 32, 24, 3)).astype(
      np.float32)
  variables = model.init(jax.random.key(0), x)
  # Non-trivial affine norm parameters, so that they are checked too.
  variables = jax.tree_util.tree_map_with_path(
      lambda p, a: a + 0.1 * jax.random.normal(jax.random.key(len(str(p))),
                                               a.shape)
      if 'norm' in str(p) else a, variables)
  as_np = jax.tree.map(np.asarray, variables)
  want, want_grads, want_u = _tf_animegan_d(
      x, as_np['params'], as_np.get('spectral'), ch, n_dis, norm, sn)

  def total(params):
    y, upd = model.apply({**variables, 'params': params}, x, update_stats=True,
                         mutable=['spectral'])
    return jnp.sum(y), (y, upd)

  grads, (got, upd) = jax.grad(total, has_aux=True)(variables['params'])
  assert got.shape == want.shape == (2, 8, 6, 1)
  np.testing.assert_allclose(got, want, rtol=1e-4,
                             atol=1e-4 * np.abs(want).max())
  assert sorted(want_grads) == sorted(
      k for k in grads if 'kernel' in grads[k])
  for name, g in want_grads.items():
    np.testing.assert_allclose(grads[name]['kernel'], g, rtol=1e-3,
                               atol=1e-3 * np.abs(g).max(), err_msg=name)
  if sn:
    assert sorted(upd['spectral']) == sorted(want_u)
    for name, u in want_u.items():
      np.testing.assert_allclose(upd['spectral'][name]['u'], u, rtol=1e-4,
                                 atol=1e-6, err_msg=name)


def test_cartoongan_d_matches_torch():
  torch = pytest.importorskip('torch')
  model = discriminators.CartoonGANDiscriminator(ch=8, norm='instance')
  x = np.random.default_rng(1).uniform(-1, 1, (2, 16, 20, 3)).astype(
      np.float32)
  variables = model.init(jax.random.key(0), x)
  got = np.asarray(model.apply(variables, x))
  p = variables['params']
  # znxlwm/pytorch-CartoonGAN networks.py discriminator, nf = 4, no sigmoid;
  # InstanceNorm2d(affine=False) equals our identity-initialised affine.
  tnn = torch.nn
  layers, names = [], []
  spec = [(4, 1, False), (8, 2, False), (16, 1, True), (16, 2, False),
          (32, 1, True), (32, 1, True)]
  cin = 3
  for i, (cout, stride, norm) in enumerate(spec):
    layers.append(tnn.Conv2d(cin, cout, 3, stride, 1))
    names.append(f'conv_{i}')
    if norm:
      layers.append(tnn.InstanceNorm2d(cout))
    layers.append(tnn.LeakyReLU(0.2))
    cin = cout
  layers.append(tnn.Conv2d(cin, 1, 3, 1, 1))
  names.append('logits')
  net = tnn.Sequential(*layers)
  convs = [m for m in net if isinstance(m, tnn.Conv2d)]
  with torch.no_grad():
    for conv, name in zip(convs, names):
      conv.weight.copy_(torch.from_numpy(
          np.asarray(p[name]['kernel']).transpose(3, 2, 0, 1).copy()))
      conv.bias.copy_(torch.from_numpy(np.array(p[name]['bias'])))
    want = net(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
  np.testing.assert_allclose(got, want.transpose(0, 2, 3, 1), rtol=1e-4,
                             atol=1e-4 * np.abs(want).max())


def test_bfloat16_compute_keeps_float32_params():
  model32 = discriminators.AnimeGANDiscriminator(ch=8)
  model16 = discriminators.AnimeGANDiscriminator(ch=8, dtype=jnp.bfloat16)
  x = jax.random.uniform(jax.random.key(2), (1, 32, 32, 3), minval=-1)
  variables = model16.init(jax.random.key(0), x)
  assert all(a.dtype == jnp.float32 for a in jax.tree.leaves(variables))
  y16 = model16.apply(variables, x)
  y32 = model32.apply(variables, x)
  assert y16.dtype == jnp.bfloat16
  err = np.abs(np.asarray(y16, np.float32) - np.asarray(y32))
  assert err.max() < 0.05 * np.abs(np.asarray(y32)).max()
