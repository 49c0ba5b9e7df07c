"""The procedural source: unpaired training streams and held-out val pairs.

Training is UNPAIRED: photos come from scenes of stream STREAM_PHOTO, anime
images from different scenes of stream STREAM_ANIME (seeds never overlap, see
`procedural.scene_seed`). Validation pairs (photo + its anime rendering) come
from stream STREAM_VAL.

Determinism and resume: global sample g (= step * global_batch + position)
is scene perm_e[g % E] of epoch e = g // E, where E is
config.data.procedural_epoch_size and perm_e a permutation seeded by
(config.seed, e). Process p of P takes positions [p*B/P, (p+1)*B/P) of each
global batch. Starting at `start_step` therefore yields exactly the batches
an uninterrupted run would have produced from that step on.
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import os
from typing import Iterator

import numpy as np

from animejax.data import common
from animejax.data import procedural
from animejax.data import smoothing

# Cache rendered training images while they fit in this many bytes.
_CACHE_BYTES = 512 * 2**20


class ProceduralStream:
  """Infinite iterator of per-process training batches (numpy float32)."""

  def __init__(self, *, seed: int, size: int, epoch_size: int,
               global_batch: int, start_step: int, process_index: int,
               process_count: int, flip: bool, prefetch: int = 2,
               num_threads: int | None = None):
    if epoch_size < 1:
      raise ValueError('config.data.procedural_epoch_size must be >= 1, '
                       f'got {epoch_size}.')
    self.seed, self.size, self.epoch_size = seed, size, epoch_size
    self.global_batch = global_batch
    self.local_batch = common.local_batch_size(global_batch, process_count)
    self.process_index = process_index
    self.flip = flip
    self.step = start_step
    self.prefetch = max(int(prefetch), 1)
    self._pool = concurrent.futures.ThreadPoolExecutor(
        num_threads or min(4, os.cpu_count() or 1))
    self._pending: collections.deque = collections.deque()
    per_item = size * size * 3 * 3
    self._cache = {} if epoch_size * per_item * 2 <= _CACHE_BYTES else None

  @functools.lru_cache(maxsize=8)
  def _permutation(self, epoch: int) -> np.ndarray:
    return np.random.default_rng([self.seed, 7, epoch]).permutation(
        self.epoch_size)

  def _scene(self, stream: int, index: int) -> tuple[np.ndarray, ...]:
    """(image u8, smooth u8 or None) of training scene `index` of `stream`."""
    key = (stream, index)
    if self._cache is not None and key in self._cache:
      return self._cache[key]
    seed = procedural.scene_seed(self.seed, stream, index)
    if stream == procedural.STREAM_PHOTO:
      out = (procedural.render(seed, self.size, 'photo'), None)
    else:
      anime = procedural.render(seed, self.size, 'anime')
      out = (anime, smoothing.edge_smooth(anime))
    if self._cache is not None:
      self._cache[key] = out
    return out

  def _sample(self, g: int) -> dict[str, np.ndarray]:
    epoch, pos = divmod(g, self.epoch_size)
    index = int(self._permutation(epoch)[pos])
    # The anime stream walks the same permutation shifted by half an epoch,
    # so a photo and an anime image of the same index never meet in a batch.
    a_index = int(self._permutation(epoch)[(pos + self.epoch_size // 2)
                                           % self.epoch_size])
    photo, _ = self._scene(procedural.STREAM_PHOTO, index)
    anime, smooth = self._scene(procedural.STREAM_ANIME, a_index)
    if self.flip:
      flips = np.random.default_rng([self.seed, 11, g]).random(2) < 0.5
      if flips[0]:
        photo = photo[:, ::-1]
      if flips[1]:
        anime, smooth = anime[:, ::-1], smooth[:, ::-1]
    return {'photo': common.to_float(photo),
            'anime': common.to_float(anime),
            'anime_gray': common.to_float(common.gray3(anime)),
            'smooth_gray': common.to_float(common.gray3(smooth))}

  def _batch(self, step: int) -> dict[str, np.ndarray]:
    first = step * self.global_batch + self.process_index * self.local_batch
    samples = [self._sample(first + j) for j in range(self.local_batch)]
    return {k: np.stack([s[k] for s in samples]) for k in common.BATCH_KEYS}

  def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
    return self

  def __next__(self) -> dict[str, np.ndarray]:
    while len(self._pending) < self.prefetch:
      self._pending.append(self._pool.submit(self._batch, self.step))
      self.step += 1
    return self._pending.popleft().result()

  def close(self):
    self._pool.shutdown(wait=False, cancel_futures=True)


def val_arrays(seed: int, size: int, num: int):
  """(val_photos, val_targets, val_style) float32 in [-1, 1].

  val_style holds the anime renderings of `num` OTHER held-out scenes, so KID
  compares against unpaired style images as it would on real data.
  """
  pairs = [procedural.render_pair(
      procedural.scene_seed(seed, procedural.STREAM_VAL, i), size)
           for i in range(2 * num)]
  photos = np.stack([common.to_float(p) for p, _ in pairs[:num]])
  targets = np.stack([common.to_float(a) for _, a in pairs[:num]])
  style = np.stack([common.to_float(a) for _, a in pairs[num:]])
  return photos, targets, style
