"""Orbax checkpoints of a run, and generator weights read back from them.

Layout of a workdir:
  checkpoints/<step>/state   the whole TrainState (params, optimizer states,
                             spectral-norm vectors, RNG): resuming is exact.
  checkpoints/<step>/meta    JSON: step, phase, schedule and the run config.
  config.json                the config of the latest start of the run.

Orbax writes each step into a temporary directory and renames it when
complete, so a run killed mid-save leaves the previous checkpoint as the
latest. Preservation: the last `keep` checkpoints plus the one with the best
evaluation metric (orbax `LatestN` or `BestN(n=1)`). Every process of a
multi-host run must call `save`/`restore` (orbax coordinates them).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

from absl import logging
import jax
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers

from animejax import weights_io

CHECKPOINT_DIR = 'checkpoints'
CONFIG_FILE = 'config.json'
# Key under which `save` stores the ranking value in orbax's metrics item.
_SCORE = 'score'


def _is_key(x: Any) -> bool:
  return isinstance(x, jax.Array) and jax.dtypes.issubdtype(
      x.dtype, jax.dtypes.prng_key)


def to_storable(tree: Any) -> Any:
  """Typed PRNG keys -> their uint32 key data (orbax stores plain arrays)."""
  return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x,
                      tree)


def from_storable(tree: Any, like: Any) -> Any:
  """Inverse of `to_storable`, using `like` to know which leaves were keys."""
  def back(x, ref):
    if _is_key(ref):
      return jax.random.wrap_key_data(x, impl=jax.random.key_impl(ref))
    return x
  return jax.tree.map(back, tree, like)


def abstract_like(tree: Any) -> Any:
  """ShapeDtypeStructs (with shardings) describing `to_storable(tree)`.

  `tree` holds arrays or ShapeDtypeStructs (e.g. `jax.eval_shape` of an
  initialiser, with shardings attached) but no PRNG-key structs.
  """
  def spec(x):
    if isinstance(x, jax.Array):
      return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding)
    return x
  return jax.tree.map(spec, to_storable(tree))


class IncompatibleCheckpointError(ValueError):
  """A checkpoint of another method or state layout than the run's."""


class Checkpointer:
  """The run's CheckpointManager: latest N plus the best by one metric."""

  def __init__(self, workdir: str, keep: int, best_metric: str | None = None,
               best_mode: str = 'max', async_save: bool = True,
               read_only: bool = False):
    self.directory = os.path.join(os.path.abspath(workdir), CHECKPOINT_DIR)
    self.best_metric = best_metric
    self.best_mode = best_mode
    # Checkpoints saved without an evaluation rank below every evaluated one,
    # so BestN(n=1) keeps the best evaluated checkpoint and LatestN the rest.
    worst = -math.inf if best_mode == 'max' else math.inf

    def score(metrics):
      value = (metrics or {}).get(_SCORE)
      return worst if value is None or not math.isfinite(value) else value

    policy = checkpoint_managers.AnyPreservationPolicy([
        checkpoint_managers.LatestN(n=keep),
        checkpoint_managers.BestN(get_metric_fn=score,
                                  reverse=(best_mode == 'min'), n=1,
                                  keep_checkpoints_without_metrics=False),
    ])
    options = ocp.CheckpointManagerOptions(
        best_fn=score, best_mode=best_mode, preservation_policy=policy,
        enable_async_checkpointing=async_save and not read_only,
        create=not read_only, read_only=read_only,
        # Leftovers of a killed save; a reader must not touch a live run's.
        cleanup_tmp_directories=not read_only)
    self._score = score
    self.manager = ocp.CheckpointManager(
        self.directory, item_names=('state', 'meta'), options=options)

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def best_step(self) -> int | None:
    """The step with the best evaluated metric, or None if none evaluated."""
    best, best_value = None, None
    for step in self.manager.all_steps():
      metrics = self.manager.metrics(step)
      if not metrics or metrics.get(_SCORE) is None:
        continue
      value = metrics[_SCORE]
      better = (best_value is None or
                (value > best_value if self.best_mode == 'max'
                 else value < best_value))
      if better:
        best, best_value = step, value
    return best

  def save(self, step: int, state: Any, meta: Mapping[str, Any],
           eval_metrics: Mapping[str, float] | None = None) -> bool:
    """Saves `state` at `step` (asynchronously); returns False if it exists."""
    if step in self.manager.all_steps():
      return False
    metrics = {'step': int(step)}
    if eval_metrics and self.best_metric in eval_metrics:
      metrics[_SCORE] = float(eval_metrics[self.best_metric])
      metrics[self.best_metric] = metrics[_SCORE]
    saved = self.manager.save(
        step,
        args=ocp.args.Composite(
            state=ocp.args.StandardSave(to_storable(state)),
            meta=ocp.args.JsonSave(dict(meta))),
        metrics=metrics, force=True)
    return bool(saved)

  def restore(self, step: int, like: Any) -> tuple[Any, dict[str, Any]]:
    """Restores (state shaped and sharded like `like`, meta) from `step`."""
    restored = self.manager.restore(
        step,
        args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_like(like)),
            meta=ocp.args.JsonRestore()))
    return from_storable(restored['state'], like), dict(restored['meta'])

  def meta(self, step: int) -> dict[str, Any]:
    """The JSON saved beside the state at `step` (the state is not read)."""
    restored = self.manager.restore(
        step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
    return dict(restored['meta'])

  def restore_raw(self, step: int) -> tuple[Any, dict[str, Any]]:
    """Restores the saved tree as nested dicts of arrays (no target needed)."""
    restored = self.manager.restore(
        step,
        args=ocp.args.Composite(state=ocp.args.StandardRestore(),
                                meta=ocp.args.JsonRestore()))
    return restored['state'], dict(restored['meta'])

  def wait(self) -> None:
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()


def write_config(workdir: str, config) -> None:
  """Writes the run config as JSON into the workdir (process 0 only)."""
  if jax.process_index() != 0:
    return
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, CONFIG_FILE)
  tmp = path + '.tmp'
  with open(tmp, 'w', encoding='utf-8') as f:
    f.write(config.to_json_best_effort(indent=2, sort_keys=True))
  os.replace(tmp, path)


