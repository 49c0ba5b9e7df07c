"""Config checks shared by every method, before anything is compiled.

`validate(config)` rejects bad values, naming the key and the allowed values:
the run loop's keys here (method, seed, dtype, batch size and the
log/eval/sample/checkpoint cadence), then the method's own keys through its
`config_errors` (e.g. `animejax.methods.animegan.config`). Values derived
from others (steps per epoch, total steps) are computed by each method's
schedule and never stored in the config, so a command-line override such as
`--config.batch_size=4` can't leave them stale.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

import ml_collections

# The run loop's keys of every config (`run_config` holds their defaults).
LOOP_CHOICES = {'dtype': ('float32', 'bfloat16')}
LOOP_POSITIVE = ('batch_size', 'log_every_steps', 'checkpoint_every_steps',
                 'keep_checkpoints', 'eval_every_steps', 'sample_every_steps')


def run_config(method: str, **overrides) -> ml_collections.ConfigDict:
  """The run loop's keys with their defaults, for method `method`.

  What `animejax.train` reads from every config (checked by `validate`); a
  method's recipe adds its own keys. It lives in the package, not in the
  repository's `configs/`, so the methods' base configs (and `convert`,
  which builds one) work from an installed wheel.
  """
  c = ml_collections.ConfigDict()
  c.method = method                   # animejax.methods.names()
  c.seed = 0
  # 'float32' or 'bfloat16': compute dtype; params and optimizer state fp32.
  c.dtype = 'float32'
  c.batch_size = 1                    # global, over every device
  # > 0 overrides the method's own step count (smoke tests, benchmarks).
  c.num_train_steps = -1
  c.log_every_steps = 50
  c.checkpoint_every_steps = 1000
  c.keep_checkpoints = 3
  c.eval_every_steps = 2000
  c.sample_every_steps = 1000
  c.num_sample_images = 4
  for key, value in overrides.items():
    c[key] = value
  return c


class ConfigError(ValueError):
  """A config value that can't work; the message names the key."""


def get_key(config: ml_collections.ConfigDict, key: str) -> Any:
  node = config
  for part in key.split('.'):
    node = node[part]
  return node


def check_choice(errors: list[str], config, key: str,
            choices: Iterable[str]) -> None:
  value = get_key(config, key)
  choices = tuple(choices)
  if value not in choices:
    close = difflib.get_close_matches(str(value), choices, n=1)
    hint = f' Did you mean {close[0]!r}?' if close else ''
    errors.append(f'config.{key}={value!r} is not one of {choices}.{hint}')


def check_positive(errors: list[str], config, key: str, allow_zero: bool = False,
              allow_negative_one: bool = False) -> None:
  value = get_key(config, key)
  ok = value > 0 or (allow_zero and value == 0) or (
      allow_negative_one and value == -1)
  if not ok:
    want = '>= 0' if allow_zero else '> 0'
    if allow_negative_one:
      want += ' (or -1 = derive from epochs)'
    errors.append(f'config.{key}={value!r} must be {want}.')


def validate(config: ml_collections.ConfigDict, device_count: int | None = None,
             process_count: int | None = None) -> None:
  """Raises ConfigError listing every bad value (key, value and the fix).

  Args:
    config: the run config (`configs/default.py` layout plus the method's
      keys).
    device_count: global device count the batch is split over (default: jax).
    process_count: number of processes feeding the batch (default: jax).
  """
  from animejax import methods  # pylint: disable=g-import-not-at-top
  errors: list[str] = []
  method = None
  try:
    method = methods.module(config.get('method', None))
  except ValueError as e:
    errors.append(str(e))
  for key, choices in LOOP_CHOICES.items():
    check_choice(errors, config, key, choices)
  for key in LOOP_POSITIVE:
    check_positive(errors, config, key)
  check_positive(errors, config, 'num_sample_images', allow_zero=True)
  check_positive(errors, config, 'num_train_steps', allow_negative_one=True)

  if device_count is None or process_count is None:
    import jax  # pylint: disable=g-import-not-at-top
    device_count = jax.device_count() if device_count is None else device_count
    process_count = (jax.process_count() if process_count is None
                     else process_count)
  batch = config.batch_size
  if batch > 0 and batch % device_count:
    errors.append(
        f'config.batch_size={batch} (global) is not divisible by the '
        f'{device_count} devices; use a multiple of {device_count}.')
  elif batch > 0 and batch % process_count:
    errors.append(
        f'config.batch_size={batch} is not divisible by the {process_count} '
        'processes.')
  if method is not None:
    errors.extend(method.config_errors(config))
  if errors:
    raise ConfigError('Invalid config:\n  ' + '\n  '.join(errors))


def override_hint(config: ml_collections.ConfigDict, key: str) -> str:
  """' Did you mean ...?' for a misspelt dotted key, or ''."""
  parts = key.split('.')
  node = config
  for part in parts[:-1]:
    if isinstance(node, ml_collections.ConfigDict) and part in node:
      node = node[part]
    else:
      keys = list(node.keys()) if isinstance(
          node, ml_collections.ConfigDict) else []
      close = difflib.get_close_matches(part, keys, n=3)
      return f' Did you mean {close}?' if close else ''
  keys = list(node.keys()) if isinstance(node, ml_collections.ConfigDict) else []
  prefix = '.'.join(parts[:-1])
  close = difflib.get_close_matches(parts[-1], keys, n=3)
  close = [f'{prefix}.{c}' if prefix else c for c in close]
  return f' Did you mean {close}?' if close else ''
