"""Tests for VGG19 features and the VGG19 weight loaders (no downloads)."""

import hashlib
import logging
import os
import pathlib

import h5py
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from animejax.models import vgg19
from animejax.models import vgg_weights

# torchvision models/vgg.py cfgs['E'], written out independently of vgg19.py.
CFG_E = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M',
         512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M']
# Index in torchvision `features` of each conv, and of the block layer names.
TORCH_IDX = {'conv1_1': 0, 'conv2_2': 7, 'conv3_1': 10, 'conv4_4': 25}
H = W = 64


def _images(n=2, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, (n, H, W, 3)).astype(
      np.float32)


@pytest.fixture(scope='module')
def torch_vgg():
  """A torchvision-layout VGG19 `features` with He-normal random weights."""
  torch = pytest.importorskip('torch')

  class Net(torch.nn.Module):

    def __init__(self):
      super().__init__()
      layers, cin = [], 3
      for v in CFG_E:
        if v == 'M':
          layers.append(torch.nn.MaxPool2d(2, 2))
        else:
          layers += [torch.nn.Conv2d(cin, v, 3, padding=1),
                     torch.nn.ReLU(inplace=False)]
          cin = v
      self.features = torch.nn.Sequential(*layers)

  torch.manual_seed(0)
  net = Net().eval()
  with torch.no_grad():
    for m in net.features:
      if isinstance(m, torch.nn.Conv2d):
        torch.nn.init.kaiming_normal_(m.weight)
        m.bias.normal_(0.0, 0.05)
  return net


@pytest.fixture(scope='module')
def hwio_arrays(torch_vgg):
  """The same weights as numpy {name: (kernel HWIO, bias)}."""
  convs = [m for m in torch_vgg.features if hasattr(m, 'weight')]
  return {name: (c.weight.detach().numpy().transpose(2, 3, 1, 0).copy(),
                 c.bias.detach().numpy().copy())
          for name, c in zip(vgg19.CONV_NAMES, convs)}


@pytest.fixture(scope='module')
def jit_features():
  fns = {}

  def run(preprocess, params, x, layer, pre_relu):
    key = (preprocess, layer, pre_relu)
    if key not in fns:
      model = vgg19.VGG19(preprocess=preprocess)
      fns[key] = jax.jit(lambda p, x: model.apply(
          {'params': p}, x, layer=layer, pre_relu=pre_relu))
    return np.asarray(fns[key](params, x))
  return run


def _close(got, want, what):
  scale = np.abs(want).max()
  assert scale > 0, what
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * scale,
                             err_msg=what)


# ----------------------------------------------------------------- torch .pth
@pytest.mark.parametrize('legacy', [True, False], ids=['legacy', 'zip'])
def test_torch_state_dict_matches_torch_features(tmp_path, torch_vgg,
                                                 jit_features, legacy):
  torch = pytest.importorskip('torch')
  path = tmp_path / 'vgg19.pth'
  # torchvision's own file is the legacy (pre-1.6) format.
  torch.save(torch_vgg.state_dict(), path,
             _use_new_zipfile_serialization=not legacy)
  params, preprocess = vgg_weights.load_vgg19(str(path))
  assert preprocess == 'torch'
  x = _images()
  # torchvision ImageNet normalisation, written out here independently.
  mean = np.array([0.485, 0.456, 0.406], np.float32)
  std = np.array([0.229, 0.224, 0.225], np.float32)
  xt = torch.from_numpy((((x + 1) / 2 - mean) / std).transpose(0, 3, 1, 2)
                        .copy())
  cases = [('conv4_4', True), ('conv2_2', False)]
  if legacy:
    cases.append(('conv1_1', True))
  for layer, pre_relu in cases:
    stop = TORCH_IDX[layer] + (1 if pre_relu else 2)
    with torch.no_grad():
      want = torch_vgg.features[:stop](xt).numpy().transpose(0, 2, 3, 1)
    got = jit_features(preprocess, params, x, layer, pre_relu)
    assert got.shape == want.shape
    _close(got, want, f'{layer} pre_relu={pre_relu}')


