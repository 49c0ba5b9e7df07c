"""Tests for the cartoonize CLI: folders, single images, videos, bad input."""

import os

import cv2
import numpy as np
import pytest
from PIL import Image

from animejax import cartoonize
from animejax import video
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
  assert rc == 0
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


def test_training_workdir(tmp_path, weights_file, capsys):
  """--weights WORKDIR reads the generator of the latest orbax checkpoint."""
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
  for weights, out in ((workdir, out_dir), (weights_file, out_file)):
    assert cartoonize.main(['--weights', weights, '--input',
                            str(tmp_path / 'p.png'), '--output', str(out),
                            '--no-progress']) == 0
  np.testing.assert_array_equal(cv2.imread(str(out_dir)),
                                cv2.imread(str(out_file)))
  assert cartoonize.main(['--weights', str(tmp_path), '--input',
                          str(tmp_path / 'p.png'), '--output',
                          str(tmp_path / 'c.png')]) == 2
  assert 'not a training workdir' in capsys.readouterr().err
