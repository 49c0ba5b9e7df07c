"""Paired LR/HR super-resolution data, made on the fly from HR images.

Sources (`config.data.source`):
  'folder'  any folder of HR images (`config.data.hr_dir`, recursive; e.g.
            ../shared/data/sr/anime_hr). The sorted list's last
            `num_val_images` files are held out for validation unless
            `config.data.val_dir` names a separate folder.
  'tfds'    the TFDS `div2k/bicubic_x4` builder (Agustsson & Timofte 2017:
            800 train / 100 validation 2K images with MATLAB-bicubic x4 LR
            images). Its archives are downloaded by TFDS; offline, the
            error names them and the 'folder' route for the unzipped HR
            folders.

Training pairs ([port] Lornatang/SRGAN-PyTorch `dataset.py`
TrainValidImageDataset: random HR crop, random flips, LR = MATLAB bicubic
`imresize(hr, 1/4)`; the SR benchmarks make their LR images the same way):
  - an HR crop of `hr_crop` px at a random position of the image,
  - random horizontal and vertical flips (probability 1/2 each),
  - LR = `image_quality.imresize_bicubic(hr, 1/scale)` (Keys a = -0.5,
    antialiased: kernel widened by `scale`), rounded to 8 bits as saved LR
    PNGs are. For 'tfds' the LR crop is cut from DIV2K's own LR image at
    the matching position instead.
Batches are {'lr': [B, h, w, 3], 'hr': [B, h*s, w*s, 3]}, float32 in [0, 1].

Determinism: batch k is a pure function of (seed, k, process): the image of
stream position j = k * batch + i is `permutation(seed, epoch)[j % n]` and
the crop/flips are drawn from `np.random.default_rng((seed, k, i))`, so a
stream started at `start_step=k` yields exactly batch k first. Unreadable
files (and images smaller than the crop) are skipped and counted.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any, Iterator, Sequence

import numpy as np

from animejax import image_quality
from animejax.data import common
from animejax.data import folders

SOURCES = ('folder', 'tfds')
TFDS_NAME = 'div2k/bicubic_x4'
# The archives TFDS's div2k builder downloads for 'bicubic_x4'.
DIV2K_URL = 'https://data.vision.ee.ethz.ch/cvl/DIV2K/'
DIV2K_FILES = ('DIV2K_train_HR.zip', 'DIV2K_valid_HR.zip',
               'DIV2K_train_LR_bicubic_X4.zip', 'DIV2K_valid_LR_bicubic_X4.zip')


def downscale(hr_u8: np.ndarray, scale: int) -> np.ndarray:
  """uint8 HR [..., H, W, 3] -> uint8 LR: MATLAB bicubic 1/scale
  (antialiased), rounded and clipped as imwrite does."""
  lr = image_quality.imresize_bicubic(hr_u8.astype(np.float64), 1.0 / scale)
  return np.clip(np.round(lr), 0, 255).astype(np.uint8)


def random_pair(hr_u8: np.ndarray, rng: np.random.Generator, hr_crop: int,
                scale: int, lr_u8: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
  """(LR, HR) uint8 crops: random position, random h/v flips.

  With `lr_u8` (a given LR image, e.g. DIV2K's) the LR crop is cut from it
  at the position matching the HR crop; otherwise it is `downscale`d.
  """
  lr_crop = hr_crop // scale
  if lr_u8 is not None:
    h, w = lr_u8.shape[:2]
    y = int(rng.integers(0, h - lr_crop + 1))
    x = int(rng.integers(0, w - lr_crop + 1))
    lr = lr_u8[y:y + lr_crop, x:x + lr_crop]
    hr = hr_u8[y * scale:(y + lr_crop) * scale, x * scale:(x + lr_crop) * scale]
  else:
    h, w = hr_u8.shape[:2]
    y = int(rng.integers(0, h - hr_crop + 1))
    x = int(rng.integers(0, w - hr_crop + 1))
    hr = hr_u8[y:y + hr_crop, x:x + hr_crop]
    lr = None
  flip_h, flip_v = rng.random(2) < 0.5
  if flip_h:
    hr = hr[:, ::-1]
    lr = None if lr is None else lr[:, ::-1]
  if flip_v:
    hr = hr[::-1]
    lr = None if lr is None else lr[::-1]
  hr = np.ascontiguousarray(hr)
  lr = downscale(hr, scale) if lr is None else np.ascontiguousarray(lr)
  return lr, hr


def center_pair(hr_u8: np.ndarray, crop: int, scale: int
                ) -> tuple[np.ndarray, np.ndarray]:
  """(LR, HR) uint8 of the central `crop` px (0: the whole image cut to a
  multiple of `scale`), LR by `downscale`."""
  h, w = hr_u8.shape[:2]
  ch, cw = (crop, crop) if crop else (h - h % scale, w - w % scale)
  y, x = (h - ch) // 2, (w - cw) // 2
  hr = np.ascontiguousarray(hr_u8[y:y + ch, x:x + cw])
  return downscale(hr, scale), hr


@dataclasses.dataclass
class SRVal:
  """Held-out pairs, float32 [0, 1]: lr [N, h, w, 3], hr [N, H, W, 3],
  bicubic = MATLAB-bicubic up-sampled lr (the SR tables' baseline)."""
  lr: np.ndarray
  hr: np.ndarray
  bicubic: np.ndarray
  names: list[str]


class _Images:
  """Indexable decoded HR images (paths or encoded bytes), LRU-cached."""

  def __init__(self, items: Sequence[str | bytes], cache: int = 256):
    self.items = list(items)
    self._get = functools.lru_cache(maxsize=cache)(self._decode)

  def _decode(self, i: int) -> np.ndarray:
    return folders.decode(folders.read_file(self.items[i]))

  def __len__(self) -> int:
    return len(self.items)

  def __getitem__(self, i: int) -> np.ndarray:
    return self._get(int(i))


def _usable(items: Sequence[str | bytes], min_side: int
            ) -> tuple[list[int], list[int]]:
  """(good, skipped) indices: decodable and at least min_side x min_side."""
  good, bad, _ = folders.verify(items)
  keep, small = [], []
  for i in good:
    img = folders.decode(folders.read_file(items[i]))
    (keep if min(img.shape[:2]) >= min_side else small).append(i)
  return keep, sorted(bad + small)


def train_stream(images: Any, batch_size: int, hr_crop: int, scale: int,
                 seed: int, start_step: int = 0, process_index: int = 0,
                 process_count: int = 1, lr_images: Any = None
                 ) -> Iterator[dict[str, np.ndarray]]:
  """Infinite batches {'lr', 'hr'} (float32 [0, 1]) from step start_step.

  batch_size is this process's; the stream position of its i-th example at
  step k is (k * process_count + process_index) * batch_size + i, so the
  processes together see one global permutation per epoch.
  """
  n = len(images)
  perms: dict[int, np.ndarray] = {}

  def image_index(j: int) -> int:
    epoch = j // n
    if epoch not in perms:
      perms.clear()
      perms[epoch] = np.random.default_rng((seed, epoch)).permutation(n)
    return int(perms[epoch][j % n])

  step = start_step
  while True:
    lrs, hrs = [], []
    for i in range(batch_size):
      k = image_index(
          (step * process_count + process_index) * batch_size + i)
      rng = np.random.default_rng((seed, step, process_index, i))
      lr, hr = random_pair(images[k], rng, hr_crop, scale,
                           None if lr_images is None else lr_images[k])
      lrs.append(lr)
      hrs.append(hr)
    yield {'lr': np.stack(lrs).astype(np.float32) / np.float32(255.0),
           'hr': np.stack(hrs).astype(np.float32) / np.float32(255.0)}
    step += 1


def _val_pairs(images: Any, names: Sequence[str], crop: int, scale: int
               ) -> SRVal:
  lrs, hrs = [], []
  for k in range(len(images)):
    lr, hr = center_pair(images[k], crop, scale)
    lrs.append(lr)
    hrs.append(hr)
  lr = np.stack(lrs).astype(np.float32) / np.float32(255.0)
  hr = np.stack(hrs).astype(np.float32) / np.float32(255.0)
  bicubic = image_quality.bicubic_baseline(lr, scale).astype(np.float32)
  return SRVal(lr=lr, hr=hr, bicubic=bicubic, names=list(names))


@dataclasses.dataclass
class SRData:
  """What `create` returns: the train stream, val pairs and counts."""
  num_train_images: int
  train_iter: Iterator[dict[str, np.ndarray]]
  val: SRVal
  skipped_files: list[str]


def _folder_data(d: Any, local_batch: int, seed: int, start_step: int,
                 process_index: int, process_count: int) -> SRData:
  paths = folders.list_images(d.hr_dir, 'data.hr_dir')
  if d.val_dir:
    train_paths = paths
    val_paths = folders.list_images(d.val_dir, 'data.val_dir')
  else:
    if len(paths) <= d.num_val_images:
      raise ValueError(f'config.data.hr_dir={d.hr_dir!r} holds {len(paths)} '
                       f'images; holding out num_val_images='
                       f'{d.num_val_images} leaves none to train on.')
    cut = len(paths) - d.num_val_images
    train_paths, val_paths = paths[:cut], paths[cut:]
  good, bad = _usable(train_paths, d.hr_crop)
  if not good:
    raise ValueError(f'no usable image in config.data.hr_dir={d.hr_dir!r} '
                     f'(all {len(bad)} unreadable or smaller than hr_crop='
                     f'{d.hr_crop}).')
  v_good, v_bad = _usable(val_paths, max(d.val_crop, d.scale))
  skipped = [train_paths[i] for i in bad] + [val_paths[i] for i in v_bad]
  train = _Images([train_paths[i] for i in good])
  val_images = _Images([val_paths[i] for i in v_good][:d.num_val_images])
  val = _val_pairs(val_images, [os.path.basename(p) for p in
                                val_images.items], d.val_crop, d.scale)
  stream = train_stream(train, local_batch, d.hr_crop, d.scale, seed,
                        start_step, process_index, process_count)
  return SRData(len(train), stream, val, skipped)


def _tfds_split(d: Any, split: str) -> tuple[list[bytes], list[bytes]]:
  """Encoded (HR, LR) PNGs of one split of div2k/bicubic_x4."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  try:
    builder = tfds.builder(TFDS_NAME, data_dir=d.tfds_data_dir or None)
    builder.download_and_prepare()
  except Exception as e:  # pylint: disable=broad-except
    raise RuntimeError(
        f'TFDS {TFDS_NAME!r} could not be prepared ({type(e).__name__}: '
        f'{e}). TFDS downloads {", ".join(DIV2K_FILES)} from {DIV2K_URL} '
        'into its data_dir (config.data.tfds_data_dir). Offline: fetch '
        'DIV2K_train_HR.zip and DIV2K_valid_HR.zip on a connected machine, '
        "unzip them here and train with config.data.source='folder', "
        'data.hr_dir=.../DIV2K_train_HR, data.val_dir=.../DIV2K_valid_HR '
        '(LR images are then made by the same MATLAB bicubic x4).') from e
  ds = builder.as_dataset(split=split, decoders={
      'hr': tfds.decode.SkipDecoding(), 'lr': tfds.decode.SkipDecoding()})
  hr, lr = [], []
  for ex in tfds.as_numpy(ds):
    hr.append(bytes(ex['hr']))
    lr.append(bytes(ex['lr']))
  return hr, lr


def _tfds_data(d: Any, local_batch: int, seed: int, start_step: int,
               process_index: int, process_count: int) -> SRData:
  if d.scale != 4:
    raise ValueError(f"data.source='tfds' reads {TFDS_NAME} (x4); "
                     f'data.scale={d.scale}.')
  hr, lr = _tfds_split(d, 'train')
  v_hr, _ = _tfds_split(d, 'validation')
  v_hr = v_hr[:d.num_val_images]
  train = _Images(hr, cache=32)
  val_images = _Images(v_hr, cache=1)
  val = _val_pairs(val_images, [f'div2k_valid_{i:04d}' for i in
                                range(len(v_hr))], d.val_crop, d.scale)
  stream = train_stream(train, local_batch, d.hr_crop, d.scale, seed,
                        start_step, process_index, process_count,
                        lr_images=_Images(lr, cache=32))
  return SRData(len(hr), stream, val, [])


def create(config: Any, start_step: int = 0, process_index: int | None = None,
           process_count: int | None = None) -> SRData:
  """The SR data of `config` (config.data keys: see configs/srresnet_x4.py)."""
  d = config.data
  if d.source not in SOURCES:
    raise ValueError(f'config.data.source={d.source!r}; expected one of '
                     f'{SOURCES}.')
  index, count = common.resolve_process(process_index, process_count)
  local = common.local_batch_size(config.batch_size, count)
  fn = _folder_data if d.source == 'folder' else _tfds_data
  return fn(d, local, config.seed, start_step, index, count)
