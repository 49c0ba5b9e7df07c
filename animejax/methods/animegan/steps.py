"""TrainState and the two jit-compiled steps: `init_step` and `gan_step`.

Follows TachibanaYoshino/AnimeGANv2 `AnimeGANv2.py` ([v2]):
  init phase:  init_loss = con_weight * content, its own Adam (init_lr).
  GAN phase:   one D update, then one G update, on the same batch, with
    G loss = con_w content + sty_w style + color_w color + tv_w tv
             + g_adv_weight * adv_G(D(G(photo)))
    D loss = d_adv_weight * (w_r real + w_f fake + w_g gray + w_s smooth) + GP.

Choices (documented where [v2] leaves room):
  * D runs once on the concatenation [anime, anime_gray, fake, smooth_gray]:
    its norms are per sample and the spectral-norm power iteration does not
    depend on the input, so this equals [v2]'s four calls.
  * Spectral norm: in [v2] every D call carries `u.assign(u_hat)`, so both the
    D-update and the G-update session runs advance u by one power iteration.
    We do the same: the D update and G's adversarial pass both run D with
    update_stats=True and the G pass's u is what the state keeps.
  * config.optim.d_steps_per_g = k > 1 runs k D updates on the same batch
    (same fake images, fresh GP noise each) before the G update. [v2]'s
    --training_rate goes the other way (G:D = rate:1); its default 1 is k=1.
  * VGG: photo and anime_gray features are computed in one call outside the
    differentiated function; only VGG(fake) is differentiated (concatenating
    all three would run VGG's backward pass over 3x the batch).
  * G's forward runs once per step: the D update uses its output and the G
    gradient goes through `jax.vjp` of that forward.
  * Mixed precision (config.dtype='bfloat16'): the modules compute in bf16;
    params, optimizer states and every loss stay float32.
  * RNG: the step takes its key from the caller (the run loop folds the
    step number into the run's key), so the state holds none.

Metrics (float32 scalars): unweighted loss terms 'loss/content', 'loss/style',
'loss/color', 'loss/tv', 'loss/g_adv', 'loss/d_real', 'loss/d_fake',
'loss/d_gray', 'loss/d_smooth', 'loss/gp'; weighted totals 'loss/g_total',
'loss/d_total' (init phase: 'loss/init'); mean logits 'd/real_logit',
'd/fake_logit'; global gradient norms 'grad_norm/g', 'grad_norm/d'; learning
rates 'lr/init' or 'lr/g', 'lr/d'.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from animejax import losses
from animejax.methods.animegan import losses as ag_losses
from animejax import parallel

BATCH_KEYS = ('photo', 'anime', 'anime_gray', 'smooth_gray')
PyTree = Any


@flax.struct.dataclass
class TrainState:
  step: jax.Array             # int32 scalar: steps done (init + gan)
  g_params: PyTree
  d_params: PyTree
  d_spectral: PyTree          # D's 'spectral' collection ({} without SN)
  init_opt_state: PyTree
  g_opt_state: PyTree
  d_opt_state: PyTree


class StepFns(NamedTuple):
  """`init_step(state, batch, vgg_params[, rng])` and `gan_step(...)`, both
  returning (new_state, metrics); the input state is donated. Without `rng`
  the step's key is fold_in(key(0), state.step) (tests, benchmarks)."""
  init_step: Callable[..., tuple[TrainState, dict[str, jax.Array]]]
  gan_step: Callable[..., tuple[TrainState, dict[str, jax.Array]]]


# ------------------------------------------------------------------ optimizers


def _schedule(config: ml_collections.ConfigDict, base_lr: float,
              decay_steps: int | None) -> optax.Schedule:
  kind = config.optim.schedule
  if kind == 'constant' or decay_steps is None:
    return optax.constant_schedule(base_lr)
  if kind == 'cosine':
    return optax.cosine_decay_schedule(base_lr, max(int(decay_steps), 1))
  raise ValueError(f"Unknown schedule {kind!r}; expected 'constant' or "
                   "'cosine' (config key optim.schedule).")


def _adam(config, schedule: optax.Schedule) -> optax.GradientTransformation:
  # [v2] tf.train.AdamOptimizer(lr, beta1=0.5, beta2=0.999), epsilon 1e-8.
  # inject_hyperparams keeps the current learning rate in the state so the
  # metrics can report it.
  return optax.inject_hyperparams(optax.adam)(
      learning_rate=schedule, b1=config.optim.b1, b2=config.optim.b2,
      eps=config.optim.eps)


