"""The FID Inception-v3 (pool3, 2048-d) in Flax, and its weights loader.

FID and KID are only comparable across papers when computed with the
community network: the TensorFlow Inception graph of 2015-12-05 that the
original FID code (bioinf-jku/TTUR) uses, ported to PyTorch by pytorch-fid
as `pt_inception-2015-12-05-6726825d.pth`. This module is that network,
layer for layer as [pf] mseitzer/pytorch-fid `src/pytorch_fid/inception.py`
builds it (torchvision's Inception3 with FIDInceptionA/C/E_1/E_2 patched
in), read from that file by `animejax.torch_file` (a restricted unpickler:
nothing in the file is executed):

  * input [N, H, W, 3] in [-1, 1] -> [0, 1] -> bilinear resize to 299 x 299
    (align_corners=False, no antialiasing: [pf] F.interpolate) -> 2 x - 1;
  * BasicConv2d = conv (no bias) + BatchNorm (eps 1e-3, inference
    statistics) + ReLU (torchvision inception.py);
  * the 3x3 average pools of the A, C and E_1 blocks exclude the padding
    (count_include_pad=False, TF's behaviour), the E_2 block (Mixed_7c)
    max-pools instead ([pf]: "likely an error" in the TF graph, kept for
    comparable numbers);
  * output: the global average pool of Mixed_7c, 2048-d ('pool3').

`load_params(path)` maps the state dict (keys such as
`Mixed_5b.branch1x1.conv.weight`, `...bn.running_mean`; `fc.*` and
`num_batches_tracked` ignored) to Flax params. `fid_weights_path()` finds or
downloads the file (pinned sha256 prefix 6726825d, the torch.hub
convention of [pf]'s file name) and fails offline with a message naming
the file and where to put it.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from animejax.downloads import sha256 as _sha256

# [pf] inception.py FID_WEIGHTS_URL.
FID_WEIGHTS_URL = ('https://github.com/mseitzer/pytorch-fid/releases/download/'
                   'fid_weights/pt_inception-2015-12-05-6726825d.pth')
FID_WEIGHTS_FILE = 'pt_inception-2015-12-05-6726825d.pth'
FID_SHA256_PREFIX = '6726825d'
FEATURE_DIM = 2048
RESIZE = 299
BN_EPS = 1e-3  # torchvision inception.py BasicConv2d: BatchNorm2d(eps=0.001)


def default_cache_dir() -> str:
  return os.path.join(os.path.expanduser('~'), '.cache', 'animejax')


# ------------------------------------------------------------------ layers
class BasicConv(nn.Module):
  """torchvision BasicConv2d: conv (no bias) + BN (inference) + ReLU."""
  features: int
  kernel: tuple[int, int]
  strides: int = 1
  padding: tuple[int, int] = (0, 0)

  @nn.compact
  def __call__(self, x):
    pad = [(self.padding[0], self.padding[0]),
           (self.padding[1], self.padding[1])]
    x = nn.Conv(self.features, self.kernel, strides=self.strides,
                padding=pad, use_bias=False, name='conv')(x)
    x = nn.BatchNorm(use_running_average=True, epsilon=BN_EPS,
                     name='bn')(x)
    return nn.relu(x)


def _avg_pool_exclude_pad(x):
  """3x3 stride-1 average pool, padding 1, padded zeros not counted
  ([pf] F.avg_pool2d(..., count_include_pad=False))."""
  pad = ((0, 0), (1, 1), (1, 1), (0, 0))
  total = jax.lax.reduce_window(x, 0.0, jax.lax.add, (1, 3, 3, 1),
                                (1, 1, 1, 1), pad)
  ones = jnp.ones((1,) + x.shape[1:3] + (1,), x.dtype)
  count = jax.lax.reduce_window(ones, 0.0, jax.lax.add, (1, 3, 3, 1),
                                (1, 1, 1, 1), pad)
  return total / count


def _max_pool(x, stride: int, padding: int):
  return nn.max_pool(x, (3, 3), (stride, stride),
                     ((padding, padding), (padding, padding)))


class InceptionA(nn.Module):
  pool_features: int

  @nn.compact
  def __call__(self, x):
    b1 = BasicConv(64, (1, 1), name='branch1x1')(x)
    b5 = BasicConv(48, (1, 1), name='branch5x5_1')(x)
    b5 = BasicConv(64, (5, 5), padding=(2, 2), name='branch5x5_2')(b5)
    b3 = BasicConv(64, (1, 1), name='branch3x3dbl_1')(x)
    b3 = BasicConv(96, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(b3)
    b3 = BasicConv(96, (3, 3), padding=(1, 1), name='branch3x3dbl_3')(b3)
    bp = BasicConv(self.pool_features, (1, 1), name='branch_pool')(
        _avg_pool_exclude_pad(x))
    return jnp.concatenate([b1, b5, b3, bp], -1)


class InceptionB(nn.Module):

  @nn.compact
  def __call__(self, x):
    b3 = BasicConv(384, (3, 3), strides=2, name='branch3x3')(x)
    bd = BasicConv(64, (1, 1), name='branch3x3dbl_1')(x)
    bd = BasicConv(96, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(bd)
    bd = BasicConv(96, (3, 3), strides=2, name='branch3x3dbl_3')(bd)
    return jnp.concatenate([b3, bd, _max_pool(x, 2, 0)], -1)


class InceptionC(nn.Module):
  channels_7x7: int

  @nn.compact
  def __call__(self, x):
    c = self.channels_7x7
    b1 = BasicConv(192, (1, 1), name='branch1x1')(x)
    b7 = BasicConv(c, (1, 1), name='branch7x7_1')(x)
    b7 = BasicConv(c, (1, 7), padding=(0, 3), name='branch7x7_2')(b7)
    b7 = BasicConv(192, (7, 1), padding=(3, 0), name='branch7x7_3')(b7)
    bd = BasicConv(c, (1, 1), name='branch7x7dbl_1')(x)
    bd = BasicConv(c, (7, 1), padding=(3, 0), name='branch7x7dbl_2')(bd)
    bd = BasicConv(c, (1, 7), padding=(0, 3), name='branch7x7dbl_3')(bd)
    bd = BasicConv(c, (7, 1), padding=(3, 0), name='branch7x7dbl_4')(bd)
    bd = BasicConv(192, (1, 7), padding=(0, 3), name='branch7x7dbl_5')(bd)
    bp = BasicConv(192, (1, 1), name='branch_pool')(_avg_pool_exclude_pad(x))
    return jnp.concatenate([b1, b7, bd, bp], -1)


class InceptionD(nn.Module):

  @nn.compact
  def __call__(self, x):
    b3 = BasicConv(192, (1, 1), name='branch3x3_1')(x)
    b3 = BasicConv(320, (3, 3), strides=2, name='branch3x3_2')(b3)
    b7 = BasicConv(192, (1, 1), name='branch7x7x3_1')(x)
    b7 = BasicConv(192, (1, 7), padding=(0, 3), name='branch7x7x3_2')(b7)
    b7 = BasicConv(192, (7, 1), padding=(3, 0), name='branch7x7x3_3')(b7)
    b7 = BasicConv(192, (3, 3), strides=2, name='branch7x7x3_4')(b7)
    return jnp.concatenate([b3, b7, _max_pool(x, 2, 0)], -1)


class InceptionE(nn.Module):
  """[pf] FIDInceptionE_1 (pool 'avg', padding excluded) or _2 ('max')."""
  pool: str = 'avg'

  @nn.compact
  def __call__(self, x):
    b1 = BasicConv(320, (1, 1), name='branch1x1')(x)
    b3 = BasicConv(384, (1, 1), name='branch3x3_1')(x)
    b3 = jnp.concatenate([
        BasicConv(384, (1, 3), padding=(0, 1), name='branch3x3_2a')(b3),
        BasicConv(384, (3, 1), padding=(1, 0), name='branch3x3_2b')(b3)], -1)
    bd = BasicConv(448, (1, 1), name='branch3x3dbl_1')(x)
    bd = BasicConv(384, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(bd)
    bd = jnp.concatenate([
        BasicConv(384, (1, 3), padding=(0, 1), name='branch3x3dbl_3a')(bd),
        BasicConv(384, (3, 1), padding=(1, 0), name='branch3x3dbl_3b')(bd)],
                         -1)
    pooled = (_avg_pool_exclude_pad(x) if self.pool == 'avg'
              else _max_pool(x, 1, 1))
    bp = BasicConv(192, (1, 1), name='branch_pool')(pooled)
    return jnp.concatenate([b1, b3, bd, bp], -1)


class FIDInceptionV3(nn.Module):
  """[N, H, W, 3] in [-1, 1] -> pool3 features [N, 2048] ([pf] block 3)."""
  resize: bool = True

  @nn.compact
  def __call__(self, x):
    x = x.astype(jnp.float32)
    if self.resize:
      # [pf]: inputs in [0, 1], bilinear to 299 (align_corners=False: half-
      # pixel centres, as jax.image.resize), then 2 x - 1.
      x = (x + 1.0) / 2.0
      x = jax.image.resize(x, (x.shape[0], RESIZE, RESIZE, x.shape[3]),
                           'linear', antialias=False)
      x = 2.0 * x - 1.0
    x = BasicConv(32, (3, 3), strides=2, name='Conv2d_1a_3x3')(x)
    x = BasicConv(32, (3, 3), name='Conv2d_2a_3x3')(x)
    x = BasicConv(64, (3, 3), padding=(1, 1), name='Conv2d_2b_3x3')(x)
    x = _max_pool(x, 2, 0)
    x = BasicConv(80, (1, 1), name='Conv2d_3b_1x1')(x)
    x = BasicConv(192, (3, 3), name='Conv2d_4a_3x3')(x)
    x = _max_pool(x, 2, 0)
    x = InceptionA(32, name='Mixed_5b')(x)
    x = InceptionA(64, name='Mixed_5c')(x)
    x = InceptionA(64, name='Mixed_5d')(x)
    x = InceptionB(name='Mixed_6a')(x)
    for name, c in (('Mixed_6b', 128), ('Mixed_6c', 160), ('Mixed_6d', 160),
                    ('Mixed_6e', 192)):
      x = InceptionC(c, name=name)(x)
    x = InceptionD(name='Mixed_7a')(x)
    x = InceptionE('avg', name='Mixed_7b')(x)
    x = InceptionE('max', name='Mixed_7c')(x)
    return jnp.mean(x, axis=(1, 2))


# ------------------------------------------------------------------ weights
def variables_from_state_dict(state: dict[str, np.ndarray]
                              ) -> dict[str, Any]:
  """{'params', 'batch_stats'} of FIDInceptionV3 from [pf]'s state dict.

  Conv weights OIHW -> HWIO; BN weight/bias -> scale/bias, running_mean/var
  -> mean/var. `fc.*` (the 1008-way logits) and `num_batches_tracked` are
  not used. Every tensor the network needs must be present with its shape.
  """
  expected = jax.eval_shape(
      FIDInceptionV3(resize=False).init, jax.random.key(0),
      jnp.zeros((1, RESIZE, RESIZE, 3)))
  params: dict[str, Any] = {}
  stats: dict[str, Any] = {}
  missing, wrong = [], []

  def take(key, want_shape, transform=lambda a: a):
    if key not in state:
      missing.append(key)
      return None
    value = transform(np.asarray(state[key], np.float32))
    if value.shape != tuple(want_shape):
      wrong.append(f'{key}: {value.shape} != {tuple(want_shape)}')
    return value

  def walk(p_tree, s_tree, prefix, p_out, s_out):
    for name, sub in p_tree.items():
      if name == 'conv':
        p_out['conv'] = {'kernel': take(
            f'{prefix}conv.weight', sub['kernel'].shape,
            lambda a: a.transpose(2, 3, 1, 0))}
      elif name == 'bn':
        p_out['bn'] = {'scale': take(f'{prefix}bn.weight', sub['scale'].shape),
                       'bias': take(f'{prefix}bn.bias', sub['bias'].shape)}
        s_out['bn'] = {
            'mean': take(f'{prefix}bn.running_mean',
                         s_tree['bn']['mean'].shape),
            'var': take(f'{prefix}bn.running_var', s_tree['bn']['var'].shape)}
      else:
        p_out[name], s_out[name] = {}, {}
        walk(sub, s_tree[name], f'{prefix}{name}.', p_out[name], s_out[name])

  walk(expected['params'], expected['batch_stats'], '', params, stats)
  if missing or wrong:
    raise ValueError(
        'Not a pytorch-fid Inception state dict: '
        + (f'{len(missing)} tensors missing (first: {missing[:3]})'
           if missing else '')
        + ('; ' if missing and wrong else '')
        + (f'wrong shapes: {wrong[:3]}' if wrong else ''))
  return {'params': params, 'batch_stats': stats}


def load_variables(path: str) -> dict[str, Any]:
  """FIDInceptionV3 variables from a pt_inception .pth file (no pickle code
  is run: `animejax.torch_file`)."""
  from animejax import torch_file  # pylint: disable=g-import-not-at-top
  return variables_from_state_dict(torch_file.load_state_dict(path))


def offline_message(cache_dir: str, reason: str) -> str:
  return (f'The FID Inception-v3 weights {FID_WEIGHTS_FILE} are not in '
          f'{cache_dir} and could not be downloaded ({reason}).\n'
          f'On a machine with internet access download\n  {FID_WEIGHTS_URL}\n'
          f'and put it at\n  {os.path.join(cache_dir, FID_WEIGHTS_FILE)}\n'
          '(or pass its path as the weights file). Its sha256 starts with '
          f'{FID_SHA256_PREFIX}.')


def fid_weights_path(weights: str = '', cache_dir: str = '',
                     download: bool = True) -> str:
  """Path of the pt_inception file: `weights` if given (must exist), else
  <cache_dir>/pt_inception-2015-12-05-6726825d.pth, downloaded once with the
  pinned hash when `download`. Offline: FileNotFoundError naming the file
  and where to put it."""
  if weights:
    if not os.path.isfile(weights):
      raise FileNotFoundError(
          f'FID Inception weights {weights!r} not found. Download '
          f'{FID_WEIGHTS_URL} there.')
    return weights
  cache_dir = cache_dir or default_cache_dir()
  path = os.path.join(cache_dir, FID_WEIGHTS_FILE)
  if os.path.isfile(path):
    return path
  if not download:
    raise FileNotFoundError(offline_message(cache_dir, 'download disabled'))
  os.makedirs(cache_dir, exist_ok=True)
  tmp = path + '.part'
  try:
    with urllib.request.urlopen(FID_WEIGHTS_URL, timeout=60) as r, \
        open(tmp, 'wb') as f:
      while chunk := r.read(1 << 20):
        f.write(chunk)
  except (urllib.error.URLError, OSError, ValueError) as e:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise FileNotFoundError(offline_message(cache_dir, str(e))) from e
  got = _sha256(tmp)
  if not got.startswith(FID_SHA256_PREFIX):
    os.remove(tmp)
    raise ValueError(f'{FID_WEIGHTS_URL} has sha256 {got}, expected '
                     f'{FID_SHA256_PREFIX}...; not using it.')
  os.replace(tmp, path)
  return path


def feature_fn(variables: dict[str, Any], batch_size: int = 50,
               resize: bool = True):
  """images [N, H, W, 3] in [-1, 1] (numpy) -> pool3 features [N, 2048]."""
  model = FIDInceptionV3(resize=resize)
  apply = jax.jit(lambda v, x: model.apply(v, x))

  def features(images: np.ndarray) -> np.ndarray:
    out = []
    for i in range(0, len(images), batch_size):
      chunk = np.asarray(images[i:i + batch_size], np.float32)
      pad = batch_size - len(chunk)
      if pad:
        chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, 0)])
      out.append(np.asarray(apply(variables, chunk))[:batch_size - pad])
    return np.concatenate(out)
  return features


def state_dict_shapes() -> dict[str, Sequence[int]]:
  """The torch-side name -> shape of every tensor the loader reads (for
  writing test files of the same format)."""
  v = jax.eval_shape(FIDInceptionV3(resize=False).init, jax.random.key(0),
                     jnp.zeros((1, RESIZE, RESIZE, 3)))
  out: dict[str, Sequence[int]] = {}

  def walk(p, s, prefix):
    for name, sub in p.items():
      if name == 'conv':
        h, w, i, o = sub['kernel'].shape
        out[f'{prefix}conv.weight'] = (o, i, h, w)
      elif name == 'bn':
        n = sub['scale'].shape
        for k in ('weight', 'bias', 'running_mean', 'running_var'):
          out[f'{prefix}bn.{k}'] = n
      else:
        walk(sub, s[name], f'{prefix}{name}.')
  walk(v['params'], v['batch_stats'], '')
  return out
