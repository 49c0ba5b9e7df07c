"""The FID Inception-v3 (animejax/models/inception_fid.py) against an
independent torch implementation of [pf] mseitzer/pytorch-fid
`src/pytorch_fid/inception.py` (torchvision's Inception3 with the FID
patches), on a pt_inception-format file that the test writes with
torch.save (random weights of the published names and shapes; nothing is
downloaded). Also: the offline message and the pinned hash."""

import os
import urllib.error

import jax
import numpy as np
import pytest

from animejax.models import inception_fid

torch = pytest.importorskip('torch')
F = torch.nn.functional


# ------------------------------------------------------------------ torch
# A functional re-statement of [pf]/torchvision, written from their source
# (BasicConv2d, InceptionA..E, the FID patches), not from the Flax module.
def _conv(sd, name, x, stride=1, padding=0):
  y = F.conv2d(x, sd[f'{name}.conv.weight'], stride=stride, padding=padding)
  y = F.batch_norm(y, sd[f'{name}.bn.running_mean'],
                   sd[f'{name}.bn.running_var'], sd[f'{name}.bn.weight'],
                   sd[f'{name}.bn.bias'], False, 0.0, 0.001)
  return F.relu(y)


def _avg(x):  # FID patch: TF's average pool ignores the padded zeros
  return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


def _block_a(sd, n, x):
  b1 = _conv(sd, f'{n}.branch1x1', x)
  b5 = _conv(sd, f'{n}.branch5x5_2', _conv(sd, f'{n}.branch5x5_1', x),
             padding=2)
  b3 = _conv(sd, f'{n}.branch3x3dbl_1', x)
  b3 = _conv(sd, f'{n}.branch3x3dbl_2', b3, padding=1)
  b3 = _conv(sd, f'{n}.branch3x3dbl_3', b3, padding=1)
  return torch.cat([b1, b5, b3, _conv(sd, f'{n}.branch_pool', _avg(x))], 1)


def _block_b(sd, n, x):
  b3 = _conv(sd, f'{n}.branch3x3', x, stride=2)
  bd = _conv(sd, f'{n}.branch3x3dbl_1', x)
  bd = _conv(sd, f'{n}.branch3x3dbl_2', bd, padding=1)
  bd = _conv(sd, f'{n}.branch3x3dbl_3', bd, stride=2)
  return torch.cat([b3, bd, F.max_pool2d(x, 3, 2)], 1)


def _block_c(sd, n, x):
  b1 = _conv(sd, f'{n}.branch1x1', x)
  b7 = _conv(sd, f'{n}.branch7x7_1', x)
  b7 = _conv(sd, f'{n}.branch7x7_2', b7, padding=(0, 3))
  b7 = _conv(sd, f'{n}.branch7x7_3', b7, padding=(3, 0))
  bd = _conv(sd, f'{n}.branch7x7dbl_1', x)
  for i, pad in ((2, (3, 0)), (3, (0, 3)), (4, (3, 0)), (5, (0, 3))):
    bd = _conv(sd, f'{n}.branch7x7dbl_{i}', bd, padding=pad)
  return torch.cat([b1, b7, bd, _conv(sd, f'{n}.branch_pool', _avg(x))], 1)


def _block_d(sd, n, x):
  b3 = _conv(sd, f'{n}.branch3x3_2', _conv(sd, f'{n}.branch3x3_1', x),
             stride=2)
  b7 = _conv(sd, f'{n}.branch7x7x3_1', x)
  b7 = _conv(sd, f'{n}.branch7x7x3_2', b7, padding=(0, 3))
  b7 = _conv(sd, f'{n}.branch7x7x3_3', b7, padding=(3, 0))
  b7 = _conv(sd, f'{n}.branch7x7x3_4', b7, stride=2)
  return torch.cat([b3, b7, F.max_pool2d(x, 3, 2)], 1)


def _block_e(sd, n, x, pool):
  b1 = _conv(sd, f'{n}.branch1x1', x)
  b3 = _conv(sd, f'{n}.branch3x3_1', x)
  b3 = torch.cat([_conv(sd, f'{n}.branch3x3_2a', b3, padding=(0, 1)),
                  _conv(sd, f'{n}.branch3x3_2b', b3, padding=(1, 0))], 1)
  bd = _conv(sd, f'{n}.branch3x3dbl_1', x)
  bd = _conv(sd, f'{n}.branch3x3dbl_2', bd, padding=1)
  bd = torch.cat([_conv(sd, f'{n}.branch3x3dbl_3a', bd, padding=(0, 1)),
                  _conv(sd, f'{n}.branch3x3dbl_3b', bd, padding=(1, 0))], 1)
  # FID patch: E_1 average pool without padding, E_2 max pool.
  p = _avg(x) if pool == 'avg' else F.max_pool2d(x, 3, 1, 1)
  return torch.cat([b1, b3, bd, _conv(sd, f'{n}.branch_pool', p)], 1)


