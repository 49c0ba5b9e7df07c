"""A small image-domain classifier (real / anime / ...) for transfer metrics.

The trVAE issue scores a transfer by "the share of transferred images that a
real/anime classifier trained by the project calls anime, with its own
held-out accuracy beside it". The classifier here is independent of the
model it judges: its own small CNN, trained from scratch on the training
images of each condition (never the held-out images it is scored on, nor
any trVAE part), then frozen.

Network: four 3x3 convolutions with ReLU, stride 2 from the second one
(widths `widths`), global average pooling and a linear layer to N logits;
inputs in [0, 1] are mapped to [-1, 1]. Training: Adam (lr 1e-3), softmax
cross-entropy, class-balanced batches (batch / N images per condition),
random horizontal flips and, on half of each batch, a 3x3 or 5x5 box
blur (numpy, outside the compiled step): transfers of a VAE are
blurry, and a classifier that learned "sharp = real" or "flat = anime" from
the data would judge the blur, not the domain.

All of it is deterministic for a seed (numpy sampling and augmentation,
jax init key).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax


class DomainCNN(nn.Module):
  """[B, S, S, 3] in [0, 1] -> [B, N] logits."""
  n_classes: int
  widths: tuple[int, ...] = (16, 32, 64, 64)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    h = x.astype(jnp.float32) * 2.0 - 1.0
    for i, w in enumerate(self.widths):
      h = nn.relu(nn.Conv(w, (3, 3), strides=1 if i == 0 else 2,
                          padding='SAME', name=f'conv{i}')(h))
    h = jnp.mean(h, axis=(1, 2))
    return nn.Dense(self.n_classes, name='logits')(h)


def box_blur(x: np.ndarray, k: int) -> np.ndarray:
  """[B, H, W, C] moving average over k x k pixels (edges repeated)."""
  r = k // 2
  for axis in (1, 2):
    pad = [(0, 0)] * 4
    pad[axis] = (r + 1, r)
    c = np.cumsum(np.pad(x, pad, mode='edge'), axis=axis, dtype=np.float64)
    n = x.shape[axis]
    hi = np.take(c, np.arange(k, k + n), axis=axis)
    lo = np.take(c, np.arange(0, n), axis=axis)
    x = ((hi - lo) / k).astype(np.float32)
  return x


def augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """Random horizontal flips; a 3x3 or 5x5 box blur on a random half."""
  n = len(x)
  flip = rng.random(n) < 0.5
  x = np.where(flip[:, None, None, None], x[:, :, ::-1], x)
  blur = rng.random(n) < 0.5
  size = rng.choice((3, 5), n)
  for k in (3, 5):
    sel = blur & (size == k)
    if sel.any():
      x[sel] = box_blur(x[sel], k)
  return x


@dataclasses.dataclass
class DomainClassifier:
  """A trained DomainCNN and its class names."""
  names: tuple[str, ...]
  params: dict
  widths: tuple[int, ...] = (16, 32, 64, 64)

  @property
  def model(self) -> DomainCNN:
    return DomainCNN(len(self.names), tuple(self.widths))

  def logits(self, images01: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """[n, N] logits of float images in [0, 1] (fixed-size chunks)."""
    fn = _apply_fn(self.model)
    images01 = np.asarray(images01, np.float32)
    out = []
    for start in range(0, len(images01), batch_size):
      chunk = images01[start:start + batch_size]
      real = len(chunk)
      if len(images01) > batch_size and real < batch_size:
        # One compiled shape for every chunk: pad the last one.
        chunk = np.concatenate([chunk, np.repeat(chunk[-1:],
                                                 batch_size - real, 0)])
      out.append(np.asarray(fn(self.params, chunk))[:real])
    return (np.concatenate(out) if out else
            np.zeros((0, len(self.names)), np.float32))

  def predict(self, images01: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """int [n] predicted class of each image."""
    return np.argmax(self.logits(images01, batch_size), axis=-1)

  def share(self, images01: np.ndarray, cls: int) -> float:
    """Fraction of `images01` classified as class `cls`."""
    if not len(images01):
      return float('nan')
    return float(np.mean(self.predict(images01) == cls))

  def accuracy(self, per_class: Sequence[np.ndarray]) -> list[float]:
    """Per-class accuracy on held-out images [n_c, S, S, 3] in [0, 1]."""
    return [self.share(x, c) for c, x in enumerate(per_class)]

  def to_bytes(self) -> bytes:
    return flax.serialization.msgpack_serialize(
        {'names': list(self.names), 'widths': list(self.widths),
         'params': jax.tree.map(np.asarray, self.params)})

  @classmethod
  def from_bytes(cls, data: bytes) -> 'DomainClassifier':
    d = flax.serialization.msgpack_restore(data)
    return cls(tuple(d['names']), d['params'], tuple(int(w) for w in
                                                    d['widths']))


_APPLY_CACHE: dict = {}


def _apply_fn(model: DomainCNN):
  key = (model.n_classes, model.widths)
  if key not in _APPLY_CACHE:
    _APPLY_CACHE[key] = jax.jit(lambda p, x: model.apply({'params': p}, x))
  return _APPLY_CACHE[key]


def train(per_class: Sequence[np.ndarray], names: Sequence[str], *,
          seed: int = 0, steps: int = 400, batch_size: int = 64,
          learning_rate: float = 1e-3,
          widths: tuple[int, ...] = (16, 32, 64, 64)) -> DomainClassifier:
  """Trains a DomainClassifier on uint8 (or [0, 1] float) images per class.

  Args:
    per_class: N arrays [n_c, S, S, 3] (all the same S), n_c >= 1.
    names: the N class names.
    seed: numpy sampling and jax init / augmentation keys.
    steps, batch_size, learning_rate: Adam steps on balanced batches of
      batch_size // N images per class.
    widths: the CNN's conv widths.
  """
  n = len(per_class)
  if n < 2 or n != len(names):
    raise ValueError(f'need >= 2 classes with one name each, got {n} image '
                     f'sets and {len(names)} names.')
  if any(len(x) == 0 for x in per_class):
    raise ValueError('every class needs at least one training image.')
  per = max(1, batch_size // n)

  def as01(x):
    x = np.asarray(x)
    return (x.astype(np.float32) / np.float32(255.0) if x.dtype == np.uint8
            else x.astype(np.float32))

  model = DomainCNN(n, tuple(widths))
  size = per_class[0].shape[1]
  params = jax.jit(model.init)(jax.random.key(seed),
                               jnp.zeros((1, size, size, 3)))['params']
  tx = optax.adam(learning_rate)
  opt_state = tx.init(params)
  labels = np.repeat(np.arange(n, dtype=np.int32), per)

  @jax.jit
  def step(params, opt_state, x, y):
    def loss_fn(p):
      logits = model.apply({'params': p}, x)
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  rng = np.random.default_rng([seed, 1234])
  for _ in range(steps):
    x = np.concatenate([as01(c[rng.integers(0, len(c), per)])
                        for c in per_class])
    params, opt_state, _ = step(params, opt_state, augment(x, rng), labels)
  params = jax.tree.map(np.asarray, params)
  return DomainClassifier(tuple(names), params, tuple(widths))
