"""Training workdirs for tests, written without training.

A workdir holds the config and one checkpoint of a state shaped as the
method's, with the meta the run loop writes (train._meta), so the tools that
read workdirs (generate, upscale, cartoonize, the web app) are tested in
seconds. The numbers are not `init`'s: compiling `init` costs far more on
XLA:CPU, which compiles each RNG call slowly, than these tests do. Tests
that need trained weights train instead.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np


def filled(shapes, zero: Sequence[str] = ()):
  """Numbers for an eval_shape'd state: BatchNorm scale/var 1, integers 0,
  leaves on a path containing a `zero` name 0, others small seeded
  normals."""
  rng = np.random.default_rng(0)

  def fill(path, a):
    keys = [getattr(k, 'key', getattr(k, 'name', '')) for k in path]
    if not jnp.issubdtype(a.dtype, jnp.floating) or any(
        k in zero for k in keys):
      return np.zeros(a.shape, a.dtype)
    if keys[-1] in ('scale', 'var'):
      return np.ones(a.shape, a.dtype)
    return (0.1 * rng.normal(size=a.shape)).astype(a.dtype)
  return jax.tree_util.tree_map_with_path(fill, shapes)


def initialised_workdir(config, workdir: str, step: int = 1,
                        zero: Sequence[str] = ()) -> str:
  """`workdir` holding `config` and a checkpoint of a `filled` state."""
  from animejax import checkpointing, methods, train  # pylint: disable=g-import-not-at-top
  method = methods.create(config)
  state = filled(jax.eval_shape(method.init, jax.random.key(0)), zero)
  checkpointing.write_config(workdir, config)
  ckpt = checkpointing.Checkpointer(workdir, keep=1)
  ckpt.save(step, state, train._meta(config, method, step, 'init', step))  # pylint: disable=protected-access
  ckpt.close()
  return workdir
