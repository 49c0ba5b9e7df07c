"""Reads PyTorch checkpoint files (`torch.save`) into numpy, without torch.

`torch.load` unpickles arbitrary objects, so a downloaded checkpoint can run
arbitrary code. This reader uses a restricted `pickle.Unpickler` whose
`find_class` only knows the handful of names a tensor state dict needs
(tensor rebuild functions, storage types, `collections.OrderedDict`) and maps
them to numpy; any other global raises `UnsafePickleError`. Nothing from the
file is ever called or imported.

Both on-disk formats are handled:
  * zip (torch >= 1.6): `<root>/data.pkl` + one `<root>/data/<key>` record per
    storage (+ `<root>/byteorder` since torch 2.1).
  * legacy (torch < 1.6, e.g. torchvision's 2017 `vgg19-dcbb9e9d.pth`): five
    consecutive pickles/blocks: magic number, protocol version, sys info, the
    object, the list of storage keys, then per key an int64 element count
    followed by the raw bytes.
The very old tar format (torch <= 0.1.x) is rejected with a clear error.

Usage:
  state = torch_file.load_state_dict('vgg19-dcbb9e9d.pth')
  state['features.0.weight'].shape   # (64, 3, 3, 3), np.float32
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import tarfile
import zipfile
from typing import Any, BinaryIO

import ml_dtypes
import numpy as np

# torch/serialization.py: MAGIC_NUMBER, PROTOCOL_VERSION of the legacy format.
_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
_LEGACY_PROTOCOL = 1001

# torch storage class name -> numpy dtype (torch/storage.py _dtype_to_storage).
_STORAGE_DTYPES = {
    'DoubleStorage': np.float64,
    'FloatStorage': np.float32,
    'HalfStorage': np.float16,
    'BFloat16Storage': ml_dtypes.bfloat16,
    'LongStorage': np.int64,
    'IntStorage': np.int32,
    'ShortStorage': np.int16,
    'CharStorage': np.int8,
    'ByteStorage': np.uint8,
    'BoolStorage': np.bool_,
    'ComplexFloatStorage': np.complex64,
    'ComplexDoubleStorage': np.complex128,
    # Untyped storages are bytes; tensors over them carry their own dtype.
    'UntypedStorage': np.uint8,
}

# torch dtype names (as pickled by _rebuild_tensor_v3) -> numpy dtype.
_TORCH_DTYPES = {
    'float64': np.float64, 'float32': np.float32, 'float16': np.float16,
    'bfloat16': ml_dtypes.bfloat16, 'int64': np.int64, 'int32': np.int32,
    'int16': np.int16, 'int8': np.int8, 'uint8': np.uint8, 'bool': np.bool_,
    'complex64': np.complex64, 'complex128': np.complex128,
}


class UnsafePickleError(pickle.UnpicklingError):
  """The checkpoint references a Python global this reader does not allow."""


class _StorageType:
  """Stands in for a `torch.<X>Storage` class inside the pickle."""

  def __init__(self, name: str):
    self.name = name
    self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _TorchDtype:
  """Stands in for a `torch.float32`-like dtype object inside the pickle."""

  def __init__(self, name: str):
    if name not in _TORCH_DTYPES:
      raise UnsafePickleError(f'unsupported tensor dtype torch.{name}')
    self.dtype = np.dtype(_TORCH_DTYPES[name])


class _Storage:
  """A storage's raw bytes (little-endian on disk) viewed with its dtype."""

  def __init__(self, data: bytes | memoryview, dtype: np.dtype,
               byteorder: str = 'little'):
    arr = np.frombuffer(data, dtype=dtype.newbyteorder(
        '<' if byteorder == 'little' else '>'))
    self.array = arr.astype(dtype, copy=False)


