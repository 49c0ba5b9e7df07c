"""Every registered method, end to end on its smoke config (CPU, seconds).

For each name in `animejax.methods.names()`: the config validates, two steps
of every step kind run through the run loop's jitted step with finite
metrics, evaluation and the sample grid work, every predict function serves
its example, and a run killed mid-way resumes from its checkpoint to a final
state bit-equal to an uninterrupted run. A method gets this test by being
registered (and defining `smoke_config()`).
"""

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # `configs` is a folder of the repo, not installed
  sys.path.insert(0, REPO)

from animejax import checkpointing  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax import config_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax import methods  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax import parallel  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax import train  # pylint: disable=g-import-not-at-top,wrong-import-position
# The module-scoped persistent XLA cache of the run-loop tests (autouse): the
# kill-and-resume test trains the same programs three times.
from test_train_run import compilation_cache  # pylint: disable=g-import-not-at-top,wrong-import-position,unused-import

NAMES = methods.names()
# The costliest compiles (minutes on 2 cores) run with `-m slow`; every
# method keeps its every-kind test in the default run except these, and
# dcgan/dragan keep kill-and-resume there (animegan's is in test_train_run).
SLOW_EVERY_KIND = ('ugatit', 'animegan')
FAST_RESUME = ('dcgan', 'dragan')


def _params(slow):
  return [pytest.param(n, marks=pytest.mark.slow) if n in slow else n
          for n in NAMES]


def _finite(tree) -> bool:
  return all(np.all(np.isfinite(np.asarray(x, np.float64)))
             for x in jax.tree.leaves(tree))


@pytest.mark.parametrize('name', _params(SLOW_EVERY_KIND))
def test_every_kind_eval_samples_and_predict(name):
  config = methods.module(name).smoke_config()
  config_lib.validate(config, device_count=1, process_count=1)
  method = methods.create(config)
  assert method.name == name
  pipeline = method.input_pipeline(0)
  schedule = method.schedule(pipeline.num_train_images)
  assert schedule.total_steps > 0 and schedule.kinds
  assert {schedule.step_kind(s) for s in range(schedule.total_steps)} <= set(
      schedule.kinds)

  mesh = parallel.create_mesh()
  frozen = parallel.replicate(method.frozen(), mesh)
  state = parallel.replicate(jax.jit(method.init)(jax.random.key(0)), mesh)
  step_fn = train._jit_step(method, mesh)  # pylint: disable=protected-access
  key = jax.random.key(1)
  batches = iter(pipeline.train_iter)
  for kind in schedule.kinds:
    before = jax.tree.map(np.asarray, state)
    for i in range(2):
      batch = parallel.global_batch(next(batches), mesh)
      state, metrics = step_fn(state, frozen, batch, key, jnp.int32(i), kind)
      metrics = jax.device_get(metrics)
      assert metrics and _finite(metrics), (kind, metrics)
    changed = jax.tree.leaves(jax.tree.map(
        lambda a, b: not np.array_equal(a, np.asarray(b)), before, state))
    assert any(changed), f'{kind} steps changed nothing in the state'

  result = method.evaluate(state, frozen, pipeline)
  assert result and all(k.startswith('eval/') for k in result), result
  assert _finite(result), result
  grid = method.sample_grid(state, frozen, pipeline)
  if grid is not None:
    assert grid.dtype == np.uint8 and grid.ndim == 3 and grid.shape[-1] == 3
  fns = method.predict_fns()
  assert fns
  params = method.inference_params(state)
  for task, fn in fns.items():
    inputs = method.predict_example(task, pipeline)
    out = jax.jit(fn)(params, inputs)
    assert 'images' in out and out['images'].ndim == 4, task
    assert _finite(out), task


class _Crash(RuntimeError):
  pass


def _crashing(create, after: int):
  """methods.create whose training stream raises after `after` batches."""
  def wrapped(config):
    method = create(config)
    original = method.input_pipeline

    def input_pipeline(start_step=0):
      pipeline = original(start_step)
      stream = iter(pipeline.train_iter)

      def crash_later():
        for _ in range(after):
          yield next(stream)
        raise _Crash('killed')
      pipeline.train_iter = crash_later()
      return pipeline
    method.input_pipeline = input_pipeline
    return method
  return wrapped


def _final(workdir):
  ckpt = checkpointing.Checkpointer(str(workdir), keep=1, read_only=True)
  try:
    step = ckpt.latest_step()
    state, meta = ckpt.restore_raw(step)
  finally:
    ckpt.close()
  return step, jax.tree.map(np.asarray, state), meta


@pytest.mark.parametrize('name', _params(
    [n for n in NAMES if n not in FAST_RESUME]))
def test_kill_and_resume_is_bit_exact(name, tmp_path, monkeypatch):
  config = methods.module(name).smoke_config()
  whole = train.train_and_evaluate(config, str(tmp_path / 'whole'))
  total = whole['total_steps']
  assert whole['step'] == total and total >= 3
  every = config.checkpoint_every_steps
  assert every < total, 'the smoke config must checkpoint before its end'

  with monkeypatch.context() as m:
    m.setattr(methods, 'create', _crashing(methods.create, after=every + 1))
    with pytest.raises(_Crash):
      train.train_and_evaluate(config, str(tmp_path / 'killed'))
  step, _, _ = _final(tmp_path / 'killed')
  assert step == every  # the crash came after this checkpoint
  resumed = train.train_and_evaluate(config, str(tmp_path / 'killed'))
  assert resumed['step'] == total

  step_a, state_a, meta_a = _final(tmp_path / 'whole')
  step_b, state_b, meta_b = _final(tmp_path / 'killed')
  assert step_a == step_b == total
  assert meta_a['method'] == meta_b['method'] == name
  assert meta_a['state_version'] == methods.create(config).state_version
  flat_a = jax.tree_util.tree_flatten_with_path(state_a)[0]
  flat_b = dict(jax.tree_util.tree_flatten_with_path(state_b)[0])
  assert len(flat_a) == len(flat_b)
  for path, leaf in flat_a:
    np.testing.assert_array_equal(leaf, flat_b[path],
                                  err_msg=jax.tree_util.keystr(path))


def test_unknown_method_lists_the_known_ones():
  config = methods.module('animegan').smoke_config()
  config.method = 'animegna'
  with pytest.raises(config_lib.ConfigError,
                     match=r"known: \[.*'animegan'.*Did you mean 'animegan'"):
    config_lib.validate(config, device_count=1, process_count=1)


def test_run_loop_names_no_method():
  source = open(train.__file__, encoding='utf-8').read().lower()
  for name in NAMES + ('animegan', 'cartoongan', 'init_step', 'gan_step'):
    assert name not in source, name
