"""tf.data pipeline for real images (the 'folders' and 'tfds' sources).

Order of work for training sample g (g = step * global_batch + position):

  1. file choice: epoch e = g // n, file perm_e[g % n] where perm_e is a
     permutation of the n files seeded by (config.seed, stream, e): a seeded
     per-epoch shuffle of the file LIST; nothing is decoded to shuffle;
  2. decode that one file (PIL, any mode -> RGB), random resized crop seeded
     by (config.seed, g), resize to image_size, optional flip;
  3. photo and style streams are zipped per sample; the style side yields
     anime, its gray copy and the gray copy of the edge-smoothed image with
     the same crop and flip.

Process p of P takes positions [p*B/P, (p+1)*B/P) of every global batch, so the
processes read disjoint files within an epoch and together produce the same
global batches as one process would. Resume from step k is exact and cheap:
the sample counter simply starts at k * global_batch (no file is read for
the skipped steps). The map is parallel (AUTOTUNE) with deterministic order.
"""

from __future__ import annotations

import atexit
import dataclasses
import math
import threading
import weakref
from typing import Sequence

from absl import logging
import cv2
import numpy as np
import tensorflow as tf

from animejax.data import common
from animejax.data import folders
from animejax.data import smoothing

_STREAM_PHOTO, _STREAM_STYLE, _STREAM_CROP, _STREAM_VAL = 101, 102, 103, 104
# Random resized crop: aspect ratio (w/h) drawn log-uniformly in this range
# ("kept near 1"); scale = fraction of the largest inscribed square's area.
_ASPECT_RANGE = (0.9, 1.0 / 0.9)


@dataclasses.dataclass
class RealData:
  """Verified items of a real dataset (paths, or encoded bytes for TFDS)."""
  photos: list
  styles: list
  smooths: list            # aligned with styles; '' / b'' = smooth on the fly
  val_photos: list
  skipped: list[str]
  style_means: np.ndarray  # [len(styles), 3] per-image RGB means, or empty


class _Permutations:
  """Per-epoch seeded file permutations, shared by the parallel map threads."""

  def __init__(self, seed: int, stream: int, n: int):
    self._seed, self._stream, self.n = seed, stream, n
    self._lock = threading.Lock()
    self._cache: dict[int, np.ndarray] = {}

  def index(self, g: int) -> int:
    epoch, pos = divmod(g, self.n)
    with self._lock:
      perm = self._cache.get(epoch)
      if perm is None:
        if len(self._cache) > 4:
          self._cache.clear()
        perm = np.random.default_rng(
            [self._seed, self._stream, epoch]).permutation(self.n)
        self._cache[epoch] = perm
    return int(perm[pos])


def crop_box(rng: np.random.Generator, h: int, w: int,
             scale: tuple[float, float]) -> tuple[float, float, float, float]:
  """Random crop as fractions (top, left, height, width) of the image."""
  side = min(h, w)
  area = rng.uniform(scale[0], scale[1]) * side * side
  aspect = math.exp(rng.uniform(*np.log(_ASPECT_RANGE)))
  cw = min(math.sqrt(area * aspect), w)
  ch = min(math.sqrt(area / aspect), h)
  top = rng.uniform(0, h - ch)
  left = rng.uniform(0, w - cw)
  return top / h, left / w, ch / h, cw / w


def apply_crop(img: np.ndarray, box, size: int) -> np.ndarray:
  """Crops fractions `box` of `img` and resizes to [size, size]."""
  h, w = img.shape[:2]
  top, left, ch, cw = box
  y0, x0 = int(round(top * h)), int(round(left * w))
  y1 = max(min(int(round((top + ch) * h)), h), y0 + 1)
  x1 = max(min(int(round((left + cw) * w)), w), x0 + 1)
  crop = img[y0:y1, x0:x1]
  if crop.shape[:2] == (size, size):
    return np.ascontiguousarray(crop)
  shrink = crop.shape[0] > size and crop.shape[1] > size
  return cv2.resize(crop, (size, size), interpolation=(
      cv2.INTER_AREA if shrink else cv2.INTER_CUBIC))


def center_square(img: np.ndarray, size: int) -> np.ndarray:
  """Largest centred square resized to [size, size] (validation images)."""
  h, w = img.shape[:2]
  s = min(h, w)
  return apply_crop(img, ((h - s) / 2 / h, (w - s) / 2 / w, s / h, s / w),
                    size)


