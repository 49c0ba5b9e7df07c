"""Evaluation metrics against independent numpy references."""

import itertools

import numpy as np
import pytest

from animejax import evaluation


def _ref_psnr(a, b):
  # Per-image PSNR on [0, 255] uint8-scale values, then averaged.
  out = []
  for x, y in zip(a, b):
    x = (x.astype(np.float64) + 1) * 127.5
    y = (y.astype(np.float64) + 1) * 127.5
    mse = ((x - y) ** 2).mean()
    out.append(20 * np.log10(255.0) - 10 * np.log10(mse))
  return np.mean(out)


def test_psnr_matches_reference():
  rng = np.random.default_rng(0)
  a = rng.uniform(-1, 1, (5, 8, 8, 3))
  b = np.clip(a + rng.normal(0, 0.1, a.shape), -1, 1)
  assert evaluation.psnr(a, b) == pytest.approx(_ref_psnr(a, b), rel=1e-9)
  # Known value: a constant error of 0.1 on [0,1] is 20 dB.
  assert evaluation.psnr(np.zeros((1, 2, 2, 3)),
                         np.full((1, 2, 2, 3), 0.2)) == pytest.approx(20.0)
  assert evaluation.l1(np.zeros((1, 2, 2, 3)),
                       np.full((1, 2, 2, 3), 0.2)) == pytest.approx(0.1)


def test_paired_gain_per_image_against_loop_and_hand_values():
  # Hand values: targets 0; the photo errs by 0.1 on [0,1] (20 dB), G by
  # 0.05 on image 0 (26.02 dB) and by 0.2 on image 1 (13.98 dB).
  targets = np.zeros((2, 2, 2, 3))
  photos = np.full_like(targets, 0.2)
  generated = np.stack([np.full((2, 2, 3), 0.1), np.full((2, 2, 3), 0.4)])
  out = evaluation.paired_gain(generated, photos, targets)
  g0, g1 = 20 * np.log10(2.0), -20 * np.log10(2.0)   # +-6.0206 dB
  assert out['eval/psnr_gain'] == pytest.approx((g0 + g1) / 2, abs=1e-12)
  assert out['eval/psnr_win_rate'] == 0.5
  assert out['eval/psnr_gain_stderr'] == pytest.approx(
      abs(g0 - g1) / 2, rel=1e-12)   # std(ddof=1) / sqrt(2) of two values
  # Random images: the mean gain is psnr(G) - psnr(identity), the standard
  # error the one of a per-image loop over _ref_psnr.
  rng = np.random.default_rng(5)
  targets = rng.uniform(-1, 1, (6, 8, 8, 3))
  photos = np.clip(targets + rng.normal(0, 0.3, targets.shape), -1, 1)
  generated = np.clip(targets + rng.normal(0, 0.2, targets.shape), -1, 1)
  out = evaluation.paired_gain(generated, photos, targets)
  ref = np.array([_ref_psnr(g[None], t[None]) - _ref_psnr(p[None], t[None])
                  for g, p, t in zip(generated, photos, targets)])
  assert out['eval/psnr_gain'] == pytest.approx(
      evaluation.psnr(generated, targets) - evaluation.psnr(photos, targets),
      abs=1e-9)
  assert out['eval/psnr_gain'] == pytest.approx(ref.mean(), abs=1e-9)
  assert out['eval/psnr_gain_stderr'] == pytest.approx(
      ref.std(ddof=1) / np.sqrt(len(ref)), rel=1e-9)
  assert out['eval/psnr_win_rate'] == pytest.approx(np.mean(ref > 0))
  # One pair has no spread to estimate.
  assert 'eval/psnr_gain_stderr' not in evaluation.paired_gain(
      generated[:1], photos[:1], targets[:1])


