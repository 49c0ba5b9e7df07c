"""U-GAT-IT networks: parity with a PyTorch re-implementation of the official
znxlwm/UGATIT-pytorch networks.py (f7a4b59), converter, parameter counts,
spectral norm (eval and training forwards), rho clipping, variance modes."""

import jax
import jax.numpy as jnp
import flax.linen as nn
import numpy as np
import pytest

from animejax.convert import ugatit as convert_ugatit
from animejax.models import ugatit

torch = pytest.importorskip('torch')
tnn = torch.nn
F = torch.nn.functional


# --------------------------------------------- PyTorch reference (official)
# The classes below follow the layer order, names (so the state-dict keys) and
# hyper-parameters of [pt] networks.py. `unbiased` is our addition so that
# the 'biased' (TF) variance mode can be checked too; [pt] is unbiased=True.


class TorchResnetBlock(tnn.Module):

  def __init__(self, dim):
    super().__init__()
    self.conv_block = tnn.Sequential(
        tnn.ReflectionPad2d(1), tnn.Conv2d(dim, dim, 3, 1, 0, bias=False),
        tnn.InstanceNorm2d(dim), tnn.ReLU(True),
        tnn.ReflectionPad2d(1), tnn.Conv2d(dim, dim, 3, 1, 0, bias=False),
        tnn.InstanceNorm2d(dim))

  def forward(self, x):
    return x + self.conv_block(x)


def _iln_mix(x, rho, eps, unbiased):
  in_mean = torch.mean(x, dim=[2, 3], keepdim=True)
  in_var = torch.var(x, dim=[2, 3], keepdim=True, unbiased=unbiased)
  ln_mean = torch.mean(x, dim=[1, 2, 3], keepdim=True)
  ln_var = torch.var(x, dim=[1, 2, 3], keepdim=True, unbiased=unbiased)
  out_in = (x - in_mean) / torch.sqrt(in_var + eps)
  out_ln = (x - ln_mean) / torch.sqrt(ln_var + eps)
  rho = rho.expand(x.shape[0], -1, -1, -1)
  return rho * out_in + (1 - rho) * out_ln


class TorchAdaILN(tnn.Module):

  def __init__(self, num_features, eps=1e-5, unbiased=True):
    super().__init__()
    self.eps, self.unbiased = eps, unbiased
    self.rho = tnn.Parameter(torch.Tensor(1, num_features, 1, 1))
    self.rho.data.fill_(0.9)

  def forward(self, x, gamma, beta):
    out = _iln_mix(x, self.rho, self.eps, self.unbiased)
    return (out * gamma.unsqueeze(2).unsqueeze(3)
            + beta.unsqueeze(2).unsqueeze(3))


class TorchILN(tnn.Module):

  def __init__(self, num_features, eps=1e-5, unbiased=True):
    super().__init__()
    self.eps, self.unbiased = eps, unbiased
    self.rho = tnn.Parameter(torch.Tensor(1, num_features, 1, 1))
    self.gamma = tnn.Parameter(torch.Tensor(1, num_features, 1, 1))
    self.beta = tnn.Parameter(torch.Tensor(1, num_features, 1, 1))
    self.rho.data.fill_(0.0)
    self.gamma.data.fill_(1.0)
    self.beta.data.fill_(0.0)

  def forward(self, x):
    out = _iln_mix(x, self.rho, self.eps, self.unbiased)
    n = x.shape[0]
    return (out * self.gamma.expand(n, -1, -1, -1)
            + self.beta.expand(n, -1, -1, -1))


class TorchResnetAdaILNBlock(tnn.Module):

  def __init__(self, dim, unbiased=True):
    super().__init__()
    self.pad1 = tnn.ReflectionPad2d(1)
    self.conv1 = tnn.Conv2d(dim, dim, 3, 1, 0, bias=False)
    self.norm1 = TorchAdaILN(dim, unbiased=unbiased)
    self.relu1 = tnn.ReLU(True)
    self.pad2 = tnn.ReflectionPad2d(1)
    self.conv2 = tnn.Conv2d(dim, dim, 3, 1, 0, bias=False)
    self.norm2 = TorchAdaILN(dim, unbiased=unbiased)

  def forward(self, x, gamma, beta):
    out = self.relu1(self.norm1(self.conv1(self.pad1(x)), gamma, beta))
    out = self.norm2(self.conv2(self.pad2(out)), gamma, beta)
    return out + x


