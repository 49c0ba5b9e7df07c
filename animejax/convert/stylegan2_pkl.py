"""Reads NVIDIA stylegan2-ada-pytorch `network-snapshot-*.pkl` files safely.

What the file is ([ada] training/training_loop.py, torch_utils/persistence.py):
`pickle.dump(dict(training_set_kwargs=dict(...), G=..., D=..., G_ema=...,
augment_pipe=...), f)` with the default pickle protocol. Every network class
is decorated by `persistence.persistent_class`, whose `__reduce__` returns
`(torch_utils.persistence._reconstruct_persistent_obj, (meta,))` with
meta = dict(type='class', version=6, module_src=<the defining module's
source code>, class_name=..., state=<the module's __dict__>). Loading it with
`pickle.load` would `exec` that source. The state holds `_parameters`,
`_buffers`, `_modules` (OrderedDicts of tensors / nested persistent objects),
`_init_args`/`_init_kwargs` (plain values and `dnnlib.util.EasyDict`s),
numpy float64 scalars (weight_gain, act_gain) and a `set`.

Tensors pickle through `torch.Tensor.__reduce_ex__` ->
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`
(Parameters wrap that in `torch._utils._rebuild_parameter`), and each storage
through `TypedStorage.__reduce__` -> `torch.storage._load_from_bytes(b)`,
where `b` is a complete *legacy-format* `torch.save` of the storage (magic
number, protocol 1001, sys info, a pickle with persistent id
('storage', torch.FloatStorage, key, 'cpu', numel, None), the key list, then
int64 numel + raw little-endian bytes). There are no persistent ids in the
outer pickle and no zip container.

This module unpickles with an allow-list: the names above map to inert
stand-ins (a `PersistentRecord` keeps class name, source text and state, the
source is never compiled), tensors become numpy arrays; any other global is
refused with `UnsafePickleError` before anything is called.

  snap = load_snapshot('network-snapshot-025000.pkl')
  gen, variables = generator_from_snapshot(snap['G_ema'])
  img = gen.apply(variables, z, noise_mode='const')   # NHWC in [-1, 1]
"""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import struct
from typing import Any

import numpy as np

from animejax import torch_file
from animejax.torch_file import UnsafePickleError

_REFUSED = 'refused: not a tensor or a StyleGAN2 module record'
# [ada] torch_utils/persistence.py: _version = 6.
_PERSISTENCE_VERSION = 6
_NUMPY_KINDS = 'biufc'  # bool, int, uint, float, complex scalars only.


@dataclasses.dataclass
class PersistentRecord:
  """Inert stand-in for a `persistence.persistent_class` instance."""
  class_name: str
  module_src: str
  state: dict
  version: Any = None


class _EasyDict(dict):
  """Stand-in for dnnlib.util.EasyDict (a dict with attribute access)."""


def _reconstruct_persistent_obj(meta: Any) -> PersistentRecord:
  if not isinstance(meta, dict) or meta.get('type') != 'class':
    raise UnsafePickleError(f'persistent object meta {type(meta).__name__} '
                            'is not a class record')
  state = meta.get('state') or {}
  if not isinstance(state, dict):
    raise UnsafePickleError('persistent object state is not a dict')
  return PersistentRecord(str(meta.get('class_name')),
                          str(meta.get('module_src', '')), dict(state),
                          meta.get('version'))


class _NumpyDtype:
  """Stand-in for numpy.dtype as pickled: dtype(name, align, copy) + state."""

  def __init__(self, name: Any, align: Any = False, copy: Any = True):
    del align, copy
    self.name = str(name)
    self.byteorder = '='

  def __setstate__(self, state: Any) -> None:
    if isinstance(state, tuple) and len(state) > 1:
      self.byteorder = str(state[1])

  def resolve(self) -> np.dtype:
    dt = np.dtype(self.name)
    if dt.kind not in _NUMPY_KINDS:
      raise UnsafePickleError(f'numpy dtype {self.name!r} {_REFUSED}')
    return dt.newbyteorder(self.byteorder) if self.byteorder in '<>' else dt


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
  if not isinstance(dtype, _NumpyDtype) or not isinstance(data, bytes):
    raise UnsafePickleError(f'numpy scalar of {type(dtype).__name__} '
                            f'{_REFUSED}')
  dt = dtype.resolve()
  return np.frombuffer(data, dt, count=1)[0].astype(dt.newbyteorder('='))


def _codecs_encode(text: Any, encoding: str = 'latin1') -> bytes:
  # Protocol-2 pickles store bytes as _codecs.encode(str, 'latin1').
  if not isinstance(text, str) or encoding not in ('latin1', 'latin-1'):
    raise UnsafePickleError(f'_codecs.encode({encoding!r}) {_REFUSED}')
  return text.encode('latin1')


