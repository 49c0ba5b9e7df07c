"""U-GAT-IT serving: official .pt checkpoints -> weights file (convert CLI),
load_translator (files, workdirs, errors, batching, preprocessing) against
the PyTorch reference, and `animejax.cartoonize` with U-GAT-IT weights."""

import json
import os

import cv2
import jax
import numpy as np
import pytest
from PIL import Image

from animejax import cartoonize
from animejax import checkpointing
from animejax import weights_io
from animejax.convert import cli as convert_cli
from animejax.convert import ugatit as convert_ugatit
from animejax.methods import ugatit
import inference_helpers as h

torch = pytest.importorskip('torch')
import test_ugatit_models as tm  # pylint: disable=g-import-not-at-top,wrong-import-position

NGF, N_RES, SIZE = 4, 1, 32


def _official_checkpoint(path, light, seed=0):
  """torch.save of the [pt] UGATIT.py save() dict, nets built by the test.

  Returns the two torch generators (eval mode, as [pt] test()).
  """
  torch.manual_seed(seed)
  gens = {}
  for name, s in (('genA2B', seed), ('genB2A', seed + 1)):
    g = tm.TorchResnetGenerator(ngf=NGF, n_blocks=N_RES, img_size=SIZE,
                                light=light)
    tm._randomize_norms(g, s)  # pylint: disable=protected-access
    gens[name] = g.eval()
  dis = {n: tm.TorchDiscriminator(ndf=NGF, n_layers=k)
         for n, k in (('disGA', 5), ('disGB', 5), ('disLA', 4),
                      ('disLB', 4))}
  for d in dis.values():  # one training forward: u, v differ from init
    d(torch.zeros(1, 3, SIZE, SIZE))
  torch.save({**{k: g.state_dict() for k, g in gens.items()},
              **{k: d.state_dict() for k, d in dis.items()}}, str(path))
  return gens


def _torch_translate(g, x_u8):
  """[pt] test(): [-1, 1] input, denorm * 255 rounded; cam() heatmap."""
  x = x_u8.astype(np.float32) / 127.5 - 1.0
  img, _, heat = tm._run_torch_g(g, x)  # pylint: disable=protected-access
  out = np.clip(np.round((img + 1.0) * 127.5), 0, 255).astype(np.uint8)
  return img, out, heat[..., 0]


def _official_cam(x, size):
  """[pt] utils.py cam(), verbatim in numpy/cv2 (BGR), then RGB."""
  x = x - np.min(x)
  cam_img = x / np.max(x)
  cam_img = np.uint8(255 * cam_img)
  cam_img = cv2.resize(cam_img, (size, size))
  return cv2.applyColorMap(cam_img, cv2.COLORMAP_JET)[..., ::-1]


def _faces(n, size=SIZE, seed=3):
  return np.stack([h.smooth_image(size, size, seed + i) for i in range(n)])


_CONVERTED = {}


def _converted(light, tmp_path_factory):
  """(light, torch generators, official .pt, converted file), made once."""
  if light not in _CONVERTED:
    d = tmp_path_factory.mktemp('ugatit_light' if light else 'ugatit_full')
    pt = d / 'selfie2anime_params_0001000.pt'
    gens = _official_checkpoint(pt, light)
    out = d / 'w.msgpack'
    assert convert_cli.main(['--from', str(pt), '--out', str(out)]) == 0
    _CONVERTED[light] = (light, gens, str(pt), str(out))
  return _CONVERTED[light]


@pytest.fixture(params=[True, False], ids=['light', 'full'])
def converted(request, tmp_path_factory):
  return _converted(request.param, tmp_path_factory)


def test_convert_detects_layout_and_keeps_both_generators(converted):
  light, gens, pt, out = converted
  w = weights_io.load(out)
  assert w.arch == 'ugatit'
  assert w.model_kwargs == dict(
      ngf=NGF, n_blocks=N_RES, light=light, variance='unbiased',
      img_size=convert_ugatit.DEFAULT_LIGHT_SIZE if light else SIZE)
  assert sorted(w.params) == ['a2b', 'b2a']
  n_torch = sum(p.numel() for g in gens.values() for p in g.parameters())
  assert w.meta['num_params'] == n_torch
  assert w.meta['dropped'] == ['disGA', 'disGB', 'disLA', 'disLB']
  assert convert_ugatit.looks_like_checkpoint(pt)


def test_converted_weights_equal_torch(converted):
  light, gens, _, out = converted
  x = _faces(2)
  for direction, name in (('a2b', 'genA2B'), ('b2a', 'genB2A')):
    # converted light weights default to 256 px; light runs at any size
    t = ugatit.load_translator(out, direction=direction,
                               size=SIZE if light else None)
    assert t.size == SIZE
    _, ref_u8, ref_heat = _torch_translate(gens[name], x)
    out_u8, heat_u8 = t(x)
    assert out_u8.dtype == heat_u8.dtype == np.uint8
    assert out_u8.shape == heat_u8.shape == (2, SIZE, SIZE, 3)
    # (the float outputs agree to 1e-4: test_ugatit_models.py)
    assert np.max(np.abs(out_u8.astype(int) - ref_u8)) <= 1
    assert np.mean(out_u8 != ref_u8) < 0.01
    for got, hm in zip(heat_u8, ref_heat):
      want = _official_cam(hm, SIZE)
      # a 1-level rounding difference of the uint8 map moves a pixel one
      # step along the colour map
      assert np.mean(np.abs(got.astype(int) - want)) < 1.0
  with pytest.raises(ValueError, match='light' if light else 'only runs at'):
    ugatit.load_translator(out, size=SIZE + 2 if light else SIZE * 2)


