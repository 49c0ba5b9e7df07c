"""U-GAT-IT method: a training step against the official loop, data, optimiser.

The reference step below is [pt] znxlwm/UGATIT-pytorch UGATIT.py `train()`
(one D update, one G update, RhoClipper) written in torch on the torch
networks of tests/test_ugatit_models.py, with the same weights (converted
by animejax.convert.ugatit) and the same batch.
"""

import itertools
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from PIL import Image

from animejax.data import unpaired
from animejax.methods import ugatit

try:
  import torch  # pylint: disable=g-import-not-at-top
except ImportError:  # pragma: no cover
  torch = None

needs_torch = pytest.mark.skipif(torch is None, reason='torch not installed')


def _small_config(tmp_path):
  c = ugatit.smoke_config()
  c.data.root = unpaired.write_toy_folders(str(tmp_path / 'toy'), n=6)
  c.batch_size = 2
  return c


# ------------------------------------------------------------ the step
def _torch_official_step(g_a2b, g_b2a, dis, real_a, real_b, lr, w, steps):
  """[pt] UGATIT.py train() loop body, verbatim up to names; returns the
  loss terms of each step."""
  nn = torch.nn
  l1_loss, mse_loss = nn.L1Loss(), nn.MSELoss()
  bce_loss = nn.BCEWithLogitsLoss()
  g_optim = torch.optim.Adam(
      itertools.chain(g_a2b.parameters(), g_b2a.parameters()), lr=lr,
      betas=(0.5, 0.999), weight_decay=1e-4)
  d_optim = torch.optim.Adam(
      itertools.chain(*[d.parameters() for d in dis.values()]), lr=lr,
      betas=(0.5, 0.999), weight_decay=1e-4)
  ones, zeros = torch.ones_like, torch.zeros_like
  history = []
  for _ in range(steps):
    t = {}
    d_optim.zero_grad()
    fake_a2b, _, _ = g_a2b(real_a)
    fake_b2a, _, _ = g_b2a(real_b)
    real = {k: dis[k](real_a if k[1] == 'a' else real_b) for k in
            ('ga', 'la', 'gb', 'lb')}
    fake = {k: dis[k](fake_b2a if k[1] == 'a' else fake_a2b) for k in
            ('ga', 'la', 'gb', 'lb')}
    for k in ('ga', 'la', 'gb', 'lb'):
      tag = k.upper()
      t[f'd/ad_{tag}'] = (mse_loss(real[k][0], ones(real[k][0])) +
                          mse_loss(fake[k][0], zeros(fake[k][0])))
      t[f'd/ad_cam_{tag}'] = (mse_loss(real[k][1], ones(real[k][1])) +
                              mse_loss(fake[k][1], zeros(fake[k][1])))
    for dom in 'AB':
      t[f'd/loss_{dom}'] = w.adv_weight * sum(
          t[f'd/{a}_{s}{dom}'] for a in ('ad', 'ad_cam') for s in 'GL')
    t['d/loss'] = t['d/loss_A'] + t['d/loss_B']
    t['d/loss'].backward()
    d_optim.step()

    g_optim.zero_grad()
    fake_a2b, fake_a2b_cam, _ = g_a2b(real_a)
    fake_b2a, fake_b2a_cam, _ = g_b2a(real_b)
    fake_a2b2a, _, _ = g_b2a(fake_a2b)
    fake_b2a2b, _, _ = g_a2b(fake_b2a)
    fake_a2a, fake_a2a_cam, _ = g_b2a(real_a)
    fake_b2b, fake_b2b_cam, _ = g_a2b(real_b)
    fake = {k: dis[k](fake_b2a if k[1] == 'a' else fake_a2b) for k in
            ('ga', 'la', 'gb', 'lb')}
    for k in ('ga', 'la', 'gb', 'lb'):
      tag = k.upper()
      t[f'g/ad_{tag}'] = mse_loss(fake[k][0], ones(fake[k][0]))
      t[f'g/ad_cam_{tag}'] = mse_loss(fake[k][1], ones(fake[k][1]))
    t['g/recon_A'] = l1_loss(fake_a2b2a, real_a)
    t['g/recon_B'] = l1_loss(fake_b2a2b, real_b)
    t['g/identity_A'] = l1_loss(fake_a2a, real_a)
    t['g/identity_B'] = l1_loss(fake_b2b, real_b)
    t['g/cam_A'] = (bce_loss(fake_b2a_cam, ones(fake_b2a_cam)) +
                    bce_loss(fake_a2a_cam, zeros(fake_a2a_cam)))
    t['g/cam_B'] = (bce_loss(fake_a2b_cam, ones(fake_a2b_cam)) +
                    bce_loss(fake_b2b_cam, zeros(fake_b2b_cam)))
    for dom in 'AB':
      t[f'g/loss_{dom}'] = (
          w.adv_weight * sum(t[f'g/{a}_{s}{dom}'] for a in ('ad', 'ad_cam')
                             for s in 'GL') +
          w.cycle_weight * t[f'g/recon_{dom}'] +
          w.identity_weight * t[f'g/identity_{dom}'] +
          w.cam_weight * t[f'g/cam_{dom}'])
    t['g/loss'] = t['g/loss_A'] + t['g/loss_B']
    t['g/loss'].backward()
    g_optim.step()
    with torch.no_grad():   # RhoClipper(0, 1) on both generators
      for g in (g_a2b, g_b2a):
        for name, p in g.named_parameters():
          if name.endswith('rho'):
            p.clamp_(0, 1)
    history.append({k: float(v.detach()) for k, v in t.items()})
  return history