# ----------------------------------------------------------------- keras .h5
def _write_keras_legacy_h5(path, arrays):
  """The layout of the released *_tf_kernels_notop.h5 (Keras 1 names)."""
  names = ['input_1']
  for b, n in enumerate([2, 2, 4, 4, 4]):
    names += [f'block{b + 1}_conv{i + 1}' for i in range(n)]
    names.append(f'block{b + 1}_pool')
  with h5py.File(path, 'w') as f:
    f.attrs['layer_names'] = [n.encode() for n in names]
    convs = iter(vgg19.CONV_NAMES)
    for name in names:
      g = f.create_group(name)
      if 'conv' not in name:
        g.attrs['weight_names'] = np.array([], dtype='S1')
        continue
      kernel, bias = arrays[next(convs)]
      wn = [f'{name}_W_1:0', f'{name}_b_1:0']
      g.attrs['weight_names'] = [n.encode() for n in wn]
      g.create_dataset(wn[0], data=kernel)
      g.create_dataset(wn[1], data=bias)


def _tf_vgg(x_rgb_pm1, arrays, layer, pre_relu):
  """VGG19 from tf.nn ops on Keras' own 'caffe' preprocess_input."""
  tf = pytest.importorskip('tensorflow')
  keras_vgg19 = tf.keras.applications.vgg19
  y = tf.constant(keras_vgg19.preprocess_input((x_rgb_pm1 + 1.0) * 127.5))
  for name in vgg19.CONV_NAMES:
    if name.endswith('_1') and name != 'conv1_1':
      y = tf.nn.max_pool2d(y, 2, 2, 'SAME')
    kernel, bias = arrays[name]
    y = tf.nn.bias_add(tf.nn.conv2d(y, kernel, 1, 'SAME'), bias)
    if name == layer and pre_relu:
      return y.numpy()
    y = tf.nn.relu(y)
    if name == layer:
      return y.numpy()


def test_keras_h5_matches_tensorflow(tmp_path, hwio_arrays, jit_features):
  path = tmp_path / 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5'
  _write_keras_legacy_h5(path, hwio_arrays)
  params, preprocess = vgg_weights.load_vgg19(str(path))
  assert preprocess == 'caffe'
  x = _images(seed=1)
  for layer, pre_relu in [('conv4_4', True), ('conv3_1', False)]:
    want = _tf_vgg(x, hwio_arrays, layer, pre_relu)
    got = jit_features(preprocess, params, x, layer, pre_relu)
    _close(got, want, f'{layer} pre_relu={pre_relu}')


def test_keras2_h5_layout(tmp_path, hwio_arrays):
  # Keras 2 save_weights layout: <layer>/<layer>/kernel:0, bias:0.
  path = tmp_path / 'k2.h5'
  with h5py.File(path, 'w') as f:
    for b, n in enumerate([2, 2, 4, 4, 4]):
      for i in range(n):
        name = f'block{b + 1}_conv{i + 1}'
        g = f.create_group(f'model_weights/{name}/{name}')
        kernel, bias = hwio_arrays[f'conv{b + 1}_{i + 1}']
        g.create_dataset('kernel:0', data=kernel)
        g.create_dataset('bias:0', data=bias)
  params = vgg_weights.load_vgg19_params(str(path))
  np.testing.assert_array_equal(params['conv5_4']['kernel'],
                                hwio_arrays['conv5_4'][0])


# ------------------------------------------------------------ AnimeGAN .npy
def test_animegan_npy(tmp_path, hwio_arrays):
  data = {name: [k, b] for name, (k, b) in hwio_arrays.items()}
  data['fc8'] = [np.zeros((4, 2), np.float32), np.zeros(2, np.float32)]
  path = tmp_path / 'vgg19.npy'
  np.save(path, data, allow_pickle=True)
  params, preprocess = vgg_weights.load_vgg19(str(path))
  assert preprocess == 'caffe'
  assert set(params) == set(vgg19.CONV_NAMES)
  for name, (k, b) in hwio_arrays.items():
    np.testing.assert_array_equal(params[name]['kernel'], k)
    np.testing.assert_array_equal(params[name]['bias'], b)


class _Evil:

  def __reduce__(self):
    return (os.system, ('touch /tmp/animejax_npy_pwned',))


def test_npy_refuses_arbitrary_objects(tmp_path):
  path = tmp_path / 'evil.npy'
  np.save(path, {'conv1_1': [_Evil(), 1]}, allow_pickle=True)
  with pytest.raises(Exception, match='refusing'):
    vgg_weights.load_vgg19(str(path))
  assert not os.path.exists('/tmp/animejax_npy_pwned')


