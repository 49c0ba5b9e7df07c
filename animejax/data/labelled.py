"""Image folders with optional tag labels, for noise-to-face generators.

A folder of images (read with `animejax.data.folders`, recursively, any
mode decoded to RGB) and, optionally, a labels CSV of rows `id,<tags>` where
`id` is an image's file name without its extension and `<tags>` a tag
string. The shared set `../shared/data/faces/anime64_tagged` (NTU MLDS 2018
GAN homework faces, 64 x 64) has rows like `0,aqua hair aqua eyes`: one
hair and one eye colour per image (12 x 10 colours).

Tag strings are split into tags ending in 'hair' or 'eyes' ('blonde hair
blue eyes' -> ['blonde hair', 'blue eyes']); commas or semicolons also
separate tags ('blonde hair, blue eyes', 'long hair;smile'). The vocabulary
is every tag of the CSV sorted by group (hair, eyes, others) then name;
labels are multi-hot float32 vectors over it.

The set is split once, deterministically (a permutation seeded by
`split_seed` over the sorted ids): the last `num_val` images are held out.
The training stream is a pure function of (seed, step): batch k holds the
global positions k B .. k B + B - 1 of a sequence of per-epoch permutations
(epoch e seeded by (seed, e)), so `start_step=k` resumes exactly. Files that
fail to decode, and CSV rows naming no image, are skipped and counted.

`synthetic_faces` draws labelled toy faces (a hair-coloured disc with two
eye-coloured dots) for tests and smoke runs without the shared data.
"""

from __future__ import annotations

import concurrent.futures
import csv
import dataclasses
import os
import re
from typing import Iterator, Sequence

import cv2
import numpy as np

from animejax.data import common
from animejax.data import folders

GROUPS = ('hair', 'eyes')


def parse_tags(text: str) -> list[str]:
  """'blonde hair blue eyes' -> ['blonde hair', 'blue eyes'].

  Words accumulate until one of GROUPS closes a tag; commas/semicolons end a
  tag too; whitespace and case are normalised. Words left over without a
  group word form one tag ('smile').
  """
  tags: list[str] = []
  for part in re.split(r'[,;]', text):
    words: list[str] = []
    for word in part.lower().split():
      words.append(word)
      if word in GROUPS:
        tags.append(' '.join(words))
        words = []
    if words:
      tags.append(' '.join(words))
  return tags


def _group(tag: str) -> int:
  last = tag.rsplit(' ', 1)[-1]
  return GROUPS.index(last) if last in GROUPS else len(GROUPS)


def vocabulary(tag_lists: Sequence[Sequence[str]]) -> list[str]:
  """Every tag, sorted by group (hair, eyes, others) then by name."""
  tags = {t for ts in tag_lists for t in ts}
  return sorted(tags, key=lambda t: (_group(t), t))


def multi_hot(tags: Sequence[str], vocab: Sequence[str]) -> np.ndarray:
  """float32 [len(vocab)] with 1 at each tag; ValueError lists the known."""
  index = {t: i for i, t in enumerate(vocab)}
  out = np.zeros(len(vocab), np.float32)
  unknown = [t for t in tags if t not in index]
  if unknown:
    raise ValueError(f'unknown label(s) {unknown}; known labels: '
                     f'{", ".join(vocab)}.')
  for t in tags:
    out[index[t]] = 1.0
  return out


def group_slices(vocab: Sequence[str]) -> dict[str, slice]:
  """{'hair': slice, 'eyes': slice} of the (group-sorted) vocabulary."""
  out = {}
  for g, name in enumerate(GROUPS):
    idx = [i for i, t in enumerate(vocab) if _group(t) == g]
    if idx:
      out[name] = slice(idx[0], idx[-1] + 1)
  return out


def read_labels_csv(path: str) -> dict[str, list[str]]:
  """{id: tags} of a CSV of rows `id,<tags>` (a header row 'id,...' is
  skipped; rows with more than two fields join the rest with commas)."""
  out: dict[str, list[str]] = {}
  with open(path, newline='', encoding='utf-8') as f:
    for row in csv.reader(f):
      if not row or (row[0].strip().lower() == 'id' and not out):
        continue
      out[row[0].strip()] = parse_tags(','.join(row[1:]))
  return out


def _load(path: str, size: int) -> np.ndarray | None:
  try:
    rgb = folders.decode(folders.read_file(path))
  except Exception:  # pylint: disable=broad-except
    return None  # truncated, corrupt or unsupported: skipped and counted
  # Area averaging for down-scaling (the faces are square crops).
  return _square(rgb, size)


