"""U-GAT-IT (Kim et al., ICLR 2020): unpaired translation, method interface.

One step kind, 'train': one D update then one G update on the same batch, as
the official loop [pt] znxlwm/UGATIT-pytorch UGATIT.py `train()`:

  D:  fake_A2B = genA2B(A), fake_B2A = genB2A(B) (no gradient to G);
      for each of disGA, disLA (on A vs fake_B2A) and disGB, disLB (on B vs
      fake_A2B): LSGAN MSE(real, 1) + MSE(fake, 0) on the output logits and
      the same on the CAM logits; D_loss = adv_weight * (sum of the 16).
  G:  fake_A2B, fake_B2A (with CAM logits), cycles A2B2A, B2A2B, identities
      A2A = genB2A(A), B2B = genA2B(B) (with CAM logits); D (updated params)
      on the fakes: MSE(logit, 1), MSE(cam_logit, 1);
      G_loss_A = adv (GA + GA_cam + LA + LA_cam) + cycle L1(A2B2A, A)
               + identity L1(A2A, A) + cam (BCE(B2A_cam, 1) + BCE(A2A_cam, 0));
      G_loss_B likewise; G_loss = G_loss_A + G_loss_B; then RhoClipper(0, 1)
      on both generators.
The generators' first forwards (A2B, B2B from genA2B on [A; B]; B2A, A2A
from genB2A on [B; A]) run once: the D update takes them without gradient,
the G update through their VJP ([pt] recomputes them with the same weights,
so the values are the same; it halves the compiled graph).

Spectral norm: [pt] never switches the discriminators to eval mode while
training, so every D forward (real and fake in the D update, fake in the G
update) runs one power iteration and stores u, v in place. We do the same,
sequentially per discriminator: D update real (u0 -> u1), fake (u1 -> u2),
G update fake with the updated weights (u2 -> u3). The state keeps u3, the
G pass's u, v (what torch holds after the step). Each forward's sigma uses
its own u, v (torch clones them under training), so the gradients match.

Optimisers ([pt] build_model): one Adam over both generators, one over the
four discriminators, lr 1e-4, betas (0.5, 0.999), weight_decay 1e-4 as
torch.optim.Adam applies it (see `make_optimizer`); linear decay of the lr
over the second half ([pt] decay_flag: lr -= lr0 / (iteration // 2) before
each step past the half).

Metrics: every loss term under the official names ('d/ad_GA', 'd/ad_cam_GA',
... 'g/recon_A', 'g/identity_A', 'g/cam_A', totals 'd/loss', 'g/loss') and
'lr'. Evaluation ('eval/'): KID x100 between genA2B(test A) and test B
(and B->A), on `animejax.evaluation`'s VGG19 conv5_4 pooled features, the
identity baseline KID(test A, test B), and cycle-reconstruction PSNR.
predict_fns: 'translate' (A->B) and 'translate_b2a', returning
{'images' [-1, 1], 'heatmap' [N, H/4, W/4, 1] in [0, 1]}.
"""

from __future__ import annotations

from typing import Any

import cv2
import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from animejax.methods import base
from animejax.models import ugatit as nets

STATE_VERSION = 1
G_NAMES = ('a2b', 'b2a')
D_NAMES = ('ga', 'la', 'gb', 'lb')   # [pt] disGA, disLA, disGB, disLB
# config.data.source: trainA/trainB folders at data.root, or the TFDS
# 'selfie2anime' builder (animejax/data/tfds_selfie2anime.py).
DATA_SOURCES = ('folders', 'tfds')
# [pt] main.py --adam_beta1 0.5 is hard-coded in build_model: betas=(0.5,
# 0.999); torch.optim.Adam's default eps.
ADAM_EPS = 1e-8
PyTree = Any


@flax.struct.dataclass
class UGATITState:
  """Everything a resumed run needs; no PRNG key (nothing is sampled)."""
  step: jax.Array
  g_params: dict[str, PyTree]      # {'a2b', 'b2a'}
  d_params: dict[str, PyTree]      # {'ga', 'la', 'gb', 'lb'}
  d_spectral: dict[str, PyTree]    # their u, v after the last D forward
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState


def total_steps(config) -> int:
  n = int(config.num_train_steps)
  return n if n > 0 else int(config.iterations)


