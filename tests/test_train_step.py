"""TrainState, init_step and gan_step on tiny models (CPU, 32 px).

One compiled pair of steps (module fixture) serves most tests; the bf16,
variant-config and real-model tests compile their own.
"""

import types

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import train_step_helpers as h
from animejax import parallel
from animejax.methods.animegan import losses as ag_losses
from animejax.methods.animegan import steps as ts


def _leaves(tree):
  out = []
  for leaf in jax.tree.leaves(tree):
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
      leaf = jax.random.key_data(leaf)
    out.append(np.asarray(leaf))
  return out


def _changed(a, b):
  return any(not np.array_equal(x, y) for x, y in zip(_leaves(a), _leaves(b)))


def _copy(tree):
  return jax.tree.map(lambda x: x.copy() if hasattr(x, 'copy') else x, tree)


@pytest.fixture(scope='module')
def setup():
  cfg = h.tiny_config()
  g, d, vgg, vgg_params = h.tiny_models()
  mesh = parallel.create_mesh()
  fns = ts.make_step_fns(cfg, g, d, vgg, mesh)
  batch = parallel.global_batch(h.fixed_batch(), mesh)
  return types.SimpleNamespace(cfg=cfg, g=g, d=d, vgg=vgg,
                               vgg_params=vgg_params, mesh=mesh, fns=fns,
                               batch=batch)


def fresh_state(s, seed=0):
  return ts.create_train_state(s.cfg, jax.random.key(seed), s.g, s.d)


def test_create_train_state(setup):
  state = fresh_state(setup)
  assert int(state.step) == 0
  paths = [jax.tree_util.keystr(p) for p, _ in
           jax.tree_util.tree_leaves_with_path(state.d_spectral)]
  assert paths and all(p.endswith("['u']") for p in paths), paths
  for tree in (state.g_params, state.d_params, state.d_spectral,
               state.g_opt_state, state.d_opt_state, state.init_opt_state):
    for leaf in jax.tree.leaves(tree):
      assert leaf.dtype in (jnp.float32, jnp.int32), leaf.dtype
  # The first conv of G sees 3 input channels at image_size.
  out = jax.jit(setup.g.apply)({'params': state.g_params},
                               jnp.zeros((1, 32, 32, 3)))
  assert out.shape == (1, 32, 32, 3)


def test_init_steps_reduce_content_loss(setup):
  s = setup
  state = fresh_state(s)
  d_before = _copy(state.d_params)
  history = []
  for _ in range(50):
    state, m = s.fns.init_step(state, s.batch, s.vgg_params)
    history.append({k: float(v) for k, v in m.items()})
  first, last = history[0], history[-1]
  assert last['loss/content'] < 0.5 * first['loss/content'], (first, last)
  # [v2] init_loss = con_weight * con_loss.
  np.testing.assert_allclose(first['loss/init'],
                             s.cfg.loss.content_weight * first['loss/content'],
                             rtol=1e-6)
  assert first['lr/init'] == pytest.approx(s.cfg.optim.init_lr)
  assert int(state.step) == 50
  assert not _changed(d_before, state.d_params)   # D untouched by init
  # Only the init Adam advanced.
  assert int(state.init_opt_state.count) == 50
  assert int(state.g_opt_state.count) == 0


