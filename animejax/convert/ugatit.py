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
