"""trVAE on the method interface: label-conditioned image transfer.

Lotfollahi, Naghipourfar, Theis, Wolf, "Conditional out-of-distribution
generation for unpaired data using transfer VAE", Bioinformatics 36 (2020).
Sources: [trvae] theislab/trVAE `trvae/models/_utils.py` (kernel, MMD) and
`_losses.py`; [rep] theislab/trVAE_reproducibility `reptrvae/models/
_dctrvae.py`, `_losses.py`, `_utils.py` and `scripts/train_DCtrVAE.py`
(CelebA: z 60, alpha 5e-5, beta 500, eta 100, lr 1e-3, batch 1024, dropout
0.2); Anime-TrVAE (Kalamojo/Anime-TrVAE `demo.py`: conditions real /
cartoon / anime, 64x64, pixels / 255) for the use on faces.

A conditional VAE (`animejax.models.trvae`) encodes (x, c) and decodes
(z, c); training decodes with the image's own condition, transfer with
another one. One step kind, 'train', minimises ([rep] `kl_recon` + `mmd`)

  eta * 0.5 * sum_batch,pixels (x - x_hat)^2              reconstruction
  + alpha * 0.5 * mean_batch,z (exp(lv) + mu^2 - 1 - lv)  KL
  + beta * sum_{i > j} MMD(h_i, h_j)                      MMD

where h_c are the MMD-layer outputs (the decoder's first layer) of the
batch's samples of condition c and MMD is the biased estimate
mean K(h_i, h_i) + mean K(h_j, h_j) - 2 mean K(h_i, h_j) with the
multi-scale RBF kernel k(x, y) = mean_s exp(-|x - y|^2 / (2 s)) over the 19
sigmas of [trvae] `_utils.compute_kernel`. [trvae] partitions the batch with
`tf.dynamic_partition` and zeroes NaN pairs (`_nan2zero`: an empty
condition's mean is NaN); we keep static shapes: condition masks weight one
[B, B] kernel matrix and a pair with an empty side contributes 0.

Where the two official repositories differ (we follow [trvae] for the MMD
pairs, [rep] for the rest, which is what the paper's CelebA model used):
- MMD pairs: [trvae] `mmd(..., "general")` sums all pairs i > j;
  [rep]'s loop `for i: for j < i: mmd(c[j], c[j + 1])` sums only neighbouring
  conditions, (0, 1) counted N - 1 times (2 conditions: the same), and zeroes
  the whole loss when any pair is NaN.
- Reconstruction / KL: [rep] `kl_recon` sums the squared error over the whole
  batch and averages the KL over batch and z (ours); [trvae]'s DCtrVAE uses
  `kl_recon_mse` (mean squared error) instead.
- Architecture: see `animejax.models.trvae` ([rep] arch 3 here).
- Both train Keras Adam(lr) (epsilon 1e-7) with EarlyStopping(150) and
  ReduceLROnPlateau(100) on the validation loss; our run loop has a fixed
  step count and learning rate.
Official `predict` samples z; our 'transfer' decodes z = mu (deterministic).
"""

from __future__ import annotations

import math
import os
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from animejax import config_lib
from animejax.methods import base

# [trvae] _utils.compute_kernel, kernel == "multi-scale-rbf".
SIGMAS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 5, 10, 15, 20, 25, 30, 35,
          100, 1e3, 1e4, 1e5, 1e6)

STATE_VERSION = 1


# ------------------------------------------------------------------ losses
def squared_distance(x: jax.Array, y: jax.Array) -> jax.Array:
  """[n, m] |x_i - y_j|^2 by differences, as [trvae] `squared_distance`.

  (Not |x|^2 + |y|^2 - 2 x.y: with sigma = 1e-6 its rounding error on the
  zero diagonal would change exp(-d / 2e-6) visibly.)
  """
  return jnp.sum(jnp.square(x[:, None, :] - y[None, :, :]), axis=-1)


def multiscale_rbf(x: jax.Array, y: jax.Array) -> jax.Array:
  """[n, m] kernel mean_s exp(-|x - y|^2 / (2 s)) ([trvae] compute_kernel)."""
  d = squared_distance(x.astype(jnp.float32), y.astype(jnp.float32))
  beta = 1.0 / (2.0 * jnp.asarray(SIGMAS, jnp.float32))
  return jnp.mean(jnp.exp(-beta[:, None, None] * d[None]), axis=0)


