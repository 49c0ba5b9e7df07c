"""trVAE: the conditional VAE with an MMD layer of Lotfollahi et al. (2020).

Sources: [trvae] theislab/trVAE `trvae/models/_dctrvae.py`;
[rep] theislab/trVAE_reproducibility `reptrvae/models/_dctrvae.py`
(`arch_style=3`, the CelebA model of the paper) and `scripts/train_DCtrVAE.py`
(its hyper-parameters). Keras defaults it relies on are cited as [keras].

The encoder takes (x, condition), the decoder (z, condition); conditions are
one-hot [B, N]. The decoder also returns the output of its first layer after
the label merge, the "MMD layer" [rep] `h_mmd` (Activation('relu',
name='mmd')), on which the method's MMD penalty acts.

Encoder ([rep] arch 3; S = image size, N conditions, widths of 'arch3'):
  label_fc1   Dense N -> 128, relu                 Dense(128, activation='relu')
  label_fc2   Dense 128 -> S*S, relu, as a [S, S, 1] plane concatenated to x
  conv<b>_<i> 3x3 'same' convs + relu, a 2x2 max-pool after each block:
              (64, 64), (128, 128), (256,)*3, (512,)*3, (512,)*3 (VGG16-like,
              5 pools: S / 32)
  fc<i>       flatten, Dense 1024 relu, Dense 256 relu   fc1, fc2
  dropout     0.2 after fc2 ([rep] `self.enc_dense = Dropout(dr_rate)`)
  mu, log_var Dense 256 -> z each, glorot_normal   Dense(z_dim, init_w)
Decoder:
  label_fc    Dense N -> 128, relu                 encode_y
  (concat [z, label], relu)                        Activation('relu')(zy)
  mmd         Dense -> 128, relu (he_normal): the MMD layer   h_mmd
  fc<i>       Dense 1024 relu, Dense 512*4*4 relu (he_normal), reshape [4,4,512]
  deconv<b>_<i> 3x3 stride-1 'same' transposed convs + relu (he_normal), a 2x2
              nearest up-sampling after each block but the last:
              (512,)*3, (512,)*3, (256,)*3, (128,)*2, (64,)*2 (4 up-samplings:
              4 -> 64)
  out         1x1 transposed conv -> 3, relu       Conv2DTranspose(3, 1, 'relu')
The start grid is S / 2**(blocks - 1), so arch 3 needs S = 64 as in [rep]
(its Reshape is fixed at 4x4x512).

Parameter count of arch 3 at S = 64, z = 60, N = 3: encoder 17,635,576,
decoder 25,626,051, total 43,261,627 (Keras `count_params` of the [rep] layer
list gives the same: tests/test_trvae.py rebuilds it in Keras when Keras is
installed and compares every layer's shapes; 'small': 1,181,864 + 1,388,211
= 2,570,075).

[trvae]'s arch 3 differs from [rep]'s in the decoder (label Dense 64,
Dense 256*4*4, four UpSampling2D + Conv2D(2x2) + Conv2D(3x3) blocks 256 ->
32); we build [rep]'s, the model of the paper's CelebA results.

Layers are Keras-faithful: [keras] Conv2D/Dense default to glorot_uniform
kernels and zero biases; a stride-1 'same' Conv2DTranspose is
`layers.ConvTranspose(stride=1, padding=1, output_padding=0)` (Keras kernels
[kh, kw, out, in] transpose (0, 1, 3, 2) to ours).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from animejax.models import layers

Array = jax.Array

# [keras] defaults: Dense / Conv2D kernel_initializer='glorot_uniform'.
_GLOROT_UNIFORM = nn.initializers.glorot_uniform()
# [rep] `self.init_w = keras.initializers.glorot_normal()` (truncated normal
# in Keras 2 and JAX alike) for mu / log_var.
_GLOROT_NORMAL = nn.initializers.glorot_normal()
# [rep] decoder kernel_initializer='he_normal' (truncated, fan_in).
_HE_NORMAL = nn.initializers.he_normal()

OUTPUT_ACTIVATIONS = ('relu', 'sigmoid', 'linear')


@dataclasses.dataclass(frozen=True)
class Arch:
  """Widths of one trVAE architecture (see the module docstring)."""
  enc_blocks: tuple[tuple[int, ...], ...]
  enc_dense: tuple[int, ...]
  dec_dense: tuple[int, ...]
  dec_start_channels: int
  dec_blocks: tuple[tuple[int, ...], ...]
  label_units: int = 128        # [rep] Dense(128) of both label branches
  mmd_units: int = 128          # [rep] kwargs.get('mmd_dimension', 128)


ARCHS = {
    # [rep] _dctrvae.py arch_style 3.
    'arch3': Arch(
        enc_blocks=((64, 64), (128, 128), (256, 256, 256), (512, 512, 512),
                    (512, 512, 512)),
        enc_dense=(1024, 256),
        dec_dense=(1024,),
        dec_start_channels=512,
        dec_blocks=((512, 512, 512), (512, 512, 512), (256, 256, 256),
                    (128, 128), (64, 64))),
    # Ours, for CPU runs: the same layout, one conv per block, 1/4-1/8 widths
    # (4 pools and 4 up-samplings).
    'small': Arch(
        enc_blocks=((16,), (32,), (64,), (128,)),
        enc_dense=(256,),
        dec_dense=(512,),
        dec_start_channels=128,
        dec_blocks=((128,), (64,), (32,), (16,), (16,))),
}


def _max_pool(x: Array) -> Array:
  # [keras] MaxPooling2D(pool_size=(2, 2)): stride 2, 'valid'.
  return nn.max_pool(x, (2, 2), strides=(2, 2), padding='VALID')


def _upsample(x: Array) -> Array:
  # [keras] UpSampling2D(size=(2, 2)): nearest neighbour.
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


class TrVAEEncoder(nn.Module):
  """(x [B, S, S, C] in [0, 1], condition [B, N]) -> (mu, log_var) [B, z]."""
  arch: Arch
  z_dim: int = 60
  dropout_rate: float = 0.2
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, condition: Array, *,
               train: bool = False) -> tuple[Array, Array]:
    b, h, w, _ = x.shape
    x = x.astype(self.dtype)
    c = condition.astype(self.dtype)
    dense = lambda n, name, init=_GLOROT_UNIFORM: nn.Dense(
        n, kernel_init=init, dtype=self.dtype, name=name)
    c = nn.relu(dense(self.arch.label_units, 'label_fc1')(c))
    c = nn.relu(dense(h * w, 'label_fc2')(c))
    x = jnp.concatenate([x, c.reshape(b, h, w, 1)], axis=-1)
    for i, block in enumerate(self.arch.enc_blocks):
      for j, features in enumerate(block):
        x = nn.relu(nn.Conv(features, (3, 3), padding='SAME',
                            kernel_init=_GLOROT_UNIFORM, dtype=self.dtype,
                            name=f'conv{i + 1}_{j + 1}')(x))
      x = _max_pool(x)
    x = x.reshape(b, -1)
    for i, units in enumerate(self.arch.enc_dense):
      x = nn.relu(dense(units, f'fc{i + 1}')(x))
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    mu = dense(self.z_dim, 'mu', _GLOROT_NORMAL)(x)
    log_var = dense(self.z_dim, 'log_var', _GLOROT_NORMAL)(x)
    return mu.astype(jnp.float32), log_var.astype(jnp.float32)


class TrVAEDecoder(nn.Module):
  """(z [B, z], condition [B, N]) -> (image [B, S, S, C], mmd [B, 128])."""
  arch: Arch
  image_size: int = 64
  out_channels: int = 3
  output_activation: str = 'relu'   # [rep] Conv2DTranspose(..., 'relu')
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, z: Array, condition: Array) -> tuple[Array, Array]:
    arch = self.arch
    b = z.shape[0]
    start = self.image_size // 2 ** (len(arch.dec_blocks) - 1)
    dense = lambda n, name, init=_HE_NORMAL: nn.Dense(
        n, kernel_init=init, dtype=self.dtype, name=name)
    c = nn.relu(dense(arch.label_units, 'label_fc',
                      _GLOROT_UNIFORM)(condition.astype(self.dtype)))
    h = nn.relu(jnp.concatenate([z.astype(self.dtype), c], axis=-1))
    mmd = nn.relu(dense(arch.mmd_units, 'mmd')(h))
    h = mmd
    for i, units in enumerate(arch.dec_dense):
      h = nn.relu(dense(units, f'fc{i + 1}')(h))
    h = nn.relu(dense(start * start * arch.dec_start_channels,
                      f'fc{len(arch.dec_dense) + 1}')(h))
    h = h.reshape(b, start, start, arch.dec_start_channels)
    for i, block in enumerate(arch.dec_blocks):
      if i:
        h = _upsample(h)
      for j, features in enumerate(block):
        h = nn.relu(layers.ConvTranspose(
            features, 3, stride=1, padding=1, output_padding=0,
            kernel_init=_HE_NORMAL, dtype=self.dtype,
            name=f'deconv{i + 1}_{j + 1}')(h))
    out = layers.ConvTranspose(self.out_channels, 1, stride=1, padding=0,
                               output_padding=0, kernel_init=_GLOROT_UNIFORM,
                               dtype=self.dtype, name='out')(h)
    out = out.astype(jnp.float32)
    if self.output_activation == 'relu':
      out = nn.relu(out)
    elif self.output_activation == 'sigmoid':
      out = nn.sigmoid(out)
    return out, mmd.astype(jnp.float32)


class TrVAE(nn.Module):
  """Encoder + decoder; params {'encoder': ..., 'decoder': ...}.

  `__call__(x, enc_cond, dec_cond, train)` returns (reconstruction, mmd, mu,
  log_var); with train=True z is sampled (rng 'sample') and dropout is on
  (rng 'dropout'), as [rep] `sample_z`; otherwise z = mu.
  """
  arch: Arch
  n_conditions: int = 2
  z_dim: int = 60
  image_size: int = 64
  channels: int = 3
  dropout_rate: float = 0.2
  output_activation: str = 'relu'
  dtype: Any = jnp.float32

  def setup(self):
    if self.image_size % 2 ** len(self.arch.enc_blocks):
      raise ValueError(f'image_size={self.image_size} must be a multiple of '
                       f'{2 ** len(self.arch.enc_blocks)} (the encoder pools '
                       f'{len(self.arch.enc_blocks)} times).')
    self.encoder = TrVAEEncoder(self.arch, self.z_dim, self.dropout_rate,
                                self.dtype)
    self.decoder = TrVAEDecoder(self.arch, self.image_size, self.channels,
                                self.output_activation, self.dtype)

  def encode(self, x: Array, condition: Array, train: bool = False):
    return self.encoder(x, condition, train=train)

  def decode(self, z: Array, condition: Array):
    return self.decoder(z, condition)

  def __call__(self, x: Array, enc_cond: Array, dec_cond: Array,
               train: bool = False):
    mu, log_var = self.encoder(x, enc_cond, train=train)
    z = mu
    if train:
      # [rep] _utils.sample_z: mu + exp(log_var / 2) * eps, eps ~ N(0, 1).
      eps = jax.random.normal(self.make_rng('sample'), mu.shape, mu.dtype)
      z = mu + jnp.exp(log_var / 2) * eps
    recon, mmd = self.decoder(z, dec_cond)
    return recon, mmd, mu, log_var


def create(arch: str | Arch = 'arch3', **kwargs) -> TrVAE:
  """TrVAE of a named architecture ('arch3' | 'small') or an Arch."""
  if isinstance(arch, str):
    if arch not in ARCHS:
      raise ValueError(f'Unknown trVAE arch {arch!r}; known: {sorted(ARCHS)}.')
    arch = ARCHS[arch]
  return TrVAE(arch=arch, **kwargs)


def param_count(tree: Any) -> int:
  """Number of scalars in a pytree of arrays or ShapeDtypeStructs."""
  total = 0
  for leaf in jax.tree.leaves(tree):
    n = 1
    for d in leaf.shape:
      n *= int(d)
    total += n
  return total


def abstract_params(model: TrVAE, batch: int = 1) -> Any:
  """The params' shapes via jax.eval_shape (no FLOPs, no memory)."""
  s, n = model.image_size, model.n_conditions
  x = jax.ShapeDtypeStruct((batch, s, s, model.channels), jnp.float32)
  c = jax.ShapeDtypeStruct((batch, n), jnp.float32)
  return jax.eval_shape(
      lambda k, x, c: model.init(k, x, c, c)['params'], jax.random.key(0), x,
      c)


def layer_shapes(params: Any) -> dict[str, tuple[int, ...]]:
  """{'encoder/conv1_1/kernel': shape, ...} of a (possibly abstract) tree."""
  flat = jax.tree_util.tree_flatten_with_path(params)[0]
  return {'/'.join(str(getattr(k, 'key', k)) for k in path): tuple(v.shape)
          for path, v in flat}
