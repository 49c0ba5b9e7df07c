"""The 'srgan' method, its LR/HR data and the upscale CLI.

- One 'pretrain' and one 'gan' step report losses equal to an independent
  reference computed here from the same batch and weights (SRResNet,
  VGG19 and discriminator applied directly; BCE written out).
- The LR/HR stream is a pure function of (seed, step, process): a stream
  started at step k yields batch k; LR = MATLAB-bicubic x4 antialiased
  down-sampling (a 1-px checkerboard becomes flat grey; PIL's antialiased
  bicubic agrees inside the image); corrupt and too-small files are skipped
  and counted.
- `animejax.upscale` upscales an image and a folder (exit codes 0 / 3 / 2)
  from a weights file, and tiling equals the untiled result wherever the
  tiles' overlap covers the receptive field (and away from seams otherwise).
"""

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

from animejax import upscale  # pylint: disable=wrong-import-position
from animejax import weights_io  # pylint: disable=wrong-import-position
from animejax.data import sr_pairs  # pylint: disable=wrong-import-position
from animejax.methods import srgan  # pylint: disable=wrong-import-position
from animejax.models import srgan as srgan_models  # pylint: disable=wrong-import-position
from animejax.models import vgg19  # pylint: disable=wrong-import-position


@pytest.fixture(scope='module')
def smoke():
  config = srgan.smoke_config()
  method = srgan.create(config)
  pipeline = method.input_pipeline(0)
  method.schedule(pipeline.num_train_images)
  state = jax.jit(method.init)(jax.random.key(0))
  batch = next(iter(pipeline.train_iter))
  return config, method, pipeline, state, batch


def _bce(logits, labels):
  x = np.asarray(logits, np.float64)
  y = np.asarray(labels, np.float64)
  return np.mean(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x))))


def test_pretrain_and_gan_losses_equal_reference(smoke):
  config, method, _, state, batch = smoke
  frozen = method.frozen()
  g = srgan_models.SRResNet(**srgan.model_kwargs(config))
  d = srgan_models.SRGANDiscriminator(
      channels=config.discriminator.channels, image_size=config.data.hr_crop,
      dense_features=config.discriminator.dense_features)
  g_vars = {'params': state.g_params, 'batch_stats': state.g_stats}
  d_vars = {'params': state.d_params, 'batch_stats': state.d_stats}
  # Training mode: BatchNorm normalises with the batch's statistics.
  sr, _ = g.apply(g_vars, batch['lr'], train=True, mutable=['batch_stats'])
  sr64 = np.asarray(sr, np.float64)
  hr64 = np.asarray(batch['hr'], np.float64)
  mse = np.mean((sr64 - hr64) ** 2)

  step = jax.jit(method.train_step, static_argnums=4)
  _, m = step(state, frozen, batch, jax.random.key(3), 'pretrain')
  np.testing.assert_allclose(float(m['g/mse']), mse, rtol=1e-5)

  vgg = vgg19.VGG19(preprocess='torch')  # 'random' weights: torch layout
  feat = lambda x: np.asarray(vgg.apply(
      {'params': frozen}, jnp.asarray(x * 2 - 1, jnp.float32),
      layer=config.loss.vgg_layer, pre_relu=False), np.float64)
  scale = config.loss.vgg_feature_scale
  assert scale == pytest.approx(1 / 12.75)  # [paper]
  content = np.mean((feat(sr) * scale - feat(batch['hr']) * scale) ** 2)
  d_apply = lambda x: d.apply(d_vars, x, train=True,
                              mutable=['batch_stats'])[0]
  adv = _bce(d_apply(sr), 1.0)
  d_real = _bce(d_apply(batch['hr']), 1.0)
  d_fake = _bce(d_apply(sr), 0.0)
  l = config.loss
  total = l.mse_weight * mse + l.vgg_weight * content + l.adv_weight * adv

  _, m = step(state, frozen, batch, jax.random.key(3), 'gan')
  got = {k: float(v) for k, v in m.items()}
  np.testing.assert_allclose(got['g/mse'], mse, rtol=1e-5)
  np.testing.assert_allclose(got['g/content'], content, rtol=1e-4)
  np.testing.assert_allclose(got['g/adv'], adv, rtol=1e-5)
  np.testing.assert_allclose(got['g/total'], total, rtol=1e-5)
  np.testing.assert_allclose(got['d/real'], d_real, rtol=1e-5)
  np.testing.assert_allclose(got['d/fake'], d_fake, rtol=1e-5)
  assert l.adv_weight == 1e-3 and content > 0


