"""animejax.domain_classifier: learns two synthetic domains, round trips."""

import numpy as np
import pytest

from animejax import domain_classifier as dc


def _domains(n, seed):
  """Two 16 px domains with the same textures and brightness range:
  'real' has red > blue, 'anime' blue > red (per image, random strength)."""
  rng = np.random.default_rng(seed)
  out = []
  for sign in (1, -1):
    base = rng.uniform(0.2, 0.8, (n, 16, 16, 1))
    tex = rng.uniform(-0.15, 0.15, (n, 16, 16, 3))
    shift = sign * rng.uniform(0.1, 0.3, (n, 1, 1, 1))
    img = base + tex
    img[..., 0:1] += shift
    img[..., 2:3] -= shift
    out.append((np.clip(img, 0, 1) * 255).round().astype(np.uint8))
  return out


def test_separates_held_out_domains_and_scores_shares():
  train = _domains(64, 0)
  held = [x.astype(np.float32) / 255 for x in _domains(40, 1)]
  clf = dc.train(train, ('real', 'anime'), seed=0, steps=60, batch_size=16,
                 widths=(8, 16))
  acc = clf.accuracy(held)
  assert min(acc) > 0.85, acc                   # chance is 0.5
  assert clf.share(held[1], 1) == acc[1]
  assert clf.share(held[0], 1) == pytest.approx(1 - acc[0])
  # Swapping a domain's colour makes it look like the other one.
  swapped = held[0][..., ::-1]
  assert clf.share(swapped, 1) > 0.85
  # Chunked prediction (padding of the last chunk) equals one big batch.
  np.testing.assert_array_equal(clf.predict(held[0], batch_size=16),
                                clf.predict(held[0], batch_size=64))
  # Bytes round trip.
  back = dc.DomainClassifier.from_bytes(clf.to_bytes())
  assert back.names == ('real', 'anime') and back.widths == (8, 16)
  np.testing.assert_array_equal(back.logits(held[0]), clf.logits(held[0]))


def test_augment_flips_and_blurs_only():
  x = np.random.default_rng(0).uniform(size=(64, 8, 8, 3)).astype(np.float32)
  y = dc.augment(x.copy(), np.random.default_rng(1))
  kinds = {'same': 0, 'flip': 0, 'blur': 0}
  for a, b in zip(x, y):
    if np.allclose(a, b):
      kinds['same'] += 1
    elif np.allclose(a[:, ::-1], b):
      kinds['flip'] += 1
    else:
      kinds['blur'] += 1
      assert b.var() < 0.5 * a.var()
  assert all(v > 5 for v in kinds.values()), kinds
  # The box blur against a direct 3x3 mean with repeated edges.
  p = np.pad(x[:2], ((0, 0), (1, 1), (1, 1), (0, 0)), mode='edge')
  want = sum(p[:, i:i + 8, j:j + 8] for i in range(3) for j in range(3)) / 9
  np.testing.assert_allclose(dc.box_blur(x[:2], 3), want, rtol=1e-5,
                             atol=1e-6)


def test_train_rejects_bad_input():
  x = np.zeros((2, 8, 8, 3), np.uint8)
  with pytest.raises(ValueError, match='>= 2 classes'):
    dc.train([x], ('a',))
  with pytest.raises(ValueError, match='at least one training image'):
    dc.train([x, x[:0]], ('a', 'b'))