# What orbax logs (as warnings) whenever a manager is opened read-only.
_READ_ONLY_NOTICES = ('Given directory is read only=',
                      'CheckpointManagerOptions.read_only=True, setting')
# Checkpoints written before `config.method` existed hold AnimeGAN states
# (the only method then); their meta and config name no method.
_METHOD_OF_OLD_CHECKPOINTS = 'animegan'


def _not_a_read_only_notice(record) -> bool:
  """A logging filter (any callable will do) that drops _READ_ONLY_NOTICES."""
  return not record.getMessage().startswith(_READ_ONLY_NOTICES)


def open_read_only(workdir: str) -> Checkpointer:
  """A Checkpointer that reads a workdir without writing anything.

  Read-only on purpose: a reader must neither create folders nor clean up
  a live run's temporaries. orbax announces that with warnings that a
  cartoonize user would take for a problem ("Given directory is read
  only=..." on a writable folder); they are dropped while the manager
  opens, and only there.
  """
  absl_logger = logging.get_absl_logger()
  absl_logger.addFilter(_not_a_read_only_notice)
  try:
    return Checkpointer(workdir, keep=1, read_only=True)
  finally:
    absl_logger.removeFilter(_not_a_read_only_notice)


def load_generator_weights(workdir: str,
                           which: str = 'latest') -> weights_io.GeneratorWeights:
  """Inference weights of a training workdir's 'latest' or 'best' checkpoint.

  The method that trained the run (`meta['method']`) turns its saved state
  into a `weights_io.GeneratorWeights` (arch and model kwargs from the config
  saved with that checkpoint) ready for `weights_io.save` or
  `models.create_generator(w.arch, **w.model_kwargs)`, through its module's
  `export_weights(state, config)`.
  """
  if which not in ('latest', 'best'):
    raise ValueError(f"which={which!r}: use 'latest' or 'best'.")
  directory = os.path.join(os.path.abspath(workdir), CHECKPOINT_DIR)
  if not os.path.isdir(directory):
    raise FileNotFoundError(
        f'{workdir!r} has no {CHECKPOINT_DIR}/ folder: not a training workdir '
        '(train with `python -m animejax.main --workdir ...` first).')
  ckpt = open_read_only(workdir)
  try:
    step = ckpt.best_step() if which == 'best' else ckpt.latest_step()
    if step is None and which == 'best':
      logging.warning('%s has no evaluated checkpoint; using the latest.',
                      workdir)
      step = ckpt.latest_step()
    if step is None:
      raise FileNotFoundError(f'no checkpoint in {directory!r}.')
    state, meta = ckpt.restore_raw(step)
  finally:
    ckpt.close()
  config = meta.get('config') or {}
  if not config:
    with open(os.path.join(workdir, CONFIG_FILE), encoding='utf-8') as f:
      config = json.load(f)
  name = (meta.get('method') or config.get('method') or
          _METHOD_OF_OLD_CHECKPOINTS)
  from animejax import methods  # pylint: disable=g-import-not-at-top
  module = methods.module(name)
  if not hasattr(module, 'export_weights'):
    raise ValueError(f'{workdir!r} was trained by method {name!r}, which '
                     'exports no weights file.')
  weights = module.export_weights(state, config)
  weights.meta.update({'source': os.path.abspath(workdir), 'step': int(step),
                       'which': which, 'method': name})
  return weights


def restore_for_inference(workdir: str, which: str = 'latest',
                          task: str | None = None):
  """(method, inference params, step) of a workdir's `which` checkpoint.

  The method is rebuilt from the workdir's saved config; `task`, when
  given, must be one of its predict functions (checked before restoring).
  """
  import jax  # pylint: disable=g-import-not-at-top
  import ml_collections  # pylint: disable=g-import-not-at-top
  from animejax import methods  # pylint: disable=g-import-not-at-top
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'{workdir!r} is not a training workdir (no '
                            f'{CONFIG_FILE}).')
  with open(path, encoding='utf-8') as f:
    config = ml_collections.ConfigDict(json.load(f))
  method = methods.create(config)
  if task and task not in method.predict_fns():
    raise ValueError(f'{workdir!r} was trained by {config.method!r}, which '
                     f'serves no {task!r}.')
  ckpt = open_read_only(workdir)
  try:
    step = ckpt.best_step() if which == 'best' else None
    step = step if step is not None else ckpt.latest_step()
    if step is None:
      raise FileNotFoundError(f'no checkpoint in {workdir!r}.')
    state, _ = ckpt.restore(step, jax.eval_shape(method.init,
                                                 jax.random.key(0)))
  finally:
    ckpt.close()
  return method, method.inference_params(state), step
