"""Procedural scenes and the procedural input pipeline."""

import time

import ml_collections
import numpy as np
import pytest

from animejax import data
from animejax.data import procedural


def _config(**kw):
  c = ml_collections.ConfigDict()
  c.seed = 3
  c.batch_size = 4
  c.data = ml_collections.ConfigDict(dict(
      source='procedural', image_size=32, procedural_epoch_size=6,
      num_val_images=3, flip=True, prefetch=2, style_mean_adjust=True))
  for k, v in kw.items():
    setattr(c, k, v)
  return c


def _psnr(a, b):
  mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
  return 10 * np.log10(255.0 ** 2 / mse)


def test_render_pair_is_seeded_and_differs_like_anime():
  p1, a1 = procedural.render_pair(5, 64)
  p2, a2 = procedural.render_pair(5, 64)
  p3, _ = procedural.render_pair(6, 64)
  assert p1.shape == a1.shape == (64, 64, 3) and p1.dtype == np.uint8
  np.testing.assert_array_equal(p1, p2)
  np.testing.assert_array_equal(a1, a2)
  assert not np.array_equal(p1, p3)
  np.testing.assert_array_equal(procedural.render(5, 64, 'photo'), p1)
  np.testing.assert_array_equal(procedural.render(5, 64, 'anime'), a1)
  # The anime rendering is a different image (flat, saturated, outlined)...
  assert _psnr(p1, a1) < 25
  # ...with more saturated colours (mean HSV-like chroma).
  chroma = lambda x: np.mean(x.max(-1).astype(int) - x.min(-1))
  assert chroma(a1) > chroma(p1)
  # ...and flatter regions: fewer distinct colours than the textured photo.
  ncol = lambda x: len(np.unique(x.reshape(-1, 3), axis=0))
  assert ncol(a1) < ncol(p1) / 2


def test_render_timing_reported():
  procedural.render_pair(0, 128)
  t = time.perf_counter()
  for i in range(10):
    procedural.render_pair(i, 128)
  ms = (time.perf_counter() - t) / 10 * 1e3
  print(f'procedural 128 px pair: {ms:.1f} ms (shared CPU, noisy)')


def test_seed_streams_are_disjoint():
  seeds = {procedural.scene_seed(0, s, i) for s in range(3) for i in range(50)}
  assert len(seeds) == 150
  with pytest.raises(ValueError):
    procedural.scene_seed(0, 0, -1)


def test_pipeline_batches_contract_and_val_pairs():
  p = data.create_input_pipeline(_config(), process_index=0, process_count=1)
  b = next(iter(p.train_iter))
  assert set(b) == {'photo', 'anime', 'anime_gray', 'smooth_gray'}
  for v in b.values():
    assert v.shape == (4, 32, 32, 3) and v.dtype == np.float32
    assert v.min() >= -1 and v.max() <= 1
  for k in ('anime_gray', 'smooth_gray'):
    np.testing.assert_array_equal(b[k][..., 0], b[k][..., 2])
  assert p.num_train_images == 6
  assert p.val_photos.shape == p.val_targets.shape == (3, 32, 32, 3)
  assert p.val_style.shape == (3, 32, 32, 3)
  photo, anime = procedural.render_pair(
      procedural.scene_seed(3, procedural.STREAM_VAL, 1), 32)
  np.testing.assert_allclose(p.val_photos[1], photo / 127.5 - 1, atol=1e-6)
  np.testing.assert_allclose(p.val_targets[1], anime / 127.5 - 1, atol=1e-6)
  assert p.skipped_files == []


def test_resume_equals_uninterrupted_and_processes_split_global_batch():
  c = _config()
  it = iter(data.create_input_pipeline(c, process_index=0,
                                       process_count=1).train_iter)
  full = [next(it) for _ in range(5)]  # crosses epochs (6 images, B=4)
  resumed = iter(data.create_input_pipeline(c, start_step=3, process_index=0,
                                            process_count=1).train_iter)
  for step in (3, 4):
    b = next(resumed)
    for k in b:
      np.testing.assert_array_equal(b[k], full[step][k])
  halves = [next(iter(data.create_input_pipeline(
      c, start_step=1, process_index=i, process_count=2).train_iter))
            for i in range(2)]
  for k in full[1]:
    assert halves[0][k].shape[0] == 2
    np.testing.assert_array_equal(
        np.concatenate([halves[0][k], halves[1][k]]), full[1][k])
  with pytest.raises(ValueError, match='divisible'):
    data.create_input_pipeline(c, process_index=0, process_count=3)


def test_identity_psnr_val_64px():
  c = _config(seed=0)
  c.data.image_size = 64
  c.data.num_val_images = 16
  p = data.create_input_pipeline(c, process_index=0, process_count=1)
  mse = np.mean(((p.val_photos - p.val_targets) / 2) ** 2, axis=(1, 2, 3))
  psnr = float(np.mean(10 * np.log10(1 / mse)))
  print(f'identity PSNR photo vs anime (16 val pairs, 64 px): {psnr:.2f} dB')
  assert 10 < psnr < 22