def torch_pool3(sd, images01, resize=True):
  """[pf] InceptionV3(output_blocks=[3]) on NCHW images in [0, 1]."""
  x = images01
  if resize:
    x = F.interpolate(x, size=(299, 299), mode='bilinear',
                      align_corners=False)
  x = 2 * x - 1
  x = _conv(sd, 'Conv2d_1a_3x3', x, stride=2)
  x = _conv(sd, 'Conv2d_2a_3x3', x)
  x = _conv(sd, 'Conv2d_2b_3x3', x, padding=1)
  x = F.max_pool2d(x, 3, 2)
  x = _conv(sd, 'Conv2d_3b_1x1', x)
  x = _conv(sd, 'Conv2d_4a_3x3', x)
  x = F.max_pool2d(x, 3, 2)
  for n in ('Mixed_5b', 'Mixed_5c', 'Mixed_5d'):
    x = _block_a(sd, n, x)
  x = _block_b(sd, 'Mixed_6a', x)
  for n in ('Mixed_6b', 'Mixed_6c', 'Mixed_6d', 'Mixed_6e'):
    x = _block_c(sd, n, x)
  x = _block_d(sd, 'Mixed_7a', x)
  x = _block_e(sd, 'Mixed_7b', x, 'avg')
  x = _block_e(sd, 'Mixed_7c', x, 'max')
  return F.adaptive_avg_pool2d(x, (1, 1))[:, :, 0, 0]


# The published file's channel widths, written out from torchvision's
# Inception3 / [pf] fid_inception_v3 (in, out of a few layers): the Flax
# module must ask for exactly these.
_PUBLISHED = {'Conv2d_1a_3x3.conv.weight': (32, 3, 3, 3),
              'Conv2d_4a_3x3.conv.weight': (192, 80, 3, 3),
              'Mixed_5b.branch_pool.conv.weight': (32, 192, 1, 1),
              'Mixed_6a.branch3x3.conv.weight': (384, 288, 3, 3),
              'Mixed_6e.branch7x7dbl_5.conv.weight': (192, 192, 1, 7),
              'Mixed_7a.branch3x3_2.conv.weight': (320, 192, 3, 3),
              'Mixed_7b.branch3x3dbl_1.conv.weight': (448, 1280, 1, 1),
              'Mixed_7c.branch_pool.conv.weight': (192, 2048, 1, 1),
              'Mixed_7c.branch3x3_2b.conv.weight': (384, 384, 3, 1)}


def _random_state_dict(seed=0):
  rng = np.random.default_rng(seed)
  sd = {}
  for name, shape in inception_fid.state_dict_shapes().items():
    if name.endswith('conv.weight'):
      fan_in = int(np.prod(shape[1:]))
      v = rng.normal(0, np.sqrt(2.0 / fan_in), shape)
    elif name.endswith('running_var'):
      v = rng.uniform(0.5, 1.5, shape)
    elif name.endswith('bn.weight'):
      v = rng.uniform(0.8, 1.2, shape)
    else:
      v = rng.normal(0, 0.1, shape)
    sd[name] = torch.from_numpy(v.astype(np.float32))
    if name.endswith('bn.running_var'):  # as torch state dicts carry it
      sd[name.replace('running_var', 'num_batches_tracked')] = torch.tensor(0)
  # The 1008-way logits of the TF graph are in the file but unused.
  sd['fc.weight'] = torch.zeros(1008, 2048)
  sd['fc.bias'] = torch.zeros(1008)
  return sd


@pytest.fixture(scope='module')
def written_file(tmp_path_factory):
  sd = _random_state_dict()
  path = str(tmp_path_factory.mktemp('fid') / inception_fid.FID_WEIGHTS_FILE)
  torch.save(sd, path)  # the zip format torch.hub saves
  return path, sd


def test_published_names_and_shapes():
  shapes = inception_fid.state_dict_shapes()
  for name, shape in _PUBLISHED.items():
    assert tuple(shapes[name]) == shape, name
  # 94 BasicConv2d layers in torchvision's Inception3 without the aux head.
  assert sum(k.endswith('conv.weight') for k in shapes) == 94


