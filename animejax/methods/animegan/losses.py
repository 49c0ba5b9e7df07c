"""AnimeGAN / CartoonGAN loss terms as pure functions (float32 in, scalar out).

Content, Gram style, YUV colour and total variation for the generator, and
the four-term [v2] discriminator loss (real, grayscale anime, fake,
edge-smoothed anime) built on the shared adversarial terms of
`animejax.losses`. Every function states the published formula it
implements. Sources:
  [v2] TachibanaYoshino/AnimeGANv2 `tools/ops.py` (losses) and `AnimeGANv2.py`
       (how they are combined and weighted).
  [v1] TachibanaYoshino/AnimeGAN `tools/ops.py`: the same content, Gram, style
       and colour losses (v1 has no total-variation term).
  [tf] TensorFlow: `tf.image.rgb_to_yuv`, `tf.losses.huber_loss`,
       `tf.nn.l2_loss`.

Inputs may be bfloat16 (mixed precision); every loss casts to float32 first so
the reductions and the loss values are float32.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from animejax.losses import d_fake_term
from animejax.losses import d_real_term

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


# ------------------------------------------------------------------ discriminator


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
