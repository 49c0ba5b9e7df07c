"""Device mesh, shardings and global batches (data parallelism).

One mesh axis, 'data': the batch is split over every device of every process,
the TrainState is replicated. jit then inserts the gradient all-reduces; the
same code runs on 1 CPU, 8 GPUs or a multi-host TPU pod.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = 'data'


def create_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A 1-D mesh with axis 'data' over `devices` (default: all devices).

  The axis is AxisType.Auto (jax.make_mesh defaults to Explicit in recent
  JAX): shardings are given at the jit boundary and XLA propagates them, so
  the model code needs no sharding annotations.
  """
  if devices is None:
    return jax.make_mesh((jax.device_count(),), (DATA_AXIS,),
                         axis_types=(AxisType.Auto,))
  devices = list(devices)
  if not devices:
    raise ValueError('create_mesh got an empty device list.')
  return Mesh(np.asarray(devices), (DATA_AXIS,), axis_types=(AxisType.Auto,))


def replicated_sharding(mesh: Mesh) -> NamedSharding:
  """Every device holds the whole array (params, optimizer state, VGG)."""
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over 'data'; other axes whole."""
  return NamedSharding(mesh, P(DATA_AXIS))


def check_batch_size(global_batch_size: int, mesh: Mesh) -> None:
  """Raises ValueError unless the global batch splits evenly over the mesh."""
  n = mesh.shape[DATA_AXIS]
  if global_batch_size % n:
    raise ValueError(
        f'The global batch size {global_batch_size} is not divisible by the '
        f'{n} devices of the mesh; set config.batch_size to a multiple of {n}.')


def global_batch(local_batch: Mapping[str, np.ndarray],
                 mesh: Mesh) -> dict[str, jax.Array]:
  """Assembles per-process numpy batches into global arrays sharded on 'data'.

  Args:
    local_batch: this process's part of the batch, {name: [B_local, ...]};
      the global batch is B_local * process_count, in process order.
    mesh: from `create_mesh`.

  Returns:
    {name: jax.Array [B_global, ...]} with `batch_sharding(mesh)`.
  """
  sharding = batch_sharding(mesh)
  out = {}
  for name, value in local_batch.items():
    value = np.asarray(value)
    if value.ndim == 0:
      raise ValueError(f'Batch entry {name!r} is a scalar; expected an array '
                       'with a leading batch axis.')
    global_shape = (value.shape[0] * jax.process_count(),) + value.shape[1:]
    check_batch_size(global_shape[0], mesh)
    out[name] = jax.make_array_from_process_local_data(sharding, value,
                                                       global_shape)
  return out


def replicate(tree, mesh: Mesh):
  """Places a pytree that is identical on every process replicated on `mesh`.

  `jax.device_put` with a replicated sharding only accepts meshes whose devices
  this process can address, so with several processes every array is built
  from its host copy with `make_array_from_callback` instead (PRNG keys travel
  as their raw key data).
  """
  sharding = replicated_sharding(mesh)
  if jax.process_count() == 1:
    return jax.device_put(tree, sharding)

  def put(x):
    if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
      data = put(jax.random.key_data(x))
      return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])

  return jax.tree.map(put, tree)
