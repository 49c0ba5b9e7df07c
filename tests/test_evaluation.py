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
