"""ImageNet VGG19 weights for `VGG19`: loaders, conversion cache, download.

Sources (`config.vgg.weights`):
  'torchvision'  torchvision's `vgg19-dcbb9e9d.pth` (IMAGENET1K_V1). Converted
                 once to `<cache_dir>/vgg19_torchvision.msgpack`; if neither
                 that nor `<cache_dir>/vgg19-dcbb9e9d.pth` exists it is
                 downloaded and checked against the SHA-256 prefix in its name
                 (torch.hub's convention; the full hash is not published).
                 Needs 'torch' preprocessing.
  *.pth / *.pt   a torch.save'd VGG19 state dict (torchvision key names
                 `features.{0,2,5,...,34}.weight/bias`; read without torch by
                 animejax.torch_file). 'torch' preprocessing.
  *.h5           Keras `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`
                 (groups block1_conv1 .. block5_conv4). 'caffe' preprocessing.
  *.npy          AnimeGAN's `vgg19.npy` ({'conv1_1': [W_hwio, b], ...}).
                 'caffe' preprocessing.
  *.msgpack      a file written by this module's cache.
  'random'       fixed-seed He-normal weights; content/style losses are then
                 meaningless (offline demos and tests only, loudly logged).

`vgg_from_config(config.vgg)` returns the module (with the preprocessing the
weights need) and its params; that is what the training code should call.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import urllib.error
import urllib.request
from typing import Any

from absl import logging
import flax.serialization
import jax.numpy as jnp
import numpy as np

from animejax import torch_file
from animejax.downloads import sha256 as _sha256
from animejax.models import vgg19

Params = dict[str, dict[str, np.ndarray]]

TORCHVISION_URL = 'https://download.pytorch.org/models/vgg19-dcbb9e9d.pth'
TORCHVISION_FILE = 'vgg19-dcbb9e9d.pth'
# torch.hub check_hash: the 8 hex chars in the file name start its SHA-256.
TORCHVISION_SHA256_PREFIX = 'dcbb9e9d'
CACHE_FILE = 'vgg19_torchvision.msgpack'
CACHE_FORMAT = 'animejax-vgg19'
# torchvision vgg19().features indices of the 16 convs (ReLU/pool in between).
TORCH_FEATURE_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30,
                         32, 34)
RANDOM_SEED = 0

_PREPROCESS_BY_KIND = {'torchvision': 'torch', 'pth': 'torch', 'h5': 'caffe',
                       'npy': 'caffe', 'random': 'torch'}


def default_cache_dir() -> str:
  return os.path.join(os.path.expanduser('~'), '.cache', 'animejax')


def _expected_shapes() -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
  shapes, cin = {}, 3
  for name in vgg19.CONV_NAMES:
    cout = vgg19.CHANNELS[name]
    shapes[name] = ((3, 3, cin, cout), (cout,))
    cin = cout
  return shapes


def _check_params(params: Params, source: str) -> Params:
  """Validates names/shapes of all 16 convs; returns float32 arrays."""
  out = {}
  for name, (k_shape, b_shape) in _expected_shapes().items():
    if name not in params:
      raise ValueError(f'{source}: VGG19 layer {name!r} is missing (found '
                       f'{sorted(params)[:20]}).')
    kernel = np.asarray(params[name]['kernel'], np.float32)
    bias = np.asarray(params[name]['bias'], np.float32).reshape(-1)
    if kernel.shape != k_shape or bias.shape != b_shape:
      raise ValueError(
          f'{source}: {name} has kernel {kernel.shape} / bias {bias.shape}, '
          f'expected {k_shape} / {b_shape}. Is this a VGG19 (not VGG16 or a '
          'batch-norm VGG) file?')
    out[name] = {'kernel': kernel, 'bias': bias}
  return out


# ------------------------------------------------------------------ formats
def params_from_torch_state_dict(state: dict[str, np.ndarray],
                                 source: str = 'state dict') -> Params:
  """torchvision VGG19 state dict (OIHW) -> our params (HWIO)."""
  prefix = next((p for p in ('features.', 'module.features.', '')
                 if f'{p}0.weight' in state), None)
  if prefix is None:
    raise ValueError(
        f'{source}: no `features.0.weight` key; expected a torchvision VGG19 '
        f'state dict (keys like features.0.weight), found {list(state)[:8]}.')
  params = {}
  for name, idx in zip(vgg19.CONV_NAMES, TORCH_FEATURE_INDICES):
    w, b = f'{prefix}{idx}.weight', f'{prefix}{idx}.bias'
    if w not in state or b not in state:
      raise ValueError(f'{source}: key {w!r} or {b!r} missing; not a VGG19 '
                       '(config E, no batch norm) state dict.')
    params[name] = {'kernel': np.asarray(state[w]).transpose(2, 3, 1, 0),
                    'bias': state[b]}
  return _check_params(params, source)


def params_from_torch_file(path: str) -> Params:
  return params_from_torch_state_dict(torch_file.load_state_dict(path), path)


def params_from_keras_h5(path: str) -> Params:
  """Keras VGG19 weights; works for the legacy `block1_conv1_W_1:0` datasets
  of the released notop file and for Keras 2 `kernel:0`/`bias:0` layouts."""
  import h5py  # Only needed for this format.
  params = {}
  with h5py.File(path, 'r') as f:
    root = f['model_weights'] if 'model_weights' in f else f
    for b, (_, n) in enumerate(vgg19.BLOCKS):
      for i in range(n):
        group_name = f'block{b + 1}_conv{i + 1}'
        if group_name not in root:
          raise ValueError(f'{path}: no group {group_name!r}; expected a Keras '
                           'VGG19 weights file (layer groups block1_conv1 .. '
                           'block5_conv4).')
        arrays = []
        root[group_name].visititems(
            lambda _, obj: arrays.append(obj[()])
            if isinstance(obj, h5py.Dataset) else None)
        kernels = [a for a in arrays if a.ndim == 4]
        biases = [a for a in arrays if a.ndim == 1]
        if len(kernels) != 1 or len(biases) != 1:
          raise ValueError(f'{path}: group {group_name!r} should hold one 4-D '
                           f'kernel and one bias, found shapes '
                           f'{[a.shape for a in arrays]}.')
        params[f'conv{b + 1}_{i + 1}'] = {'kernel': kernels[0],
                                          'bias': biases[0]}
  return _check_params(params, path)


class _NumpyOnlyUnpickler(pickle.Unpickler):
  """Unpickles dicts/lists of numpy arrays only (no arbitrary code)."""

  def find_class(self, module: str, name: str) -> Any:
    if (module in ('numpy.core.multiarray', 'numpy._core.multiarray')
        and name in ('_reconstruct', 'scalar')):
      # pylint: disable-next=protected-access
      return getattr(np._core.multiarray, name)
    if module == 'numpy' and name in ('ndarray', 'dtype'):
      return getattr(np, name)
    raise pickle.UnpicklingError(
        f'refusing to load global {module}.{name}: expected a dict of numpy '
        'arrays (AnimeGAN vgg19.npy).')


def _load_npy_dict(path: str) -> dict[str, Any]:
  """np.load(path, allow_pickle=True).item() with a restricted unpickler."""
  with open(path, 'rb') as f:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
      shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    else:
      shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    if dtype != object or shape != ():
      raise ValueError(f'{path}: a {dtype} array of shape {shape}, not the '
                       'pickled dict of AnimeGAN vgg19.npy.')
    # latin1: the file was written by Python 2 (as np.load(encoding=) does).
    obj = _NumpyOnlyUnpickler(f, encoding='latin1').load()
  obj = obj.item() if isinstance(obj, np.ndarray) else obj
  if not isinstance(obj, dict):
    raise ValueError(f'{path}: holds a {type(obj).__name__}, expected a dict.')
  return obj


def params_from_npy(path: str) -> Params:
  """AnimeGAN vgg19.npy: {'conv1_1': [W (HWIO), b], ...} (+ fc6..fc8)."""
  data = _load_npy_dict(path)
  params = {}
  for name in vgg19.CONV_NAMES:
    if name not in data:
      raise ValueError(f'{path}: no key {name!r}; expected AnimeGAN vgg19.npy '
                       f'(keys conv1_1 .. conv5_4), found {sorted(data)[:8]}.')
    if len(data[name]) != 2:
      raise ValueError(f'{path}: {name} should be [weights, biases].')
    params[name] = {'kernel': data[name][0], 'bias': data[name][1]}
  return _check_params(params, path)


def random_params(seed: int = RANDOM_SEED) -> Params:
  """Fixed-seed He-normal kernels, zero biases (keeps ReLU features alive)."""
  logging.warning(
      '\n' + '!' * 78 + '\n'
      '!!! VGG19 is using RANDOM weights (config.vgg.weights="random").\n'
      '!!! Content and style losses are MEANINGLESS: use this only for offline '
      'demos and tests.\n'
      '!!! For real training pass --config.vgg.weights=torchvision (or a '
      '.pth/.h5/.npy file).\n' + '!' * 78)
  rng = np.random.default_rng(seed)
  params = {}
  for name, (k_shape, b_shape) in _expected_shapes().items():
    fan_in = k_shape[0] * k_shape[1] * k_shape[2]
    params[name] = {
        'kernel': rng.normal(0.0, np.sqrt(2.0 / fan_in), k_shape).astype(
            np.float32),
        'bias': np.zeros(b_shape, np.float32)}
  return params


# ------------------------------------------------------------------ cache
def _save_cache(path: str, params: Params, source: str,
                preprocess: str) -> None:
  payload = {'format': CACHE_FORMAT, 'version': 1, 'source': source,
             'preprocess': preprocess, 'params': params}
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f'{path}.tmp{os.getpid()}'
  with open(tmp, 'wb') as f:
    f.write(flax.serialization.msgpack_serialize(payload))
  os.replace(tmp, path)


def _load_cache(path: str) -> tuple[Params, str]:
  with open(path, 'rb') as f:
    try:
      payload = flax.serialization.msgpack_restore(f.read())
    except Exception as e:  # msgpack raises several unrelated types.
      raise ValueError(f'{path}: unreadable VGG19 cache ({e}); delete it to '
                       'rebuild it.') from e
  if not isinstance(payload, dict) or payload.get('format') != CACHE_FORMAT:
    raise ValueError(f'{path}: not an animejax VGG19 file; delete it to '
                     'rebuild it.')
  return _check_params(payload['params'], path), payload['preprocess']


def _check_hash(path: str, prefix: str) -> None:
  got = _sha256(path)
  if not got.startswith(prefix):
    raise ValueError(
        f'{path}: SHA-256 {got} does not start with {prefix!r}; the file is '
        f'corrupt or not {TORCHVISION_FILE}. Delete it and download it again '
        f'from {TORCHVISION_URL}.')


def _offline_message(cache_dir: str, url: str, err: Exception) -> str:
  return (
      f'Could not download the torchvision VGG19 weights from {url} ({err}).\n'
      f'On a machine with internet access fetch {url}\n'
      f'and either put it at {os.path.join(cache_dir, TORCHVISION_FILE)}\n'
      f'or pass its path: --config.vgg.weights=/path/to/{TORCHVISION_FILE}.\n'
      'Offline demos can use --config.vgg.weights=random (losses meaningless).')


def _download(url: str, dest: str, sha256_prefix: str, cache_dir: str) -> None:
  os.makedirs(cache_dir, exist_ok=True)
  logging.info('Downloading VGG19 weights %s -> %s', url, dest)
  fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix='.part')
  try:
    try:
      with os.fdopen(fd, 'wb') as f:
        with urllib.request.urlopen(url, timeout=60) as r:
          for chunk in iter(lambda: r.read(1 << 20), b''):
            f.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as e:
      raise FileNotFoundError(_offline_message(cache_dir, url, e)) from e
    _check_hash(tmp, sha256_prefix)
    os.replace(tmp, dest)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def torchvision_params(cache_dir: str = '', url: str = TORCHVISION_URL,
                       sha256_prefix: str = TORCHVISION_SHA256_PREFIX
                       ) -> Params:
  """The torchvision weights from the cache, converting/downloading once."""
  cache_dir = cache_dir or default_cache_dir()
  cache = os.path.join(cache_dir, CACHE_FILE)
  if os.path.isfile(cache):
    return _load_cache(cache)[0]
  pth = os.path.join(cache_dir, TORCHVISION_FILE)
  if not os.path.isfile(pth):
    _download(url, pth, sha256_prefix, cache_dir)
  else:
    _check_hash(pth, sha256_prefix)
  params = params_from_torch_file(pth)
  _save_cache(cache, params, TORCHVISION_FILE, 'torch')
  logging.info('Converted %s -> %s', pth, cache)
  return params


# ------------------------------------------------------------------ public
def weights_kind(weights: str) -> str:
  """'torchvision' | 'random' | 'pth' | 'h5' | 'npy' | 'msgpack'."""
  if weights in ('torchvision', 'random'):
    return weights
  ext = os.path.splitext(weights)[1].lower()
  kinds = {'.pth': 'pth', '.pt': 'pth', '.bin': 'pth', '.h5': 'h5',
           '.hdf5': 'h5', '.npy': 'npy', '.msgpack': 'msgpack'}
  if ext not in kinds:
    raise ValueError(
        f'config.vgg.weights={weights!r}: expected "torchvision", "random" or '
        'a path ending in .pth/.pt (torchvision state dict), .h5 (Keras), '
        '.npy (AnimeGAN vgg19.npy) or .msgpack (animejax cache).')
  return kinds[ext]


def load_vgg19(weights: str, cache_dir: str = '') -> tuple[Params, str]:
  """Loads VGG19 params and the preprocessing ('caffe'/'torch') they need."""
  kind = weights_kind(weights)
  if kind == 'torchvision':
    return torchvision_params(cache_dir), 'torch'
  if kind == 'random':
    return random_params(), _PREPROCESS_BY_KIND['random']
  if not os.path.isfile(weights):
    raise FileNotFoundError(
        f'config.vgg.weights: no file at {weights!r}. Use "torchvision" '
        '(downloaded once and cached) or the path of a VGG19 .pth/.h5/.npy.')
  if kind == 'msgpack':
    return _load_cache(weights)
  loader = {'pth': params_from_torch_file, 'h5': params_from_keras_h5,
            'npy': params_from_npy}[kind]
  return loader(weights), _PREPROCESS_BY_KIND[kind]


def load_vgg19_params(weights: str, cache_dir: str = '') -> Params:
  """Contract entry point: params only (see `load_vgg19` for preprocessing)."""
  return load_vgg19(weights, cache_dir)[0]


def resolve_preprocess(requested: str, native: str) -> str:
  """'auto' -> what the weights need; an explicit mismatch is honoured loudly.

  Caffe-converted weights (.h5/.npy) expect BGR in [0, 255] minus the mean;
  torchvision's retrained weights expect normalised RGB. Feeding either the
  other's input shifts every feature, so 'auto' is the safe default.
  """
  if requested in ('auto', '', None):
    return native
  if requested not in vgg19.PREPROCESS:
    raise ValueError(f'config.vgg.preprocess={requested!r}; expected "auto", '
                     '"caffe" or "torch".')
  if requested != native:
    logging.warning('config.vgg.preprocess=%r but these VGG19 weights were '
                    'trained with %r preprocessing; features will be off. Use '
                    '"auto" unless this is deliberate.', requested, native)
  return requested


def vgg_from_config(cfg: Any, dtype: Any = jnp.float32
                    ) -> tuple[vgg19.VGG19, Params]:
  """(VGG19 module, params) from `config.vgg` (weights, preprocess,
  cache_dir): the entry point for the training code."""
  params, native = load_vgg19(cfg.weights, cfg.get('cache_dir', ''))
  preprocess = resolve_preprocess(cfg.get('preprocess', 'auto'), native)
  return vgg19.VGG19(preprocess=preprocess, dtype=dtype), params
