"""StyleGAN2 ('stylegan2'): faces from noise with lazy regularisation.

Source: [ada] NVlabs/stylegan2-ada-pytorch, `training/loss.py`
(StyleGAN2Loss), `training/training_loop.py` (phases, lr/beta correction,
G_ema) and `train.py` (cfg_specs). Networks: `animejax.models.stylegan2`
(parity-tested against [ada] `training/networks.py`).

One training iteration of [ada] runs the phases Gmain, Greg (every
`g_reg_interval` iterations), Dmain, Dreg (every `d_reg_interval`), each with
its own fresh z, then updates G_ema. Here one iteration is one run-loop step;
its kind names the phases it runs, so each combination compiles once:
  'main' (Gmain + Dmain), 'main_pl' (+ Greg), 'main_r1' (+ Dreg),
  'main_pl_r1' (all four). With the default intervals 4 and 16 the kinds
  are 'main', 'main_pl' and 'main_pl_r1'.
Phases, as in [ada] loss.py:
  Gmain: mean softplus(-D(G(z)))                       (non-saturating)
  Greg:  I_G * pl_weight * mean (|J_w^T y| - a)^2 on batch B / pl_batch_shrink,
         y ~ N(0, 1) / sqrt(H W), |.| = sqrt(mean over ws of sum over w_dim),
         a = lerp(a_old, mean |J_w^T y|, pl_decay) (not detached in the
         penalty, as [ada]; stored detached).
  Dmain: mean softplus(D(G(z))) + mean softplus(-D(x))
  Dreg:  I_D * mean gamma / 2 |grad_x D(x)|^2                 (R1 on reals)
  where I = the phase's interval ([ada] training_loop: gain = interval).
Each phase is one Adam step of its net's optimizer (G's main and reg
phases share G's Adam state, as in [ada]); gradients pass nan_to_num(nan=0,
posinf=1e5, neginf=-1e5) first ([ada] training_loop). Lazy regularisation
correction ([ada] training_loop.py): mb_ratio = I / (I + 1), lr *= mb_ratio,
betas = beta ** mb_ratio.
run_G ([ada] loss.py): ws = mapping(z) (updates w_avg with beta 0.995), with
probability style_mixing_prob one cutoff ~ U{1, num_ws - 1} for the whole
batch takes ws[:, cutoff:] from mapping(z') (no w_avg update); synthesis
with random noise. G and D see the fakes of the phase's own z.
G_ema ([ada] training_loop.py): ema_nimg = ema_kimg * 1000, with a rampup
r > 0 ema_nimg = min(ema_nimg, cur_nimg * r); beta = 0.5 ** (B / ema_nimg)
and G_ema = G + beta (G_ema - G) after every iteration (cur_nimg = images
before it, so the first iteration with a rampup copies G). The weight of an
update therefore halves every ema_nimg images: the half-life is ema_kimg
thousand images = ema_kimg * 1000 / B iterations. Buffers (w_avg, const
noise) are copied from G, so the state holds one buffer tree.
Sampling ('generate', metrics, grids) uses G_ema with noise_mode 'const'
([ada] generate.py default) and the truncation trick around w_avg
(w = w_avg + psi (w - w_avg), [ada] networks.MappingNetwork) when the inputs
carry 'truncation'.

Data, metrics, grids: `methods.dcgan.FaceGAN` (image folders, KID with a
jackknife s.e. and FID on named VGG19 features).
"""

from __future__ import annotations

import math
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from animejax import config_lib
from animejax.methods import base
from animejax.methods import dcgan

STATE_VERSION = 1


@flax.struct.dataclass
class StyleGAN2State:
  """Everything a run needs to resume exactly.

  Attributes:
    step: iterations done ([ada] batch_idx; cur_nimg = step * batch_size).
    g_params / d_params: the trained networks' parameters.
    g_ema: the EMA of g_params (what sampling uses).
    g_buffers: G's buffers (mapping w_avg, the const noise maps).
    g_opt / d_opt: Adam states (one per net, shared by its main/reg phases).
    pl_mean: the path-length running mean a.
  """
  step: jax.Array
  g_params: Any
  g_ema: Any
  g_buffers: Any
  d_params: Any
  g_opt: Any
  d_opt: Any
  pl_mean: jax.Array


