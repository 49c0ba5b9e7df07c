"""Unpaired two-domain image folders (the U-GAT-IT / CycleGAN layout).

  root/trainA/  root/trainB/  [root/testA/  root/testB/]

as the official data sets ship (selfie2anime: 3400 + 3400 train, 100 + 100
test). When testA/testB are missing (e.g. ../shared/data/faces/selfie2anime
has only the train folders) `num_val_images` images of each train folder are
held out for validation: a fixed pseudo-random choice (seed 0, independent
of config.seed) that training then never sees.

Training batches {'a': [B, S, S, 3], 'b': [B, S, S, 3]} float32 in [-1, 1],
with the official train transform ([pt] znxlwm/UGATIT-pytorch UGATIT.py
build_model): RandomHorizontalFlip, Resize((load_size, load_size)) (PIL
bilinear, aspect not kept), RandomCrop(S). The two domains are shuffled
independently, epoch by epoch ([pt] two DataLoaders with shuffle=True,
re-created when exhausted). Everything is a pure function of (seed, global
sample index): the permutation of epoch e of domain X comes from (seed, X,
e), the flip and crop of sample g from (seed, X, g), so `start_step=k`
yields exactly batch k of an uninterrupted run. Validation images get the
test transform (Resize((S, S)), no flip). Files are read and checked with
`animejax.data.folders` (any mode -> RGB; unreadable files skipped and
counted).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Iterator, Sequence

import numpy as np
from PIL import Image

from animejax.data import common
from animejax.data import folders

DOMAINS = ('a', 'b')
# fold-in constants of the per-domain random streams
_DOMAIN_SALT = {'a': 11, 'b': 12}
_PERM_SALT, _AUG_SALT = 1, 2
# the held-out validation choice does not depend on config.seed
_HOLDOUT_SEED = 0


@dataclasses.dataclass
class UnpairedData:
  """Train stream and validation arrays of the two domains."""
  train_iter: Iterator[dict[str, np.ndarray]]
  num_train_images: int
  val_a: np.ndarray
  val_b: np.ndarray
  train_paths: dict[str, list[str]]
  held_out: bool = False
  skipped_files: list[str] = dataclasses.field(default_factory=list)


def load_image(path: str, size: int) -> np.ndarray:
  """File -> uint8 [size, size, 3], PIL bilinear resize (torchvision Resize
  with a (size, size) tuple: the aspect ratio is not kept)."""
  rgb = folders.decode(folders.read_file(path))
  if rgb.shape[:2] != (size, size):
    rgb = np.asarray(Image.fromarray(rgb).resize((size, size),
                                                 Image.BILINEAR))
  return rgb


def augment(rgb: np.ndarray, rng: np.random.Generator, size: int,
            flip: bool) -> np.ndarray:
  """[pt] RandomHorizontalFlip then RandomCrop(size) of a load_size image."""
  do_flip = rng.random() < 0.5
  if flip and do_flip:
    rgb = rgb[:, ::-1]
  h, w = rgb.shape[:2]
  top = int(rng.integers(0, h - size + 1))
  left = int(rng.integers(0, w - size + 1))
  return np.ascontiguousarray(rgb[top:top + size, left:left + size])


class UnpairedStream:
  """Infinite per-process batches {'a', 'b'}, a pure function of the step."""

  def __init__(self, paths: dict[str, Sequence[str]], *, seed: int,
               image_size: int, load_size: int, flip: bool,
               global_batch: int, start_step: int = 0, process_index: int = 0,
               process_count: int = 1):
    self.paths = {d: list(paths[d]) for d in DOMAINS}
    self.seed = int(seed)
    self.image_size, self.load_size, self.flip = image_size, load_size, flip
    self.global_batch = global_batch
    self.local = common.local_batch_size(global_batch, process_count)
    self.offset = process_index * self.local
    self.step = start_step
    self._perm: dict[str, tuple[int, np.ndarray]] = {}

  def index(self, domain: str, g: int) -> int:
    """File index of global sample g of `domain` (epoch-wise shuffling)."""
    n = len(self.paths[domain])
    epoch, pos = divmod(g, n)
    cached = self._perm.get(domain)
    if cached is None or cached[0] != epoch:
      rng = np.random.default_rng(
          [self.seed, _DOMAIN_SALT[domain], _PERM_SALT, epoch])
      cached = (epoch, rng.permutation(n))
      self._perm[domain] = cached
    return int(cached[1][pos])

  def sample(self, domain: str, g: int) -> np.ndarray:
    """Global sample g of `domain`: uint8 [S, S, 3]."""
    rgb = load_image(self.paths[domain][self.index(domain, g)],
                     self.load_size)
    rng = np.random.default_rng([self.seed, _DOMAIN_SALT[domain], _AUG_SALT,
                                 g])
    return augment(rgb, rng, self.image_size, self.flip)

  def batch(self, step: int) -> dict[str, np.ndarray]:
    start = step * self.global_batch + self.offset
    return {d: common.to_float(np.stack(
        [self.sample(d, g) for g in range(start, start + self.local)]))
            for d in DOMAINS}

  def __iter__(self):
    return self

  def __next__(self) -> dict[str, np.ndarray]:
    out = self.batch(self.step)
    self.step += 1
    return out


def _good(paths: list[str], skipped: list[str]) -> list[str]:
  good, bad, _ = folders.verify(paths)
  skipped.extend(paths[i] for i in bad)
  return [paths[i] for i in good]


def _holdout(paths: list[str], n: int) -> tuple[list[str], list[str]]:
  """(train, val): n paths chosen with a fixed seed, kept in sorted order."""
  if n >= len(paths):
    raise ValueError(f'num_val_images={n} would hold out every one of the '
                     f'{len(paths)} training images; lower it.')
  chosen = set(np.random.default_rng(_HOLDOUT_SEED).permutation(
      len(paths))[:n].tolist())
  return ([p for i, p in enumerate(paths) if i not in chosen],
          [p for i, p in enumerate(paths) if i in chosen])


def create_unpaired_data(data_config, *, seed: int, global_batch: int,
                         start_step: int = 0,
                         process_index: int | None = None,
                         process_count: int | None = None) -> UnpairedData:
  """The unpaired source of config.data (root, image_size, load_size, flip,
  num_val_images); see the module docstring."""
  root = data_config.root
  if not root or not os.path.isdir(root):
    raise FileNotFoundError(
        f'config.data.root={root!r} is not a directory; point it at a folder '
        'holding trainA/ and trainB/ (and optionally testA/, testB/), e.g. '
        'the unpacked official selfie2anime.zip.')
  process_index, process_count = common.resolve_process(process_index,
                                                        process_count)
  skipped: list[str] = []
  train, val = {}, {}
  test_dirs = [os.path.join(root, f'test{d.upper()}') for d in DOMAINS]
  held_out = not all(os.path.isdir(t) for t in test_dirs)
  n_val = int(data_config.num_val_images)
  for d, test_dir in zip(DOMAINS, test_dirs):
    key = f'data.root/train{d.upper()}'
    paths = _good(folders.list_images(
        os.path.join(root, f'train{d.upper()}'), key), skipped)
    if held_out:
      train[d], val[d] = _holdout(paths, n_val)
    else:
      train[d] = paths
      val[d] = _good(folders.list_images(test_dir, key.replace('train',
                                                               'test')),
                     skipped)[:n_val]
    if not train[d]:
      raise ValueError(f'{key} has no readable image.')
  size = int(data_config.image_size)
  val_arrays = {d: common.to_float(np.stack([load_image(p, size)
                                             for p in val[d]]))
                for d in DOMAINS}
  stream = UnpairedStream(
      train, seed=seed, image_size=size,
      load_size=int(data_config.load_size), flip=bool(data_config.flip),
      global_batch=global_batch, start_step=start_step,
      process_index=process_index, process_count=process_count)
  return UnpairedData(
      train_iter=stream,
      num_train_images=max(len(train['a']), len(train['b'])),
      val_a=val_arrays['a'], val_b=val_arrays['b'], train_paths=train,
      held_out=held_out, skipped_files=skipped)


def write_toy_folders(root: str, n: int = 8, size: int = 40) -> str:
  """Writes (once) a tiny deterministic trainA/trainB set for smoke tests:
  A = smooth grey-brown gradients with a dark disc, B = saturated flat
  colours with two big 'eyes'. Returns root."""
  done = os.path.join(root, '.complete')
  if os.path.exists(done):
    return root
  yy, xx = np.mgrid[0:size, 0:size] / size
  for d in DOMAINS:
    folder = os.path.join(root, f'train{d.upper()}')
    os.makedirs(folder, exist_ok=True)
    for i in range(n):
      rng = np.random.default_rng([7, _DOMAIN_SALT[d], i])
      cx, cy, r = rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.65), 0.25
      disc = ((xx - cx) ** 2 + (yy - cy) ** 2) < r * r
      if d == 'a':
        base = 90 + 80 * (xx + yy)[..., None] * np.array([1.0, 0.8, 0.6])
        img = np.where(disc[..., None], base * 0.6, base)
      else:
        colour = rng.uniform(0, 255, 3)
        img = np.where(disc[..., None], colour, 255 - colour)
        for ex in (cx - 0.1, cx + 0.1):
          eye = ((xx - ex) ** 2 + (yy - cy) ** 2) < 0.004
          img = np.where(eye[..., None], 20.0, img)
      Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
          os.path.join(folder, f'{i:03d}.png'))
  with open(done, 'w', encoding='utf-8') as f:
    f.write('ok\n')
  return root