class TorchResnetGenerator(tnn.Module):

  def __init__(self, ngf=64, n_blocks=4, img_size=256, light=False,
               unbiased=True):
    super().__init__()
    self.n_blocks, self.light = n_blocks, light
    down = [tnn.ReflectionPad2d(3), tnn.Conv2d(3, ngf, 7, 1, 0, bias=False),
            tnn.InstanceNorm2d(ngf), tnn.ReLU(True)]
    for i in range(2):
      mult = 2 ** i
      down += [tnn.ReflectionPad2d(1),
               tnn.Conv2d(ngf * mult, ngf * mult * 2, 3, 2, 0, bias=False),
               tnn.InstanceNorm2d(ngf * mult * 2), tnn.ReLU(True)]
    mult = 4
    down += [TorchResnetBlock(ngf * mult) for _ in range(n_blocks)]
    self.gap_fc = tnn.Linear(ngf * mult, 1, bias=False)
    self.gmp_fc = tnn.Linear(ngf * mult, 1, bias=False)
    self.conv1x1 = tnn.Conv2d(ngf * mult * 2, ngf * mult, 1, 1, bias=True)
    self.relu = tnn.ReLU(True)
    fc_in = (ngf * mult if light else
             img_size // mult * img_size // mult * ngf * mult)
    self.FC = tnn.Sequential(
        tnn.Linear(fc_in, ngf * mult, bias=False), tnn.ReLU(True),
        tnn.Linear(ngf * mult, ngf * mult, bias=False), tnn.ReLU(True))
    self.gamma = tnn.Linear(ngf * mult, ngf * mult, bias=False)
    self.beta = tnn.Linear(ngf * mult, ngf * mult, bias=False)
    for i in range(n_blocks):
      setattr(self, f'UpBlock1_{i + 1}',
              TorchResnetAdaILNBlock(ngf * mult, unbiased))
    up = []
    for i in range(2):
      mult = 2 ** (2 - i)
      up += [tnn.Upsample(scale_factor=2, mode='nearest'),
             tnn.ReflectionPad2d(1),
             tnn.Conv2d(ngf * mult, ngf * mult // 2, 3, 1, 0, bias=False),
             TorchILN(ngf * mult // 2, unbiased=unbiased), tnn.ReLU(True)]
    up += [tnn.ReflectionPad2d(3), tnn.Conv2d(ngf, 3, 7, 1, 0, bias=False),
           tnn.Tanh()]
    self.DownBlock = tnn.Sequential(*down)
    self.UpBlock2 = tnn.Sequential(*up)

  def forward(self, x):
    x = self.DownBlock(x)
    gap = F.adaptive_avg_pool2d(x, 1)
    gap_logit = self.gap_fc(gap.view(x.shape[0], -1))
    gap = x * list(self.gap_fc.parameters())[0].unsqueeze(2).unsqueeze(3)
    gmp = F.adaptive_max_pool2d(x, 1)
    gmp_logit = self.gmp_fc(gmp.view(x.shape[0], -1))
    gmp = x * list(self.gmp_fc.parameters())[0].unsqueeze(2).unsqueeze(3)
    cam_logit = torch.cat([gap_logit, gmp_logit], 1)
    x = self.relu(self.conv1x1(torch.cat([gap, gmp], 1)))
    heatmap = torch.sum(x, dim=1, keepdim=True)
    if self.light:
      x_ = F.adaptive_avg_pool2d(x, 1)
      x_ = self.FC(x_.view(x_.shape[0], -1))
    else:
      x_ = self.FC(x.view(x.shape[0], -1))
    gamma, beta = self.gamma(x_), self.beta(x_)
    for i in range(self.n_blocks):
      x = getattr(self, f'UpBlock1_{i + 1}')(x, gamma, beta)
    return self.UpBlock2(x), cam_logit, heatmap


class TorchDiscriminator(tnn.Module):

  def __init__(self, ndf=64, n_layers=5):
    super().__init__()
    sn = tnn.utils.spectral_norm
    model = [tnn.ReflectionPad2d(1), sn(tnn.Conv2d(3, ndf, 4, 2, 0, bias=True)),
             tnn.LeakyReLU(0.2, True)]
    for i in range(1, n_layers - 2):
      mult = 2 ** (i - 1)
      model += [tnn.ReflectionPad2d(1),
                sn(tnn.Conv2d(ndf * mult, ndf * mult * 2, 4, 2, 0, bias=True)),
                tnn.LeakyReLU(0.2, True)]
    mult = 2 ** (n_layers - 2 - 1)
    model += [tnn.ReflectionPad2d(1),
              sn(tnn.Conv2d(ndf * mult, ndf * mult * 2, 4, 1, 0, bias=True)),
              tnn.LeakyReLU(0.2, True)]
    mult = 2 ** (n_layers - 2)
    self.gap_fc = sn(tnn.Linear(ndf * mult, 1, bias=False))
    self.gmp_fc = sn(tnn.Linear(ndf * mult, 1, bias=False))
    self.conv1x1 = tnn.Conv2d(ndf * mult * 2, ndf * mult, 1, 1, bias=True)
    self.leaky_relu = tnn.LeakyReLU(0.2, True)
    self.pad = tnn.ReflectionPad2d(1)
    self.conv = sn(tnn.Conv2d(ndf * mult, 1, 4, 1, 0, bias=False))
    self.model = tnn.Sequential(*model)

  def forward(self, x):
    x = self.model(x)
    gap = F.adaptive_avg_pool2d(x, 1)
    gap_logit = self.gap_fc(gap.view(x.shape[0], -1))
    gap = x * list(self.gap_fc.parameters())[0].unsqueeze(2).unsqueeze(3)
    gmp = F.adaptive_max_pool2d(x, 1)
    gmp_logit = self.gmp_fc(gmp.view(x.shape[0], -1))
    gmp = x * list(self.gmp_fc.parameters())[0].unsqueeze(2).unsqueeze(3)
    cam_logit = torch.cat([gap_logit, gmp_logit], 1)
    x = self.leaky_relu(self.conv1x1(torch.cat([gap, gmp], 1)))
    heatmap = torch.sum(x, dim=1, keepdim=True)
    return self.conv(self.pad(x)), cam_logit, heatmap


# ------------------------------------------------------------------ helpers


def _count(tree) -> int:
  return int(sum(np.prod(a.shape) for a in jax.tree.leaves(tree)))


def _torch_count(module) -> int:
  return sum(p.numel() for p in module.parameters())


def _randomize_norms(module, seed=0):
  """Non-default rho / ILN gamma, beta so that every parameter matters."""
  g = torch.Generator().manual_seed(seed)
  with torch.no_grad():
    for name, p in module.named_parameters():
      leaf = name.rsplit('.', 1)[-1]
      if leaf == 'rho':
        p.copy_(torch.rand(p.shape, generator=g))
      elif leaf in ('gamma', 'beta') and p.ndim == 4:
        p.add_(0.3 * torch.randn(p.shape, generator=g))


def _state_numpy(module):
  return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def _nchw(a):
  return np.asarray(a).transpose(0, 3, 1, 2)


def _images(shape, seed=1):
  return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def _assert_close(ours, ref, tol=1e-4):
  """|ours - ref| <= tol * max(1, max|ref|) elementwise."""
  ref = np.asarray(ref)
  scale = max(1.0, float(np.max(np.abs(ref))))
  np.testing.assert_allclose(np.asarray(ours), ref, rtol=0, atol=tol * scale)


def _compile(fn, *args):
  """jax.jit(fn) compiled for `args` at XLA backend optimisation level 0.

  (Each network is compiled once; on a shared 2-core CPU the default level
  takes ~3x longer to compile than these tiny forwards take to run.)
  """
  return jax.jit(fn).lower(*args).compile(
      {'xla_backend_optimization_level': 0})


def _run_torch_g(tg, x):
  with torch.no_grad():
    img, cam, heat = tg(torch.from_numpy(_nchw(x)))
  return img.numpy().transpose(0, 2, 3, 1), cam.numpy(), \
      heat.numpy().transpose(0, 2, 3, 1)


def _to_nhwc(outputs):
  return [o.numpy().transpose(0, 2, 3, 1) if o.ndim == 4 else o.numpy()
          for o in outputs]


# -------------------------------------------------------- parameter counts


@pytest.mark.parametrize('light,expected', [(True, 10_589_888),
                                            (False, 278_959_808)])
def test_generator_param_count(light, expected):
  g = ugatit.UGATITGenerator(light=light)
  shapes = jax.eval_shape(g.init, jax.random.key(0),
                          jnp.zeros((1, 256, 256, 3)))
  assert set(shapes) == {'params'}
  assert _count(shapes['params']) == expected
  with torch.device('meta'):
    assert _torch_count(TorchResnetGenerator(light=light)) == expected


@pytest.mark.parametrize('n_layers,expected', [(7, 53_130_176),
                                               (5, 3_290_560)])
def test_discriminator_param_count(n_layers, expected):
  d = ugatit.UGATITDiscriminator(n_layers=n_layers)
  shapes = jax.eval_shape(d.init, jax.random.key(0),
                          jnp.zeros((1, 256, 256, 3)))
  assert _count(shapes['params']) == expected
  with torch.device('meta'):
    td = TorchDiscriminator(n_layers=n_layers)
  assert _torch_count(td) == expected  # weight_orig + bias; u, v are buffers
  n_uv = sum(b.numel() for b in td.buffers())
  assert _count(shapes['spectral']) == n_uv


# ----------------------------------------------------------------- parity


@pytest.mark.parametrize('light', [False, True])
def test_generator_matches_torch(light):
  torch.manual_seed(0)
  tg = TorchResnetGenerator(ngf=8, n_blocks=2, img_size=32, light=light)
  _randomize_norms(tg)
  state = _state_numpy(tg)
  cfg = convert_ugatit.generator_kwargs_from_torch(state)
  assert cfg == dict(ngf=8, n_blocks=2, img_size=None if light else 32,
                     light=light)
  params = convert_ugatit.params_from_torch(state)
  g = ugatit.UGATITGenerator(ngf=8, n_blocks=2, img_size=32, light=light)
  # Light: any size, here non-square; full: img_size only.
  x = _images((2, 32, 48, 3) if light else (2, 32, 32, 3))
  shapes = jax.eval_shape(g.init, jax.random.key(0), x)
  assert (jax.tree.map(lambda a: a.shape, shapes['params'])
          == jax.tree.map(np.shape, params))
  variables = {'params': params}
  ours = _compile(g.apply, variables, x)(variables, x)
  ref = _run_torch_g(tg, x)
  for name, a, b in zip(('image', 'cam_logit', 'heatmap'), ours, ref):
    assert a.shape == b.shape, name
    _assert_close(a, b)
  assert ours[1].shape == (2, 2)
  assert ours[2].shape == (2, 8, 12 if light else 8, 1)


@pytest.mark.parametrize('variance', ['unbiased', 'biased'])
def test_iln_variance_modes(variance):
  """'unbiased' is [pt] (torch.var); 'biased' the [tf] tf.nn.moments."""
  rng = np.random.default_rng(7)
  x = rng.normal(size=(2, 5, 6, 4)).astype(np.float32) * 3 + 1
  rho = rng.uniform(size=4).astype(np.float32)
  gamma = rng.normal(size=(2, 4)).astype(np.float32)
  beta = rng.normal(size=(2, 4)).astype(np.float32)
  unbiased = variance == 'unbiased'
  t_ada = TorchAdaILN(4, unbiased=unbiased)
  t_iln = TorchILN(4, unbiased=unbiased)
  with torch.no_grad():
    t_ada.rho.copy_(torch.from_numpy(rho).view(1, 4, 1, 1))
    t_iln.rho.copy_(torch.from_numpy(rho).view(1, 4, 1, 1))
    t_iln.gamma.copy_(torch.from_numpy(gamma[0]).view(1, 4, 1, 1))
    t_iln.beta.copy_(torch.from_numpy(beta[0]).view(1, 4, 1, 1))
    xt = torch.from_numpy(_nchw(x))
    ref_ada = t_ada(xt, torch.from_numpy(gamma), torch.from_numpy(beta))
    ref_iln = t_iln(xt)
  ada = ugatit.AdaILN(variance).apply({'params': {'rho': rho}}, x, gamma, beta)
  iln = ugatit.ILN(variance).apply(
      {'params': {'rho': rho, 'gamma': gamma[0], 'beta': beta[0]}}, x)
  _assert_close(ada, _to_nhwc([ref_ada])[0], 1e-5)
  _assert_close(iln, _to_nhwc([ref_iln])[0], 1e-5)
  other = ugatit.ILN('biased' if unbiased else 'unbiased').apply(
      {'params': {'rho': rho, 'gamma': gamma[0], 'beta': beta[0]}}, x)
  assert np.max(np.abs(np.asarray(other) - np.asarray(iln))) > 1e-3


def test_variance_field_is_checked():
  g = ugatit.UGATITGenerator(ngf=4, n_blocks=1, light=True, variance='tf')
  with pytest.raises(ValueError, match='variance'):
    jax.eval_shape(g.init, jax.random.key(0), jnp.zeros((1, 16, 16, 3)))


def test_full_generator_rejects_other_sizes_and_light_mismatch():
  torch.manual_seed(0)
  state = _state_numpy(TorchResnetGenerator(ngf=4, n_blocks=1, img_size=16))
  with pytest.raises(ValueError, match='light=True'):
    convert_ugatit.params_from_torch(state, light=True)
  g = ugatit.UGATITGenerator(ngf=4, n_blocks=1, img_size=16)
  with pytest.raises(ValueError, match='img_size'):
    jax.eval_shape(g.init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  with pytest.raises(ValueError, match='unexpected keys'):
    convert_ugatit.params_from_torch({**state, 'extra.weight': np.zeros(1)})


@pytest.mark.parametrize('n_layers,size', [(7, 96), (5, 32)])
def test_discriminator_matches_torch(n_layers, size):
  torch.manual_seed(2)
  td = TorchDiscriminator(ndf=4, n_layers=n_layers)
  x = _images((2, size, size, 3), seed=4)
  x2 = _images((2, size, size, 3), seed=5)
  with torch.no_grad():
    for _ in range(3):  # a few training forwards: u, v past their random init
      td(torch.from_numpy(_nchw(x)))
  state = _state_numpy(td)
  assert convert_ugatit.discriminator_kwargs_from_torch(state) == dict(
      ndf=4, n_layers=n_layers)
  variables = convert_ugatit.discriminator_variables_from_torch(state)
  d = ugatit.UGATITDiscriminator(ndf=4, n_layers=n_layers)
  shapes = jax.eval_shape(d.init, jax.random.key(0), x)
  assert (jax.tree.map(lambda a: a.shape, shapes)
          == jax.tree.map(np.shape, variables))

  def both(variables, x, x2):
    """Eval forward on x, then a training forward on x2 (stored u, v out)."""
    return (d.apply(variables, x),
            d.apply(variables, x2, update_stats=True, mutable=['spectral']))
  (ev, (tr, new_vars)) = _compile(both, variables, x, x2)(variables, x, x2)

  # Eval mode: the stored u, v, no power iteration.
  td.eval()
  with torch.no_grad():
    ref = _to_nhwc(td(torch.from_numpy(_nchw(x))))
  for a, b in zip(ev, ref):
    assert a.shape == b.shape
    _assert_close(a, b)
  # Training mode: one power iteration, then the new u, v are stored.
  td.train()
  with torch.no_grad():
    ref = _to_nhwc(td(torch.from_numpy(_nchw(x2))))
  for a, b in zip(tr, ref):
    _assert_close(a, b)
  new_ref = convert_ugatit.discriminator_variables_from_torch(
      _state_numpy(td))['spectral']
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5),
               new_vars['spectral'], new_ref)
  # The eval forward did not touch u, v; the training one did.
  assert not np.allclose(new_vars['spectral']['conv_0']['u'],
                         variables['spectral']['conv_0']['u'], atol=1e-4)


class _Sigma(nn.Module):
  update: bool

  @nn.compact
  def __call__(self, w):
    return ugatit.spectral_sigma(self, w, self.update)


@pytest.mark.parametrize('update', [False, True])
def test_spectral_sigma_gradient_stops_at_u_v(update):
  """torch computes u, v under no_grad, so d sigma / dW = u v^T."""
  rng = np.random.default_rng(8)
  w = jnp.asarray(rng.normal(size=(12, 5)), jnp.float32)   # [rows, out]
  u, v = rng.normal(size=5), rng.normal(size=12)
  spec = {'u': jnp.asarray(u / np.linalg.norm(u), jnp.float32),
          'v': jnp.asarray(v / np.linalg.norm(v), jnp.float32)}
  mdl = _Sigma(update)
  grad = jax.grad(lambda w: mdl.apply({'spectral': spec}, w))(w)
  sigma, new = mdl.apply({'spectral': spec}, w, mutable=['spectral'])
  u, v = new['spectral']['u'], new['spectral']['v']
  if not update:
    np.testing.assert_array_equal(u, spec['u'])
  np.testing.assert_allclose(sigma, u @ w.T @ v, rtol=1e-6)
  np.testing.assert_allclose(grad, np.outer(v, u), atol=1e-6)


# ---------------------------------------------------------------- rho clip


def test_init_values_follow_torch():
  x = jnp.zeros((1, 3, 3, 2))

  @jax.jit
  def inits(key):  # one compilation instead of one per eager op
    k = jax.random.split(key, 5)
    return dict(
        ada=ugatit.AdaILN().init(k[0], x, x[:, 0, 0], x[:, 0, 0])['params'],
        iln=ugatit.ILN().init(k[1], x)['params'],
        kernel=ugatit.torch_kernel_init(k[2], (3, 3, 16, 64)),
        bias=ugatit.torch_bias_init(3 * 3 * 16)(k[3], (64,)),
        u=ugatit._unit_normal(k[4], (7,)))
  v = inits(jax.random.key(0))
  # [pt] inits: adaILN rho 0.9, ILN rho 0 / gamma 1 / beta 0.
  np.testing.assert_array_equal(v['ada']['rho'], np.float32(0.9))
  np.testing.assert_array_equal(v['iln']['rho'], 0.0)
  np.testing.assert_array_equal(v['iln']['gamma'], 1.0)
  np.testing.assert_array_equal(v['iln']['beta'], 0.0)
  # torch default init: U(+-1/sqrt(fan_in)) for kernels and biases.
  bound = 1 / np.sqrt(3 * 3 * 16)
  for a in (v['kernel'], v['bias']):
    assert bound * 0.8 < np.max(np.abs(a)) <= bound
  # torch spectral_norm starts from normalize(N(0, 1)) u and v.
  np.testing.assert_allclose(np.linalg.norm(v['u']), 1, rtol=1e-6)


def test_clip_rho():
  g = ugatit.UGATITGenerator(ngf=4, n_blocks=1, img_size=16, light=True)
  shapes = jax.eval_shape(g.init, jax.random.key(0),
                          jnp.zeros((1, 16, 16, 3)))['params']
  rng = np.random.default_rng(0)
  params = jax.tree.map(
      lambda a: jnp.asarray(rng.uniform(-3, 3, a.shape), jnp.float32), shapes)
  clipped = ugatit.clip_rho(params)
  rhos = 0
  for path, (a, b) in zip(
      jax.tree_util.tree_flatten_with_path(params)[0],
      zip(jax.tree.leaves(params), jax.tree.leaves(clipped))):
    if path[0][-1].key == 'rho':
      rhos += 1
      np.testing.assert_array_equal(b, np.clip(a, 0, 1))
    else:
      np.testing.assert_array_equal(a, b)  # only rho is touched
  assert rhos == 2 + 2  # 2 AdaILN per block, 2 ILN in the up-sampling
