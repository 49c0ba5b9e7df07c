"""Adversarial losses and gradient penalties shared by every GAN method.

Pure functions on discriminator logits (float32 in, scalar out): the LSGAN,
hinge and BCE (non-saturating) terms, and the R1, DRAGAN and WGAN-GP
penalties. Method-specific terms live with their method (AnimeGAN's content,
Gram style, YUV colour, TV and four-term D loss in
`animejax.methods.animegan.losses`). Sources:
  [v2] TachibanaYoshino/AnimeGANv2 `tools/ops.py` (generator_loss,
       discriminator_loss, gradient_panalty), where these were first used here.
  [tf] TensorFlow: `tf.nn.sigmoid_cross_entropy_with_logits`.

Inputs may be bfloat16 (mixed precision); every loss casts to float32 first.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

ADV_TYPES = ('lsgan', 'hinge', 'bce')
GP_TYPES = ('none', 'r1', 'dragan', 'wgan-gp')

def _f32(x: jax.Array) -> jax.Array:
  return jnp.asarray(x).astype(jnp.float32)


# ------------------------------------------------------------------ adversarial


def _check_adv(adv_type: str) -> None:
  if adv_type not in ADV_TYPES:
    raise ValueError(f'Unknown adversarial loss {adv_type!r}; expected one of '
                     f'{ADV_TYPES} (config key loss.adv_type).')


def _bce(logits: jax.Array, label: float) -> jax.Array:
  """Mean [tf] sigmoid_cross_entropy_with_logits with a constant label.

  Stable form max(x, 0) - x z + log(1 + exp(-|x|)), as TF computes it.
  """
  return jnp.mean(jnp.maximum(logits, 0.0) - logits * label +
                  jnp.log1p(jnp.exp(-jnp.abs(logits))))


def d_real_term(adv_type: str, logits: jax.Array) -> jax.Array:
  """Discriminator loss of images labelled real ([v2] discriminator_loss).

  lsgan: mean (D - 1)^2; hinge: mean relu(1 - D); bce: mean BCE(D, 1).
  """
  _check_adv(adv_type)
  x = _f32(logits)
  if adv_type == 'lsgan':
    return jnp.mean(jnp.square(x - 1.0))
  if adv_type == 'hinge':
    return jnp.mean(jax.nn.relu(1.0 - x))
  return _bce(x, 1.0)


def d_fake_term(adv_type: str, logits: jax.Array) -> jax.Array:
  """Discriminator loss of images labelled fake (generated, gray, smoothed).

  lsgan: mean D^2; hinge: mean relu(1 + D); bce: mean BCE(D, 0)
  ([v2] discriminator_loss uses the same form for fake, gray and real_blur).
  """
  _check_adv(adv_type)
  x = _f32(logits)
  if adv_type == 'lsgan':
    return jnp.mean(jnp.square(x))
  if adv_type == 'hinge':
    return jnp.mean(jax.nn.relu(1.0 + x))
  return _bce(x, 0.0)


def generator_adv_loss(adv_type: str, fake_logits: jax.Array) -> jax.Array:
  """[v2] ops.generator_loss, unweighted (the caller multiplies g_adv_weight).

  lsgan: mean (D(G(x)) - 1)^2; hinge: -mean D(G(x)); bce: non-saturating
  mean BCE(D(G(x)), 1) = mean softplus(-D).
  """
  _check_adv(adv_type)
  x = _f32(fake_logits)
  if adv_type == 'lsgan':
    return jnp.mean(jnp.square(x - 1.0))
  if adv_type == 'hinge':
    return -jnp.mean(x)
  return _bce(x, 1.0)


# ------------------------------------------------------------------ penalties

DiscriminatorFn = Callable[[jax.Array], jax.Array]


def _input_gradients(d_fn: DiscriminatorFn, x: jax.Array) -> jax.Array:
  """d sum(D(x)) / dx, i.e. [tf] tf.gradients(logit, x): per-sample gradients
  because the discriminators treat samples independently (per-sample norms).
  Flattened to [B, -1] float32."""
  grads = jax.grad(lambda y: jnp.sum(_f32(d_fn(y))))(x)
  return _f32(grads).reshape(x.shape[0], -1)


def _norms(grads: jax.Array) -> jax.Array:
  # sqrt(sum g^2) per sample, float32 ([v2]: tf.norm(flatten(grad), axis=1)).
  return jnp.sqrt(jnp.sum(jnp.square(grads), axis=1))


def r1_penalty(d_fn: DiscriminatorFn, real: jax.Array) -> jax.Array:
  """R1 (Mescheder et al. 2018): 0.5 * mean_b ||d sum D(real_b) / d real_b||^2.

  The caller multiplies config.loss.gp_weight (gamma), giving gamma/2 E||g||^2.
  """
  return 0.5 * jnp.mean(jnp.sum(jnp.square(_input_gradients(d_fn, real)),
                                axis=1))


# The two DRAGAN conventions in use (the same distribution of points, not the
# same numbers for one key): which side alpha weights, the std estimator and
# the order in which the key is split for the two draws.
#   'animeganv2': [v2] AnimeGANv2.gradient_panalty('dragan'): tf.nn.moments
#     over all axes (population std), points = real + alpha (perturbed - real),
#     i.e. alpha on the perturbed side; split(rng) -> (noise, alpha).
#   'makegirlsmoe': [bhp] bhpfelix/PyTorch-Face-Generator-SRResNet-based-ACGAN-
#     DRAGAN main.py, the public reimplementation of MakeGirlsMoe (Jin et al.
#     2017, arXiv:1708.05509; the paper gives no formula): `X.data.std()`
#     (torch: unbiased, ddof 1), x_hat = alpha X + (1 - alpha) (X + 0.5 std
#     beta), i.e. alpha on the real side; split(rng) -> (alpha, noise).
# Both perturb by 0.5 * std(batch) * U[0, 1) and draw alpha ~ U[0, 1) per
# sample (DRAGAN, Kodali et al. 2017, arXiv:1705.07215).
DRAGAN_CONVENTIONS = ('animeganv2', 'makegirlsmoe')


def dragan_points(real: jax.Array, rng: jax.Array,
                  convention: str = 'animeganv2') -> jax.Array:
  """DRAGAN sample points around `real` (see DRAGAN_CONVENTIONS).

  perturbed = real + 0.5 * std(real) * U[0, 1) noise (std over the whole
  batch); alpha ~ U[0, 1) per sample. 'animeganv2': real + alpha (perturbed
  - real); 'makegirlsmoe': alpha real + (1 - alpha) perturbed, unbiased std.
  The points are data (no gradient flows back to `real`, as [bhp]'s
  `X.data`): the penalty trains D only.
  """
  if convention not in DRAGAN_CONVENTIONS:
    raise ValueError(f'Unknown DRAGAN convention {convention!r}; expected one '
                     f'of {DRAGAN_CONVENTIONS}.')
  real = jax.lax.stop_gradient(_f32(real))
  alpha_shape = (real.shape[0],) + (1,) * (real.ndim - 1)
  if convention == 'animeganv2':
    noise_key, alpha_key = jax.random.split(rng)
    eps = jax.random.uniform(noise_key, real.shape, jnp.float32)
    perturbed = real + 0.5 * jnp.std(real) * eps
    alpha = jax.random.uniform(alpha_key, alpha_shape, jnp.float32)
    return real + alpha * (perturbed - real)
  alpha_key, noise_key = jax.random.split(rng)
  alpha = jax.random.uniform(alpha_key, alpha_shape, jnp.float32)
  beta = jax.random.uniform(noise_key, real.shape, jnp.float32)
  std = jnp.std(real, ddof=1)  # torch Tensor.std(): unbiased
  return alpha * real + (1.0 - alpha) * (real + 0.5 * std * beta)


def interpolation_points(real: jax.Array, fake: jax.Array,
                         rng: jax.Array) -> jax.Array:
  """WGAN-GP points real + alpha (fake - real), alpha ~ U[0, 1) per sample."""
  real, fake = _f32(real), _f32(fake)
  alpha = jax.random.uniform(rng, (real.shape[0], 1, 1, 1), jnp.float32)
  return real + alpha * (fake - real)


def dragan_penalty(d_fn: DiscriminatorFn, real: jax.Array,
                   rng: jax.Array, convention: str = 'animeganv2'
                   ) -> jax.Array:
  """DRAGAN (Kodali et al. 2017): mean_b (||grad D(points_b)|| - 1)^2 at
  `dragan_points(real, rng, convention)`, the gradient norm over each
  flattened image; the caller multiplies the weight ([v2] ld, [bhp]
  lambda_gp)."""
  points = dragan_points(real, rng, convention)
  return jnp.mean(jnp.square(_norms(_input_gradients(d_fn, points)) - 1.0))


def wgan_gp_penalty(d_fn: DiscriminatorFn, real: jax.Array, fake: jax.Array,
                    rng: jax.Array) -> jax.Array:
  """WGAN-GP (Gulrajani et al. 2017) as [v2] ('gp'): mean_b (||grad|| - 1)^2
  at `interpolation_points(real, fake, rng)`; the caller multiplies
  gp_weight."""
  points = interpolation_points(real, fake, rng)
  return jnp.mean(jnp.square(_norms(_input_gradients(d_fn, points)) - 1.0))


def gradient_penalty(gp_type: str, d_fn: DiscriminatorFn, real: jax.Array,
                     fake: jax.Array, rng: jax.Array) -> jax.Array:
  """Unweighted penalty of config.loss.gp_type ('none' gives 0.0).

  [v2] takes real = anime images and fake = generated images.
  """
  if gp_type == 'none':
    return jnp.zeros((), jnp.float32)
  if gp_type == 'r1':
    return r1_penalty(d_fn, real)
  if gp_type == 'dragan':
    return dragan_penalty(d_fn, real, rng)
  if gp_type == 'wgan-gp':
    return wgan_gp_penalty(d_fn, real, fake, rng)
  raise ValueError(f'Unknown gradient penalty {gp_type!r}; expected one of '
                   f'{GP_TYPES} (config key loss.gp_type).')
