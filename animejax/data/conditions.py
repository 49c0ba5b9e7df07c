"""Labelled images: one or more folders per condition name (trVAE's data).

`config.data.conditions` names the conditions and their folders,

  'real=selfie2anime/trainA,real_faces;'
  'anime=selfie2anime/trainB,anime64_tagged/images'

(relative folders are joined to `config.data.root`). Condition i is the i-th
name; the model sees it one-hot. Every image is decoded once at start-up
(`folders.decode`: any mode -> RGB), centre-cropped to a square (or squashed,
`crop='none'`, as Anime-TrVAE's `PIL.resize((64, 64))`) and resized to
`image_size`; unreadable files are skipped and counted. Per condition, a
seeded permutation puts `num_val_per_condition` images aside for evaluation
(held out from training) and keeps at most `max_per_condition` for training.

The stream is a pure function of (seed, step): global sample g = step * B + i
is position g mod n of the permutation of epoch g // n, drawn from
(seed, epoch), as the trVAE reproduction's Keras `fit(shuffle=True)` over the
union of conditions. `balanced=True` instead draws B / N samples of each
condition per batch from that condition's own permutations. Each process
takes its slice of the global batch.

`face_crop='real:real'` (condition:kind, comma-separated; kind 'real' or
'anime') first cuts the square around the largest face that
`animejax.faces` finds (OpenCV's Haar frontal-face cascade or nagadomi's
lbpcascade_animeface, grown by `face_margin` on every side); images without
a detected face keep the plain crop, and their number is logged. The cascade
file is resolved once before loading (offline: the error names it).

`source='procedural'` (the offline demo, tests): conditions 'photo' and
'anime' are the procedural scenes' photo and anime renderings of disjoint
scene sets (unpaired).

`source='celeb_a'` (the paper's task): TFDS `celeb_a` train split, condition
`not_<attr>` / `<attr>` from `config.data.celeba_attribute` (the paper:
Smiling), faces cropped by their landmarks and resized with nearest
neighbour as [rep] `data_loader.prepare_and_load_celeba` does.

Batches: {'image': float32 [B, S, S, 3] in [0, 1] ([rep] train_DCtrVAE.py
`adata.X /= 255.0`), 'condition': int32 [B]}.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
from typing import Iterator

from absl import logging
import numpy as np
from PIL import Image

from animejax.data import common
from animejax.data import folders

SOURCES = ('folders', 'procedural', 'celeb_a')
CROPS = ('center', 'none')
FACE_KINDS = ('real', 'anime')


class NoFaceError(ValueError):
  """No face was detected (the loader then keeps the plain crop)."""


def parse_conditions(spec: str, root: str = '') -> list[tuple[str, list[str]]]:
  """'a=dir1,dir2;b=dir3' -> [('a', [root/dir1, root/dir2]), ('b', [...])].

  Raises:
    ValueError naming the problem (no '=', empty name, duplicate name, no
    folders, fewer than two conditions).
  """
  out: list[tuple[str, list[str]]] = []
  for part in [p.strip() for p in str(spec).split(';') if p.strip()]:
    if '=' not in part:
      raise ValueError(f'config.data.conditions: {part!r} is not '
                       "'name=folder[,folder...]'.")
    name, dirs = (s.strip() for s in part.split('=', 1))
    paths = [d.strip() for d in dirs.split(',') if d.strip()]
    if not name or not paths:
      raise ValueError(f'config.data.conditions: {part!r} needs a name and '
                       'at least one folder.')
    if name in [n for n, _ in out]:
      raise ValueError(f'config.data.conditions names {name!r} twice.')
    out.append((name, [p if os.path.isabs(p) or not root else
                       os.path.join(root, p) for p in paths]))
  if len(out) < 2:
    raise ValueError('config.data.conditions needs at least two conditions, '
                     f'got {len(out)} in {spec!r}.')
  return out


def parse_face_crop(spec: str) -> dict[str, str]:
  """'real:real,anime:anime' -> {condition: face kind} (see config.data)."""
  out: dict[str, str] = {}
  for part in [p.strip() for p in str(spec).split(',') if p.strip()]:
    name, _, kind = (s.strip() for s in part.partition(':'))
    if not name or kind not in FACE_KINDS:
      raise ValueError(f'config.data.face_crop: {part!r} is not '
                       f"'condition:kind' with kind in {list(FACE_KINDS)}.")
    out[name] = kind
  return out


@dataclasses.dataclass(frozen=True)
class FaceCrop:
  """Crop the largest detected face (animejax.faces) before `crop`."""
  kind: str
  cascade: str
  margin: float = 0.25


def load_image(item: str | bytes, size: int, crop: str = 'center',
               face: FaceCrop | None = None) -> np.ndarray:
  """A file (or encoded bytes) -> uint8 [size, size, 3].

  With `face`, the square around the largest detected face is cut out first
  (no face found: `load_image.no_face` is raised and the caller falls back).
  """
  # Face detection wants more pixels than the training size (24 px minimum
  # face): decode with a larger JPEG draft.
  rgb = folders.decode(folders.read_file(item),
                       draft_size=max(4 * size, 256) if face else size)
  if rgb.shape[0] < 2 or rgb.shape[1] < 2:
    raise ValueError(f'image of shape {rgb.shape} is too small')
  if face is not None:
    from animejax import faces  # pylint: disable=g-import-not-at-top
    cut = faces.crop_face(rgb, margin=face.margin, kind=face.kind,
                          cascade=face.cascade)
    if cut is None:
      raise NoFaceError(str(item)[:200])
    rgb = cut
  return square(rgb, size, crop)


def square(rgb: np.ndarray, size: int, crop: str = 'center') -> np.ndarray:
  """uint8 [H, W, 3] -> uint8 [size, size, 3] as training sees it: the
  central square ('center'; 'none' squashes), PIL bicubic resize."""
  if crop == 'center':
    h, w = rgb.shape[:2]
    m = min(h, w)
    top, left = (h - m) // 2, (w - m) // 2
    rgb = rgb[top:top + m, left:left + m]
  img = Image.fromarray(rgb)
  if img.size != (size, size):
    img = img.resize((size, size), Image.BICUBIC)
  return np.asarray(img, np.uint8)


def _load_all(paths: list[str], size: int, crop: str,
              num_threads: int = 4, face: FaceCrop | None = None
              ) -> tuple[np.ndarray, list[str]]:
  """(uint8 [n_good, S, S, 3] in the order of `paths`, unreadable paths)."""
  no_face = []

  def one(p):
    try:
      try:
        return load_image(p, size, crop, face)
      except NoFaceError:
        no_face.append(p)
        return load_image(p, size, crop)
    except Exception:  # pylint: disable=broad-except
      # Any decoder error (truncated, corrupt, unsupported) means "skip it".
      return None
  with concurrent.futures.ThreadPoolExecutor(num_threads) as pool:
    images = list(pool.map(one, paths))
  if face is not None:
    logging.info('face crop (%s): no face in %d of %d images; they keep the '
                 '%r crop.', face.kind, len(no_face), len(paths), crop)
  bad = [p for p, im in zip(paths, images) if im is None]
  good = [im for im in images if im is not None]
  arr = (np.stack(good) if good else
         np.zeros((0, size, size, 3), np.uint8))
  return arr, bad


@dataclasses.dataclass
class LabelledData:
  """Per-condition uint8 images, train and held out."""
  names: tuple[str, ...]
  train: list[np.ndarray]          # per condition [n_c, S, S, 3] uint8
  val: list[np.ndarray]            # per condition [m_c, S, S, 3] uint8
  skipped_files: list[str] = dataclasses.field(default_factory=list)

  def val_float(self, c: int) -> np.ndarray:
    """Held-out images of condition c as float32 in [0, 1]."""
    return self.val[c].astype(np.float32) / np.float32(255.0)


def _split(n: int, num_val: int, max_train: int, seed: int, c: int
           ) -> tuple[np.ndarray, np.ndarray]:
  perm = np.random.default_rng([seed, 7, c]).permutation(n)
  val, train = perm[:num_val], perm[num_val:]
  if max_train > 0:
    train = train[:max_train]
  return np.sort(train), np.sort(val)


def load(data_cfg, seed: int) -> LabelledData:
  """Reads `config.data` (folders or procedural) into LabelledData."""
  size = int(data_cfg.image_size)
  num_val = int(data_cfg.num_val_per_condition)
  max_train = int(data_cfg.get('max_per_condition', 0))
  if data_cfg.source == 'procedural':
    # pylint: disable=g-import-not-at-top
    from animejax.data import procedural
    n = int(data_cfg.procedural_epoch_size)
    names, train, val = ('photo', 'anime'), [], []
    for c, kind in enumerate(names):
      stream = (procedural.STREAM_PHOTO, procedural.STREAM_ANIME)[c]
      imgs = np.stack([procedural.render(procedural.scene_seed(seed, stream, i),
                                         size, kind)
                       for i in range(n + num_val)])
      train.append(imgs[num_val:])
      val.append(imgs[:num_val])
    return LabelledData(names, train, val)

  if data_cfg.source == 'celeb_a':
    return _load_celeba(data_cfg, seed)
  spec = parse_conditions(data_cfg.conditions, data_cfg.get('root', ''))
  face_kinds = parse_face_crop(data_cfg.get('face_crop', ''))
  unknown = sorted(set(face_kinds) - {n for n, _ in spec})
  if unknown:
    raise ValueError(f'config.data.face_crop names {unknown}, which are not '
                     f'conditions; known: {[n for n, _ in spec]}.')
  names, train, val, skipped = [], [], [], []
  for c, (name, dirs) in enumerate(spec):
    face = None
    if name in face_kinds:
      from animejax import faces  # pylint: disable=g-import-not-at-top
      # Resolved once here: offline, the error names the file and URL.
      face = FaceCrop(face_kinds[name], faces.cascade_path(
          face_kinds[name],
          cache_dir=data_cfg.get('face_cascade_dir', '') or None),
                      float(data_cfg.get('face_margin', 0.25)))
    paths = []
    for d in dirs:
      paths += folders.list_images(d, f'data.conditions ({name})')
    if len(paths) <= num_val:
      raise ValueError(
          f'condition {name!r} has {len(paths)} images in {dirs}; '
          f'config.data.num_val_per_condition={num_val} leaves none to train.')
    tr, va = _split(len(paths), num_val, max_train, seed, c)
    keep = np.concatenate([va, tr])
    arr, bad = _load_all([paths[i] for i in keep], size, data_cfg.crop,
                         face=face)
    skipped += bad
    bad_set = set(bad)
    ok = np.array([paths[i] not in bad_set for i in keep], bool)
    is_val = np.arange(len(keep)) < len(va)
    names.append(name)
    val.append(arr[is_val[ok]])
    train.append(arr[~is_val[ok]])
    if not len(train[-1]) or len(val[-1]) < min(num_val, 2):
      raise ValueError(f'condition {name!r}: too few readable images '
                       f'({len(bad)} of {len(paths)} unreadable).')
  return LabelledData(tuple(names), train, val, skipped)


def celeba_crop(image: np.ndarray, lm: dict, size: int) -> np.ndarray | None:
  """[rep] prepare_and_load_celeba's landmark crop; None for the faces it
  drops (eyes closer than 30 px or an eye within 15 px of the nose in x)."""
  if (abs(lm['lefteye_x'] - lm['righteye_x']) <= 30 or
      abs(lm['lefteye_x'] - lm['nose_x']) <= 15 or
      abs(lm['righteye_x'] - lm['nose_x']) <= 15):
    return None
  left = max(0, min(lm['lefteye_x'], lm['leftmouth_x']) - 15)
  # [rep] takes min() on the right side too (sic).
  right = min(178, min(lm['righteye_x'], lm['rightmouth_x']) + 15)
  top = max(0, lm['lefteye_y'] - 35)
  bottom = min(218, lm['rightmouth_y'] + 25)
  img = Image.fromarray(image).crop((left, top, right, bottom))
  return np.asarray(img.resize((size, size), Image.NEAREST), np.uint8)


def _load_celeba(data_cfg, seed: int) -> LabelledData:
  """TFDS celeb_a -> LabelledData (see the module docstring)."""
  attr = data_cfg.celeba_attribute
  try:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    ds = tfds.load('celeb_a', split='train',
                   data_dir=data_cfg.get('tfds_data_dir', '') or None)
  except Exception as e:  # pylint: disable=broad-except
    raise RuntimeError(
        f"TFDS 'celeb_a' could not be loaded ({type(e).__name__}: {e}). "
        'With internet TFDS downloads it (img_align_celeba.zip, '
        'list_attr_celeba.txt, list_landmarks_align_celeba.txt, '
        'list_eval_partition.txt from the CelebA Google Drive); offline, '
        'build it once where you have internet (`tfds build celeb_a`) and '
        'copy the prepared celeb_a folder into config.data.tfds_data_dir '
        '(default ~/tensorflow_datasets).') from e
  cap = int(data_cfg.get('max_per_condition', 0)) or None
  num_val = int(data_cfg.num_val_per_condition)
  size = int(data_cfg.image_size)
  groups: list[list[np.ndarray]] = [[], []]
  for ex in tfds.as_numpy(ds):
    c = int(bool(ex['attributes'][attr]))
    if cap and len(groups[c]) >= cap + num_val:
      if all(len(g) >= cap + num_val for g in groups):
        break
      continue
    face = celeba_crop(ex['image'], {k: int(v) for k, v in
                                     ex['landmarks'].items()}, size)
    if face is not None:
      groups[c].append(face)
  train, val = [], []
  for c, g in enumerate(groups):
    arr = np.stack(g)
    tr, va = _split(len(arr), num_val, 0, seed, c)
    train.append(arr[tr])
    val.append(arr[va])
  return LabelledData((f'not_{attr}', attr), train, val)


class ConditionStream:
  """Infinite per-process batches {'image', 'condition'} (see module doc)."""

  def __init__(self, data: LabelledData, *, seed: int, global_batch: int,
               start_step: int = 0, balanced: bool = False,
               process_index: int = 0, process_count: int = 1):
    self._train = data.train
    self._images = np.concatenate(data.train)
    self._labels = np.concatenate([np.full(len(t), c, np.int32)
                                   for c, t in enumerate(data.train)])
    self._offsets = np.cumsum([0] + [len(t) for t in data.train])
    self._seed = int(seed)
    self._global = int(global_batch)
    self._local = common.local_batch_size(global_batch, process_count)
    self._process = int(process_index)
    self._balanced = bool(balanced)
    n_cond = len(data.train)
    if balanced and global_batch % n_cond:
      raise ValueError(f'config.data.balanced needs batch_size '
                       f'({global_batch}) divisible by the {n_cond} '
                       'conditions.')
    self._step = int(start_step)
    self._perm_cache: dict[tuple[int, int], np.ndarray] = {}

  def _perm(self, c: int, epoch: int, n: int) -> np.ndarray:
    key = (c, epoch)
    if key not in self._perm_cache:
      if len(self._perm_cache) > 8:
        self._perm_cache.clear()
      self._perm_cache[key] = np.random.default_rng(
          [self._seed, 11, c + 1, epoch]).permutation(n)
    return self._perm_cache[key]

  def _positions(self, c: int, n: int, start: int, count: int) -> np.ndarray:
    g = np.arange(start, start + count)
    out = np.empty(count, np.int64)
    for epoch in np.unique(g // n):
      sel = g // n == epoch
      out[sel] = self._perm(c, int(epoch), n)[g[sel] % n]
    return out

  def global_indices(self, step: int) -> np.ndarray:
    """Indices into the concatenated training images of step's batch."""
    if not self._balanced:
      # c = -1: one permutation of the union of conditions.
      return self._positions(-1, len(self._images), step * self._global,
                             self._global)
    per = self._global // len(self._train)
    idx = [self._offsets[c] + self._positions(c, len(t), step * per, per)
           for c, t in enumerate(self._train)]
    return np.stack(idx, axis=1).reshape(-1)  # interleaved c0, c1, ...

  def batch(self, step: int) -> dict[str, np.ndarray]:
    idx = self.global_indices(step)
    idx = idx[self._process * self._local:(self._process + 1) * self._local]
    return {'image': self._images[idx].astype(np.float32) / np.float32(255.0),
            'condition': self._labels[idx]}

  def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
    return self

  def __next__(self) -> dict[str, np.ndarray]:
    out = self.batch(self._step)
    self._step += 1
    return out