class _Sampler:
  """Python side of the map: sample index -> uint8 images."""

  def __init__(self, data: RealData, config, smooth_cache: bool = True):
    self.data = data
    self.seed = int(config.seed)
    self.size = int(config.data.image_size)
    self.scale = tuple(float(v) for v in config.data.crop_scale)
    self.flip = bool(config.data.flip)
    self.photos = _Permutations(self.seed, _STREAM_PHOTO, len(data.photos))
    self.styles = _Permutations(self.seed, _STREAM_STYLE, len(data.styles))
    # JPEG draft: decode at >= the resolution the smallest crop needs.
    self.draft = int(math.ceil(self.size / math.sqrt(max(self.scale[0], 1e-6))))

  def _load(self, item, box_rng, flip: bool):
    img = folders.decode(folders.read_file(item), self.draft)
    box = crop_box(box_rng, *img.shape[:2], self.scale)
    out = apply_crop(img, box, self.size)
    return (out[:, ::-1] if flip else out), box

  def __call__(self, g):
    g = int(g)
    rng = np.random.default_rng([self.seed, _STREAM_CROP, g])
    flips = (rng.random(2) < 0.5) & self.flip
    photo, _ = self._load(self.data.photos[self.photos.index(g)], rng,
                          bool(flips[0]))
    k = self.styles.index(g)
    anime_full = folders.decode(folders.read_file(self.data.styles[k]),
                                self.draft)
    box = crop_box(rng, *anime_full.shape[:2], self.scale)
    anime = apply_crop(anime_full, box, self.size)
    smooth_item = self.data.smooths[k]
    if smooth_item:
      smooth = apply_crop(folders.decode(folders.read_file(smooth_item),
                                         self.draft), box, self.size)
    else:
      # As [v2] edge_smooth.py: smooth the style image at training size.
      smooth = smoothing.edge_smooth(anime)
    if flips[1]:
      anime, smooth = anime[:, ::-1], smooth[:, ::-1]
    gray = lambda x: cv2.cvtColor(np.ascontiguousarray(x), cv2.COLOR_RGB2GRAY)
    return (np.ascontiguousarray(photo), np.ascontiguousarray(anime),
            gray(anime), gray(smooth))


def train_dataset(data: RealData, config, *, start_step: int,
                  process_index: int, process_count: int,
                  mean_adjust: np.ndarray) -> tf.data.Dataset:
  """Infinite per-process dataset of batches (see the module docstring)."""
  global_b = int(config.batch_size)
  local_b = common.local_batch_size(global_b, process_count)
  sampler = _Sampler(data, config)
  size = int(config.data.image_size)
  offset = np.asarray(mean_adjust, np.float32) / np.float32(127.5)

  def index(k):
    step = start_step + k // local_b
    return step * global_b + process_index * local_b + k % local_b

  def load(g):
    photo, anime, anime_gray, smooth_gray = tf.numpy_function(
        sampler, [g], [tf.uint8] * 4, stateful=False)
    photo = tf.ensure_shape(photo, [size, size, 3])
    anime = tf.ensure_shape(anime, [size, size, 3])
    anime_gray = tf.ensure_shape(anime_gray, [size, size])
    smooth_gray = tf.ensure_shape(smooth_gray, [size, size])
    to_float = lambda x: tf.cast(x, tf.float32) / 127.5 - 1.0
    gray3 = lambda x: tf.repeat(to_float(x)[..., None], 3, axis=-1)
    return {'photo': to_float(photo), 'anime': to_float(anime) + offset,
            'anime_gray': gray3(anime_gray), 'smooth_gray': gray3(smooth_gray)}

  ds = tf.data.Dataset.range(2**62).map(index)
  ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  ds = ds.batch(local_b, drop_remainder=True)
  ds = ds.prefetch(max(int(config.data.prefetch), 1))
  options = tf.data.Options()
  options.deterministic = True
  options.experimental_optimization.map_parallelization = True
  return ds.with_options(options)


class NumpyIterator:
  """Iterator over a tf.data dataset as numpy dicts, closed before exit.

  tf.data threads that are inside a tf.numpy_function when Python shuts down
  deadlock the interpreter's exit, so every live iterator is released by an
  atexit hook (or explicitly with close()).
  """
  _live: 'weakref.WeakSet[NumpyIterator]' = weakref.WeakSet()

  def __init__(self, ds: tf.data.Dataset):
    self._it = ds.as_numpy_iterator()
    NumpyIterator._live.add(self)

  def __iter__(self):
    return self

  def __next__(self):
    if self._it is None:
      raise StopIteration
    return next(self._it)

  def close(self):
    self._it = None

  @classmethod
  def close_all(cls):
    for it in list(cls._live):
      it.close()
    import gc  # pylint: disable=g-import-not-at-top
    gc.collect()