@dataclasses.dataclass
class LabelledImages:
  """Decoded images (uint8 [N, S, S, 3]) and multi-hot labels [N, L] (L=0
  without a CSV), split into train and held-out parts."""
  train_images: np.ndarray
  train_labels: np.ndarray
  val_images: np.ndarray
  val_labels: np.ndarray
  vocab: list[str]
  skipped_files: list[str]

  @property
  def num_labels(self) -> int:
    return len(self.vocab)

  def val_float(self) -> np.ndarray:
    return common.to_float(self.val_images)


def _split(images: np.ndarray, labels: np.ndarray, num_val: int,
           split_seed: int, vocab, skipped) -> LabelledImages:
  if num_val >= len(images):
    raise ValueError(f'data.num_val_images={num_val} leaves no training '
                     f'images of {len(images)}.')
  order = np.random.default_rng(split_seed).permutation(len(images))
  tr, va = order[:len(images) - num_val], order[len(images) - num_val:]
  return LabelledImages(images[tr], labels[tr], images[va], labels[va],
                        list(vocab), list(skipped))


def load_folder(image_dir: str, labels_csv: str = '', image_size: int = 64,
                num_val: int = 500, split_seed: int = 0, max_images: int = 0,
                num_threads: int = 4) -> LabelledImages:
  """Reads `image_dir` (and `labels_csv`) into a split LabelledImages.

  With a CSV, only images with a row are used (images without one, and rows
  without an image, are counted in `skipped_files` as 'no label: ...' /
  'no image: ...'). max_images > 0 keeps the first that many (sorted ids).
  """
  paths = folders.list_images(image_dir, 'data.image_dir')
  by_id = {os.path.splitext(os.path.basename(p))[0]: p for p in paths}
  skipped: list[str] = []
  if labels_csv:
    tags = read_labels_csv(labels_csv)
    skipped += [f'no image: {i}' for i in tags if i not in by_id]
    skipped += [f'no label: {p}' for i, p in by_id.items() if i not in tags]
    ids = [i for i in by_id if i in tags]
  else:
    tags, ids = {}, list(by_id)
  # Numeric ids in numeric order ('2' before '10'), then the rest by name.
  ids.sort(key=lambda i: (0, int(i), '') if i.isdigit() else (1, 0, i))
  if max_images > 0:
    ids = ids[:max_images]
  with concurrent.futures.ThreadPoolExecutor(num_threads) as pool:
    decoded = list(pool.map(lambda i: _load(by_id[i], image_size), ids))
  good = [k for k, im in enumerate(decoded) if im is not None]
  skipped += [by_id[ids[k]] for k, im in enumerate(decoded) if im is None]
  if not good:
    raise ValueError(f'config.data.image_dir={image_dir!r}: no readable '
                     'images (with a label row).')
  images = np.stack([decoded[k] for k in good])
  vocab = vocabulary(list(tags.values())) if labels_csv else []
  labels = np.stack([multi_hot(tags[ids[k]], vocab) for k in good]
                    ) if vocab else np.zeros((len(good), 0), np.float32)
  return _split(images, labels, num_val, split_seed, vocab, skipped)


# Toy colours for synthetic_faces (RGB).
_COLOURS = {'black': (20, 20, 20), 'blonde': (240, 220, 90),
            'blue': (40, 80, 230), 'green': (40, 180, 60),
            'pink': (250, 140, 190), 'red': (220, 40, 40)}


def synthetic_faces(num: int, image_size: int = 32, num_val: int = 8,
                    seed: int = 0) -> LabelledImages:
  """Toy labelled faces: skin-coloured background, a hair-coloured disc
  (the top half of the image) and two eye-coloured dots; tags
  '<c> hair <c'> eyes' over _COLOURS. For tests and smoke runs only."""
  rng = np.random.default_rng(seed)
  names = sorted(_COLOURS)
  s = image_size
  yy, xx = np.mgrid[:s, :s] / s
  images, tag_lists = [], []
  for _ in range(num):
    hair, eyes = rng.choice(len(names), 2)
    im = np.empty((s, s, 3), np.float32)
    im[:] = (250, 220, 200)
    cx, r = 0.5 + 0.05 * rng.normal(), 0.45 + 0.03 * rng.normal()
    im[((xx - cx) ** 2 + (yy - 0.3) ** 2 < r * r) & (yy < 0.45)] = _COLOURS[
        names[hair]]
    for ex in (cx - 0.17, cx + 0.17):
      im[(xx - ex) ** 2 + (yy - 0.6) ** 2 < 0.01] = _COLOURS[names[eyes]]
    im += rng.normal(0, 6, im.shape)
    images.append(np.clip(im, 0, 255).astype(np.uint8))
    tag_lists.append([f'{names[hair]} hair', f'{names[eyes]} eyes'])
  vocab = vocabulary([[f'{c} hair', f'{c} eyes'] for c in names])
  labels = np.stack([multi_hot(t, vocab) for t in tag_lists])
  return _split(np.stack(images), labels, num_val, seed, vocab, [])


