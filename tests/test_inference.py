"""Tests for animejax.inference: padding, buckets, tiles, colour, loading."""

import jax.numpy as jnp
import numpy as np
import pytest

from animejax import inference
from animejax import weights_io
import inference_helpers as h


@pytest.fixture(scope='module')
def local():
  module = h.LocalGenerator()
  return module, h.init_params(module)


@pytest.fixture(scope='module')
def tiny():
  module = h.tiny_module()
  return module, h.init_params(module)


def _band(height, width, plan, margin):
  """True within `margin` px of an inner tile edge."""
  band = np.zeros((height, width), bool)
  for y, x, th, tw, _ in plan:
    for e in (y, y + th):
      if 0 < e < height:
        band[max(0, e - margin):e + margin] = True
    for e in (x, x + tw):
      if 0 < e < width:
        band[:, max(0, e - margin):e + margin] = True
  return band


def test_tile_plan_covers_and_aligns():
  plan = inference.tile_plan(400, 600, 256, 64, 4)
  cover = np.zeros((400, 600))
  for y, x, th, tw, w in plan:
    assert y % 4 == 0 and x % 4 == 0 and (th, tw) == (256, 256)
    assert w.min() > 0 and w.max() == 1
    cover[y:y + th, x:x + tw] += w
  assert cover.min() > 0
  # Neighbours overlap by at least the requested 64 px.
  xs = sorted({p[1] for p in plan})
  assert all(b - a <= 256 - 64 for a, b in zip(xs, xs[1:]))


def test_identity_tiling_is_exact():
  """Blending identical tile outputs must give back exactly the input."""
  class Identity:
    size_multiple = 4
    def apply(self, variables, x):  # pylint: disable=unused-argument
      return x
  c = inference.Cartoonizer(Identity(), {}, tile=128, overlap=32,
                            force_tile=True)
  img = h.smooth_image(203, 317)
  np.testing.assert_allclose(c.tiled_float(img),
                             inference.to_model_range(img), atol=1e-6)


def test_tiled_matches_whole_away_from_seams(local):
  """Local generator: exact outside a band round tile edges, close inside."""
  module, params = local
  img = h.smooth_image(400, 600, seed=1)
  whole = inference.Cartoonizer(module, params, bucket=0).run_batch(
      inference.to_model_range(img)[None])[0]
  c = inference.Cartoonizer(module, params, bucket=0, tile=256, overlap=64,
                            force_tile=True)
  tiled = c.tiled_float(img)
  band = _band(400, 600, inference.tile_plan(400, 600, 256, 64, 4), 96)
  diff = np.abs(tiled - whole).max(-1)
  assert (~band).mean() > 0.05
  assert diff[~band].max() < 1e-5
  assert diff.max() < 0.05      # ~6/255 at worst, inside the band
  assert diff.mean() < 1e-3


def test_tiling_with_global_norms_has_no_seams(tiny):
  """AnimeGANv3 normalises per image, so tiles differ a little everywhere.

  The difference must stay small and smooth: its jumps at tile edges are no
  larger than elsewhere (blended seams), and bigger tiles get closer.
  """
  module, params = tiny
  img = h.smooth_image(400, 600, seed=1)
  whole = inference.Cartoonizer(module, params, bucket=0).run_batch(
      inference.to_model_range(img)[None])[0]
  c = inference.Cartoonizer(module, params, bucket=0, tile=256, overlap=64,
                            force_tile=True)
  err = c.tiled_float(img) - whole
  assert np.abs(err).mean() < 0.06
  step_x = np.abs(np.diff(err, axis=1)).max(axis=(0, 2))  # per column
  edges = sorted({x for _, x, _, tw, _ in c.plan_for(400, 600)
                  for x in (x, x + tw) if 0 < x < 600})
  at_edges = max(step_x[e - 1] for e in edges)
  assert at_edges <= np.median(step_x) * 3 + 1e-3
  big = inference.Cartoonizer(module, params, bucket=0, tile=512, overlap=64,
                              force_tile=True)
  assert (np.abs(big.tiled_float(img) - whole).mean()
          < np.abs(err).mean())


def test_any_size_pads_and_crops(local):
  module, params = local
  c = inference.Cartoonizer(module, params, bucket=0)
  img = h.smooth_image(37, 53)
  (out,) = c([img])
  assert out.shape == img.shape and out.dtype == np.uint8
  # On the grid the runner equals a direct apply (no padding involved).
  img = h.smooth_image(48, 64)
  (out,) = c([img])
  ref = module.apply({'params': params},
                     jnp.asarray(inference.to_model_range(img))[None])[0]
  np.testing.assert_array_equal(out, inference.from_model_range(ref))


