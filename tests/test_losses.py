"""animejax.losses against numpy written from the published formulas, TF
([v2] calls tf.image.rgb_to_yuv, tf.losses.huber_loss, tf.nn.l2_loss) and
values worked out by hand."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from animejax import losses
from animejax.methods.animegan import losses as ag_losses

RNG = np.random.default_rng(0)


def _images(*shape, lo=-1.0, hi=1.0):
  return RNG.uniform(lo, hi, shape).astype(np.float32)


# ---------------------------------------------------------------- hand-checked


def test_gram_hand_checked():
  # x: one sample, 1x2 pixels, 2 channels: pixel a = (1, 2), pixel b = (3, 4).
  # X = [[1, 2], [3, 4]] (HW x C); X^T X = [[1+9, 2+12], [2+12, 4+16]]
  #   = [[10, 14], [14, 20]]; divided by H*W*C = 1*2*2 = 4:
  #   [[2.5, 3.5], [3.5, 5.0]].
  x = np.array([[[[1., 2.], [3., 4.]]]], np.float32)  # [1, 1, 2, 2]
  np.testing.assert_allclose(ag_losses.gram(x), [[[2.5, 3.5], [3.5, 5.0]]],
                             rtol=1e-7)


def test_color_loss_hand_checked():
  # photo pixel (1, -1, -1) in [-1, 1] -> (1, 0, 0) in [0, 1]: pure red.
  #   Y = 0.299, U = -0.14714119, V = 0.61497538 (first row of the TF kernel).
  # fake pixel (-1, -1, -1) -> (0, 0, 0): Y = U = V = 0.
  # |dY| = 0.299 (L1); |dU| = 0.14714119 <= 1 -> huber 0.5 * 0.14714119^2
  #   = 0.010825265; |dV| = 0.61497538 -> 0.5 * 0.61497538^2 = 0.189097359.
  # Sum = 0.299 + 0.010825265 + 0.189097359 = 0.498922624.
  photo = np.array([[[[1., -1., -1.]]]], np.float32)
  fake = np.array([[[[-1., -1., -1.]]]], np.float32)
  np.testing.assert_allclose(ag_losses.color_loss(photo, fake), 0.498922624,
                             rtol=1e-6)
  # A chroma gap above delta: photo (1, -1, 1) -> (1, 0, 1) magenta:
  #   Y = 0.299 + 0.114 = 0.413, U = -0.14714119 + 0.43601035 = 0.28886916,
  #   V = 0.61497538 - 0.10001026 = 0.51496512; fake (-1, 1, -1) -> green
  #   (0, 1, 0): Y = 0.587, U = -0.28886916, V = -0.51496512.
  # |dY| = 0.174; |dU| = 0.57773832 -> 0.5 * 0.57773832^2 = 0.166890783;
  # |dV| = 1.02993024 > 1 -> 1.02993024 - 0.5 = 0.52993024.
  # Sum = 0.174 + 0.166890783 + 0.52993024 = 0.870821023.
  photo = np.array([[[[1., -1., 1.]]]], np.float32)
  fake = np.array([[[[-1., 1., -1.]]]], np.float32)
  np.testing.assert_allclose(ag_losses.color_loss(photo, fake), 0.870821023,
                             rtol=1e-6)


def test_tv_hand_checked():
  # 1 sample, 2x2, 1 channel [[0, 1], [3, 5]]: dh = (0-3, 1-5) = (-3, -4),
  # l2_loss = (9 + 16) / 2 = 12.5 over 2 elements = 6.25; dw = (0-1, 3-5) =
  # (-1, -2): (1 + 4) / 2 = 2.5 over 2 = 1.25. Total 7.5.
  x = np.array([[[[0.], [1.]], [[3.], [5.]]]], np.float32)
  np.testing.assert_allclose(ag_losses.tv_loss(x), 7.5, rtol=1e-7)


# ---------------------------------------------------------------- vs TF


@pytest.fixture(scope='module')
def tf():
  return pytest.importorskip('tensorflow')


def test_rgb_to_yuv_matches_tf(tf):
  x = _images(2, 5, 4, 3)
  want = tf.image.rgb_to_yuv((x + 1.0) / 2.0).numpy()
  np.testing.assert_allclose(ag_losses.rgb_to_yuv(x), want, atol=1e-6)


def test_huber_matches_tf(tf):
  a, b = _images(3, 7, lo=-3, hi=3), _images(3, 7, lo=-3, hi=3)
  want = tf.keras.losses.Huber(delta=1.0)(a, b).numpy()
  np.testing.assert_allclose(ag_losses.huber(a, b), want, rtol=1e-6)
  # tf.compat.v1.losses.huber_loss is what [v2] calls.
  want_v1 = tf.compat.v1.losses.huber_loss(a, b).numpy()
  np.testing.assert_allclose(ag_losses.huber(a, b), want_v1, rtol=1e-6)


def test_tv_matches_tf_formula(tf):
  x = _images(2, 6, 5, 3)
  dh, dw = x[:, :-1] - x[:, 1:], x[:, :, :-1] - x[:, :, 1:]
  want = (tf.nn.l2_loss(dh) / dh.size + tf.nn.l2_loss(dw) / dw.size).numpy()
  np.testing.assert_allclose(ag_losses.tv_loss(x), want, rtol=1e-6)


def test_color_loss_matches_tf(tf):
  p, f = _images(2, 4, 4, 3), _images(2, 4, 4, 3)
  yp = tf.image.rgb_to_yuv((p + 1) / 2)
  yf = tf.image.rgb_to_yuv((f + 1) / 2)
  want = (tf.reduce_mean(tf.abs(yp[..., 0] - yf[..., 0])) +
          tf.compat.v1.losses.huber_loss(yp[..., 1], yf[..., 1]) +
          tf.compat.v1.losses.huber_loss(yp[..., 2], yf[..., 2])).numpy()
  np.testing.assert_allclose(ag_losses.color_loss(p, f), want, rtol=1e-6)


def test_bce_matches_tf(tf):
  logits = _images(4, 3, 3, 1, lo=-30, hi=30)
  for label, fn in ((1.0, losses.d_real_term), (0.0, losses.d_fake_term)):
    want = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.fill(logits.shape, label), logits=logits)).numpy()
    np.testing.assert_allclose(fn('bce', logits), want, rtol=1e-6)


# ---------------------------------------------------------------- vs numpy


def np_gram(x):
  b, h, w, c = x.shape
  f = x.reshape(b, h * w, c).astype(np.float64)
  return np.einsum('bnc,bnd->bcd', f, f) / (h * w * c)


def test_gram_and_style_match_numpy():
  style, fake = _images(3, 4, 5, 6), _images(2, 4, 5, 6)
  # float32 rounding of a sum of products is bounded relative to the sum of
  # |products| (= the Gram of |x|), not to the sum itself: an off-diagonal
  # entry that cancels to ~1e-4 of the diagonal still carries the diagonal's
  # rounding. Same 1e-5 factor, on the right scale.
  err = np.abs(np.asarray(ag_losses.gram(fake), np.float64) - np_gram(fake))
  assert np.all(err <= 1e-5 * np_gram(np.abs(fake))), err.max()
  # [v2] slices the style batch to the fake batch.
  want = np.mean(np.abs(np_gram(style[:2]) - np_gram(fake)))
  np.testing.assert_allclose(ag_losses.style_loss(style, fake), want, rtol=1e-5)


def test_content_matches_numpy():
  a, b = _images(2, 3, 3, 8), _images(2, 3, 3, 8)
  np.testing.assert_allclose(ag_losses.content_loss(a, b),
                             np.mean(np.abs(a - b)), rtol=1e-6)


def np_adv(kind, x, label):
  x = x.astype(np.float64)
  if kind == 'lsgan':
    return np.mean((x - label) ** 2)
  if kind == 'hinge':
    return np.mean(np.maximum(0, 1 - x) if label else np.maximum(0, 1 + x))
  p = 1 / (1 + np.exp(-x))
  return np.mean(-np.log(p) if label else -np.log(1 - p))


@pytest.mark.parametrize('kind', losses.ADV_TYPES)
def test_adversarial_losses_match_numpy(kind):
  real, gray, fake, smooth = (_images(2, 4, 4, 1, lo=-3, hi=3)
                              for _ in range(4))
  terms = ag_losses.discriminator_terms(kind, real, gray, fake, smooth)
  np.testing.assert_allclose(terms['real'], np_adv(kind, real, 1), rtol=1e-5)
  for name, x in (('gray', gray), ('fake', fake), ('smooth', smooth)):
    np.testing.assert_allclose(terms[name], np_adv(kind, x, 0), rtol=1e-5)
  cfg = ml_collections.ConfigDict(dict(
      d_adv_weight=300.0, d_real_weight=1.7, d_fake_weight=1.5,
      d_gray_weight=1.2, d_smooth_weight=0.8))
  want = 300.0 * (1.7 * np_adv(kind, real, 1) + 1.5 * np_adv(kind, fake, 0) +
                  1.2 * np_adv(kind, gray, 0) + 0.8 * np_adv(kind, smooth, 0))
  np.testing.assert_allclose(ag_losses.discriminator_loss(terms, cfg), want,
                             rtol=1e-5)
  g_want = (-np.mean(fake) if kind == 'hinge' else np_adv(kind, fake, 1))
  np.testing.assert_allclose(losses.generator_adv_loss(kind, fake), g_want,
                             rtol=1e-5, atol=1e-6)


def test_losses_are_float32_for_bfloat16_inputs():
  a = jnp.asarray(_images(2, 4, 4, 3), jnp.bfloat16)
  b = jnp.asarray(_images(2, 4, 4, 3), jnp.bfloat16)
  for value in (ag_losses.color_loss(a, b), ag_losses.tv_loss(a),
                ag_losses.style_loss(a, b), ag_losses.content_loss(a, b),
                losses.generator_adv_loss('lsgan', a)):
    assert value.dtype == jnp.float32
  want = np.mean(np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)))
  np.testing.assert_allclose(ag_losses.content_loss(a, b), want, rtol=1e-6)


def test_unknown_types_raise():
  with pytest.raises(ValueError, match='loss.adv_type'):
    losses.generator_adv_loss('wgan', jnp.zeros(3))
  with pytest.raises(ValueError, match='loss.gp_type'):
    losses.gradient_penalty('lp', lambda x: x, jnp.zeros((1, 2, 2, 3)),
                            jnp.zeros((1, 2, 2, 3)), jax.random.key(0))


# ---------------------------------------------------------------- penalties

W = _images(2, 3, 3, 3)  # per-pixel weights of a linear "discriminator"


def linear_d(x):
  # D(x) = per-sample sum(W * x) as a [B, 1, 1, 1] map: grad = W everywhere.
  return jnp.sum(x * W, axis=(1, 2, 3))[:, None, None, None]


def quadratic_d(x):
  # D(x) = 0.5 sum(x^2): grad at x = x.
  return 0.5 * jnp.sum(x ** 2, axis=(1, 2, 3))[:, None, None, None]


def test_penalties_on_a_linear_discriminator():
  real, fake = _images(2, 3, 3, 3), _images(2, 3, 3, 3)
  key = jax.random.key(1)
  # ||grad||^2 of sample b is sum(W[b]^2), wherever it is evaluated.
  sq = np.sum(W.reshape(2, -1).astype(np.float64) ** 2, axis=1)
  np.testing.assert_allclose(losses.r1_penalty(linear_d, real),
                             0.5 * np.mean(sq), rtol=1e-5)
  want = np.mean((np.sqrt(sq) - 1.0) ** 2)
  np.testing.assert_allclose(losses.wgan_gp_penalty(linear_d, real, fake, key),
                             want, rtol=1e-5)
  np.testing.assert_allclose(losses.dragan_penalty(linear_d, real, key), want,
                             rtol=1e-5)
  assert losses.gradient_penalty('none', linear_d, real, fake, key) == 0.0


def test_penalty_points_and_values_on_a_quadratic_discriminator():
  real, fake = _images(4, 3, 3, 3), _images(4, 3, 3, 3)
  key = jax.random.key(2)
  # WGAN-GP points lie on the real->fake segments, one alpha per sample.
  pts = np.asarray(losses.interpolation_points(real, fake, key), np.float64)
  alpha = ((pts - real) / (fake - real)).reshape(4, -1)
  np.testing.assert_allclose(alpha, alpha[:, :1] * np.ones_like(alpha),
                             atol=1e-4)
  assert np.all((alpha >= 0) & (alpha < 1))
  want = np.mean((np.linalg.norm(pts.reshape(4, -1), axis=1) - 1) ** 2)
  np.testing.assert_allclose(
      losses.wgan_gp_penalty(quadratic_d, real, fake, key), want, rtol=1e-5)
  # DRAGAN points: real + alpha * 0.5 * std(real) * eps, eps in [0, 1).
  d_pts = np.asarray(losses.dragan_points(real, key), np.float64)
  step = (d_pts - real) / (0.5 * np.std(real.astype(np.float64)))
  assert np.all(step >= -1e-5) and np.all(step < 1 + 1e-5)
  want = np.mean((np.linalg.norm(d_pts.reshape(4, -1), axis=1) - 1) ** 2)
  np.testing.assert_allclose(losses.dragan_penalty(quadratic_d, real, key),
                             want, rtol=1e-5)
  want_r1 = 0.5 * np.mean(np.sum(real.reshape(4, -1).astype(np.float64) ** 2,
                                 axis=1))
  np.testing.assert_allclose(losses.r1_penalty(quadratic_d, real), want_r1,
                             rtol=1e-5)
