"""Faces from noise: the anime-image-development DCGAN ('dcgan') and what
the noise-to-face methods share (data, state, metrics, samples, 'generate').

Source: [aid] Team7-Code/anime-image-development `Image Generator/
image_generator/dcgan_model.py` (train(), optimizers) and `dcgan_utils.py`
(get_x, get_y); [keras] Keras 2 defaults it relies on. The networks are
`animejax.models.dcgan` (layer list, BN momentum 0.5 convention).

One 'train' step (one compiled program) is [aid]'s loop body:
  d_steps (10) times, in a lax.scan over the step's real images:
    16 fakes G(z), z ~ U(-1, 1)^100, with G in inference mode ([aid]
    G.predict: BN moving averages); D.train_on_batch(fakes, 0), then
    D.train_on_batch(16 reals, 0.9): two Adam updates of D, Dropout 0.2 on.
  one G update on 32 fresh z with target 1 (G in training mode: batch
  statistics, BN moving averages updated with momentum 0.5; D's dropout on).
Losses are BCE on logits ([aid]: sigmoid + Keras binary_crossentropy, which
clips probabilities to [1e-7, 1 - 1e-7]; the logit form is the unclipped,
stable equivalent). Deviation: [aid] compiles the stacked G+D model while D
is trainable, so under Keras 2 its G step also moves D towards calling the
fakes real; we update only G in the G step (the DCGAN recipe [aid] states).

Metrics ('eval/...'): KID (unbiased MMD^2, cubic kernel; Binkowski et al.
2018) with its two-sample jackknife standard error, and FID (Heusel et al.
2017), between N generated and N held-out real faces, on spatially averaged
VGG19 conv5_4 features (512-d, `animejax.evaluation.KID_LAYER`). The metric
names carry the network: 'kid_vgg19' for ImageNet weights, 'kid_randvgg19'
for config.eval.vgg_weights='random' (a fixed-seed untrained VGG19: the
numbers then rank runs of one config but are comparable with nothing else).
These are NOT Inception-v3 FID/KID numbers unless config.eval.features =
'inception' (pytorch-fid's pool3 network, `animejax.models.inception_fid`;
the names then say 'kid_inception' / 'fid_inception').
"""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from animejax import config_lib
from animejax import evaluation
from animejax.data import labelled
from animejax.methods import base

STATE_VERSION = 1
# [aid] dcgan_utils.get_x: batch 32 split by factor 0.5 into 16 real + 16 fake;
# get_y: real labels 1 - 0.1, fake 0.
REAL_LABEL = 0.9
# [aid] train(): dis_train_factor = 10 D iterations per G iteration.
D_STEPS = 10
# [keras] Adam defaults beta_2 = 0.999, epsilon = K.epsilon() = 1e-7.
KERAS_ADAM_B2 = 0.999
KERAS_ADAM_EPS = 1e-7
EVAL_SEED = 1234  # fixed noise for the metrics
SAMPLE_SEED = 4321  # fixed noise for the sample grid


# ------------------------------------------------------------------ metrics
# (KID with its jackknife s.e. and FID: `animejax.evaluation`.)
def feature_tag(eval_cfg) -> str:
  """'inception' (the FID Inception-v3 pool3, eval.features='inception'),
  'vgg19' (ImageNet weights) or 'randvgg19' (untrained, fixed seed), with
  '_<layer>' when the layer is not conv5_4."""
  if eval_cfg.get('features', 'vgg19') == 'inception':
    return 'inception'
  tag = 'randvgg19' if eval_cfg.vgg_weights == 'random' else 'vgg19'
  layer = eval_cfg.get('vgg_layer', evaluation.KID_LAYER)
  return tag if layer == evaluation.KID_LAYER else f'{tag}_{layer}'