def _load_from_bytes(data: Any) -> torch_file._Storage:
  """torch.storage._load_from_bytes: a legacy torch.save of one storage."""
  if not isinstance(data, bytes):
    raise UnsafePickleError(f'storage bytes of type {type(data).__name__}')
  f = io.BytesIO(data)

  def plain(what):
    return _StrictUnpickler(f, None, what).load()

  if plain('magic') != torch_file._LEGACY_MAGIC:
    raise ValueError('tensor storage is not a legacy torch.save record')
  if plain('protocol') != torch_file._LEGACY_PROTOCOL:
    raise ValueError('tensor storage has an unsupported legacy protocol')
  sys_info = plain('sys info')
  little = (sys_info.get('little_endian', True)
            if isinstance(sys_info, dict) else True)
  seen = {}

  def storage_pid(pid):
    # ('storage', storage_type, key, location, numel, view_metadata)
    if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != 'storage':
      raise UnsafePickleError(f'unsupported persistent id {pid!r}')
    stype = torch_file._storage_type(pid[1], 'storage')
    seen[pid[2]] = (stype, pid[5] if len(pid) > 5 else None)
    return pid[2]

  key = _StrictUnpickler(f, storage_pid, 'storage').load()
  keys = plain('storage keys')
  if key not in seen or list(keys) != [key]:
    raise ValueError('tensor storage record holds an unexpected layout')
  stype, view = seen[key]
  (count,) = struct.unpack('<q' if little else '>q', f.read(8))
  nbytes = count * stype.dtype.itemsize
  raw = f.read(nbytes)
  if len(raw) != nbytes:
    raise ValueError(f'tensor storage truncated ({len(raw)} of {nbytes} '
                     'bytes)')
  storage = torch_file._Storage(raw, stype.dtype,
                                'little' if little else 'big')
  if view is not None:  # (view_key, offset, numel)
    _, off, n = view
    sliced = storage.array[int(off):int(off) + int(n)]
    storage = torch_file._Storage(sliced.tobytes(), sliced.dtype)
  return storage


_ALLOWED = dict(torch_file._ALLOWED)
_ALLOWED.update({
    ('torch.storage', '_load_from_bytes'): _load_from_bytes,
    ('torch_utils.persistence', '_reconstruct_persistent_obj'):
        _reconstruct_persistent_obj,
    ('dnnlib.util', 'EasyDict'): _EasyDict,
    ('dnnlib', 'EasyDict'): _EasyDict,
    ('builtins', 'set'): set,
    ('builtins', 'frozenset'): frozenset,
    ('__builtin__', 'set'): set,
    ('_codecs', 'encode'): _codecs_encode,
    ('numpy', 'dtype'): _NumpyDtype,
    ('numpy.core.multiarray', 'scalar'): _numpy_scalar,
    ('numpy._core.multiarray', 'scalar'): _numpy_scalar,
})


class _StrictUnpickler(pickle.Unpickler):
  """Resolves only `_ALLOWED` globals; everything else is refused."""

  def __init__(self, file, persistent, name: str):
    super().__init__(file, encoding='latin1')
    self._persistent = persistent
    self._name = name

  def find_class(self, module: str, name: str) -> Any:
    if (module, name) in _ALLOWED:
      return _ALLOWED[(module, name)]
    if module == 'torch' and name in torch_file._STORAGE_DTYPES:
      return torch_file._StorageType(name)
    if module == 'torch' and name in torch_file._TORCH_DTYPES:
      return torch_file._TorchDtype(name)
    raise UnsafePickleError(f'{self._name}: {module}.{name} {_REFUSED}')

  def persistent_load(self, pid: Any) -> Any:
    if self._persistent is None:
      raise UnsafePickleError(f'{self._name}: unexpected persistent id '
                              f'{pid!r}')
    return self._persistent(pid)


def _flatten(rec: PersistentRecord, prefix: str, params: dict,
             buffers: dict) -> None:
  state = rec.state
  for kind, out in (('_parameters', params), ('_buffers', buffers)):
    for k, v in (state.get(kind) or {}).items():
      if v is None:
        continue
      if not isinstance(v, np.ndarray):
        raise ValueError(f'{prefix}{k} is a {type(v).__name__}, not a tensor')
      out[prefix + k] = v
  for k, child in (state.get('_modules') or {}).items():
    if child is None:
      continue
    if not isinstance(child, PersistentRecord):
      raise ValueError(f'submodule {prefix}{k} is not a persistent record')
    _flatten(child, f'{prefix}{k}.', params, buffers)