def _as_array(storage: Any, offset: int, size, stride,
              dtype: np.dtype | None = None) -> np.ndarray:
  """The strided view `torch.as_strided` would build, copied into numpy."""
  if isinstance(storage, _PendingStorage):
    return _PendingTensor(storage, (offset, size, stride, dtype))
  if not isinstance(storage, _Storage):
    raise UnsafePickleError(
        f'tensor rebuilt from a {type(storage).__name__}, not a storage')
  flat = storage.array
  if dtype is not None and dtype != flat.dtype:
    flat = flat.view(np.uint8).view(dtype)
  size = tuple(int(s) for s in size)
  stride = tuple(int(s) for s in stride)
  if not size:
    return np.array(flat[offset])
  # Bounds check: the furthest element the view touches must exist.
  last = offset + sum((n - 1) * s for n, s in zip(size, stride) if n > 0)
  if any(n == 0 for n in size):
    return np.zeros(size, flat.dtype)
  if offset < 0 or last >= flat.size:
    raise pickle.UnpicklingError(
        f'tensor of size {size} stride {stride} offset {offset} reads past '
        f'its storage of {flat.size} elements (corrupt checkpoint)')
  view = np.lib.stride_tricks.as_strided(
      flat[offset:], shape=size,
      strides=tuple(s * flat.itemsize for s in stride), writeable=False)
  return np.ascontiguousarray(view).copy()  # C order, owns its memory.


# The rebuild functions below replace torch's; their signatures follow
# torch/_utils.py and torch/_tensor.py (extra trailing args are ignored).
def _rebuild_tensor(storage, offset, size, stride):
  return _as_array(storage, offset, size, stride)


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
  del requires_grad, backward_hooks, metadata
  return _as_array(storage, offset, size, stride)


def _rebuild_tensor_v3(storage, offset, size, stride, requires_grad,
                       backward_hooks, dtype, metadata=None):
  del requires_grad, backward_hooks, metadata
  return _as_array(storage, offset, size, stride, dtype.dtype)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
  del requires_grad, backward_hooks
  return data


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
  del requires_grad, backward_hooks, state
  return data


def _rebuild_from_type_v2(func, new_type, args, state):
  # Tensor subclasses (e.g. nn.Parameter with Python state): rebuild the
  # plain tensor through one of OUR rebuild functions; drop the subclass.
  del new_type, state
  if func not in _REBUILD_FUNCS:
    raise UnsafePickleError(f'_rebuild_from_type_v2 with {func!r}')
  return func(*args)


class _TensorType:
  """Stands in for torch.Tensor / torch.nn.Parameter (only as a type tag)."""


_REBUILD_FUNCS = (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3,
                  _rebuild_parameter, _rebuild_parameter_with_state)

_ALLOWED = {
    ('torch._utils', '_rebuild_tensor'): _rebuild_tensor,
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor_v2,
    ('torch._utils', '_rebuild_tensor_v3'): _rebuild_tensor_v3,
    ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
    ('torch._utils', '_rebuild_parameter_with_state'):
        _rebuild_parameter_with_state,
    ('torch._tensor', '_rebuild_from_type_v2'): _rebuild_from_type_v2,
    ('torch', 'Tensor'): _TensorType,
    ('torch.nn.parameter', 'Parameter'): _TensorType,
    ('torch', 'Size'): tuple,
    ('collections', 'OrderedDict'): collections.OrderedDict,
}


class _RestrictedUnpickler(pickle.Unpickler):
  """Unpickler that resolves only allow-listed globals and our storages."""

  def __init__(self, file: BinaryIO, load_storage, name: str):
    super().__init__(file, encoding='latin1')  # latin1: py2-era pickles.
    self._load_storage = load_storage
    self._name = name

  def find_class(self, module: str, name: str) -> Any:
    if (module, name) in _ALLOWED:
      return _ALLOWED[(module, name)]
    if module == 'torch' and name in _STORAGE_DTYPES:
      return _StorageType(name)
    if module == 'torch' and name in _TORCH_DTYPES:
      return _TorchDtype(name)
    raise UnsafePickleError(
        f'{self._name}: refusing to load global {module}.{name}. Only tensor '
        'state dicts are supported (torch.save(model.state_dict(), path)); '
        're-save the checkpoint as a state dict with torch if you trust it.')

  def persistent_load(self, pid: Any) -> Any:
    if not isinstance(pid, tuple) or not pid or pid[0] != 'storage':
      raise UnsafePickleError(
          f'{self._name}: unsupported persistent id {pid!r}')
    return self._load_storage(pid)


