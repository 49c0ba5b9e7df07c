"""The web app: model discovery, upload checks, each tab's handler, and the
page itself driven in headless Debian Chromium.

Every model is tiny and test-written: an AnimeGANv3 weights file at width
0.25 and initialised (untrained) workdirs of the U-GAT-IT, trVAE, DCGAN,
DRAGAN and SRResNet smoke configs. The browser tests skip, with the reason,
where Chromium or Playwright is missing (.ci/run installs both).
"""

import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.dirname(os.path.abspath(__file__))
for path in (REPO, TESTS):
  if path not in sys.path:
    sys.path.insert(0, path)

import app_driver  # pylint: disable=wrong-import-position
import inference_helpers  # pylint: disable=wrong-import-position
from workdirs import initialised_workdir  # pylint: disable=wrong-import-position

from animejax import app  # pylint: disable=wrong-import-position
from animejax import inference  # pylint: disable=wrong-import-position
from animejax import serving  # pylint: disable=wrong-import-position


def _smoke(name):
  from animejax import methods  # pylint: disable=g-import-not-at-top
  return methods.module(name).smoke_config()


@pytest.fixture(scope='module')
def model_paths(tmp_path_factory):
  """name -> path of every tiny model; one per method the page serves."""
  root = tmp_path_factory.mktemp('models')
  paths = {'anime': str(root / 'anime.msgpack')}
  inference_helpers.write_tiny_weights(paths['anime'])
  for name, method in (('selfie', 'ugatit'), ('trvae', 'trvae'),
                       ('faces', 'dcgan'), ('tagged', 'dragan'),
                       ('x4', 'srgan')):
    config = _smoke(method)
    if method == 'srgan':
      config.loss.vgg_weight = 0.0  # no VGG19 to build
    paths[name] = initialised_workdir(config, str(root / name))
  return paths


@pytest.fixture(scope='module')
def models(model_paths):
  entries, notes = serving.find_entries(list(model_paths.items()))
  assert not notes
  return serving.Models(entries)


def _png(path, h, w, seed=0):
  rng = np.random.default_rng(seed)
  Image.fromarray(rng.integers(0, 256, (h, w, 3), np.uint8)).save(path)
  return str(path)


def _png_header_only(path, w, h):
  """A PNG whose header declares w x h (no pixel data): what a huge upload
  looks like before it is decoded."""
  def chunk(kind, data):
    return (struct.pack('>I', len(data)) + kind + data +
            struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))
  with open(path, 'wb') as f:
    f.write(b'\x89PNG\r\n\x1a\n' + chunk(
        b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) +
            chunk(b'IDAT', zlib.compress(b'')) + chunk(b'IEND', b''))
  return str(path)


# --- without a browser -------------------------------------------------------

def test_entries_know_their_tabs_and_skip_bad_paths(model_paths, tmp_path):
  junk = tmp_path / 'junk.bin'
  junk.write_bytes(b'\x00\x01 not weights')
  named = list(model_paths.items()) + [('gone', str(tmp_path / 'missing')),
                                       ('junk', str(junk)),
                                       ('folder', str(tmp_path))]
  entries, notes = serving.find_entries(named)
  tasks = {e.name: e.tasks for e in entries}
  assert tasks == {'anime': ('cartoonize',),
                   'selfie': ('cartoonize', 'selfie'),
                   'trvae': ('cartoonize', 'selfie'),
                   'faces': ('generate',), 'tagged': ('generate',),
                   'x4': ('upscale',)}
  assert len(notes) == 3
  assert 'gone:' in notes[0] and 'does not exist' in notes[0]
  assert 'junk:' in notes[1] and 'convert' in notes[1]
  assert 'folder:' in notes[2] and 'not a training workdir' in notes[2]


def test_parse_weights():
  assert serving.parse_weights(['a=x/y.msgpack', 'runs/demo/']) == [
      ('a', 'x/y.msgpack'), ('demo', 'runs/demo/')]
  with pytest.raises(ValueError, match='NAME=PATH'):
    serving.parse_weights(['=x'])


def test_read_upload_refuses_empty_corrupt_and_huge(tmp_path):
  empty = tmp_path / 'empty.jpg'
  empty.write_bytes(b'')
  with pytest.raises(serving.InputError, match=r'empty.jpg is empty'):
    serving.read_upload(str(empty), max_megapixels=16)
  text = tmp_path / 'notes.png'
  text.write_text('hello')
  with pytest.raises(serving.InputError,
                     match=r'notes.png is not an image this app can read'):
    serving.read_upload(str(text), max_megapixels=16)
  huge = _png_header_only(tmp_path / 'huge.png', 12000, 9000)
  with pytest.raises(serving.InputError,
                     match=r'huge.png is 12000x9000 \(108.0 MP\), above the '
                           r'16 MP'):
    serving.read_upload(huge, max_megapixels=16)
  with pytest.raises(serving.InputError, match='No image'):
    serving.read_upload(None, max_megapixels=16)
  ok = _png(tmp_path / 'ok.png', 5, 7)
  np.testing.assert_array_equal(serving.read_upload(ok, max_megapixels=16),
                                np.asarray(Image.open(ok)))


def test_cartoonize_handler_equals_the_cartoonizer(models, model_paths,
                                                   tmp_path):
  h = app.Handlers(models, 16)
  photo = _png(tmp_path / 'p.png', 40, 52)
  out = h.cartoonize({'path': photo}, 'anime')
  weights = inference.resolve_weights(model_paths['anime'])
  module, params = inference.build_generator(weights)
  expected = inference.Cartoonizer(module, params)([np.asarray(
      Image.open(photo))])[0]
  np.testing.assert_array_equal(out, expected)
  assert h.cartoonize({'path': photo}, 'anime', size=26).shape == (20, 26, 3)