def test_loader_and_forward_match_torch_reference(written_file):
  path, sd = written_file
  variables = inception_fid.load_variables(path)
  k = variables['params']['Mixed_6e']['branch7x7dbl_5']['conv']['kernel']
  np.testing.assert_array_equal(
      k, sd['Mixed_6e.branch7x7dbl_5.conv.weight'].numpy().transpose(
          2, 3, 1, 0))
  images = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype(
      np.float32)
  got = inception_fid.feature_fn(variables, batch_size=2)(images)
  with torch.no_grad():
    want = torch_pool3(sd, torch.from_numpy(
        (images.transpose(0, 3, 1, 2) + 1) / 2)).numpy()
  assert got.shape == (2, inception_fid.FEATURE_DIM)
  np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-4 * np.abs(
      want).max())
  # The two images differ, and so do their features.
  assert np.abs(got[0] - got[1]).max() > 1e-2 * np.abs(want).max()


def test_bad_state_dict_is_refused(tmp_path):
  sd = _random_state_dict(2)
  del sd['Mixed_7c.branch_pool.conv.weight']
  sd['Conv2d_1a_3x3.conv.weight'] = torch.zeros(16, 3, 3, 3)
  path = str(tmp_path / 'bad.pth')
  torch.save(sd, path)
  with pytest.raises(ValueError, match='1 tensors missing.*Mixed_7c'
                     '.*wrong shapes.*Conv2d_1a_3x3'):
    inception_fid.load_variables(path)


def test_offline_message_names_file_and_place(tmp_path, monkeypatch):
  def no_net(*a, **k):
    raise urllib.error.URLError('offline')
  monkeypatch.setattr(inception_fid.urllib.request, 'urlopen', no_net)
  with pytest.raises(FileNotFoundError) as e:
    inception_fid.fid_weights_path(cache_dir=str(tmp_path))
  msg = str(e.value)
  assert inception_fid.FID_WEIGHTS_FILE in msg
  assert inception_fid.FID_WEIGHTS_URL in msg
  assert os.path.join(str(tmp_path), inception_fid.FID_WEIGHTS_FILE) in msg
  assert os.listdir(tmp_path) == []  # no partial download left behind
  with pytest.raises(FileNotFoundError, match='not found'):
    inception_fid.fid_weights_path(weights=str(tmp_path / 'nope.pth'))


def test_download_with_wrong_hash_is_refused(tmp_path, monkeypatch):
  import io  # pylint: disable=g-import-not-at-top

  class Fake(io.BytesIO):
    def __enter__(self):
      return self

    def __exit__(self, *a):
      return False
  monkeypatch.setattr(inception_fid.urllib.request, 'urlopen',
                      lambda *a, **k: Fake(b'not the weights'))
  with pytest.raises(ValueError, match='6726825d'):
    inception_fid.fid_weights_path(cache_dir=str(tmp_path))
  assert os.listdir(tmp_path) == []
  # A file already in the cache is used as is (no network).
  (tmp_path / inception_fid.FID_WEIGHTS_FILE).write_bytes(b'x')
  assert inception_fid.fid_weights_path(cache_dir=str(tmp_path)).endswith(
      inception_fid.FID_WEIGHTS_FILE)


def test_resize_matches_torch_bilinear():
  x = np.random.default_rng(3).uniform(0, 1, (1, 37, 41, 3)).astype(
      np.float32)
  got = np.asarray(jax.image.resize(x, (1, 299, 299, 3), 'linear',
                                    antialias=False))
  want = F.interpolate(torch.from_numpy(x.transpose(0, 3, 1, 2)),
                       size=(299, 299), mode='bilinear',
                       align_corners=False).numpy().transpose(0, 2, 3, 1)
  np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.slow  # ~100 s CPU: two compilations of the whole Inception
def test_face_methods_name_and_use_the_inception_features(written_file):
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from animejax.methods import dcgan  # pylint: disable=g-import-not-at-top
  path, _ = written_file
  config = dcgan.smoke_config()
  config.eval.features = 'inception'
  config.eval.inception_weights = path
  assert dcgan.config_errors(config) == []
  method = dcgan.create(config)
  assert method.best_metric == ('eval/kid_inception', 'min')
  frozen = method.frozen()
  state = method.init(jax.random.key(0))
  out = method.evaluate(state, frozen, method.input_pipeline(0))
  assert {'eval/kid_inception', 'eval/kid_inception_stderr',
          'eval/fid_inception'} <= set(out)
  assert all(np.isfinite(v) for v in out.values())
  # The real faces' features are the network's pool3 of those faces.
  data = method.data()
  want = inception_fid.feature_fn(frozen, batch_size=8)(
      data.val_float()[:config.eval.num_images])
  np.testing.assert_allclose(method._real_features, want, rtol=1e-4,  # pylint: disable=protected-access
                             atol=1e-5 * float(jnp.abs(want).max()))
  config.eval.features = 'inceptionv3'
  assert any('inception' in e for e in dcgan.config_errors(config))
