"""The 'stylegan2' training method (animejax/methods/stylegan2.py).

R1 and path-length losses (and their parameter gradients) against the torch
re-implementation of [ada] networks.py in tests/test_stylegan2.py, with
[ada] loss.py's autograd recipe written out in torch; the EMA update, the
lazy-regularisation schedule and its Adam lr/beta correction against hand
formulas; one step of each kind; truncation in 'generate'; the configs.
"""

import math
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # `configs` is a folder of the repo, not installed
  sys.path.insert(0, REPO)

from animejax import config_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax.methods import stylegan2 as sg2  # pylint: disable=g-import-not-at-top,wrong-import-position


def _torch_ref():
  """(torch, the reference module of tests/test_stylegan2.py) or skip."""
  torch = pytest.importorskip('torch')
  import test_stylegan2 as ref  # pylint: disable=g-import-not-at-top
  return torch, ref


def _ref_config(ref, batch=4):
  """A method config whose networks equal ref._make_g / ref._make_d."""
  c = sg2.smoke_config()
  c.data.image_size = ref.RES
  c.model.z_dim = c.model.w_dim = ref.Z
  c.model.mapping_layers = 4
  c.model.channel_base, c.model.channel_max = ref.CB, ref.CM
  c.model.conv_clamp = ref.CLAMP
  c.model.mbstd_group_size = 4  # ref DiscriminatorEpilogue: mbstd(4, 1)
  c.batch_size = batch
  c.loss.g_reg_interval, c.loss.d_reg_interval = 4, 16
  c.loss.r1_gamma = 0.7
  c.loss.pl_weight, c.loss.style_mixing_prob = 2.0, 0.9  # [ada] defaults
  return c


def _flat(tree):
  return {'.'.join(k.key for k in path): np.asarray(v) for path, v in
          jax.tree_util.tree_flatten_with_path(tree)[0]}


def _rel(a, b):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


# ---------------------------------------------------------------- R1 / PL
def test_r1_penalty_matches_closed_form_gradient():
  # D(x) = sum_i w_i tanh(x_i): grad_x D = w (1 - tanh^2 x).
  rng = np.random.default_rng(0)
  x = rng.normal(size=(3, 4, 4, 2)).astype(np.float32)
  w = rng.normal(size=(4, 4, 2)).astype(np.float32)
  d_fn = lambda im: jnp.sum(w * jnp.tanh(im), axis=(1, 2, 3))[:, None]
  penalty, logits = sg2.r1_penalty(d_fn, jnp.asarray(x))
  want = np.sum((w * (1 - np.tanh(x) ** 2)) ** 2, axis=(1, 2, 3))
  np.testing.assert_allclose(penalty, want, rtol=1e-5)
  np.testing.assert_allclose(logits[:, 0], np.sum(w * np.tanh(x), (1, 2, 3)),
                             rtol=1e-5)


def test_r1_loss_and_d_gradients_match_torch():
  torch, ref = _torch_ref()
  c = _ref_config(ref)
  method = sg2.create(c)
  d = ref._make_d(seed=2, c_dim=0)  # pylint: disable=protected-access
  reals = np.random.default_rng(3).normal(
      size=(4, ref.RES, ref.RES, 3)).astype(np.float32)
  d_params = ref.stylegan2_pkl.discriminator_variables(ref._state(d))['params']  # pylint: disable=protected-access
  # [ada] loss.py Dr1, with gain = D_reg_interval (training_loop.py).
  for p in d.parameters():
    p.requires_grad_(True)
  x = torch.from_numpy(np.transpose(reals, (0, 3, 1, 2))).requires_grad_(True)
  logits = d(x, None)
  (grads,) = torch.autograd.grad(logits.sum(), [x], create_graph=True)
  penalty = grads.square().sum([1, 2, 3])
  loss = (logits * 0 + penalty * (c.loss.r1_gamma / 2)).mean() * 16
  loss.backward()
  want_grads = {k: p.grad.numpy() for k, p in d.named_parameters()}

  (got_loss, got_pen), got_grads = jax.jit(jax.value_and_grad(
      method.d_r1_loss, has_aux=True))(d_params, jnp.asarray(reals))
  np.testing.assert_allclose(got_pen, penalty.detach().numpy(), rtol=1e-4)
  np.testing.assert_allclose(got_loss, loss.item(), rtol=1e-4)
  got_grads = _flat(got_grads)
  assert set(got_grads) == set(want_grads)
  for k, v in want_grads.items():
    assert _rel(got_grads[k], v) < 1e-3, k