def mmd_matrix(h: jax.Array, condition: jax.Array,
               n_conditions: int) -> tuple[jax.Array, jax.Array]:
  """Pairwise MMD between the condition groups of one batch.

  Args:
    h: [B, D] features (the MMD layer).
    condition: int [B] group of each row.
    n_conditions: N.

  Returns:
    ([N, N] MMD(h_i, h_j) = mean K_ii + mean K_jj - 2 mean K_ij (0 where a
    group is empty), [N] group sizes).
  """
  k = multiscale_rbf(h, h)
  masks = jax.nn.one_hot(condition, n_conditions, dtype=jnp.float32).T
  counts = masks.sum(axis=1)
  safe = jnp.maximum(counts, 1.0)
  means = (masks @ k @ masks.T) / (safe[:, None] * safe[None, :])
  diag = jnp.diag(means)
  mmd = diag[:, None] + diag[None, :] - 2.0 * means
  present = counts > 0
  return jnp.where(present[:, None] & present[None, :], mmd, 0.0), counts


_MMD_MATRIX = jax.jit(mmd_matrix, static_argnums=2)


def mmd_loss(h: jax.Array, condition: jax.Array, n_conditions: int,
             beta: float) -> jax.Array:
  """beta * sum over pairs i > j of MMD(h_i, h_j) ([trvae] `mmd`, general)."""
  mmd, _ = mmd_matrix(h, condition, n_conditions)
  lower = jnp.tril(jnp.ones((n_conditions, n_conditions), bool), k=-1)
  return beta * jnp.sum(jnp.where(lower, mmd, 0.0))


def reconstruction_loss(x: jax.Array, x_hat: jax.Array,
                        eta: float) -> jax.Array:
  """eta * 0.5 * sum of squared errors over batch and pixels ([rep])."""
  return eta * 0.5 * jnp.sum(jnp.square(x.astype(jnp.float32) -
                                        x_hat.astype(jnp.float32)))


def kl_loss(mu: jax.Array, log_var: jax.Array, alpha: float) -> jax.Array:
  """alpha * 0.5 * mean over batch and z of exp(lv) + mu^2 - 1 - lv ([rep])."""
  return alpha * 0.5 * jnp.mean(jnp.exp(log_var) + jnp.square(mu) - 1.0 -
                                log_var)


# ------------------------------------------------------------------ state
@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  opt_state: Any


def _psnr01(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """[N] PSNR (dB) of [0, 1] images (capped at 100 dB)."""
  mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2,
                axis=(1, 2, 3))
  return 10.0 * np.log10(1.0 / np.maximum(mse, 1e-10))


def _chunked(fn, arrays: list[np.ndarray], batch_size: int) -> list[np.ndarray]:
  """fn(*chunks) over fixed-size chunks (one compile; pads the last)."""
  n = len(arrays[0])
  outs: list[list[np.ndarray]] = []
  for start in range(0, n, batch_size):
    chunk = [a[start:start + batch_size] for a in arrays]
    pad = batch_size - len(chunk[0])
    if pad:
      chunk = [np.concatenate([c, np.repeat(c[-1:], pad, 0)]) for c in chunk]
    res = fn(*[jnp.asarray(c) for c in chunk])
    res = res if isinstance(res, tuple) else (res,)
    outs.append([np.asarray(r)[:batch_size - pad] for r in res])
  return [np.concatenate(parts) for parts in zip(*outs)]


