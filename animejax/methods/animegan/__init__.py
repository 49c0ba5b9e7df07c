"""AnimeGAN v1/v2 and CartoonGAN on the method interface.

A run has two phases, both derived from the step (never stored):
  'init'  steps [0, init_steps): content loss only ([v2] init_train).
  'gan'   steps [init_steps, total_steps): adversarial training.
The state, the steps and the losses' combination are in `steps.py`, the
config checks and the schedule in `config.py`, the validation metrics in
`animejax.evaluation`. The exported inference function is 'translate'
(photo -> anime, [-1, 1] NHWC), which `animejax.cartoonize` serves.
"""

from __future__ import annotations

from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from animejax.methods import base
from animejax.methods.animegan import config as config_lib
from animejax.methods.animegan import steps

# 1: the state held its own PRNG key (before the run loop took over the
# per-step keys); 2: TrainState without `rng`.
STATE_VERSION = 2


def _dtype(config) -> Any:
  return {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}[config.dtype]


class AnimeGAN(base.Method):
  """Init phase (content loss) then GAN phase, as [v2] AnimeGANv2.py."""
  name = 'animegan'
  state_version = STATE_VERSION

  def __init__(self, config: ml_collections.ConfigDict):
    super().__init__(config)
    from animejax import models  # pylint: disable=g-import-not-at-top
    from animejax.models import vgg_weights  # pylint: disable=g-import-not-at-top
    dtype = _dtype(config)
    self.generator = models.generator_from_config(config.generator,
                                                  dtype=dtype)
    self.discriminator = models.discriminator_from_config(
        config.discriminator, dtype=dtype)
    if config.vgg.weights == 'random':
      # vgg_weights also prints a banner; this line lands beside the schedule.
      logging.warning("config.vgg.weights='random': content/style losses and "
                      'KID use an untrained VGG19 (demo/test only).')
    self.vgg, self._vgg_params = vgg_weights.vgg_from_config(config.vgg,
                                                             dtype=dtype)
    self._derived: config_lib.Schedule | None = None
    self._step_fns = None
    self._evaluator = None

  @property
  def best_metric(self) -> tuple[str, str]:
    from animejax import evaluation  # pylint: disable=g-import-not-at-top
    return evaluation.best_metric(self.config)

  # ---------------------------------------------------------------- data
  def input_pipeline(self, start_step: int = 0) -> base.InputPipeline:
    from animejax import data as data_lib  # pylint: disable=g-import-not-at-top
    pipeline = data_lib.create_input_pipeline(self.config,
                                              start_step=start_step)
    return base.InputPipeline(num_train_images=pipeline.num_train_images,
                              train_iter=pipeline.train_iter, val=pipeline,
                              skipped_files=pipeline.skipped_files)

  def schedule(self, num_train_images: int) -> base.Schedule:
    s = config_lib.derive(self.config, num_train_images)
    self._derived = s
    self._step_fns = None  # the optimizers' schedules depend on it
    return base.Schedule(
        total_steps=s.total_steps, step_kind=s.phase, kinds=('init', 'gan'),
        summary=(f'{s.steps_per_epoch} steps/epoch, {s.init_steps} init '
                 f'steps, {s.total_steps} total steps'))

  # ---------------------------------------------------------------- state
  def frozen(self) -> Any:
    return self._vgg_params

  def init(self, rng: jax.Array) -> steps.TrainState:
    return steps.create_train_state(self.config, rng, self.generator,
                                    self.discriminator)

  def train_step(self, state, frozen, batch, rng, kind):
    if self._step_fns is None:
      gan_steps = None if self._derived is None else self._derived.gan_steps
      self._step_fns = steps.step_functions(
          self.config, self.generator, self.discriminator, self.vgg,
          total_gan_steps=gan_steps)
    return self._step_fns[kind](state, batch, frozen, rng)

  # ---------------------------------------------------------------- results
  def _get_evaluator(self, frozen):
    from animejax import evaluation  # pylint: disable=g-import-not-at-top
    if self._evaluator is None:
      self._evaluator = evaluation.Evaluator(
          self.generator, self.vgg, frozen, self.config.vgg.layer,
          self.config.batch_size)
    return self._evaluator

  def evaluate(self, state, frozen, pipeline):
    val = pipeline.val
    return self._get_evaluator(frozen)(state.g_params, val.val_photos,
                                       val.val_targets, val.val_style)

  def sample_grid(self, state, frozen, pipeline) -> np.ndarray | None:
    """photo | G(photo) [| ground-truth anime] rows."""
    from animejax import metrics as metrics_lib  # pylint: disable=g-import-not-at-top
    n = self.config.num_sample_images
    val = pipeline.val
    photos = val.val_photos[:n]
    if not len(photos):
      return None
    generated = self._get_evaluator(frozen).generate(state.g_params, photos)
    columns = [photos, generated]
    if val.val_targets is not None:
      columns.append(val.val_targets[:n])
    return metrics_lib.image_grid(columns)

  def predict_fns(self):
    generator = self.generator

    def translate(g_params, inputs):
      """{'images': [-1, 1] photos [N, H, W, 3]} -> {'images': anime}."""
      out = generator.apply({'params': g_params}, inputs['images'])
      return {'images': jnp.clip(out, -1.0, 1.0)}
    return {'translate': translate}

  def predict_example(self, task, pipeline):
    if task != 'translate':
      raise ValueError(f'AnimeGAN serves only \'translate\', not {task!r}.')
    return {'images': pipeline.val.val_photos[:2]}

  def inference_params(self, state):
    return state.g_params

  def checkpoint_meta(self, step: int) -> dict[str, Any]:
    s = self._derived
    if s is None:
      return {}
    return {'phase': s.phase(step), 'steps_per_epoch': s.steps_per_epoch,
            'init_steps': s.init_steps}


