"""trVAE: kernel and losses against numpy, model layout, labelled data."""

import os
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # `configs` is a folder of the repo, not installed
  sys.path.insert(0, REPO)

from animejax.data import conditions  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax.methods import trvae  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax.models import trvae as trvae_models  # pylint: disable=g-import-not-at-top,wrong-import-position

# Written out again (not imported) as [trvae] _utils.compute_kernel lists them.
NP_SIGMAS = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 5, 10, 15, 20, 25, 30, 35,
             100, 1e3, 1e4, 1e5, 1e6]


# ------------------------------------------------------- numpy reference
def np_kernel(x, y):
  """[trvae] multi-scale-rbf: sum_s exp(-d / (2 s)) / len(sigmas)."""
  d = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
  return sum(np.exp(-d / (2.0 * s)) for s in NP_SIGMAS) / len(NP_SIGMAS)


def np_mmd(x, y):
  return (np_kernel(x, x).mean() + np_kernel(y, y).mean() -
          2 * np_kernel(x, y).mean())


def np_mmd_loss(h, labels, n, beta):
  """[trvae] mmd(..., 'general'): dynamic partition, pairs i > j, NaN -> 0."""
  parts = [h[labels == c] for c in range(n)]
  loss = 0.0
  for i in range(n):
    for j in range(i):
      if len(parts[i]) and len(parts[j]):  # an empty mean is NaN -> 0
        loss += np_mmd(parts[i], parts[j])
  return beta * loss


def _batch():
  """A fixed batch: 7 samples, conditions 0 and 2 present, 1 empty."""
  rng = np.random.default_rng(0)
  # Scales from 0.01 to 3 so several sigmas matter.
  h = rng.normal(size=(7, 5)) * np.array([0.01, 0.1, 0.5, 1.0, 3.0])
  labels = np.array([0, 2, 0, 2, 2, 0, 0], np.int32)
  return h.astype(np.float32), labels


def test_kernel_matches_numpy():
  h, _ = _batch()
  got = np.asarray(trvae.multiscale_rbf(jnp.asarray(h), jnp.asarray(h[:4])))
  want = np_kernel(h.astype(np.float64), h[:4].astype(np.float64))
  np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-7)
  assert trvae.SIGMAS == tuple(NP_SIGMAS)
  np.testing.assert_array_equal(np.diag(got[:4, :4]), 1.0)  # exact zeros


def test_mmd_loss_three_conditions_one_empty():
  h, labels = _batch()
  got = float(trvae.mmd_loss(jnp.asarray(h), jnp.asarray(labels), 3, 500.0))
  want = np_mmd_loss(h.astype(np.float64), labels, 3, 500.0)
  assert want > 0
  np.testing.assert_allclose(got, want, rtol=1e-4)
  # The one pair with both groups present carries everything.
  np.testing.assert_allclose(
      got, 500.0 * np_mmd(h[labels == 0].astype(np.float64),
                          h[labels == 2].astype(np.float64)), rtol=1e-4)
  # jit-friendly: the same value compiled, finite gradients.
  jitted = jax.jit(trvae.mmd_loss, static_argnums=(2, 3))
  np.testing.assert_allclose(float(jitted(h, labels, 3, 500.0)), got,
                             rtol=1e-6)
  g = jax.grad(lambda x: trvae.mmd_loss(x, labels, 3, 500.0))(jnp.asarray(h))
  assert np.all(np.isfinite(np.asarray(g)))


def test_mmd_loss_all_pairs_when_all_present():
  h, _ = _batch()
  labels = np.array([0, 1, 2, 1, 2, 0, 1], np.int32)
  got = float(trvae.mmd_loss(jnp.asarray(h), jnp.asarray(labels), 3, 2.0))
  np.testing.assert_allclose(
      got, np_mmd_loss(h.astype(np.float64), labels, 3, 2.0), rtol=1e-4)
  # A single present condition: no pair, zero loss.
  zero = trvae.mmd_loss(jnp.asarray(h), jnp.zeros(7, jnp.int32), 3, 2.0)
  assert float(zero) == 0.0


