"""AnimeGAN's config keys: their checks and the step schedule derived from them.

`config_errors(config)` lists every bad AnimeGAN value (the run loop's keys
are checked by `animejax.config_lib.validate`, which calls this).
`derive(config, num_train_images)` computes the step counts from the
epoch-based keys of `configs/default.py`; they are never stored in the
config, so a command-line override such as `--config.batch_size=4` can't
leave them stale.
"""

from __future__ import annotations

import dataclasses

import ml_collections

from animejax.config_lib import ConfigError
from animejax.config_lib import check_choice
from animejax.config_lib import check_positive
from animejax.config_lib import get_key

# Choices of the enum-like keys. Registry names are read from
# animejax.models when it can be imported, else from these lists (the
# interface contract in the project brief).
GENERATOR_NAMES = ('animeganv2', 'animeganv1', 'cartoongan', 'animeganv3')
DISCRIMINATOR_NAMES = ('animegan', 'cartoongan')
CHOICES = {
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


def config_errors(config: ml_collections.ConfigDict) -> list[str]:
  """Every bad AnimeGAN value of `config` (key, value and the fix)."""
  errors: list[str] = []
  for key, choices in CHOICES.items():
    check_choice(errors, config, key, choices)
  check_choice(errors, config, 'generator.name', _registry('GENERATORS'))
  check_choice(errors, config, 'discriminator.name',
               _registry('DISCRIMINATORS'))

  for key in ('data.image_size', 'generator.width', 'discriminator.ch',
              'discriminator.n_dis', 'num_epochs', 'data.num_val_images',
              'data.procedural_epoch_size', 'optim.d_steps_per_g',
              'data.shuffle_buffer'):
    check_positive(errors, config, key)
  for key in ('init_epochs', 'data.prefetch', 'optim.init_lr', 'optim.g_lr',
              'optim.d_lr', 'optim.eps'):
    check_positive(errors, config, key, allow_zero=True)
  check_positive(errors, config, 'steps_per_epoch', allow_negative_one=True)
  for key in ('optim.b1', 'optim.b2'):
    if not 0 <= get_key(config, key) < 1:
      errors.append(f'config.{key}={get_key(config, key)!r} must be in [0, 1).')
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

  if config.data.source == 'folders':
    for key in ('data.photo_dir', 'data.style_dir'):
      if not get_key(config, key):
        errors.append(f'config.{key} is empty but config.data.source='
                      "'folders' needs it (a directory of images).")
  return errors


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