def lr_schedule(lr: float, total: int, decay: bool) -> optax.Schedule:
  """[pt] train(): before step s (1-based) > iteration // 2 the lr drops by
  lr / (iteration // 2), so update n (0-based) uses
  lr * (1 - max(0, n + 1 - half) / half); clipped at 0 (an odd iteration
  count would make [pt]'s last lr slightly negative)."""
  half = max(total // 2, 1)

  def schedule(count):
    if not decay:
      return jnp.asarray(lr, jnp.float32)
    past = jnp.maximum(count + 1 - half, 0).astype(jnp.float32)
    return jnp.maximum(lr * (1.0 - past / half), 0.0)
  return schedule


def make_optimizer(optim, total: int) -> optax.GradientTransformation:
  """torch.optim.Adam(lr, betas, weight_decay) as optax.

  torch's Adam weight decay is coupled L2: it adds wd * param to the
  gradient *before* the moment estimates (grad = grad.add(param, alpha=wd)),
  unlike AdamW. `add_decayed_weights` first in the chain does exactly that:
  Adam's moments and normalisation then see grad + wd * param. (Placed
  after scale_by_adam it would be AdamW's decoupled decay.) Adam's update
  m_hat / (sqrt(v_hat) + eps) equals torch's.
  """
  return optax.chain(
      optax.add_decayed_weights(optim.weight_decay),
      optax.scale_by_adam(optim.b1, optim.b2, eps=ADAM_EPS),
      optax.scale_by_learning_rate(lr_schedule(optim.lr, total,
                                               optim.decay)))


def mse(x, target: float):
  return jnp.mean(jnp.square(x.astype(jnp.float32) - target))


def bce_logits(x, target: float):
  """nn.BCEWithLogitsLoss (mean) against a constant target."""
  x = x.astype(jnp.float32)
  return jnp.mean(optax.sigmoid_binary_cross_entropy(
      x, jnp.full_like(x, target)))


def l1(a, b):
  return jnp.mean(jnp.abs(a.astype(jnp.float32) - b.astype(jnp.float32)))


def _dtype(config):
  return {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}[config.dtype]


class UGATIT(base.Method):
  """Two generators, four discriminators, one 'train' step kind."""
  name = 'ugatit'
  state_version = STATE_VERSION

  def __init__(self, config: ml_collections.ConfigDict):
    super().__init__(config)
    m, dtype = config.model, _dtype(config)
    self.generator = nets.UGATITGenerator(
        ngf=m.ngf, n_blocks=m.n_res, img_size=config.data.image_size,
        light=m.light, variance=m.variance, dtype=dtype)
    glob = nets.UGATITDiscriminator(ndf=m.ndf, n_layers=m.global_layers,
                                    dtype=dtype)
    loc = nets.UGATITDiscriminator(ndf=m.ndf, n_layers=m.local_layers,
                                   dtype=dtype)
    self.discriminators = {'ga': glob, 'gb': glob, 'la': loc, 'lb': loc}
    self.total = total_steps(config)
    self.g_tx = make_optimizer(config.optim, self.total)
    self.d_tx = make_optimizer(config.optim, self.total)
    self._vgg = None
    self._fns = None
    self._style_cache: dict[str, tuple[Any, np.ndarray]] = {}

  @property
  def best_metric(self) -> tuple[str, str]:
    return 'eval/kid', 'min'

  # ---------------------------------------------------------------- data
  def input_pipeline(self, start_step: int = 0) -> base.InputPipeline:
    from animejax.data import unpaired  # pylint: disable=g-import-not-at-top
    data_config = self.config.data
    if data_config.get('source', 'folders') == 'tfds':
      # the TFDS 'selfie2anime' builder (manual selfie2anime.zip), written
      # back once as the trainA/ ... folders the unpaired source reads
      from animejax.data import tfds_selfie2anime  # pylint: disable=g-import-not-at-top
      data_config = ml_collections.ConfigDict(data_config.to_dict())
      data_config.root = tfds_selfie2anime.as_folders(self.config.data)
    data = unpaired.create_unpaired_data(
        data_config, seed=self.config.seed,
        global_batch=self.config.batch_size, start_step=start_step)
    return base.InputPipeline(num_train_images=data.num_train_images,
                              train_iter=data.train_iter, val=data,
                              skipped_files=data.skipped_files)

  def schedule(self, num_train_images: int) -> base.Schedule:
    del num_train_images  # [pt] counts iterations, not epochs
    half = self.total // 2
    return base.Schedule(
        total_steps=self.total, step_kind=lambda step: 'train',
        kinds=('train',),
        summary=(f'{self.total} iterations, lr decay from step {half}'
                 if self.config.optim.decay else f'{self.total} iterations'))

  # ---------------------------------------------------------------- state
  def init(self, rng: jax.Array) -> UGATITState:
    s = self.config.data.image_size
    x = jnp.zeros((1, s, s, 3), jnp.float32)
    keys = jax.random.split(rng, len(G_NAMES) + len(D_NAMES))
    g_params = {n: self.generator.init(k, x)['params']
                for n, k in zip(G_NAMES, keys)}
    d_vars = {n: self.discriminators[n].init(k, x)
              for n, k in zip(D_NAMES, keys[len(G_NAMES):])}
    d_params = {n: v['params'] for n, v in d_vars.items()}
    return UGATITState(
        step=jnp.zeros((), jnp.int32), g_params=g_params, d_params=d_params,
        d_spectral={n: v['spectral'] for n, v in d_vars.items()},
        g_opt_state=self.g_tx.init(g_params),
        d_opt_state=self.d_tx.init(d_params))

  def _g(self, params, x):
    img, cam, heat = self.generator.apply({'params': params}, x)
    return img.astype(jnp.float32), cam.astype(jnp.float32), heat

  def _d(self, name, params, spectral, x):
    """Training-mode D forward: (logit, cam_logit, updated spectral)."""
    (out, cam, _), new = self.discriminators[name].apply(
        {'params': params, 'spectral': spectral}, x, update_stats=True,
        mutable=['spectral'])
    return out.astype(jnp.float32), cam.astype(jnp.float32), new['spectral']

  def train_step(self, state, frozen, batch, rng, kind):
    del frozen, rng  # nothing random in a U-GAT-IT step
    if kind != 'train':
      raise ValueError(f"U-GAT-IT has one step kind, 'train'; got {kind!r}.")
    w = self.config.loss
    dt = self.generator.dtype
    real_a, real_b = batch['a'].astype(dt), batch['b'].astype(dt)
    # which real image and which fake each discriminator sees
    pairs = {'ga': ('a', 'b2a'), 'la': ('a', 'b2a'),
             'gb': ('b', 'a2b'), 'lb': ('b', 'a2b')}
    reals = {'a': real_a, 'b': real_b}

    # ---- G's first forwards, shared by both updates: genA2B on [A; B]
    # gives fake_A2B and the identity fake_B2B, genB2A on [B; A] fake_B2A
    # and fake_A2A (per-sample norms: batching is exact). [pt] recomputes
    # them in the G update with the same weights; we keep their VJP.
    n = real_a.shape[0]

    def first(g_params):
      img_ab, cam_ab, _ = self._g(g_params['a2b'],
                                  jnp.concatenate([real_a, real_b]))
      img_ba, cam_ba, _ = self._g(g_params['b2a'],
                                  jnp.concatenate([real_b, real_a]))
      return img_ab, cam_ab, img_ba, cam_ba
    first_out, first_vjp = jax.vjp(first, state.g_params)
    fakes = jax.lax.stop_gradient({'a2b': first_out[0][:n].astype(dt),
                                   'b2a': first_out[2][:n].astype(dt)})

    # ---- D update ([pt] "Update D")
    def d_loss_fn(d_params):
      terms, spectral = {}, {}
      for name in D_NAMES:
        real, fake = pairs[name]
        r, r_cam, s = self._d(name, d_params[name], state.d_spectral[name],
                              reals[real])
        f, f_cam, s = self._d(name, d_params[name], s, fakes[fake])
        tag = name.upper()
        terms[f'ad_{tag}'] = mse(r, 1.0) + mse(f, 0.0)
        terms[f'ad_cam_{tag}'] = mse(r_cam, 1.0) + mse(f_cam, 0.0)
        spectral[name] = s
      for dom in ('A', 'B'):
        terms[f'loss_{dom}'] = w.adv_weight * sum(
            terms[f'{k}_{scale}{dom}'] for k in ('ad', 'ad_cam')
            for scale in 'GL')
      loss = terms['loss_A'] + terms['loss_B']
      return loss, (terms, spectral)

    (d_loss, (d_terms, spectral)), d_grads = jax.value_and_grad(
        d_loss_fn, has_aux=True)(state.d_params)
    updates, d_opt_state = self.d_tx.update(d_grads, state.d_opt_state,
                                            state.d_params)
    d_params = optax.apply_updates(state.d_params, updates)

    # ---- G update ([pt] "Update G"), D with its new weights
    def g_loss_fn(g_params, first_out):
      img_ab, cam_ab, img_ba, cam_ba = first_out
      fake_a2b, fake_b2b, cam_a2b, cam_b2b = (img_ab[:n], img_ab[n:],
                                              cam_ab[:n], cam_ab[n:])
      fake_b2a, fake_a2a, cam_b2a, cam_a2a = (img_ba[:n], img_ba[n:],
                                              cam_ba[:n], cam_ba[n:])
      fake = {'a2b': fake_a2b.astype(dt), 'b2a': fake_b2a.astype(dt)}
      fake_a2b2a = self._g(g_params['b2a'], fake['a2b'])[0]
      fake_b2a2b = self._g(g_params['a2b'], fake['b2a'])[0]
      terms, new_spectral = {}, {}
      for name in D_NAMES:
        f, f_cam, new_spectral[name] = self._d(
            name, d_params[name], spectral[name], fake[pairs[name][1]])
        tag = name.upper()
        terms[f'ad_{tag}'] = mse(f, 1.0)
        terms[f'ad_cam_{tag}'] = mse(f_cam, 1.0)
      terms['recon_A'] = l1(fake_a2b2a, real_a)
      terms['recon_B'] = l1(fake_b2a2b, real_b)
      terms['identity_A'] = l1(fake_a2a, real_a)
      terms['identity_B'] = l1(fake_b2b, real_b)
      terms['cam_A'] = bce_logits(cam_b2a, 1.0) + bce_logits(cam_a2a, 0.0)
      terms['cam_B'] = bce_logits(cam_a2b, 1.0) + bce_logits(cam_b2b, 0.0)
      for dom in ('A', 'B'):
        adv = sum(terms[f'{k}_{scale}{dom}'] for k in ('ad', 'ad_cam')
                  for scale in 'GL')
        terms[f'loss_{dom}'] = (
            w.adv_weight * adv + w.cycle_weight * terms[f'recon_{dom}'] +
            w.identity_weight * terms[f'identity_{dom}'] +
            w.cam_weight * terms[f'cam_{dom}'])
      loss = terms['loss_A'] + terms['loss_B']
      return loss, (terms, new_spectral)

    (g_loss, (g_terms, spectral)), (g_direct, g_first) = jax.value_and_grad(
        g_loss_fn, argnums=(0, 1), has_aux=True)(state.g_params, first_out)
    g_grads = jax.tree.map(jnp.add, g_direct, first_vjp(g_first)[0])
    updates, g_opt_state = self.g_tx.update(g_grads, state.g_opt_state,
                                            state.g_params)
    # [pt] self.genA2B.apply(self.Rho_clipper) after G_optim.step().
    g_params = nets.clip_rho(optax.apply_updates(state.g_params, updates))

    metrics = {f'd/{k}': v for k, v in d_terms.items()}
    metrics.update({f'g/{k}': v for k, v in g_terms.items()})
    metrics['d/loss'] = d_loss
    metrics['g/loss'] = g_loss
    metrics['lr'] = lr_schedule(self.config.optim.lr, self.total,
                                self.config.optim.decay)(state.step)
    new_state = state.replace(
        step=state.step + 1, g_params=g_params, d_params=d_params,
        d_spectral=spectral, g_opt_state=g_opt_state, d_opt_state=d_opt_state)
    return new_state, {k: jnp.asarray(v, jnp.float32)
                       for k, v in metrics.items()}

  # ---------------------------------------------------------------- results
  def _jitted(self):
    if self._fns is None:
      self._fns = {
          'translate': jax.jit(lambda p, x: self._g(p, x)),
          'cycle': jax.jit(lambda p, q, x: self._g(q, self._g(p, x)[0])[0]),
      }
    return self._fns

  def _batched(self, fn, images: np.ndarray) -> list[np.ndarray]:
    """fn over fixed-size chunks (one compile; the last chunk padded)."""
    bs = self.config.eval_batch_size
    outs = []
    for start in range(0, len(images), bs):
      chunk = images[start:start + bs]
      n = len(chunk)
      if n < bs:
        chunk = np.concatenate([chunk, np.repeat(chunk[-1:], bs - n, 0)])
      out = fn(jnp.asarray(chunk))
      out = out if isinstance(out, tuple) else (out,)
      outs.append([np.asarray(o)[:n] for o in out])
    return [np.concatenate(parts) for parts in zip(*outs)]

  def _features(self, images: np.ndarray) -> np.ndarray:
    from animejax import evaluation  # pylint: disable=g-import-not-at-top
    if self._vgg is None:
      from animejax.models import vgg_weights  # pylint: disable=g-import-not-at-top
      vgg, params = vgg_weights.vgg_from_config(self.config.vgg)

      def pooled(x):
        f = vgg.apply({'params': params}, x, layer=evaluation.KID_LAYER,
                      pre_relu=False)
        return jnp.mean(f.astype(jnp.float32), axis=(1, 2))
      self._vgg = jax.jit(pooled)
    return self._batched(self._vgg, images)[0]

  def _real_features(self, key: str, images: np.ndarray) -> np.ndarray:
    cached = self._style_cache.get(key)
    if cached is None or cached[0] is not images:
      cached = (images, self._features(images))
      self._style_cache[key] = cached
    return cached[1]

  def evaluate(self, state, frozen, pipeline) -> dict[str, float]:
    """KID x100 (as the paper reports it) and cycle PSNR on the test sets."""
    from animejax import evaluation  # pylint: disable=g-import-not-at-top
    del frozen
    val, fns, g = pipeline.val, self._jitted(), state.g_params
    fake_b = self._batched(lambda x: fns['translate'](g['a2b'], x)[0],
                           val.val_a)[0]
    fake_a = self._batched(lambda x: fns['translate'](g['b2a'], x)[0],
                           val.val_b)[0]
    cyc_a = self._batched(lambda x: fns['cycle'](g['a2b'], g['b2a'], x),
                          val.val_a)[0]
    cyc_b = self._batched(lambda x: fns['cycle'](g['b2a'], g['a2b'], x),
                          val.val_b)[0]
    feat_a = self._real_features('a', val.val_a)
    feat_b = self._real_features('b', val.val_b)
    return {
        'eval/kid': 100.0 * evaluation.kid(self._features(fake_b), feat_b),
        'eval/kid_b2a': 100.0 * evaluation.kid(self._features(fake_a),
                                               feat_a),
        'eval/kid_identity': 100.0 * evaluation.kid(feat_a, feat_b),
        'eval/cycle_psnr_a': evaluation.psnr(cyc_a, val.val_a),
        'eval/cycle_psnr_b': evaluation.psnr(cyc_b, val.val_b),
    }

  def sample_grid(self, state, frozen, pipeline) -> np.ndarray | None:
    """Rows real A | fake B | CAM heatmap | cycle A, then the B->A rows."""
    from animejax import metrics as metrics_lib  # pylint: disable=g-import-not-at-top
    del frozen
    n = self.config.num_sample_images
    if not n:
      return None
    fns, g = self._jitted(), state.g_params
    rows = []
    for x, fwd, back in ((pipeline.val.val_a[:n], 'a2b', 'b2a'),
                         (pipeline.val.val_b[:n], 'b2a', 'a2b')):
      fake, _, heat = self._batched(
          lambda v, p=g[fwd]: fns['translate'](p, v), x)
      cyc = self._batched(
          lambda v, p=g[fwd], q=g[back]: fns['cycle'](p, q, v), x)[0]
      cams = np.stack([cam_image(h[..., 0], x.shape[1]) for h in heat])
      rows.append([x, fake, cams, cyc])
    return metrics_lib.image_grid([np.concatenate(c) for c in zip(*rows)])

  def predict_fns(self):
    generator = self.generator

    def make(direction):
      def translate(params, inputs):
        """{'images': [-1, 1] [N, H, W, 3]} -> {'images', 'heatmap'}."""
        img, _, heat = generator.apply({'params': params[direction]},
                                       inputs['images'])
        heat = heat.astype(jnp.float32)
        lo = jnp.min(heat, axis=(1, 2, 3), keepdims=True)
        hi = jnp.max(heat, axis=(1, 2, 3), keepdims=True)
        return {'images': jnp.clip(img.astype(jnp.float32), -1.0, 1.0),
                'heatmap': (heat - lo) / jnp.maximum(hi - lo, 1e-12)}
      return translate
    return {'translate': make('a2b'), 'translate_b2a': make('b2a')}

  def predict_example(self, task, pipeline):
    if task == 'translate':
      return {'images': pipeline.val.val_a[:2]}
    if task == 'translate_b2a':
      return {'images': pipeline.val.val_b[:2]}
    raise ValueError(f"U-GAT-IT serves 'translate' and 'translate_b2a', not "
                     f'{task!r}.')

  def inference_params(self, state):
    return {'a2b': state.g_params['a2b'], 'b2a': state.g_params['b2a']}

  def checkpoint_meta(self, step: int) -> dict[str, Any]:
    del step
    return {'generator': generator_kwargs(self.config)}


def generator_kwargs(config) -> dict[str, Any]:
  """UGATITGenerator fields of a config (for weights files)."""
  m = config.model
  return dict(ngf=int(m.ngf), n_blocks=int(m.n_res),
              img_size=int(config.data.image_size), light=bool(m.light),
              variance=str(m.variance))


def cam_u8(heatmap: np.ndarray, size: int) -> np.ndarray:
  """[pt] utils.cam: min-max to uint8 (truncated), cv2.resize to size x size
  (bilinear), COLORMAP_JET; returned as RGB uint8 [size, size, 3] (cv2's
  map is BGR)."""
  x = np.asarray(heatmap, np.float64)
  x = x - x.min()
  x = np.uint8(255 * x / max(x.max(), 1e-12))
  jet = cv2.applyColorMap(cv2.resize(x, (size, size)), cv2.COLORMAP_JET)
  return np.ascontiguousarray(jet[..., ::-1])


def cam_image(heatmap: np.ndarray, size: int) -> np.ndarray:
  """cam_u8 in [-1, 1] for the sample grid."""
  return cam_u8(heatmap, size).astype(np.float32) / 127.5 - 1.0


def export_weights(state, config):
  """weights_io.GeneratorWeights of a saved state (nested dicts, as
  checkpointing.restore_raw gives it): arch 'ugatit', params {'a2b',
  'b2a'} (both generators; the discriminators are not needed to serve)."""
  from animejax import weights_io  # pylint: disable=g-import-not-at-top
  if not isinstance(config, ml_collections.ConfigDict):
    config = ml_collections.ConfigDict(config)
  g = state['g_params']
  params = {d: jax.tree.map(np.asarray, g[d]) for d in G_NAMES}
  num = sum(int(np.size(a)) for a in jax.tree.leaves(params))
  return weights_io.GeneratorWeights(
      'ugatit', generator_kwargs(config), params,
      {'num_params': num, 'directions': {'a2b': 'genA2B', 'b2a': 'genB2A'}})


# ------------------------------------------------------------------ config
def config_errors(config) -> list[str]:
  """Every bad value of the U-GAT-IT keys."""
  errors = []
  try:
    m, d, o, w = config.model, config.data, config.optim, config.loss
  except (AttributeError, KeyError) as e:
    return [f'U-GAT-IT config lacks a section: {e}']
  source = d.get('source', 'folders')
  if source not in DATA_SOURCES:
    errors.append(f'config.data.source={source!r}: one of {DATA_SOURCES} '
                  "('tfds': the selfie2anime builder, manual_dir).")
  if m.variance not in nets.VARIANCES:
    errors.append(f'config.model.variance={m.variance!r}: one of '
                  f'{nets.VARIANCES}.')
  for key in ('ngf', 'ndf', 'n_res'):
    if int(m[key]) < 1:
      errors.append(f'config.model.{key}={m[key]} must be >= 1.')
  size = int(d.image_size)
  if size < 8 or size % 4:
    errors.append(f'config.data.image_size={size} must be a multiple of 4, '
                  '>= 8 (two stride-2 down-samplings).')
  if int(d.load_size) < size:
    errors.append(f'config.data.load_size={d.load_size} < image_size={size}: '
                  'the random crop needs load_size >= image_size.')
  for key in ('global_layers', 'local_layers'):
    n = int(m[key])
    # n - 2 stride-2 convs, then two 4x4 stride-1 convs with reflect pad 1.
    if n < 3 or size // 2 ** (n - 2) < 3:
      errors.append(f'config.model.{key}={n}: need 3 <= n and image_size / '
                    f'2**(n - 2) >= 3 ({size} px allows at most '
                    f'{max(2 + int(np.log2(max(size // 3, 1))), 2)}).')
  if int(d.num_val_images) < 2:
    errors.append('config.data.num_val_images must be >= 2 (KID).')
  if int(config.iterations) < 1:
    errors.append(f'config.iterations={config.iterations} must be >= 1.')
  if float(o.lr) <= 0:
    errors.append(f'config.optim.lr={o.lr} must be > 0.')
  if float(o.weight_decay) < 0:
    errors.append(f'config.optim.weight_decay={o.weight_decay} must be >= 0.')
  for key in ('adv_weight', 'cycle_weight', 'identity_weight', 'cam_weight'):
    if float(w[key]) < 0:
      errors.append(f'config.loss.{key}={w[key]} must be >= 0.')
  if int(config.eval_batch_size) < 1:
    errors.append('config.eval_batch_size must be >= 1.')
  return errors


def create(config: ml_collections.ConfigDict) -> UGATIT:
  return UGATIT(config)


def smoke_config() -> ml_collections.ConfigDict:
  """A few CPU-seconds: light G with ngf 4, D ndf 4 (5/4 layers), 32 px, on
  toy folders written once to the temp directory."""
  import os  # pylint: disable=g-import-not-at-top
  import tempfile  # pylint: disable=g-import-not-at-top
  from animejax.data import unpaired  # pylint: disable=g-import-not-at-top
  from configs import ugatit_small  # pylint: disable=g-import-not-at-top
  c = ugatit_small.get_config()
  c.data.root = unpaired.write_toy_folders(
      os.path.join(tempfile.gettempdir(), 'animejax_ugatit_toy'))
  c.data.image_size = 32
  c.data.load_size = 36
  c.data.num_val_images = 3
  c.model.ngf = 4
  c.model.ndf = 4
  c.model.n_res = 1
  c.model.global_layers = 5
  c.model.local_layers = 4
  c.vgg.weights = 'random'
  c.iterations = 4
  c.eval_batch_size = 2
  c.num_sample_images = 2
  for key in ('log_every_steps', 'checkpoint_every_steps', 'eval_every_steps',
              'sample_every_steps'):
    c[key] = 2
  return c



# --------------------------------------------------------------- serving
DIRECTIONS = G_NAMES
CROPS = ('center', 'none')
_OTHER_EXTS = ('.pb', '.tflite', '.onnx')


def _is_pow2(n: int) -> bool:
  return n > 0 and n & (n - 1) == 0


class Translator:
  """One U-GAT-IT generator ready to serve uint8 images (see load_translator).

  Attributes:
    size: the model's input (and output) side in pixels.
    direction: 'a2b' (genA2B, e.g. selfie -> anime) or 'b2a'.
    light: U-GAT-IT light (any input size works) or full (size x size only).
    meta: where the weights came from (file, workdir step, ...).
  """

  def __init__(self, weights, direction: str = 'a2b', *,
               crop: str = 'center', max_batch: int = 8,
               dtype: Any = jnp.float32, size: int | None = None):
    if direction not in DIRECTIONS:
      raise ValueError(f'direction={direction!r}; use one of {DIRECTIONS} '
                       '(a2b = genA2B, b2a = genB2A).')
    if crop not in CROPS:
      raise ValueError(f'crop={crop!r}; use one of {CROPS}.')
    if max_batch < 1 or not _is_pow2(max_batch):
      raise ValueError(f'max_batch={max_batch} must be a power of two.')
    kwargs = dict(weights.model_kwargs)
    try:
      self.generator = nets.UGATITGenerator(dtype=dtype, **kwargs)
    except TypeError as e:
      raise ValueError(f'Cannot build a UGATITGenerator from {kwargs}: {e}'
                       ) from e
    params = weights.params.get(direction) if isinstance(
        weights.params, dict) else None
    if params is None:
      raise ValueError(f'The U-GAT-IT weights hold no {direction!r} '
                       f'generator (they hold {sorted(weights.params)}).')
    self.light = bool(kwargs.get('light', False))
    self.size = int(kwargs['img_size'])
    if size and int(size) != self.size:
      if not self.light or int(size) % nets.UGATITGenerator.size_multiple:
        raise ValueError(
            f'size={size}: the full U-GAT-IT generator only runs at the size '
            f'it was trained at ({self.size} px; its MLP reads the whole '
            'feature map). Inputs of any size are resized to it; only light '
            'models take other sizes (multiples of 4).')
      self.size = int(size)
    self.direction, self.crop, self.max_batch = direction, crop, max_batch
    self.batch_shapes: set[int] = set()
    self.meta = dict(weights.meta)
    probe = jnp.zeros((1, self.size, self.size, 3), jnp.float32)
    expected = jax.eval_shape(self.generator.init, jax.random.key(0),
                              probe)['params']
    got = jax.tree.map(lambda a: tuple(np.shape(a)), params)
    want = jax.tree.map(lambda a: tuple(a.shape), expected)
    if got != want:
      raise ValueError(f'The {direction!r} weights do not fit '
                       f'UGATITGenerator({kwargs}): parameter shapes differ.')
    self.params = jax.tree.map(jnp.asarray, params)
    self._forward = _forward_fn(self.generator)

  def preprocess(self, image: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] -> the model's uint8 [S, S, 3] input.

    [pt] UGATIT.py test_transform is Resize((img_size, img_size)) (PIL
    bilinear; the official data sets are square). crop='center' first cuts
    the central min(H, W) square so that other aspect ratios are not
    squashed; crop='none' resizes the whole image as [pt] does.
    """
    from PIL import Image  # pylint: disable=g-import-not-at-top
    image = _check_image(image)
    h, w = image.shape[:2]
    if self.crop == 'center' and h != w:
      s = min(h, w)
      top, left = (h - s) // 2, (w - s) // 2
      image = image[top:top + s, left:left + s]
    if image.shape[:2] != (self.size, self.size):
      image = np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize(
          (self.size, self.size), Image.BILINEAR))
    return image

  def __call__(self, images_u8) -> tuple[np.ndarray, np.ndarray]:
    """Translates images: (out uint8 [N, S, S, 3], heatmap uint8 [N, S, S, 3]).

    images_u8: uint8 [N, H, W, 3] (any H, W), or a list of [H, W, 3] arrays
    of different sizes. The heatmap is the generator's CAM heatmap as the
    official code shows it ([pt] utils.cam: min-max, resized, COLORMAP_JET),
    RGB.
    """
    if isinstance(images_u8, np.ndarray):
      if images_u8.ndim != 4:
        raise ValueError(f'images_u8 must be uint8 [N, H, W, 3], got shape '
                         f'{images_u8.shape} (one image: images[None]).')
      images = list(images_u8)
    else:
      images = list(images_u8)
    if not images:
      empty = np.zeros((0, self.size, self.size, 3), np.uint8)
      return empty, empty.copy()
    x = np.stack([self.preprocess(im) for im in images])
    outs, heats = [], []
    for start in range(0, len(x), self.max_batch):
      chunk = x[start:start + self.max_batch]
      n = len(chunk)
      padded = 1 << (n - 1).bit_length()
      if padded > n:
        chunk = np.concatenate([chunk, np.repeat(chunk[-1:], padded - n, 0)])
      self.batch_shapes.add(len(chunk))
      out, heat = self._forward(self.params, chunk)
      outs.append(np.asarray(out)[:n])
      heats.extend(np.asarray(heat)[:n])
    heat_u8 = np.stack([cam_u8(h, self.size) for h in heats])
    return np.concatenate(outs), heat_u8



# One jitted forward per generator architecture (its fields: widths, size,
# light, variance, dtype), shared by every Translator of it: params are an
# argument, so loading other weights of the same model (a server switching
# checkpoints, both directions) compiles nothing new.
_FORWARDS: dict[Any, Any] = {}


def _forward_fn(generator: nets.UGATITGenerator):
  key = (generator.ngf, generator.n_blocks, generator.img_size,
         generator.light, generator.variance, jnp.dtype(generator.dtype).name,
         generator.conv_impl)
  if key not in _FORWARDS:
    def forward(params, images_u8):
      """uint8 [n, S, S, 3] -> (uint8 image, float32 heatmap [n, S/4, S/4])."""
      x = images_u8.astype(jnp.float32) / 127.5 - 1.0
      img, _, heat = generator.apply({'params': params}, x)
      # [pt] denorm (x * 0.5 + 0.5) then cv2.imwrite(x * 255): rounded.
      out = jnp.clip(jnp.round((img.astype(jnp.float32) + 1.0) * 127.5),
                     0, 255).astype(jnp.uint8)
      return out, heat[..., 0].astype(jnp.float32)
    # Batches are padded to powers of two <= max_batch, so at most
    # log2(max_batch) + 1 shapes compile per input size.
    _FORWARDS[key] = jax.jit(forward)
  return _FORWARDS[key]


def _check_image(image) -> np.ndarray:
  image = np.asarray(image)
  if image.dtype != np.uint8:
    raise ValueError(f'images must be uint8 RGB, got dtype {image.dtype}.')
  if image.ndim != 3 or image.shape[-1] != 3 or min(image.shape[:2]) < 1:
    raise ValueError(f'each image must be [H, W, 3] RGB, got {image.shape}.')
  return image


def load_weights(weights: str, which: str = 'latest'):
  """weights_io.GeneratorWeights (arch 'ugatit') from a path, clear errors.

  weights: a U-GAT-IT training workdir (its 'latest' or 'best' checkpoint,
  read with checkpointing.open_read_only), a weights file (written by
  `python -m animejax.convert` or `animejax.export`), or an official
  znxlwm/UGATIT-pytorch checkpoint `<dataset>_params_<step>.pt` (converted
  on the fly with the restricted torch reader).
  """
  import json  # pylint: disable=g-import-not-at-top
  import os  # pylint: disable=g-import-not-at-top
  from animejax import checkpointing, weights_io  # pylint: disable=g-import-not-at-top
  how = ('Pass a U-GAT-IT training workdir, a weights file from `python -m '
         'animejax.convert --from <dataset>_params_<step>.pt --out W.msgpack`,'
         ' or the official .pt checkpoint itself.')
  if which not in ('latest', 'best'):
    raise ValueError(f"which={which!r}: use 'latest' or 'best'.")
  if not weights or not os.path.exists(weights):
    raise FileNotFoundError(f'U-GAT-IT weights {weights!r} do not exist. '
                            f'{how}')
  if os.path.isdir(weights):
    cfg_path = os.path.join(weights, checkpointing.CONFIG_FILE)
    if not os.path.isfile(cfg_path):
      raise FileNotFoundError(
          f'{weights!r} is a folder but not a training workdir (no '
          f'{checkpointing.CONFIG_FILE}). {how}')
    with open(cfg_path, encoding='utf-8') as f:
      method = json.load(f).get('method', 'animegan')
    if method != 'ugatit':
      raise ValueError(
          f'{weights!r} is a training workdir of method {method!r}, not '
          "'ugatit'. Serve it with `python -m animejax.cartoonize --weights "
          f'{weights}` (or animejax.inference); {how}')
    w = checkpointing.load_generator_weights(weights, which=which)
  elif weights.lower().endswith(('.pt', '.pth')):
    from animejax.convert import ugatit as convert_ugatit  # pylint: disable=g-import-not-at-top
    if not convert_ugatit.looks_like_checkpoint(weights):
      raise ValueError(
          f'{weights!r} is a PyTorch file without genA2B/genB2A: not an '
          'official U-GAT-IT checkpoint (an animegan2-pytorch state dict is '
          'served by `python -m animejax.cartoonize`). ' + how)
    w = convert_ugatit.convert_file(weights)
  elif weights.lower().endswith(_OTHER_EXTS):
    raise ValueError(
        f'{weights!r} is an official AnimeGAN export (a one-direction '
        'photo -> anime generator), not U-GAT-IT weights; serve it with '
        f'`python -m animejax.cartoonize --weights {weights}`. {how}')
  else:
    w = weights_io.load(weights)
  if w.arch != 'ugatit':
    raise ValueError(
        f'{weights!r} holds {w.arch!r} generator weights (AnimeGAN family: '
        'one photo -> anime direction, no CAM heatmap), not U-GAT-IT; serve '
        f'them with `python -m animejax.cartoonize --weights {weights}`. '
        f'{how}')
  return w


def load_translator(weights: str, which: str = 'latest',
                    direction: str = 'a2b', *, crop: str = 'center',
                    max_batch: int = 8, dtype: Any = jnp.float32,
                    size: int | None = None) -> Translator:
  """A U-GAT-IT translator for uint8 images; see `Translator`.

  Args:
    weights: a U-GAT-IT training workdir, a converted weights file, or an
      official UGATIT-pytorch `.pt` checkpoint (see `load_weights`).
    which: 'latest' or 'best' checkpoint of a workdir (ignored for files).
    direction: 'a2b' (genA2B: selfie -> anime for selfie2anime) or 'b2a'.
    crop: 'center' (central square, then resize) or 'none' (resize only,
      as the official test transform).
    max_batch: images per device call (a power of two).
    dtype: compute dtype (params stay float32).
    size: light models only: run at this side instead of the trained one
      (the full model's MLP fixes its size; other values are an error).

  Returns:
    t with t.size (input side in px) and t(images_u8 [N, H, W, 3]) ->
    (out uint8 [N, S, S, 3], heatmap uint8 [N, S, S, 3]).
  """
  return Translator(load_weights(weights, which), direction, crop=crop,
                    max_batch=max_batch, dtype=dtype, size=size)