def lazy_adam(lr: float, betas: tuple[float, float], eps: float,
              interval: int) -> optax.GradientTransformation:
  """[ada] training_loop.py: Adam with lr and betas corrected for lazy
  regularisation every `interval` steps (mb_ratio = I / (I + 1))."""
  ratio = interval / (interval + 1)
  return optax.adam(lr * ratio, b1=betas[0] ** ratio, b2=betas[1] ** ratio,
                    eps=eps)


def ema_beta(step: jax.Array, batch_size: int, ema_kimg: float,
             ema_rampup: float) -> jax.Array:
  """[ada] training_loop.py: 0.5 ** (B / ema_nimg), rampup on cur_nimg."""
  ema_nimg = jnp.float32(ema_kimg * 1000.0)
  if ema_rampup > 0:
    cur_nimg = step.astype(jnp.float32) * batch_size
    ema_nimg = jnp.minimum(ema_nimg, cur_nimg * ema_rampup)
  return 0.5 ** (batch_size / jnp.maximum(ema_nimg, 1e-8))


def r1_penalty(d_fn, images: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Per-image |grad_x sum D(x)|^2 and the logits ([ada] loss.py Dr1)."""
  logits, vjp = jax.vjp(d_fn, images)
  (grads,) = vjp(jnp.ones_like(logits))
  return jnp.sum(jnp.square(grads), axis=(1, 2, 3)), logits


def path_lengths(synth_fn, ws: jax.Array, rng: jax.Array
                 ) -> tuple[jax.Array, jax.Array]:
  """[ada] loss.py Gpl: |J_w^T y| per sample, y ~ N(0, 1) / sqrt(H W).

  Returns (lengths [N], images).
  """
  images, vjp = jax.vjp(synth_fn, ws)
  h, w = images.shape[1:3]
  y = jax.random.normal(rng, images.shape, images.dtype) / math.sqrt(h * w)
  (grads,) = vjp(y)
  return jnp.sqrt(jnp.mean(jnp.sum(jnp.square(grads), axis=2), axis=1)), images


def _sanitize(grads):
  # [ada] training_loop.py: misc.nan_to_num(grad, nan=0, posinf=1e5,
  # neginf=-1e5) before every optimizer step.
  return jax.tree.map(
      lambda g: jnp.nan_to_num(g, nan=0.0, posinf=1e5, neginf=-1e5), grads)


def fast_key(rng: jax.Array, impl: str) -> jax.Array:
  """The step's key re-wrapped for a cheap PRNG ('threefry' = unchanged).

  Threefry draws compile slowly on CPU (every noise map, z and mixing draw
  of the step is its own unrolled hash); 'rbg'/'unsafe_rbg' use XLA's
  RngBitGenerator. The 4-word key is a function of the step's key, so runs
  stay exactly reproducible and resumable.
  """
  if impl == 'threefry':
    return rng
  data = jax.random.key_data(rng).reshape(-1)
  data = jnp.concatenate([data, data ^ jnp.uint32(0x9E3779B9)])[:4]
  return jax.random.wrap_key_data(data, impl=impl)


def kind_of(step: int, g_interval: int, d_interval: int, do_pl: bool,
            do_r1: bool) -> str:
  """The phases of iteration `step` ([ada]: batch_idx % interval == 0)."""
  kind = 'main'
  if do_pl and step % g_interval == 0:
    kind += '_pl'
  if do_r1 and step % d_interval == 0:
    kind += '_r1'
  return kind


class StyleGAN2(dcgan.FaceGAN):
  """[ada] StyleGAN2 (G 'skip', D 'resnet'), unconditional."""
  name = 'stylegan2'
  state_version = STATE_VERSION
  # 'generate' takes an optional 'truncation' psi (around w_avg), not a clip
  # of z: animejax.generate can pass --truncation through as psi.
  truncation_psi = True

  def __init__(self, config: ml_collections.ConfigDict):
    super().__init__(config)
    from animejax.models import stylegan2  # pylint: disable=g-import-not-at-top
    m, s = config.model, config.data.image_size
    # config.dtype='bfloat16': the synthesis and D blocks of the
    # model.num_bf16_res highest resolutions compute in bf16 ([ada]'s fp16
    # blocks; animejax/models/stylegan2.py says what is cast and how it
    # differs). Params, Adam states, G_ema, the mapping network, the images
    # and every loss and regulariser (R1, path length) stay float32.
    dtypes = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}
    if config.dtype not in dtypes:
      raise ValueError(f'config.dtype={config.dtype!r} is not one of '
                       f'{tuple(dtypes)}.')
    dtype = dtypes[config.dtype]
    self.generator = stylegan2.Generator(
        z_dim=m.z_dim, w_dim=m.w_dim, img_resolution=s,
        mapping_layers=m.mapping_layers,
        mapping_lr_multiplier=m.mapping_lr_multiplier,
        w_avg_beta=m.w_avg_beta, channel_base=m.channel_base,
        channel_max=m.channel_max, conv_clamp=m.conv_clamp or None,
        dtype=dtype, num_bf16_res=m.num_bf16_res)
    self.discriminator = stylegan2.Discriminator(
        img_resolution=s, channel_base=m.channel_base,
        channel_max=m.channel_max, conv_clamp=m.conv_clamp or None,
        mbstd_group_size=m.mbstd_group_size,
        mbstd_num_channels=m.mbstd_num_channels, dtype=dtype,
        num_bf16_res=m.num_bf16_res)
    o, l = config.optim, config.loss
    betas = tuple(o.betas)
    self.g_tx = lazy_adam(o.lr, betas, o.eps, l.g_reg_interval)
    self.d_tx = lazy_adam(o.lr, betas, o.eps, l.d_reg_interval)

  # ---------------------------------------------------------------- plan
  def schedule(self, num_train_images: int):
    c, l = self.config, self.config.loss
    total = c.num_train_steps if c.num_train_steps > 0 else c.train_steps
    do_pl, do_r1 = l.pl_weight > 0, l.r1_gamma > 0
    period = math.lcm(l.g_reg_interval, l.d_reg_interval)
    kinds = tuple(sorted({kind_of(i, l.g_reg_interval, l.d_reg_interval,
                                  do_pl, do_r1) for i in range(period)}))
    return base.Schedule(
        total_steps=total,
        step_kind=lambda step: kind_of(step, l.g_reg_interval,
                                       l.d_reg_interval, do_pl, do_r1),
        kinds=kinds,
        summary=(f'{total} iterations of {c.batch_size} images '
                 f'({total * c.batch_size / 1000:g} kimg, '
                 f'{num_train_images} training faces); kinds {kinds}'))

  def noise(self, rng, n):
    # [ada] training_loop.py: torch.randn([.., G.z_dim]).
    return jax.random.normal(rng, (n, self.config.model.z_dim), jnp.float32)

  def init(self, rng):
    # Every parameter's draw is its own threefry hash: jitted, that took
    # 33 s to compile at smoke size; the cheap PRNG takes a few.
    kg, kd = jax.random.split(fast_key(rng, self.config.rng_impl))
    s, m = self.config.data.image_size, self.config.model
    g_vars = self.generator.init({'params': kg}, jnp.zeros((2, m.z_dim)))
    n = max(m.mbstd_group_size, 1)
    d_vars = self.discriminator.init(kd, jnp.zeros((n, s, s, 3)))
    return StyleGAN2State(
        step=jnp.zeros((), jnp.int32), g_params=g_vars['params'],
        g_ema=g_vars['params'], g_buffers=g_vars['buffers'],
        d_params=d_vars['params'], g_opt=self.g_tx.init(g_vars['params']),
        d_opt=self.d_tx.init(d_vars['params']), pl_mean=jnp.zeros(()))

  # ---------------------------------------------------------------- G / D
  def mapping(self, g_params, buffers, z, rng):
    """[ada] loss.py run_G's mapping part: ws with style mixing and the
    updated buffers (w_avg tracks the first mapping only)."""
    g = self.generator
    variables = {'params': g_params, 'buffers': buffers}
    ws, new = g.apply(variables, z, update_w_avg=True, method='map',
                      mutable=['buffers'])
    prob = self.config.loss.style_mixing_prob
    if prob > 0:
      k_cut, k_p, k_z = jax.random.split(rng, 3)
      num_ws = ws.shape[1]
      cutoff = jax.random.randint(k_cut, (), 1, num_ws)
      cutoff = jnp.where(jax.random.uniform(k_p, ()) < prob, cutoff, num_ws)
      ws2 = g.apply({'params': g_params, 'buffers': new['buffers']},
                    jax.random.normal(k_z, z.shape, z.dtype), method='map')
      ws = jnp.where(jnp.arange(num_ws)[None, :, None] < cutoff, ws, ws2)
    return ws, new['buffers']

  def synthesis(self, g_params, buffers, ws, rng):
    """Synthesis with random noise (training mode)."""
    return self.generator.apply({'params': g_params, 'buffers': buffers}, ws,
                                'random', method='synthesize',
                                rngs={'noise': rng})

  def run_g(self, g_params, buffers, z, rng):
    """[ada] loss.py run_G: (images, ws, updated buffers)."""
    k_map, k_syn = jax.random.split(rng)
    ws, buffers = self.mapping(g_params, buffers, z, k_map)
    return self.synthesis(g_params, buffers, ws, k_syn), ws, buffers

  def run_d(self, d_params, images):
    return self.discriminator.apply({'params': d_params}, images)

  # ---------------------------------------------------------------- losses
  def g_main_loss(self, g_params, d_params, buffers, z, rng):
    images, _, buffers = self.run_g(g_params, buffers, z, rng)
    logits = self.run_d(d_params, images)
    return jnp.mean(jax.nn.softplus(-logits)), (buffers, logits)

  def g_pl_loss(self, g_params, buffers, pl_mean, z, rng):
    """[ada] loss.py Gpl, times the interval (its gain)."""
    l = self.config.loss
    k_map, k_syn, k_y = jax.random.split(rng, 3)
    ws, buffers = self.mapping(g_params, buffers, z, k_map)
    lengths, _ = path_lengths(
        lambda w: self.synthesis(g_params, buffers, w, k_syn), ws, k_y)
    new_mean = pl_mean + l.pl_decay * (jnp.mean(lengths) - pl_mean)
    penalty = jnp.square(lengths - new_mean)
    loss = jnp.mean(penalty * l.pl_weight) * l.g_reg_interval
    return loss, (buffers, jax.lax.stop_gradient(new_mean), penalty)

  def d_main_loss(self, d_params, fakes, reals):
    fake_logits = self.run_d(d_params, fakes)
    real_logits = self.run_d(d_params, reals)
    loss = (jnp.mean(jax.nn.softplus(fake_logits)) +
            jnp.mean(jax.nn.softplus(-real_logits)))
    return loss, (fake_logits, real_logits)

  def d_r1_loss(self, d_params, reals):
    """[ada] loss.py Dr1, times the interval (its gain)."""
    l = self.config.loss
    penalty, _ = r1_penalty(lambda x: self.run_d(d_params, x), reals)
    return jnp.mean(penalty * (l.r1_gamma / 2)) * l.d_reg_interval, penalty

  # ---------------------------------------------------------------- step
  def train_step(self, state, frozen, batch, rng, kind):
    del frozen
    if kind not in ('main', 'main_pl', 'main_r1', 'main_pl_r1'):
      raise ValueError(f"stylegan2 step kinds are 'main', 'main_pl', "
                       f"'main_r1', 'main_pl_r1'; got {kind!r}.")
    c = self.config
    n = c.batch_size
    rng = fast_key(rng, c.rng_impl)
    k_gm, k_gr, k_dm, k_flip, k_z = jax.random.split(rng, 5)
    z_gm, z_gr, z_dm = jax.random.normal(k_z, (3, n, c.model.z_dim))
    reals = batch['image']
    if c.data.mirror:  # [ada] dataset.py xflip, drawn per image here
      flip = jax.random.bernoulli(k_flip, 0.5, (reals.shape[0], 1, 1, 1))
      reals = jnp.where(flip, reals[:, :, ::-1], reals)
    g_params, d_params = state.g_params, state.d_params
    g_opt, d_opt, buffers = state.g_opt, state.d_opt, state.g_buffers
    metrics = {}

    def apply(tx, grads, opt, params):
      updates, opt = tx.update(_sanitize(grads), opt, params)
      return optax.apply_updates(params, updates), opt

    # Gmain.
    (loss, (buffers, logits)), grads = jax.value_and_grad(
        self.g_main_loss, has_aux=True)(g_params, d_params, buffers, z_gm,
                                        k_gm)
    g_params, g_opt = apply(self.g_tx, grads, g_opt, g_params)
    metrics['loss/g'] = loss
    metrics['scores/fake_g'] = jnp.mean(logits)
    pl_mean = state.pl_mean
    # Greg.
    if '_pl' in kind:
      shrunk = n // c.loss.pl_batch_shrink
      (loss, (buffers, pl_mean, penalty)), grads = jax.value_and_grad(
          self.g_pl_loss, has_aux=True)(g_params, buffers, pl_mean,
                                        z_gr[:shrunk], k_gr)
      g_params, g_opt = apply(self.g_tx, grads, g_opt, g_params)
      metrics['reg/pl_penalty'] = jnp.mean(penalty)
      metrics['reg/pl_mean'] = pl_mean
    # Dmain (fakes of the updated G; it is not optimised here).
    fakes, _, buffers = self.run_g(g_params, buffers, z_dm, k_dm)
    fakes = jax.lax.stop_gradient(fakes)
    (loss, (fake_logits, real_logits)), grads = jax.value_and_grad(
        self.d_main_loss, has_aux=True)(d_params, fakes, reals)
    d_params, d_opt = apply(self.d_tx, grads, d_opt, d_params)
    metrics['loss/d'] = loss
    metrics['scores/fake'] = jnp.mean(fake_logits)
    metrics['scores/real'] = jnp.mean(real_logits)
    # Dreg.
    if '_r1' in kind:
      (_, penalty), grads = jax.value_and_grad(self.d_r1_loss, has_aux=True)(
          d_params, reals)
      d_params, d_opt = apply(self.d_tx, grads, d_opt, d_params)
      metrics['reg/r1_penalty'] = jnp.mean(penalty)
    # G_ema.
    beta = ema_beta(state.step, n, c.ema_kimg, c.ema_rampup)
    g_ema = jax.tree.map(lambda e, p: p + beta * (e - p), state.g_ema,
                         g_params)
    metrics['ema_beta'] = beta
    new_state = state.replace(
        step=state.step + 1, g_params=g_params, g_ema=g_ema,
        g_buffers=buffers, d_params=d_params, g_opt=g_opt, d_opt=d_opt,
        pl_mean=pl_mean)
    return new_state, jax.tree.map(lambda v: v.astype(jnp.float32), metrics)

  # ---------------------------------------------------------------- serve
  def inference_params(self, state):
    return {'params': state.g_ema, 'buffers': state.g_buffers}

  def predict_fns(self):
    latent = self.latent_fns()
    mapping, synthesis = latent['mapping'], latent['synthesis']

    def generate(params, inputs):
      """{'z': [N, z_dim], optional 'truncation': psi [N] or []} ->
      {'images': [N, S, S, 3] in [-1, 1]} from G_ema, const noise."""
      return synthesis(params, mapping(params, inputs))
    return {'generate': generate}

  def latent_fns(self):
    """'generate' in its two halves, for work in W (style mixing, latent
    walks; [ada] style_mixing.py calls G.mapping and G.synthesis apart):
      'mapping':   {'z': [N, z_dim], optional 'truncation': psi [N] or []}
                   -> {'ws': [N, num_ws, w_dim]} (truncated around w_avg)
      'synthesis': {'ws': [N, num_ws, w_dim]} -> {'images': [N, S, S, 3]}
    Same params as predict_fns. Kept out of predict_fns, whose functions
    each return images and have a predict_example (base.Method)."""
    g = self.generator

    def mapping(params, inputs):
      ws = g.apply(params, inputs['z'], method='map')
      if 'truncation' in inputs:
        # [ada] MappingNetwork: w_avg.lerp(x, psi) on every ws.
        psi = jnp.reshape(jnp.asarray(inputs['truncation'], jnp.float32),
                          (-1, 1, 1))
        w_avg = params['buffers']['mapping']['w_avg']
        ws = w_avg + psi * (ws - w_avg)
      return {'ws': ws}

    def synthesis(params, inputs):
      images = g.apply(params, inputs['ws'], 'const', method='synthesize')
      # [ada] generate.py / metrics: images are clamped to the valid range.
      return {'images': jnp.clip(images, -1.0, 1.0)}
    return {'mapping': mapping, 'synthesis': synthesis}

  def predict_example(self, task, pipeline):
    out = super().predict_example(task, pipeline)
    out['truncation'] = np.full((len(out['z']),), 0.7, np.float32)
    return out


# ------------------------------------------------------------------ config
def get_config_base() -> ml_collections.ConfigDict:
  """[ada] StyleGAN2 defaults (paths unset; configs/stylegan2_*.py set them).

  Networks and loss from [ada] training/networks.py and training/loss.py
  defaults; optimiser, gamma, EMA and mbstd from train.py cfg_specs
  'paper256' (the recipes override what differs).
  """
  c = config_lib.run_config('stylegan2')
  c.batch_size = 64               # [ada] cfg_specs paper256: mb=64
  c.train_steps = 390625          # [ada] paper256 kimg=25000 / mb 64
  dcgan.add_data_config(c, 256)
  c.data.mirror = True            # [ada] train.py --mirror (x-flips)
  c.model = ml_collections.ConfigDict()
  c.model.z_dim = 512             # [ada] train.py G_kwargs z_dim=512
  c.model.w_dim = 512             # [ada] train.py G_kwargs w_dim=512
  c.model.mapping_layers = 8      # [ada] paper256 map=8
  c.model.mapping_lr_multiplier = 0.01  # [ada] MappingNetwork default
  c.model.w_avg_beta = 0.995      # [ada] MappingNetwork default
  c.model.channel_base = 16384    # [ada] paper256 fmaps=0.5 * 32768
  c.model.channel_max = 512       # [ada] train.py channel_max=512
  # [ada] train.py sets conv_clamp=256 for its fp16 layers; 0 = none (the
  # original fp32 StyleGAN2, which these fp32 networks follow).
  c.model.conv_clamp = 0.0
  c.model.mbstd_group_size = 8    # [ada] paper256 mbstd=8
  c.model.mbstd_num_channels = 1  # [ada] DiscriminatorEpilogue default
  # With config.dtype='bfloat16': the number of highest resolutions whose G
  # and D blocks compute in bf16 ([ada] train.py num_fp16_res=4; 0 = none).
  c.model.num_bf16_res = 4
  c.loss = ml_collections.ConfigDict()
  c.loss.r1_gamma = 1.0           # [ada] paper256 gamma=1
  c.loss.pl_weight = 2.0          # [ada] StyleGAN2Loss pl_weight=2
  c.loss.pl_decay = 0.01          # [ada] StyleGAN2Loss pl_decay=0.01
  c.loss.pl_batch_shrink = 2      # [ada] StyleGAN2Loss pl_batch_shrink=2
  c.loss.style_mixing_prob = 0.9  # [ada] StyleGAN2Loss style_mixing_prob
  c.loss.g_reg_interval = 4       # [ada] training_loop G_reg_interval=4
  c.loss.d_reg_interval = 16      # [ada] training_loop D_reg_interval=16
  c.optim = ml_collections.ConfigDict()
  c.optim.lr = 0.0025             # [ada] paper256 lrate=0.0025
  c.optim.betas = (0.0, 0.99)     # [ada] train.py Adam betas=[0, 0.99]
  c.optim.eps = 1e-8              # [ada] train.py Adam eps=1e-8
  c.ema_kimg = 20.0               # [ada] paper256 ema=20
  c.ema_rampup = 0.0              # [ada] paper256 ramp=None (0 = off)
  c.num_sample_images = 64
  # PRNG of the in-step draws: 'threefry' (JAX's default), 'rbg' or
  # 'unsafe_rbg' (XLA RngBitGenerator; much faster to compile on CPU).
  c.rng_impl = 'unsafe_rbg'
  return c


def auto_spec(resolution: int, batch_size: int) -> dict[str, float]:
  """[ada] train.py cfg_specs 'auto' (one GPU, batch given): gamma =
  0.0002 res^2 / mb (their 'heuristic formula'), ema = mb * 10 / 32 kimg,
  ramp 0.05, mbstd = min(mb, 4), lr 0.0025 below 1024 px."""
  return {'r1_gamma': 0.0002 * resolution ** 2 / batch_size,
          'ema_kimg': batch_size * 10 / 32, 'ema_rampup': 0.05,
          'mbstd_group_size': min(batch_size, 4),
          'lr': 0.002 if resolution >= 1024 else 0.0025}


def config_errors(config: ml_collections.ConfigDict) -> list[str]:
  errors = dcgan.data_errors(config)
  s = config.data.image_size
  if s < 8 or s & (s - 1):
    errors.append(f'config.data.image_size={s} must be a power of two >= 8 '
                  '(StyleGAN2 doubles the resolution from 4x4).')
  for key in ('model.z_dim', 'model.w_dim', 'model.mapping_layers',
              'model.channel_base', 'model.channel_max', 'optim.lr',
              'loss.g_reg_interval', 'loss.d_reg_interval',
              'loss.pl_batch_shrink', 'model.mbstd_group_size'):
    config_lib.check_positive(errors, config, key)
  for key in ('loss.r1_gamma', 'loss.pl_weight', 'ema_kimg', 'ema_rampup',
              'model.conv_clamp', 'model.num_bf16_res'):
    config_lib.check_positive(errors, config, key, allow_zero=True)
  if not 0.0 <= config.loss.style_mixing_prob <= 1.0:
    errors.append('config.loss.style_mixing_prob must be in [0, 1].')
  if not 0.0 < config.loss.pl_decay <= 1.0:
    errors.append('config.loss.pl_decay must be in (0, 1].')
  if len(config.optim.betas) != 2 or not all(
      0.0 <= b < 1.0 for b in config.optim.betas):
    errors.append('config.optim.betas must be two numbers in [0, 1).')
  config_lib.check_choice(errors, config, 'rng_impl',
                          ('threefry', 'rbg', 'unsafe_rbg'))
  b, g = config.batch_size, config.model.mbstd_group_size
  if g > 0 and b % min(g, b):  # [ada] MinibatchStdLayer: G = min(g, N)
    errors.append(f'config.batch_size={b} must be divisible by '
                  f'model.mbstd_group_size={g} (minibatch-std groups).')
  if config.loss.pl_weight > 0 and b < config.loss.pl_batch_shrink:
    errors.append('config.batch_size must be >= loss.pl_batch_shrink.')
  # config.dtype ('float32' or 'bfloat16', both supported: see __init__) is
  # a run-loop key: config_lib.validate checks it (LOOP_CHOICES).
  return errors


def from_snapshot(snapshot: dict[str, Any]
                  ) -> tuple[ml_collections.ConfigDict, StyleGAN2State]:
  """A config and step-0 state from an [ada] network-snapshot .pkl read by
  `animejax.convert.stylegan2_pkl.load_snapshot` (never unpickled code).

  G, G_ema (with its buffers: w_avg, const noise) and D (fresh when the
  snapshot has none) are copied; the Adam states start fresh and pl_mean at
  0 (a snapshot stores neither). data.image_dir stays unset.
  """
  from animejax.convert import stylegan2_pkl  # pylint: disable=g-import-not-at-top
  if 'G_ema' not in snapshot:
    raise ValueError('the snapshot has no G_ema (keys: '
                     f'{sorted(snapshot)}).')
  gen, ema_vars = stylegan2_pkl.generator_from_snapshot(snapshot['G_ema'])
  if gen.c_dim:
    raise ValueError(f'conditional snapshot (c_dim={gen.c_dim}): the '
                     'stylegan2 method is unconditional.')
  if gen.img_channels != 3:
    raise ValueError(f'img_channels={gen.img_channels}: RGB only.')
  c = get_config_base()
  c.data.image_size = gen.img_resolution
  m = c.model
  m.z_dim, m.w_dim = gen.z_dim, gen.w_dim
  m.mapping_layers = gen.mapping_layers
  m.mapping_lr_multiplier = gen.mapping_lr_multiplier
  m.w_avg_beta = gen.w_avg_beta
  m.channel_base, m.channel_max = gen.channel_base, gen.channel_max
  m.conv_clamp = float(gen.conv_clamp or 0.0)
  d_part = snapshot.get('D')
  if d_part is not None:
    epi = dict(d_part['init_kwargs'].get('epilogue_kwargs') or {})
    # [ada] DiscriminatorEpilogue defaults: mbstd_group_size=4, 1 channel.
    m.mbstd_group_size = int(epi.get('mbstd_group_size') or 4)
    m.mbstd_num_channels = int(epi.get('mbstd_num_channels', 1))
  method = create(c)
  state = jax.jit(method.init)(jax.random.key(c.seed))
  as_jnp = lambda t: jax.tree.map(jnp.asarray, t)
  g_params = ema_vars['params']
  if 'G' in snapshot:
    g_params = stylegan2_pkl.generator_variables(snapshot['G'])['params']
  d_params = state.d_params
  if d_part is not None:
    d_params = stylegan2_pkl.discriminator_variables(d_part)['params']
  g_params, d_params = as_jnp(g_params), as_jnp(d_params)
  state = state.replace(
      g_params=g_params, g_ema=as_jnp(ema_vars['params']),
      g_buffers=as_jnp(ema_vars['buffers']), d_params=d_params,
      g_opt=method.g_tx.init(g_params), d_opt=method.d_tx.init(d_params))
  like = jax.eval_shape(method.init, jax.random.key(0))
  if jax.tree.structure(like) != jax.tree.structure(state) or any(
      a.shape != b.shape for a, b in zip(jax.tree.leaves(like),
                                         jax.tree.leaves(state))):
    raise ValueError('the snapshot does not match the network its '
                     'init_kwargs describe.')
  return c, state


def create(config: ml_collections.ConfigDict) -> StyleGAN2:
  return StyleGAN2(config)


def smoke_config() -> ml_collections.ConfigDict:
  """Tiny 8 px model on synthetic faces, random VGG: seconds on a CPU."""
  c = dcgan.smoke_overrides(get_config_base())  # synthetic faces, cadences
  c.data.image_size = 8
  c.model.z_dim = c.model.w_dim = 8
  c.model.mapping_layers = 2
  c.model.channel_base = 32
  c.model.channel_max = 8
  c.model.mbstd_group_size = 2
  # One kind, 'main' (no R1, path length or mixing: their double backward
  # passes triple the compile time), so the registry smoke test stays near a
  # minute; tests/test_stylegan2_method.py runs every kind of the recipe.
  c.loss.r1_gamma = 0.0
  c.loss.pl_weight = 0.0
  c.loss.style_mixing_prob = 0.0
  c.ema_kimg = 0.01
  c.ema_rampup = 0.05
  return c