def test_noisy_labels_in_seed_ranges(smoke):
  _, method, _, _, _ = smoke
  loss = method.config.loss
  old = loss.noisy_labels
  loss.noisy_labels = True
  try:
    real, fake = method._labels(jax.random.key(0), 4096)  # pylint: disable=protected-access
  finally:
    loss.noisy_labels = old
  real, fake = np.asarray(real), np.asarray(fake)
  assert real.min() > 0.8 and real.max() <= 1.0  # [seed] (0.8, 1]
  assert fake.min() >= 0.0 and fake.max() < 0.2  # [seed] [0, 0.2)
  assert real.std() > 0.05 and fake.std() > 0.05


def test_stream_is_a_function_of_seed_and_step():
  rng = np.random.default_rng(0)
  images = [rng.integers(0, 256, (40 + 4 * i, 48, 3), np.uint8)
            for i in range(5)]
  def take(start, n, **kw):
    s = sr_pairs.train_stream(images, 3, 16, 4, seed=7, start_step=start,
                              **kw)
    return [next(s) for _ in range(n)]
  whole = take(0, 4)
  resumed = take(2, 2)
  for a, b in zip(whole[2:], resumed):
    np.testing.assert_array_equal(a['lr'], b['lr'])
    np.testing.assert_array_equal(a['hr'], b['hr'])
  assert whole[0]['hr'].shape == (3, 16, 16, 3)
  assert whole[0]['lr'].shape == (3, 4, 4, 3)
  assert whole[0]['hr'].dtype == np.float32
  assert 0 <= whole[0]['hr'].min() and whole[0]['hr'].max() <= 1
  other = take(0, 1, process_index=1, process_count=2)[0]
  assert not np.array_equal(other['hr'], whole[0]['hr'])
  # LR is the antialiased bicubic x4 down-sampling of the (flipped) HR crop.
  hr_u8 = np.round(whole[1]['hr'] * 255).astype(np.uint8)
  np.testing.assert_array_equal(
      np.round(whole[1]['lr'] * 255).astype(np.uint8),
      sr_pairs.downscale(hr_u8, 4))


def test_downscale_is_antialiased_bicubic():
  checker = (np.indices((64, 64)).sum(0) % 2 * 255).astype(np.uint8)
  checker = np.repeat(checker[..., None], 3, axis=-1)
  lr = sr_pairs.downscale(checker, 4).astype(np.float64)
  # Antialiased: the Nyquist pattern averages out (point sampling would
  # keep it at 0 or 255).
  # (The outermost LR pixels see the mirrored border: within 3 levels.)
  assert lr.shape == (16, 16, 3)
  assert np.abs(lr[1:-1, 1:-1] - 127.5).max() <= 1.0
  assert np.abs(lr - 127.5).max() <= 3.0
  # PIL's bicubic (a = -0.5, kernel widened by the scale) agrees away from
  # the borders (MATLAB mirrors them, PIL renormalises).
  yy, xx = np.mgrid[0:96, 0:96]
  smooth = 127 + 60 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
  img = np.repeat(smooth[..., None], 3, axis=-1).astype(np.uint8)
  ours = sr_pairs.downscale(img, 4).astype(int)
  pil = np.asarray(Image.fromarray(img).resize((24, 24), Image.BICUBIC),
                   dtype=int)
  assert np.abs(ours[3:-3, 3:-3] - pil[3:-3, 3:-3]).max() <= 1


def _write_images(folder, sizes, start=0):
  rng = np.random.default_rng(start)
  os.makedirs(folder, exist_ok=True)
  for i, (h, w) in enumerate(sizes):
    img = rng.integers(0, 256, (h, w, 3), np.uint8)
    Image.fromarray(img).save(os.path.join(folder, f'img_{start + i}.png'))


