"""Config checks and derived quantities for the run loop.

`validate(config)` rejects bad values before anything is compiled, naming the
key and the allowed values. `derive(config, num_train_images)` computes the
step counts from the epoch-based keys of `configs/default.py`; they are never
stored in the config, so a command-line override such as
`--config.batch_size=4` can't leave them stale.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable
from typing import Any

import ml_collections

# Choices of the enum-like keys. Registry names are read from
# animejax.models when it can be imported, else from these lists (the
# interface contract in the project brief).
GENERATOR_NAMES = ('animeganv2', 'animeganv1', 'cartoongan', 'animeganv3')
DISCRIMINATOR_NAMES = ('animegan', 'cartoongan')
CHOICES = {
    'dtype': ('float32', 'bfloat16'),
    'data.source': ('procedural', 'folders', 'tfds'),
    'generator.upsample': ('tf1', 'align_corners', 'half_pixel'),
    'discriminator.norm': ('layer', 'instance', 'none'),
    'vgg.preprocess': ('auto', 'caffe', 'torch'),
    'vgg.layer': tuple(f'conv{b}_{i}' for b, n in
                       ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))
                       for i in range(1, n + 1)),
    'loss.adv_type': ('lsgan', 'hinge', 'bce'),
    'loss.gp_type': ('none', 'r1', 'dragan', 'wgan-gp'),
    'optim.schedule': ('constant', 'cosine'),
}
# Generators whose size_multiple we can't read (models not importable):
# three stride-2 stages for v3, two for the others.
_FALLBACK_SIZE_MULTIPLE = {'animeganv3': 8}


class ConfigError(ValueError):
  """A config value that can't work; the message names the key."""


def _get(config: ml_collections.ConfigDict, key: str) -> Any:
  node = config
  for part in key.split('.'):
    node = node[part]
  return node


def _registry(kind: str) -> tuple[str, ...]:
  try:
    from animejax import models  # pylint: disable=g-import-not-at-top
    return tuple(getattr(models, kind))
  except (ImportError, AttributeError):
    return GENERATOR_NAMES if kind == 'GENERATORS' else DISCRIMINATOR_NAMES


def size_multiple(generator_name: str) -> int:
  """How many pixels an image side must be a multiple of for this generator."""
  try:
    from animejax import models  # pylint: disable=g-import-not-at-top
    return int(getattr(models.GENERATORS[generator_name], 'size_multiple', 4))
  except (ImportError, AttributeError, KeyError):
    return _FALLBACK_SIZE_MULTIPLE.get(generator_name, 4)


def _choice(errors: list[str], config, key: str,
            choices: Iterable[str]) -> None:
  value = _get(config, key)
  choices = tuple(choices)
  if value not in choices:
    close = difflib.get_close_matches(str(value), choices, n=1)
    hint = f' Did you mean {close[0]!r}?' if close else ''
    errors.append(f'config.{key}={value!r} is not one of {choices}.{hint}')


