"""Official AnimeGANv2 TF1 checkpoints (`generator_<Style>_weight/`).

Variables are named as [v2] net/generator.py builds them under
`generator/G_MODEL` (tf.contrib conv2d/layer_norm scopes):

  A/Conv/weights [7,7,3,32], A/LayerNorm/{gamma,beta}, A/Conv_1, A/LayerNorm_1,
  A/Conv_2, A/LayerNorm_2; B/Conv, B/LayerNorm, B/Conv_1, B/LayerNorm_1;
  C/Conv, C/LayerNorm; C/r{k}/Conv (1x1 expand), C/r{k}/LayerNorm,
  C/r{k}/r{k}/w [3,3,C,1] + C/r{k}/r{k}/bias (depthwise), C/r{k}/1 (LN),
  C/r{k}/Conv_1 (1x1 project), C/r{k}/2 (LN) for k = 1..4; C/Conv_1,
  C/LayerNorm_1; D/Conv, D/LayerNorm, D/Conv_1, D/LayerNorm_1; E/Conv,
  E/LayerNorm, E/Conv_1, E/LayerNorm_1, E/Conv_2, E/LayerNorm_2;
  out_layer/Conv/weights [1,1,32,3]. No conv biases except the depthwise.

`official_names()` lists them (with shapes for width 1) in this order; the
other v2 readers (.tflite, PyTorch) produce the same {name: array} dict.
"""

from __future__ import annotations

import os

import numpy as np

SCOPE = 'generator/G_MODEL/'


def _conv(scope, ln, k, cin, cout):
  return [(f'{scope}/weights', (k, k, cin, cout)),
          (f'{ln}/gamma', (cout,)), (f'{ln}/beta', (cout,))]


def official_names() -> list[tuple[str, tuple[int, ...]]]:
  """(name without 'generator/G_MODEL/', shape) in graph order."""
  out = []
  out += _conv('A/Conv', 'A/LayerNorm', 7, 3, 32)
  out += _conv('A/Conv_1', 'A/LayerNorm_1', 3, 32, 64)
  out += _conv('A/Conv_2', 'A/LayerNorm_2', 3, 64, 64)
  out += _conv('B/Conv', 'B/LayerNorm', 3, 64, 128)
  out += _conv('B/Conv_1', 'B/LayerNorm_1', 3, 128, 128)
  out += _conv('C/Conv', 'C/LayerNorm', 3, 128, 128)
  cin = 128
  for k in range(1, 5):
    r = f'C/r{k}'
    mid = 2 * cin  # [v2] InvertedRes_block expansion_ratio 2
    out += _conv(f'{r}/Conv', f'{r}/LayerNorm', 1, cin, mid)
    out += [(f'{r}/r{k}/w', (3, 3, mid, 1)), (f'{r}/r{k}/bias', (mid,)),
            (f'{r}/1/gamma', (mid,)), (f'{r}/1/beta', (mid,))]
    out += _conv(f'{r}/Conv_1', f'{r}/2', 1, mid, 256)
    cin = 256
  out += _conv('C/Conv_1', 'C/LayerNorm_1', 3, 256, 128)
  out += _conv('D/Conv', 'D/LayerNorm', 3, 128, 128)
  out += _conv('D/Conv_1', 'D/LayerNorm_1', 3, 128, 128)
  out += _conv('E/Conv', 'E/LayerNorm', 3, 128, 64)
  out += _conv('E/Conv_1', 'E/LayerNorm_1', 3, 64, 64)
  out += _conv('E/Conv_2', 'E/LayerNorm_2', 7, 64, 32)
  out += [('out_layer/Conv/weights', (1, 1, 32, 3))]
  return out


def conv_names() -> list[str]:
  """The 25 conv weight names (21 conv + 4 depthwise) in graph order."""
  return [n for n, _ in official_names()
          if n.endswith('/weights') or n.endswith('/w')]


def read(path: str) -> dict[str, np.ndarray]:
  """{official name: float32 array} from a TF1 checkpoint folder/prefix."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if not (os.path.isdir(path) or os.path.exists(path + '.index')):
    raise FileNotFoundError(
        f'No TF1 checkpoint at {path!r}: pass the folder holding `checkpoint`'
        ' and `<name>.ckpt.index/.data-*`, or the `<name>.ckpt` prefix.')
  try:
    reader = tf.train.load_checkpoint(path)
  except (ValueError, tf.errors.OpError) as e:
    raise ValueError(f'{path!r}: not a readable TF checkpoint ({e}).') from e
  out = {}
  for name in reader.get_variable_to_shape_map():
    if SCOPE in name:
      short = name.split(SCOPE, 1)[1]
      out[short] = np.asarray(reader.get_tensor(name), np.float32)
  if not out:
    raise ValueError(
        f'{path!r}: no variables under {SCOPE!r}; is this an AnimeGANv2 '
        'generator checkpoint?')
  return out


def check(weights: dict[str, np.ndarray], source: str) -> None:
  """Raises naming the missing/mis-shaped official variables (width 1)."""
  missing = [n for n, _ in official_names() if n not in weights]
  if missing:
    raise ValueError(f'{source}: missing AnimeGANv2 variables {missing[:6]}'
                     f'{" ..." if len(missing) > 6 else ""}')
  for n, shape in official_names():
    if tuple(weights[n].shape) != shape:
      raise ValueError(f'{source}: {n} has shape {weights[n].shape}, '
                       f'expected {shape}.')