def test_reconstruction_and_kl_match_numpy():
  rng = np.random.default_rng(1)
  x = rng.uniform(size=(3, 4, 4, 3)).astype(np.float32)
  x_hat = rng.uniform(size=(3, 4, 4, 3)).astype(np.float32)
  mu = rng.normal(size=(3, 6)).astype(np.float32)
  lv = rng.normal(size=(3, 6)).astype(np.float32)
  xd, hd, mud, lvd = (a.astype(np.float64) for a in (x, x_hat, mu, lv))
  # [rep] kl_recon: 0.5 * K.sum(square) (whole batch), 0.5 * K.mean(...).
  np.testing.assert_allclose(
      float(trvae.reconstruction_loss(x, x_hat, 100.0)),
      100.0 * 0.5 * ((xd - hd) ** 2).sum(), rtol=1e-5)
  np.testing.assert_allclose(
      float(trvae.kl_loss(mu, lv, 5e-5)),
      5e-5 * 0.5 * (np.exp(lvd) + mud ** 2 - 1 - lvd).mean(), rtol=1e-5)


# ------------------------------------------------------------- models
def test_arch3_parameter_count_and_shapes():
  model = trvae_models.create('arch3', n_conditions=3, z_dim=60,
                              image_size=64)
  params = trvae_models.abstract_params(model)
  assert trvae_models.param_count(params['encoder']) == 17_635_576
  assert trvae_models.param_count(params['decoder']) == 25_626_051
  assert trvae_models.param_count(params) == 43_261_627
  shapes = trvae_models.layer_shapes(params)
  assert shapes['encoder/label_fc2/kernel'] == (128, 64 * 64)
  assert shapes['encoder/conv1_1/kernel'] == (3, 3, 4, 64)  # image + plane
  assert shapes['encoder/fc1/kernel'] == (2 * 2 * 512, 1024)
  assert shapes['decoder/mmd/kernel'] == (60 + 128, 128)
  assert shapes['decoder/fc2/kernel'] == (1024, 4 * 4 * 512)
  assert shapes['decoder/out/kernel'] == (1, 1, 64, 3)
  out = jax.eval_shape(
      lambda p, x, c: model.apply({'params': p}, x, c, c), params,
      jax.ShapeDtypeStruct((2, 64, 64, 3), jnp.float32),
      jax.ShapeDtypeStruct((2, 3), jnp.float32))
  assert [o.shape for o in out] == [(2, 64, 64, 3), (2, 128), (2, 60),
                                    (2, 60)]


def _keras_reference(n, z):
  """[rep] _dctrvae.py arch_style=3, layer for layer (zero init: cheap)."""
  keras = pytest.importorskip('keras')
  lay = keras.layers
  dense = lambda u, **k: lay.Dense(u, kernel_initializer='zeros', **k)
  conv = lambda f, k, **kw: lay.Conv2D(f, k, padding='same',
                                       kernel_initializer='zeros', **kw)
  deconv = lambda f, k, **kw: lay.Conv2DTranspose(
      f, k, padding='same', kernel_initializer='zeros', **kw)
  x, y = keras.Input((64, 64, 3)), keras.Input((n,))
  h = dense(128, activation='relu', name='label_fc1')(y)
  h = dense(64 * 64, activation='relu', name='label_fc2')(h)
  h = lay.concatenate([x, lay.Reshape((64, 64, 1))(h)])
  for b, block in enumerate([(64, 64), (128, 128), (256,) * 3, (512,) * 3,
                             (512,) * 3]):
    for i, f in enumerate(block):
      h = conv(f, 3, activation='relu', name=f'conv{b + 1}_{i + 1}')(h)
    h = lay.MaxPooling2D((2, 2))(h)
  h = lay.Activation('relu')(dense(1024, name='fc1')(lay.Flatten()(h)))
  h = lay.Activation('relu')(dense(256, name='fc2')(h))
  h = lay.Dropout(0.2)(h)
  enc = keras.Model([x, y], [dense(z, name='mu')(h),
                             dense(z, name='log_var')(h)])
  zi, y2 = keras.Input((z,)), keras.Input((n,))
  e = dense(128, activation='relu', name='label_fc')(y2)
  h = lay.Activation('relu')(lay.concatenate([zi, e], axis=1))
  m = lay.Activation('relu')(dense(128, name='mmd')(h))
  h = lay.Activation('relu')(dense(1024, name='fc1')(m))
  h = lay.Activation('relu')(dense(512 * 4 * 4, name='fc2')(h))
  h = lay.Reshape((4, 4, 512))(h)
  for b, block in enumerate([(512,) * 3, (512,) * 3, (256,) * 3, (128,) * 2,
                             (64,) * 2]):
    if b:
      h = lay.UpSampling2D((2, 2))(h)
    for i, f in enumerate(block):
      h = deconv(f, 3, activation='relu', name=f'deconv{b + 1}_{i + 1}')(h)
  h = deconv(3, 1, activation='relu', name='out')(h)
  dec = keras.Model([zi, y2], [h, m])
  return enc, dec