def test_path_length_loss_and_g_gradients_match_torch():
  torch, ref = _torch_ref()
  c = _ref_config(ref)
  c.loss.style_mixing_prob = 0.0  # the reference draws no mixing
  method = sg2.create(c)
  g = ref._make_g(seed=1)  # pylint: disable=protected-access
  with torch.no_grad():  # noise is random here, const in the reference
    for name, p in g.named_parameters():
      if name.endswith('noise_strength'):
        p.zero_()
  n = c.batch_size // c.loss.pl_batch_shrink
  z = np.random.default_rng(4).normal(size=(n, ref.Z)).astype(np.float32)
  key = jax.random.key(9)
  _, _, k_y = jax.random.split(key, 3)  # g_pl_loss's draw of y
  y = np.asarray(jax.random.normal(k_y, (n, ref.RES, ref.RES, 3)))
  y = y / math.sqrt(ref.RES * ref.RES)
  pl_mean_old = 0.3

  variables = ref.stylegan2_pkl.generator_variables(ref._state(g))  # pylint: disable=protected-access
  # [ada] loss.py Gpl, gain = G_reg_interval, pl_mean not detached.
  for p in g.parameters():
    p.requires_grad_(True)
  ws = g.mapping(torch.from_numpy(z), None)
  img = g.synthesis(ws)
  noise = torch.from_numpy(np.transpose(y, (0, 3, 1, 2)).copy())
  (pl_grads,) = torch.autograd.grad((img * noise).sum(), [ws],
                                    create_graph=True)
  lengths = pl_grads.square().sum(2).mean(1).sqrt()
  pl_mean = torch.tensor(pl_mean_old).lerp(lengths.mean(), 0.01)
  loss = ((lengths - pl_mean).square() * 2).mean() * 4
  loss.backward()
  want_grads = {k: p.grad.numpy() for k, p in g.named_parameters()
                if p.grad is not None}

  (got_loss, (_, got_mean, got_pen)), got_grads = jax.jit(jax.value_and_grad(
      method.g_pl_loss, has_aux=True))(
          variables['params'], variables['buffers'], jnp.float32(pl_mean_old),
          jnp.asarray(z), key)
  np.testing.assert_allclose(got_mean, pl_mean.item(), rtol=1e-4)
  np.testing.assert_allclose(got_pen, (lengths - pl_mean).square().detach(),
                             rtol=1e-3)
  np.testing.assert_allclose(got_loss, loss.item(), rtol=1e-4)
  got_grads = _flat(got_grads)
  # noise_strength sees random noise here and const noise in the reference.
  checked = [k for k in want_grads if not k.endswith('noise_strength')]
  assert len(checked) > 20
  for k in checked:
    assert _rel(got_grads[k], want_grads[k]) < 1e-3, k


# ---------------------------------------------------------------- EMA
def test_ema_beta_formula_and_half_life():
  # [ada] training_loop.py, batch 32, ema_kimg 10, no rampup.
  beta = float(sg2.ema_beta(jnp.int32(7), 32, 10.0, 0.0))
  assert beta == pytest.approx(0.5 ** (32 / 10000), rel=1e-6)
  # Half-life: ema_kimg * 1000 / B iterations halve a weight.
  assert beta ** (10000 / 32) == pytest.approx(0.5, rel=1e-5)
  # Rampup 0.05: ema_nimg = min(10000, cur_nimg * 0.05), cur_nimg = 32 step.
  for step, nimg in [(0, 1e-8), (100, 160.0), (10 ** 5, 10000.0)]:
    got = float(sg2.ema_beta(jnp.int32(step), 32, 10.0, 0.05))
    assert got == pytest.approx(0.5 ** (32 / nimg), rel=1e-5, abs=1e-30)


# ---------------------------------------------------------------- schedule
def test_lazy_regularisation_schedule():
  c = sg2.get_config_base()
  c.train_steps = 64
  sched = sg2.create(c).schedule(100)
  assert sched.kinds == ('main', 'main_pl', 'main_pl_r1')
  kinds = [sched.step_kind(i) for i in range(64)]
  assert [i for i, k in enumerate(kinds) if '_pl' in k] == list(range(0, 64, 4))
  assert [i for i, k in enumerate(kinds) if '_r1' in k] == [0, 16, 32, 48]
  c.loss.g_reg_interval, c.loss.d_reg_interval = 3, 2
  sched = sg2.create(c).schedule(100)
  assert sched.kinds == ('main', 'main_pl', 'main_pl_r1', 'main_r1')
  assert [sched.step_kind(i) for i in range(4)] == [
      'main_pl_r1', 'main', 'main_r1', 'main_pl']
  c.loss.pl_weight = 0.0  # no path-length phases at all
  assert sg2.create(c).schedule(100).kinds == ('main', 'main_r1')


def _ref_adam(grads, lr, b1, b2, eps):
  m = v = 0.0
  out = []
  for t, g in enumerate(grads, 1):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    out.append(-lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps))
  return np.array(out)


