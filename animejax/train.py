"""The run loop: `train_and_evaluate(config, workdir)` and `evaluate`.

A run has two phases, both derived from the step (never stored separately):
  init  steps [0, init_steps): content loss only ([v2] init_train), lr init_lr.
  gan   steps [init_steps, total_steps): adversarial training.

Restarting the same command resumes from the latest checkpoint in
`workdir/checkpoints` with everything that determines the future: params,
optimizer states, spectral-norm vectors, RNG and the input position (the
pipeline is rebuilt with `start_step`), so a killed-and-restarted run ends
with the same params as an uninterrupted one. SIGTERM (preemption) saves a
checkpoint at the current step and returns cleanly. A non-finite metric stops
the run with `NonFiniteLossError` before anything after it is saved.
"""

from __future__ import annotations

import logging as logging_std
import math
import os
import signal
import threading
import time
from collections.abc import Mapping
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from animejax import checkpointing
from animejax import config_lib
from animejax import evaluation
from animejax import metrics as metrics_lib


class NonFiniteLossError(FloatingPointError):
  """A loss or other training metric became NaN/inf."""


class _Preemption:
  """SIGTERM/SIGINT-once handler that only raises a flag the loop polls."""

  def __init__(self):
    self.requested = False
    self._previous = {}

  def _handle(self, signum, frame):
    del frame
    logging.warning('Received signal %d: saving a checkpoint and stopping.',
                    signum)
    self.requested = True

  def __enter__(self):
    # Signal handlers can only be installed from the main thread.
    if threading.current_thread() is threading.main_thread():
      self._previous[signal.SIGTERM] = signal.signal(signal.SIGTERM,
                                                     self._handle)
    return self

  def __exit__(self, *exc):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    return False

  def agreed(self) -> bool:
    """True if any process got the signal (all processes must stop together)."""
    if jax.process_count() == 1:
      return self.requested
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    flags = multihost_utils.process_allgather(np.array(self.requested))
    return bool(np.any(flags))


class _QuietOrbax(logging_std.Filter):
  """Drops orbax's INFO chatter (dozens of lines per save); keeps warnings."""

  def filter(self, record: logging_std.LogRecord) -> bool:
    return (record.levelno >= logging_std.WARNING or
            f'{os.sep}orbax{os.sep}' not in record.pathname)


def _quiet_orbax() -> None:
  handler = logging.get_absl_handler()
  if not any(isinstance(f, _QuietOrbax) for f in handler.filters):
    handler.addFilter(_QuietOrbax())


def _dtype(config) -> Any:
  return {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}[config.dtype]


def _models(config):
  """(generator, discriminator, vgg module, vgg params) for a config."""
  from animejax import models  # pylint: disable=g-import-not-at-top
  from animejax.models import vgg_weights  # pylint: disable=g-import-not-at-top
  dtype = _dtype(config)
  generator = models.generator_from_config(config.generator, dtype=dtype)
  discriminator = models.discriminator_from_config(config.discriminator,
                                                   dtype=dtype)
  if config.vgg.weights == 'random':
    # vgg_weights also prints a banner; this line lands beside the schedule.
    logging.warning("config.vgg.weights='random': content/style losses and "
                    'KID use an untrained VGG19 (demo/test only).')
  vgg, vgg_params = vgg_weights.vgg_from_config(config.vgg, dtype=dtype)
  return generator, discriminator, vgg, vgg_params


def learning_rates(config, schedule: config_lib.Schedule,
                   step: int) -> dict[str, float]:
  """The learning rates in effect at `step` (for logging)."""
  if step < schedule.init_steps:
    return {'lr/init': float(config.optim.init_lr)}
  scale = 1.0
  if config.optim.schedule == 'cosine' and schedule.gan_steps > 0:
    t = min(1.0, (step - schedule.init_steps) / schedule.gan_steps)
    scale = 0.5 * (1.0 + math.cos(math.pi * t))
  return {'lr/g': config.optim.g_lr * scale, 'lr/d': config.optim.d_lr * scale}


def _check_finite(step_metrics: list[tuple[int, Mapping[str, Any]]]) -> None:
  for step, m in step_metrics:
    bad = [k for k, v in m.items() if not np.all(np.isfinite(v))]
    if bad:
      losses = [k for k in bad if 'loss' in k] or bad
      raise NonFiniteLossError(
          f'Non-finite {losses[0]} at step {step} (0-based; all non-finite '
          f'metrics: {bad}). Training stopped without saving this state: '
          'the latest checkpoint is from before it. Lower the learning '
          "rates, check the data, or try config.dtype='float32'.")