# ----------------------------------------------------------------- torchvision
def _fake_torchvision_file(tmp_path, torch_vgg):
  torch = pytest.importorskip('torch')
  src = tmp_path / 'src' / 'vgg19.pth'
  src.parent.mkdir()
  torch.save(torch_vgg.state_dict(), src, _use_new_zipfile_serialization=False)
  return src, hashlib.sha256(src.read_bytes()).hexdigest()


def test_torchvision_download_checks_hash_and_caches(tmp_path, torch_vgg,
                                                     hwio_arrays):
  src, sha = _fake_torchvision_file(tmp_path, torch_vgg)
  cache = tmp_path / 'cache'
  url = src.as_uri()  # file:// stands in for download.pytorch.org.
  with pytest.raises(ValueError, match='SHA-256'):
    vgg_weights.torchvision_params(str(cache), url=url,
                                   sha256_prefix='dcbb9e9d')
  assert not (cache / vgg_weights.TORCHVISION_FILE).exists()
  assert not list(cache.glob('*.part'))
  params = vgg_weights.torchvision_params(str(cache), url=url,
                                          sha256_prefix=sha[:8])
  assert (cache / vgg_weights.CACHE_FILE).is_file()
  # Second call: from the converted cache only (the .pth may be deleted).
  (cache / vgg_weights.TORCHVISION_FILE).unlink()
  again, preprocess = vgg_weights.load_vgg19(
      str(cache / vgg_weights.CACHE_FILE))
  assert preprocess == 'torch'
  cached = vgg_weights.load_vgg19_params('torchvision', str(cache))
  for name, (k, b) in hwio_arrays.items():
    np.testing.assert_array_equal(params[name]['kernel'], k)
    np.testing.assert_array_equal(again[name]['kernel'], k)
    np.testing.assert_array_equal(cached[name]['bias'], b)


def test_torchvision_offline_error_says_what_to_fetch(tmp_path):
  cache = tmp_path / 'cache'
  # Port 9 (discard) on localhost: connection refused, nothing downloaded.
  url = 'http://127.0.0.1:9/vgg19-dcbb9e9d.pth'
  with pytest.raises(FileNotFoundError) as err:
    vgg_weights.torchvision_params(str(cache), url=url)
  msg = str(err.value)
  assert url in msg
  assert str(cache / 'vgg19-dcbb9e9d.pth') in msg
  assert '--config.vgg.weights=' in msg


def test_torchvision_file_placed_in_cache_is_hash_checked(tmp_path, torch_vgg):
  src, _ = _fake_torchvision_file(tmp_path, torch_vgg)
  cache = tmp_path / 'cache'
  cache.mkdir()
  os.link(src, cache / vgg_weights.TORCHVISION_FILE)
  with pytest.raises(ValueError, match='does not start with'):
    vgg_weights.load_vgg19_params('torchvision', str(cache))


# ------------------------------------------------------------ random/config
def test_random_weights_are_fixed_and_loud(caplog):
  with caplog.at_level(logging.WARNING):
    a, preprocess = vgg_weights.load_vgg19('random')
  assert 'MEANINGLESS' in caplog.text
  b = vgg_weights.load_vgg19_params('random')
  assert preprocess == 'torch'
  for name in vgg19.CONV_NAMES:
    np.testing.assert_array_equal(a[name]['kernel'], b[name]['kernel'])
  assert a['conv1_1']['kernel'].shape == (3, 3, 3, 64)
  # He-normal scale: std sqrt(2 / fan_in).
  np.testing.assert_allclose(a['conv5_4']['kernel'].std(),
                             np.sqrt(2 / (9 * 512)), rtol=0.02)


def test_vgg_from_config_resolves_preprocessing(tmp_path, hwio_arrays, caplog):
  cfg = ml_collections.ConfigDict(
      {'weights': 'random', 'preprocess': 'auto', 'cache_dir': '',
       'layer': 'conv4_4'})
  model, _ = vgg_weights.vgg_from_config(cfg)
  assert model.preprocess == 'torch'
  path = tmp_path / 'vgg19.npy'
  np.save(path, {n: [k, b] for n, (k, b) in hwio_arrays.items()})
  cfg.weights = str(path)
  model, _ = vgg_weights.vgg_from_config(cfg, dtype=jnp.bfloat16)
  assert model.preprocess == 'caffe' and model.dtype == jnp.bfloat16
  cfg.preprocess = 'torch'  # A deliberate mismatch is honoured, loudly.
  with caplog.at_level(logging.WARNING):
    model, _ = vgg_weights.vgg_from_config(cfg)
  assert model.preprocess == 'torch' and 'trained with' in caplog.text
  cfg.preprocess = 'bgr'
  with pytest.raises(ValueError, match='vgg.preprocess'):
    vgg_weights.vgg_from_config(cfg)


