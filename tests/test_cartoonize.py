"""Tests for the cartoonize CLI: folders, single images, videos, bad input,
exit statuses, offline hints and a quiet terminal."""

import logging
import os
import shlex
import warnings

import cv2
import numpy as np
import pytest
from PIL import Image

from animejax import cartoonize
from animejax import video
from animejax.convert import catalogue
from animejax.convert import cli as convert_cli
import inference_helpers as h


@pytest.fixture(scope='module')
def weights_file(tmp_path_factory):
  path = tmp_path_factory.mktemp('w') / 'tiny.msgpack'
  h.write_tiny_weights(path)
  return str(path)


@pytest.fixture(autouse=True)
def registry(monkeypatch):
  h.ensure_registry(monkeypatch)


def _write(path, img):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


def test_folder_mirrors_tree_and_skips_bad_files(tmp_path, weights_file,
                                                 capsys):
  src, out = tmp_path / 'in', tmp_path / 'out'
  _write(str(src / 'a.jpg'), h.smooth_image(40, 56))
  _write(str(src / 'sub' / 'b.png'), h.smooth_image(64, 48, seed=1))
  _write(str(src / 'sub' / 'deeper' / 'c.jpg'), h.smooth_image(30, 33, 2))
  (src / 'sub' / 'broken.jpg').write_bytes(b'not a jpeg at all')
  (src / 'notes.txt').write_text('ignored')
  rc = cartoonize.main([
      '--weights', weights_file, '--input', str(src), '--output', str(out),
      '--ext', 'png', '--batch', '2', '--no-progress'])
  assert rc == cartoonize.EXIT_SOME_FAILED  # 3 written, 1 failed
  got = sorted(str(p.relative_to(out)) for p in out.rglob('*') if p.is_file())
  assert got == ['a.png', 'sub/b.png', 'sub/deeper/c.png']
  assert cv2.imread(str(out / 'sub' / 'deeper' / 'c.png')).shape == (30, 33, 3)
  text = capsys.readouterr()
  assert 'broken.jpg' in text.err and 'not a readable image' in text.err
  assert '3 written, 1 failed' in text.out
  # One 64x64 bucket for all three sizes: one compiled function.
  assert '1 compiled shape(s)' in text.out


def test_single_image_size_and_keep_color(tmp_path, weights_file):
  img = h.smooth_image(60, 90)
  _write(str(tmp_path / 'p.png'), img)
  out = tmp_path / 'o' / 'p.png'
  assert cartoonize.main([
      '--weights', weights_file, '--input', str(tmp_path / 'p.png'),
      '--output', str(out), '--size', '120', '--keep-color', '--tile', '64',
      '--overlap', '16', '--no-progress']) == 0
  res = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
  assert res.shape == (80, 120, 3)
  # Chroma comes from the (resized) input.
  ref = cv2.resize(img, (120, 80), interpolation=cv2.INTER_CUBIC)
  cc = lambda x: cv2.cvtColor(x, cv2.COLOR_RGB2YCrCb)[..., 1:].astype(int)
  assert np.median(np.abs(cc(res) - cc(ref))) <= 2  # gamut clips a few


def _make_video(path, frames=50, fps=10.0, size=(64, 48)):
  writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps,
                           size)
  assert writer.isOpened()
  for i in range(frames):
    img = np.full((size[1], size[0], 3), 40, np.uint8)
    cv2.circle(img, (5 + i, 24), 8, (0, 200, 255), -1)
    writer.write(img)
  writer.release()


def _count(path):
  cap = cv2.VideoCapture(str(path))
  n = 0
  while cap.read()[0]:
    n += 1
  fps = cap.get(cv2.CAP_PROP_FPS)
  size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
          int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
  cap.release()
  return n, fps, size


def test_video_keeps_frames_fps_size(tmp_path, weights_file, capsys):
  src = tmp_path / 'clip.mp4'
  _make_video(src)  # 5 s at 10 fps
  assert _count(src) == (50, 10.0, (64, 48))
  out = tmp_path / 'out' / 'clip.mp4'
  assert cartoonize.main([
      '--weights', weights_file, '--input', str(src), '--output', str(out),
      '--batch', '4', '--no-progress']) == 0
  assert _count(out) == (50, 10.0, (64, 48))
  assert '50 frames' in capsys.readouterr().out
  # The frames are the generator's, not copies of the input.
  a = next(video.read_frames(str(src))).astype(int)
  b = next(video.read_frames(str(out))).astype(int)
  assert np.abs(a - b).mean() > 5


def test_gif_round_trip(tmp_path, weights_file):
  frames = [Image.fromarray(h.smooth_image(32, 40, seed=i)) for i in range(6)]
  src = tmp_path / 'a.gif'
  frames[0].save(src, save_all=True, append_images=frames[1:], duration=100,
                 loop=0)
  out = tmp_path / 'b.gif'
  assert cartoonize.main(['--weights', weights_file, '--input', str(src),
                          '--output', str(out), '--no-progress']) == 0
  info = video.probe(str(out))
  assert (info.frames, info.width, info.height) == (6, 40, 32)
  assert info.fps == pytest.approx(10.0)


