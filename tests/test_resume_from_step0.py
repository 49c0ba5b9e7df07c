"""A workdir whose only checkpoint is step 0 (e.g. official weights written
by `animejax.convert --from *.pkl`) is trained from that state, not
re-initialised and overwritten."""

import os
import sys

import jax
import numpy as np
import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
if TESTS not in sys.path:
  sys.path.insert(0, TESTS)

from workdirs import initialised_workdir  # pylint: disable=wrong-import-position

from animejax import checkpointing, methods, train  # pylint: disable=wrong-import-position


@pytest.mark.slow  # a one-step run: ~1-2 min on 2 cores
def test_training_starts_from_a_step0_checkpoint(tmp_path):
  config = methods.module('dcgan').smoke_config()
  config.num_train_steps = 1
  # Adam's moments zero, as a converted snapshot's (it stores none).
  workdir = initialised_workdir(config, str(tmp_path / 'w'), step=0,
                                zero=('mu', 'nu'))
  method = methods.create(config)
  like = jax.eval_shape(method.init, jax.random.key(0))
  ckpt = checkpointing.open_read_only(workdir)
  written, _ = ckpt.restore(0, like)
  ckpt.close()
  fresh = jax.jit(method.init)(jax.random.key(config.seed))

  train.train_and_evaluate(config, workdir)

  ckpt = checkpointing.open_read_only(workdir)
  assert ckpt.latest_step() == 1
  first, _ = ckpt.restore(1, like)
  ckpt.close()
  # One step moves the weights a little: they stay far nearer to the
  # written state than to a fresh init (the two differ everywhere).
  def dist(a, b):
    return sum(float(np.sum((np.asarray(x, np.float64) - np.asarray(y)) ** 2))
               for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))
               if np.issubdtype(np.asarray(x).dtype, np.floating))
  g = lambda s: s.g_params  # (batch statistics move fast: momentum 0.5)
  assert dist(g(first), g(written)) < 0.01 * dist(g(first), g(fresh))
