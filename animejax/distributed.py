"""Multi-process (multi-host) start-up: `jax.distributed.initialize` when needed.

Every process of a multi-host run executes the same program; before touching
any device it must join the others through `jax.distributed.initialize`. This
module decides from the environment whether that is needed and how:

  explicit   arguments, the absl flags --coordinator_address / --num_processes /
             --process_id (see `define_flags`), or the environment variables
             ANIMEJAX_COORDINATOR, ANIMEJAX_NUM_PROCESSES, ANIMEJAX_PROCESS_ID
             (`launch/local.sh` uses these).
  slurm      inside `srun` with more than one task: jax's own SLURM detection
             (coordinator = first host of SLURM_STEP_NODELIST, one device per
             task unless ANIMEJAX_LOCAL_DEVICE_IDS says otherwise).
  tpu        a Cloud TPU VM slice with several workers (TPU_WORKER_HOSTNAMES /
             TPU_PROCESS_ADDRESSES list more than one host, or multislice
             MEGASCALE_COORDINATOR_ADDRESS): jax's TPU detection.
  forced     ANIMEJAX_DISTRIBUTED=1 (or 'auto'): call the argument-less
             `jax.distributed.initialize()` and let jax detect everything
             (`launch/tpu_pod.sh` sets it, since GCE TPU VMs publish the worker
             list only through the metadata server).
  off        ANIMEJAX_DISTRIBUTED=0 or a plain single process: nothing happens.

`maybe_initialize` is idempotent and must run before the first JAX computation
(`animejax.main` calls it first thing).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence

import jax

ENV_COORDINATOR = 'ANIMEJAX_COORDINATOR'
ENV_NUM_PROCESSES = 'ANIMEJAX_NUM_PROCESSES'
ENV_PROCESS_ID = 'ANIMEJAX_PROCESS_ID'
ENV_LOCAL_DEVICE_IDS = 'ANIMEJAX_LOCAL_DEVICE_IDS'
ENV_MODE = 'ANIMEJAX_DISTRIBUTED'

_TRUE = ('1', 'true', 'yes', 'on', 'auto')
_FALSE = ('0', 'false', 'no', 'off')

# What the last successful call did; None until maybe_initialize has run.
_RESULT: 'Plan | None' = None


@dataclasses.dataclass(frozen=True)
class Plan:
  """How (and whether) this process joins a multi-process run."""
  method: str  # 'none', 'explicit', 'slurm', 'tpu', 'forced'
  coordinator_address: str | None = None
  num_processes: int | None = None
  process_id: int | None = None
  local_device_ids: tuple[int, ...] | None = None

  @property
  def initialize(self) -> bool:
    return self.method != 'none'


def _int_env(env: Mapping[str, str], key: str) -> int | None:
  value = env.get(key, '').strip()
  if not value:
    return None
  try:
    return int(value)
  except ValueError:
    raise ValueError(f'environment variable {key}={value!r} is not an integer; '
                     f'set it to a whole number or unset it') from None


def _parse_device_ids(value: str | Sequence[int] | int | None,
                      what: str) -> tuple[int, ...] | None:
  if value is None:
    return None
  if isinstance(value, int):
    return (value,)
  if isinstance(value, str):
    value = value.strip()
    if not value:
      return None
    try:
      return tuple(int(v) for v in value.split(','))
    except ValueError:
      raise ValueError(f'{what}={value!r}: expected comma-separated device '
                       'ids such as "0,1,2,3"') from None
  return tuple(int(v) for v in value)


def _many(hosts: str | None) -> bool:
  return bool(hosts) and len([h for h in hosts.split(',') if h.strip()]) > 1


def plan(coordinator_address: str | None = None,
         num_processes: int | None = None,
         process_id: int | None = None,
         local_device_ids: Sequence[int] | int | str | None = None,
         environ: Mapping[str, str] | None = None) -> Plan:
  """Decides from arguments and environment how to initialize (pure)."""
  env = os.environ if environ is None else environ
  mode = env.get(ENV_MODE, '').strip().lower()
  if mode and mode not in _TRUE + _FALSE:
    raise ValueError(f'{ENV_MODE}={mode!r}: use 1/auto (force jax cluster '
                     'detection), 0 (never initialize) or leave it unset')
  if mode in _FALSE:
    return Plan('none')

  coordinator_address = coordinator_address or env.get(ENV_COORDINATOR) or None
  if num_processes is None:
    num_processes = _int_env(env, ENV_NUM_PROCESSES)
  if process_id is None:
    process_id = _int_env(env, ENV_PROCESS_ID)
  device_ids = _parse_device_ids(local_device_ids, 'local_device_ids')
  if device_ids is None:
    device_ids = _parse_device_ids(env.get(ENV_LOCAL_DEVICE_IDS),
                                   ENV_LOCAL_DEVICE_IDS)

  explicit = (coordinator_address, num_processes, process_id)
  if any(v is not None for v in explicit):
    if num_processes is not None and num_processes < 1:
      raise ValueError(f'num_processes={num_processes}: must be >= 1')
    if num_processes == 1 and coordinator_address is None:
      return Plan('none')
    missing = [name for name, v in zip(
        ('coordinator_address (--coordinator_address / ' + ENV_COORDINATOR + ')',
         'num_processes (--num_processes / ' + ENV_NUM_PROCESSES + ')',
         'process_id (--process_id / ' + ENV_PROCESS_ID + ')'), explicit)
               if v is None]
    if missing:
      raise ValueError('an explicit multi-process run needs all of '
                       'coordinator address, process count and process id; '
                       'missing: ' + ', '.join(missing))
    if not 0 <= process_id < num_processes:
      raise ValueError(f'process_id={process_id} is outside '
                       f'[0, num_processes={num_processes})')
    return Plan('explicit', coordinator_address, num_processes, process_id,
                device_ids)

  if mode in _TRUE:
    return Plan('forced', local_device_ids=device_ids)

  # SLURM: only inside a job step (srun) with several tasks; in the batch
  # script itself SLURM_NTASKS can be > 1 while a single process runs, and
  # initializing there would wait forever for the missing peers.
  if env.get('SLURM_JOB_ID') and env.get('SLURM_STEP_NODELIST'):
    tasks = (_int_env(env, 'SLURM_STEP_NUM_TASKS')
             or _int_env(env, 'SLURM_NTASKS') or 1)
    if tasks > 1:
      return Plan('slurm', local_device_ids=device_ids)

  if (_many(env.get('TPU_PROCESS_ADDRESSES'))
      or _many(env.get('TPU_WORKER_HOSTNAMES'))
      or env.get('MEGASCALE_COORDINATOR_ADDRESS')):
    return Plan('tpu', local_device_ids=device_ids)
  return Plan('none')


def _ensure_cpu_collectives() -> None:
  # Cross-process collectives on CPU devices need a collectives backend; jax
  # 0.10 defaults to gloo, older releases defaulted to none (then every psum
  # across processes fails at run time).
  try:
    if jax.config.jax_cpu_collectives_implementation in (None, '', 'none'):
      jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  except AttributeError:  # option absent in this jax version
    pass


def maybe_initialize(coordinator_address: str | None = None,
                     num_processes: int | None = None,
                     process_id: int | None = None,
                     local_device_ids: Sequence[int] | int | str | None = None,
                     ) -> Plan:
  """Joins the multi-process run if the environment describes one.

  Arguments left as None are read from the ANIMEJAX_* environment variables
  (see the module docstring), then from SLURM / Cloud TPU detection. A plain
  single process does nothing. Safe to call more than once.

  Returns:
    The `Plan` that was carried out (`.method == 'none'` for one process).
  """
  global _RESULT
  if _RESULT is not None or jax.distributed.is_initialized():
    if _RESULT is None:  # someone else called jax.distributed.initialize
      _RESULT = Plan('external', num_processes=jax.process_count(),
                     process_id=jax.process_index())
    return _RESULT
  p = plan(coordinator_address, num_processes, process_id, local_device_ids)
  if p.initialize:
    _ensure_cpu_collectives()
    kwargs = {}
    if p.local_device_ids is not None:
      kwargs['local_device_ids'] = list(p.local_device_ids)
    logging.info('jax.distributed.initialize via %s (coordinator=%s, '
                 'num_processes=%s, process_id=%s)', p.method,
                 p.coordinator_address or 'auto', p.num_processes or 'auto',
                 p.process_id if p.process_id is not None else 'auto')
    jax.distributed.initialize(coordinator_address=p.coordinator_address,
                               num_processes=p.num_processes,
                               process_id=p.process_id, **kwargs)
  _RESULT = p
  log_topology()
  return p


def log_topology() -> None:
  """Logs this process's index, the process count and the devices."""
  logging.info('process %d of %d; %d local / %d global devices (%s); '
               'local: %s', jax.process_index(), jax.process_count(),
               jax.local_device_count(), jax.device_count(),
               jax.default_backend(),
               ', '.join(str(d) for d in jax.local_devices()))