def test_reflect_pad_matches_numpy():
  x = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
  y = inference.reflect_pad_to(x, 4, 9)
  assert y.shape == (4, 9, 3)
  np.testing.assert_array_equal(y[2, :3], x[0])  # row 2 reflects row 0
  np.testing.assert_array_equal(y[:2, 3], x[:, 1])


def test_buckets_compile_once(local):
  module, params = local
  c = inference.Cartoonizer(module, params, bucket=64, batch=2)
  sizes = [(50, 60), (64, 33), (41, 64)] * 2  # all in the 64x64 bucket
  outs = c([h.smooth_image(a, b, seed=i) for i, (a, b) in enumerate(sizes)])
  assert [o.shape[:2] for o in outs] == sizes
  assert c.compilations == 1
  c([h.smooth_image(70, 60)])  # another bucket: 128x64
  assert c.compilations == 2


def test_batched_equals_single(local):
  module, params = local
  imgs = [h.smooth_image(60, 60, seed=i) for i in range(3)]
  one = inference.Cartoonizer(module, params, batch=1)(imgs)
  three = inference.Cartoonizer(module, params, batch=4)(imgs)
  for a, b in zip(one, three):
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_bfloat16_close_to_float32(local):
  module, params = local
  img = h.smooth_image(64, 64)
  f32 = inference.Cartoonizer(module, params)([img])[0]
  b16 = inference.Cartoonizer(h.LocalGenerator(jnp.bfloat16), params)([img])[0]
  assert np.abs(f32.astype(int) - b16.astype(int)).max() > 0  # really bf16
  assert np.abs(f32.astype(int) - b16.astype(int)).mean() < 4


def test_keep_color_against_bt601():
  rng = np.random.default_rng(0)
  out = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
  src = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
  res = inference.keep_color(out, src).astype(np.float64)

  def ycc(img):  # ITU-R BT.601, as OpenCV documents RGB<->YCrCb
    r, g, b = np.moveaxis(img.astype(np.float64), -1, 0)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return y, (r - y) * 0.713 + 128, (b - y) * 0.564 + 128
  y_res, cr_res, cb_res = ycc(res)
  y_out, _, _ = ycc(out)
  _, cr_src, cb_src = ycc(src)
  # Round trips through uint8 and gamut clipping: compare on unclipped pixels.
  ok = (res > 0).all(-1) & (res < 255).all(-1)
  assert ok.mean() > 0.3
  assert np.abs(y_res - y_out)[ok].max() < 2.5
  assert np.abs(cr_res - cr_src)[ok].max() < 3
  assert np.abs(cb_res - cb_src)[ok].max() < 3


def test_adjust_brightness_official_formula():
  rng = np.random.default_rng(1)
  out = rng.integers(0, 200, (8, 8, 3), dtype=np.uint8)
  src = rng.integers(50, 256, (8, 8, 3), dtype=np.uint8)
  mo, ms = out.reshape(-1, 3).mean(0), src.reshape(-1, 3).mean(0)
  coef = np.array([0.299, 0.587, 0.114])
  ref = np.uint8(np.clip(out * ((ms @ coef) / (mo @ coef)), 0, 255))
  np.testing.assert_array_equal(inference.adjust_brightness(out, src), ref)


def test_fit_long_side():
  img = np.zeros((300, 400, 3), np.uint8)
  assert inference.fit_long_side(img, 200).shape == (150, 200, 3)
  assert inference.fit_long_side(img[:, :100], 600).shape == (600, 200, 3)


def test_resolve_and_build(tmp_path, monkeypatch, tiny):
  h.ensure_registry(monkeypatch)
  path = tmp_path / 'w.msgpack'
  h.write_tiny_weights(path, params=tiny[1])
  module, params = inference.build_generator(
      inference.resolve_weights(str(path)))
  assert module.size_multiple == 8
  with pytest.raises(FileNotFoundError, match='does not exist'):
    inference.resolve_weights(str(tmp_path / 'missing.msgpack'))
  with pytest.raises(ValueError, match='--weights'):
    inference.resolve_weights(None)
  # Width mismatch: params of width 0.25 for a width-0.5 module.
  w = weights_io.load(str(path))
  w.model_kwargs['width'] = 0.5
  with pytest.raises(ValueError, match='(?s)do not fit.*shape'):
    inference.build_generator(w)
  w.arch = 'nosuchgan'
  with pytest.raises(ValueError, match='nosuchgan'):
    inference.build_generator(w)


def test_bad_image_rejected(local):
  module, params = local
  c = inference.Cartoonizer(module, params)
  with pytest.raises(ValueError, match='uint8 RGB'):
    c([np.zeros((8, 8), np.uint8)])
  with pytest.raises(ValueError, match='overlap'):
    inference.Cartoonizer(module, params, tile=64, overlap=64)
