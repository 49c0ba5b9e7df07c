"""Small helpers shared by every data source (numpy; TensorFlow is imported
only inside the TFDS manual_dir helpers)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
import os

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


# ------------------------------------------------- TFDS manual_dir builders
# TFDS's manual_dir with the default data_dir (tfds dataset_builder.py:
# DownloadConfig.manual_dir or <data_dir>/downloads/manual).
DEFAULT_MANUAL_DIR = os.path.join('~', 'tensorflow_datasets', 'downloads',
                                  'manual')


class ManualDataMissingError(FileNotFoundError):
  """A data set's archive (or extracted folder) is not in the manual_dir."""


def manual_dir_of(dl_manager) -> tuple[str | None, str]:
  """(the usable manual_dir or None, the path looked in, for messages).

  tfds DownloadManager.manual_dir raises AssertionError when the folder is
  missing or empty; its `_manual_dir` still names the folder it checked.
  `dl_manager` None: (None, DEFAULT_MANUAL_DIR).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  looked_in = getattr(dl_manager, '_manual_dir', None)
  try:
    manual = (os.fspath(dl_manager.manual_dir) if dl_manager is not None
              else None)
  except AssertionError:  # no manual_dir, or it is missing or empty
    manual = None
  if manual:
    looked_in = manual
    if not tf.io.gfile.isdir(manual):
      manual = None
  return manual, os.fspath(looked_in) if looked_in else DEFAULT_MANUAL_DIR


def missing_message(dataset: str, files: Sequence[str], source: str,
                    manual_dir: str | None, detail: str = '') -> str:
  """What is missing (dataset, file names), where to get it (source) and
  where to put it (the manual_dir looked in, and how to point elsewhere)."""
  names = ' or '.join(files)
  where = manual_dir or DEFAULT_MANUAL_DIR
  detail = f' ({detail})' if detail else ''
  return (f'{dataset}: {names} not found in {where!r}{detail}. Download '
          f'{names} from {source} and put it, or the folder it extracts to, '
          'in that manual_dir, or choose another one with '
          'config.data.manual_dir / tfds.download.DownloadConfig('
          'manual_dir=...) (TFDS default: <data_dir>/downloads/manual).')


def find_manual_data(dl_manager, find: Callable[[str], str], *,
                     dataset: str, files: Sequence[str], source: str,
                     suffix: str = '', archive_first: bool = False,
                     required: bool = True) -> str | None:
  """The data folder a TFDS builder reads, from its manual_dir.

  Looks for an archive in the manual_dir (the first of `files` there, else,
  with `suffix`, the first other file ending in it; extracted with
  dl_manager.extract) and for the folder it extracts to (`find(manual_dir)`).

  Args:
    dl_manager: the builder's tfds DownloadManager.
    find: path -> the data folder at or under it; raises FileNotFoundError
      when the path does not hold the layout.
    dataset: the name in the error message.
    files: the official archive name(s), preferred in this order.
    source: where to get them (URL or homepage, with any hint).
    suffix: e.g. '.zip': other archives with this ending are used too (as
      dl_manager.extract, case-sensitive: not '.ZIP'); '' only `files`.
    archive_first: try the archive before the folder (for a `find` that a
      stray image in the manual_dir would satisfy).
    required: raise when nothing is found; else return None (the builder
      downloads instead).

  Raises:
    ManualDataMissingError naming dataset, files, source and the manual_dir.
    A `find` error when an archive is found but does not hold the layout.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  manual, looked_in = manual_dir_of(dl_manager)
  detail, cause = 'the folder is missing or empty', None
  if manual:
    names = tf.io.gfile.listdir(manual)
    archives = ([f for f in files if f in names] or
                sorted(f for f in names if suffix and f.endswith(suffix)))

    def extracted() -> str:
      return find(os.fspath(dl_manager.extract(
          os.path.join(manual, archives[0]))))

    if archives and archive_first:
      return extracted()
    try:
      return find(manual)
    except FileNotFoundError as e:
      if archives:
        return extracted()
      detail, cause = 'nor the folder it extracts to', e
  if not required:
    return None
  raise ManualDataMissingError(
      missing_message(dataset, files, source, looked_in, detail)) from cause