def test_colorfulness_hand_values_and_reference():
  # A red and a green pixel on the 0-255 scale: rg = (255, -255) (std 255,
  # mean 0), yb = (127.5, 127.5) (std 0, mean 127.5): M = 255 + 0.3 * 127.5.
  red_green = np.array([[[[1, -1, -1], [-1, 1, -1]]]], np.float64)
  assert evaluation.colorfulness(red_green) == pytest.approx(293.25)
  gray = np.repeat(np.linspace(-1, 1, 16).reshape(1, 4, 4, 1), 3, -1)
  assert evaluation.colorfulness(gray) == pytest.approx(0.0, abs=1e-12)
  # Against a per-image loop with the paper's formula.
  rng = np.random.default_rng(3)
  imgs = rng.uniform(-1, 1, (3, 5, 7, 3))
  ref = []
  for im in imgs:
    r, g, b = np.moveaxis((im + 1) * 127.5, -1, 0)
    rg, yb = r - g, (r + g) / 2 - b
    ref.append(np.hypot(np.std(rg), np.std(yb)) +
               0.3 * np.hypot(np.mean(rg), np.mean(yb)))
  assert evaluation.colorfulness(imgs) == pytest.approx(np.mean(ref), rel=1e-12)
  with pytest.raises(ValueError, match='N, H, W, 3'):
    evaluation.colorfulness(imgs[..., :2])


def test_procedural_anime_is_more_colourful_than_its_photos():
  from animejax.data import procedural_source  # pylint: disable=g-import-not-at-top
  photos, targets, style = procedural_source.val_arrays(0, 32, 8)
  assert evaluation.colorfulness(targets) > 1.5 * evaluation.colorfulness(photos)
  assert evaluation.colorfulness(style) > 1.5 * evaluation.colorfulness(photos)


def _ref_mmd2(x, y):
  # Unbiased MMD^2 (Binkowski et al. eq. 4) written as explicit sums.
  d = x.shape[1]
  k = lambda u, v: (np.dot(u, v) / d + 1) ** 3
  m, n = len(x), len(y)
  kxx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2))
  kyy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(n), 2))
  kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n))
  return kxx / (m * (m - 1)) + kyy / (n * (n - 1)) - 2 * kxy / (m * n)


def test_kid_matches_reference():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(7, 5))
  y = rng.normal(0.5, 1.0, size=(9, 5))
  assert evaluation.kid(x, y) == pytest.approx(_ref_mmd2(x, y), rel=1e-10)


def test_kid_subsets_and_behaviour():
  rng = np.random.default_rng(2)
  x = rng.normal(size=(40, 4))
  y = rng.normal(size=(40, 4))
  z = rng.normal(2.0, 1.0, size=(40, 4))
  # Same distribution: near zero (unbiased, may be negative); shifted: large.
  assert abs(evaluation.kid(x, y)) < 0.2 * evaluation.kid(x, z)
  # Subset estimate = mean of the reference over the same subsets.
  got = evaluation.kid(x, z, subset_size=10, num_subsets=3, seed=5)
  r = np.random.default_rng(5)
  want = np.mean([_ref_mmd2(x[r.choice(40, 10, replace=False)],
                            z[r.choice(40, 10, replace=False)])
                  for _ in range(3)])
  assert got == pytest.approx(want, rel=1e-10)
  with pytest.raises(ValueError, match='at least 2'):
    evaluation.kid(x[:1], y)


def test_evaluator_reuses_style_features_only_for_the_same_array():
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top

  class Features(nn.Module):
    """Stands in for VGG19: same call signature, one small conv."""

    @nn.compact
    def __call__(self, x, layer, pre_relu):
      del layer, pre_relu
      return nn.Conv(4, (3, 3))(x)

  generator, features_net = nn.Conv(3, (1, 1)), Features()
  rng = np.random.default_rng(0)
  photos, style = (rng.uniform(-1, 1, (3, 16, 16, 3)).astype(np.float32)
                   for _ in range(2))
  g_params = generator.init(jax.random.key(0), photos[:1])['params']
  f_params = features_net.init(jax.random.key(1), photos[:1], 'conv5_4',
                               False)['params']
  ev = evaluation.Evaluator(generator, features_net, f_params, 'conv1_1', 2)
  calls = []
  features = ev.features
  ev.features = lambda x: calls.append(len(x)) or features(x)
  first = ev(g_params, photos, val_style=style)['eval/kid']
  second = ev(g_params, photos, val_style=style)['eval/kid']
  assert calls == [3, 3, 3]   # generated, style, generated: style cached
  assert second == first == pytest.approx(evaluation.kid(
      features(ev.generate(g_params, photos)), features(style)))
  other = style[::-1].copy()   # a different array is not the cached one
  ev(g_params, photos, val_style=other)
  assert calls == [3, 3, 3, 3, 3]
