"""The run loop: `train_and_evaluate(config, workdir)` and `evaluate`.

The loop owns what every method shares and nothing else: the method named by
`config.method` (`animejax.methods`), the mesh and shardings, jit with the
state donated and the step kind static, the per-step RNG (the run's key
folded in by the step number), orbax checkpoints with exact resume, SIGTERM
saves, the NaN guard, TensorBoard, progress and the eval/sample/checkpoint
cadence. Which kind of step runs when, what a state holds and what is
evaluated belong to the method (`animejax.methods.base.Method`).

Restarting the same command resumes from the latest checkpoint in
`workdir/checkpoints` with everything that determines the future: the
method's whole state, and the input position (the pipeline is rebuilt with
`start_step`); the RNG is a function of the step. So a killed-and-restarted
run ends with the same state as an uninterrupted one. SIGTERM (preemption)
saves a checkpoint at the current step and returns cleanly. A non-finite
metric stops the run with `NonFiniteLossError` before anything after it is
saved.
"""

from __future__ import annotations

import json
import logging as logging_std
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
from animejax import metrics as metrics_lib
from animejax import methods
from animejax import parallel

# fold_in constant separating the steps' keys from the init key.
_STEP_KEY_SALT = 1


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


def _meta(config, method, step: int, kind: str,
          total_steps: int) -> dict[str, Any]:
  return {'step': int(step), 'kind': kind, 'total_steps': int(total_steps),
          'method': config.method, 'state_version': method.state_version,
          **method.checkpoint_meta(step),
          'config': json.loads(config.to_json_best_effort())}


def _abstract_state(method, rng: jax.Array, mesh) -> Any:
  """Shapes, dtypes and (replicated) shardings of the method's state."""
  sharding = parallel.replicated_sharding(mesh)
  shapes = jax.eval_shape(method.init, rng)
  return jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
      shapes)


def _restore(ckpt, step: int, method, rng, mesh) -> tuple[Any, dict]:
  """The state saved at `step`, after checking it is this method's layout."""
  meta = ckpt.meta(step)
  # Checkpoints from before the method interface name no method: they
  # are refused too (their state held a PRNG key the loop now owns).
  saved = (meta.get('method'), int(meta.get('state_version', 1)))
  if saved != (method.name, method.state_version):
    raise checkpointing.IncompatibleCheckpointError(
        f'{ckpt.directory}/{step} holds a {saved[0]!r} state of version '
        f'{saved[1]}; this run needs {method.name!r} version '
        f'{method.state_version}. Train in a new --workdir (a generator '
        'still exports with `animejax.cartoonize --weights WORKDIR`).')
  state, meta = ckpt.restore(step, _abstract_state(method, rng, mesh))
  return state, meta


def _write_samples(writer, workdir: str, step: int, grid: np.ndarray | None,
                   is_main: bool) -> str | None:
  """The method's sample grid to TensorBoard and samples/step_N.png."""
  if grid is None or not is_main:
    return None
  path = os.path.join(workdir, 'samples', f'step_{step:08d}.png')
  metrics_lib.save_png(path, grid)
  writer.write_images(step, {'samples': grid[None]})
  return path