def _storage_type(value: Any, name: str) -> _StorageType:
  if isinstance(value, _StorageType):
    return value
  raise UnsafePickleError(f'{name}: storage type {value!r} is not a torch '
                          'storage class')


def _load_zip(path: str) -> Any:
  with zipfile.ZipFile(path) as zf:
    names = zf.namelist()
    pkl = [n for n in names if n.endswith('data.pkl')]
    if len(pkl) != 1:
      raise ValueError(f'{path!r} is a zip file but not a PyTorch checkpoint '
                       f'(expected one */data.pkl, found {pkl}).')
    root = pkl[0][:-len('data.pkl')]
    byteorder = 'little'
    if root + 'byteorder' in names:
      byteorder = zf.read(root + 'byteorder').decode().strip()
    cache: dict[str, _Storage] = {}

    def load_storage(pid):
      # ('storage', storage_type, key, location, numel)
      _, stype, key, _, numel = pid
      stype = _storage_type(stype, path)
      if key not in cache:
        record = f'{root}data/{key}'
        if record not in names:
          raise ValueError(f'{path!r}: storage record {record!r} is missing '
                           '(truncated or corrupt checkpoint).')
        data = zf.read(record)
        nbytes = int(numel) * stype.dtype.itemsize
        if len(data) < nbytes:
          raise ValueError(f'{path!r}: storage {record!r} has {len(data)} '
                           f'bytes, expected {nbytes} (truncated file).')
        cache[key] = _Storage(data[:nbytes], stype.dtype, byteorder)
      return cache[key]

    with zf.open(pkl[0]) as f:
      return _RestrictedUnpickler(io.BytesIO(f.read()), load_storage,
                                  path).load()


def _load_legacy(path: str, f: BinaryIO) -> Any:
  def plain(what: str):
    # The header pickles hold only ints/dicts/lists: no globals allowed.
    return _RestrictedUnpickler(f, _no_storage, f'{path} ({what})').load()

  def _no_storage(pid):
    raise UnsafePickleError(f'{path}: unexpected storage in header')

  magic = plain('magic number')
  if magic != _LEGACY_MAGIC:
    raise ValueError(f'{path!r} is not a PyTorch checkpoint (bad magic '
                     'number).')
  protocol = plain('protocol version')
  if protocol != _LEGACY_PROTOCOL:
    raise ValueError(f'{path!r}: unsupported legacy protocol {protocol}.')
  sys_info = plain('sys info')
  little = sys_info.get('little_endian', True)

  storages: dict[str, tuple[_StorageType, int]] = {}

  def load_storage(pid):
    # ('storage', storage_type, root_key, location, numel, view_metadata)
    _, stype, key, _, numel, view = pid
    stype = _storage_type(stype, path)
    storages.setdefault(key, (stype, int(numel)))
    return _PendingStorage(key, view)

  # Tensors reference storages whose bytes come after the object pickle, so
  # the object is unpickled with placeholders that are resolved afterwards.
  obj = _RestrictedUnpickler(f, load_storage, path).load()
  keys = plain('storage keys')
  loaded: dict[str, _Storage] = {}
  for key in keys:
    if key not in storages:
      raise ValueError(f'{path!r}: storage {key!r} listed but never used.')
    stype, _ = storages[key]
    (count,) = struct.unpack('<q' if little else '>q', f.read(8))
    nbytes = count * stype.dtype.itemsize
    data = f.read(nbytes)
    if len(data) != nbytes:
      raise ValueError(f'{path!r}: storage {key!r} truncated ({len(data)} of '
                       f'{nbytes} bytes).')
    loaded[key] = _Storage(data, stype.dtype, 'little' if little else 'big')
  missing = set(storages) - set(loaded)
  if missing:
    raise ValueError(f'{path!r}: storages {sorted(missing)} have no data '
                     '(truncated file).')
  return _resolve(obj, loaded)