def test_official_pt_is_converted_on_the_fly(converted):
  _, _, pt, out = converted
  a = ugatit.load_translator(pt, direction='b2a')
  b = ugatit.load_translator(out, direction='b2a')
  assert a.size == b.size
  jax.tree.map(np.testing.assert_array_equal, a.params, b.params)
  assert a._forward is b._forward  # pylint: disable=protected-access


def test_preprocess_centre_crop_and_official_resize(tmp_path):
  pt = tmp_path / 'p.pt'
  _official_checkpoint(pt, light=False)
  t = ugatit.load_translator(str(pt))
  img = h.smooth_image(60, 90, seed=4)
  got = t.preprocess(img)
  want = np.asarray(Image.fromarray(img[:, 15:75]).resize((SIZE, SIZE),
                                                          Image.BILINEAR))
  np.testing.assert_array_equal(got, want)
  t.crop = 'none'  # [pt] test_transform: Resize((S, S)) of the whole image
  want = np.asarray(Image.fromarray(img).resize((SIZE, SIZE),
                                                Image.BILINEAR))
  np.testing.assert_array_equal(t.preprocess(img), want)
  square = _faces(1)[0]
  t.crop = 'center'
  np.testing.assert_array_equal(t.preprocess(square), square)


def test_batches_pad_to_powers_of_two_and_equal_single_calls(tmp_path):
  pt = tmp_path / 'p.pt'
  _official_checkpoint(pt, light=False)
  t = ugatit.load_translator(str(pt), max_batch=2)
  x = _faces(3, seed=20)
  out, heat = t(x)
  assert out.shape == (3, SIZE, SIZE, 3)
  assert t.batch_shapes == {1, 2}  # chunks of 2 and 1
  t4 = ugatit.load_translator(str(pt), max_batch=4)
  np.testing.assert_array_equal(t4(x)[0], out)
  assert t4.batch_shapes == {4}  # 3 padded to 4
  for i in range(2):
    o1, h1 = t(x[i:i + 1])
    np.testing.assert_array_equal(out[i], o1[0])
    np.testing.assert_array_equal(heat[i], h1[0])
  # mixed sizes as a list
  mixed = [h.smooth_image(40, 50, 1), h.smooth_image(32, 32, 2)]
  assert t(mixed)[0].shape == (2, SIZE, SIZE, 3)
  with pytest.raises(ValueError, match='power of two'):
    ugatit.load_translator(str(pt), max_batch=3)


def _random_generator_params(config, seed):
  g = ugatit.nets.UGATITGenerator(**ugatit.generator_kwargs(config))
  s = config.data.image_size
  shapes = jax.eval_shape(g.init, jax.random.key(0),
                          jax.ShapeDtypeStruct((1, s, s, 3), np.float32))
  rng = np.random.default_rng(seed)
  return jax.tree.map(
      lambda a: rng.normal(0, 0.3, a.shape).astype(np.float32),
      shapes['params'])


def test_workdir_serves_its_generators(tmp_path):
  """A checkpoint as the run loop saves it (state fields, meta with method
  and config): load_translator serves its g_params per direction."""
  config = ugatit.smoke_config()
  g = {'a2b': _random_generator_params(config, 1),
       'b2a': _random_generator_params(config, 2)}
  workdir = str(tmp_path / 'run')
  ckpt = checkpointing.Checkpointer(workdir, keep=1, async_save=False)
  ckpt.save(3, {'step': np.int32(3), 'g_params': g},
            {'step': 3, 'method': 'ugatit',
             'config': json.loads(config.to_json_best_effort())})
  ckpt.close()
  checkpointing.write_config(workdir, config)
  x = _faces(2, size=config.data.image_size)
  for direction in ('a2b', 'b2a'):
    t = ugatit.load_translator(workdir, direction=direction)
    assert t.size == config.data.image_size
    assert t.meta['step'] == 3 and t.meta['method'] == 'ugatit'
    want = ugatit.Translator(weights_io.GeneratorWeights(
        'ugatit', ugatit.generator_kwargs(config), g), direction)(x)
    for a, b in zip(t(x), want):
      np.testing.assert_array_equal(a, b)
  # export_weights -> weights file -> the same translator
  w = checkpointing.load_generator_weights(workdir)
  weights_io.save(str(tmp_path / 'w.msgpack'), w)
  t2 = ugatit.load_translator(str(tmp_path / 'w.msgpack'), direction='b2a')
  np.testing.assert_array_equal(t2(x)[0], t(x)[0])


