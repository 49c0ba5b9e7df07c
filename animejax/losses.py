"""AnimeGAN / CartoonGAN losses as pure functions (float32 in, scalar out).

Every function states the published formula it implements. Sources:
  [v2] TachibanaYoshino/AnimeGANv2 `tools/ops.py` (losses) and `AnimeGANv2.py`
       (how they are combined and weighted).
  [v1] TachibanaYoshino/AnimeGAN `tools/ops.py`: the same content, Gram, style
       and colour losses (v1 has no total-variation term).
  [tf] TensorFlow: `tf.image.rgb_to_yuv`, `tf.losses.huber_loss`,
       `tf.nn.l2_loss`, `tf.nn.sigmoid_cross_entropy_with_logits`.

Inputs may be bfloat16 (mixed precision); every loss casts to float32 first so
the reductions and the loss values are float32.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

ADV_TYPES = ('lsgan', 'hinge', 'bce')
GP_TYPES = ('none', 'r1', 'dragan', 'wgan-gp')

# [tf] tf.image.rgb_to_yuv kernel (rows: R, G, B; columns: Y, U, V).
RGB_TO_YUV = (
    (0.299, -0.14714119, 0.61497538),
    (0.587, -0.28886916, -0.51496512),
    (0.114, 0.43601035, -0.10001026),
)
# [tf] tf.losses.huber_loss default delta.
HUBER_DELTA = 1.0


def _f32(x: jax.Array) -> jax.Array:
  return jnp.asarray(x).astype(jnp.float32)


# ------------------------------------------------------------------ basics


def l1(x: jax.Array, y: jax.Array) -> jax.Array:
  """mean |x - y| over every element ([v2] ops.L1_loss)."""
  return jnp.mean(jnp.abs(_f32(x) - _f32(y)))


def huber(x: jax.Array, y: jax.Array, delta: float = HUBER_DELTA) -> jax.Array:
  """Mean Huber loss, as [tf] tf.losses.huber_loss(x, y) ([v2] Huber_loss).

  Per element with a = |x - y|: 0.5 a^2 if a <= delta else
  delta (a - 0.5 delta); then the mean over every element
  (Reduction.SUM_BY_NONZERO_WEIGHTS with unit weights).
  """
  a = jnp.abs(_f32(x) - _f32(y))
  quadratic = jnp.minimum(a, delta)
  return jnp.mean(0.5 * quadratic ** 2 + delta * (a - quadratic))


def rgb_to_yuv(rgb: jax.Array) -> jax.Array:
  """[v2] ops.rgb2yuv: images in [-1, 1] -> (x + 1) / 2 -> tf.image.rgb_to_yuv.

  Args:
    rgb: [..., 3] RGB in [-1, 1].

  Returns:
    [..., 3] (Y, U, V) of the [0, 1]-scaled image, float32.
  """
  x = (_f32(rgb) + 1.0) / 2.0
  # Plain multiply-adds rather than a matmul: exact float32 on every backend
  # (TPU matmuls default to reduced precision).
  k = RGB_TO_YUV
  channels = [x[..., 0] * k[0][j] + x[..., 1] * k[1][j] + x[..., 2] * k[2][j]
              for j in range(3)]
  return jnp.stack(channels, axis=-1)


def gram(x: jax.Array) -> jax.Array:
  """[v2] ops.gram: per-sample X^T X / (H W C) with X = x reshaped [B, HW, C].

  Args:
    x: features [B, H, W, C].

  Returns:
    [B, C, C] float32.
  """
  x = _f32(x)
  b, h, w, c = x.shape
  flat = x.reshape(b, h * w, c)
  # HIGHEST: exact float32 products on accelerators (the default may use bf16
  # passes on TPU), so the loss does not depend on the backend.
  g = jnp.einsum('bnc,bnd->bcd', flat, flat,
                 precision=jax.lax.Precision.HIGHEST)
  return g / (h * w * c)  # [v2]: tf.size(x) // b


# ------------------------------------------------------------------ generator


def content_loss(photo_features: jax.Array,
                 fake_features: jax.Array) -> jax.Array:
  """[v2] ops.con_loss: L1 between VGG19 conv4_4 (pre-ReLU) features.

  mean |phi(photo) - phi(G(photo))| over every element; the caller passes
  the features (config.vgg.layer, pre_relu=True).
  """
  return l1(photo_features, fake_features)


def style_loss(style_features: jax.Array, fake_features: jax.Array) -> jax.Array:
  """[v2] ops.style_loss: mean |gram(phi(anime_gray)) - gram(phi(G(photo)))|.

  [v2] con_sty_loss slices the anime features to the fake's batch size
  (`anime[:fake.shape[0]]`); so do we, so both batches may differ.
  """
  style_features = style_features[:fake_features.shape[0]]
  return l1(gram(style_features), gram(fake_features))


def color_loss(photo: jax.Array, fake: jax.Array) -> jax.Array:
  """[v2] ops.color_loss on RGB images in [-1, 1].

  With (Y, U, V) = rgb_to_yuv(.):
    mean|Y_p - Y_f| + huber(U_p, U_f) + huber(V_p, V_f)   (delta 1, means).
  """
  p, f = rgb_to_yuv(photo), rgb_to_yuv(fake)
  return (l1(p[..., 0], f[..., 0]) + huber(p[..., 1], f[..., 1]) +
          huber(p[..., 2], f[..., 2]))


def tv_loss(images: jax.Array) -> jax.Array:
  """[v2] ops.total_variation_loss.

  dh = x[:, :-1] - x[:, 1:], dw = x[:, :, :-1] - x[:, :, 1:];
  loss = l2_loss(dh) / size(dh) + l2_loss(dw) / size(dw) with
  [tf] tf.nn.l2_loss(t) = sum(t^2) / 2, i.e. half the mean squared difference.
  """
  x = _f32(images)
  dh = x[:, :-1] - x[:, 1:]
  dw = x[:, :, :-1] - x[:, :, 1:]
  return 0.5 * jnp.mean(dh ** 2) + 0.5 * jnp.mean(dw ** 2)


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


def discriminator_terms(adv_type: str, real: jax.Array, gray: jax.Array,
                        fake: jax.Array, smooth: jax.Array
                        ) -> dict[str, jax.Array]:
  """The four unweighted [v2] discriminator_loss terms from D's logits.

  Args:
    adv_type: 'lsgan', 'hinge' or 'bce'.
    real: D(anime); gray: D(anime_gray); fake: D(G(photo)); smooth:
      D(edge-smoothed anime, gray) -- the order of [v2]
      discriminator_loss(anime_logit, anime_gray_logit, generated_logit,
      smooth_logit).

  Returns:
    {'real', 'gray', 'fake', 'smooth'} scalars.
  """
  return {'real': d_real_term(adv_type, real),
          'gray': d_fake_term(adv_type, gray),
          'fake': d_fake_term(adv_type, fake),
          'smooth': d_fake_term(adv_type, smooth)}


def discriminator_loss(terms: dict[str, jax.Array], loss_config) -> jax.Array:
  """d_adv_weight * (w_real real + w_fake fake + w_gray gray + w_smooth smooth).

  [v2] ops.discriminator_loss hard-codes the per-style weights (Shinkai 1.7,
  1.7, 1.7, 1.0; Hayao 1.2, 1.2, 1.2, 0.8; Paprika 1.0, 1.0, 1.0, 0.005); here
  they are config.loss.d_{real,fake,gray,smooth}_weight. The penalty (if any)
  is added by the caller, unweighted by d_adv_weight, as in AnimeGANv2.py.
  """
  c = loss_config
  weighted = (c.d_real_weight * terms['real'] + c.d_fake_weight * terms['fake']
              + c.d_gray_weight * terms['gray'] +
              c.d_smooth_weight * terms['smooth'])
  return c.d_adv_weight * weighted


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


def dragan_points(real: jax.Array, rng: jax.Array) -> jax.Array:
  """[v2] AnimeGANv2.gradient_panalty ('dragan') sample points.

  perturbed = real + 0.5 * std(real) * U[0, 1) noise (std over the whole
  batch, tf.nn.moments over all axes); alpha ~ U[0, 1) per sample;
  points = real + alpha * (perturbed - real).
  """
  real = _f32(real)
  noise_key, alpha_key = jax.random.split(rng)
  eps = jax.random.uniform(noise_key, real.shape, jnp.float32)
  perturbed = real + 0.5 * jnp.std(real) * eps
  alpha = jax.random.uniform(alpha_key, (real.shape[0], 1, 1, 1), jnp.float32)
  return real + alpha * (perturbed - real)


def interpolation_points(real: jax.Array, fake: jax.Array,
                         rng: jax.Array) -> jax.Array:
  """WGAN-GP points real + alpha (fake - real), alpha ~ U[0, 1) per sample."""
  real, fake = _f32(real), _f32(fake)
  alpha = jax.random.uniform(rng, (real.shape[0], 1, 1, 1), jnp.float32)
  return real + alpha * (fake - real)


def dragan_penalty(d_fn: DiscriminatorFn, real: jax.Array,
                   rng: jax.Array) -> jax.Array:
  """DRAGAN (Kodali et al. 2017) as [v2]: mean_b (||grad D(points_b)|| - 1)^2
  at `dragan_points(real, rng)`; the caller multiplies gp_weight ([v2] ld)."""
  points = dragan_points(real, rng)
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