atexit.register(NumpyIterator.close_all)


def _decode_val(items: Sequence, size: int) -> np.ndarray:
  if not items:
    return np.zeros((0, size, size, 3), np.float32)
  return np.stack([common.to_float(center_square(
      folders.decode(folders.read_file(p), size), size)) for p in items])


def build_pipeline(data: RealData, config, *, start_step: int,
                   process_index: int, process_count: int, val_style_items):
  """InputPipeline from verified RealData (shared by folders and tfds)."""
  from animejax import data as data_lib  # pylint: disable=g-import-not-at-top
  if not data.photos or not data.styles:
    raise ValueError('no readable training images left: '
                     f'{len(data.photos)} photos, {len(data.styles)} style '
                     f'images ({len(data.skipped)} unreadable files skipped).')
  mean_adjust = np.zeros(3, np.float32)
  if config.data.get('style_mean_adjust', False):
    mean_adjust = folders.style_mean_adjust(data.style_means)
    logging.info('style_mean_adjust: adding RGB %s (0..255 scale) to style '
                 'images ([v2] data_mean).', np.round(mean_adjust, 3).tolist())
  ds = train_dataset(data, config, start_step=start_step,
                     process_index=process_index, process_count=process_count,
                     mean_adjust=mean_adjust)
  size = int(config.data.image_size)
  return data_lib.InputPipeline(
      num_train_images=max(len(data.photos), len(data.styles)),
      train_iter=NumpyIterator(ds),
      val_photos=_decode_val(data.val_photos, size),
      val_targets=None,
      val_style=_decode_val(val_style_items, size),
      skipped_files=list(data.skipped),
      info={'num_photos': len(data.photos), 'num_styles': len(data.styles),
            'style_mean_adjust': mean_adjust.tolist()})


def create_real_pipeline(config, *, start_step: int, process_index: int,
                         process_count: int):
  """'folders' or 'tfds' source -> InputPipeline."""
  if config.data.source == 'folders':
    data = folders_data(config)
  else:
    from animejax.data import tfds_animegan  # pylint: disable=g-import-not-at-top
    data = tfds_animegan.load_real_data(config)
  n_val = int(config.data.num_val_images)
  rng = np.random.default_rng([int(config.seed), _STREAM_VAL])
  val_style = [data.styles[i] for i in sorted(
      rng.permutation(len(data.styles))[:n_val])] if data.styles else []
  return build_pipeline(data, config, start_step=start_step,
                        process_index=process_index,
                        process_count=process_count,
                        val_style_items=val_style)


def _verified(paths: list[str], skipped: list[str]) -> list[str]:
  good, bad, _ = folders.verify(paths)
  skipped.extend(paths[i] for i in bad)
  return [paths[i] for i in good]


def folders_data(config) -> RealData:
  """Lists, verifies and splits config.data.{photo,style,smooth,val}_dir."""
  d = config.data
  skipped: list[str] = []
  photos = _verified(folders.list_images(d.photo_dir, 'data.photo_dir'),
                     skipped)
  style_paths = folders.list_images(d.style_dir, 'data.style_dir')
  smooth_paths = folders.match_smooth(style_paths, d.style_dir, d.smooth_dir)
  good, bad, means = folders.verify(
      style_paths, want_means=bool(d.get('style_mean_adjust', False)))
  skipped.extend(style_paths[i] for i in bad)
  styles = [style_paths[i] for i in good]
  smooths = [smooth_paths[i] for i in good]
  present = [i for i, s in enumerate(smooths) if s]
  if present:
    ok, bad_s, _ = folders.verify([smooths[i] for i in present])
    for j in bad_s:  # unreadable smooth file: smooth that image on the fly
      skipped.append(smooths[present[j]])
      smooths[present[j]] = ''
  n_val = int(d.num_val_images)
  if d.val_dir:
    val = _verified(folders.list_images(d.val_dir, 'data.val_dir'), skipped)
    val = val[:n_val]
  else:
    # Held-out slice: n_val photos chosen by the seed leave the training set
    # (kept in it when there would be nothing else to train on).
    perm = np.random.default_rng([int(config.seed), _STREAM_VAL]).permutation(
        len(photos))
    held = set(perm[:n_val].tolist())
    val = [photos[i] for i in sorted(held)]
    if len(photos) > 2 * n_val:
      photos = [p for i, p in enumerate(photos) if i not in held]
  if skipped:
    logging.warning('Skipped %d unreadable image file(s): %s', len(skipped),
                    ', '.join(skipped))
  return RealData(photos, styles, smooths, val, skipped, means)
