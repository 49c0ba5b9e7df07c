"""MakeGirlsMoe's conditional DRAGAN ('dragan') on the method interface.

Sources: [mgm] Jin et al. 2017, "Towards the Automatic Anime Characters
Creation with Generative Adversarial Networks" (arXiv:1708.05509), Sec. 4;
[bhp] bhpfelix/PyTorch-Face-Generator-SRResNet-based-ACGAN-DRAGAN `main.py`
and `settings.py`, the public reimplementation followed where [mgm] is
silent. Networks: `animejax.models.dragan`.

One 'train' step (one compiled program) is [bhp]'s loop body:
  D: real (adv target 1, cls target = the image's tags) and G(z, c) (adv
     target 0, cls target c), each lambda_adv * BCE(adv) + BCE(cls), plus
     the DRAGAN penalty lambda_gp * mean (||grad D_adv(x_hat)|| - 1)^2 on
     the real images; one Adam update of D.
  G: fresh (z, c), lambda_adv * BCE(D_adv, 1) + BCE(D_cls, c); one Adam
     update of G.
lambda_adv = the number of labels ([mgm] Sec. 4, [bhp] `lambda_adv =
tag_num`); BCE is the mean over samples (and tags) of the logit form
([bhp] StableBCELoss). Two options leave the recipe, for short runs
(configs/dragan_anime64.py:labels says why): config.label_loss='softmax'
(ACGAN's per-group cross entropy for the label head, `label_loss`) and
config.d_cls_fake=False (D's label loss on real faces only).

G runs in training mode in both halves (batch statistics; [bhp] never
calls .eval()). z ~ N(0, 1)^128 ([bhp] z.normal_(0, 1)). Fake labels c:
one hair and one eye colour uniformly at random (the labelled set's
structure: every face has exactly one of each; [bhp] draws continuous
U[0, 1) tags). Learning rates fall x0.1 every `lr_decay_steps` ([bhp]
adjust_learning_rate: every 10 epochs).

The penalty (`animejax.losses.dragan_penalty` with convention
'makegirlsmoe'; AnimeGANv2's default convention puts its alpha on the
perturbed side and uses the population std):
  x_hat = alpha x + (1 - alpha) (x + 0.5 std(x) beta),
  alpha ~ U[0, 1) per sample, beta ~ U[0, 1) per element, std over the whole
  batch with torch's unbiased estimator ([bhp] main.py `X.data.std()`),
  the gradient norm over each flattened image (DRAGAN, Kodali et al. 2017;
  [bhp] takes `norm(2, dim=1)`, over channels only). x_hat is built from the
  data with no gradient ([bhp] `X.data`), so the penalty trains D only.

Label accuracy ('eval/dhead_acc_*'): the D's own label head judges, per
group (hair, eyes), whether argmax over the group's logits is the tag
asked of G ('_fake', over eval.num_images generated faces) or the true tag
('_real', the held-out faces: the ceiling the fake number is read against).
It is not an independent attribute classifier: a D that learned the tags
of real faces but is fooled by G's would over-rate G. The independent one
(`animejax.attributes`, trained separately on the real tagged faces only)
gives 'eval/attr_acc_*' when config.eval.attribute_classifier names its file.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from animejax import config_lib
from animejax import losses
from animejax.data import labelled
from animejax.methods import dcgan as face

STATE_VERSION = 1
# [bhp] settings.py lambda_gp = 0.5 ([mgm] Sec. 4: 0.5).
LAMBDA_GP = 0.5


def mean_bce(logits: jax.Array, targets) -> jax.Array:
  """[bhp] StableBCELoss: the mean sigmoid BCE of logits against targets
  (broadcast to the logits' shape)."""
  return jnp.mean(optax.sigmoid_binary_cross_entropy(
      logits, jnp.broadcast_to(targets, logits.shape)))


def dragan_penalty(d_adv, real: jax.Array, rng: jax.Array,
                   lam: float = LAMBDA_GP) -> jax.Array:
  """lam * `losses.dragan_penalty` in [bhp]'s convention ('makegirlsmoe':
  alpha on the real side, unbiased std; see the module docstring).

  Args:
    d_adv: images [B, H, W, C] -> adv logits [B] (D's parameters closed
      over: differentiate the result with respect to them).
    real: real images; no gradient flows to them.
    rng: key; split into (alpha, beta) keys.
    lam: lambda_gp.
  """
  return lam * losses.dragan_penalty(d_adv, real, rng,
                                     convention='makegirlsmoe')


class DRAGAN(face.FaceGAN):
  """Conditional SRResNet G / residual two-head D with the DRAGAN penalty."""
  name = 'dragan'
  state_version = STATE_VERSION
  conditional = True

  def __init__(self, config: ml_collections.ConfigDict):
    super().__init__(config)
    from animejax.models import dragan  # pylint: disable=g-import-not-at-top
    m = config.model
    self.vocab = labelled.vocab_of(config.data)
    self.num_labels = len(self.vocab)
    if not self.num_labels:
      raise ValueError('dragan needs labels: set config.data.labels_csv.')
    self.generator = dragan.DRAGANGenerator(
        num_labels=self.num_labels, noise_dim=m.noise_dim,
        image_size=config.data.image_size, features=m.g_features,
        num_res_blocks=m.g_res_blocks, activation=m.activation)
    self.discriminator = dragan.DRAGANDiscriminator(
        num_labels=self.num_labels, widths=tuple(m.d_widths),
        num_res_blocks=m.d_res_blocks, minibatch_std=m.minibatch_std)
    o = config.optim
    # [bhp] adjust_learning_rate: lr * 0.1 ** (epoch // 10), as steps here.
    lr = optax.exponential_decay(o.lr, o.lr_decay_steps, 0.1, staircase=True)
    # [bhp] torch.optim.Adam(lr, betas=(0.5, 0.999)), torch eps 1e-8.
    self.g_tx = optax.adam(lr, b1=o.b1, b2=o.b2)
    self.d_tx = optax.adam(lr, b1=o.b1, b2=o.b2)
    self.groups = labelled.group_slices(self.vocab)
    if config.label_loss == 'softmax' and not self.groups:
      raise ValueError("config.label_loss='softmax' needs tag groups ('<c> "
                       "hair', '<c> eyes'); these tags have none: use "
                       "'bce'.")
    from animejax import attributes  # pylint: disable=g-import-not-at-top
    self._group_loss = attributes.loss_fn
    self._ungrouped = attributes.ungrouped_tags(self.vocab, self.groups)

  def label_loss(self, logits: jax.Array, tags: jax.Array) -> jax.Array:
    """config.label_loss of the label head's logits against multi-hot tags.

    'bce': the mean over samples and tags of the sigmoid BCE ([bhp]
    StableBCELoss). 'softmax': per tag group (hair, eyes: each face has one
    of each) the mean softmax cross entropy, summed over groups, plus the
    BCE of ungrouped tags: ACGAN's class log-likelihood (Odena et al. 2017
    eq. 2), the loss of `animejax.attributes`.
    """
    if self.config.label_loss == 'bce':
      return mean_bce(logits, tags)
    return self._group_loss(logits, tags, self.groups, self._ungrouped)

  def checkpoint_meta(self, step):
    del step
    return {'labels': list(self.vocab)}

  def noise(self, rng, n):
    return jax.random.normal(rng, (n, self.config.model.noise_dim))

  def sample_labels(self, rng, n):
    """One tag of each group (hair, eyes) uniformly at random, multi-hot."""
    out = jnp.zeros((n, self.num_labels), jnp.float32)
    for k, sl in zip(jax.random.split(rng, len(self.groups)),
                     self.groups.values()):
      idx = jax.random.randint(k, (n,), sl.start, sl.stop)
      out = out.at[jnp.arange(n), idx].set(1.0)
    return out

  def grid_labels(self, n):
    """Row r: hair colour r; column j: eye colour j (cycling)."""
    cols = int(np.ceil(np.sqrt(n)))
    out = np.zeros((n, self.num_labels), np.float32)
    hair = self.groups.get('hair', slice(0, 0))
    eyes = self.groups.get('eyes', slice(0, 0))
    for i in range(n):
      r, j = divmod(i, cols)
      if hair.stop > hair.start:
        out[i, hair.start + r % (hair.stop - hair.start)] = 1.0
      if eyes.stop > eyes.start:
        out[i, eyes.start + j % (eyes.stop - eyes.start)] = 1.0
    return out

  def init(self, rng):
    kg, kd = jax.random.split(rng)
    s, n = self.config.data.image_size, self.num_labels
    g_vars = self.generator.init(
        kg, jnp.zeros((2, self.config.model.noise_dim)), jnp.zeros((2, n)))
    d_vars = self.discriminator.init(kd, jnp.zeros((4, s, s, 3)))
    return face.FaceGANState(
        step=jnp.zeros((), jnp.int32), g_params=g_vars['params'],
        g_stats=g_vars['batch_stats'], d_params=d_vars['params'],
        g_opt=self.g_tx.init(g_vars['params']),
        d_opt=self.d_tx.init(d_vars['params']))

  def train_step(self, state, frozen, batch, rng, kind):
    del frozen
    if kind != 'train':
      raise ValueError(f'dragan has one step kind, \'train\'; got {kind!r}.')
    c = self.config
    lam_adv = float(self.num_labels) if c.lambda_adv <= 0 else c.lambda_adv
    real, tags = batch['image'], batch['labels']
    n = real.shape[0]
    bce = mean_bce
    d_apply = lambda p, x: self.discriminator.apply({'params': p}, x)
    k_dz, k_dc, k_gp, k_gz, k_gc = jax.random.split(rng, 5)

    def g_apply(g_params, stats, z, labels):
      return self.generator.apply({'params': g_params, 'batch_stats': stats},
                                  z, labels, train=True,
                                  mutable=['batch_stats'])

    fake_c = self.sample_labels(k_dc, n)
    fake, g_vars = g_apply(state.g_params, state.g_stats,
                           self.noise(k_dz, n), fake_c)
    fake = jax.lax.stop_gradient(fake)  # [bhp] .detach()

    def d_loss_fn(d_params):
      adv_r, cls_r = d_apply(d_params, real)
      adv_f, cls_f = d_apply(d_params, fake)
      cls_real = self.label_loss(cls_r, tags)
      cls_fake = self.label_loss(cls_f, fake_c)
      loss_real = lam_adv * bce(adv_r, 1.0) + cls_real
      loss_fake = lam_adv * bce(adv_f, 0.0)
      if c.d_cls_fake:
        loss_fake += cls_fake
      gp = dragan_penalty(lambda x: d_apply(d_params, x)[0], real, k_gp,
                          c.lambda_gp)
      return loss_real + loss_fake + gp, (gp, cls_real, cls_fake,
                                          jnp.mean(adv_r > 0),
                                          jnp.mean(adv_f < 0))
    (d_loss, (gp, cls_real, cls_fake, acc_r, acc_f)), d_grads = (
        jax.value_and_grad(d_loss_fn, has_aux=True)(state.d_params))
    updates, d_opt = self.d_tx.update(d_grads, state.d_opt, state.d_params)
    d_params = optax.apply_updates(state.d_params, updates)

    gen_c = self.sample_labels(k_gc, n)
    gen_z = self.noise(k_gz, n)

    def g_loss_fn(g_params):
      gen, new_vars = g_apply(g_params, g_vars['batch_stats'], gen_z, gen_c)
      adv, cls = d_apply(d_params, gen)
      cls_gen = self.label_loss(cls, gen_c)
      return lam_adv * bce(adv, 1.0) + cls_gen, (new_vars, cls_gen)
    (g_loss, (new_vars, cls_gen)), g_grads = jax.value_and_grad(
        g_loss_fn, has_aux=True)(state.g_params)
    updates, g_opt = self.g_tx.update(g_grads, state.g_opt, state.g_params)
    new_state = state.replace(
        step=state.step + 1,
        g_params=optax.apply_updates(state.g_params, updates),
        g_stats=new_vars['batch_stats'], d_params=d_params, g_opt=g_opt,
        d_opt=d_opt)
    metrics = {'d_loss': d_loss, 'g_loss': g_loss, 'gp': gp,
               'd_cls_real': cls_real, 'd_cls_fake': cls_fake,
               'g_cls': cls_gen, 'd_acc_real': acc_r,
               'd_acc_fake': acc_f}
    return new_state, jax.tree.map(lambda v: v.astype(jnp.float32), metrics)

  def predict_fns(self):
    generator = self.generator

    def generate(params, inputs):
      """{'z': [N, noise_dim], 'labels': [N, L]} -> {'images': [N, S, S, 3]}."""
      return {'images': generator.apply(params, inputs['z'],
                                        inputs['labels'])}
    return {'generate': generate}

  # ---------------------------------------------------------------- eval
  def _group_accuracy(self, d_params, images, labels) -> dict[str, float]:
    if 'cls' not in self._jit_cache:
      self._jit_cache['cls'] = jax.jit(
          lambda p, x: self.discriminator.apply({'params': p}, x)[1])
    fn = self._jit_cache['cls']
    logits = face.batched(lambda x: fn(d_params, x), images,
                          self.config.eval.batch_size)
    return {g: float(np.mean(np.argmax(logits[:, sl], 1) ==
                             np.argmax(labels[:, sl], 1)))
            for g, sl in self.groups.items()}

  def attribute_classifier(self):
    """The independent judge of config.eval.attribute_classifier (None when
    unset); see `animejax.attributes`."""
    path = self.config.eval.get('attribute_classifier', '')
    if not path:
      return None
    if 'attr' not in self._jit_cache:
      from animejax import attributes  # pylint: disable=g-import-not-at-top
      clf = attributes.Classifier(path)
      clf.check_vocab(self.vocab)
      if not clf.split_matches(self.config.data):
        raise ValueError(
            f'The attribute classifier {path!r} was trained on another split '
            f'({clf.meta.get("split")}), so it may have seen these held-out '
            'faces: retrain it with python -m animejax.attributes train '
            '--config <this config>.')
      self._jit_cache['attr'] = clf
    return self._jit_cache['attr']

  def extra_metrics(self, state, data, fake, labels, n):
    out = {}
    real, real_tags = data.val_float()[:n], data.val_labels[:n]
    for which, images, tags in (('fake', fake, labels),
                                ('real', real, real_tags)):
      for g, acc in self._group_accuracy(state.d_params, images,
                                         np.asarray(tags)).items():
        out[f'eval/dhead_acc_{g}_{which}'] = acc
    clf = self.attribute_classifier()
    if clf is not None:
      # 'attr_acc_*_fake': the classifier reads the tags asked of G; '_real':
      # the same classifier on the held-out faces (its own held-out accuracy
      # on these n faces: the ceiling).
      for which, images, tags in (('fake', fake, labels),
                                  ('real', real, real_tags)):
        for g, acc in clf.accuracy(images, np.asarray(tags)).items():
          out[f'eval/attr_acc_{g}_{which}'] = acc
    return out


def get_config_base() -> ml_collections.ConfigDict:
  """[mgm]/[bhp]'s recipe at 128 px (paths unset; configs set them)."""
  c = config_lib.run_config('dragan')
  c.batch_size = 64               # [mgm] Sec. 4: batch size 64
  c.train_steps = 100000
  c.lambda_gp = LAMBDA_GP         # [mgm] Sec. 4, [bhp] lambda_gp = 0.5
  c.lambda_adv = 0.0              # <= 0: the number of labels ([mgm], [bhp])
  # D's label loss on G's faces too ([bhp] main.py; ACGAN, Odena et al. 2017
  # eq. 2). False: on real faces only, as StudioGAN's ACGAN
  # (POSTECH-CVLab/PyTorch-StudioGAN src/worker.py: D adds cond_loss of
  # real_dict only; G's faces' cond_loss trains G).
  c.d_cls_fake = True
  c.label_loss = 'bce'            # [bhp] StableBCELoss; or 'softmax' (ACGAN)
  face.add_data_config(c, 128)
  c.model = ml_collections.ConfigDict()
  c.model.noise_dim = 128         # [mgm] Sec. 4: 128-d noise
  c.model.g_features = 64         # [mgm] Fig. 3: k3n64s1
  c.model.g_res_blocks = 16       # [mgm] Fig. 3: 16 residual blocks
  c.model.activation = 'relu'     # [mgm] Fig. 3 (SRResNet: 'prelu')
  c.model.d_widths = (32, 64, 128, 256, 512, 1024)  # [mgm] Fig. 4
  c.model.d_res_blocks = 2        # [mgm] Fig. 4 / [bhp]
  c.model.minibatch_std = False   # not in [mgm]
  c.optim = ml_collections.ConfigDict()
  c.optim.lr = 2e-4               # [mgm] Sec. 4, [bhp] learning_rate
  c.optim.b1 = 0.5                # [mgm] Sec. 4, [bhp] betas=(0.5, 0.999)
  c.optim.b2 = 0.999
  # [bhp] x0.1 every 10 epochs: 10 x 63,632 / 64 ~ 10,000 steps at [mgm]'s
  # set size ([mgm] Sec. 4 only says the lr decays).
  c.optim.lr_decay_steps = 10000
  c.num_sample_images = 64        # 8 x 8: rows = hair, columns = eyes
  # A weights file of `python -m animejax.attributes train` ('' = none):
  # adds eval/attr_acc_{hair,eyes}_{fake,real}, an independent judge of the
  # labels (the D head's dhead_acc_* is trained with G).
  c.eval.attribute_classifier = ''
  return c


def config_errors(config: ml_collections.ConfigDict) -> list[str]:
  errors = face.data_errors(config)
  if config.data.source == 'tfds':
    errors.append("config.data.source='tfds' (the Kaggle/Getchu faces) has "
                  'no tags; dragan is conditional: use a folder with a '
                  'labels CSV.')
  if config.data.source == 'folder' and not config.data.labels_csv:
    errors.append('config.data.labels_csv is empty: dragan is conditional '
                  '(e.g. ../shared/data/faces/anime64_tagged/tags.csv).')
  for key in ('optim.lr', 'optim.lr_decay_steps', 'model.g_features',
              'model.noise_dim'):
    config_lib.check_positive(errors, config, key)
  config_lib.check_positive(errors, config, 'lambda_gp', allow_zero=True)
  config_lib.check_choice(errors, config, 'model.activation',
                          ('relu', 'prelu'))
  config_lib.check_choice(errors, config, 'label_loss', ('bce', 'softmax'))
  m = 2 ** len(config.model.d_widths)
  if config.data.image_size % m:
    errors.append(f'config.data.image_size={config.data.image_size} must be '
                  f'a multiple of {m} (len(model.d_widths) stride-2 convs).')
  return errors


def create(config: ml_collections.ConfigDict) -> DRAGAN:
  return DRAGAN(config)


def smoke_config() -> ml_collections.ConfigDict:
  """Tiny widths, synthetic 16 px labelled faces, random VGG conv1_1."""
  c = face.smoke_overrides(get_config_base())
  c.model.noise_dim = 8
  c.model.g_features = 4
  c.model.g_res_blocks = 1
  c.model.d_widths = (4, 8)
  c.model.d_res_blocks = 1
  return c