def make_optimizers(config: ml_collections.ConfigDict,
                    total_gan_steps: int | None = None
                    ) -> tuple[optax.GradientTransformation, ...]:
  """(init, G, D) Adams. With schedule 'cosine', G decays to 0 over
  `total_gan_steps` updates and D over total_gan_steps * d_steps_per_g
  (its update count). The init phase always uses a constant init_lr ([v2]).
  The optimizer states have the same structure for every schedule."""
  if config.optim.schedule == 'cosine' and total_gan_steps is None:
    decay_g = decay_d = None
  else:
    decay_g = total_gan_steps
    decay_d = (None if total_gan_steps is None else
               total_gan_steps * int(config.optim.d_steps_per_g))
  init_opt = _adam(config, optax.constant_schedule(config.optim.init_lr))
  g_opt = _adam(config, _schedule(config, config.optim.g_lr, decay_g))
  d_opt = _adam(config, _schedule(config, config.optim.d_lr, decay_d))
  return init_opt, g_opt, d_opt


def _lr(opt_state) -> jax.Array:
  # The learning rate used by the update that produced this state.
  return jnp.asarray(opt_state.hyperparams['learning_rate'], jnp.float32)


# ------------------------------------------------------------------ state


def create_train_state(config: ml_collections.ConfigDict, rng: jax.Array,
                       generator: nn.Module,
                       discriminator: nn.Module) -> TrainState:
  """Initialises G and D at [1, S, S, 3] (S = config.data.image_size), the
  three Adam states, and step 0. `rng` is a PRNG key (typed or raw)."""
  o = config.optim
  init = _state_initializer(int(config.data.image_size), generator,
                            discriminator, float(o.init_lr), float(o.g_lr),
                            float(o.d_lr), float(o.b1), float(o.b2),
                            float(o.eps))
  return init(rng)


@functools.lru_cache(maxsize=16)
def _state_initializer(size, generator, discriminator, init_lr, g_lr, d_lr,
                       b1, b2, eps):
  """One jitted initialiser per (size, modules, optimizer values): compiled
  once, reused by every later create_train_state call with the same setup
  (op by op, the many small initialisers would each compile on their own)."""
  config = ml_collections.ConfigDict({'optim': dict(
      init_lr=init_lr, g_lr=g_lr, d_lr=d_lr, b1=b1, b2=b2, eps=eps,
      schedule='constant', d_steps_per_g=1)})
  # The optimizer-state structure is the same for every schedule.
  init_opt, g_opt, d_opt = make_optimizers(config)

  def init(rng):
    # The third key was the state's own RNG before the run loop took over
    # the per-step keys; the split stays so the params do not change.
    g_key, d_key, _ = jax.random.split(rng, 3)
    x = jnp.zeros((1, size, size, 3), jnp.float32)
    g_params = generator.init(g_key, x)['params']
    d_vars = discriminator.init(d_key, x)
    d_params = d_vars['params']
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        g_params=g_params, d_params=d_params,
        d_spectral=d_vars.get('spectral', {}),
        init_opt_state=init_opt.init(g_params),
        g_opt_state=g_opt.init(g_params), d_opt_state=d_opt.init(d_params))

  return jax.jit(init)


# ------------------------------------------------------------------ steps


def _features(vgg: nn.Module, vgg_params: PyTree, layer: str,
              x: jax.Array) -> jax.Array:
  # VGG19 before the ReLU of `layer` ([v2] conv4_4_no_activation); float32.
  out = vgg.apply({'params': vgg_params}, x, layer=layer, pre_relu=True)
  return out.astype(jnp.float32)


def _check_batch(batch: dict[str, jax.Array], keys: tuple[str, ...]) -> None:
  missing = [k for k in keys if k not in batch]
  if missing:
    raise ValueError(f'Batch lacks {missing}; a batch needs {keys} '
                     '(see animejax.data).')


def init_step(state: TrainState, batch: dict[str, jax.Array],
              vgg_params: PyTree, rng: jax.Array | None = None, *, config: ml_collections.ConfigDict,
              generator: nn.Module, vgg: nn.Module,
              init_opt: optax.GradientTransformation
              ) -> tuple[TrainState, dict[str, jax.Array]]:
  """One init-phase step: content loss only, [v2] init_loss = con_w * con."""
  del rng  # deterministic
  photo = batch['photo']
  layer = config.vgg.layer
  photo_features = jax.lax.stop_gradient(
      _features(vgg, vgg_params, layer, photo))

  def loss_fn(g_params):
    fake = generator.apply({'params': g_params}, photo)
    content = ag_losses.content_loss(photo_features,
                                  _features(vgg, vgg_params, layer, fake))
    return config.loss.content_weight * content, content

  (loss, content), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.g_params)
  updates, opt_state = init_opt.update(grads, state.init_opt_state,
                                       state.g_params)
  new_state = state.replace(step=state.step + 1,
                            g_params=optax.apply_updates(state.g_params,
                                                         updates),
                            init_opt_state=opt_state)
  metrics = {'loss/init': loss, 'loss/content': content,
             'grad_norm/g': optax.global_norm(grads),
             'lr/init': _lr(opt_state)}
  return new_state, metrics