def _plain(obj: Any) -> Any:
  if isinstance(obj, dict):
    return {k: _plain(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return type(obj)(_plain(v) for v in obj)
  if isinstance(obj, np.generic):
    return obj.item()
  return obj


def load_snapshot(path: str | os.PathLike) -> dict[str, Any]:
  """Reads a network-snapshot .pkl without executing it.

  Returns:
    {'G': part, 'D': part, 'G_ema': part, 'augment_pipe': part,
     'training_set_kwargs': dict} (keys as present in the file) where each
    part is {'class_name', 'params': {state_dict name: np.ndarray},
    'buffers': {...}, 'init_args', 'init_kwargs'}.

  Raises:
    UnsafePickleError: the file references a global other than tensors,
      storages, StyleGAN2 module records, EasyDict or numpy scalars.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'No StyleGAN2 snapshot at {path!r}.')
  with open(path, 'rb') as f:
    obj = _StrictUnpickler(f, None, path).load()
  if not isinstance(obj, dict):
    raise ValueError(f'{path!r} holds a {type(obj).__name__}, not a '
                     'stylegan2-ada-pytorch snapshot dict')
  out = {}
  for key, value in obj.items():
    if isinstance(value, PersistentRecord):
      params, buffers = {}, {}
      _flatten(value, '', params, buffers)
      out[key] = dict(class_name=value.class_name, params=params,
                      buffers=buffers,
                      init_args=_plain(value.state.get('_init_args', ())),
                      init_kwargs=_plain(value.state.get('_init_kwargs', {})))
    else:
      out[key] = _plain(value)
  return out


def _nest(flat: dict[str, np.ndarray], skip=()) -> dict:
  tree: dict = {}
  for name, value in flat.items():
    parts = name.split('.')
    if parts[-1] in skip:
      continue
    node = tree
    for p in parts[:-1]:
      node = node.setdefault(p, {})
    node[parts[-1]] = np.asarray(value, np.float32)
  return tree


def _check_filters(buffers: dict[str, np.ndarray]) -> None:
  want = np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64.0
  for name, f in buffers.items():
    if name.endswith('resample_filter') and not np.allclose(f, want):
      raise ValueError(f'{name} is not the [1,3,3,1] filter this port '
                       'implements')


def generator_variables(part: dict) -> dict:
  """Official G state_dict names -> Flax variables of `Generator`.

  'mapping.fc0.weight' -> params['mapping']['fc0']['weight'],
  'synthesis.b8.conv0.noise_const' -> buffers[...]['noise_const'],
  'mapping.w_avg' -> buffers['mapping']['w_avg']; resample_filter buffers
  are checked and dropped (the filter is a constant here).
  """
  _check_filters(part['buffers'])
  return {'params': _nest(part['params']),
          'buffers': _nest(part['buffers'], skip=('resample_filter',))}


def discriminator_variables(part: dict) -> dict:
  """Official D state_dict names -> Flax variables of `Discriminator`."""
  _check_filters(part['buffers'])
  return {'params': _nest(part['params'])}


def generator_from_snapshot(part: dict):
  """(Generator module, variables) from a snapshot's 'G' or 'G_ema' part."""
  from animejax.models import stylegan2  # pylint: disable=g-import-not-at-top
  # [ada] Generator.__init__ signature; train.py passes keywords only.
  names = ('z_dim', 'c_dim', 'w_dim', 'img_resolution', 'img_channels',
           'mapping_kwargs', 'synthesis_kwargs')
  kw = dict(zip(names, part.get('init_args') or ()))
  kw.update(part['init_kwargs'])
  mk = dict(kw.get('mapping_kwargs') or {})
  sk = dict(kw.get('synthesis_kwargs') or {})
  if sk.get('architecture', 'skip') != 'skip':
    raise ValueError(f"synthesis architecture {sk['architecture']!r}: only "
                     "'skip' is implemented")
  for key in ('embed_features', 'layer_features'):
    if mk.get(key) is not None:
      raise ValueError(f'mapping {key} is not supported')
  gen = stylegan2.Generator(
      z_dim=kw['z_dim'], c_dim=kw['c_dim'], w_dim=kw['w_dim'],
      img_resolution=kw['img_resolution'], img_channels=kw['img_channels'],
      mapping_layers=mk.get('num_layers', 8),
      mapping_lr_multiplier=mk.get('lr_multiplier', 0.01),
      w_avg_beta=mk.get('w_avg_beta', 0.995),
      channel_base=sk.get('channel_base', 32768),
      channel_max=sk.get('channel_max', 512),
      conv_clamp=sk.get('conv_clamp'))
  return gen, generator_variables(part)
