"""Image folders: listing, robust decoding, verification, smooth-image lookup.

Used by the 'folders' source (config.data.photo_dir / style_dir / smooth_dir /
val_dir) and by the TFDS builder (which reads the official archive's folders).
Every image is decoded with PIL into 8-bit RGB whatever its mode (grayscale,
palette, RGBA/LA composited on white, CMYK, 16-bit). Unreadable files are not
fatal: `verify` returns them so the pipeline can skip them and name them in one
warning.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
from typing import Sequence

import numpy as np
from PIL import Image
from PIL import ImageFile

# [v2] data_loader accepts jpg/jpeg/png/gif; we add webp/bmp and ignore case.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.webp', '.bmp', '.gif')

# Truncated files must fail loudly, not decode half-grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False


def list_images(folder: str, key: str = 'folder') -> list[str]:
  """Sorted image paths under `folder` (recursive, case-insensitive ext).

  Args:
    folder: directory to search.
    key: the config key that named it, for the error message.

  Raises:
    FileNotFoundError / ValueError naming the folder when it is missing or
    holds no images.
  """
  if not folder:
    raise ValueError(f'config.{key} is empty; set it to a folder of images.')
  if not os.path.isdir(folder):
    raise FileNotFoundError(f'config.{key}={folder!r} is not a directory.')
  paths = []
  for root, dirs, files in os.walk(folder, followlinks=True):
    dirs.sort()
    for name in files:
      if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith('.'):
        paths.append(os.path.join(root, name))
  if not paths:
    raise ValueError(
        f'config.{key}={folder!r} holds no images (looked recursively for '
        f'{", ".join(IMAGE_EXTENSIONS)}, any case).')
  return sorted(paths)


def to_rgb_u8(img: Image.Image) -> np.ndarray:
  """Any PIL image -> [H, W, 3] uint8 RGB (alpha composited on white)."""
  img.load()
  mode = img.mode
  if mode in ('I;16', 'I;16L', 'I;16B', 'I;16N', 'I'):
    a = np.asarray(img).astype(np.float64)
    # 16-bit data: map 0..65535 to 0..255 (mode 'I' may hold either range).
    a = a / 257.0 if (mode != 'I' or a.max() > 255) else a
    g = np.clip(np.round(a), 0, 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=-1)
  if mode == 'F':
    g = np.clip(np.round(np.asarray(img)), 0, 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=-1)
  if mode == 'P':
    img = img.convert('RGBA' if 'transparency' in img.info else 'RGB')
  elif mode in ('PA', 'La'):
    img = img.convert('RGBA')
  if img.mode in ('RGBA', 'LA', 'RGBa'):
    rgba = img.convert('RGBA')
    white = Image.new('RGBA', rgba.size, (255, 255, 255, 255))
    img = Image.alpha_composite(white, rgba)
  return np.asarray(img.convert('RGB'), dtype=np.uint8)


def decode(data: bytes, draft_size: int = 0) -> np.ndarray:
  """Encoded image bytes -> [H, W, 3] uint8 RGB.

  Args:
    data: file contents.
    draft_size: > 0 lets JPEG decoding shrink by 2/4/8 while keeping the
      shorter side >= draft_size (much faster for large photos).
  """
  img = Image.open(io.BytesIO(data))
  if draft_size and img.format == 'JPEG':
    w, h = img.size
    k = draft_size / min(w, h)
    if k < 1:
      img.draft('RGB', (int(np.ceil(w * k)), int(np.ceil(h * k))))
  return to_rgb_u8(img)


def read_file(item: str | bytes) -> bytes:
  """Contents of a path; encoded bytes (TFDS records) pass through."""
  if isinstance(item, bytes):
    return item
  with open(item, 'rb') as f:
    return f.read()


def _check(item, want_mean: bool) -> tuple[bool, np.ndarray | None]:
  try:
    rgb = decode(read_file(item), draft_size=0 if want_mean else 64)
    if rgb.shape[0] < 2 or rgb.shape[1] < 2:
      return False, None
    mean = rgb.reshape(-1, 3).mean(axis=0) if want_mean else None
    return True, mean
  except Exception:  # pylint: disable=broad-except
    # Any decoder error (truncated, corrupt, unsupported) means "skip it".
    return False, None


def verify(items: Sequence[str | bytes], want_means: bool = False,
           num_threads: int = 4) -> tuple[list[int], list[int], np.ndarray]:
  """Decodes every item (path or encoded bytes) once.

  Args:
    items: files (or encoded images) to check.
    want_means: also return the per-image RGB channel means of the good ones
      (for the [v2] data_mean colour adjustment).
    num_threads: decoding threads (PIL releases the GIL while decoding).

  Returns:
    (indices of good items, indices of unreadable items, [len(good), 3]
    float64 channel means or an empty array).
  """
  with concurrent.futures.ThreadPoolExecutor(num_threads) as pool:
    results = list(pool.map(lambda p: _check(p, want_means), items))
  good = [i for i, (ok, _) in enumerate(results) if ok]
  bad = [i for i, (ok, _) in enumerate(results) if not ok]
  means = np.array([m for ok, m in results if ok] if want_means else [],
                   np.float64).reshape(-1, 3)
  return good, bad, means


def style_mean_adjust(means: np.ndarray) -> np.ndarray:
  """RGB offsets (0..255 scale) of [v2] tools/data_mean.py.

  [v2] data_mean.py averages each channel over the style set (mean over
  images of per-image channel means), takes the grey mean of the three, and
  returns mean - channel_mean per channel; AnimeGANv2's loader (the version
  its README trains with, `--data_mean [13.1360,-8.6698,-4.4661]` (BGR) for
  Hayao) adds these offsets to the colour style image before scaling to
  [-1, 1], without clipping, so the style set's average colour becomes grey.
  """
  if len(means) == 0:
    return np.zeros(3, np.float32)
  channel = means.mean(axis=0)
  return (channel.mean() - channel).astype(np.float32)


def match_smooth(style_paths: Sequence[str], style_dir: str,
                 smooth_dir: str) -> list[str]:
  """Smooth image for each style image ('' where smooth_dir has none).

  A style image `style_dir/a/b.jpg` matches `smooth_dir/a/b.<any ext>`, then
  `smooth_dir/b.<any ext>` ([v2] keeps the same file names in style/ and
  smooth/).
  """
  if not smooth_dir:
    return [''] * len(style_paths)
  by_rel, by_name = {}, {}
  for p in list_images(smooth_dir, 'data.smooth_dir'):
    rel = os.path.splitext(os.path.relpath(p, smooth_dir))[0].lower()
    by_rel.setdefault(rel, p)
    by_name.setdefault(os.path.basename(rel), p)
  out = []
  for p in style_paths:
    rel = os.path.splitext(os.path.relpath(p, style_dir))[0].lower()
    out.append(by_rel.get(rel) or by_name.get(os.path.basename(rel), ''))
  return out
