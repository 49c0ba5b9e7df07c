"""VGG19 convolutional features (conv1_1 .. conv5_4) for the perceptual losses.

Layout of torchvision `vgg19().features` (Simonyan & Zisserman 2015, config
'E'): 16 convs 3x3, zero padding 1, each followed by ReLU, and a 2x2/2 max
pool after each of the 5 blocks (64x2, 128x2, 256x4, 512x4, 512x4). Param tree:
{'conv1_1': {'kernel': HWIO, 'bias': [C]}, ..., 'conv5_4': {...}}; loaders for
the published weight files are in `vgg_weights.py`.

Input: RGB in [-1, 1], as the generators produce. The weights decide the
preprocessing (`vgg_weights.load_vgg19` returns which one):
  'caffe': the original Caffe/VGG release as AnimeGAN's vgg19.npy and Keras'
     h5 use it ([v2] tools/vgg19.py): (x + 1) / 2 * 255, RGB -> BGR, minus the
     BGR mean [103.939, 116.779, 123.68].
  'torch': torchvision's retrained weights (vgg19-dcbb9e9d.pth): (x + 1) / 2,
     minus mean [0.485, 0.456, 0.406], divided by std [0.229, 0.224, 0.225],
     RGB order (torchvision ImageNet transforms).

Usage:
  vgg = VGG19(preprocess='torch')
  feats = vgg.apply({'params': params}, x, layer='conv4_4', pre_relu=True)
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

# [VGG] config 'E' (VGG19): (channels, convs) per block, a max pool after each.
BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))
CONV_NAMES = tuple(f'conv{b + 1}_{i + 1}' for b, (_, n) in enumerate(BLOCKS)
                   for i in range(n))
CHANNELS = {f'conv{b + 1}_{i + 1}': c for b, (c, n) in enumerate(BLOCKS)
            for i in range(n)}

PREPROCESS = ('caffe', 'torch')
# [v2] tools/vgg19.py VGG_MEAN, in BGR order (Caffe VGG release).
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
# torchvision ImageNet normalisation (RGB, on [0, 1] inputs).
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)


def preprocess_images(x: jax.Array, mode: str) -> jax.Array:
  """Maps RGB images in [-1, 1] to the input the VGG weights were trained on."""
  x = x.astype(jnp.float32)
  if mode == 'caffe':
    bgr = ((x + 1.0) * 127.5)[..., ::-1]
    return bgr - jnp.asarray(CAFFE_BGR_MEAN, jnp.float32)
  if mode == 'torch':
    return (((x + 1.0) * 0.5 - jnp.asarray(TORCH_MEAN, jnp.float32))
            / jnp.asarray(TORCH_STD, jnp.float32))
  if mode == 'auto':
    raise ValueError(
        "VGG19(preprocess='auto') must be resolved from the weights first: use "
        'animejax.models.vgg_weights.vgg_from_config (or resolve_preprocess).')
  raise ValueError(f'Unknown VGG preprocessing {mode!r}; expected one of '
                   f'{PREPROCESS} (config key vgg.preprocess).')


class VGG19(nn.Module):
  """VGG19 feature extractor that stops at the requested layer.

  Attributes:
    preprocess: 'caffe' or 'torch' (see module docstring); must match the
      weights.
    dtype: compute dtype; params stay float32.
  """
  preprocess: str = 'caffe'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, layer: str = 'conv4_4',
               pre_relu: bool = True) -> jax.Array:
    """Returns the features of `layer` ('conv1_1' .. 'conv5_4').

    Args:
      x: RGB images [N, H, W, 3] in [-1, 1].
      layer: which conv's output to return; later layers are not computed.
      pre_relu: return the conv output before its ReLU ([v2] content and
        style losses use conv4_4 before ReLU: `conv4_4_no_activation`).
    """
    if layer not in CHANNELS:
      raise ValueError(f'Unknown VGG19 layer {layer!r}; expected one of '
                       f'{CONV_NAMES} (config key vgg.layer).')
    if x.ndim != 4 or x.shape[-1] != 3:
      raise ValueError(f'VGG19 expects RGB images [N, H, W, 3], got {x.shape}.')
    x = preprocess_images(x, self.preprocess).astype(self.dtype)
    for b, (channels, n) in enumerate(BLOCKS):
      if b:
        # torchvision MaxPool2d(2, 2) floors odd sizes; [v2] uses TF 'SAME'
        # pooling, identical for the even sizes used in training.
        x = nn.max_pool(x, (2, 2), strides=(2, 2), padding='VALID')
      for i in range(n):
        name = f'conv{b + 1}_{i + 1}'
        x = nn.Conv(channels, (3, 3), padding=((1, 1), (1, 1)),
                    dtype=self.dtype, param_dtype=jnp.float32, name=name)(x)
        if name == layer and pre_relu:
          return x
        x = nn.relu(x)
        if name == layer:
          return x
    raise AssertionError('unreachable')  # `layer` was validated above.