def train_stream(data: LabelledImages, batch_size: int, seed: int,
                 start_step: int = 0, process_index: int = 0,
                 process_count: int = 1) -> Iterator[dict[str, np.ndarray]]:
  """Infinite per-process batches {'image' [B, S, S, 3] in [-1, 1],
  'labels' [B, L]} with B = batch_size // process_count.

  Batch k is a pure function of (seed, k): positions k*batch_size + i of
  the concatenated per-epoch permutations (epoch e: default_rng((seed, e))).
  """
  local = common.local_batch_size(batch_size, process_count)
  n = len(data.train_images)
  cache: dict[int, np.ndarray] = {}

  def perm(epoch: int) -> np.ndarray:
    if epoch not in cache:
      if len(cache) > 2:
        cache.clear()
      cache[epoch] = np.random.default_rng((seed, epoch)).permutation(n)
    return cache[epoch]

  step = start_step
  while True:
    start = step * batch_size + process_index * local
    pos = np.arange(start, start + local)
    idx = np.array([perm(int(p // n))[p % n] for p in pos])
    yield {'image': common.to_float(data.train_images[idx]),
           'labels': data.train_labels[idx]}
    step += 1


def vocab_of(cfg) -> list[str]:
  """The label vocabulary of `config.data` without decoding any image."""
  if cfg.source == 'tfds':
    return []
  if cfg.source == 'synthetic':
    return vocabulary([[f'{c} hair', f'{c} eyes'] for c in _COLOURS])
  if not cfg.labels_csv:
    return []
  return vocabulary(list(read_labels_csv(cfg.labels_csv).values()))


def _square(rgb: np.ndarray, size: int) -> np.ndarray:
  if rgb.shape[:2] != (size, size):
    rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
  return rgb


def load_tfds_faces(data_dir: str = '', manual_dir: str = '',
                    image_size: int = 64, num_val: int = 500,
                    split_seed: int = 0, max_images: int = 0
                    ) -> LabelledImages:
  """The Kaggle/Getchu anime faces (TFDS `anime_faces`,
  `animejax.data.tfds_getchu`), built once from the archive in manual_dir,
  resized to image_size (area averaging) and split like a folder;
  unlabelled. Offline without the archive: ManualDataMissingError naming
  archive.zip and where to put it."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from animejax.data import tfds_getchu  # pylint: disable=g-import-not-at-top
  builder = tfds_getchu.AnimeFaces(data_dir=data_dir or None)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=manual_dir or None))
  ds = builder.as_dataset(split='train', shuffle_files=False)
  rows = sorted((ex['filename'].decode(), ex['image'])
                for ex in tfds.as_numpy(ds))
  if max_images > 0:
    rows = rows[:max_images]
  images = np.stack([_square(im, image_size) for _, im in rows])
  return _split(images, np.zeros((len(images), 0), np.float32), num_val,
                split_seed, [], [])


def from_config(cfg, seed_offset: int = 0) -> LabelledImages:
  """LabelledImages of `config.data` (source 'folder', 'tfds' or
  'synthetic')."""
  if cfg.source == 'tfds':
    return load_tfds_faces(cfg.get('tfds_data_dir', ''),
                           cfg.get('manual_dir', ''), cfg.image_size,
                           cfg.num_val_images, cfg.split_seed, cfg.max_images)
  if cfg.source == 'synthetic':
    return synthetic_faces(cfg.synthetic_size, cfg.image_size,
                           cfg.num_val_images, cfg.split_seed + seed_offset)
  return load_folder(cfg.image_dir, cfg.labels_csv, cfg.image_size,
                     cfg.num_val_images, cfg.split_seed, cfg.max_images)