class TrVAEMethod(base.Method):
  """trVAE: one 'train' step kind (Adam on recon + KL + MMD)."""
  name = 'trvae'
  state_version = STATE_VERSION

  def __init__(self, config: ml_collections.ConfigDict):
    super().__init__(config)
    from animejax.data import conditions  # pylint: disable=g-import-not-at-top
    from animejax.models import trvae as trvae_models  # pylint: disable=g-import-not-at-top
    self._conditions_lib = conditions
    if config.data.source == 'procedural':
      self.condition_names = ('photo', 'anime')
    elif config.data.source == 'celeb_a':
      attr = config.data.celeba_attribute
      self.condition_names = (f'not_{attr}', attr)
    else:
      self.condition_names = tuple(n for n, _ in conditions.parse_conditions(
          config.data.conditions, config.data.get('root', '')))
    self.n_conditions = len(self.condition_names)
    m = config.model
    self.model = trvae_models.create(
        m.arch, n_conditions=self.n_conditions, z_dim=m.z_dim,
        image_size=config.data.image_size, dropout_rate=m.dropout_rate,
        output_activation=m.output_activation,
        dtype={'float32': jnp.float32, 'bfloat16': jnp.bfloat16}[config.dtype])
    o = config.optimizer
    self.tx = optax.adam(o.learning_rate, b1=o.b1, b2=o.b2, eps=o.eps)
    self._data = None
    self._vgg = None
    self._kid_cache = None
    self._fns = None
    self._clf = None

  @property
  def best_metric(self) -> tuple[str, str]:
    return 'eval/kid', 'min'

  # ---------------------------------------------------------------- data
  def _load(self):
    if self._data is None:
      self._data = self._conditions_lib.load(self.config.data,
                                             self.config.seed)
    return self._data

  def input_pipeline(self, start_step: int = 0) -> base.InputPipeline:
    data = self._load()
    stream = self._conditions_lib.ConditionStream(
        data, seed=self.config.seed, global_batch=self.config.batch_size,
        start_step=start_step, balanced=self.config.data.balanced,
        process_index=jax.process_index(),
        process_count=jax.process_count())
    return base.InputPipeline(
        num_train_images=int(sum(len(t) for t in data.train)),
        train_iter=stream, val=data, skipped_files=data.skipped_files)

  def schedule(self, num_train_images: int) -> base.Schedule:
    steps_per_epoch = max(1, math.ceil(num_train_images /
                                       self.config.batch_size))
    total = (self.config.num_train_steps if self.config.num_train_steps > 0
             else steps_per_epoch * self.config.num_epochs)
    return base.Schedule(
        total_steps=total, step_kind=lambda s: 'train', kinds=('train',),
        summary=f'{steps_per_epoch} steps/epoch, {total} steps')

  # ---------------------------------------------------------------- state
  def _dummy(self, batch: int = 1):
    s = self.config.data.image_size
    return (jnp.zeros((batch, s, s, 3), jnp.float32),
            jnp.zeros((batch, self.n_conditions), jnp.float32))

  def init(self, rng: jax.Array) -> TrainState:
    x, c = self._dummy()
    params = self.model.init(rng, x, c, c)['params']
    return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                      opt_state=self.tx.init(params))

  def losses(self, params, batch, rng) -> tuple[jax.Array, dict[str, Any]]:
    """(total loss, metrics) of one batch with dropout and sampled z."""
    lc = self.config.loss
    x = batch['image']
    cond = batch['condition']
    onehot = jax.nn.one_hot(cond, self.n_conditions, dtype=jnp.float32)
    drop_key, sample_key = jax.random.split(rng)
    recon, h, mu, log_var = self.model.apply(
        {'params': params}, x, onehot, onehot, train=True,
        rngs={'dropout': drop_key, 'sample': sample_key})
    rec = reconstruction_loss(x, recon, lc.eta)
    kl = kl_loss(mu, log_var, lc.alpha)
    mmd = mmd_loss(h, cond, self.n_conditions, lc.beta)
    total = rec + kl + mmd
    return total, {'loss': total, 'recon': rec, 'kl': kl, 'mmd': mmd}

  def train_step(self, state, frozen, batch, rng, kind):
    del frozen
    if kind != 'train':
      raise ValueError(f'trvae has one step kind, \'train\', not {kind!r}.')
    grads, metrics = jax.grad(self.losses, has_aux=True)(state.params, batch,
                                                         rng)
    updates, opt_state = self.tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics['grad_norm'] = optax.global_norm(grads)
    metrics = {k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()}
    return TrainState(step=state.step + 1, params=params,
                      opt_state=opt_state), metrics

  # ---------------------------------------------------------------- results
  def _jitted(self):
    if self._fns is None:
      model, n = self.model, self.n_conditions

      def run(params, x, c_src, c_dst):
        recon, h, _, _ = model.apply(
            {'params': params}, x, jax.nn.one_hot(c_src, n),
            jax.nn.one_hot(c_dst, n))
        return jnp.clip(recon, 0.0, 1.0), h
      self._fns = jax.jit(run)
    return self._fns

  def _apply(self, params, x: np.ndarray, src: int, dst) -> tuple[np.ndarray,
                                                                  np.ndarray]:
    """(images [0, 1], MMD layer) of x encoded as src, decoded as dst."""
    n = len(x)
    src = np.full(n, src, np.int32)
    dst = np.full(n, dst, np.int32) if np.ndim(dst) == 0 else dst
    fn = self._jitted()
    out = _chunked(lambda a, b, c: fn(params, a, b, c), [x, src, dst],
                   self.config.batch_size)
    return out[0], out[1]

  def _kid_features(self, images01: np.ndarray) -> np.ndarray:
    from animejax import evaluation  # pylint: disable=g-import-not-at-top
    if self._vgg is None:
      from animejax.models import vgg_weights  # pylint: disable=g-import-not-at-top
      vgg, params = vgg_weights.vgg_from_config(self.config.vgg)
      # Only Evaluator.features is used (VGG19 conv5_4 pooled, [-1, 1]).
      self._vgg = evaluation.Evaluator(None, vgg, params, 'conv1_1',
                                       self.config.batch_size)
    return self._vgg.features(images01 * 2.0 - 1.0)

  def condition_index(self, name: str) -> int:
    if name not in self.condition_names:
      raise ValueError(f'unknown condition {name!r}; known: '
                       f'{list(self.condition_names)}.')
    return self.condition_names.index(name)

  def evaluate(self, state, frozen, pipeline) -> dict[str, float]:
    """PSNR per condition, MMD-layer MMD between conditions, transfer KID
    and (config.eval.classifier) the domain classifier's held-out accuracy
    and share of transfers it calls the target."""
    from animejax import evaluation  # pylint: disable=g-import-not-at-top
    del frozen
    data = pipeline.val
    params = state.params
    names = self.condition_names
    out: dict[str, float] = {}
    feats = []
    for c, name in enumerate(names):
      x = data.val_float(c)
      recon, h = self._apply(params, x, c, c)
      out[f'eval/psnr_{name}'] = float(np.mean(_psnr01(recon, x)))
      feats.append(h)
    out['eval/psnr'] = float(np.mean([out[f'eval/psnr_{n}'] for n in names]))
    # The MMD penalty's own statistic between the held-out sets' MMD-layer
    # outputs (decoded with their own conditions, [rep] to_mmd_layer
    # feed_fake=-1), and within a condition (two halves) for scale.
    h_all = np.concatenate(feats)
    c_all = np.concatenate([np.full(len(f), c, np.int32)
                            for c, f in enumerate(feats)])
    mmd, _ = _MMD_MATRIX(h_all, c_all, len(names))
    mmd = np.asarray(mmd)
    pairs = []
    for i in range(len(names)):
      for j in range(i):
        out[f'eval/mmd_{names[j]}_{names[i]}'] = float(mmd[i, j])
        pairs.append(float(mmd[i, j]))
    out['eval/mmd'] = float(np.sum(pairs))
    within = []
    for f in feats:
      half = len(f) // 2
      if half >= 1:
        halves = np.concatenate([np.zeros(half, np.int32),
                                 np.ones(len(f) - half, np.int32)])
        w, _ = _MMD_MATRIX(f, halves, 2)
        within.append(float(w[1, 0]))
    out['eval/mmd_within'] = float(np.mean(within)) if within else 0.0
    # Transfer: source -> target of the held-out source images against the
    # held-out target images (KID on VGG19 conv5_4 pooled features), beside
    # the untransferred source images (identity).
    src = self.condition_index(self.config.eval.source)
    dst = self.condition_index(self.config.eval.target)
    k = self.config.eval.num_kid_images
    x_src = data.val_float(src)[:k]
    x_dst = data.val_float(dst)[:k]
    moved, _ = self._apply(params, x_src, src, dst)
    if len(x_src) >= 2 and len(x_dst) >= 2:
      key = (id(data), src, dst, k)
      if self._kid_cache is None or self._kid_cache[0] != key:
        # The held-out sets do not change: their features once per run.
        f_dst = self._kid_features(x_dst)
        identity = evaluation.kid(self._kid_features(x_src), f_dst)
        self._kid_cache = (key, f_dst, identity)
      _, f_dst, identity = self._kid_cache
      out['eval/kid'] = evaluation.kid(self._kid_features(moved), f_dst)
      out['eval/kid_identity'] = identity
    back, _ = self._apply(params, moved, dst, src)
    out['eval/psnr_cycle'] = float(np.mean(_psnr01(back, x_src)))
    if self.config.eval.get('classifier', False):
      # The transfer score: the share of transfers that an
      # independent real/anime classifier (animejax.domain_classifier, trained
      # on the training images only) calls the target, beside its held-out
      # accuracy and the share of the untransferred sources it calls target.
      clf = self._classifier(data)
      accs = clf.accuracy([data.val_float(c) for c in range(len(names))])
      for name, acc in zip(names, accs):
        out[f'eval/cls_acc_{name}'] = acc
      out['eval/cls_acc'] = float(np.mean(accs))
      out['eval/cls_target_share'] = clf.share(moved, dst)
      out['eval/cls_target_share_identity'] = clf.share(x_src, dst)
    return out

  def _classifier(self, data):
    """The domain classifier of this run: loaded from
    config.eval.classifier_file when it exists, else trained once (then
    saved there if set); kept for the next evaluations."""
    from animejax import domain_classifier  # pylint: disable=g-import-not-at-top
    ec = self.config.eval
    key = id(data)
    if self._clf is not None and self._clf[0] == key:
      return self._clf[1]
    path = ec.get('classifier_file', '')
    clf = None
    if path and os.path.isfile(path):
      with open(path, 'rb') as f:
        clf = domain_classifier.DomainClassifier.from_bytes(f.read())
      if clf.names != tuple(self.condition_names):
        raise ValueError(
            f'{path} classifies {list(clf.names)}, not this run\'s conditions '
            f'{list(self.condition_names)}; delete it or set '
            'config.eval.classifier_file to another path.')
    if clf is None:
      cap = int(ec.get('classifier_max_per_condition', 0)) or None
      clf = domain_classifier.train(
          [t[np.random.default_rng([self.config.seed, 5, c]).permutation(
              len(t))[:cap]] for c, t in enumerate(data.train)],
          self.condition_names,
          seed=self.config.seed, steps=int(ec.classifier_steps),
          batch_size=int(ec.classifier_batch_size))
      if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, 'wb') as f:
          f.write(clf.to_bytes())
    self._clf = (key, clf)
    return clf

  def sample_grid(self, state, frozen, pipeline) -> np.ndarray | None:
    """Rows of held-out source | -> target | -> back to source."""
    from animejax import metrics as metrics_lib  # pylint: disable=g-import-not-at-top
    del frozen
    n = self.config.num_sample_images
    src = self.condition_index(self.config.eval.source)
    dst = self.condition_index(self.config.eval.target)
    x = pipeline.val.val_float(src)[:n]
    if not len(x):
      return None
    moved, _ = self._apply(state.params, x, src, dst)
    back, _ = self._apply(state.params, moved, dst, src)
    return metrics_lib.image_grid([x * 2 - 1, moved * 2 - 1, back * 2 - 1])

  def predict_fns(self):
    model, n, size = self.model, self.n_conditions, self.config.data.image_size

    def transfer(params, inputs):
      """{'images': [-1, 1] [N, H, W, 3], 'source', 'target': int [N]} ->
      {'images': [-1, 1] [N, S, S, 3]} (resized to the model's size S)."""
      x = (inputs['images'].astype(jnp.float32) + 1.0) / 2.0
      if x.shape[1:3] != (size, size):
        x = jax.image.resize(x, (x.shape[0], size, size, x.shape[3]),
                             'bilinear', antialias=True)
      recon, _, _, _ = model.apply(
          {'params': params}, x, jax.nn.one_hot(inputs['source'], n),
          jax.nn.one_hot(inputs['target'], n))
      return {'images': jnp.clip(recon, 0.0, 1.0) * 2.0 - 1.0}
    return {'transfer': transfer}

  def predict_example(self, task, pipeline):
    if task != 'transfer':
      raise ValueError(f"trvae serves only 'transfer', not {task!r}.")
    src = self.condition_index(self.config.eval.source)
    dst = self.condition_index(self.config.eval.target)
    x = pipeline.val.val_float(src)[:2] * 2.0 - 1.0
    return {'images': x, 'source': np.full(len(x), src, np.int32),
            'target': np.full(len(x), dst, np.int32)}

  def inference_params(self, state):
    return state.params

  def checkpoint_meta(self, step: int) -> dict[str, Any]:
    del step
    return {'conditions': list(self.condition_names),
            'image_size': int(self.config.data.image_size),
            'arch': self.config.model.arch}