def is_main_process() -> bool:
  """True on the process that writes logs, reports and summaries."""
  return jax.process_index() == 0


# ------------------------------------------------------------------ absl flags
FLAG_NAMES = ('coordinator_address', 'num_processes', 'process_id',
              'local_device_ids')


def define_flags(flag_values=None) -> None:
  """Defines --coordinator_address, --num_processes, --process_id and
  --local_device_ids (idempotent; for `animejax.main` and other entry points).
  """
  from absl import flags  # pylint: disable=g-import-not-at-top
  fv = flags.FLAGS if flag_values is None else flag_values
  if 'coordinator_address' in fv:
    return
  flags.DEFINE_string(
      'coordinator_address', None,
      'host:port of process 0 for a multi-process run (default: '
      f'${ENV_COORDINATOR}, SLURM or Cloud TPU detection).', flag_values=fv)
  flags.DEFINE_integer(
      'num_processes', None,
      f'Number of processes of a multi-process run (default: ${ENV_NUM_PROCESSES}).',
      flag_values=fv)
  flags.DEFINE_integer(
      'process_id', None,
      f'Index of this process, 0..num_processes-1 (default: ${ENV_PROCESS_ID}).',
      flag_values=fv)
  flags.DEFINE_string(
      'local_device_ids', None,
      'Comma-separated local device ids this process uses (default: '
      f'${ENV_LOCAL_DEVICE_IDS}, or all).', flag_values=fv)


def initialize_from_flags(flag_values=None) -> Plan:
  """`maybe_initialize` with the values of the flags from `define_flags`."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  fv = flags.FLAGS if flag_values is None else flag_values
  if 'coordinator_address' not in fv:
    return maybe_initialize()
  return maybe_initialize(fv.coordinator_address, fv.num_processes,
                          fv.process_id, fv.local_device_ids)
