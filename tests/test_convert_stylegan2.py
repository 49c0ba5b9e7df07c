"""`python -m animejax.convert --from network-snapshot-*.pkl --out WORKDIR`.

An official-format stylegan2-ada-pytorch snapshot (written by the torch
re-implementation of [ada] networks.py in tests/test_stylegan2.py, pickled
as [ada] training/training_loop.py does) converts through the CLI to a
training workdir whose checkpoint `animejax.generate` loads and samples
like `methods.stylegan2.from_snapshot` and torch's G_ema; a workdir that
already holds checkpoints and .pkl files that are no snapshot are refused.
"""

import json
import os
import pickle
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from animejax import checkpointing, generate
from animejax.convert import cli
from animejax.methods import stylegan2 as sg2


def _rel(a, b):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


def test_snapshot_converts_to_a_workdir_that_generates_like_g_ema(
    tmp_path, monkeypatch, capsys):
  torch = pytest.importorskip('torch')
  import test_stylegan2 as ref  # pylint: disable=g-import-not-at-top
  g, g_ema = ref._make_g(seed=11), ref._make_g(seed=12)  # pylint: disable=protected-access
  d = ref._make_d(seed=13, c_dim=0)  # pylint: disable=protected-access
  pkl = tmp_path / 'network-snapshot-000040.pkl'
  ref._write_snapshot(pkl, monkeypatch, G=g, D=d, G_ema=g_ema)  # pylint: disable=protected-access
  workdir = tmp_path / 'run'
  faces = tmp_path / 'faces'
  assert cli.main(['--from', str(pkl), '--out', str(workdir),
                   '--image-dir', str(faces)]) == 0
  printed = capsys.readouterr().out
  assert 'stylegan2 16 px' in printed and 'step 0' in printed
  assert 'torch_utils' not in sys.modules  # nothing of the pickle ran

  # The run loop's meta and the config a later `animejax.main` resumes.
  with open(workdir / 'config.json', encoding='utf-8') as f:
    saved = json.load(f)
  assert saved['method'] == 'stylegan2'
  assert saved['data']['image_dir'] == str(faces)
  assert saved['data']['image_size'] == ref.RES
  ckpt = checkpointing.open_read_only(str(workdir))
  try:
    assert ckpt.manager.all_steps() == [0]
    meta = ckpt.meta(0)
  finally:
    ckpt.close()
  assert (meta['method'], meta['step']) == ('stylegan2', 0)
  saved_method = sg2.create(ml_collections.ConfigDict(saved))
  # No step has run: the kind saved is the one the loop runs at step 0
  # ([ada]: both regularisers run when batch_idx % interval == 0).
  assert meta['kind'] == saved_method.schedule(0).step_kind(0) == 'main_pl_r1'
  assert meta['state_version'] == saved_method.state_version
  assert meta['total_steps'] == saved['train_steps'] > 0
  assert meta['config']['data']['image_dir'] == str(faces)

  # generate.load + its predict function == from_snapshot == torch G_ema.
  method, params, step = generate.load(str(workdir))
  assert step == 0 and method.name == 'stylegan2'
  _, direct = sg2.from_snapshot(ref.stylegan2_pkl.load_snapshot(pkl))
  want_params = method.inference_params(direct)
  for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(want_params)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  z = torch.randn(3, ref.Z, generator=torch.Generator().manual_seed(4))
  fn = jax.jit(method.predict_fns()['generate'])
  got = np.asarray(fn(params, {'z': jnp.asarray(z.numpy())})['images'])
  direct_images = np.asarray(
      fn(want_params, {'z': jnp.asarray(z.numpy())})['images'])
  np.testing.assert_array_equal(got, direct_images)
  with torch.no_grad():
    want = g_ema(z, None).clamp(-1, 1).numpy()  # noise_mode='const'
  assert got.shape == (3, ref.RES, ref.RES, 3)
  assert _rel(np.transpose(got, (0, 3, 1, 2)), want) < 1e-4

  # A second conversion into the same workdir is refused, nothing touched.
  before = sorted(os.listdir(workdir / 'checkpoints'))
  assert cli.main(['--from', str(pkl), '--out', str(workdir)]) == 2
  assert 'already holds checkpoints' in capsys.readouterr().err
  assert sorted(os.listdir(workdir / 'checkpoints')) == before


def test_out_with_a_checkpoint_is_refused_before_reading(tmp_path, capsys):
  # Garbage .pkl: the refusal must come before the file is even read.
  pkl = tmp_path / 'network-snapshot-000000.pkl'
  pkl.write_bytes(b'not read')
  workdir = tmp_path / 'run'
  (workdir / 'checkpoints' / '100').mkdir(parents=True)
  assert cli.main(['--from', str(pkl), '--out', str(workdir)]) == 2
  err = capsys.readouterr().err
  assert 'already holds checkpoints' in err and str(workdir) in err
  assert not (workdir / 'config.json').exists()
  (tmp_path / 'file.msgpack').write_bytes(b'x')
  assert cli.main(['--from', str(pkl), '--out',
                   str(tmp_path / 'file.msgpack')]) == 2
  assert 'is a file' in capsys.readouterr().err


class _Trap:
  """Unpickles by calling os.system (a booby-trapped snapshot)."""

  def __reduce__(self):
    return (os.system, ('echo trapped > /dev/null',))


@pytest.mark.parametrize('content, match', [
    (pickle.dumps({'epoch': 3, 'weights': [1.0, 2.0]}), 'no G_ema/G/D'),
    (pickle.dumps([1, 2, 3]), 'holds a list'),
    (pickle.dumps({'G_ema': _Trap()}), 'system refused'),
    (b'PK\x03\x04 a torch.save zip, not a snapshot', 'not a readable'),
    (b'', 'not a readable'),
], ids=['dict', 'list', 'booby-trap', 'zip', 'empty'])
def test_pkl_that_is_not_a_snapshot_is_refused(tmp_path, content, match):
  pkl = tmp_path / 'model.pkl'
  pkl.write_bytes(content)
  workdir = tmp_path / 'run'
  with pytest.raises(ValueError, match=match):
    cli.main(['--from', str(pkl), '--out', str(workdir)])
  assert not workdir.exists()  # nothing written


def test_run_maps_a_non_snapshot_pkl_to_exit_1(tmp_path, monkeypatch,
                                               capsys):
  pkl = tmp_path / 'model.pkl'
  pkl.write_bytes(pickle.dumps({'not': 'a snapshot'}))
  monkeypatch.setattr(sys, 'argv', ['animejax.convert', '--from', str(pkl),
                                    '--out', str(tmp_path / 'run')])
  with pytest.raises(SystemExit) as e:
    cli.run()
  assert e.value.code == 1
  err = capsys.readouterr().err
  assert 'not a stylegan2-ada-pytorch network snapshot' in err
  assert 'Traceback' not in err


def test_arch_does_not_apply_to_a_snapshot(tmp_path, capsys):
  pkl = tmp_path / 'network-snapshot-000000.pkl'
  pkl.write_bytes(b'not read')
  assert cli.main(['--from', str(pkl), '--arch', 'ugatit', '--out',
                   str(tmp_path / 'run')]) == 2
  assert '--arch/--format do not apply' in capsys.readouterr().err


def test_help_documents_the_pkl_branch(capsys):
  with pytest.raises(SystemExit):
    cli.main(['--help'])
  out = capsys.readouterr().out
  assert '--image-dir' in out and 'already holds a checkpoint' in out