def test_corrupt_and_small_files_are_skipped_and_counted(tmp_path):
  folder = str(tmp_path / 'hr')
  _write_images(folder, [(48, 40)] * 4)
  with open(os.path.join(folder, 'a_broken.jpg'), 'wb') as f:
    f.write(b'\xff\xd8\xff\xe0 not a jpeg')
  _write_images(folder, [(20, 20)], start=10)  # smaller than hr_crop 32
  config = srgan.smoke_config()
  config.data.hr_dir = folder
  config.data.num_val_images = 1
  data = sr_pairs.create(config, 0, process_index=0, process_count=1)
  assert sorted(os.path.basename(p) for p in data.skipped_files) == [
      'a_broken.jpg', 'img_10.png']
  assert data.num_train_images == 3  # 6 files - 1 held out - 2 skipped
  assert data.val.hr.shape == (1, 32, 32, 3)
  assert data.val.lr.shape == (1, 8, 8, 3)
  batch = next(data.train_iter)
  assert batch['hr'].shape == (2, 32, 32, 3)


@pytest.fixture(scope='module')
def weights_file(smoke, tmp_path_factory):
  config, _, _, state, _ = smoke
  state = {'g_params': state.g_params, 'g_stats': state.g_stats}
  w = srgan.export_weights(state, config.to_dict())
  path = str(tmp_path_factory.mktemp('w') / 'srresnet.msgpack')
  weights_io.save(path, w)
  return path


def test_upscale_cli_image_and_folder(weights_file, tmp_path):
  _write_images(str(tmp_path / 'in'), [(20, 24), (20, 24)])
  with open(tmp_path / 'in' / 'broken.png', 'wb') as f:
    f.write(b'not a png')
  out = tmp_path / 'out'
  rc = upscale.main(['--weights', weights_file, '--input',
                     str(tmp_path / 'in'), '--output', str(out)])
  assert rc == 3  # one input failed, the others were written
  for name in ('img_0.png', 'img_1.png'):
    assert Image.open(out / name).size == (96, 80)
  one = tmp_path / 'one.png'
  rc = upscale.main(['--weights', weights_file, '--input',
                     str(tmp_path / 'in' / 'img_0.png'), '--output', str(one),
                     '--tile', '12', '--overlap', '2'])
  assert rc == 0 and Image.open(one).size == (96, 80)
  rc = upscale.main(['--weights', str(tmp_path / 'missing.msgpack'),
                     '--input', str(one), '--output', str(tmp_path / 'x')])
  assert rc == 2


def test_tiling_equals_untiled_away_from_seams(weights_file):
  fn, scale = upscale.load_upscaler(weights_file)
  assert scale == 4
  x = np.random.default_rng(1).random((40, 40, 3)).astype(np.float32)
  whole = fn(x[None])[0]
  # Overlap 12 LR px > the smoke net's receptive radius (~10): equal.
  tiled = upscale.upscale_tiled(fn, x, scale, tile=28, overlap=12)
  np.testing.assert_allclose(tiled, whole, atol=1e-5)
  # No overlap: tiles of 20 meet at LR 20; 10 px away they still agree.
  tiled = upscale.upscale_tiled(fn, x, scale, tile=20, overlap=0)
  far = np.ones((40, 40), bool)
  far[10:30] = False
  far[:, 10:30] = False
  far = np.repeat(np.repeat(far, scale, 0), scale, 1)
  np.testing.assert_allclose(tiled[far], whole[far], atol=1e-5)
  assert np.abs(tiled - whole).max() > 1e-4  # the seams do differ


def test_bicubic_residual_starts_as_bicubic():
  g = srgan_models.SRResNet(channels=8, num_blocks=1)
  lr = jnp.asarray(np.random.default_rng(2).random((1, 8, 8, 3)), jnp.float32)
  variables = g.init(jax.random.key(0), lr)
  variables = jax.tree_util.tree_map_with_path(
      lambda p, x: jnp.zeros_like(x) if 'conv3' in jax.tree_util.keystr(p)
      else x, variables)
  out = srgan.generate(g, variables, lr, 'bicubic', tanh=False)
  np.testing.assert_allclose(out, srgan.bicubic_up(lr, 4), atol=1e-6)
  out = srgan.generate(g, variables, lr, 'bicubic', tanh=True)
  np.testing.assert_allclose(out, srgan.bicubic_up(lr, 4) * 2 - 1, atol=1e-6)
