"""znxlwm/UGATIT-pytorch state dicts -> animejax.models.ugatit variables.

[pt] UGATIT.py saves one dict {'genA2B', 'genB2A', 'disGA', 'disGB', 'disLA',
'disLB'} of module state dicts. Generator keys ([pt] networks.py
ResnetGenerator; use_bias=False everywhere but conv1x1):
  DownBlock.1.weight                     stem 7x7 conv
  DownBlock.5.weight, DownBlock.9.weight down_0, down_1
  DownBlock.{12+i}.conv_block.{1,5}.weight     res_i conv1, conv2
  gap_fc.weight, gmp_fc.weight [1, C]; conv1x1.weight [C, 2C, 1, 1], .bias
  FC.0.weight, FC.2.weight; gamma.weight; beta.weight
  UpBlock1_{i+1}.conv{1,2}.weight, UpBlock1_{i+1}.norm{1,2}.rho [1, C, 1, 1]
  UpBlock2.{2,7}.weight (up convs), UpBlock2.{3,8}.{rho,gamma,beta} (ILN),
  UpBlock2.11.weight (output conv)
Discriminator keys ([pt] Discriminator): model.{3j+1}.{weight_orig, weight_u,
weight_v, bias} for the n_layers - 1 body convs, gap_fc / gmp_fc
.{weight_orig, weight_u, weight_v}, conv1x1.{weight, bias} (no spectral
norm), conv.{weight_orig, weight_u, weight_v}.

Layouts: conv OIHW -> HWIO, linear [out, in] -> [in, out], [1, C, 1, 1] ->
[C]; the full model's FC.0 reads an NCHW-flattened map, (C, H, W) columns,
permuted here to our (H, W, C) flattening. weight_v is in (in, kh, kw) order
and is permuted to our (kh, kw, in).
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping

import numpy as np


def _strip(state: Mapping[str, Any]) -> dict[str, np.ndarray]:
  """Copies as numpy float32; drops a DataParallel 'module.' prefix.

  (Copies: `tensor.numpy()` shares memory with the tensor, and torch updates
  the spectral-norm buffers in place on every training forward.)
  """
  out = {}
  for k, v in state.items():
    if k.startswith('module.'):
      k = k[len('module.'):]
    if hasattr(v, 'detach'):  # a torch tensor, if torch is around
      v = v.detach().cpu().numpy()
    out[k] = np.array(v, np.float32, copy=True)
  return out


class _Taker:
  """Reads keys once and reports missing and unused ones."""

  def __init__(self, state: Mapping[str, Any], what: str):
    self.state = _strip(state)
    self.what = what
    self.used: set[str] = set()

  def __call__(self, key: str) -> np.ndarray:
    if key not in self.state:
      raise ValueError(f'{self.what}: key {key!r} missing; expected a '
                       'znxlwm/UGATIT-pytorch state dict.')
    self.used.add(key)
    return self.state[key]

  def check_all_used(self) -> None:
    extra = sorted(set(self.state) - self.used)
    if extra:
      raise ValueError(f'{self.what}: unexpected keys {extra[:8]}.')


def _conv(w: np.ndarray) -> np.ndarray:
  return np.ascontiguousarray(w.transpose(2, 3, 1, 0))  # OIHW -> HWIO


def _vec(p: np.ndarray) -> np.ndarray:
  return p.reshape(-1)  # [1, C, 1, 1] -> [C]


def generator_kwargs_from_torch(state_dict: Mapping[str, Any]
                                ) -> dict[str, Any]:
  """UGATITGenerator fields (ngf, n_blocks, img_size, light) from shapes.

  Light iff FC.0 takes C = 4 ngf inputs (the pooled map); the full model's
  FC.0 takes (img_size / 4)^2 * C. For light, img_size is unknowable and
  returned as None.
  """
  state = _strip(state_dict)
  ngf = state['DownBlock.1.weight'].shape[0]
  c = ngf * 2 ** 2
  n_blocks = sum(1 for k in state
                 if re.fullmatch(r'UpBlock1_\d+\.conv1\.weight', k))
  fan_in = state['FC.0.weight'].shape[1]
  light = fan_in == c
  img_size = None
  if not light:
    side = math.isqrt(fan_in // c)
    if side * side * c != fan_in:
      raise ValueError(f'FC.0.weight has {fan_in} inputs: neither {c} '
                       '(light) nor (img_size / 4)^2 * 4 ngf (full).')
    img_size = 4 * side
  return dict(ngf=ngf, n_blocks=n_blocks, img_size=img_size, light=light)


def params_from_torch(state_dict: Mapping[str, Any],
                      light: bool | None = None) -> dict[str, Any]:
  """Flax 'params' of UGATITGenerator from a [pt] ResnetGenerator state dict.

  Args:
    state_dict: e.g. torch.load(...)['genA2B'] (tensors or numpy arrays).
    light: None to detect from FC.0.weight's input size; a bool is checked
      against the detected variant.
  """
  cfg = generator_kwargs_from_torch(state_dict)
  if light is not None and bool(light) != cfg['light']:
    raise ValueError(f'light={light} but the state dict is the '
                     f"{'light' if cfg['light'] else 'full'} model "
                     '(from FC.0.weight).')
  take = _Taker(state_dict, 'U-GAT-IT generator')
  p: dict[str, Any] = {'stem': {'kernel': _conv(take('DownBlock.1.weight'))}}
  for i, idx in enumerate((5, 9)):
    p[f'down_{i}'] = {'kernel': _conv(take(f'DownBlock.{idx}.weight'))}
  for i in range(cfg['n_blocks']):
    pre = f'DownBlock.{12 + i}.conv_block'
    p[f'res_{i}'] = {'conv1': {'kernel': _conv(take(f'{pre}.1.weight'))},
                     'conv2': {'kernel': _conv(take(f'{pre}.5.weight'))}}
  for name in ('gap_fc', 'gmp_fc'):
    p[name] = {'kernel': take(f'{name}.weight').T.copy()}
  p['conv1x1'] = {'kernel': _conv(take('conv1x1.weight')),
                  'bias': take('conv1x1.bias')}
  fc0 = take('FC.0.weight')                      # [C, in]
  if not cfg['light']:
    c = fc0.shape[0]
    side = cfg['img_size'] // 4
    # columns (C, H, W) -> rows (H, W, C)
    fc0 = fc0.reshape(c, c, side, side).transpose(2, 3, 1, 0).reshape(-1, c)
  else:
    fc0 = fc0.T
  p['fc_0'] = {'kernel': np.ascontiguousarray(fc0)}
  p['fc_1'] = {'kernel': take('FC.2.weight').T.copy()}
  p['gamma'] = {'kernel': take('gamma.weight').T.copy()}
  p['beta'] = {'kernel': take('beta.weight').T.copy()}
  for i in range(cfg['n_blocks']):
    pre = f'UpBlock1_{i + 1}'
    p[f'adares_{i}'] = {
        'conv1': {'kernel': _conv(take(f'{pre}.conv1.weight'))},
        'norm1': {'rho': _vec(take(f'{pre}.norm1.rho'))},
        'conv2': {'kernel': _conv(take(f'{pre}.conv2.weight'))},
        'norm2': {'rho': _vec(take(f'{pre}.norm2.rho'))}}
  for i, (conv, norm) in enumerate(((2, 3), (7, 8))):
    p[f'up_{i}'] = {'kernel': _conv(take(f'UpBlock2.{conv}.weight'))}
    p[f'up_norm_{i}'] = {k: _vec(take(f'UpBlock2.{norm}.{k}'))
                         for k in ('rho', 'gamma', 'beta')}
  p['out'] = {'kernel': _conv(take('UpBlock2.11.weight'))}
  take.check_all_used()
  return p


def discriminator_kwargs_from_torch(state_dict: Mapping[str, Any]
                                    ) -> dict[str, int]:
  """UGATITDiscriminator fields (ndf, n_layers) from a [pt] state dict."""
  state = _strip(state_dict)
  n_convs = sum(1 for k in state
                if re.fullmatch(r'model\.\d+\.weight_orig', k))
  return dict(ndf=state['model.1.weight_orig'].shape[0],
              n_layers=n_convs + 1)


def discriminator_variables_from_torch(state_dict: Mapping[str, Any]
                                       ) -> dict[str, Any]:
  """{'params', 'spectral'} of UGATITDiscriminator from a [pt] state dict.

  torch spectral_norm keeps weight_orig (the parameter), weight_u [out] and
  weight_v [in * kh * kw] (buffers); 'spectral' gets u and v (v permuted to
  our (kh, kw, in) order), so an eval forward reproduces torch's sigma.
  """
  cfg = discriminator_kwargs_from_torch(state_dict)
  take = _Taker(state_dict, 'U-GAT-IT discriminator')
  params: dict[str, Any] = {}
  spectral: dict[str, Any] = {}

  def sn(prefix: str, name: str, bias: bool) -> None:
    w = take(f'{prefix}.weight_orig')
    u, v = take(f'{prefix}.weight_u'), take(f'{prefix}.weight_v')
    if w.ndim == 4:
      o, i, kh, kw = w.shape
      kernel = _conv(w)
      v = v.reshape(i, kh, kw).transpose(1, 2, 0).reshape(-1)
    else:
      kernel = w.T.copy()
    params[name] = {'kernel': kernel}
    if bias:
      params[name]['bias'] = take(f'{prefix}.bias')
    spectral[name] = {'u': u.reshape(-1), 'v': np.ascontiguousarray(v)}

  for j in range(cfg['n_layers'] - 1):
    sn(f'model.{3 * j + 1}', f'conv_{j}', bias=True)
  sn('gap_fc', 'gap_fc', bias=False)
  sn('gmp_fc', 'gmp_fc', bias=False)
  params['conv1x1'] = {'kernel': _conv(take('conv1x1.weight')),
                       'bias': take('conv1x1.bias')}
  sn('conv', 'conv_out', bias=False)
  take.check_all_used()
  return {'params': params, 'spectral': spectral}


# ------------------------------------------------------- whole checkpoints
# [pt] UGATIT.py save(): torch.save({'genA2B': ..., 'genB2A': ..., 'disGA':
# ..., 'disGB': ..., 'disLA': ..., 'disLB': ...}, '<dataset>_params_%07d.pt').
CHECKPOINT_KEYS = ('genA2B', 'genB2A', 'disGA', 'disGB', 'disLA', 'disLB')
# [pt] main.py --img_size 256: the light model's size cannot be read from its
# shapes (its FC reads the pooled map), so converted light weights get this.
DEFAULT_LIGHT_SIZE = 256
LICENCE = ('U-GAT-IT (znxlwm/UGATIT-pytorch) code is MIT-licensed; the '
           'selfie2anime images its checkpoints were trained on are '
           'third-party photos and drawings: use the weights for research.')


def looks_like_checkpoint(path: str) -> bool:
  """Cheap test (no tensor is read) for an official U-GAT-IT .pt file.

  A zip checkpoint (torch >= 1.6) names its keys in `<root>/data.pkl`; a
  legacy one in the first pickle. Both hold the strings 'genA2B', 'genB2A'.
  """
  import zipfile  # pylint: disable=g-import-not-at-top
  try:
    if zipfile.is_zipfile(path):
      with zipfile.ZipFile(path) as z:
        pkl = [n for n in z.namelist() if n.endswith('data.pkl')]
        head = z.read(pkl[0]) if pkl else b''
    else:
      with open(path, 'rb') as f:
        head = f.read(1 << 20)
  except OSError:
    return False
  return b'genA2B' in head and b'genB2A' in head


def is_checkpoint(obj: Any) -> bool:
  """True for a loaded [pt] checkpoint dict ({'genA2B': {...}, ...})."""
  return (isinstance(obj, Mapping) and
          all(isinstance(obj.get(k), Mapping) for k in ('genA2B', 'genB2A')))


def weights_from_checkpoint(obj: Mapping[str, Any], source: str = '',
                            img_size: int | None = None):
  """weights_io.GeneratorWeights (arch 'ugatit') of a loaded [pt] checkpoint.

  params = {'a2b': genA2B, 'b2a': genB2A} (the discriminators are not kept:
  inference needs neither). Full vs light comes from FC.0's shape; the full
  model's img_size too. `img_size` sets the light model's size (default
  256, [pt] main.py) and is checked against the full model's.
  """
  from animejax import weights_io  # pylint: disable=g-import-not-at-top
  if not is_checkpoint(obj):
    keys = list(obj)[:8] if isinstance(obj, Mapping) else type(obj).__name__
    raise ValueError(
        f'{source or "checkpoint"} is not an official U-GAT-IT checkpoint: '
        f"expected a dict with 'genA2B' and 'genB2A' state dicts "
        f'(znxlwm/UGATIT-pytorch <dataset>_params_<step>.pt), got {keys}.')
  kwargs = {}
  params = {}
  for ours, theirs in (('a2b', 'genA2B'), ('b2a', 'genB2A')):
    k = generator_kwargs_from_torch(obj[theirs])
    if kwargs and k != kwargs:
      raise ValueError(f'{source}: genA2B {kwargs} and genB2A {k} differ.')
    kwargs = k
    params[ours] = params_from_torch(obj[theirs], light=k['light'])
  kwargs = dict(kwargs)
  if kwargs['img_size'] is None:
    kwargs['img_size'] = int(img_size or DEFAULT_LIGHT_SIZE)
  elif img_size and int(img_size) != kwargs['img_size']:
    raise ValueError(f'{source}: the full model was trained at '
                     f"{kwargs['img_size']} px (from FC.0), not {img_size}.")
  kwargs['variance'] = 'unbiased'  # [pt] ILN/adaILN use torch.var
  num = sum(int(np.size(a)) for p in params.values()
            for a in _leaves(p))
  meta = {'source': source, 'format': 'torch', 'licence': LICENCE,
          'num_params': num, 'directions': {'a2b': 'genA2B', 'b2a': 'genB2A'},
          'dropped': [k for k in CHECKPOINT_KEYS[2:] if k in obj]}
  return weights_io.GeneratorWeights('ugatit', kwargs, params, meta)


def convert_file(path: str, img_size: int | None = None):
  """An official U-GAT-IT .pt file -> GeneratorWeights, read with the
  restricted reader (animejax.torch_file: no pickled code runs)."""
  import os  # pylint: disable=g-import-not-at-top
  from animejax import torch_file  # pylint: disable=g-import-not-at-top
  return weights_from_checkpoint(torch_file.load(path),
                                 os.path.abspath(path), img_size)


def _leaves(tree):
  if isinstance(tree, Mapping):
    for v in tree.values():
      yield from _leaves(v)
  else:
    yield tree