class _PendingStorage:
  """A legacy-format storage whose bytes have not been read yet."""

  def __init__(self, key: str, view: Any):
    self.key, self.view = key, view


class _PendingTensor:
  """A tensor over a `_PendingStorage`; `_resolve` materialises it."""

  def __init__(self, storage: _PendingStorage, args: tuple):
    self.storage, self.args = storage, args


def _resolve(obj: Any, loaded: dict[str, _Storage]) -> Any:
  """Replaces every `_PendingTensor` in `obj` by its numpy array."""
  if isinstance(obj, _PendingTensor):
    storage = loaded[obj.storage.key]
    if obj.storage.view is not None:
      # view_metadata = (view_key, offset, numel): a slice of the root storage.
      _, v_off, v_numel = obj.storage.view
      sliced = storage.array[int(v_off):int(v_off) + int(v_numel)]
      storage = _Storage(sliced.tobytes(), sliced.dtype)
    return _as_array(storage, *obj.args)
  if isinstance(obj, collections.OrderedDict):
    return collections.OrderedDict(
        (k, _resolve(v, loaded)) for k, v in obj.items())
  if isinstance(obj, dict):
    return {k: _resolve(v, loaded) for k, v in obj.items()}
  if isinstance(obj, list):
    return [_resolve(v, loaded) for v in obj]
  if isinstance(obj, tuple):
    return tuple(_resolve(v, loaded) for v in obj)
  return obj


def load(path: str | os.PathLike) -> Any:
  """Loads a `torch.save` file; tensors become numpy arrays.

  Args:
    path: a checkpoint written by `torch.save` (zip or legacy format).

  Returns:
    The saved object with every tensor replaced by an `np.ndarray` (bfloat16
    tensors use `ml_dtypes.bfloat16`).

  Raises:
    FileNotFoundError: no such file.
    UnsafePickleError: the file references anything but tensors and dicts.
    ValueError: not a PyTorch checkpoint, or truncated.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'No PyTorch checkpoint at {path!r}.')
  if zipfile.is_zipfile(path):
    return _load_zip(path)
  if tarfile.is_tarfile(path):
    raise ValueError(f'{path!r} uses the tar format of torch <= 0.1; load it '
                     'with torch and re-save it with torch.save(state_dict).')
  with open(path, 'rb') as f:
    try:
      return _load_legacy(path, f)
    except (EOFError, struct.error) as e:
      raise ValueError(f'{path!r} is truncated or not a PyTorch checkpoint '
                       f'({e}).') from e
    except pickle.UnpicklingError:
      raise
    except (ValueError, TypeError, KeyError, IndexError,
            AttributeError) as e:
      if isinstance(e, ValueError) and str(e).startswith(repr(path)):
        raise
      raise ValueError(f'{path!r} is not a readable PyTorch checkpoint '
                       f'({type(e).__name__}: {e}).') from e


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """Loads a checkpoint holding a flat {name: tensor} state dict.

  Also accepts the common wrappers {'state_dict': {...}} and {'model': {...}}.
  Non-tensor entries (e.g. a saved step counter) are dropped.
  """
  obj = load(path)
  if isinstance(obj, dict):
    for wrapper in ('state_dict', 'model'):
      if (wrapper in obj and isinstance(obj[wrapper], dict)
          and not any(isinstance(v, np.ndarray) for v in obj.values())):
        obj = obj[wrapper]
        break
  if not isinstance(obj, dict):
    raise ValueError(f'{os.fspath(path)!r} holds a {type(obj).__name__}, not '
                     'a state dict; save it with torch.save(model.state_dict()'
                     ', path).')
  out = {str(k): v for k, v in obj.items() if isinstance(v, np.ndarray)}
  if not out:
    raise ValueError(f'{os.fspath(path)!r} holds no tensors (keys: '
                     f'{list(obj)[:10]}).')
  return out
