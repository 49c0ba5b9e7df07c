"""Input data: procedural scenes, image folders, the AnimeGAN TFDS dataset.

`create_input_pipeline(config)` is the one entry point used by training and
evaluation. Every source yields per-process batches

  {'photo', 'anime', 'anime_gray', 'smooth_gray'}: float32 [B, S, S, 3] in
  [-1, 1] (gray images replicated to 3 channels, as [v2] feeds them)

with B = config.batch_size // process_count and S = config.data.image_size.
The stream is a pure function of (config, step): `start_step=k` yields the
batches k, k+1, ... of an uninterrupted run, so a resumed run sees the same
data as one that never stopped.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator

import numpy as np

from animejax.data import common

SOURCES = ('procedural', 'folders', 'tfds')


@dataclasses.dataclass
class InputPipeline:
  """What the run loop needs from a data source.

  Attributes:
    num_train_images: images per epoch (procedural: procedural_epoch_size;
      real sources: max(#photos, #style images) as [v2] dataset_num).
    train_iter: infinite iterator of per-process numpy batches.
    val_photos: [N, S, S, 3] float32 in [-1, 1].
    val_targets: ground-truth anime renderings of val_photos (procedural) or
      None (real data has no pairs).
    val_style: style images for KID, or None.
    skipped_files: unreadable files that were left out (real sources).
  """
  num_train_images: int
  train_iter: Iterator[dict[str, np.ndarray]]
  val_photos: np.ndarray
  val_targets: np.ndarray | None = None
  val_style: np.ndarray | None = None
  skipped_files: list[str] = dataclasses.field(default_factory=list)
  info: dict[str, Any] = dataclasses.field(default_factory=dict)


def create_input_pipeline(config, *, start_step: int = 0,
                          process_index: int | None = None,
                          process_count: int | None = None) -> InputPipeline:
  """Builds the input pipeline that `config.data.source` names.

  Args:
    config: the full config (uses config.seed, config.batch_size, config.data).
    start_step: first training step to produce (resume).
    process_index: this process (default jax.process_index()).
    process_count: number of processes (default jax.process_count()).

  Returns:
    An InputPipeline; see its docstring.
  """
  source = config.data.source
  if source not in SOURCES:
    raise ValueError(f'config.data.source={source!r} is not one of {SOURCES}.')
  if start_step < 0:
    raise ValueError(f'start_step must be >= 0, got {start_step}.')
  process_index, process_count = common.resolve_process(process_index,
                                                        process_count)
  if source == 'procedural':
    # pylint: disable=g-import-not-at-top
    from animejax.data import procedural_source
    size = config.data.image_size
    stream = procedural_source.ProceduralStream(
        seed=config.seed, size=size,
        epoch_size=config.data.procedural_epoch_size,
        global_batch=config.batch_size, start_step=start_step,
        process_index=process_index, process_count=process_count,
        flip=bool(config.data.flip), prefetch=max(config.data.prefetch, 1))
    photos, targets, style = procedural_source.val_arrays(
        config.seed, size, config.data.num_val_images)
    return InputPipeline(config.data.procedural_epoch_size, stream, photos,
                         targets, style)
  from animejax.data import pipeline  # pylint: disable=g-import-not-at-top
  return pipeline.create_real_pipeline(config, start_step=start_step,
                                       process_index=process_index,
                                       process_count=process_count)