def _meta(config, schedule: config_lib.Schedule, step: int) -> dict[str, Any]:
  import json  # pylint: disable=g-import-not-at-top
  return {'step': int(step), 'phase': schedule.phase(step),
          'steps_per_epoch': schedule.steps_per_epoch,
          'init_steps': schedule.init_steps,
          'total_steps': schedule.total_steps,
          'config': json.loads(config.to_json_best_effort())}


def _write_samples(writer, workdir: str, step: int, evaluator,
                   g_params, photos: np.ndarray,
                   targets: np.ndarray | None, is_main: bool) -> str | None:
  """photo | G(photo) [| ground truth] grid to TensorBoard and a PNG."""
  generated = evaluator.generate(g_params, photos)  # every process computes
  if not is_main:
    return None
  columns = [photos, generated] + ([targets] if targets is not None else [])
  grid = metrics_lib.image_grid(columns)
  path = os.path.join(workdir, 'samples', f'step_{step:08d}.png')
  metrics_lib.save_png(path, grid)
  writer.write_images(step, {'samples': grid[None]})
  return path


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str) -> dict[str, Any]:
  """Trains (or resumes) the run in `workdir`; returns the final metrics."""
  from animejax import data as data_lib  # pylint: disable=g-import-not-at-top
  from animejax import parallel  # pylint: disable=g-import-not-at-top
  from animejax.methods.animegan import steps as train_step_lib  # pylint: disable=g-import-not-at-top

  config_lib.validate(config)
  _quiet_orbax()
  workdir = os.path.abspath(workdir)
  is_main = jax.process_index() == 0
  if is_main:
    os.makedirs(workdir, exist_ok=True)
  checkpointing.write_config(workdir, config)

  mesh = parallel.create_mesh()
  generator, discriminator, vgg, vgg_params = _models(config)
  vgg_params = parallel.replicate(vgg_params, mesh)
  rng = jax.random.key(config.seed)
  state = train_step_lib.create_train_state(config, rng, generator,
                                            discriminator)
  # Replicated on every device of the mesh (the steps' in_shardings); restore
  # below takes the shardings from this state.
  state = parallel.replicate(state, mesh)

  metric_name, metric_mode = evaluation.best_metric(config)
  ckpt = checkpointing.Checkpointer(workdir, config.keep_checkpoints,
                                    metric_name, metric_mode)
  start_step = ckpt.latest_step() or 0
  if start_step:
    state, meta = ckpt.restore(start_step, state)
    logging.info('Resumed from %s at step %d (phase %s).', ckpt.directory,
                 start_step, meta.get('phase'))
  pipeline = data_lib.create_input_pipeline(config, start_step=start_step)
  if pipeline.skipped_files:
    logging.warning('%d unreadable input files skipped, e.g. %s',
                    len(pipeline.skipped_files), pipeline.skipped_files[:3])
  schedule = config_lib.derive(config, pipeline.num_train_images)
  logging.info('Schedule: %d steps/epoch, %d init steps, %d total steps.',
               schedule.steps_per_epoch, schedule.init_steps,
               schedule.total_steps)
  step_fns = train_step_lib.make_step_fns(
      config, generator, discriminator, vgg, mesh,
      total_gan_steps=schedule.gan_steps)
  evaluator = evaluation.Evaluator(generator, vgg, vgg_params, config.vgg.layer,
                                   config.batch_size)

  writer = metrics_lib.create_writer(workdir, is_main)
  if start_step == 0:
    writer.write_texts(0, {'config': '```\n' + str(config) + '\n```'})
  progress = metrics_lib.Progress(schedule.total_steps, config.batch_size,
                                  start_step, is_main)
  accumulator = metrics_lib.MeanAccumulator()
  sample_photos = pipeline.val_photos[:config.num_sample_images]
  sample_targets = (None if pipeline.val_targets is None else
                    pipeline.val_targets[:config.num_sample_images])

  def run_eval(step):
    result = evaluator(state.g_params, pipeline.val_photos,
                       pipeline.val_targets, pipeline.val_style)
    writer.write_scalars(step, result)
    if is_main:
      logging.info('eval at step %d: %s', step, ', '.join(
          f'{k}={v:.4g}' for k, v in sorted(result.items())))
    return result

  step = start_step
  pending: list[tuple[int, Any]] = []
  eval_metrics: dict[str, float] = {}
  preempted = False
  train_iter = iter(pipeline.train_iter)
  try:
    with _Preemption() as preemption:
      while step < schedule.total_steps:
        phase = schedule.phase(step)
        batch = parallel.global_batch(next(train_iter), mesh)
        fn = step_fns.init_step if phase == 'init' else step_fns.gan_step
        state, step_metrics = fn(state, batch, vgg_params)
        pending.append((step, step_metrics))  # 0-based index of this step
        step += 1
        if step in (start_step + 1, schedule.init_steps + 1):
          progress.reset_clock(step)  # don't count compilation in img/s

        last = step == schedule.total_steps
        do_log = step % config.log_every_steps == 0 or last
        do_eval = step % config.eval_every_steps == 0 or last
        do_sample = step % config.sample_every_steps == 0 or last
        do_ckpt = step % config.checkpoint_every_steps == 0 or last
        preempted = preemption.agreed()
        if not (do_log or do_eval or do_sample or do_ckpt or preempted):
          continue

        # One device->host transfer for all steps since the last check; a
        # non-finite value raises before this state can be saved.
        host = jax.device_get(pending)
        pending = []
        _check_finite(host)
        for _, m in host:
          accumulator.add({f'train/{k}': v for k, v in m.items()})
        if do_log:
          rates = progress.rates(step)
          scalars = accumulator.result()
          for k, v in learning_rates(config, schedule, step - 1).items():
            # train_step reports the optimizers' own rates; this is a fallback.
            scalars.setdefault(f'train/{k}', v)
          scalars.update({f'perf/{k}': v for k, v in rates.items()})
          writer.write_scalars(step, scalars)
          progress.log(phase, step, rates, {k[len('train/'):]: v for k, v in
                                            scalars.items()
                                            if k.startswith('train/')})
        if do_sample:
          _write_samples(writer, workdir, step, evaluator, state.g_params,
                         sample_photos, sample_targets, is_main)
        eval_metrics_now = run_eval(step) if do_eval else None
        if eval_metrics_now:
          eval_metrics = eval_metrics_now
        if do_ckpt or do_eval or preempted:
          ckpt.save(step, state, _meta(config, schedule, step),
                    eval_metrics_now)
        if do_eval or do_sample:
          progress.reset_clock(step)  # evaluation time is not training time
        if preempted:
          logging.warning('Preempted: checkpoint at step %d saved; exiting.',
                          step)
          break
        writer.flush()
  finally:
    ckpt.close()  # waits for the async save in flight (keeps it complete)
    writer.flush()
    writer.close()
  result = {'step': step, 'total_steps': schedule.total_steps,
            'preempted': preempted, **eval_metrics}
  return result


