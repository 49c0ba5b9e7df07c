"""Small helpers shared by every data source (numpy only, no TensorFlow)."""

from __future__ import annotations

import cv2
import numpy as np

BATCH_KEYS = ('photo', 'anime', 'anime_gray', 'smooth_gray')


def to_float(img_u8: np.ndarray) -> np.ndarray:
  """uint8 [..., 3] -> float32 in [-1, 1] ([v2] data_loader: x / 127.5 - 1)."""
  return img_u8.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def gray3(rgb_u8: np.ndarray) -> np.ndarray:
  """Grayscale replicated to 3 channels, as [v2] feeds anime_gray/smooth.

  [v2] tools/data_loader.py reads style and smooth images with
  cv2.imread(path, IMREAD_GRAYSCALE) and stacks the result 3 times; from
  decoded RGB the same ITU-R 601 weights are cv2's RGB2GRAY.
  """
  g = cv2.cvtColor(np.ascontiguousarray(rgb_u8), cv2.COLOR_RGB2GRAY)
  return np.repeat(g[..., None], 3, axis=-1)


def local_batch_size(global_batch: int, process_count: int) -> int:
  """Per-process batch; the global batch must split evenly over processes."""
  if process_count < 1 or global_batch % process_count:
    raise ValueError(
        f'config.batch_size={global_batch} is not divisible by the number of '
        f'processes ({process_count}); pick a multiple of {process_count}.')
  return global_batch // process_count


def resolve_process(process_index: int | None,
                    process_count: int | None) -> tuple[int, int]:
  """(index, count) given explicitly or from jax.process_index/count()."""
  if process_index is None or process_count is None:
    import jax  # pylint: disable=g-import-not-at-top
    process_index = jax.process_index() if process_index is None else process_index
    process_count = jax.process_count() if process_count is None else process_count
  if not 0 <= process_index < process_count:
    raise ValueError(f'process_index={process_index} is outside '
                     f'[0, process_count={process_count}).')
  return int(process_index), int(process_count)
