"""CartoonGAN generator (Chen et al., CVPR 2018, Fig. 2).

Layer details follow the authors' released test network
([cg-test] Yijunmaverick/CartoonGAN-Test-Pytorch-Torch `network/Transformer.py`,
the PyTorch port of the official Torch models), which the paper's figure
leaves open: reflection padding around the 7x7 convs and inside the residual
blocks, zero padding elsewhere, every conv with a bias, instance norm with
scale and shift (eps 1e-9), transposed convs k3 s2 p1 output_padding 1.
(znxlwm/pytorch-CartoonGAN has the same layer list with zero padding and
non-affine instance norm.)

c(n) = max(1, round(n * width)):

  name         op                                              [cg-test]
  conv01_1     reflect pad 3, conv 7x7 3 -> c64, IN, ReLU      conv01_1, in01_1
  conv02_1     conv 3x3/2 c64 -> c128, zero pad 1              conv02_1
  conv02_2     conv 3x3 c128 -> c128, zero pad 1, IN, ReLU     conv02_2, in02_1
  conv03_1     conv 3x3/2 c128 -> c256                         conv03_1
  conv03_2     conv 3x3 c256 -> c256, IN, ReLU                 conv03_2, in03_1
  res1..res8   [reflect pad 1, conv 3x3, IN, ReLU,             conv04_*..11_*
                reflect pad 1, conv 3x3, IN] + input
  deconv01_1   transposed conv 3x3/2 c256 -> c128              deconv01_1
  deconv01_2   conv 3x3 c128 -> c128, IN, ReLU                 deconv01_2, in12_1
  deconv02_1   transposed conv 3x3/2 c128 -> c64               deconv02_1
  deconv02_2   conv 3x3 c64 -> c64, IN, ReLU                   deconv02_2, in13_1
  deconv03_1   reflect pad 3, conv 7x7 c64 -> 3, tanh          deconv03_1

Param tree: convs {'kernel' [k, k, in, out], 'bias'}; transposed convs
{'kernel' [3, 3, in, out] (torch weight [in, out, kh, kw] transposed
(2, 3, 0, 1)), 'bias'}; norms {'scale', 'bias'} named in01_1, in02_1, in03_1,
in12_1, in13_1; res blocks {'conv1', 'norm1', 'conv2', 'norm2'}.
Total at width 1.0: 11,129,667 parameters.
"""

from __future__ import annotations

from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from animejax.models import layers
from animejax.models.animeganv2 import scaled

Array = jax.Array

# [cg-test] InstanceNormalization(dim, eps=1e-9).
CG_IN_EPS = 1e-9
# [cg] 8 residual blocks (paper Fig. 2).
NUM_RES_BLOCKS = 8


class ResBlock(nn.Module):
  """[cg] residual block: conv-IN-ReLU-conv-IN + input."""
  eps: float = CG_IN_EPS
  dtype: Any = jnp.float32
  conv_impl: str = 'auto'

  @nn.compact
  def __call__(self, x: Array) -> Array:
    c = x.shape[-1]
    conv = lambda name: layers.Conv(c, 3, pads=(1, 1, 1, 1), use_bias=True,
                                    dtype=self.dtype,
                                    conv_impl=self.conv_impl, name=name)
    h = nn.relu(layers.InstanceNorm(self.eps, name='norm1')(conv('conv1')(x)))
    h = layers.InstanceNorm(self.eps, name='norm2')(conv('conv2')(h))
    return x.astype(h.dtype) + h


class CartoonGANGenerator(nn.Module):
  """CartoonGAN G. x [N, H, W, 3] in [-1, 1] -> same shape in [-1, 1]."""
  width: float = 1.0
  num_blocks: int = NUM_RES_BLOCKS
  eps: float = CG_IN_EPS
  dtype: Any = jnp.float32
  conv_impl: str = 'auto'

  size_multiple: ClassVar[int] = 4

  @nn.compact
  def __call__(self, x: Array) -> Array:
    layers.check_size(x, self.size_multiple, 'CartoonGANGenerator')
    c = lambda n: scaled(n, self.width)
    norm = lambda name: layers.InstanceNorm(self.eps, name=name)

    def conv(f, name, k=3, s=1, reflect=False):
      p = k // 2
      return layers.Conv(f, k, s, pads=(p, p, p, p),
                         pad_mode='reflect' if reflect else 'zero',
                         use_bias=True, dtype=self.dtype,
                         conv_impl=self.conv_impl, name=name)

    def deconv(f, name):
      return layers.ConvTranspose(f, 3, 2, padding=1, output_padding=1,
                                  dtype=self.dtype, name=name)

    x = x.astype(self.dtype)
    x = nn.relu(norm('in01_1')(conv(c(64), 'conv01_1', k=7, reflect=True)(x)))
    x = conv(c(128), 'conv02_1', s=2)(x)
    x = nn.relu(norm('in02_1')(conv(c(128), 'conv02_2')(x)))
    x = conv(c(256), 'conv03_1', s=2)(x)
    x = nn.relu(norm('in03_1')(conv(c(256), 'conv03_2')(x)))
    for i in range(1, self.num_blocks + 1):
      x = ResBlock(self.eps, self.dtype, self.conv_impl, name=f'res{i}')(x)
    x = deconv(c(128), 'deconv01_1')(x)
    x = nn.relu(norm('in12_1')(conv(c(128), 'deconv01_2')(x)))
    x = deconv(c(64), 'deconv02_1')(x)
    x = nn.relu(norm('in13_1')(conv(c(64), 'deconv02_2')(x)))
    x = conv(3, 'deconv03_1', k=7, reflect=True)(x)
    return jnp.tanh(x.astype(jnp.float32))
