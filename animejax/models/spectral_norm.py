"""Spectral normalisation (Miyato et al. 2018) as AnimeGAN implements it.

Semantics follow TachibanaYoshino/AnimeGANv2 `tools/ops.py` `spectral_norm`
(identical in AnimeGAN v1):
  W2 = reshape(kernel, [-1, out])                 # [kh*kw*in, out]
  u  : persistent [1, out], TF truncated_normal_initializer (stddev 1, |z|<2)
  v  = l2norm(u W2^T);  u' = l2norm(v W2)         # ONE power iteration per call
  sigma = v W2 u'^T;    kernel / sigma
  l2norm(x) = x / (sqrt(sum x^2) + 1e-12)
and the stored u is replaced by u' (`u.assign(u_hat)`).

Gradients flow through v and u' into W as in the TF graph (no stop_gradient):
that is what the official discriminators were trained with.

Flax mapping: u lives in the 'spectral' collection at `<module>/u`. Every call
runs the one power iteration from the stored u (so train and eval forwards of
the same variables agree); the result is written back only when
`update_stats=True` and the caller made 'spectral' mutable. Initialisation
never updates u.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

# [v2] tools/ops.py l2_norm(v, eps=1e-12)
L2_EPS = 1e-12
# [v2] tools/ops.py weight_init = tf.random_normal_initializer(0.0, 0.02)
DEFAULT_KERNEL_INIT = nn.initializers.normal(stddev=0.02)


def l2_normalize(v: jax.Array, eps: float = L2_EPS) -> jax.Array:
  """v / (||v||_2 + eps) over ALL elements, as [v2] tools/ops.py l2_norm."""
  return v / (jnp.sqrt(jnp.sum(v * v)) + eps)


def power_iteration(kernel: jax.Array, u: jax.Array, eps: float = L2_EPS
                    ) -> tuple[jax.Array, jax.Array, jax.Array]:
  """One AnimeGAN power iteration.

  Args:
    kernel: any shape [..., out]; reshaped to [-1, out].
    u: [1, out] stored left-singular-vector estimate.
    eps: l2-normalisation epsilon.

  Returns:
    (kernel / sigma with the kernel's shape, updated u [1, out], sigma scalar).
  """
  w = kernel.reshape(-1, kernel.shape[-1])
  v = l2_normalize(u @ w.T, eps)          # [1, rows]
  u_new = l2_normalize(v @ w, eps)        # [1, out]
  sigma = (v @ w @ u_new.T)[0, 0]
  return (w / sigma).reshape(kernel.shape), u_new, sigma


def truncated_normal_u(key: jax.Array, shape: Sequence[int]) -> jax.Array:
  # [v2] tools/ops.py: tf.truncated_normal_initializer() = N(0, 1) redrawn
  # outside 2 standard deviations.
  return jax.random.truncated_normal(key, -2.0, 2.0, shape, jnp.float32)


class SNConv(nn.Module):
  """2-D convolution (NHWC/HWIO) with explicit padding and optional SN.

  Attributes:
    features: output channels.
    kernel_size: square kernel size.
    strides: square stride.
    padding: ((top, bottom), (left, right)) zero padding.
    use_bias: add a bias (zeros init).
    spectral_norm: divide the kernel by its spectral norm estimate.
    dtype: compute dtype; the kernel param and u stay float32.
    kernel_init: initializer of the HWIO kernel.
  """
  features: int
  kernel_size: int = 3
  strides: int = 1
  padding: tuple[tuple[int, int], tuple[int, int]] = ((1, 1), (1, 1))
  use_bias: bool = False
  spectral_norm: bool = False
  dtype: Any = jnp.float32
  kernel_init: Callable[..., jax.Array] = DEFAULT_KERNEL_INIT

  @nn.compact
  def __call__(self, x: jax.Array, update_stats: bool = False) -> jax.Array:
    k = self.kernel_size
    kernel = self.param('kernel', self.kernel_init,
                        (k, k, x.shape[-1], self.features), jnp.float32)
    if self.spectral_norm:
      u = self.variable('spectral', 'u', lambda: truncated_normal_u(
          self.make_rng('params'), (1, self.features)))
      kernel, u_new, _ = power_iteration(kernel, u.value)
      if (update_stats and not self.is_initializing()
          and self.is_mutable_collection('spectral')):
        u.value = u_new
    y = jax.lax.conv_general_dilated(
        x.astype(self.dtype), kernel.astype(self.dtype),
        window_strides=(self.strides, self.strides), padding=self.padding,
        dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    if self.use_bias:
      bias = self.param('bias', nn.initializers.zeros, (self.features,),
                        jnp.float32)
      y = y + bias.astype(self.dtype)
    return y