def test_face_handlers_give_the_model_size(models, tmp_path):
  h = app.Handlers(models, 16)
  photo = _png(tmp_path / 'face.png', 45, 38)
  image, heat = h.selfie({'path': photo}, 'selfie')
  assert image.shape == (32, 32, 3) and image.dtype == np.uint8
  assert heat.shape[:2] == (32, 32)
  image, heat = h.selfie({'path': photo}, 'trvae')
  assert image.shape == (32, 32, 3) and heat is None


def test_generate_handler_is_a_deterministic_grid(models):
  h = app.Handlers(models, 16)
  grid = h.generate('faces', 3)
  assert grid.shape == (4 * (16 + 2) + 2,) * 2 + (3,)
  np.testing.assert_array_equal(grid, h.generate('faces', 3))
  assert not np.array_equal(grid, h.generate('faces', 4))
  hair, eyes = h.labels_of('tagged')
  assert hair[0] == app.ANY and len(hair) > 1 and len(eyes) > 1
  assert all(t.endswith('hair') for t in hair[1:])
  a = h.generate('tagged', 0, hair[1], eyes[1])
  b = h.generate('tagged', 0, hair[2], eyes[1])
  assert a.shape == b.shape and not np.array_equal(a, b)
  assert h.labels_of('faces') == ([app.ANY], [app.ANY])
  up = h.generate('faces', 3, upscale=True, sr_name='x4')
  assert up.shape == (4 * grid.shape[0], 4 * grid.shape[1], 3)


def test_upscale_handler_and_its_pixel_budget(models, tmp_path):
  h = app.Handlers(models, 16)
  image = _png(tmp_path / 'lr.png', 9, 13)
  assert h.upscale({'path': image}, 'x4').shape == (36, 52, 3)
  tight = app.Handlers(models, 16 * 10 * 10 / 1e6)  # 10x10 in, 40x40 out
  with pytest.raises(serving.InputError, match=r'lr.png is 13x9'):
    tight.upscale({'path': image}, 'x4')


def test_unknown_model_and_bad_weights_are_messages(tmp_path):
  bad = serving.Models([serving.Entry('broken', str(tmp_path), 'animegan')])
  with pytest.raises(serving.InputError, match="'broken'.*cannot be loaded"):
    bad.get('broken')
  with pytest.raises(serving.InputError, match='No model named'):
    bad.get('nope')


def test_tabs_without_models_say_how_to_get_one(models):
  only = serving.Models([models.entries['anime']])
  config = json.dumps(app.build(only).get_config_file())
  for task in ('selfie', 'generate', 'upscale'):
    assert json.dumps(serving.HOW_TO_GET[task])[1:-1] in config
  assert json.dumps(serving.HOW_TO_GET['cartoonize'])[1:-1] not in config


# --- in the browser ------------------------------------------------------------

def _browser_or_skip():
  if app_driver.chromium_path() is None:
    pytest.skip('Chromium is not installed (apt-get install chromium; '
                '.ci/run does it)')
  pytest.importorskip('playwright', reason='pip install playwright')


@pytest.fixture(scope='module')
def server(model_paths):
  _browser_or_skip()
  port = app_driver.free_port()
  weights = [f'{k}={v}' for k, v in model_paths.items()]
  page = app.launch(weights, port=port, cache=False, block=False)
  yield f'http://127.0.0.1:{port}/'
  page.close()


def test_every_tab_in_the_browser(server, tmp_path):
  photo = _png(tmp_path / 'photo.png', 44, 60)
  small = _png(tmp_path / 'small.png', 12, 10, seed=1)
  with app_driver.browser_page() as page:
    page.goto(server)
    app_driver.open_tab(page, 'cartoonize')
    app_driver.upload(page, 'cartoonize', photo)
    app_driver.run(page, 'cartoonize')
    assert app_driver.output_size(page, 'cartoonize-output')[0] == (60, 44)

    app_driver.open_tab(page, 'selfie')
    app_driver.upload(page, 'selfie', photo)
    app_driver.run(page, 'selfie')
    assert app_driver.output_size(page, 'selfie-output')[0] == (32, 32)
    assert app_driver.output_size(page, 'selfie-heatmap-output')[0] == (32,
                                                                        32)

    app_driver.open_tab(page, 'generate')
    app_driver.run(page, 'generate')
    assert app_driver.output_size(page, 'generate-output')[0] == (74, 74)

    app_driver.open_tab(page, 'upscale')
    app_driver.upload(page, 'upscale', small)
    app_driver.run(page, 'upscale')
    assert app_driver.output_size(page, 'upscale-output')[0] == (40, 48)


def test_a_corrupt_upload_is_a_message_and_the_next_request_works(
    server, tmp_path):
  bad = tmp_path / 'broken.png'
  bad.write_bytes(b'\x89PNG\r\n\x1a\n this is not the rest of a PNG')
  good = _png(tmp_path / 'good.png', 28, 36, seed=2)
  with app_driver.browser_page() as page:
    page.goto(server)
    app_driver.open_tab(page, 'cartoonize')
    app_driver.upload(page, 'cartoonize', str(bad))
    app_driver.run(page, 'cartoonize')
    assert 'broken.png is not an image this app can read' in (
        app_driver.error_text(page))
    app_driver.upload(page, 'cartoonize', good)
    app_driver.run(page, 'cartoonize')
    assert app_driver.output_size(page, 'cartoonize-output')[0] == (36, 28)