def _positive(errors: list[str], config, key: str, allow_zero: bool = False,
              allow_negative_one: bool = False) -> None:
  value = _get(config, key)
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
    config: the run config (`configs/default.py` layout).
    device_count: global device count the batch is split over (default: jax).
    process_count: number of processes feeding the batch (default: jax).
  """
  errors: list[str] = []
  for key, choices in CHOICES.items():
    _choice(errors, config, key, choices)
  _choice(errors, config, 'generator.name', _registry('GENERATORS'))
  _choice(errors, config, 'discriminator.name', _registry('DISCRIMINATORS'))

  for key in ('batch_size', 'data.image_size', 'generator.width',
              'discriminator.ch', 'discriminator.n_dis', 'num_epochs',
              'log_every_steps', 'checkpoint_every_steps', 'keep_checkpoints',
              'eval_every_steps', 'sample_every_steps', 'data.num_val_images',
              'data.procedural_epoch_size', 'optim.d_steps_per_g',
              'data.shuffle_buffer'):
    _positive(errors, config, key)
  for key in ('init_epochs', 'data.prefetch', 'num_sample_images', 'optim.init_lr',
              'optim.g_lr', 'optim.d_lr', 'optim.eps'):
    _positive(errors, config, key, allow_zero=True)
  for key in ('num_train_steps', 'steps_per_epoch'):
    _positive(errors, config, key, allow_negative_one=True)
  for key in ('optim.b1', 'optim.b2'):
    if not 0 <= _get(config, key) < 1:
      errors.append(f'config.{key}={_get(config, key)!r} must be in [0, 1).')
  if config.init_epochs > config.num_epochs:
    errors.append(f'config.init_epochs={config.init_epochs} exceeds '
                  f'config.num_epochs={config.num_epochs} (num_epochs '
                  'includes the init epochs, as in [v2]).')
  if config.num_sample_images > config.data.num_val_images:
    errors.append(f'config.num_sample_images={config.num_sample_images} '
                  'exceeds config.data.num_val_images='
                  f'{config.data.num_val_images}.')
  lo, hi = tuple(config.data.crop_scale)
  if not 0 < lo <= hi <= 1:
    errors.append(f'config.data.crop_scale={(lo, hi)} must satisfy '
                  '0 < min <= max <= 1.')

  multiple = size_multiple(config.generator.name)
  size = config.data.image_size
  if size > 0 and size % multiple:
    errors.append(
        f'config.data.image_size={size} must be a multiple of {multiple} for '
        f'generator {config.generator.name!r} (its stride-2 stages); try '
        f'{max(multiple, size - size % multiple)}.')

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

  if config.data.source == 'folders':
    for key in ('data.photo_dir', 'data.style_dir'):
      if not _get(config, key):
        errors.append(f'config.{key} is empty but config.data.source='
                      "'folders' needs it (a directory of images).")
  if errors:
    raise ConfigError('Invalid config:\n  ' + '\n  '.join(errors))


@dataclasses.dataclass(frozen=True)
class Schedule:
  """Step counts of a run, derived from the config and the dataset size."""
  steps_per_epoch: int
  init_steps: int   # content-only (reconstruction) steps, phase 'init'
  total_steps: int  # init + adversarial steps

  @property
  def gan_steps(self) -> int:
    return self.total_steps - self.init_steps

  def phase(self, step: int) -> str:
    """'init' while step < init_steps, then 'gan' (step = steps done)."""
    return 'init' if step < self.init_steps else 'gan'


def derive(config: ml_collections.ConfigDict,
           num_train_images: int) -> Schedule:
  """Computes the step schedule.

  steps_per_epoch = config.steps_per_epoch if > 0, else
  num_train_images // batch_size ([v2] drops the last partial batch).
  init_steps = init_epochs * steps_per_epoch; total_steps = num_epochs *
  steps_per_epoch ([v2] counts the init epochs inside --epoch).

  With config.num_train_steps > 0 the run is cut (or stretched) to that many
  steps and the init phase keeps its share init_epochs / num_epochs of it,
  rounded, so short smoke runs still exercise both phases.
  """
  if num_train_images <= 0 and config.steps_per_epoch <= 0:
    raise ConfigError(
        f'the training set is empty (num_train_images={num_train_images}); '
        'check config.data.* or set config.steps_per_epoch.')
  if config.steps_per_epoch > 0:
    steps_per_epoch = int(config.steps_per_epoch)
  else:
    steps_per_epoch = num_train_images // config.batch_size
    if steps_per_epoch == 0:
      raise ConfigError(
          f'config.batch_size={config.batch_size} is larger than the '
          f'{num_train_images} training images: one epoch has no full batch. '
          'Lower batch_size or set config.steps_per_epoch.')
  init_steps = int(config.init_epochs) * steps_per_epoch
  total_steps = int(config.num_epochs) * steps_per_epoch
  if config.num_train_steps > 0:
    share = config.init_epochs / config.num_epochs
    total_steps = int(config.num_train_steps)
    init_steps = min(total_steps, int(round(share * total_steps)))
  return Schedule(steps_per_epoch=steps_per_epoch, init_steps=init_steps,
                  total_steps=total_steps)


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