def test_gan_step_losses_match_separate_calls(setup):
  s = setup
  state = fresh_state(s, seed=1)
  g_params, d_params = _copy(state.g_params), _copy(state.d_params)
  spectral = _copy(state.d_spectral)
  b = {k: np.asarray(v) for k, v in s.batch.items()}
  new_state, m = s.fns.gan_step(state, s.batch, s.vgg_params)
  m = {k: float(v) for k, v in m.items()}

  # Discriminator terms: D called separately on each of the four inputs
  # (as [v2] does), with the initial params and u.
  # (jit: op-by-op dispatch compiles every small op on its own.)
  fake = jax.jit(s.g.apply)({'params': g_params}, b['photo'])

  @jax.jit
  def d(x):
    return s.d.apply({'params': d_params, 'spectral': spectral}, x)
  real_l, gray_l, fake_l, smooth_l = (d(b['anime']), d(b['anime_gray']),
                                      d(fake), d(b['smooth_gray']))
  np.testing.assert_allclose(m['loss/d_real'],
                             np.mean((np.asarray(real_l) - 1) ** 2), rtol=1e-4)
  np.testing.assert_allclose(m['loss/d_gray'],
                             np.mean(np.asarray(gray_l) ** 2), rtol=1e-4)
  np.testing.assert_allclose(m['loss/d_fake'],
                             np.mean(np.asarray(fake_l) ** 2), rtol=1e-4)
  np.testing.assert_allclose(m['loss/d_smooth'],
                             np.mean(np.asarray(smooth_l) ** 2), rtol=1e-4)
  c = s.cfg.loss
  np.testing.assert_allclose(
      m['loss/d_total'],
      c.d_adv_weight * (c.d_real_weight * m['loss/d_real'] +
                        c.d_fake_weight * m['loss/d_fake'] +
                        c.d_gray_weight * m['loss/d_gray'] +
                        c.d_smooth_weight * m['loss/d_smooth']), rtol=1e-5)
  np.testing.assert_allclose(m['d/real_logit'], np.mean(real_l), rtol=1e-4,
                             atol=1e-6)
  # Generator terms that do not involve D, from the initial G.
  feats = jax.jit(lambda x: s.vgg.apply({'params': s.vgg_params}, x))
  np.testing.assert_allclose(
      m['loss/content'],
      np.mean(np.abs(np.asarray(feats(b['photo'])) - np.asarray(feats(fake)))),
      rtol=1e-5)
  np.testing.assert_allclose(
      m['loss/style'],
      jax.jit(ag_losses.style_loss)(feats(b['anime_gray']), feats(fake)),
      rtol=1e-4)
  np.testing.assert_allclose(m['loss/color'], jax.jit(ag_losses.color_loss)(
      b['photo'], fake), rtol=1e-5)
  np.testing.assert_allclose(m['loss/tv'], jax.jit(ag_losses.tv_loss)(fake),
                             rtol=1e-5)
  np.testing.assert_allclose(
      m['loss/g_total'],
      c.content_weight * m['loss/content'] + c.style_weight * m['loss/style']
      + c.color_weight * m['loss/color'] + c.tv_weight * m['loss/tv']
      + c.g_adv_weight * m['loss/g_adv'], rtol=1e-5)
  assert m['loss/gp'] == 0.0
  # Both networks and the spectral vectors moved; one update each.
  assert _changed(g_params, new_state.g_params)
  assert _changed(d_params, new_state.d_params)
  assert _changed(spectral, new_state.d_spectral)
  assert int(new_state.step) == 1
  assert int(new_state.g_opt_state.count) == 1
  assert int(new_state.d_opt_state.count) == 1
  assert int(new_state.init_opt_state.count) == 0
  assert m['grad_norm/g'] > 0 and m['grad_norm/d'] > 0
  assert m['lr/g'] == pytest.approx(s.cfg.optim.g_lr)
  assert m['lr/d'] == pytest.approx(s.cfg.optim.d_lr)


def test_discriminator_separates_toy_pair(setup):
  s = setup
  n = 8
  colour = np.array([0.8, -0.8, 0.8], np.float32)    # real anime: magenta
  anime = np.broadcast_to(colour, (n, 32, 32, 3)).copy()
  gray = np.full_like(anime, colour.mean())          # its gray version
  photo = np.full_like(anime, -0.8)                  # G(photo) stays dark
  batch = parallel.global_batch(
      {'photo': photo, 'anime': anime, 'anime_gray': gray,
       'smooth_gray': np.full_like(anime, -0.5)}, s.mesh)
  state = fresh_state(s, seed=2)
  for i in range(30):
    state, m = s.fns.gan_step(state, batch, s.vgg_params)
    if i == 0:
      first_gap = float(m['d/real_logit'] - m['d/fake_logit'])
  gap = float(m['d/real_logit'] - m['d/fake_logit'])
  # lsgan targets are 1 (real) and 0 (fake).
  assert gap > 0.5 and gap > first_gap + 0.3, (first_gap, gap)
  fake = jax.jit(s.g.apply)({'params': state.g_params}, photo)
  d = jax.jit(lambda x: s.d.apply({'params': state.d_params,  # pylint: disable=g-long-lambda
                                   'spectral': state.d_spectral}, x))
  assert float(jnp.min(d(anime))) > float(jnp.max(d(fake)))


def test_deterministic_bit_for_bit(setup):
  s = setup

  def run():
    state = fresh_state(s, seed=3)
    state, _ = s.fns.init_step(state, s.batch, s.vgg_params)
    for _ in range(2):
      state, m = s.fns.gan_step(state, s.batch, s.vgg_params)
    return _leaves(state), {k: np.asarray(v) for k, v in m.items()}

  (a, ma), (b, mb) = run(), run()
  assert len(a) == len(b)
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x, y)
  for k in ma:
    np.testing.assert_array_equal(ma[k], mb[k])


def test_bfloat16_step_matches_float32(setup):
  s = setup
  g16, d16, vgg16, _ = h.tiny_models(dtype=jnp.bfloat16)
  fns16 = ts.make_step_fns(s.cfg, g16, d16, vgg16, s.mesh)
  state32 = fresh_state(s, seed=4)
  state16 = ts.create_train_state(s.cfg, jax.random.key(4), g16, d16)
  # Same fp32 params whatever the compute dtype.
  for x, y in zip(_leaves(state32), _leaves(state16)):
    np.testing.assert_array_equal(x, y)
  state32, m32 = s.fns.gan_step(state32, s.batch, s.vgg_params)
  state16, m16 = fns16.gan_step(state16, s.batch, s.vgg_params)
  for tree in (state16.g_params, state16.d_params, state16.g_opt_state,
               state16.d_opt_state):
    assert all(l.dtype in (jnp.float32, jnp.int32)
               for l in jax.tree.leaves(tree))
  for k, v in m32.items():
    assert m16[k].dtype == jnp.float32, k
    if k.startswith('loss/') and k != 'loss/gp':
      # bf16 has an 8-bit mantissa: 5e-2 relative on every loss term.
      np.testing.assert_allclose(float(m16[k]), float(v), rtol=5e-2,
                                 atol=1e-3, err_msg=k)


