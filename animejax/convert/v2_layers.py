"""AnimeGANv2 weights from any supported format -> AnimeGANv2Generator.

Every reader yields the official TF1 variable dict (see tf1_checkpoint.py):
  tf1     the checkpoint itself
  torch   animegan2-pytorch state dicts (pytorch_v2.py)
  tflite  conv weights by op order (they follow graph order), layer-norm
          gamma/beta by their tensor names, which the TFLite export keeps
          (`generator/G_MODEL/A/LayerNorm/gamma`), eps from the export.
The dict is then mapped onto the Flax param tree by `to_params`.

Numerics of each source (which upsample/eps reproduce it):
  tf1 / tflite: TF1 resize_images bilinear ('tf1'), layer_norm eps 1e-12
                ([v2] tf.contrib.layers.layer_norm default).
  torch:        F.interpolate(align_corners=True) ('align_corners'),
                GroupNorm eps 1e-5 (animegan2-pytorch model.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from animejax.convert import tf1_checkpoint

# [v2] tf.contrib.layers.layer_norm default epsilon.
TF_LAYER_NORM_EPS = 1e-12
# torch.nn.GroupNorm default eps (animegan2-pytorch model.py).
TORCH_GROUP_NORM_EPS = 1e-5


def read_tflite(path: str) -> tuple[dict[str, np.ndarray], float | None]:
  """(official weights, layer-norm eps or None) from a v2 .tflite export."""
  from animejax.convert import tflite_reader  # pylint: disable=g-import-not-at-top
  model = tflite_reader.TfliteModel(path)
  convs = model.conv_layers()
  names = tf1_checkpoint.conv_names()
  if len(convs) != len(names):
    raise ValueError(
        f'{path}: {len(convs)} conv layers, an AnimeGANv2 generator has '
        f'{len(names)} (21 conv + 4 depthwise). Is this AnimeGANv2? (use '
        '--arch animeganv3 for v3 files)')
  out = {}
  for layer, name in zip(convs, names):
    is_dw = name.endswith('/w')
    if layer.depthwise != is_dw:
      raise ValueError(f'{path}: layer {layer.name!r} should be '
                       f'{"depthwise" if is_dw else "a plain conv"} ({name}).')
    if is_dw:  # [kh, kw, 1, C] -> official [kh, kw, C, 1]
      out[name] = layer.kernel.transpose(0, 1, 3, 2)
      out[name[:-2] + '/bias'] = (layer.bias if layer.bias is not None else
                                  np.zeros(layer.kernel.shape[-1], np.float32))
    else:
      out[name] = layer.kernel
      if layer.bias is not None and np.any(layer.bias != 0):
        raise ValueError(f'{path}: conv {layer.name!r} has a non-zero bias; '
                         'official AnimeGANv2 convs have none.')
  by_name = {model.tensor_name(i): i for i in model.details}
  eps = None
  for full, idx in by_name.items():
    if tf1_checkpoint.SCOPE not in full:
      continue
    short = full.split(tf1_checkpoint.SCOPE, 1)[1]
    if short.endswith('/gamma') or short.endswith('/beta'):
      out[short] = model.constant(idx)
    elif short.endswith('batchnorm/add/y') and eps is None:
      eps = model.scalar(idx)
  tf1_checkpoint.check(out, path)
  return out, eps


def read(path: str, fmt: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
  """(official weights, model_kwargs for the source's numerics)."""
  if fmt == 'tf1':
    weights = tf1_checkpoint.read(path)
    tf1_checkpoint.check(weights, path)
    kwargs = {'upsample': 'tf1', 'eps': TF_LAYER_NORM_EPS}
  elif fmt == 'torch':
    from animejax.convert import pytorch_v2  # pylint: disable=g-import-not-at-top
    weights = pytorch_v2.read(path)
    kwargs = {'upsample': 'align_corners', 'eps': TORCH_GROUP_NORM_EPS}
  elif fmt == 'tflite':
    weights, eps = read_tflite(path)
    kwargs = {'upsample': 'tf1', 'eps': eps if eps else TF_LAYER_NORM_EPS}
  else:
    raise ValueError(f'AnimeGANv2 from {fmt!r} files is not supported (use a '
                     'TF1 checkpoint, .tflite or animegan2-pytorch .pt).')
  return weights, kwargs


def convert(path: str, fmt: str) -> tuple[dict[str, Any], dict[str, Any]]:
  """(model_kwargs, params) for AnimeGANv2Generator from `path`."""
  weights, kwargs = read(path, fmt)
  return to_params(weights, kwargs)


def _cnl_scopes() -> dict[str, tuple[str, str]]:
  """Our CNL block name -> (official conv scope, layer-norm scope)."""
  out = {}
  for blk, n in (('A', 3), ('B', 2), ('C', 2), ('D', 2), ('E', 3)):
    for i in range(n):
      sfx = '' if i == 0 else f'_{i}'
      out[f'{blk}{i}'] = (f'{blk}/Conv{sfx}', f'{blk}/LayerNorm{sfx}')
  return out


def _norm(weights, scope):
  return {'scale': weights[f'{scope}/gamma'], 'bias': weights[f'{scope}/beta']}


def to_params(weights: dict[str, np.ndarray], kwargs: dict[str, Any]
              ) -> tuple[dict[str, Any], dict[str, Any]]:
  """Maps official names onto the AnimeGANv2Generator param tree.

  See animejax/models/animeganv2.py for the tree; returns (model_kwargs,
  params) and checks every shape against the model.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from animejax.models.animeganv2 import AnimeGANv2Generator  # pylint: disable=g-import-not-at-top
  params: dict[str, Any] = {}
  for ours, (conv, norm) in _cnl_scopes().items():
    params[ours] = {'conv': {'kernel': weights[f'{conv}/weights']},
                    'norm': _norm(weights, norm)}
  for k in range(1, 5):
    r = f'C/r{k}'
    params[f'r{k}'] = {
        'expand': {'conv': {'kernel': weights[f'{r}/Conv/weights']},
                   'norm': _norm(weights, f'{r}/LayerNorm')},
        # official [3, 3, C, 1] -> flax grouped-conv [3, 3, 1, C]
        'dwise': {'kernel': weights[f'{r}/r{k}/w'].transpose(0, 1, 3, 2),
                  'bias': weights[f'{r}/r{k}/bias']},
        'norm1': _norm(weights, f'{r}/1'),
        'project': {'kernel': weights[f'{r}/Conv_1/weights']},
        'norm2': _norm(weights, f'{r}/2'),
    }
  params['out'] = {'kernel': weights['out_layer/Conv/weights']}
  params = jax.tree.map(lambda a: np.asarray(a, np.float32), params)
  kwargs = {'width': 1.0, **kwargs}
  model = AnimeGANv2Generator(**kwargs)
  m = AnimeGANv2Generator.size_multiple
  want = jax.eval_shape(model.init, jax.random.key(0),
                        jnp.zeros((1, 4 * m, 4 * m, 3)))['params']
  got_s = jax.tree.map(lambda a: a.shape, params)
  want_s = jax.tree.map(lambda a: tuple(a.shape), want)
  if got_s != want_s:
    raise ValueError('AnimeGANv2 weights do not fit AnimeGANv2Generator: '
                     f'{got_s} vs {want_s}')
  return kwargs, params