def test_bad_weight_files(tmp_path, hwio_arrays):
  with pytest.raises(ValueError, match='expected "torchvision"'):
    vgg_weights.load_vgg19('weights.onnx')
  with pytest.raises(FileNotFoundError, match='no file'):
    vgg_weights.load_vgg19(str(tmp_path / 'missing.h5'))
  bad = dict(hwio_arrays)
  bad['conv3_4'] = (bad['conv3_4'][0][..., :128], bad['conv3_4'][1][:128])
  path = tmp_path / 'bad.npy'
  np.save(path, {n: [k, b] for n, (k, b) in bad.items()})
  with pytest.raises(ValueError, match='conv3_4'):
    vgg_weights.load_vgg19(str(path))
  h5 = tmp_path / 'empty.h5'
  with h5py.File(h5, 'w') as f:
    f.create_group('block1_conv1')
  with pytest.raises(ValueError, match='block1_conv1'):
    vgg_weights.load_vgg19(str(h5))


# ----------------------------------------------------------------- the module
def test_preprocessing_numbers():
  x = jnp.asarray(_images(1, seed=3))
  caffe = np.asarray(vgg19.preprocess_images(x, 'caffe'))
  rgb255 = (np.asarray(x) + 1) * 127.5
  np.testing.assert_allclose(caffe[..., 0], rgb255[..., 2] - 103.939,
                             rtol=1e-5, atol=1e-4)
  np.testing.assert_allclose(caffe[..., 2], rgb255[..., 0] - 123.68,
                             rtol=1e-5, atol=1e-4)
  torch_pre = np.asarray(vgg19.preprocess_images(x, 'torch'))
  np.testing.assert_allclose(
      torch_pre[..., 1], ((np.asarray(x)[..., 1] + 1) / 2 - 0.456) / 0.224,
      rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match='vgg_from_config'):
    vgg19.preprocess_images(x, 'auto')


def test_stops_at_requested_layer():
  model = vgg19.VGG19(preprocess='torch')
  x = jnp.zeros((1, 32, 32, 3))
  variables = jax.eval_shape(
      lambda: model.init(jax.random.key(0), x, layer='conv2_2'))
  assert sorted(variables['params']) == ['conv1_1', 'conv1_2', 'conv2_1',
                                         'conv2_2']
  shapes = {layer: jax.eval_shape(
      lambda l=layer: model.apply({'params': vgg_weights.random_params()}, x,
                                  layer=l)).shape
            for layer in ('conv1_2', 'conv3_4', 'conv5_4')}
  assert shapes == {'conv1_2': (1, 32, 32, 64), 'conv3_4': (1, 8, 8, 256),
                    'conv5_4': (1, 2, 2, 512)}
  with pytest.raises(ValueError, match='vgg.layer'):
    model.init(jax.random.key(0), x, layer='relu4_4')


def test_pre_relu_and_bfloat16(jit_features):
  params = vgg_weights.random_params()
  x = jnp.asarray(_images(1, seed=4)[:, :32, :32])
  pre = jit_features('torch', params, x, 'conv3_1', True)
  post = jit_features('torch', params, x, 'conv3_1', False)
  assert (pre < 0).any()
  np.testing.assert_array_equal(post, np.maximum(pre, 0))
  model = vgg19.VGG19(preprocess='torch', dtype=jnp.bfloat16)
  y = model.apply({'params': params}, x, layer='conv3_1')
  assert y.dtype == jnp.bfloat16
  err = np.abs(np.asarray(y, np.float32) - pre).max()
  assert err < 0.05 * np.abs(pre).max()


def test_cache_dir_default_is_under_home():
  assert pathlib.Path(vgg_weights.default_cache_dir()).parts[-2:] == (
      '.cache', 'animejax')