def test_errors_are_clear(tmp_path, weights_file, capsys):
  _write(str(tmp_path / 'p.png'), h.smooth_image(16, 16))
  assert cartoonize.main(['--weights', str(tmp_path / 'nope.msgpack'),
                          '--input', str(tmp_path / 'p.png'), '--output',
                          str(tmp_path / 'o.png')]) == 2
  assert 'does not exist' in capsys.readouterr().err
  assert cartoonize.main(['--weights', weights_file, '--input',
                          str(tmp_path / 'missing'), '--output',
                          str(tmp_path / 'o')]) == 2
  assert '--input' in capsys.readouterr().err
  bad = tmp_path / 'bad.msgpack'
  bad.write_bytes(b'\x00\x01garbage')
  assert cartoonize.main(['--weights', str(bad), '--input',
                          str(tmp_path / 'p.png'), '--output',
                          str(tmp_path / 'o.png')]) == 2
  assert 'not an animejax weights file' in capsys.readouterr().err


def test_training_workdir(tmp_path, weights_file, capsys, caplog):
  """--weights WORKDIR reads the generator of the latest orbax checkpoint,
  without orbax's read-only notices (the reader opens it read-only)."""
  checkpointing = pytest.importorskip('animejax.checkpointing')
  from animejax import weights_io  # pylint: disable=g-import-not-at-top
  w = weights_io.load(weights_file)
  workdir = str(tmp_path / 'run')
  ckpt = checkpointing.Checkpointer(workdir, keep=1)
  ckpt.save(3, {'g_params': w.params}, {'config': {'generator': {
      'name': h.TINY_ARCH, 'init_from': '', **h.TINY_KWARGS}}})
  ckpt.wait()
  ckpt.close()
  _write(str(tmp_path / 'p.png'), h.smooth_image(24, 24))
  out_dir, out_file = tmp_path / 'a.png', tmp_path / 'b.png'
  caplog.clear()
  for weights, out in ((workdir, out_dir), (weights_file, out_file)):
    assert cartoonize.main(['--weights', weights, '--input',
                            str(tmp_path / 'p.png'), '--output', str(out),
                            '--no-progress']) == 0
  notices = [r.getMessage() for r in caplog.records
             if 'read only' in r.getMessage() or 'read_only' in r.getMessage()]
  assert not notices
  absl_logger = logging.getLogger('absl')
  assert checkpointing._not_a_read_only_notice not in absl_logger.filters
  np.testing.assert_array_equal(cv2.imread(str(out_dir)),
                                cv2.imread(str(out_file)))
  assert cartoonize.main(['--weights', str(tmp_path), '--input',
                          str(tmp_path / 'p.png'), '--output',
                          str(tmp_path / 'c.png')]) == 2
  assert 'not a training workdir' in capsys.readouterr().err


class _Identity:
  """Stands in for inference.Cartoonizer where only the bookkeeping counts.

  The exit status does not depend on the generator, and compiling it once
  per run would cost seconds on a shared CPU.
  """

  def __init__(self, module, params, *, batch=1, **unused):
    del module, params, unused
    self.batch, self.compilations = batch, 0

  def group_key(self, image):
    return ('whole',) + image.shape[:2]

  def __call__(self, images):
    return list(images)


def _run_folder(tmp_path, weights_file, name, good, bad):
  src = tmp_path / name
  src.mkdir()
  for i in range(good):
    _write(str(src / f'good{i}.png'), h.smooth_image(16, 16, seed=i))
  for i in range(bad):
    (src / f'bad{i}.jpg').write_bytes(b'')  # zero bytes: not decodable
  return cartoonize.main(['--weights', weights_file, '--input', str(src),
                          '--output', str(tmp_path / f'{name}_out'),
                          '--no-progress'])


def test_exit_status_all_good_some_bad_all_bad(tmp_path, weights_file,
                                               capsys, monkeypatch):
  from animejax import inference  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(inference, 'Cartoonizer', _Identity)
  assert _run_folder(tmp_path, weights_file, 'good', 2, 0) == 0
  assert '2 written, 0 failed' in capsys.readouterr().out
  assert _run_folder(tmp_path, weights_file, 'some', 1, 1) == 3
  assert '1 written, 1 failed' in capsys.readouterr().out
  assert _run_folder(tmp_path, weights_file, 'bad', 0, 2) == 1
  assert '0 written, 2 failed' in capsys.readouterr().out
  # A single unreadable image is "every input failed" too.
  assert cartoonize.main(['--weights', weights_file, '--input',
                          str(tmp_path / 'bad' / 'bad0.jpg'), '--output',
                          str(tmp_path / 'one.png'), '--no-progress']) == 1