def test_arch3_matches_keras_reference_layout():
  enc, dec = _keras_reference(3, 60)
  assert enc.count_params() + dec.count_params() == 43_261_627
  model = trvae_models.create('arch3', n_conditions=3, z_dim=60,
                              image_size=64)
  shapes = trvae_models.layer_shapes(trvae_models.abstract_params(model))
  want = {}
  for part, km in (('encoder', enc), ('decoder', dec)):
    for layer in km.layers:
      for w in layer.weights:
        shape = tuple(w.shape)
        if 'conv2d_transpose' in type(layer).__name__.lower() or (
            layer.name.startswith('deconv') or layer.name == 'out'):
          if len(shape) == 4:  # Keras [kh, kw, out, in] -> ours [.., in, out]
            shape = shape[:2] + (shape[3], shape[2])
        want[f'{part}/{layer.name}/{w.name}'] = shape
  assert want == shapes


def test_small_arch_shapes_and_count():
  model = trvae_models.create('small', n_conditions=3, z_dim=60,
                              image_size=64)
  params = trvae_models.abstract_params(model)
  assert trvae_models.param_count(params) == 2_570_075


def test_forward_shapes_and_dropout_rng():
  # A tiny arch of the same layout keeps the eager init cheap.
  tiny = trvae_models.Arch(enc_blocks=((4,), (4,)), enc_dense=(8,),
                           dec_dense=(8,), dec_start_channels=4,
                           dec_blocks=((4,), (4,), (4,)), label_units=4,
                           mmd_units=8)
  model = trvae_models.create(tiny, n_conditions=2, z_dim=3, image_size=8)
  x = jnp.full((3, 8, 8, 3), 0.5)
  c = jax.nn.one_hot(jnp.array([0, 1, 0]), 2)
  params = jax.jit(model.init)(jax.random.key(0), x, c, c)['params']
  apply = jax.jit(model.apply, static_argnames='train')
  recon, h, mu, lv = apply({'params': params}, x, c, c)
  assert recon.shape == x.shape and h.shape == (3, 8)
  assert mu.shape == lv.shape == (3, 3)
  assert float(recon.min()) >= 0.0  # [rep] relu output
  run = lambda k: apply({'params': params}, x, c, c, train=True,
                        rngs={'dropout': k, 'sample': k})[2]
  np.testing.assert_array_equal(run(jax.random.key(1)), run(jax.random.key(1)))
  assert not np.array_equal(run(jax.random.key(1)), run(jax.random.key(2)))


# --------------------------------------------------------------- data
def _folders(tmp_path):
  """real: two folders (mixed sizes, one corrupt file); anime: one."""
  rng = np.random.default_rng(0)
  for sub, n, size in (('a', 6, (40, 30)), ('b', 5, (20, 20)),
                       ('c', 9, (64, 64))):
    os.makedirs(tmp_path / sub)
    for i in range(n):
      arr = rng.integers(0, 256, size=size[::-1] + (3,), dtype=np.uint8)
      Image.fromarray(arr).save(tmp_path / sub / f'{i}.png')
  (tmp_path / 'a' / 'broken.jpg').write_bytes(b'not an image')
  cfg = ml_collections.ConfigDict(dict(
      source='folders', root=str(tmp_path), conditions='real=a,b;anime=c',
      image_size=16, num_val_per_condition=2, max_per_condition=0,
      balanced=False, crop='center', procedural_epoch_size=4))
  return cfg


def test_labelled_folders_split_skip_and_determinism(tmp_path):
  cfg = _folders(tmp_path)
  data = conditions.load(cfg, seed=3)
  assert data.names == ('real', 'anime')
  assert len(data.skipped_files) == 1
  assert data.skipped_files[0].endswith('broken.jpg')
  assert [len(t) for t in data.train] == [12 - 2 - 1, 9 - 2]
  assert [v.shape for v in data.val] == [(2, 16, 16, 3)] * 2
  assert conditions.load(cfg, seed=3).val[0].tobytes() == data.val[0].tobytes()

  stream = conditions.ConditionStream(data, seed=3, global_batch=4)
  batches = [next(stream) for _ in range(6)]  # > 1 epoch of 16
  assert batches[0]['image'].shape == (4, 16, 16, 3)
  assert batches[0]['image'].dtype == np.float32
  assert 0.0 <= batches[0]['image'].min() and batches[0]['image'].max() <= 1.0
  resumed = conditions.ConditionStream(data, seed=3, global_batch=4,
                                       start_step=4)
  for want in batches[4:]:
    got = next(resumed)
    np.testing.assert_array_equal(got['image'], want['image'])
    np.testing.assert_array_equal(got['condition'], want['condition'])
  # One epoch visits every training image once.
  idx = np.concatenate([stream.global_indices(s) for s in range(4)])
  assert sorted(idx) == list(range(16))
  # Processes take disjoint slices of the same global batch.
  halves = [conditions.ConditionStream(data, seed=3, global_batch=4,
                                       process_index=p, process_count=2)
            for p in range(2)]
  both = np.concatenate([h.batch(5)['condition'] for h in halves])
  np.testing.assert_array_equal(both, batches[5]['condition'])
  balanced = conditions.ConditionStream(data, seed=3, global_batch=4,
                                        balanced=True)
  for s in range(5):
    assert list(np.bincount(balanced.batch(s)['condition'])) == [2, 2]