@needs_torch
def test_two_steps_match_the_official_training_loop(tmp_path):
  import test_ugatit_models as tm  # pylint: disable=g-import-not-at-top
  from animejax.convert import ugatit as conv  # pylint: disable=g-import-not-at-top
  config = _small_config(tmp_path)
  method = ugatit.create(config)
  m, size = config.model, config.data.image_size
  torch.manual_seed(0)
  tg = {n: tm.TorchResnetGenerator(m.ngf, m.n_res, size, light=True)
        for n in ugatit.G_NAMES}
  for i, g in enumerate(tg.values()):
    tm._randomize_norms(g, seed=i)  # pylint: disable=protected-access
  td = {n: tm.TorchDiscriminator(m.ndf, m.global_layers if n[0] == 'g'
                                 else m.local_layers)
        for n in ugatit.D_NAMES}
  def state_dicts(mods):
    return {k: tm._state_numpy(v) for k, v in mods.items()}  # pylint: disable=protected-access
  g_params = {k: conv.params_from_torch(v) for k, v in
              state_dicts(tg).items()}
  d_vars = {k: conv.discriminator_variables_from_torch(v) for k, v in
            state_dicts(td).items()}
  g_params, d_vars = jax.tree.map(jnp.asarray, (g_params, d_vars))
  d_params = {k: v['params'] for k, v in d_vars.items()}
  state = ugatit.UGATITState(
      step=jnp.zeros((), jnp.int32), g_params=g_params, d_params=d_params,
      d_spectral={k: v['spectral'] for k, v in d_vars.items()},
      g_opt_state=method.g_tx.init(g_params),
      d_opt_state=method.d_tx.init(d_params))
  rng = np.random.default_rng(3)
  batch = {d: rng.uniform(-1, 1, (2, size, size, 3)).astype(np.float32)
           for d in 'ab'}
  # optimisation level 0: compiles ~3x faster on a loaded 2-core CPU
  step = jax.jit(lambda s, b: method.train_step(s, {}, b, None, 'train')
                 ).lower(state, batch).compile(
                     {'xla_backend_optimization_level': 0})
  ours = []
  for _ in range(2):
    state, metrics = step(state, batch)
    ours.append(jax.device_get(metrics))

  # iterations = 4: no lr decay in the first two steps (half = 2).
  assert ours[0]['lr'] == ours[1]['lr'] == pytest.approx(config.optim.lr)
  nchw = {d: torch.from_numpy(tm._nchw(batch[d])) for d in 'ab'}  # pylint: disable=protected-access
  ref = _torch_official_step(tg['a2b'], tg['b2a'], td, nchw['a'], nchw['b'],
                             config.optim.lr, config.loss, steps=2)
  for i, (a, b) in enumerate(zip(ours, ref)):
    assert set(b) <= set(a)
    for k in b:
      # step 1: same weights, same batch; step 2 also checks the Adam
      # updates, the rho clipping and the spectral u, v carried over.
      np.testing.assert_allclose(a[k], b[k], rtol=2e-4 if i == 0 else 1e-3,
                                 atol=1e-6, err_msg=f'step {i}: {k}')
  # The state keeps the u, v of the last D forward (the G pass), as torch.
  ref_spectral = conv.discriminator_variables_from_torch(
      tm._state_numpy(td['ga']))['spectral']  # pylint: disable=protected-access
  jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, atol=2e-4),
               jax.device_get(state.d_spectral['ga']), ref_spectral)
  for g in jax.tree_util.tree_flatten_with_path(state.g_params)[0]:
    if 'rho' in jax.tree_util.keystr(g[0]):
      assert 0.0 <= float(jnp.min(g[1])) and float(jnp.max(g[1])) <= 1.0