def test_exit_statuses_are_documented(capsys):
  assert (cartoonize.EXIT_OK, cartoonize.EXIT_ALL_FAILED, cartoonize.EXIT_USAGE,
          cartoonize.EXIT_SOME_FAILED) == (0, 1, 2, 3)
  assert [cartoonize.exit_status(*c) for c in ((3, 0), (0, 0), (2, 1),
                                               (0, 4))] == [0, 0, 3, 1]
  with pytest.raises(SystemExit) as e:
    cartoonize.parse_args(['--help'])
  assert e.value.code == 0
  out = capsys.readouterr().out
  assert 'exit status:' in out
  for line in ('0  every input was written', '1  every input failed',
               '2  usage error', '3  some inputs failed'):
    assert line in out


def _suggested(text):
  """The `python -m animejax.X ...` commands in a hint, as argv lists."""
  return [shlex.split(line.strip()) for line in text.splitlines()
          if line.strip().startswith('python -m animejax.')]


@pytest.mark.parametrize('style', ['animeganv3-shinkai-37', 'animeganv2-hayao',
                                   'animeganv2-hayao-int8-tflite'])
def test_offline_style_hint_commands_parse(tmp_path, monkeypatch, capsys,
                                           style):
  """Offline --style: the suggested convert and cartoonize commands are
  accepted by the real parsers and chain (convert --out = --weights)."""
  def offline(url, dest):
    raise OSError(f'network unreachable ({url})')
  monkeypatch.setattr(catalogue, '_urlopen_to', offline)
  cache = tmp_path / 'cache'
  monkeypatch.setenv('XDG_CACHE_HOME', str(cache))
  _write(str(tmp_path / 'p.png'), h.smooth_image(16, 16))
  argv = ['--style', style, '--input', str(tmp_path / 'p.png'), '--output',
          str(tmp_path / 'my out.png'), '--size', '64', '--no-progress']
  assert cartoonize.main(argv) == cartoonize.EXIT_USAGE
  err = capsys.readouterr().err
  assert '--from' not in err.replace('convert --from', '')  # not ours
  conv, run = _suggested(err)
  assert conv[:3] == ['python', '-m', 'animejax.convert']
  conv_args = convert_cli._parser().parse_args(conv[3:])
  entry = catalogue.CATALOGUE[style]
  assert conv_args.arch == entry.arch
  assert conv_args.out == catalogue.converted_name(style)
  assert run[:3] == ['python', '-m', 'animejax.cartoonize']
  run_args = cartoonize.parse_args(run[3:])
  assert run_args.weights == conv_args.out and run_args.style is None
  assert run_args.output == str(tmp_path / 'my out.png')  # quoted, intact
  assert run_args.size == 64 and run_args.no_progress
  # The failed download left nothing behind, not even the cache folder.
  assert not cache.exists()


def test_quiet_runtime_drops_known_noise_only(monkeypatch, caplog):
  monkeypatch.delenv('TF_CPP_MIN_LOG_LEVEL', raising=False)
  jax_logger = logging.getLogger('jax._src.xla_bridge')
  monkeypatch.setattr(jax_logger, 'filters', [])  # restored afterwards
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    cartoonize.quiet_runtime()
    cartoonize.quiet_runtime()  # idempotent: one logging filter
    warnings.warn('    Warning: tf.lite.Interpreter is deprecated and is '
                  'scheduled for deletion in TF 2.20.', UserWarning)
    warnings.warn('a real warning', UserWarning)
  assert [str(w.message) for w in caught] == ['a real warning']
  assert os.environ['TF_CPP_MIN_LOG_LEVEL'] == '1'
  assert len(jax_logger.filters) == 1
  caplog.set_level(logging.INFO, logger='jax._src.xla_bridge')
  jax_logger.info("Unable to initialize backend 'tpu': no TPU found")
  jax_logger.warning('An NVIDIA GPU may be present on this machine, but a '
                     'CUDA-enabled jaxlib is not installed.')
  assert [r.getMessage()[:9] for r in caplog.records] == ['An NVIDIA']
  # A user's own setting wins.
  monkeypatch.setenv('TF_CPP_MIN_LOG_LEVEL', '0')
  cartoonize.quiet_runtime()
  assert os.environ['TF_CPP_MIN_LOG_LEVEL'] == '0'


def test_export_drops_known_converter_lines_only(capfd):
  """C++ log lines reach fd 2 directly; export drops the known ones."""
  from animejax import export  # pylint: disable=g-import-not-at-top
  with export._drop_stderr_lines(export._CONVERTER_NOISE):
    os.write(2, b'W0000 helpers.cc:364] Ignored output_format.\n'
                b'E0000 converter.cc:1] a real error\n')
  assert capfd.readouterr().err == 'E0000 converter.cc:1] a real error\n'
  with pytest.raises(ValueError):  # the lines come out when it fails too
    with export._drop_stderr_lines(export._CONVERTER_NOISE):
      os.write(2, b'why it failed\n')
      raise ValueError('conversion failed')
  assert capfd.readouterr().err == 'why it failed\n'