def test_clear_errors(tmp_path, monkeypatch):
  h.ensure_registry(monkeypatch)
  anime = tmp_path / 'animegan.msgpack'
  h.write_tiny_weights(anime)
  with pytest.raises(ValueError, match=r'animeganv3.*not U-GAT-IT.*cartoonize'):
    ugatit.load_translator(str(anime))
  with pytest.raises(FileNotFoundError, match='do not exist'):
    ugatit.load_translator(str(tmp_path / 'nope.msgpack'))
  with pytest.raises(FileNotFoundError, match='not a training workdir'):
    ugatit.load_translator(str(tmp_path))
  other = tmp_path / 'run'
  other.mkdir()
  (other / 'config.json').write_text(json.dumps({'method': 'animegan'}))
  with pytest.raises(ValueError, match="method 'animegan', not 'ugatit'"):
    ugatit.load_translator(str(other))
  plain = tmp_path / 'state.pt'
  torch.save({'conv.weight': torch.zeros(2, 3, 1, 1)}, str(plain))
  with pytest.raises(ValueError, match='not an official U-GAT-IT'):
    ugatit.load_translator(str(plain))
  onnx = tmp_path / 'x.onnx'
  onnx.write_bytes(b'\x08\x07')
  with pytest.raises(ValueError, match='AnimeGAN export'):
    ugatit.load_translator(str(onnx))
  pt = tmp_path / 'p.pt'
  _official_checkpoint(pt, light=True)
  with pytest.raises(ValueError, match='direction'):
    ugatit.load_translator(str(pt), direction='ba')
  with pytest.raises(ValueError, match='which'):
    ugatit.load_translator(str(pt), which='first')
  t = ugatit.load_translator(str(pt))
  with pytest.raises(ValueError, match='uint8'):
    t(np.zeros((1, 8, 8, 3), np.float32))
  with pytest.raises(ValueError, match=r'\[N, H, W, 3\]'):
    t(np.zeros((8, 8, 3), np.uint8))


def test_weights_from_checkpoint_rejects_other_dicts():
  with pytest.raises(ValueError, match='genA2B'):
    convert_ugatit.weights_from_checkpoint({'state_dict': {}}, 'x.pt')


def _write(path, img):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


def test_cartoonize_cli_with_ugatit(tmp_path_factory, tmp_path, capsys):
  _, gens, pt, out_w = _converted(False, tmp_path_factory)
  src, out = tmp_path / 'in', tmp_path / 'out'
  _write(str(src / 'a.jpg'), h.smooth_image(40, 56))
  _write(str(src / 'sub' / 'b.png'), h.smooth_image(32, 32, seed=1))
  (src / 'broken.jpg').write_bytes(b'not a jpeg')
  rc = cartoonize.main(['--weights', out_w, '--input', str(src), '--output',
                        str(out), '--ext', 'png', '--direction', 'b2a',
                        '--save-heatmap', '--batch', '2', '--no-progress'])
  assert rc == cartoonize.EXIT_SOME_FAILED
  got = sorted(str(p.relative_to(out)) for p in out.rglob('*.png'))
  assert got == ['a.png', 'a_heatmap.png', 'sub/b.png', 'sub/b_heatmap.png']
  text = capsys.readouterr()
  assert '2 written' in text.out and 'U-GAT-IT b2a' in text.out
  assert 'broken.jpg' in text.err
  # b.png is already 32 x 32: the output is genB2A's exactly
  b = cv2.cvtColor(cv2.imread(str(out / 'sub' / 'b.png')), cv2.COLOR_BGR2RGB)
  x = cv2.cvtColor(cv2.imread(str(src / 'sub' / 'b.png')), cv2.COLOR_BGR2RGB)
  _, ref_u8, _ = _torch_translate(gens['genB2A'], x[None])
  assert np.max(np.abs(b.astype(int) - ref_u8[0])) <= 1
  # single image, official .pt directly, --size
  rc = cartoonize.main(['--weights', pt, '--input', str(src / 'a.jpg'),
                        '--output', str(tmp_path / 'one.png'), '--size', '48',
                        '--no-progress'])
  assert rc == cartoonize.EXIT_OK
  assert cv2.imread(str(tmp_path / 'one.png')).shape == (48, 48, 3)
  assert not os.path.exists(tmp_path / 'one_heatmap.png')


def test_cartoonize_direction_needs_ugatit(tmp_path, monkeypatch, capsys):
  h.ensure_registry(monkeypatch)
  w = tmp_path / 'anime.msgpack'
  h.write_tiny_weights(w)
  _write(str(tmp_path / 'a.png'), h.smooth_image(32, 32))
  rc = cartoonize.main(['--weights', str(w), '--input',
                        str(tmp_path / 'a.png'), '--output',
                        str(tmp_path / 'o.png'), '--direction', 'b2a'])
  assert rc == cartoonize.EXIT_USAGE
  assert 'U-GAT-IT' in capsys.readouterr().err
