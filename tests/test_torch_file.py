"""Tests for animejax.torch_file: torch.save files read without torch."""

import collections
import os
import pickle
import zipfile

import numpy as np
import pytest

from animejax import torch_file

torch = pytest.importorskip('torch')


def _state_dict():
  torch.manual_seed(0)
  model = torch.nn.Sequential(
      torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
      torch.nn.Linear(3, 2).half())
  sd = model.state_dict()
  # Non-contiguous views, shared storages, odd dtypes, scalars, empties.
  sd['transposed'] = torch.arange(20.).reshape(4, 5).t()[1:]
  sd['bf16'] = torch.randn(3, dtype=torch.bfloat16)
  sd['scalar'] = torch.tensor(3)
  sd['slice_of_conv'] = sd['0.weight'][1]
  sd['empty'] = torch.zeros(0, 3)
  sd['double'] = torch.randn(2, 2, dtype=torch.float64)
  sd['mask'] = torch.tensor([True, False])
  return sd


def _torch_to_numpy(t):
  if t.dtype == torch.bfloat16:
    return t.float().numpy()
  return t.numpy()


@pytest.mark.parametrize('legacy', [False, True], ids=['zip', 'legacy'])
def test_round_trip_matches_torch(tmp_path, legacy):
  sd = _state_dict()
  path = tmp_path / 'sd.pth'
  torch.save(sd, path, _use_new_zipfile_serialization=not legacy)
  got = torch_file.load_state_dict(path)
  assert list(got) == list(sd)
  for key, tensor in sd.items():
    want = _torch_to_numpy(tensor)
    assert got[key].shape == tuple(tensor.shape), key
    assert got[key].dtype == (np.dtype('bfloat16') if key == 'bf16'
                              else want.dtype), key
    np.testing.assert_array_equal(np.asarray(got[key], want.dtype), want,
                                  err_msg=key)
    assert got[key].flags.c_contiguous and got[key].flags.owndata


def test_nested_objects_and_parameters(tmp_path):
  obj = {'state_dict': collections.OrderedDict(
      w=torch.nn.Parameter(torch.ones(2, 3))), 'epoch': 7,
         'names': ['a', ('b', 1.5)]}
  path = tmp_path / 'ckpt.pt'
  torch.save(obj, path)
  got = torch_file.load(path)
  assert got['epoch'] == 7 and got['names'] == ['a', ('b', 1.5)]
  np.testing.assert_array_equal(got['state_dict']['w'], np.ones((2, 3)))
  # load_state_dict unwraps {'state_dict': ...}.
  assert list(torch_file.load_state_dict(path)) == ['w']


class _Evil:

  def __reduce__(self):
    return (os.system, ('touch /tmp/animejax_pwned',))


@pytest.mark.parametrize('legacy', [False, True], ids=['zip', 'legacy'])
def test_refuses_arbitrary_globals(tmp_path, legacy):
  marker = '/tmp/animejax_pwned'
  if os.path.exists(marker):
    os.remove(marker)
  path = tmp_path / 'evil.pth'
  if legacy:
    with open(path, 'wb') as f:
      for header in (0x1950a86a20f9469cfc6c, 1001, {'little_endian': True}):
        pickle.dump(header, f, protocol=2)
      pickle.dump({'x': _Evil()}, f, protocol=2)
  else:
    with zipfile.ZipFile(path, 'w') as zf:
      zf.writestr('archive/data.pkl', pickle.dumps({'x': _Evil()}, protocol=2))
  with pytest.raises(torch_file.UnsafePickleError, match='posix.system'):
    torch_file.load(path)
  assert not os.path.exists(marker)


def test_refuses_whole_modules(tmp_path):
  path = tmp_path / 'module.pth'
  torch.save(torch.nn.Linear(2, 2), path)
  with pytest.raises(torch_file.UnsafePickleError, match='state_dict'):
    torch_file.load(path)


def test_bad_files(tmp_path):
  with pytest.raises(FileNotFoundError, match='nope.pth'):
    torch_file.load(tmp_path / 'nope.pth')
  junk = tmp_path / 'junk.pth'
  junk.write_bytes(b'not a checkpoint at all')
  with pytest.raises((ValueError, pickle.UnpicklingError)):
    torch_file.load(junk)
  # A truncated legacy file: the storage bytes are cut short.
  path = tmp_path / 'cut.pth'
  torch.save({'w': torch.ones(1000)}, path,
             _use_new_zipfile_serialization=False)
  data = path.read_bytes()
  path.write_bytes(data[:-100])
  with pytest.raises(ValueError, match='truncated'):
    torch_file.load(path)
  # A zip that is not a torch checkpoint.
  other = tmp_path / 'other.zip'
  with zipfile.ZipFile(other, 'w') as zf:
    zf.writestr('hello.txt', 'hi')
  with pytest.raises(ValueError, match='data.pkl'):
    torch_file.load(other)
  # A checkpoint that is not a state dict.
  lst = tmp_path / 'list.pth'
  torch.save([torch.ones(1)], lst)
  with pytest.raises(ValueError, match='not a state dict'):
    torch_file.load_state_dict(lst)
