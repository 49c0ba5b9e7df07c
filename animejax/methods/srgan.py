"""SRResNet / SRGAN x4 super-resolution on the method interface.

Sources:
  [paper] Ledig et al., "Photo-Realistic Single Image Super-Resolution Using
          a Generative Adversarial Network", CVPR 2017, Sec. 2.2 and 3.2.
  [port]  Lornatang/SRGAN-PyTorch (`train_srresnet.py`, `train_srgan.py`,
          `model.py` ContentLoss, `configs/train/*.yaml`).
  [seed]  Team7-Code/anime-image-development `Super Resolution/SRGAN.py`
          (Keras, 32 -> 128 px anime faces).

A run has two phases, both derived from the step (never stored):
  'pretrain'  steps [0, pretrain_steps): SRResNet with pixel MSE ([paper]
              SRResNet-MSE, the SRGAN initialisation; [port]
              train_srresnet.py).
  'gan'       the rest: generator step (w_mse MSE + w_vgg VGG19 content
              loss + w_adv BCE adversarial) then discriminator step (BCE,
              real HR vs the same step's SR, detached), as [port]
              train_srgan.py orders them. The GAN stage gets fresh Adam
              states ([port] builds new optimizers for it).
Content loss: MSE between VGG19 features of SR and HR at `loss.vgg_layer`
(conv5_4 after its ReLU = [paper] phi_5,4, [port] `features.35`), each
multiplied by `loss.vgg_feature_scale` ([paper] 1/12.75 "to obtain VGG
losses of a scale comparable to the MSE loss"; [port] uses 1 with
content_weight 1). The VGG19 is `vgg_weights.vgg_from_config`, frozen.

Data range: LR in [0, 1]; SR and HR in [0, 1] ([port]) or, with
model.out_activation='tanh' ([seed]), in [-1, 1]. BatchNorm running
statistics live in the state (g_stats, d_stats); evaluation and
prediction use them (frozen BN). Evaluation is the SR field's: PSNR and
SSIM on the BT.601 Y channel, `scale` border pixels cropped, outputs
rounded to 8 bits, next to MATLAB bicubic on the same held-out images.
The predict function 'upscale' maps {'images': [0, 1] LR} -> {'images':
[0, 1] SR}; `animejax.upscale` serves it.
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
from animejax.config_lib import check_choice
from animejax.config_lib import check_positive
from animejax.config_lib import get_key
from animejax.methods import base

# 1: g/d params and batch stats, pretrain/gan/d Adam states.
STATE_VERSION = 1

CHOICES = {
    'data.source': ('folder', 'tfds'),
    'model.upsample': ('pixel_shuffle', 'nearest'),
    'model.out_activation': ('none', 'tanh', 'clamp'),
    'model.residual': ('none', 'bicubic'),
    'model.prelu': ('shared', 'channel'),
    'discriminator.padding': ('torch', 'same'),
    'vgg.preprocess': ('auto', 'caffe', 'torch'),
    'loss.vgg_layer': tuple(f'conv{b}_{i}' for b, n in
                       ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))
                       for i in range(1, n + 1)),
}
MODEL_KEYS = ('channels', 'num_blocks', 'upsample', 'out_activation',
              'bn_momentum', 'bn_epsilon', 'prelu', 'prelu_init',
              'conv_bias_before_bn')


@flax.struct.dataclass
class SRGANState:
  g_params: Any
  g_stats: Any
  d_params: Any
  d_stats: Any
  g_opt_pretrain: Any
  g_opt_gan: Any
  d_opt: Any


def model_kwargs(config: Any) -> dict[str, Any]:
  """SRResNet kwargs from config.model (+ data.scale), plain Python values."""
  m = config['model']
  kw = {k: m[k] for k in MODEL_KEYS}
  kw['upscale'] = int(config['data']['scale'])
  return kw


def _dtype(config) -> Any:
  return {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}[config.dtype]


def _bce(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """torch BCEWithLogitsLoss / Keras sigmoid + binary_crossentropy, mean."""
  return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, labels))


def unit_to_model(x: jax.Array, tanh: bool) -> jax.Array:
  """[0, 1] images -> the generator's output range."""
  return x * 2.0 - 1.0 if tanh else x


def model_to_unit(y: jax.Array, tanh: bool) -> jax.Array:
  """Generator output -> [0, 1], clipped (inference and evaluation)."""
  return jnp.clip((y + 1.0) * 0.5 if tanh else y, 0.0, 1.0)