# ------------------------------------------------------------ optimiser
def test_lr_schedule_is_the_official_linear_decay():
  lr, total = 1e-4, 10
  sched = ugatit.lr_schedule(lr, total, decay=True)
  expect, cur = [], lr
  for s in range(1, total + 1):   # [pt]: 1-based step, decay before update
    if s > total // 2:
      cur -= lr / (total // 2)
    expect.append(cur)
  got = [float(sched(jnp.int32(n))) for n in range(total)]
  np.testing.assert_allclose(got, np.maximum(expect, 0), atol=1e-12)
  assert float(ugatit.lr_schedule(lr, total, decay=False)(7)) == (
      pytest.approx(lr))


@needs_torch
def test_coupled_weight_decay_equals_torch_adam():
  import ml_collections  # pylint: disable=g-import-not-at-top
  optim = ml_collections.ConfigDict(dict(lr=0.05, b1=0.5, b2=0.999,
                                         weight_decay=0.3, decay=False))
  tx = ugatit.make_optimizer(optim, total=100)
  target = np.linspace(-1, 1, 6).astype(np.float32)
  x0 = np.linspace(2, -3, 6).astype(np.float32)
  loss = lambda p: jnp.sum((p - target) ** 2 * jnp.arange(1, 7))
  params, opt_state = jnp.asarray(x0), tx.init(jnp.asarray(x0))
  tp = torch.nn.Parameter(torch.from_numpy(x0.copy()))
  topt = torch.optim.Adam([tp], lr=0.05, betas=(0.5, 0.999),
                          weight_decay=0.3)
  weights = torch.arange(1, 7, dtype=torch.float32)
  for _ in range(20):
    updates, opt_state = tx.update(jax.grad(loss)(params), opt_state, params)
    params = optax.apply_updates(params, updates)
    topt.zero_grad()
    (((tp - torch.from_numpy(target)) ** 2) * weights).sum().backward()
    topt.step()
  np.testing.assert_allclose(params, tp.detach().numpy(), atol=1e-5)
  # ... and differs from AdamW's decoupled decay (the order matters).
  adamw = optax.adamw(0.05, 0.5, 0.999, weight_decay=0.3 / 0.05)
  p2, s2 = jnp.asarray(x0), adamw.init(jnp.asarray(x0))
  for _ in range(20):
    u, s2 = adamw.update(jax.grad(loss)(p2), s2, p2)
    p2 = optax.apply_updates(p2, u)
  assert np.max(np.abs(np.asarray(p2) - params)) > 1e-3


# ------------------------------------------------------------ data
def _stream(root, seed=0, start=0, batch=2):
  cfg = ugatit.smoke_config().data
  cfg.root = root
  return unpaired.create_unpaired_data(cfg, seed=seed, global_batch=batch,
                                       start_step=start, process_index=0,
                                       process_count=1)


def test_data_is_deterministic_and_resumes_exactly(tmp_path):
  root = unpaired.write_toy_folders(str(tmp_path / 'toy'), n=6)
  first = _stream(root)
  batches = [next(first.train_iter) for _ in range(5)]   # crosses epochs
  assert batches[0]['a'].shape == (2, 32, 32, 3)
  assert batches[0]['a'].dtype == np.float32
  assert -1 <= batches[0]['a'].min() and batches[0]['b'].max() <= 1
  again = _stream(root)
  resumed = _stream(root, start=3)
  for i, b in enumerate(batches):
    a = next(again.train_iter)
    for d in 'ab':
      np.testing.assert_array_equal(a[d], b[d])
  for b in batches[3:]:
    r = next(resumed.train_iter)
    for d in 'ab':
      np.testing.assert_array_equal(r[d], b[d])
  other = next(_stream(root, seed=1).train_iter)
  assert not np.array_equal(other['a'], batches[0]['a'])
  # Held out (no testA/testB): validation images never in the train lists.
  assert first.held_out and len(first.val_a) == 3
  assert not set(first.train_paths['a']) & set(
      p for p in os.listdir(root) if p.startswith('test'))
  # an epoch of A visits every training image once
  idx = [first.train_iter.index('a', g) for g in range(3)]
  assert sorted(idx) == sorted(set(idx))


def test_test_folders_and_corrupt_files(tmp_path):
  root = unpaired.write_toy_folders(str(tmp_path / 'toy'), n=4)
  for d in 'AB':
    os.makedirs(os.path.join(root, f'test{d}'))
    for i in range(3):
      Image.fromarray(np.full((20, 30, 3), 40 * i, np.uint8)).save(
          os.path.join(root, f'test{d}', f'{i}.png'))
  with open(os.path.join(root, 'trainA', 'broken.jpg'), 'wb') as f:
    f.write(b'\xff\xd8 not a jpeg')
  data = _stream(root)
  assert not data.held_out
  assert len(data.train_paths['a']) == 4 and len(data.val_b) == 3
  assert data.val_a.shape == (3, 32, 32, 3)   # resized, aspect not kept
  assert [os.path.basename(p) for p in data.skipped_files] == ['broken.jpg']


def test_config_errors():
  c = ugatit.smoke_config()
  assert ugatit.config_errors(c) == []
  c.model.global_layers = 7      # 32 / 2**5 < 3
  c.data.load_size = 16
  c.model.variance = 'sample'
  errors = '\n'.join(ugatit.config_errors(c))
  assert 'global_layers=7' in errors and 'load_size=16' in errors
  assert "variance='sample'" in errors