def batched(fn, x: np.ndarray, batch: int) -> np.ndarray:
  """fn over fixed-size chunks of x (pads the last: one compilation)."""
  out = []
  for i in range(0, len(x), batch):
    chunk = x[i:i + batch]
    pad = batch - len(chunk)
    if pad:
      chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, 0)])
    out.append(np.asarray(fn(chunk))[:batch - pad])
  return np.concatenate(out)


# ------------------------------------------------------------------ state
@flax.struct.dataclass
class FaceGANState:
  """G and D parameters, G's BN statistics and both optimizer states."""
  step: jax.Array
  g_params: Any
  g_stats: Any
  d_params: Any
  g_opt: Any
  d_opt: Any


def grid(images: np.ndarray, cols: int) -> np.ndarray:
  """uint8 grid of [N, H, W, 3] images in [-1, 1], `cols` per row."""
  from animejax import metrics as metrics_lib  # pylint: disable=g-import-not-at-top
  rows = len(images) // cols
  images = images[:rows * cols]
  return metrics_lib.image_grid([images[j::cols] for j in range(cols)])


class FaceGAN(base.Method):
  """What the noise-to-face methods share: labelled-folder data, the VGG19
  feature metrics, the fixed-noise sample grid and 'generate'."""
  conditional = False

  def __init__(self, config: ml_collections.ConfigDict):
    super().__init__(config)
    self._data: labelled.LabelledImages | None = None
    self._vgg = None
    self._real_features = None
    self._jit_cache: dict[str, Any] = {}

  @property
  def best_metric(self) -> tuple[str, str]:
    return f'eval/kid_{feature_tag(self.config.eval)}', 'min'

  # ---------------------------------------------------------------- data
  def data(self) -> labelled.LabelledImages:
    if self._data is None:
      self._data = labelled.from_config(self.config.data)
    return self._data

  def images_per_step(self) -> int:
    return self.config.batch_size

  def input_pipeline(self, start_step: int = 0) -> base.InputPipeline:
    data = self.data()
    stream = labelled.train_stream(
        data, self.images_per_step(), self.config.data.shuffle_seed,
        start_step, jax.process_index(), jax.process_count())
    if not self.conditional:
      stream = ({'image': b['image']} for b in stream)
    return base.InputPipeline(num_train_images=len(data.train_images),
                              train_iter=stream, val=data,
                              skipped_files=data.skipped_files)

  def schedule(self, num_train_images: int) -> base.Schedule:
    c = self.config
    total = c.num_train_steps if c.num_train_steps > 0 else c.train_steps
    return base.Schedule(
        total_steps=total, step_kind=lambda step: 'train', kinds=('train',),
        summary=(f'{total} steps of {self.images_per_step()} real images '
                 f'({num_train_images} training faces)'))

  # ---------------------------------------------------------------- noise
  def noise(self, rng: jax.Array, n: int) -> jax.Array:
    raise NotImplementedError

  def sample_labels(self, rng: jax.Array, n: int) -> jax.Array | None:
    """Labels for generated images (None for an unconditional G)."""
    del rng, n
    return None

  def grid_labels(self, n: int) -> np.ndarray | None:
    del n
    return None

  # ---------------------------------------------------------------- eval
  def frozen(self) -> Any:
    if self.config.eval.get('features', 'vgg19') == 'inception':
      from animejax.models import inception_fid  # pylint: disable=g-import-not-at-top
      path = inception_fid.fid_weights_path(
          self.config.eval.get('inception_weights', ''))
      self._vgg = 'inception'
      return inception_fid.load_variables(path)
    from animejax.models import vgg_weights  # pylint: disable=g-import-not-at-top
    cfg = ml_collections.ConfigDict({'weights': self.config.eval.vgg_weights,
                                     'preprocess': 'auto', 'cache_dir': ''})
    self._vgg, params = vgg_weights.vgg_from_config(cfg)
    return params

  def _features(self, frozen, images: np.ndarray) -> np.ndarray:
    if self._vgg is None:
      self.frozen()
    if 'features' not in self._jit_cache and self._vgg == 'inception':
      from animejax.models import inception_fid  # pylint: disable=g-import-not-at-top
      model = inception_fid.FIDInceptionV3()
      self._jit_cache['features'] = jax.jit(model.apply)
    if 'features' not in self._jit_cache:
      vgg = self._vgg
      layer = self.config.eval.get('vgg_layer', evaluation.KID_LAYER)

      def pooled(vp, x):
        f = vgg.apply({'params': vp}, x, layer=layer, pre_relu=False)
        return jnp.mean(f.astype(jnp.float32), axis=(1, 2))
      self._jit_cache['features'] = jax.jit(pooled)
    fn = self._jit_cache['features']
    return batched(lambda x: fn(frozen, x), images,
                   self.config.eval.batch_size)

  def generate_numpy(self, params, z: np.ndarray,
                     labels: np.ndarray | None) -> np.ndarray:
    """G(z[, labels]) in batches, float32 [-1, 1]."""
    if 'generate' not in self._jit_cache:
      self._jit_cache['generate'] = jax.jit(self.predict_fns()['generate'])
    fn = self._jit_cache['generate']
    inputs = np.concatenate([z, labels], 1) if labels is not None else z
    nz = z.shape[1]

    def run(chunk):
      feed = {'z': chunk[:, :nz]}
      if labels is not None:
        feed['labels'] = chunk[:, nz:]
      return fn(params, feed)['images']
    return batched(run, inputs, self.config.eval.batch_size)

  def eval_inputs(self, n: int, seed: int
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    kz, kl = jax.random.split(jax.random.key(seed))
    z = np.asarray(self.noise(kz, n))
    labels = self.sample_labels(kl, n)
    return z, None if labels is None else np.asarray(labels)

  def evaluate(self, state, frozen, pipeline) -> dict[str, float]:
    data: labelled.LabelledImages = pipeline.val
    n = min(self.config.eval.num_images, len(data.val_images))
    if self._real_features is None:
      self._real_features = self._features(frozen, data.val_float()[:n])
    z, labels = self.eval_inputs(n, EVAL_SEED)
    fake = self.generate_numpy(self.inference_params(state), z, labels)
    f_fake = self._features(frozen, fake)
    tag = feature_tag(self.config.eval)
    value, stderr = evaluation.kid_with_stderr(f_fake, self._real_features)
    out = {f'eval/kid_{tag}': value, f'eval/kid_{tag}_stderr': stderr,
           f'eval/fid_{tag}': evaluation.fid(f_fake,
                                             self._real_features),
           'eval/num_images': float(n)}
    out.update(self.extra_metrics(state, data, fake, labels, n))
    return out

  def extra_metrics(self, state, data, fake, labels, n) -> dict[str, float]:
    del state, data, fake, labels, n
    return {}

  def sample_grid(self, state, frozen, pipeline) -> np.ndarray | None:
    n = self.config.num_sample_images
    if n <= 0:
      return None
    z, _ = self.eval_inputs(n, SAMPLE_SEED)
    labels = self.grid_labels(n)
    images = self.generate_numpy(self.inference_params(state), z, labels)
    return grid(images, int(np.ceil(np.sqrt(n))))

  # ---------------------------------------------------------------- serve
  def predict_example(self, task, pipeline):
    if task != 'generate':
      raise ValueError(f'{self.name} serves only \'generate\', not {task!r}.')
    z, labels = self.eval_inputs(2, 0)
    out = {'z': z}
    if labels is not None:
      out['labels'] = labels
    return out

  def inference_params(self, state):
    return {'params': state.g_params, 'batch_stats': state.g_stats}


def keras_adam(lr: float, b1: float) -> optax.GradientTransformation:
  return optax.adam(lr, b1=b1, b2=KERAS_ADAM_B2, eps=KERAS_ADAM_EPS)


# ------------------------------------------------------------------ DCGAN
class DCGAN(FaceGAN):
  """[aid] DCGAN: unconditional, 32 x 32 faces from 100-d uniform noise."""
  name = 'dcgan'
  state_version = STATE_VERSION

  def __init__(self, config: ml_collections.ConfigDict):
    super().__init__(config)
    from animejax.models import dcgan  # pylint: disable=g-import-not-at-top
    m = config.model
    self.generator = dcgan.DCGANGenerator(
        noise_dim=m.noise_dim, image_size=config.data.image_size,
        widths=tuple(m.g_widths))
    self.discriminator = dcgan.DCGANDiscriminator(
        widths=tuple(m.d_widths), dropout=m.dropout,
        minibatch_std=m.minibatch_std)
    o = config.optim
    self.g_tx = keras_adam(o.g_lr, o.b1)
    self.d_tx = keras_adam(o.d_lr, o.b1)

  def images_per_step(self) -> int:
    # d_steps D iterations of batch_size / 2 reals each ([aid] get_x).
    return self.config.d_steps * self.config.batch_size // 2

  def noise(self, rng, n):
    # [aid] get_x / train(): np.random.uniform(-1, 1, (n, 100)).
    return jax.random.uniform(rng, (n, self.config.model.noise_dim),
                              jnp.float32, -1.0, 1.0)

  def init(self, rng):
    kg, kd = jax.random.split(rng)
    s = self.config.data.image_size
    g_vars = self.generator.init(kg,
                                 jnp.zeros((2, self.config.model.noise_dim)))
    d_vars = self.discriminator.init(kd, jnp.zeros((4, s, s, 3)))
    return FaceGANState(
        step=jnp.zeros((), jnp.int32), g_params=g_vars['params'],
        g_stats=g_vars['batch_stats'], d_params=d_vars['params'],
        g_opt=self.g_tx.init(g_vars['params']),
        d_opt=self.d_tx.init(d_vars['params']))

  def _d_logits(self, d_params, x, rng):
    return self.discriminator.apply({'params': d_params}, x, train=True,
                                    rngs={'dropout': rng})

  def train_step(self, state, frozen, batch, rng, kind):
    del frozen
    if kind != 'train':
      raise ValueError(f'dcgan has one step kind, \'train\'; got {kind!r}.')
    c = self.config
    half = c.batch_size // 2
    reals = batch['image'].reshape((c.d_steps, half) + batch['image'].shape[1:])
    g_infer = {'params': state.g_params, 'batch_stats': state.g_stats}
    bce = optax.sigmoid_binary_cross_entropy

    def d_update(d_params, d_opt, x, target, key):
      def loss_fn(p):
        logits = self._d_logits(p, x, key)
        return jnp.mean(bce(logits, jnp.full_like(logits, target))), logits
      (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(
          d_params)
      updates, d_opt = self.d_tx.update(grads, d_opt, d_params)
      return optax.apply_updates(d_params, updates), d_opt, loss, logits

    def d_iteration(carry, inputs):
      d_params, d_opt = carry
      real, key = inputs
      kz, kf, kr = jax.random.split(key, 3)
      # [aid]: fakes from G.predict (inference mode), fake batch first.
      fake = self.generator.apply(g_infer, self.noise(kz, half))
      d_params, d_opt, loss_f, logit_f = d_update(d_params, d_opt, fake, 0.0,
                                                  kf)
      d_params, d_opt, loss_r, logit_r = d_update(d_params, d_opt, real,
                                                  c.real_label, kr)
      return (d_params, d_opt), (loss_r, loss_f, jnp.mean(logit_r > 0),
                                 jnp.mean(logit_f < 0))

    k_d, k_z, k_drop = jax.random.split(rng, 3)
    (d_params, d_opt), (lr_, lf, acc_r, acc_f) = jax.lax.scan(
        d_iteration, (state.d_params, state.d_opt),
        (reals, jax.random.split(k_d, c.d_steps)))

    z = self.noise(k_z, c.batch_size)

    def g_loss_fn(g_params):
      fake, new_vars = self.generator.apply(
          {'params': g_params, 'batch_stats': state.g_stats}, z, train=True,
          mutable=['batch_stats'])
      logits = self._d_logits(d_params, fake, k_drop)
      # [aid]: y_mislabled = ones (no smoothing for G's target).
      return jnp.mean(bce(logits, jnp.ones_like(logits))), new_vars
    (g_loss, new_vars), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
        state.g_params)
    updates, g_opt = self.g_tx.update(g_grads, state.g_opt, state.g_params)
    new_state = state.replace(
        step=state.step + 1, g_params=optax.apply_updates(state.g_params,
                                                          updates),
        g_stats=new_vars['batch_stats'], d_params=d_params, g_opt=g_opt,
        d_opt=d_opt)
    metrics = {'d_loss_real': jnp.mean(lr_), 'd_loss_fake': jnp.mean(lf),
               'd_acc_real': jnp.mean(acc_r), 'd_acc_fake': jnp.mean(acc_f),
               'g_loss': g_loss}
    return new_state, jax.tree.map(lambda v: v.astype(jnp.float32), metrics)

  def predict_fns(self):
    generator = self.generator

    def generate(params, inputs):
      """{'z': [N, noise_dim]} -> {'images': [N, S, S, 3] in [-1, 1]}."""
      return {'images': generator.apply(params, inputs['z'])}
    return {'generate': generate}


# ------------------------------------------------------------------ config
def add_data_config(c: ml_collections.ConfigDict, image_size: int) -> None:
  """config.data of the labelled-folder source (paths are set by recipes)."""
  c.data = ml_collections.ConfigDict()
  c.data.source = 'folder'       # 'folder' | 'tfds' | 'synthetic' (tests)
  c.data.image_dir = ''
  c.data.labels_csv = ''          # '' = unlabelled
  c.data.image_size = image_size
  c.data.num_val_images = 1000   # held out: the metrics' real set
  c.data.split_seed = 0
  c.data.shuffle_seed = 0
  c.data.max_images = 0           # > 0: the first N ids only
  c.data.synthetic_size = 64      # images of the 'synthetic' source
  # source 'tfds': the Kaggle/Getchu anime faces (TFDS 'anime_faces', built
  # from archive.zip in manual_dir; animejax/data/tfds_getchu.py).
  c.data.tfds_data_dir = ''       # '' = TFDS default (~/tensorflow_datasets)
  c.data.manual_dir = ''          # holds archive.zip (Kaggle login needed)
  c.eval = ml_collections.ConfigDict()
  c.eval.num_images = 1000        # generated and held-out real faces
  # 'torchvision' (ImageNet, downloaded once), a VGG19 file, or 'random'.
  c.eval.vgg_weights = 'torchvision'
  c.eval.batch_size = 50
  # Pooled post-ReLU features of this layer (evaluation.KID_LAYER).
  c.eval.vgg_layer = 'conv5_4'
  # 'vgg19' (the above) or 'inception': the FID Inception-v3 pool3 of
  # pytorch-fid (comparable with published FID/KID), from
  # eval.inception_weights or downloaded to ~/.cache/animejax
  # (animejax/models/inception_fid.py).
  c.eval.features = 'vgg19'
  c.eval.inception_weights = ''


def data_errors(config) -> list[str]:
  errors: list[str] = []
  config_lib.check_choice(errors, config, 'data.source',
                          ('folder', 'tfds', 'synthetic'))
  if config.data.source == 'folder' and not config.data.image_dir:
    errors.append('config.data.image_dir is empty; set it to a folder of '
                  'faces (e.g. ../shared/data/faces/anime64_tagged/images).')
  for key in ('data.image_size', 'eval.num_images', 'eval.batch_size',
              'data.num_val_images'):
    config_lib.check_positive(errors, config, key)
  config_lib.check_positive(errors, config, 'train_steps')
  if config.eval.get('features', 'vgg19') not in ('vgg19', 'inception'):
    errors.append(f'config.eval.features={config.eval.features!r}: use '
                  "'vgg19' or 'inception'.")
  if config.eval.num_images < 3:
    errors.append('config.eval.num_images must be >= 3 (KID stderr).')
  return errors


def smoke_overrides(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """What every face method's smoke_config shares: synthetic 16 px faces,
  8 held-out / evaluated images, random VGG19 conv1_1 features, batch 4,
  4 steps with every cadence at 2 and a 2 x 2 sample grid. Returns c."""
  c.data.source = 'synthetic'
  c.data.image_size = 16
  c.data.synthetic_size = 24
  c.data.num_val_images = 8
  c.eval.num_images = 8
  c.eval.batch_size = 8
  c.eval.vgg_weights = 'random'
  c.eval.vgg_layer = 'conv1_1'
  c.batch_size = 4
  c.train_steps = 4
  c.num_sample_images = 4
  for key in ('log_every_steps', 'checkpoint_every_steps', 'eval_every_steps',
              'sample_every_steps'):
    c[key] = 2
  return c


def get_config_base() -> ml_collections.ConfigDict:
  """[aid]'s recipe (paths unset; configs/dcgan_anime32.py sets them)."""
  c = config_lib.run_config('dcgan')
  c.batch_size = 32               # [aid] train(): batch = 32 (16 real+16 fake)
  c.d_steps = D_STEPS             # [aid] dis_train_factor = 10
  c.real_label = REAL_LABEL       # [aid] get_y: 1 - 0.1
  c.train_steps = 10000
  add_data_config(c, 32)  # [aid] readImagesShort(scale_size=32)
  c.model = ml_collections.ConfigDict()
  c.model.noise_dim = 100         # [aid] Dense(input_shape=(100,))
  c.model.g_widths = (256, 128, 64, 32)  # [aid] generator()
  c.model.d_widths = (32, 64, 128, 256)  # [aid] discriminator()
  c.model.dropout = 0.2           # [aid] discriminator(): dropout = 0.2
  c.model.minibatch_std = False   # not in [aid] (IllustrationGAN-style option)
  c.optim = ml_collections.ConfigDict()
  c.optim.d_lr = 2e-5             # [aid] optimizer_DM = Adam(lr=0.00002, ...)
  c.optim.g_lr = 1e-5             # [aid] optimizer_AM = Adam(lr=0.00001, ...)
  c.optim.b1 = 0.5                # [aid] beta_1=0.5 (both)
  c.num_sample_images = 64        # 8 x 8 grid
  return c


def config_errors(config: ml_collections.ConfigDict) -> list[str]:
  errors = data_errors(config)
  if config.batch_size % 2:
    errors.append(f'config.batch_size={config.batch_size} must be even '
                  '(half real, half fake).')
  config_lib.check_positive(errors, config, 'd_steps')
  if not 0.0 < config.real_label <= 1.0:
    errors.append(f'config.real_label={config.real_label} must be in (0, 1].')
  for key in ('optim.d_lr', 'optim.g_lr'):
    config_lib.check_positive(errors, config, key)
  if config.data.image_size % 2:
    errors.append('config.data.image_size must be even.')
  if config.model.minibatch_std and config.batch_size // 2 % 4:
    errors.append('model.minibatch_std needs batch_size / 2 divisible by 4.')
  return errors


def create(config: ml_collections.ConfigDict) -> DCGAN:
  return DCGAN(config)


def smoke_config() -> ml_collections.ConfigDict:
  """Tiny widths, synthetic 16 px faces, random VGG: seconds on a CPU."""
  c = smoke_overrides(get_config_base())
  c.model.g_widths = (8, 4)
  c.model.d_widths = (4, 8)
  c.d_steps = 2
  return c