def create(config: ml_collections.ConfigDict) -> TrVAEMethod:
  return TrVAEMethod(config)


def config_errors(config: ml_collections.ConfigDict) -> list[str]:
  """Every bad value among the trvae keys."""
  from animejax.data import conditions  # pylint: disable=g-import-not-at-top
  from animejax.models import trvae as trvae_models  # pylint: disable=g-import-not-at-top
  errors: list[str] = []
  config_lib.check_choice(errors, config, 'model.arch', trvae_models.ARCHS)
  config_lib.check_choice(errors, config, 'model.output_activation',
                          trvae_models.OUTPUT_ACTIVATIONS)
  config_lib.check_choice(errors, config, 'data.source', conditions.SOURCES)
  config_lib.check_choice(errors, config, 'data.crop', conditions.CROPS)
  for key in ('model.z_dim', 'data.image_size', 'data.num_val_per_condition',
              'optimizer.learning_rate', 'eval.num_kid_images'):
    config_lib.check_positive(errors, config, key)
  for key in ('loss.alpha', 'loss.beta', 'loss.eta',
              'data.max_per_condition'):
    config_lib.check_positive(errors, config, key, allow_zero=True)
  if not 0.0 <= config.model.dropout_rate < 1.0:
    errors.append(f'config.model.dropout_rate={config.model.dropout_rate!r} '
                  'must be in [0, 1).')
  if config.eval.get('classifier', False):
    for key in ('eval.classifier_steps', 'eval.classifier_batch_size'):
      config_lib.check_positive(errors, config, key)
  if config.data.get('face_crop', ''):
    try:
      conditions.parse_face_crop(config.data.face_crop)
    except ValueError as e:
      errors.append(str(e))
  if config.num_train_steps <= 0:
    config_lib.check_positive(errors, config, 'num_epochs')
  if config.model.arch in trvae_models.ARCHS:
    arch = trvae_models.ARCHS[config.model.arch]
    s = config.data.image_size
    pools, ups = len(arch.enc_blocks), len(arch.dec_blocks) - 1
    for what, k in (('pools', pools), ('up-samples', ups)):
      if s % 2 ** k:
        errors.append(f'config.data.image_size={s} must be a multiple of '
                      f'{2 ** k} (model.arch={config.model.arch!r} {what} '
                      f'{k} times).')
  names = ('photo', 'anime')
  if config.data.source == 'celeb_a':
    attr = config.data.celeba_attribute
    names = (f'not_{attr}', attr)
  if config.data.source == 'folders':
    try:
      names = tuple(n for n, _ in conditions.parse_conditions(
          config.data.conditions, config.data.get('root', '')))
    except ValueError as e:
      errors.append(str(e))
      names = ()
  for key in ('eval.source', 'eval.target'):
    if names and config_lib.get_key(config, key) not in names:
      errors.append(f'config.{key}={config_lib.get_key(config, key)!r} is not '
                    f'a condition; known: {list(names)}.')
  if config.data.get('balanced', False) and names and (
      config.batch_size % len(names)):
    errors.append(f'config.data.balanced needs config.batch_size='
                  f'{config.batch_size} divisible by {len(names)}.')
  return errors


def smoke_config() -> ml_collections.ConfigDict:
  """A run of a few CPU-seconds: small arch at 32 px, procedural conditions,
  random VGG19 for KID, 4 steps with a checkpoint after 2."""
  from configs import trvae_small  # pylint: disable=g-import-not-at-top
  c = trvae_small.get_config()
  c.data.source = 'procedural'
  c.data.image_size = 32
  c.data.procedural_epoch_size = 8
  c.data.num_val_per_condition = 4
  c.eval.source, c.eval.target = 'photo', 'anime'
  c.eval.num_kid_images = 4
  c.eval.classifier_steps = 2
  c.eval.classifier_batch_size = 4
  c.vgg.weights = 'random'
  c.batch_size = 4
  c.num_train_steps = 4
  c.num_sample_images = 2
  for key in ('log_every_steps', 'checkpoint_every_steps', 'eval_every_steps',
              'sample_every_steps'):
    c[key] = 2
  return c