def _jit_step(method, mesh):
  """method.train_step jitted: state donated, kind static, key by step."""
  replicated = parallel.replicated_sharding(mesh)
  batched = parallel.batch_sharding(mesh)

  def step_fn(state, frozen, batch, step_key, step, kind):
    rng = jax.random.fold_in(step_key, step)
    return method.train_step(state, frozen, batch, rng, kind)

  return jax.jit(
      step_fn, static_argnums=(5,), donate_argnums=(0,),
      in_shardings=(replicated, replicated, batched, replicated, replicated),
      out_shardings=(replicated, replicated))


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str) -> dict[str, Any]:
  """Trains (or resumes) the run in `workdir`; returns the final metrics."""
  config_lib.validate(config)
  _quiet_orbax()
  workdir = os.path.abspath(workdir)
  is_main = jax.process_index() == 0
  if is_main:
    os.makedirs(workdir, exist_ok=True)
  checkpointing.write_config(workdir, config)

  mesh = parallel.create_mesh()
  method = methods.create(config)
  frozen = parallel.replicate(method.frozen(), mesh)
  init_key = jax.random.key(config.seed)
  step_key = parallel.replicate(jax.random.fold_in(init_key, _STEP_KEY_SALT),
                                mesh)

  metric_name, metric_mode = method.best_metric
  ckpt = checkpointing.Checkpointer(workdir, config.keep_checkpoints,
                                    metric_name, metric_mode)
  latest = ckpt.latest_step()
  start_step = latest or 0
  # A step-0 checkpoint is a state to start from (e.g. converted official
  # weights, `animejax.convert --from *.pkl`), not an empty workdir.
  if latest is not None:
    state, meta = _restore(ckpt, start_step, method, init_key, mesh)
    logging.info('Resumed from %s at step %d (%s).', ckpt.directory,
                 start_step, meta.get('kind'))
  else:
    # Replicated on every device of the mesh (the step's in_shardings).
    state = parallel.replicate(jax.jit(method.init)(init_key), mesh)
  pipeline = method.input_pipeline(start_step)
  if pipeline.skipped_files:
    logging.warning('%d unreadable input files skipped, e.g. %s',
                    len(pipeline.skipped_files), pipeline.skipped_files[:3])
  schedule = method.schedule(pipeline.num_train_images)
  logging.info('Method %s: %s.', config.method,
               schedule.summary or f'{schedule.total_steps} steps')
  train_step = _jit_step(method, mesh)

  writer = metrics_lib.create_writer(workdir, is_main)
  if start_step == 0:
    writer.write_texts(0, {'config': '```\n' + str(config) + '\n```'})
  progress = metrics_lib.Progress(schedule.total_steps, config.batch_size,
                                  start_step, is_main)
  accumulator = metrics_lib.MeanAccumulator()

  def run_eval(step):
    result = method.evaluate(state, frozen, pipeline)
    writer.write_scalars(step, result)
    if is_main:
      logging.info('eval at step %d: %s', step, ', '.join(
          f'{k}={v:.4g}' for k, v in sorted(result.items())))
    return result

  step = start_step
  pending: list[tuple[int, Any]] = []
  eval_metrics: dict[str, float] = {}
  preempted = False
  compiled_kinds: set[str] = set()
  train_iter = iter(pipeline.train_iter)
  try:
    with _Preemption() as preemption:
      while step < schedule.total_steps:
        kind = schedule.step_kind(step)
        batch = parallel.global_batch(next(train_iter), mesh)
        state, step_metrics = train_step(state, frozen, batch, step_key,
                                         jnp.int32(step), kind)
        pending.append((step, step_metrics))  # 0-based index of this step
        step += 1
        if kind not in compiled_kinds:
          compiled_kinds.add(kind)
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
          scalars.update({f'perf/{k}': v for k, v in rates.items()})
          writer.write_scalars(step, scalars)
          progress.log(kind, step, rates, {k[len('train/'):]: v for k, v in
                                           scalars.items()
                                           if k.startswith('train/')})
        if do_sample:
          # Every process computes (a sharded state needs all of them).
          _write_samples(writer, workdir, step,
                         method.sample_grid(state, frozen, pipeline), is_main)
        eval_metrics_now = run_eval(step) if do_eval else None
        if eval_metrics_now:
          eval_metrics = eval_metrics_now
        if do_ckpt or do_eval or preempted:
          ckpt.save(step, state,
                    _meta(config, method, step, kind, schedule.total_steps),
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
  if which not in ('latest', 'best'):
    raise ValueError(f"which={which!r}: use 'latest' or 'best'.")
  config_lib.validate(config)
  _quiet_orbax()
  workdir = os.path.abspath(workdir)
  mesh = parallel.create_mesh()
  method = methods.create(config)
  frozen = parallel.replicate(method.frozen(), mesh)
  ckpt = checkpointing.open_read_only(workdir)
  try:
    step = ckpt.best_step() if which == 'best' else None
    step = step if step is not None else ckpt.latest_step()
    if step is None:
      raise FileNotFoundError(
          f'{workdir!r} is not a training workdir: no checkpoint in '
          f'{ckpt.directory!r} (train with `python -m animejax.main '
          '--workdir ...` first).')
    state, _ = _restore(ckpt, step, method, jax.random.key(config.seed), mesh)
  finally:
    ckpt.close()
  pipeline = method.input_pipeline(0)
  start = time.perf_counter()
  result = method.evaluate(state, frozen, pipeline)
  is_main = jax.process_index() == 0
  writer = metrics_lib.create_writer(workdir, is_main)
  writer.write_scalars(step, result)
  writer.close()
  if is_main:
    logging.info('eval of %s checkpoint (step %d) in %.1fs: %s', which, step,
                 time.perf_counter() - start, ', '.join(
                     f'{k}={v:.4g}' for k, v in sorted(result.items())))
  return {'step': step, **result}