def create(config: ml_collections.ConfigDict) -> AnimeGAN:
  return AnimeGAN(config)


def generator_kwargs(generator_config) -> dict[str, Any]:
  """The model kwargs `models.create_generator` needs, from config.generator.

  Only the keys the generator class declares as fields are kept (e.g.
  'upsample' exists for v1/v2 but not v3); 'name' and 'init_from' are not
  model fields.
  """
  import dataclasses  # pylint: disable=g-import-not-at-top
  from animejax import models  # pylint: disable=g-import-not-at-top
  name = generator_config['name']
  fields = {f.name for f in dataclasses.fields(models.GENERATORS[name])}
  return {k: v for k, v in generator_config.items()
          if k in fields and k not in ('name', 'init_from')}


def export_weights(state, config):
  """The generator of a saved state (nested dicts, as orbax restores it
  without a target) as a `weights_io.GeneratorWeights`; `config` is the
  run's config as JSON (a dict)."""
  from animejax import weights_io  # pylint: disable=g-import-not-at-top
  gen = config['generator']
  data = config.get('data', {})
  return weights_io.GeneratorWeights(
      arch=gen['name'], model_kwargs=generator_kwargs(gen),
      params=jax.tree.map(np.asarray, state['g_params']),
      meta={'style': data.get('style', ''),
            'data_source': data.get('source', '')})


def smoke_config() -> ml_collections.ConfigDict:
  """A run of a few CPU-seconds: narrow v2 G, 2-stage D, 32 px, random VGG
  stopped at conv1_1, 2 init + 2 GAN steps (tests and benchmarks)."""
  from configs import demo  # pylint: disable=g-import-not-at-top
  c = demo.get_config()
  c.data.image_size = 32
  c.data.procedural_epoch_size = 8
  c.data.num_val_images = 4
  c.data.shuffle_buffer = 8
  c.batch_size = 2
  c.generator.width = 0.25
  c.discriminator.ch = 8
  c.discriminator.n_dis = 1
  c.vgg.layer = 'conv1_1'
  c.steps_per_epoch = 2
  c.num_epochs = 2
  c.init_epochs = 1
  c.num_sample_images = 2
  for key in ('log_every_steps', 'checkpoint_every_steps', 'eval_every_steps',
              'sample_every_steps'):
    c[key] = 2
  return c


# Read by config_lib.validate through `methods.module(name)`.
config_errors = config_lib.config_errors
