"""Catalogue (offline behaviour, no downloads), format detection and CLI."""

import os
import shlex
import subprocess
import sys
import urllib.request

import numpy as np
import pytest

from animejax import convert, weights_io
from animejax.convert import catalogue, cli


def failing_fetch(url, dest):
  raise OSError(f'network unreachable ({url})')


def test_catalogue_offline_says_what_to_download(tmp_path):
  with pytest.raises(catalogue.DownloadError) as e:
    catalogue.resolve('animegan2-pytorch-paprika', str(tmp_path),
                      fetch=failing_fetch)
  msg = str(e.value)
  assert 'weights/paprika.pt' in msg and str(tmp_path / 'paprika.pt') in msg
  assert 'non-commercial' in msg
  with pytest.raises(catalogue.DownloadError, match='checkpoint folder'):
    catalogue.resolve('animeganv2-hayao', str(tmp_path), fetch=failing_fetch)
  assert not os.path.exists(tmp_path / 'generator_Hayao_weight')
  assert not os.path.exists(tmp_path / 'generator_Hayao_weight.part')
  with pytest.raises(catalogue.DownloadError, match='Google Drive'):
    catalogue.resolve('animeganv2-hayao-int8-tflite', str(tmp_path))
  with pytest.raises(KeyError, match='known'):
    catalogue.resolve('animeganv9', str(tmp_path))


def _commands(text):
  """The `python -m animejax.X ...` lines of a hint, as argv lists."""
  return [shlex.split(line.strip()) for line in text.splitlines()
          if line.strip().startswith('python -m animejax.')]


@pytest.mark.parametrize('name', sorted(catalogue.CATALOGUE))
def test_offline_hint_command_parses_and_nothing_is_left(tmp_path, name):
  """Each entry's offline hint: a convert command the real parser accepts,
  converting the very file or folder the hint says to fetch; the cache
  folders the failed download created are gone again."""
  cache = tmp_path / 'cache' / 'animejax'  # neither folder exists yet
  with pytest.raises(catalogue.DownloadError) as e:
    catalogue.resolve(name, str(cache), fetch=failing_fetch)
  msg, entry = str(e.value), catalogue.CATALOGUE[name]
  assert '(or pass the local path to --from)' not in msg
  (cmd,) = _commands(msg)
  assert cmd[:3] == ['python', '-m', 'animejax.convert']
  args = cli._parser().parse_args(cmd[3:])
  assert args.arch == entry.arch and args.out == f'{name}.msgpack'
  if entry.fmt == 'tf1':
    # The folder the git command checks out, not a raw/master folder URL.
    folder = entry.url.split('/raw/master/')[1]
    assert args.source == f'AnimeGANv2/{folder}'
    assert f'sparse-checkout set {folder}' in msg
    assert f'{entry.url}/checkpoint' in msg
  else:
    assert args.source == str(cache / entry.filename)
    if not entry.manual:
      assert f'curl -fL --create-dirs -o {cache / entry.filename} ' in msg
  assert not (tmp_path / 'cache').exists()


def test_failed_download_removes_partial_files_and_new_folders(tmp_path):
  base = tmp_path / 'keep'
  base.mkdir()
  (base / 'other.onnx').write_bytes(b'x')  # a cache holding other files

  def half_tf1(url, dest):  # `checkpoint` arrives, then the network drops
    if not url.endswith('/checkpoint'):
      raise OSError('connection reset')
    with open(dest, 'w') as f:
      f.write('model_checkpoint_path: "Hayao-99.ckpt"\n')

  def half_file(url, dest):  # a fetcher that writes in place, then fails
    with open(dest, 'wb') as f:
      f.write(b'partial')
    raise OSError('connection reset')

  for name, fetch in (('animeganv2-hayao', half_tf1),
                      ('animeganv3-hayao-36', half_file)):
    with pytest.raises(catalogue.DownloadError):
      catalogue.resolve(name, str(base / 'new' / 'deeper'), fetch=fetch)
    with pytest.raises(catalogue.DownloadError):
      catalogue.resolve(name, str(base), fetch=fetch)
    # The existing cache keeps its files and gains nothing.
    assert sorted(os.listdir(base)) == ['other.onnx']


def test_default_fetcher_leaves_no_temporary_file(tmp_path, monkeypatch):
  class Dropped:
    def __enter__(self):
      return self

    def __exit__(self, *exc):
      return False

    def read(self, *unused):
      raise OSError('connection reset')

  # The default fetcher (animejax.downloads.urlopen_to) reads through it.
  monkeypatch.setattr(urllib.request, 'urlopen',
                      lambda url, timeout: Dropped())
  with pytest.raises(catalogue.DownloadError):
    catalogue.resolve('animeganv3-hayao-36', str(tmp_path / 'c'))
  assert not (tmp_path / 'c').exists()


def test_command_with_weights_replaces_style_and_weights():
  cmd = catalogue.command_with_weights(
      'animejax.cartoonize',
      ['--style', 'x', '--input', 'a b.png', '--weights=w', '--style=y',
       '--output', 'o.png'], 'x.msgpack')
  assert shlex.split(cmd) == [
      'python', '-m', 'animejax.cartoonize', '--weights', 'x.msgpack',
      '--input', 'a b.png', '--output', 'o.png']