def test_lazy_adam_lr_and_beta_correction():
  method = sg2.create(sg2.get_config_base())  # lr 0.0025, betas (0, 0.99)
  grads = np.array([[0.3, -2.0], [1.5, 0.1], [-0.7, 0.4]], np.float32)
  for tx, interval in [(method.g_tx, 4), (method.d_tx, 16)]:
    ratio = interval / (interval + 1)  # [ada] mb_ratio
    want = _ref_adam(grads.astype(np.float64), 0.0025 * ratio, 0.0,
                     0.99 ** ratio, 1e-8)
    opt = tx.init(jnp.zeros(2))
    got = []
    for g in grads:
      upd, opt = tx.update(jnp.asarray(g), opt)
      got.append(np.asarray(upd))
    np.testing.assert_allclose(np.array(got), want, rtol=1e-5)
    # Uncorrected b2 = 0.99 would give a different third step.
    other = _ref_adam(grads.astype(np.float64), 0.0025 * ratio, 0.0, 0.99,
                      1e-8)
    assert not np.allclose(other[1:], want[1:], rtol=1e-4, atol=0)


# ---------------------------------------------------------------- steps
def _tiny_method(**loss):
  c = sg2.smoke_config()
  c.loss.g_reg_interval, c.loss.d_reg_interval = 4, 16
  c.loss.pl_weight, c.loss.style_mixing_prob = 2.0, 0.9  # [ada] defaults
  c.loss.r1_gamma = 1.0
  for k, v in loss.items():
    c.loss[k] = v
  config_lib.validate(c, device_count=1, process_count=1)
  return sg2.create(c)


def _one_step(kind):
  method = _tiny_method()
  pipeline = method.input_pipeline(0)
  state = jax.jit(method.init)(jax.random.key(0))
  # A G_ema apart from G, so the EMA update is visible.
  state = state.replace(
      g_ema=jax.tree.map(lambda p: p + 1.0, state.g_params),
      step=jnp.int32(40), pl_mean=jnp.float32(0.25))
  batch = next(iter(pipeline.train_iter))
  new, metrics = jax.jit(method.train_step, static_argnums=(4,))(
      state, {}, batch, jax.random.key(3), kind)
  return method, state, new, jax.device_get(metrics)


# One compile per kind, 20-60 s each on 2 cores (the registry smoke test
# runs 'main' through the run loop by default).
@pytest.mark.slow
@pytest.mark.parametrize('kind', ['main', 'main_pl', 'main_r1', 'main_pl_r1'])
def test_one_step_of_each_kind(kind):
  method, old, new, metrics = _one_step(kind)
  c = method.config
  do_pl, do_r1 = '_pl' in kind, '_r1' in kind
  want = {'loss/g', 'loss/d', 'scores/fake', 'scores/fake_g', 'scores/real',
          'ema_beta'}
  want |= {'reg/pl_penalty', 'reg/pl_mean'} if do_pl else set()
  want |= {'reg/r1_penalty'} if do_r1 else set()
  assert set(metrics) == want
  assert all(np.isfinite(v) for v in metrics.values())
  assert int(new.step) == 41
  # One Adam step per phase: G main (+ reg), D main (+ reg).
  assert int(new.g_opt[0].count) == 1 + do_pl
  assert int(new.d_opt[0].count) == 1 + do_r1
  # pl_mean moves only in path-length phases: a = lerp(a, mean, 0.01).
  if do_pl:
    assert float(new.pl_mean) != 0.25
    assert float(new.pl_mean) == pytest.approx(metrics['reg/pl_mean'])
  else:
    assert float(new.pl_mean) == 0.25
  # w_avg tracks the mapping outputs of the step.
  w_old = _flat(old.g_buffers)['mapping.w_avg']
  assert not np.array_equal(_flat(new.g_buffers)['mapping.w_avg'], w_old)
  # G_ema = G + beta (G_ema_old - G), beta = 0.5 ** (B / min(ema, nimg r)).
  nimg = min(c.ema_kimg * 1000, 40 * c.batch_size * c.ema_rampup)
  beta = 0.5 ** (c.batch_size / nimg)
  assert metrics['ema_beta'] == pytest.approx(beta, rel=1e-5)
  ema, g, ema_old = (_flat(t) for t in (new.g_ema, new.g_params, old.g_ema))
  for k in g:
    np.testing.assert_allclose(ema[k], g[k] + beta * (ema_old[k] - g[k]),
                               rtol=1e-5, atol=1e-6)
  assert any(not np.array_equal(a, b) for a, b in zip(
      jax.tree.leaves(new.d_params), jax.tree.leaves(old.d_params)))


