"""bryandlee/animegan2-pytorch state dicts -> official AnimeGANv2 names.

Keys follow that repository's model.py (`Generator`): nn.Sequential blocks
block_a..block_e of ConvNormLReLU (index .1 = Conv2d, .2 = GroupNorm(1)),
block_c.1-4 InvertedResBlock (layers.0 expand, layers.1 depthwise with bias,
layers.2 1x1 conv, layers.3 GroupNorm), out_layer.0 = 1x1 conv. The mapping
is the inverse of its convert_weights.py. Files are read with
animejax.torch_file (restricted unpickler; torch is not needed).
"""

from __future__ import annotations

import numpy as np

from animejax.convert import tf1_checkpoint


def _torch_key_map() -> dict[str, tuple[str, str]]:
  """official conv/LN scope -> (torch module prefix, kind)."""
  m = {}
  for blk, n in (('A', 3), ('B', 2), ('D', 2), ('E', 3)):
    for i in range(n):
      sfx = '' if i == 0 else f'_{i}'
      m[f'{blk}/Conv{sfx}'] = (f'block_{blk.lower()}.{i}.1', 'conv')
      m[f'{blk}/LayerNorm{sfx}'] = (f'block_{blk.lower()}.{i}.2', 'norm')
  m['C/Conv'] = ('block_c.0.1', 'conv')
  m['C/LayerNorm'] = ('block_c.0.2', 'norm')
  m['C/Conv_1'] = ('block_c.5.1', 'conv')
  m['C/LayerNorm_1'] = ('block_c.5.2', 'norm')
  for k in range(1, 5):
    p = f'block_c.{k}.layers'
    m[f'C/r{k}/Conv'] = (f'{p}.0.1', 'conv')
    m[f'C/r{k}/LayerNorm'] = (f'{p}.0.2', 'norm')
    m[f'C/r{k}/r{k}'] = (f'{p}.1.1', 'dwconv')
    m[f'C/r{k}/1'] = (f'{p}.1.2', 'norm')
    m[f'C/r{k}/Conv_1'] = (f'{p}.2', 'conv')
    m[f'C/r{k}/2'] = (f'{p}.3', 'norm')
  m['out_layer/Conv'] = ('out_layer.0', 'conv')
  return m


TORCH_KEYS = _torch_key_map()


def from_state_dict(state: dict[str, np.ndarray], source: str
                    ) -> dict[str, np.ndarray]:
  """{official TF name: array in TF layout} from a torch state dict."""
  state = {k[len('module.'):] if k.startswith('module.') else k: v
           for k, v in state.items()}
  out, used = {}, set()

  def take(key):
    if key not in state:
      raise ValueError(
          f'{source}: key {key!r} missing; expected a bryandlee/'
          'animegan2-pytorch Generator state dict (block_a.0.1.weight, ...).')
    used.add(key)
    return np.asarray(state[key], np.float32)

  for scope, (prefix, kind) in TORCH_KEYS.items():
    if kind == 'conv':    # OIHW -> HWIO
      out[f'{scope}/weights'] = take(f'{prefix}.weight').transpose(2, 3, 1, 0)
    elif kind == 'dwconv':  # [C,1,kh,kw] -> [kh,kw,C,1]
      out[f'{scope}/w'] = take(f'{prefix}.weight').transpose(2, 3, 0, 1)
      out[f'{scope}/bias'] = take(f'{prefix}.bias')
    else:
      out[f'{scope}/gamma'] = take(f'{prefix}.weight')
      out[f'{scope}/beta'] = take(f'{prefix}.bias')
  extra = sorted(set(state) - used)
  if extra:
    raise ValueError(f'{source}: unexpected keys {extra[:5]}; not the '
                     'animegan2-pytorch Generator.')
  return out


def read(path: str) -> dict[str, np.ndarray]:
  from animejax import torch_file  # pylint: disable=g-import-not-at-top
  state = torch_file.load_state_dict(path)
  weights = from_state_dict(state, path)
  tf1_checkpoint.check(weights, path)
  return weights