def test_export_offline_style_hint(tmp_path, monkeypatch, capsys):
  from animejax import export  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(catalogue, '_urlopen_to', failing_fetch)
  monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
  assert export.main(['--style', 'animeganv3-shinkai-37', '--format',
                      'tflite', '--out', 'shinkai.tflite']) == 2
  conv, run = _commands(capsys.readouterr().err)
  assert (cli._parser().parse_args(conv[3:]).out ==
          'animeganv3-shinkai-37.msgpack')
  args = export.parse_args(run[3:])
  assert (args.weights, args.style, args.format, args.out) == (
      'animeganv3-shinkai-37.msgpack', None, 'tflite', 'shinkai.tflite')
  assert not (tmp_path / 'cache').exists()


def test_cli_documents_exit_statuses(capsys):
  with pytest.raises(SystemExit):
    cli.main(['--help'])
  out = capsys.readouterr().out
  assert 'exit status:' in out and '2  usage error' in out


def test_catalogue_fetches_tf1_folder_with_given_fetcher(tmp_path):
  served = {'checkpoint': b'model_checkpoint_path: "Hayao-99.ckpt"\n',
            'Hayao-99.ckpt.index': b'i',
            'Hayao-99.ckpt.data-00000-of-00001': b'd'}
  urls = []

  def fake_fetch(url, dest):
    urls.append(url)
    with open(dest, 'wb') as f:
      f.write(served[url.rsplit('/', 1)[1]])

  path = catalogue.resolve('animeganv2-hayao', str(tmp_path), fetch=fake_fetch)
  assert sorted(os.listdir(path)) == sorted(served)
  assert urls[0].endswith('generator_Hayao_weight/checkpoint')
  # Cached: no second fetch.
  assert catalogue.resolve('animeganv2-hayao', str(tmp_path),
                           fetch=failing_fetch) == path


def test_catalogue_entries_are_consistent():
  for e in catalogue.CATALOGUE.values():
    assert e.arch in convert.ARCHS and e.fmt in convert.FORMATS
    assert e.url.startswith('https://')
    assert not e.sha256  # none is published next to the files


def test_shared_files_match_recorded_hashes(shared):
  for name, digest in catalogue.LOCAL_SHA256.items():
    path = shared / 'weights' / name
    if path.is_file():
      assert catalogue.sha256(str(path)) == digest, name


def test_detect_format(tmp_path):
  (tmp_path / 'a.pt').write_bytes(b'PK')
  assert convert.detect_format(str(tmp_path / 'a.pt')) == 'torch'
  (tmp_path / 'noext').write_bytes(b'\x1c\x00\x00\x00TFL3rest')
  assert convert.detect_format(str(tmp_path / 'noext')) == 'tflite'
  assert convert.detect_format(str(tmp_path)) == 'tf1'
  (tmp_path / 'x.txt').write_text('hello')
  with pytest.raises(ValueError, match='--format'):
    convert.detect_format(str(tmp_path / 'x.txt'))


def test_cli_converts_v3_onnx_and_rejects_bad_input(shared, tmp_path, capsys):
  src = shared / 'weights' / 'AnimeGANv3_tiny_Cute.onnx'
  if not src.is_file():
    pytest.skip('AnimeGANv3_tiny_Cute.onnx not in shared weights')
  out = tmp_path / 'cute.msgpack'
  assert cli.main(['--from', str(src), '--out', str(out)]) == 0
  printed = capsys.readouterr().out
  assert 'animeganv3' in printed and '605,616' in printed
  w = weights_io.load(str(out))
  assert w.arch == 'animeganv3' and w.model_kwargs['variant'] == 'tiny'
  assert 'non-commercial' in w.meta['licence']
  np.testing.assert_array_equal(
      w.params['out_conv']['kernel'].shape, (7, 7, 16, 3))
  assert cli.main(['--from', str(tmp_path / 'nope'), '--out',
                   str(out)]) == 2


def test_cli_subprocess_error_is_one_line(tmp_path):
  bad = tmp_path / 'bad.tflite'
  bad.write_bytes(b'not a model')
  r = subprocess.run(
      [sys.executable, '-m', 'animejax.convert', '--from', str(bad),
       '--out', str(tmp_path / 'o.msgpack')],
      capture_output=True, text=True, timeout=120)
  assert r.returncode == 1
  assert 'not a readable TFLite model' in r.stderr
  assert 'Traceback' not in r.stderr


def test_cli_end_to_end_v2_tflite_rebuilds_with_registry(shared, tmp_path,
                                                         capsys):
  import jax
  from animejax import models
  src = shared / 'weights' / 'animeganv2_hayao_256_int8.tflite'
  if not src.is_file():
    pytest.skip('animeganv2_hayao_256_int8.tflite not in shared weights')
  out = tmp_path / 'hayao.msgpack'
  assert cli.main(['--from', str(src), '--format', 'auto', '--out',
                   str(out)]) == 0
  assert '2,143,552' in capsys.readouterr().out
  w = weights_io.load(str(out))
  assert w.arch == 'animeganv2'
  assert w.model_kwargs['upsample'] == 'tf1'
  model = models.create_generator(w.arch, **w.model_kwargs)
  x = np.zeros((1, 32, 32, 3), np.float32)
  y = jax.jit(model.apply)({'params': w.params}, x)
  assert y.shape == x.shape and np.isfinite(np.asarray(y)).all()


def test_cli_wrong_arch_is_a_clear_error(shared, tmp_path, capsys):
  src = shared / 'weights' / 'animeganv2_hayao_256_int8.tflite'
  if not src.is_file():
    pytest.skip('animeganv2_hayao_256_int8.tflite not in shared weights')
  with pytest.raises(ValueError, match='Is this an AnimeGANv3'):
    cli.main(['--from', str(src), '--arch', 'animeganv3', '--out',
              str(tmp_path / 'x.msgpack')])