@pytest.mark.slow  # compiles a second step variant: ~75 s on 2 cores
def test_variant_config_hinge_wgan_gp_two_d_steps_cosine():
  cfg = h.tiny_config(**{'loss.adv_type': 'hinge', 'loss.gp_type': 'wgan-gp',
                         'loss.gp_weight': 10.0, 'optim.d_steps_per_g': 2,
                         'optim.schedule': 'cosine'})
  g, d, vgg, vgg_params = h.tiny_models(spectral_norm=False)
  mesh = parallel.create_mesh()
  with pytest.raises(ValueError, match='total_gan_steps'):
    ts.make_step_fns(cfg, g, d, vgg, mesh)
  fns = ts.make_step_fns(cfg, g, d, vgg, mesh, total_gan_steps=4)
  batch = parallel.global_batch(h.fixed_batch(seed=5), mesh)
  state = ts.create_train_state(cfg, jax.random.key(5), g, d)
  assert not jax.tree.leaves(state.d_spectral)     # no spectral norm
  g_sched = optax.cosine_decay_schedule(cfg.optim.g_lr, 4)
  d_sched = optax.cosine_decay_schedule(cfg.optim.d_lr, 8)
  for i in range(2):
    state, m = fns.gan_step(state, batch, vgg_params)
    m = {k: float(v) for k, v in m.items()}
    # G's update i used lr(i); D's two updates used lr(2i), lr(2i + 1).
    np.testing.assert_allclose(m['lr/g'], g_sched(i), rtol=1e-6)
    np.testing.assert_allclose(m['lr/d'], d_sched(2 * i + 1), rtol=1e-6)
    assert m['loss/gp'] > 0
    c = cfg.loss
    d_adv = c.d_adv_weight * (
        c.d_real_weight * m['loss/d_real'] + c.d_fake_weight * m['loss/d_fake']
        + c.d_gray_weight * m['loss/d_gray'] +
        c.d_smooth_weight * m['loss/d_smooth'])
    np.testing.assert_allclose(m['loss/d_total'],
                               d_adv + c.gp_weight * m['loss/gp'], rtol=1e-5)
    # hinge G loss is -mean D(G(x)).
    assert np.isfinite(m['loss/g_adv'])
  assert int(state.d_opt_state.count) == 4
  assert int(state.g_opt_state.count) == 2


def test_missing_batch_key_raises(setup):
  s = setup
  state = fresh_state(s)
  batch = dict(s.batch)
  del batch['smooth_gray']
  with pytest.raises(ValueError, match='smooth_gray'):
    s.fns.gan_step(state, batch, s.vgg_params)


@pytest.mark.slow  # the published generators and discriminators: ~2 min
def test_real_models_tiny():
  """generator_from_config / discriminator_from_config / VGG19, tiny sizes."""
  models = pytest.importorskip('animejax.models')
  try:
    models.GENERATORS['animeganv2']
  except ImportError as e:
    pytest.skip(f'animeganv2 generator not importable yet: {e}')
  from animejax.models import vgg19, vgg_weights  # pylint: disable=g-import-not-at-top
  # 32 px (the brief's 64 px doubles the compile+run time on a busy CPU).
  cfg = h.tiny_config(**{'data.image_size': 32, 'batch_size': 2,
                         'generator.width': 0.25, 'discriminator.ch': 16,
                         'vgg.layer': 'conv2_2'})
  g = models.generator_from_config(cfg.generator)
  d = models.discriminator_from_config(cfg.discriminator)
  # numpy-drawn random VGG19 weights (no 20M-value XLA initialiser).
  vgg = vgg19.VGG19(preprocess='torch')
  vgg_params = vgg_weights.random_params()
  mesh = parallel.create_mesh()
  fns = ts.make_step_fns(cfg, g, d, vgg, mesh)
  batch = parallel.global_batch(h.fixed_batch(batch_size=2, size=32, seed=6),
                                mesh)
  state = ts.create_train_state(cfg, jax.random.key(6), g, d)
  g0, d0 = _copy(state.g_params), _copy(state.d_params)
  state, m = fns.gan_step(state, batch, vgg_params)
  assert all(np.isfinite(float(v)) for v in m.values())
  assert _changed(g0, state.g_params) and _changed(d0, state.d_params)
  assert int(state.step) == 1