def test_celeba_landmark_crop():
  image = np.arange(218 * 178 * 3, dtype=np.uint32).reshape(218, 178, 3)
  image = (image % 251).astype(np.uint8)
  lm = dict(lefteye_x=69, lefteye_y=111, righteye_x=108, righteye_y=111,
            nose_x=88, nose_y=134, leftmouth_x=71, leftmouth_y=152,
            rightmouth_x=105, rightmouth_y=152)
  face = conditions.celeba_crop(image, lm, 16)
  # [rep]: x from min(69, 71) - 15 = 54 to min(108, 105) + 15 = 120, y from
  # 111 - 35 = 76 to 152 + 25 = 177, nearest-neighbour resize.
  want = np.asarray(Image.fromarray(image).crop((54, 76, 120, 177)).resize(
      (16, 16), Image.NEAREST))
  np.testing.assert_array_equal(face, want)
  assert conditions.celeba_crop(image, dict(lm, righteye_x=95), 16) is None


def test_parse_conditions_errors():
  assert conditions.parse_conditions('x=a, b ;y=/c', '/r') == [
      ('x', ['/r/a', '/r/b']), ('y', ['/c'])]
  for bad in ('x=a', 'x=a;x=b', 'x;y=b', 'x=;y=b'):
    with pytest.raises(ValueError, match='config.data.conditions'):
      conditions.parse_conditions(bad)


def test_config_errors_name_the_keys():
  from configs import trvae_small  # pylint: disable=g-import-not-at-top
  c = trvae_small.get_config()
  assert not trvae.config_errors(c)
  c.eval.target = 'cartoon'
  c.data.image_size = 40
  c.model.arch = 'arch9'
  errors = '\n'.join(trvae.config_errors(c))
  assert "config.eval.target='cartoon' is not a condition" in errors
  assert "config.model.arch='arch9'" in errors
  c.model.arch = 'small'
  assert 'config.data.image_size=40 must be a multiple of 16' in '\n'.join(
      trvae.config_errors(c))


# ---------------------------------------------------------- cartoonize
@pytest.mark.slow  # compiles init and transfer: ~30 CPU-seconds
def test_cartoonize_transfer_mixed_sizes_and_unknown_names(tmp_path, capsys):
  from animejax import cartoonize, checkpointing, methods  # pylint: disable=g-import-not-at-top
  config = trvae.smoke_config()
  method = methods.create(config)
  state = jax.jit(method.init)(jax.random.key(0))
  ckpt = checkpointing.Checkpointer(str(tmp_path / 'run'), keep=1,
                                    async_save=False)
  ckpt.save(1, state, {'method': 'trvae', 'state_version': 1,
                       **method.checkpoint_meta(1),
                       'config': config.to_dict()})
  ckpt.close()
  faces = tmp_path / 'faces'
  os.makedirs(faces / 'sub')
  rng = np.random.default_rng(0)
  for name, (w, h) in (('a.png', (50, 40)), ('sub/b.jpg', (17, 33)),
                       ('c.png', (32, 32))):
    Image.fromarray(rng.integers(0, 256, (h, w, 3), np.uint8)).save(
        faces / name)
  (faces / 'broken.png').write_bytes(b'no')
  args = ['--weights', str(tmp_path / 'run'), '--input', str(faces),
          '--output', str(tmp_path / 'out'), '--source', 'photo',
          '--target', 'anime', '--batch', '2', '--no-progress']
  assert cartoonize.main(args) == cartoonize.EXIT_SOME_FAILED
  for name in ('a.png', 'sub/b.jpg', 'c.png'):
    assert np.asarray(Image.open(tmp_path / 'out' / name)).shape == (32, 32, 3)
  capsys.readouterr()
  args[args.index('anime')] = 'cartoon'
  assert cartoonize.main(args) == cartoonize.EXIT_USAGE
  assert ("--target 'cartoon' is not a condition of this model; known: "
          "['photo', 'anime']") in capsys.readouterr().err