@pytest.mark.slow  # compiles the whole generator twice: ~45 s
def test_generate_uses_ema_and_truncation():
  method = _tiny_method()
  state = jax.jit(method.init)(jax.random.key(0))
  w_avg = jax.random.normal(jax.random.key(5), (method.config.model.w_dim,))
  buffers = jax.tree_util.tree_map_with_path(
      lambda p, v: w_avg if p[-1].key == 'w_avg' else v, state.g_buffers)
  state = state.replace(g_buffers=buffers, g_ema=jax.tree.map(
      lambda p: p * 0.5, state.g_params))
  gen = jax.jit(method.predict_fns()['generate'])
  params = method.inference_params(state)
  z = np.asarray(method.noise(jax.random.key(1), 3))
  out = np.asarray(gen(params, {'z': z})['images'])
  assert out.shape == (3, 8, 8, 3) and out.min() >= -1 and out.max() <= 1
  one = np.asarray(gen(params, {'z': z, 'truncation': np.ones(3)})['images'])
  np.testing.assert_allclose(one, out, atol=1e-6)
  # psi = 0: every image is synthesis(w_avg) (const noise): all equal.
  zero = np.asarray(gen(params, {'z': z, 'truncation': np.zeros(3)})
                    ['images'])
  np.testing.assert_allclose(zero, np.repeat(zero[:1], 3, 0), atol=1e-6)
  want = method.generator.apply(
      params, jnp.broadcast_to(w_avg, (1, method.generator.num_ws,
                                       w_avg.shape[0])),
      'const', method='synthesize')
  np.testing.assert_allclose(zero[:1], np.clip(want, -1, 1), atol=1e-5)
  # G_ema, not G, generates.
  live = np.asarray(gen({'params': state.g_params, 'buffers': buffers},
                        {'z': z})['images'])
  assert not np.allclose(live, out)


# ---------------------------------------------------------------- configs
def test_configs_validate_and_follow_the_recipes():
  from configs import stylegan2_anime256, stylegan2_small  # pylint: disable=g-import-not-at-top
  big = stylegan2_anime256.get_config()
  small = stylegan2_small.get_config()
  for c in (big, small):
    assert not sg2.config_errors(c), sg2.config_errors(c)
  # [ada] cfg_specs paper256.
  assert (big.batch_size, big.model.mbstd_group_size, big.optim.lr,
          big.loss.r1_gamma, big.ema_kimg, big.model.channel_base) == (
              64, 8, 0.0025, 1.0, 20.0, 16384)
  # [ada] cfg_specs auto at 32 px, batch 16: gamma 0.0002 res^2 / mb.
  assert small.loss.r1_gamma == pytest.approx(0.0002 * 32 ** 2 / 16)
  assert small.ema_kimg == pytest.approx(5.0) and small.ema_rampup == 0.05
  shapes = jax.eval_shape(sg2.create(big).init, jax.random.key(0))
  count = lambda t: sum(int(np.prod(x.shape)) for x in jax.tree.leaves(t))
  assert count(shapes.g_params) == 24_767_458  # [ada] paper256 G
  assert count(shapes.d_params) == 24_001_089  # [ada] paper256 D
  bad = sg2.smoke_config()
  bad.batch_size, bad.model.mbstd_group_size = 6, 4
  bad.data.image_size = 24
  errors = '\n'.join(sg2.config_errors(bad))
  assert 'power of two' in errors and 'mbstd_group_size' in errors


def test_state_from_official_snapshot_generates_like_g_ema(tmp_path,
                                                           monkeypatch):
  torch, ref = _torch_ref()
  g, g_ema, d = ref._make_g(seed=5), ref._make_g(seed=6), ref._make_d(  # pylint: disable=protected-access
      seed=7, c_dim=0)
  path = tmp_path / 'network-snapshot-000040.pkl'
  ref._write_snapshot(path, monkeypatch, G=g, D=d, G_ema=g_ema)  # pylint: disable=protected-access
  config, state = sg2.from_snapshot(ref.stylegan2_pkl.load_snapshot(path))
  assert config.data.image_size == ref.RES and config.model.z_dim == ref.Z
  assert config.model.conv_clamp == ref.CLAMP
  # Only the data folder is left for the user to set.
  errors = sg2.config_errors(config)
  assert len(errors) == 1 and 'image_dir' in errors[0], errors
  params = _flat(state.g_params)
  for k, v in g.named_parameters():
    np.testing.assert_array_equal(params[k], v.numpy())
  method = sg2.create(config)
  z = torch.randn(3, ref.Z, generator=torch.Generator().manual_seed(2))
  with torch.no_grad():
    want = g_ema(z, None).clamp(-1, 1).numpy()
  got = jax.jit(method.predict_fns()['generate'])(
      method.inference_params(state), {'z': jnp.asarray(z.numpy())})
  assert _rel(np.transpose(got['images'], (0, 3, 1, 2)), want) < 1e-4
