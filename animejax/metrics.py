"""What a run reports: one TensorBoard writer, sample grids, console progress.

Only process 0 writes (TensorBoard events, PNG grids, log lines); the other
processes get a writer that drops everything, so callers need no `if`s.
"""

from __future__ import annotations

import collections
import datetime
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from absl import logging
import numpy as np
from PIL import Image


def create_writer(workdir: str, is_main: bool):
  """A clu metric writer into `workdir` (TensorBoard events) on process 0.

  We use clu's SummaryWriter alone (not create_default_writer, which also logs
  every scalar): the console gets one progress line per log step instead.
  """
  from clu import metric_writers  # pylint: disable=g-import-not-at-top
  if not is_main:
    return metric_writers.MultiWriter([])
  writer = metric_writers.SummaryWriter(os.fspath(workdir))
  return metric_writers.AsyncWriter(writer)


def to_uint8(images: np.ndarray) -> np.ndarray:
  """[-1, 1] floats -> uint8 [0, 255] (rounded, clipped)."""
  images = np.asarray(images, np.float32)
  return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def image_grid(columns: Sequence[np.ndarray], pad: int = 2,
               pad_value: int = 255) -> np.ndarray:
  """Lays out image columns side by side: row i = (col0[i] | col1[i] | ...).

  Args:
    columns: each [N, H, W, 3] in [-1, 1] (e.g. photo, generated, target).
    pad: pixels of `pad_value` between and around images.
    pad_value: uint8 value of the padding.

  Returns:
    uint8 [N * (H + pad) + pad, C * (W + pad) + pad, 3].
  """
  columns = [to_uint8(c) for c in columns]
  n, h, w, ch = columns[0].shape
  for c in columns:
    if c.shape != (n, h, w, ch):
      raise ValueError(f'grid columns differ in shape: {c.shape} vs '
                       f'{(n, h, w, ch)}')
  grid = np.full((n * (h + pad) + pad, len(columns) * (w + pad) + pad, ch),
                 pad_value, np.uint8)
  for j, col in enumerate(columns):
    for i in range(n):
      y, x = pad + i * (h + pad), pad + j * (w + pad)
      grid[y:y + h, x:x + w] = col[i]
  return grid


def save_png(path: str, image: np.ndarray) -> None:
  """Writes a uint8 RGB image atomically (temp file + rename)."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f'{path}.tmp{os.getpid()}.png'
  Image.fromarray(image).save(tmp)
  os.replace(tmp, path)


class MeanAccumulator:
  """Averages per-step scalar metrics between two log steps (host floats)."""

  def __init__(self):
    self._sums: dict[str, float] = collections.defaultdict(float)
    self._counts: dict[str, int] = collections.defaultdict(int)

  def add(self, metrics: Mapping[str, Any]) -> None:
    for k, v in metrics.items():
      self._sums[k] += float(v)
      self._counts[k] += 1

  def result(self) -> dict[str, float]:
    out = {k: self._sums[k] / self._counts[k] for k in self._sums}
    self._sums.clear()
    self._counts.clear()
    return out


def _format_duration(seconds: float) -> str:
  if not np.isfinite(seconds):
    return '?'
  return str(datetime.timedelta(seconds=int(seconds)))


class Progress:
  """Throughput, ETA and one console line per log step."""

  def __init__(self, total_steps: int, batch_size: int, start_step: int,
               is_main: bool, num_losses: int = 6):
    self.total_steps = total_steps
    self.batch_size = batch_size
    self.is_main = is_main
    self.num_losses = num_losses
    self._last_step = start_step
    self._last_time = time.perf_counter()

  def reset_clock(self, step: int) -> None:
    """Restarts the rate window (e.g. after compilation or evaluation)."""
    self._last_step = step
    self._last_time = time.perf_counter()

  def rates(self, step: int) -> dict[str, float]:
    """steps/s and images/s since the last call; restarts the window."""
    now = time.perf_counter()
    dt = max(now - self._last_time, 1e-9)
    steps = step - self._last_step
    self._last_step, self._last_time = step, now
    return {'steps_per_sec': steps / dt,
            'images_per_sec': steps * self.batch_size / dt}

  def line(self, phase: str, step: int, rates: Mapping[str, float],
           losses: Mapping[str, float]) -> str:
    rate = rates['steps_per_sec']
    eta = (self.total_steps - step) / rate if rate > 0 else float('inf')
    shown = [(k, v) for k, v in losses.items() if 'loss' in k]
    shown = shown[:self.num_losses] or list(losses.items())[:self.num_losses]
    loss_text = ' '.join(f'{k}={v:.4g}' for k, v in shown)
    return (f'[{phase}] step {step}/{self.total_steps} '
            f'({100.0 * step / max(self.total_steps, 1):.1f}%) | '
            f'{rates["images_per_sec"]:.1f} img/s | ETA '
            f'{_format_duration(eta)} | {loss_text}')

  def log(self, phase: str, step: int, rates: Mapping[str, float],
          losses: Mapping[str, float]) -> None:
    if self.is_main:
      logging.info('%s', self.line(phase, step, rates, losses))