def evaluate(config: ml_collections.ConfigDict, workdir: str,
             which: str = 'latest') -> dict[str, float]:
  """Evaluates the latest (or best) checkpoint of `workdir` on the val set."""
  from animejax import data as data_lib  # pylint: disable=g-import-not-at-top
  config_lib.validate(config)
  workdir = os.path.abspath(workdir)
  weights = checkpointing.load_generator_weights(workdir, which)
  generator, _, vgg, vgg_params = _models(config)
  pipeline = data_lib.create_input_pipeline(config, start_step=0)
  evaluator = evaluation.Evaluator(generator, vgg, vgg_params, config.vgg.layer,
                                   config.batch_size)
  params = jax.tree.map(jnp.asarray, weights.params)
  start = time.perf_counter()
  result = evaluator(params, pipeline.val_photos, pipeline.val_targets,
                     pipeline.val_style)
  step = int(weights.meta['step'])
  is_main = jax.process_index() == 0
  writer = metrics_lib.create_writer(workdir, is_main)
  writer.write_scalars(step, result)
  writer.close()
  if is_main:
    logging.info('eval of %s checkpoint (step %d) in %.1fs: %s', which, step,
                 time.perf_counter() - start, ', '.join(
                     f'{k}={v:.4g}' for k, v in sorted(result.items())))
  return {'step': step, **result}
