"""SRGAN networks: parity with a torch re-implementation of the reference port
(Lornatang/SRGAN-PyTorch model.py), state-dict conversion, parameter counts,
pixel-shuffle ordering and the anime-image-development ("seed") variant."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from animejax.models import srgan

torch = pytest.importorskip('torch')
tnn = torch.nn


def _count(tree) -> int:
  return int(sum(np.prod(a.shape) for a in jax.tree.leaves(tree)))


# ------------------------------------------- torch reference ([port] model.py)


class _TorchRCB(tnn.Module):
  """[port] _ResidualConvBlock."""

  def __init__(self, c):
    super().__init__()
    self.rcb = tnn.Sequential(
        tnn.Conv2d(c, c, 3, 1, 1, bias=False), tnn.BatchNorm2d(c),
        tnn.PReLU(),
        tnn.Conv2d(c, c, 3, 1, 1, bias=False), tnn.BatchNorm2d(c))

  def forward(self, x):
    return self.rcb(x) + x


class _TorchUp(tnn.Module):
  """[port] _UpsampleBlock(channels, 2)."""

  def __init__(self, c):
    super().__init__()
    self.upsample_block = tnn.Sequential(
        tnn.Conv2d(c, 4 * c, 3, 1, 1), tnn.PixelShuffle(2), tnn.PReLU())

  def forward(self, x):
    return self.upsample_block(x)


class _TorchSRResNet(tnn.Module):
  """[port] SRResNet(in 3, out 3, channels, num_rcb, upscale)."""

  def __init__(self, channels=64, num_rcb=16, upscale=4, clamp=True):
    super().__init__()
    c = channels
    self.clamp = clamp
    self.conv1 = tnn.Sequential(tnn.Conv2d(3, c, 9, 1, 4), tnn.PReLU())
    self.trunk = tnn.Sequential(*[_TorchRCB(c) for _ in range(num_rcb)])
    self.conv2 = tnn.Sequential(tnn.Conv2d(c, c, 3, 1, 1, bias=False),
                                tnn.BatchNorm2d(c))
    self.upsampling = tnn.Sequential(
        *[_TorchUp(c) for _ in range(int(np.log2(upscale)))])
    self.conv3 = tnn.Conv2d(c, 3, 9, 1, 4)

  def forward(self, x):
    conv1 = self.conv1(x)
    x = self.conv2(self.trunk(conv1)) + conv1
    x = self.conv3(self.upsampling(x))
    return torch.clamp(x, 0.0, 1.0) if self.clamp else x


class _TorchDisc(tnn.Module):
  """[port] DiscriminatorForVGG(3, 1, channels); input 96 x 96."""

  def __init__(self, channels=64):
    super().__init__()
    c = channels
    widths = [c, c, 2 * c, 2 * c, 4 * c, 4 * c, 8 * c, 8 * c]
    feats = [tnn.Conv2d(3, c, 3, 1, 1, bias=True), tnn.LeakyReLU(0.2)]
    for i in range(1, 8):
      feats += [tnn.Conv2d(widths[i - 1], widths[i], 3, 1 + i % 2, 1,
                           bias=False),
                tnn.BatchNorm2d(widths[i]), tnn.LeakyReLU(0.2)]
    self.features = tnn.Sequential(*feats)
    self.classifier = tnn.Sequential(tnn.Linear(8 * c * 6 * 6, 1024),
                                     tnn.LeakyReLU(0.2), tnn.Linear(1024, 1))

  def forward(self, x):
    assert x.shape[2] == 96 and x.shape[3] == 96
    return self.classifier(torch.flatten(self.features(x), 1))


def _randomize(module, seed=0):
  """Non-trivial BN affine/running stats and PReLU slopes, in place."""
  g = torch.Generator().manual_seed(seed)
  with torch.no_grad():
    for m in module.modules():
      if isinstance(m, tnn.BatchNorm2d):
        n = m.num_features
        m.weight.copy_(1 + 0.2 * torch.randn(n, generator=g))
        m.bias.copy_(0.1 * torch.randn(n, generator=g))
        m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
        m.running_var.copy_(0.5 + torch.rand(n, generator=g))
      elif isinstance(m, tnn.PReLU):
        m.weight.copy_(0.1 + 0.3 * torch.rand(m.weight.shape, generator=g))
      elif isinstance(m, tnn.Conv2d) and m.bias is not None:
        m.bias.copy_(0.05 * torch.randn(m.bias.shape, generator=g))
  return module


def _numpy_sd(module):
  return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def _nchw(x):
  return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def _nhwc(t):
  return t.detach().numpy().transpose(0, 2, 3, 1)


def _both_modes(variables, x, module):
  """(eval output, train output, new batch_stats); jit the caller."""
  y_eval = module.apply(variables, x, train=False)
  y_train, upd = module.apply(variables, x, train=True,
                              mutable=['batch_stats'])
  return y_eval, y_train, upd['batch_stats']


def _fill(shapes, seed=0):
  """Random variables in an eval_shape'd tree (compiling `init` would cost
  more than the forward pass: XLA:CPU compiles each RNG call slowly)."""
  rng = np.random.default_rng(seed)

  def f(path, a):
    name = path[-1].key
    if name in ('scale', 'var'):
      v = 1 + 0.2 * rng.uniform(size=a.shape)
    elif name in ('bias', 'mean', 'alpha'):
      v = 0.1 * rng.normal(size=a.shape)
    else:
      v = rng.normal(size=a.shape) * np.sqrt(2.0 / np.prod(a.shape[:-1]))
    return v.astype(np.float32)
  return jax.tree_util.tree_map_with_path(f, shapes)


def _lr(shape, seed=1):
  return np.random.default_rng(seed).uniform(0, 1, shape).astype(np.float32)


# ------------------------------------------------------------------ counts


def test_param_counts_match_torch_reference():
  for upscale, expected in ((2, 1_399_637), (4, 1_547_350), (8, 1_695_063)):
    shapes = jax.eval_shape(srgan.SRResNet(upscale=upscale).init,
                            jax.random.key(0), jnp.zeros((1, 8, 8, 3)))
    assert _count(shapes['params']) == expected
    # Running statistics (33 BN x 2 x 64) are 'batch_stats', not params.
    assert _count(shapes['batch_stats']) == 33 * 2 * 64
    if upscale == 4:
      with torch.device('meta'):  # shapes only: no allocation, no init
        ref = _TorchSRResNet(upscale=upscale)
      assert sum(p.numel() for p in ref.parameters()) == expected
  shapes = jax.eval_shape(srgan.SRGANDiscriminator().init, jax.random.key(0),
                          jnp.zeros((1, 96, 96, 3)))
  assert _count(shapes['params']) == 23_563_649
  with torch.device('meta'):
    ref = _TorchDisc()
  assert sum(p.numel() for p in ref.parameters()) == 23_563_649
  assert shapes['params']['dense0']['kernel'].shape == (6 * 6 * 512, 1024)


def test_seed_variant_counts_and_shapes():
  # [seed] generator.py with LRDim 32 -> 128: conv biases everywhere,
  # per-channel PReLU, up-sampling convs 64 -> 256 and 256 -> 256, 9x9
  # 256 -> 3. Trainable count by hand:
  #   conv1 9*9*3*64 + 64 + PReLU 64                          15,680
  #   16 blocks x (2 x (3*3*64*64 + 64) + 2 BN x 128 + 64)  1,186,816
  #   conv2 3*3*64*64 + 64 + BN 128                            37,056
  #   up 3*3*64*256 + 256 + 256; 3*3*256*256 + 256 + 256      738,304
  #   conv3 9*9*256*3 + 3                                      62,211
  g = srgan.seed_srresnet()
  shapes = jax.eval_shape(g.init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  assert _count(shapes['params']) == 2_040_067
  p = shapes['params']
  assert p['prelu1']['alpha'].shape == (64,)
  assert p['upsampling_1']['conv']['kernel'].shape == (3, 3, 256, 256)
  assert p['upsampling_1']['prelu']['alpha'].shape == (256,)
  assert p['conv3']['kernel'].shape == (9, 9, 256, 3)
  assert p['trunk_0']['conv1']['bias'].shape == (64,)
  # Keras PReLU starts at alpha 0 (= ReLU); torch nn.PReLU() at 0.25.
  assert (g.prelu_init, srgan.SRResNet().prelu_init) == (0.0, 0.25)
  # A tiny forward (width 4, 1 block): 32 -> 128 px (shapes), 8 -> 32 px
  # (values): tanh range, running statistics updated in train mode.
  g = srgan.seed_srresnet(channels=4, num_blocks=1)
  x = _lr((2, 8, 8, 3))
  tiny = jax.eval_shape(g.init, jax.random.key(0), x)
  assert jax.eval_shape(g.apply, tiny, jnp.zeros((1, 32, 32, 3))).shape == (
      1, 128, 128, 3)
  variables = _fill(tiny)
  y, upd = jax.jit(lambda v, x: g.apply(v, x, train=True,
                                        mutable=['batch_stats']))(variables, x)
  assert y.shape == (2, 32, 32, 3) and y.dtype == jnp.float32
  assert np.all(np.abs(np.asarray(y)) <= 1.0)
  old, new = variables['batch_stats']['bn2'], upd['batch_stats']['bn2']
  assert np.all(np.asarray(new['mean']) != np.asarray(old['mean']))
  d = srgan.SRGANDiscriminator(channels=4, image_size=128, padding='same',
                               conv_bias=True, bn_momentum=0.5,
                               bn_epsilon=1e-3)
  dv = jax.eval_shape(d.init, jax.random.key(0), jnp.zeros((1, 128, 128, 3)))
  assert dv['params']['dense0']['kernel'].shape == (8 * 8 * 32, 1024)
  assert dv['params']['conv1']['bias'].shape == (4,)


# ------------------------------------------------------------------ parity


def test_pixel_shuffle_matches_torch():
  x = np.random.default_rng(0).normal(size=(2, 3, 5, 12)).astype(np.float32)
  for r in (2,):
    ours = np.asarray(srgan.pixel_shuffle(jnp.asarray(x), r))
    ref = _nhwc(torch.nn.functional.pixel_shuffle(_nchw(x), r))
    np.testing.assert_array_equal(ours, ref)
  x = np.random.default_rng(1).normal(size=(1, 2, 3, 18)).astype(np.float32)
  ours = np.asarray(srgan.pixel_shuffle(jnp.asarray(x), 3))
  np.testing.assert_array_equal(
      ours, _nhwc(torch.nn.functional.pixel_shuffle(_nchw(x), 3)))
  with pytest.raises(ValueError, match='divisible'):
    srgan.pixel_shuffle(jnp.zeros((1, 2, 2, 6)), 2)


def test_srresnet_parity_eval_and_train():
  torch.manual_seed(0)
  ref = _randomize(_TorchSRResNet(channels=8, num_rcb=2, clamp=False))
  variables = srgan.convert_torch_state_dict(_numpy_sd(ref))
  g = srgan.SRResNet(channels=8, num_blocks=2)
  shapes = jax.eval_shape(g.init, jax.random.key(0), jnp.zeros((1, 8, 8, 3)))
  assert (jax.tree.map(lambda a: a.shape, shapes) ==
          jax.tree.map(lambda a: a.shape, variables))
  assert variables['params']['prelu1']['alpha'].shape == (1,)  # nn.PReLU()

  x = _lr((2, 12, 16, 3))
  clamped = srgan.SRResNet(channels=8, num_blocks=2, out_activation='clamp')

  @jax.jit
  def run(variables, x):  # one compile for all four outputs
    return _both_modes(variables, x, g) + (clamped.apply(variables, x),)
  got_eval, got_train, stats, got_clamped = run(variables, x)

  # Eval: frozen running statistics.
  ref.eval()
  with torch.no_grad():
    want = _nhwc(ref(_nchw(x)))
  assert got_eval.shape == (2, 48, 64, 3)
  np.testing.assert_allclose(np.asarray(got_eval), want, atol=2e-5,
                             rtol=1e-4)
  # [port] clamps in forward(); out_activation='clamp' does the same.
  np.testing.assert_allclose(np.asarray(got_clamped), np.clip(want, 0, 1),
                             atol=2e-5)

  # Train: batch statistics, running averages updated.
  ref.train()
  old_var = ref.trunk[0].rcb[1].running_var.clone().numpy()
  with torch.no_grad():
    want = _nhwc(ref(_nchw(x)))
  np.testing.assert_allclose(np.asarray(got_train), want, atol=5e-5,
                             rtol=1e-4)
  new = stats['trunk_0']['bn1']
  bn = ref.trunk[0].rcb[1]
  # torch momentum 0.1 == flax 0.9: the means agree exactly.
  np.testing.assert_allclose(np.asarray(new['mean']),
                             bn.running_mean.numpy(), atol=1e-6)
  # torch's running_var takes the unbiased batch variance, flax's the biased
  # one: batch var (torch) = (new - 0.9 old) / 0.1, flax's = that * (n-1)/n.
  n = 2 * 12 * 16
  batch_var_torch = (bn.running_var.numpy() - 0.9 * old_var) / 0.1
  np.testing.assert_allclose(
      np.asarray(new['var']),
      0.9 * old_var + 0.1 * batch_var_torch * (n - 1) / n, rtol=1e-5)


def test_converter_key_variants():
  ref = _randomize(_TorchSRResNet(channels=4, num_rcb=1, upscale=2), seed=3)
  sd = _numpy_sd(ref)
  base = srgan.convert_torch_state_dict(sd)
  # Older [port] names (Generator.conv_block1/2/3), torch.compile prefix and
  # the checkpoint wrapper {'state_dict': ...}.
  old = {}
  for k, v in sd.items():
    for a, b in (('conv1.', 'conv_block1.'), ('conv2.', 'conv_block2.'),
                 ('conv3.', 'conv_block3.')):
      if k.startswith(a):
        k = b + k[len(a):]
    old['_orig_mod.' + k] = v
  other = srgan.convert_torch_state_dict({'state_dict': old})
  jax.tree.map(np.testing.assert_array_equal, base, other)
  with pytest.raises(ValueError, match='unconverted'):
    srgan.convert_torch_state_dict({**sd, 'extra.weight': np.zeros(1)})
  with pytest.raises(KeyError):
    srgan.convert_torch_state_dict(
        {k: v for k, v in sd.items() if k != 'conv3.bias'})


def test_discriminator_parity():
  torch.manual_seed(1)
  ref = _randomize(_TorchDisc(channels=8), seed=1)
  variables = srgan.convert_torch_state_dict(_numpy_sd(ref))
  d = srgan.SRGANDiscriminator(channels=8)
  shapes = jax.eval_shape(d.init, jax.random.key(0),
                          jnp.zeros((1, 96, 96, 3)))
  assert (jax.tree.map(lambda a: a.shape, shapes) ==
          jax.tree.map(lambda a: a.shape, variables))
  assert 'bias' in variables['params']['conv0']
  assert 'bias' not in variables['params']['conv1']
  x = np.random.default_rng(2).uniform(0, 1, (2, 96, 96, 3)).astype(
      np.float32)
  # Eval mode only: it exercises the converted running statistics; BN's
  # train mode is checked on SRResNet (one compile fewer).
  got = np.asarray(jax.jit(d.apply)(variables, x))
  ref.eval()
  with torch.no_grad():
    want = ref(_nchw(x)).numpy()
  assert got.shape == (2, 1)
  np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
  with pytest.raises(ValueError, match='96'):
    jax.eval_shape(d.apply, variables, x[:, :64, :64])


def test_same_padding_is_keras():
  # Keras 'same', stride 2, even size: the extra pixel at the end.
  assert srgan._same_pads(128, 3, 2) == (0, 1)
  assert srgan._same_pads(7, 3, 2) == (1, 1)
  assert srgan._same_pads(32, 3, 1) == (1, 1)


def test_bad_options_raise():
  x = jnp.zeros((1, 8, 8, 3))
  with pytest.raises(ValueError, match='power of 2'):
    jax.eval_shape(srgan.SRResNet(upscale=3).init, jax.random.key(0), x)
  with pytest.raises(ValueError, match='upsample'):
    jax.eval_shape(srgan.SRResNet(upsample='bilinear').init,
                   jax.random.key(0), x)
  with pytest.raises(ValueError, match='out_activation'):
    jax.eval_shape(srgan.SRResNet(out_activation='relu').init,
                   jax.random.key(0), x)


def test_port_checkpoint_file_upscales_like_torch(tmp_path):
  """A [port] `SRResNet_x4-*.pth.tar` as train_net.py saves it (utils.
  save_checkpoint: epoch, psnr, ssim, state_dict, ema_state_dict, optimizer),
  written with torch.save, read by the restricted reader (no torch) through
  `upscale.load_upscaler`: equals the torch model in eval mode (frozen BN,
  [port]'s clamp) to 1e-4; its discriminator checkpoint is refused."""
  from animejax import upscale  # pylint: disable=g-import-not-at-top
  torch.manual_seed(0)
  ref = _randomize(_TorchSRResNet(channels=8, num_rcb=2, upscale=4), seed=5)
  opt = torch.optim.Adam(ref.parameters(), 1e-4, (0.9, 0.999))
  ref(torch.rand(1, 3, 8, 8)).mean().backward()
  opt.step()  # a real optimizer state (tensors, tuples, floats) in the file
  ref.eval()
  path = str(tmp_path / 'SRResNet_x4-ImageNet.pth.tar')
  torch.save({'epoch': 3, 'psnr': 28.5, 'ssim': 0.81,
              'state_dict': ref.state_dict(), 'ema_state_dict': None,
              'optimizer': opt.state_dict()}, path)
  fn, scale = upscale.load_upscaler(path, 'latest')
  assert scale == 4
  x = _lr((2, 10, 12, 3), seed=4)
  with torch.no_grad():
    want = _nhwc(ref(_nchw(x)))
  np.testing.assert_allclose(fn(x), want, atol=1e-4)
  disc = str(tmp_path / 'DiscriminatorForVGG_x4-ImageNet.pth.tar')
  torch.save({'epoch': 3, 'state_dict': _TorchDisc(channels=4).state_dict()},
             disc)
  with pytest.raises(ValueError, match='holds an SRGAN discriminator'):
    upscale.load_upscaler(disc)