def _d_update(carry, key, *, config, discriminator, d_opt, anime, gray, fake,
              smooth):
  """One D update (Adam) on fixed images; returns the new carry and metrics."""
  d_params, spectral, opt_state = carry
  loss_cfg = config.loss
  n = anime.shape[0]

  def loss_fn(params):
    images = jnp.concatenate([anime, gray, fake, smooth], axis=0)
    logits, updated = discriminator.apply(
        {'params': params, 'spectral': spectral}, images, update_stats=True,
        mutable=['spectral'])
    logits = logits.astype(jnp.float32)
    real_l, gray_l, fake_l, smooth_l = (logits[i * n:(i + 1) * n]
                                        for i in range(4))
    terms = ag_losses.discriminator_terms(loss_cfg.adv_type, real_l, gray_l,
                                       fake_l, smooth_l)
    d_adv = ag_losses.discriminator_loss(terms, loss_cfg)
    # The penalty's D calls use the stored u (same power iteration as above)
    # without writing it back.
    d_fn = lambda x: discriminator.apply(  # pylint: disable=g-long-lambda
        {'params': params, 'spectral': spectral}, x)
    gp = losses.gradient_penalty(loss_cfg.gp_type, d_fn, anime, fake, key)
    total = d_adv + loss_cfg.gp_weight * gp
    aux = (updated.get('spectral', {}), terms, gp, total,
           jnp.mean(real_l), jnp.mean(fake_l))
    return total, aux

  (_, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(d_params)
  new_spectral, terms, gp, total, real_logit, fake_logit = aux
  updates, opt_state = d_opt.update(grads, opt_state, d_params)
  d_params = optax.apply_updates(d_params, updates)
  metrics = {'loss/d_real': terms['real'], 'loss/d_fake': terms['fake'],
             'loss/d_gray': terms['gray'], 'loss/d_smooth': terms['smooth'],
             'loss/gp': gp, 'loss/d_total': total,
             'd/real_logit': real_logit, 'd/fake_logit': fake_logit,
             'grad_norm/d': optax.global_norm(grads), 'lr/d': _lr(opt_state)}
  return (d_params, new_spectral, opt_state), metrics


def gan_step(state: TrainState, batch: dict[str, jax.Array],
             vgg_params: PyTree, rng: jax.Array, *, config: ml_collections.ConfigDict,
             generator: nn.Module, discriminator: nn.Module, vgg: nn.Module,
             g_opt: optax.GradientTransformation,
             d_opt: optax.GradientTransformation
             ) -> tuple[TrainState, dict[str, jax.Array]]:
  """One adversarial step: d_steps_per_g D updates, then one G update."""
  loss_cfg = config.loss
  layer = config.vgg.layer
  photo, anime = batch['photo'], batch['anime']
  gray, smooth = batch['anime_gray'], batch['smooth_gray']
  step_key = rng

  fake, g_vjp = jax.vjp(
      lambda p: generator.apply({'params': p}, photo), state.g_params)

  # ---- D update(s) on the current G's images.
  d_update = functools.partial(
      _d_update, config=config, discriminator=discriminator, d_opt=d_opt,
      anime=anime, gray=gray, fake=jax.lax.stop_gradient(fake).astype(
          jnp.float32), smooth=smooth)
  k = int(config.optim.d_steps_per_g)
  d_keys = jax.random.split(step_key, k)
  carry = (state.d_params, state.d_spectral, state.d_opt_state)
  if k == 1:
    carry, d_metrics = d_update(carry, d_keys[0])
  else:
    carry, d_metrics = jax.lax.scan(d_update, carry, d_keys)
    d_metrics = jax.tree.map(lambda m: m[-1], d_metrics)  # the last update's
  d_params, d_spectral, d_opt_state = carry

  # ---- G update against the updated D.
  fixed = _features(vgg, vgg_params, layer, jnp.concatenate([photo, gray]))
  fixed = jax.lax.stop_gradient(fixed)
  photo_features, gray_features = fixed[:photo.shape[0]], fixed[photo.shape[0]:]

  def g_loss_fn(fake_images):
    logits, updated = discriminator.apply(
        {'params': d_params, 'spectral': d_spectral}, fake_images,
        update_stats=True, mutable=['spectral'])
    fake_features = _features(vgg, vgg_params, layer, fake_images)
    terms = {
        'content': ag_losses.content_loss(photo_features, fake_features),
        'style': ag_losses.style_loss(gray_features, fake_features),
        'color': ag_losses.color_loss(photo, fake_images),
        'tv': ag_losses.tv_loss(fake_images),
        'g_adv': losses.generator_adv_loss(loss_cfg.adv_type, logits),
    }
    total = (loss_cfg.content_weight * terms['content'] +
             loss_cfg.style_weight * terms['style'] +
             loss_cfg.color_weight * terms['color'] +
             loss_cfg.tv_weight * terms['tv'] +
             loss_cfg.g_adv_weight * terms['g_adv'])
    return total, (updated.get('spectral', {}), terms)

  (g_total, (d_spectral, g_terms)), fake_grad = jax.value_and_grad(
      g_loss_fn, has_aux=True)(fake)
  (g_grads,) = g_vjp(fake_grad)
  updates, g_opt_state = g_opt.update(g_grads, state.g_opt_state,
                                      state.g_params)
  new_state = state.replace(
      step=state.step + 1,
      g_params=optax.apply_updates(state.g_params, updates),
      d_params=d_params, d_spectral=d_spectral,
      g_opt_state=g_opt_state, d_opt_state=d_opt_state)
  metrics = dict(d_metrics)
  metrics.update({f'loss/{k}': v for k, v in g_terms.items()})
  metrics.update({'loss/g_total': g_total,
                  'grad_norm/g': optax.global_norm(g_grads),
                  'lr/g': _lr(g_opt_state)})
  return new_state, metrics


# ------------------------------------------------------------------ jit


def step_functions(config: ml_collections.ConfigDict, generator: nn.Module,
                   discriminator: nn.Module, vgg: nn.Module,
                   *, total_gan_steps: int | None = None
                   ) -> dict[str, Callable[..., Any]]:
  """{'init': init_step, 'gan': gan_step} bound to the modules and optimizers.

  Each takes (state, batch, vgg_params, rng) and returns (state, metrics);
  they are pure and not jitted (the run loop and `make_step_fns` jit them).
  Checks the step-related config values first (ValueError naming the key).

  Args:
    config: the run config (loss.*, optim.*, vgg.layer).
    generator, discriminator, vgg: the Flax modules (built with the compute
      dtype of config.dtype).
    total_gan_steps: adversarial steps of the run (`Schedule.gan_steps`);
      required by config.optim.schedule='cosine', unused by 'constant'.
  """
  if config.optim.schedule == 'cosine' and total_gan_steps is None:
    raise ValueError(
        "config.optim.schedule='cosine' needs the number of adversarial "
        'steps: pass total_gan_steps='
        'schedule.derive(config, num_train_images).gan_steps.')
  if int(config.optim.d_steps_per_g) < 1:
    raise ValueError(f'config.optim.d_steps_per_g='
                     f'{config.optim.d_steps_per_g} must be >= 1.')
  for key, choices in (('adv_type', losses.ADV_TYPES),
                       ('gp_type', losses.GP_TYPES)):
    if config.loss[key] not in choices:
      raise ValueError(f'config.loss.{key}={config.loss[key]!r} is not one of '
                       f'{choices}.')
  init_opt, g_opt, d_opt = make_optimizers(config, total_gan_steps)

  def checked(fn, keys):
    def wrapped(state, batch, vgg_params, rng):
      _check_batch(batch, keys)  # at trace time: a clear error, no cost
      return fn(state, batch, vgg_params, rng)
    return wrapped

  init_fn = functools.partial(init_step, config=config, generator=generator,
                              vgg=vgg, init_opt=init_opt)
  gan_fn = functools.partial(gan_step, config=config, generator=generator,
                             discriminator=discriminator, vgg=vgg,
                             g_opt=g_opt, d_opt=d_opt)
  return {'init': checked(init_fn, ('photo',)),
          'gan': checked(gan_fn, BATCH_KEYS)}


def make_step_fns(config: ml_collections.ConfigDict, generator: nn.Module,
                  discriminator: nn.Module, vgg: nn.Module, mesh,
                  *, total_gan_steps: int | None = None) -> StepFns:
  """`step_functions` jit-compiled for `mesh` (tests and benchmarks).

  The state and vgg_params are replicated, batches split on 'data', the
  state donated. The functions take (state, batch, vgg_params[, rng]).
  """
  fns = step_functions(config, generator, discriminator, vgg,
                       total_gan_steps=total_gan_steps)
  replicated = parallel.replicated_sharding(mesh)
  batched = parallel.batch_sharding(mesh)

  def jitted(fn):
    compiled = jax.jit(
        fn, in_shardings=(replicated, batched, replicated, replicated),
        out_shardings=(replicated, replicated), donate_argnums=(0,))

    def call(state, batch, vgg_params, rng=None):
      if rng is None:
        rng = jax.random.fold_in(jax.random.key(0), state.step)
      return compiled(state, batch, vgg_params, rng)
    return call

  return StepFns(init_step=jitted(fns['init']), gan_step=jitted(fns['gan']))