def bicubic_up(lr: jax.Array, scale: int) -> jax.Array:
  """[N, h, w, 3] -> [N, h*s, w*s, 3], Keys a = -0.5 cubic (jax.image)."""
  n, h, w, c = lr.shape
  return jax.image.resize(lr.astype(jnp.float32), (n, h * scale, w * scale, c),
                          'bicubic')


def generate(generator, variables, lr, residual: str, tanh: bool,
             train: bool = False, **kw):
  """SRResNet output, plus the bicubic-up-sampled LR (in the output's
  range) when residual='bicubic' (VDSR-style global residual, Kim et al.
  2016; not in [paper]). Returns what `generator.apply` returns."""
  out = generator.apply(variables, lr, train=train, **kw)
  if residual != 'bicubic':
    return out
  up = unit_to_model(bicubic_up(lr, generator.upscale), tanh)
  if isinstance(out, tuple):
    return out[0] + up, out[1]
  return out + up


class SRGAN(base.Method):
  """SRResNet MSE pre-training, then SRGAN."""
  name = 'srgan'
  state_version = STATE_VERSION

  def __init__(self, config: ml_collections.ConfigDict):
    super().__init__(config)
    from absl import logging  # pylint: disable=g-import-not-at-top
    from animejax.models import srgan as srgan_models  # pylint: disable=g-import-not-at-top
    from animejax.models import vgg_weights  # pylint: disable=g-import-not-at-top
    dtype = _dtype(config)
    self.tanh = config.model.out_activation == 'tanh'
    self.generator = srgan_models.SRResNet(**model_kwargs(config), dtype=dtype)
    d = config.discriminator
    self.discriminator = srgan_models.SRGANDiscriminator(
        channels=d.channels, image_size=config.data.hr_crop,
        dense_features=d.dense_features, padding=d.padding,
        conv_bias=d.conv_bias, bn_momentum=d.bn_momentum,
        bn_epsilon=d.bn_epsilon, dtype=dtype)
    self.uses_vgg = config.loss.vgg_weight > 0
    self.vgg, self._vgg_params = None, {}
    if self.uses_vgg:
      if config.vgg.weights == 'random':
        logging.warning("config.vgg.weights='random': the content loss uses "
                        'an untrained VGG19 (demo/test only).')
      try:
        self.vgg, self._vgg_params = vgg_weights.vgg_from_config(config.vgg,
                                                                 dtype=dtype)
      except FileNotFoundError as e:
        # Offline without the ImageNet file: say which loss needs it (the
        # message below names the file and where to put it).
        raise FileNotFoundError(
            f"srgan: the 'gan' stage's VGG19 {config.loss.vgg_layer} content "
            f'loss (loss.vgg_weight={config.loss.vgg_weight}) needs ImageNet '
            f'VGG19 weights (config.vgg.weights={config.vgg.weights!r}). '
            f'{e}\nWithout them: --config.loss.vgg_weight=0 trains the GAN '
            'stage on MSE + adversarial only (not [paper]\'s SRGAN).') from e
    self._init_g = load_generator_init(config.model.init_from)
    self._gan_steps = None
    self._pretrain_steps = None
    self._infer = None

  @property
  def best_metric(self) -> tuple[str, str]:
    return 'eval/psnr_y', 'max'

  # ---------------------------------------------------------------- data
  def input_pipeline(self, start_step: int = 0) -> base.InputPipeline:
    from animejax.data import sr_pairs  # pylint: disable=g-import-not-at-top
    data = sr_pairs.create(self.config, start_step=start_step)
    return base.InputPipeline(num_train_images=data.num_train_images,
                              train_iter=data.train_iter, val=data.val,
                              skipped_files=data.skipped_files)

  def _phases(self) -> tuple[int, int]:
    c = self.config
    pre, gan = c.pretrain_steps, c.gan_steps
    if c.num_train_steps > 0:  # overrides: same split, scaled down
      pre = min(pre, c.num_train_steps) if not gan else (
          c.num_train_steps * pre // (pre + gan))
      gan = c.num_train_steps - pre
    return pre, gan

  def schedule(self, num_train_images: int) -> base.Schedule:
    del num_train_images  # step-based recipe ([paper]: counted in updates)
    pre, gan = self._phases()
    self._pretrain_steps, self._gan_steps = pre, gan
    kinds = tuple(k for k, n in (('pretrain', pre), ('gan', gan)) if n)
    return base.Schedule(
        total_steps=pre + gan,
        step_kind=lambda s: 'pretrain' if s < pre else 'gan', kinds=kinds,
        summary=f'{pre} pretrain (MSE) steps, {gan} GAN steps')

  # ---------------------------------------------------------------- state
  def frozen(self) -> Any:
    return self._vgg_params

  def _optimizers(self):
    o = self.config.optim
    gan_steps = self._gan_steps if self._gan_steps is not None else (
        self._phases()[1])
    boundaries = {}
    if o.lr_decay_fraction > 0:
      # [paper] 1e-4 then 1e-5 for the second half of the updates; [port]
      # MultiStepLR(milestones=[epochs // 2], gamma=0.1).
      boundaries = {max(1, int(gan_steps * o.lr_decay_fraction)):
                    o.lr_decay_factor}
    gan_lr = lambda lr: optax.piecewise_constant_schedule(lr, boundaries)
    pretrain = optax.adam(o.pretrain_lr, b1=o.b1, b2=o.b2, eps=o.eps)
    g_gan = optax.adam(gan_lr(o.g_lr), b1=o.b1, b2=o.b2, eps=o.eps)
    d_gan = optax.adam(gan_lr(o.d_lr), b1=o.b1, b2=o.b2, eps=o.eps)
    return pretrain, g_gan, d_gan

  def init(self, rng: jax.Array) -> SRGANState:
    c = self.config
    k_g, k_d = jax.random.split(rng)
    lr_side = c.data.hr_crop // c.data.scale
    g_vars = self.generator.init(k_g, jnp.zeros((1, lr_side, lr_side, 3)),
                                 train=False)
    d_vars = self.discriminator.init(
        k_d, jnp.zeros((1, c.data.hr_crop, c.data.hr_crop, 3)), train=False)
    if c.model.residual == 'bicubic':
      # The last conv starts at zero: the net starts as bicubic up-sampling
      # and learns the correction (zero-initialised residual branch).
      g_vars = flax.core.unfreeze(g_vars)
      g_vars['params']['conv3'] = jax.tree.map(jnp.zeros_like,
                                               g_vars['params']['conv3'])
    if self._init_g is not None:  # e.g. SRGAN from a trained SRResNet
      g_vars = _checked_like(self._init_g, g_vars, c.model.init_from)
    pretrain, g_gan, d_gan = self._optimizers()
    return SRGANState(
        g_params=g_vars['params'], g_stats=g_vars.get('batch_stats', {}),
        d_params=d_vars['params'], d_stats=d_vars.get('batch_stats', {}),
        g_opt_pretrain=pretrain.init(g_vars['params']),
        g_opt_gan=g_gan.init(g_vars['params']),
        d_opt=d_gan.init(d_vars['params']))

  def train_step(self, state, frozen, batch, rng, kind):
    if kind == 'pretrain':
      return self._pretrain_step(state, batch)
    if kind == 'gan':
      return self._gan_step(state, frozen, batch, rng)
    raise ValueError(f'srgan has no step kind {kind!r}.')

  def _g_apply(self, params, stats, lr):
    """Generator in training mode: (output, new batch stats)."""
    out, new = generate(self.generator,
                        {'params': params, 'batch_stats': stats}, lr,
                        self.config.model.residual, self.tanh, train=True,
                        mutable=['batch_stats'])
    return out, new['batch_stats']

  def _d_apply(self, params, stats, x):
    out, new = self.discriminator.apply(
        {'params': params, 'batch_stats': stats}, x, train=True,
        mutable=['batch_stats'])
    return out, new['batch_stats']

  def _pretrain_step(self, state, batch):
    pretrain, _, _ = self._optimizers()
    target = unit_to_model(batch['hr'], self.tanh)

    def loss_fn(g_params):
      sr, stats = self._g_apply(g_params, state.g_stats, batch['lr'])
      mse = jnp.mean((sr - target) ** 2)  # [port] pixel_criterion MSELoss
      return mse, stats
    (mse, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.g_params)
    updates, opt = pretrain.update(grads, state.g_opt_pretrain,
                                   state.g_params)
    state = state.replace(g_params=optax.apply_updates(state.g_params, updates),
                          g_stats=stats, g_opt_pretrain=opt)
    return state, {'g/mse': mse}

  def content_loss(self, frozen, sr, hr):
    """MSE of scaled VGG19 features of SR and HR (model range in)."""
    c = self.config
    if not self.uses_vgg:
      return jnp.zeros((), jnp.float32)
    # VGG19 takes [-1, 1] RGB.
    to_pm1 = (lambda x: x) if self.tanh else (lambda x: x * 2.0 - 1.0)
    both = jnp.concatenate([to_pm1(sr), to_pm1(hr)], axis=0)
    feats = self.vgg.apply({'params': frozen}, both, layer=c.loss.vgg_layer,
                           pre_relu=c.loss.vgg_pre_relu)
    feats = feats.astype(jnp.float32) * c.loss.vgg_feature_scale
    f_sr, f_hr = jnp.split(feats, 2, axis=0)
    return jnp.mean((f_sr - jax.lax.stop_gradient(f_hr)) ** 2)

  def _labels(self, rng, n):
    """(real, fake) labels [n, 1]: 1 / 0, or [seed]'s noisy ones."""
    l = self.config.loss
    if not l.noisy_labels:
      return jnp.ones((n, 1)), jnp.zeros((n, 1))
    k_r, k_f = jax.random.split(rng)
    # [seed] SRGAN.py: real in (0.8, 1], fake in [0, 0.2).
    real = 1.0 - jax.random.uniform(k_r, (n, 1), maxval=l.label_noise)
    fake = jax.random.uniform(k_f, (n, 1), maxval=l.label_noise)
    return real, fake

  def _gan_step(self, state, frozen, batch, rng):
    l = self.config.loss
    _, g_gan, d_gan = self._optimizers()
    hr = unit_to_model(batch['hr'], self.tanh)
    n = hr.shape[0]
    real_label, fake_label = self._labels(rng, n)

    def g_loss_fn(g_params):
      sr, g_stats = self._g_apply(g_params, state.g_stats, batch['lr'])
      mse = jnp.mean((sr - hr) ** 2)
      content = self.content_loss(frozen, sr, hr)
      logits, d_stats = self._d_apply(state.d_params, state.d_stats, sr)
      # [port] adversarial_criterion(d(sr), real_label), BCEWithLogits.
      adv = _bce(logits, jnp.ones_like(logits))
      total = l.mse_weight * mse + l.vgg_weight * content + l.adv_weight * adv
      return total, (sr, g_stats, d_stats, mse, content, adv)
    (g_total, (sr, g_stats, d_stats, mse, content, adv)), g_grads = (
        jax.value_and_grad(g_loss_fn, has_aux=True)(state.g_params))
    updates, g_opt = g_gan.update(g_grads, state.g_opt_gan, state.g_params)
    g_params = optax.apply_updates(state.g_params, updates)

    sr = jax.lax.stop_gradient(sr)

    def d_loss_fn(d_params):
      # [port] two forward passes (HR, then SR), each updating the stats.
      real_logits, stats = self._d_apply(d_params, d_stats, hr)
      fake_logits, stats = self._d_apply(d_params, stats, sr)
      d_real = _bce(real_logits, real_label)
      d_fake = _bce(fake_logits, fake_label)
      return d_real + d_fake, (stats, d_real, d_fake, real_logits,
                               fake_logits)
    (d_total, (d_stats, d_real, d_fake, real_logits, fake_logits)), d_grads = (
        jax.value_and_grad(d_loss_fn, has_aux=True)(state.d_params))
    updates, d_opt = d_gan.update(d_grads, state.d_opt, state.d_params)
    d_params = optax.apply_updates(state.d_params, updates)
    state = state.replace(g_params=g_params, g_stats=g_stats,
                          d_params=d_params, d_stats=d_stats, g_opt_gan=g_opt,
                          d_opt=d_opt)
    return state, {
        'g/total': g_total, 'g/mse': mse, 'g/content': content,
        'g/adv': adv, 'd/total': d_total, 'd/real': d_real, 'd/fake': d_fake,
        'd/p_real': jnp.mean(jax.nn.sigmoid(real_logits)),
        'd/p_fake': jnp.mean(jax.nn.sigmoid(fake_logits))}

  # ---------------------------------------------------------------- results
  def super_resolve(self, state, lr: np.ndarray, batch: int = 4
                    ) -> np.ndarray:
    """[N, h, w, 3] [0, 1] -> SR [N, H, W, 3] [0, 1] (frozen BN), numpy."""
    if self._infer is None:
      self._infer = jax.jit(self.predict_fns()['upscale'])
    params = self.inference_params(state)
    outs = [np.asarray(self._infer(params, {'images': lr[i:i + batch]})
                       ['images']) for i in range(0, len(lr), batch)]
    return np.concatenate(outs, axis=0)

  def evaluate(self, state, frozen, pipeline):
    from animejax import image_quality as iq  # pylint: disable=g-import-not-at-top
    val = pipeline.val
    border = self.config.data.scale  # SR tables crop `scale` pixels
    sr = self.super_resolve(state, val.lr, self.config.batch_size)
    # Bicubic on the same LR images: the SR tables' baseline row.
    b_psnr = iq.psnr_y(val.bicubic, val.hr, border, quantize=True)
    b_ssim = float(np.mean(iq.ssim_y(val.bicubic, val.hr, border,
                                     quantize=True)))
    psnr = iq.psnr_y(sr, val.hr, border, quantize=True)
    ssim = float(np.mean(iq.ssim_y(sr, val.hr, border, quantize=True)))
    # Per-image gains over bicubic: their standard error says whether the
    # held-out set resolves the mean gain.
    gain = psnr - b_psnr
    stderr = float(np.std(gain, ddof=1) / np.sqrt(len(gain))) if len(
        gain) > 1 else 0.0
    return {'eval/psnr_y': float(np.mean(psnr)), 'eval/ssim_y': ssim,
            'eval/bicubic_psnr_y': float(np.mean(b_psnr)),
            'eval/bicubic_ssim_y': b_ssim,
            'eval/psnr_y_gain': float(np.mean(gain)),
            'eval/psnr_y_gain_stderr': stderr,
            'eval/psnr_y_win_rate': float(np.mean(gain > 0))}

  def sample_grid(self, state, frozen, pipeline) -> np.ndarray | None:
    """Rows of LR (nearest-upscaled) | bicubic | SR | HR."""
    from animejax import metrics as metrics_lib  # pylint: disable=g-import-not-at-top
    val = pipeline.val
    n = self.config.num_sample_images
    if not len(val.lr) or n <= 0:
      return None
    s = self.config.data.scale
    lr = val.lr[:n]
    nearest = np.repeat(np.repeat(lr, s, axis=1), s, axis=2)
    sr = self.super_resolve(state, lr, n)
    columns = [nearest, val.bicubic[:n], sr, val.hr[:n]]
    return metrics_lib.image_grid([c * 2.0 - 1.0 for c in columns])

  def predict_fns(self):
    generator, tanh = self.generator, self.tanh
    residual = self.config.model.residual

    def upscale(variables, inputs):
      """{'images': [0, 1] LR [N, h, w, 3]} -> {'images': [0, 1] SR}."""
      out = generate(generator, variables, inputs['images'], residual, tanh)
      return {'images': model_to_unit(out, tanh)}
    return {'upscale': upscale}

  def predict_example(self, task, pipeline):
    if task != 'upscale':
      raise ValueError(f"srgan serves only 'upscale', not {task!r}.")
    return {'images': pipeline.val.lr[:2]}

  def inference_params(self, state):
    return {'params': state.g_params, 'batch_stats': state.g_stats}

  def checkpoint_meta(self, step: int) -> dict[str, Any]:
    if self._pretrain_steps is None:
      return {}
    return {'phase': 'pretrain' if step < self._pretrain_steps else 'gan',
            'pretrain_steps': self._pretrain_steps}


# What a wrong --weights / --upscale / model.init_from is told to pass.
SRRESNET_WEIGHTS_HINT = (
    "Pass an SRResNet: a training workdir of the 'srgan' method "
    '(configs/srresnet_*.py, configs/srgan_*.py), an animejax weights file '
    "with arch 'srresnet' (srgan.export_weights + weights_io.save), or a "
    'Lornatang/SRGAN-PyTorch generator checkpoint (SRResNet_x4-*.pth.tar / '
    'SRGAN_x4-*.pth.tar).')


def _not_an_srresnet(path: str, what: str) -> ValueError:
  return ValueError(f'{path!r} {what}, not an SRResNet / SRGAN generator. '
                    f'{SRRESNET_WEIGHTS_HINT}')


def _workdir_method(path: str) -> str | None:
  """The method named by a workdir's saved config (None if unreadable)."""
  import json  # pylint: disable=g-import-not-at-top
  import os  # pylint: disable=g-import-not-at-top
  from animejax import checkpointing  # pylint: disable=g-import-not-at-top
  try:
    with open(os.path.join(path, checkpointing.CONFIG_FILE),
              encoding='utf-8') as f:
      return json.load(f).get('method')
  except (OSError, ValueError, AttributeError):
    return None


def load_generator_variables(path: str, which: str = 'latest'
                             ) -> tuple[dict[str, Any], dict[str, Any], str]:
  """({'params', 'batch_stats'}, SRResNet kwargs or {}, residual) from a
  training workdir (its `which` checkpoint), an animejax weights file (arch
  'srresnet'), or a [port] checkpoint (`SRResNet_x4-*.pth.tar` /
  `SRGAN_x4-*.pth.tar`, read without torch by `animejax.torch_file`; kwargs
  {}: read them off the shapes, `upscale.port_model_kwargs`).

  Raises FileNotFoundError for a missing path and ValueError, naming the file
  and what to pass instead (SRRESNET_WEIGHTS_HINT), for anything that is not
  an SRResNet: another method's workdir (e.g. dcgan), another generator's
  weights file (e.g. AnimeGAN), a torch file of another network, or a file
  of an unknown format."""
  import os  # pylint: disable=g-import-not-at-top
  import pickle  # pylint: disable=g-import-not-at-top
  from animejax import checkpointing  # pylint: disable=g-import-not-at-top
  from animejax import torch_file  # pylint: disable=g-import-not-at-top
  from animejax import weights_io  # pylint: disable=g-import-not-at-top
  from animejax.models import srgan as srgan_models  # pylint: disable=g-import-not-at-top
  if not os.path.exists(path):
    raise FileNotFoundError(f'no file or folder at {path!r}. '
                            f'{SRRESNET_WEIGHTS_HINT}')
  if os.path.isdir(path):
    # Checked before any checkpoint is read: restoring another method's
    # state only to refuse it would cost seconds to minutes.
    method = _workdir_method(path)
    if method is not None and method != 'srgan':
      raise _not_an_srresnet(path, f'is a training workdir of the {method!r} '
                             'method')
    w = checkpointing.load_generator_weights(path, which)
  elif path.endswith(('.pth', '.pt', '.tar', '.bin')):
    try:
      state_dict = torch_file.load_state_dict(path)
    except (ValueError, pickle.UnpicklingError) as e:
      raise _not_an_srresnet(path, 'is not a readable PyTorch state dict '
                             f'({e})') from e
    try:
      variables = srgan_models.convert_torch_state_dict(state_dict)
    except KeyError as e:
      raise _not_an_srresnet(
          path, f'holds a PyTorch state dict of another network (no key {e}; '
          f'its keys start {sorted(state_dict)[:3]})') from e
    except ValueError as e:  # right names, extra keys or wrong shapes
      raise _not_an_srresnet(path, 'holds a PyTorch state dict that does not '
                             f'convert to an SRResNet ({e})') from e
    if 'prelu1' not in variables['params']:  # the D has conv1 too
      raise _not_an_srresnet(path, 'holds an SRGAN discriminator')
    return variables, {}, 'none'
  else:
    try:
      w = weights_io.load(path)
    except ValueError as e:
      # (weights_io's own message would point at animejax.convert, which
      # makes AnimeGAN files, not upscalers.)
      raise _not_an_srresnet(
          path, 'is neither a training workdir, an animejax weights file nor '
          'a PyTorch checkpoint (.pth / .pth.tar)') from e
  if w.arch != 'srresnet':
    raise _not_an_srresnet(path, f'holds a {w.arch!r} generator')
  return w.params, dict(w.model_kwargs), w.meta.get('residual', 'none')


def load_generator_init(path: str) -> dict[str, Any] | None:
  """config.model.init_from ('' = none) as numpy variables."""
  if not path:
    return None
  return jax.tree.map(np.asarray, load_generator_variables(path)[0])


def _checked_like(loaded, like, source: str):
  """`loaded` with the structure and shapes of `like`, or a clear error."""
  want = jax.tree_util.tree_structure(like)
  if jax.tree_util.tree_structure(loaded) != want or any(
      np.shape(a) != np.shape(b) for a, b in zip(
          jax.tree.leaves(loaded), jax.tree.leaves(like))):
    raise ValueError(f'config.model.init_from={source!r} does not fit the '
                     'configured SRResNet (config.model.* and data.scale '
                     'must match the run that made it).')
  return jax.tree.map(lambda a, b: jnp.asarray(a, b.dtype), loaded, like)


def create(config: ml_collections.ConfigDict) -> SRGAN:
  return SRGAN(config)


def config_errors(config: ml_collections.ConfigDict) -> list[str]:
  """Every bad srgan value of `config` (key, value and the fix)."""
  errors: list[str] = []
  for key, choices in CHOICES.items():
    check_choice(errors, config, key, choices)
  for key in ('data.hr_crop', 'data.scale', 'data.num_val_images',
              'model.channels', 'model.num_blocks', 'discriminator.channels',
              'discriminator.dense_features', 'optim.eps'):
    check_positive(errors, config, key)
  for key in ('pretrain_steps', 'gan_steps', 'data.val_crop',
              'optim.pretrain_lr', 'optim.g_lr', 'optim.d_lr',
              'loss.mse_weight', 'loss.vgg_weight', 'loss.adv_weight',
              'optim.lr_decay_fraction'):
    check_positive(errors, config, key, allow_zero=True)
  scale, crop = get_key(config, 'data.scale'), get_key(config, 'data.hr_crop')
  if scale & (scale - 1) or scale < 2:
    errors.append(f'data.scale={scale}: SRResNet up-samples by powers of 2 '
                  '(2, 4, 8).')
  elif crop % 16 or crop % scale:
    errors.append(f'data.hr_crop={crop}: must be a multiple of 16 (the '
                  'discriminator halves it 4 times) and of data.scale.')
  val_crop = get_key(config, 'data.val_crop')
  if val_crop and (val_crop % scale or val_crop - 2 * scale < 11):
    errors.append(f'data.val_crop={val_crop}: a multiple of data.scale '
                  f'leaving >= 11 px after the {scale}-px border crop.')
  if get_key(config, 'pretrain_steps') + get_key(config, 'gan_steps') <= 0:
    errors.append('pretrain_steps + gan_steps must be > 0.')
  if get_key(config, 'data.source') == 'folder' and not get_key(
      config, 'data.hr_dir'):
    errors.append("data.hr_dir is empty: set it to a folder of HR images "
                  "(or data.source='tfds' for div2k/bicubic_x4).")
  if not 0 <= get_key(config, 'loss.label_noise') < 0.5:
    errors.append('loss.label_noise must be in [0, 0.5).')
  for key in ('optim.b1', 'optim.b2'):
    if not 0 <= get_key(config, key) < 1:
      errors.append(f'{key}={get_key(config, key)} must be in [0, 1).')
  return errors


def export_weights(state, config):
  """The generator of a saved state (nested dicts) as GeneratorWeights
  (arch 'srresnet', params = {'params', 'batch_stats'})."""
  from animejax import weights_io  # pylint: disable=g-import-not-at-top
  return weights_io.GeneratorWeights(
      arch='srresnet', model_kwargs=model_kwargs(config),
      params=jax.tree.map(np.asarray, {'params': state['g_params'],
                                       'batch_stats': state['g_stats']}),
      meta={'task': 'upscale', 'input_range': '[0, 1]',
            'residual': config['model'].get('residual', 'none'),
            'output_range': ('[-1, 1]' if config['model']['out_activation']
                             == 'tanh' else '[0, 1]'),
            'data_source': config['data'].get('source', '')})


def base_config() -> ml_collections.ConfigDict:
  """The [port] x4 recipe's keys (configs/srresnet_x4.py, srgan_x4.py)."""
  c = config_lib.run_config('srgan')
  c.batch_size = 16                     # [paper] Sec. 3.2; [port] yaml
  c.pretrain_steps = 1_000_000          # [paper] SRResNet: 10^6 updates
  c.gan_steps = 200_000                 # [paper] 10^5 at 1e-4 + 10^5 at 1e-5
  c.data = ml_collections.ConfigDict()
  c.data.source = 'folder'              # 'folder' | 'tfds' (div2k/bicubic_x4)
  c.data.hr_dir = ''
  c.data.val_dir = ''                   # '' = hold out hr_dir's last images
  c.data.num_val_images = 10
  c.data.val_crop = 256                 # HR px, centre crop; 0 = whole image
  c.data.hr_crop = 96                   # [paper] 96x96 HR sub-images
  c.data.scale = 4
  c.data.tfds_data_dir = ''
  c.model = ml_collections.ConfigDict()
  # [port] SRResNet(in 3, out 3, channels 64, num_rcb 16, upscale 4).
  c.model.channels = 64
  c.model.num_blocks = 16
  c.model.upsample = 'pixel_shuffle'
  # [port] clamps to [0, 1] in forward() ('clamp'); 'none' trains unclamped.
  c.model.out_activation = 'clamp'
  c.model.bn_momentum = 0.9             # torch momentum 0.1 (flax keeps 0.9)
  c.model.bn_epsilon = 1e-5
  c.model.prelu = 'shared'              # torch nn.PReLU(): one slope
  c.model.prelu_init = 0.25
  c.model.conv_bias_before_bn = False
  # 'bicubic' adds the bicubic-up-sampled LR to the output (VDSR's global
  # residual; not in [paper] / [port]: 'none').
  c.model.residual = 'none'
  # '' or the SRResNet to start from: a workdir, a weights file or a [port]
  # .pth.tar ([paper] SRGAN is initialised with the SRResNet-MSE).
  c.model.init_from = ''
  c.discriminator = ml_collections.ConfigDict()
  c.discriminator.channels = 64         # [paper] 64 .. 512 kernels
  c.discriminator.dense_features = 1024
  c.discriminator.padding = 'torch'
  c.discriminator.conv_bias = False
  c.discriminator.bn_momentum = 0.9
  c.discriminator.bn_epsilon = 1e-5
  c.loss = ml_collections.ConfigDict()
  c.loss.mse_weight = 1.0               # [port] pixel_weight 1.0
  c.loss.vgg_weight = 1.0               # [port] content_weight 1.0
  # [paper] phi_5,4 rescaled by 1/12.75; [port] features.35 (after ReLU).
  c.loss.vgg_layer = 'conv5_4'
  c.loss.vgg_pre_relu = False
  c.loss.vgg_feature_scale = 1.0 / 12.75
  c.loss.adv_weight = 1e-3              # [paper] 10^-3 l_Gen; [port] 0.001
  c.loss.noisy_labels = False
  c.loss.label_noise = 0.2              # [seed] real (0.8, 1], fake [0, 0.2)
  c.vgg = ml_collections.ConfigDict()
  c.vgg.weights = 'torchvision'         # [port] torchvision vgg19 IMAGENET1K
  c.vgg.preprocess = 'auto'
  c.vgg.cache_dir = ''
  c.optim = ml_collections.ConfigDict()
  c.optim.pretrain_lr = 1e-4            # [paper], [port] srresnet yaml
  c.optim.g_lr = 1e-4                   # [paper] 1e-4 then 1e-5
  c.optim.d_lr = 1e-4
  c.optim.lr_decay_fraction = 0.5       # [port] MultiStepLR([epochs // 2])
  c.optim.lr_decay_factor = 0.1
  c.optim.b1 = 0.9                      # [paper] Adam beta1 0.9
  c.optim.b2 = 0.999
  c.optim.eps = 1e-8
  c.log_every_steps = 100
  c.checkpoint_every_steps = 5000
  c.eval_every_steps = 5000
  c.sample_every_steps = 5000
  return c


def smoke_config() -> ml_collections.ConfigDict:
  """A run of a few CPU-seconds on generated HR images: narrow G and D,
  32 px HR crops, random VGG stopped at conv1_2, 2 pretrain + 2 GAN steps."""
  import os  # pylint: disable=g-import-not-at-top
  import tempfile  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  folder = os.path.join(tempfile.gettempdir(), 'animejax_srgan_smoke_hr')
  if not os.path.isdir(folder) or len(os.listdir(folder)) < 6:
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(6):
      yy, xx = np.mgrid[0:48, 0:56]
      img = 127 + 100 * np.sin(xx[..., None] * (0.2 + 0.05 * i) +
                               yy[..., None] * 0.1 * np.arange(1, 4))
      img = img + rng.normal(0, 8, img.shape)
      path = os.path.join(folder, f'hr_{i}.png')
      Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
          path + '.tmp.png')
      os.replace(path + '.tmp.png', path)
  c = base_config()
  c.batch_size = 2
  c.pretrain_steps = 2
  c.gan_steps = 2
  c.data.hr_dir = folder
  c.data.num_val_images = 2
  c.data.val_crop = 32
  c.data.hr_crop = 32
  c.model.channels = 8
  c.model.num_blocks = 1
  c.model.out_activation = 'none'
  c.discriminator.channels = 4
  c.discriminator.dense_features = 8
  c.loss.vgg_layer = 'conv1_2'
  c.vgg.weights = 'random'
  c.num_sample_images = 2
  for key in ('log_every_steps', 'checkpoint_every_steps', 'eval_every_steps',
              'sample_every_steps'):
    c[key] = 2
  return c
