"""Parity of animejax.models.stylegan2 with NVIDIA's stylegan2-ada-pytorch.

The reference below re-implements [ada] training/networks.py (G 'skip',
D 'resnet') with the plain-PyTorch reference ops of torch_utils/ops
(_upfirdn2d_ref, conv2d_resample, _bias_act_ref, fused modulated_conv2d as
used in eval mode), and emulates torch_utils.persistence so a snapshot .pkl
written here has the official layout.
"""

from __future__ import annotations

import copy
import os
import pickle
import sys
import types

import numpy as np
import pytest

torch = pytest.importorskip('torch')
F = torch.nn.functional

import jax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp

from animejax.convert import stylegan2_pkl
from animejax.models import stylegan2

# ---------------------------------------------------------------------------
# Emulated torch_utils.persistence / dnnlib (registered only while writing).


def _reconstruct_persistent_obj(meta):  # Never called by the reader.
  raise RuntimeError(f'the reader executed {meta["class_name"]}')


_reconstruct_persistent_obj.__module__ = 'torch_utils.persistence'


class EasyDict(dict):
  pass


EasyDict.__module__ = 'dnnlib.util'


def _fake_modules():
  tu = types.ModuleType('torch_utils')
  pers = types.ModuleType('torch_utils.persistence')
  pers._reconstruct_persistent_obj = _reconstruct_persistent_obj
  tu.persistence = pers
  dn = types.ModuleType('dnnlib')
  du = types.ModuleType('dnnlib.util')
  du.EasyDict = EasyDict
  dn.util = du
  return {'torch_utils': tu, 'torch_utils.persistence': pers, 'dnnlib': dn,
          'dnnlib.util': du}


def persistent(orig):
  """[ada] persistence.persistent_class, minus the source-module capture."""

  class Decorator(orig):
    _orig_module_src = '# source of training/networks.py (never executed)'
    _orig_class_name = orig.__name__

    def __init__(self, *args, **kwargs):
      super().__init__(*args, **kwargs)
      self._init_args = copy.deepcopy(args)
      self._init_kwargs = copy.deepcopy(kwargs)

    def __reduce__(self):
      fields = list(super().__reduce__())
      fields += [None] * max(3 - len(fields), 0)
      if fields[0] is not _reconstruct_persistent_obj:
        meta = dict(type='class', version=6,
                    module_src=self._orig_module_src,
                    class_name=self._orig_class_name, state=fields[2])
        fields[0] = _reconstruct_persistent_obj
        fields[1] = (meta,)
        fields[2] = None
      return tuple(fields)

  Decorator.__name__ = orig.__name__
  return Decorator


# ---------------------------------------------------------------------------
# Reference ops ([ada] torch_utils/ops, plain-PyTorch paths).


def setup_filter(f):
  f = torch.as_tensor(f, dtype=torch.float32)
  f = f.ger(f)
  return f / f.sum()


def upfirdn2d_ref(x, f, up=1, down=1, padding=0, flip_filter=False, gain=1):
  if f is None:
    f = torch.ones([1, 1], dtype=torch.float32)
  n, c, h, w = x.shape
  if isinstance(padding, int):
    padding = [padding] * 4
  px0, px1, py0, py1 = padding
  x = x.reshape([n, c, h, 1, w, 1])
  x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
  x = x.reshape([n, c, h * up, w * up])
  x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
  x = x[:, :, max(-py0, 0):x.shape[2] - max(-py1, 0),
        max(-px0, 0):x.shape[3] - max(-px1, 0)]
  f = f * (gain ** (f.ndim / 2))
  if not flip_filter:
    f = f.flip(list(range(f.ndim)))
  f = f[None, None].repeat([c, 1, 1, 1])
  x = F.conv2d(x, f, groups=c)
  return x[:, :, ::down, ::down]


def conv2d_resample_ref(x, w, f=None, up=1, down=1, padding=0, groups=1,
                        flip_weight=True):
  out_c, in_c, kh, kw = w.shape
  fw = f.shape[-1] if f is not None else 1
  px0 = px1 = py0 = py1 = padding

  def conv(x, w, stride=1, pad=0, transpose=False, flip=True):
    if not flip:
      w = w.flip([2, 3])
    if transpose:
      return F.conv_transpose2d(x, w, stride=stride, padding=pad,
                                groups=groups)
    return F.conv2d(x, w, stride=stride, padding=pad, groups=groups)

  if up > 1:
    px0 += (fw + up - 1) // 2
    px1 += (fw - up) // 2
    py0 += (fw + up - 1) // 2
    py1 += (fw - up) // 2
  if down > 1:
    px0 += (fw - down + 1) // 2
    px1 += (fw - down) // 2
    py0 += (fw - down + 1) // 2
    py1 += (fw - down) // 2
  if kw == 1 and kh == 1 and down > 1 and up == 1:
    x = upfirdn2d_ref(x, f, down=down, padding=[px0, px1, py0, py1])
    return conv(x, w, flip=flip_weight)
  if down > 1 and up == 1:
    x = upfirdn2d_ref(x, f, padding=[px0, px1, py0, py1])
    return conv(x, w, stride=down, flip=flip_weight)
  if up > 1:
    if groups == 1:
      w = w.transpose(0, 1)
    else:
      w = w.reshape(groups, out_c // groups, in_c, kh, kw).transpose(1, 2)
      w = w.reshape(groups * in_c, out_c // groups, kh, kw)
    px0 -= kw - 1
    px1 -= kw - up
    py0 -= kh - 1
    py1 -= kh - up
    pxt = max(min(-px0, -px1), 0)
    pyt = max(min(-py0, -py1), 0)
    x = conv(x, w, stride=up, pad=[pyt, pxt], transpose=True,
             flip=not flip_weight)
    return upfirdn2d_ref(x, f, padding=[px0 + pxt, px1 + pxt, py0 + pyt,
                                        py1 + pyt], gain=up ** 2)
  assert px0 == px1 == py0 == py1 and px0 >= 0
  return conv(x, w, pad=[py0, px0], flip=flip_weight)


def bias_act_ref(x, b=None, act='linear', gain=None, clamp=None):
  def_gain = np.sqrt(2) if act == 'lrelu' else 1
  gain = float(gain if gain is not None else def_gain)
  if b is not None:
    x = x + b.reshape([1, -1] + [1] * (x.ndim - 2))
  if act == 'lrelu':
    x = F.leaky_relu(x, 0.2)
  if gain != 1:
    x = x * gain
  if clamp is not None and clamp >= 0:
    x = x.clamp(-clamp, clamp)
  return x


def modulated_conv2d_ref(x, weight, styles, noise=None, up=1, padding=0,
                         resample_filter=None, demodulate=True,
                         flip_weight=True):
  """[ada] modulated_conv2d with fused_modconv=True (eval default)."""
  n = x.shape[0]
  out_c, in_c, kh, kw = weight.shape
  w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)
  if demodulate:
    dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
    w = w * dcoefs.reshape(n, -1, 1, 1, 1)
  x = x.reshape(1, -1, *x.shape[2:])
  w = w.reshape(-1, in_c, kh, kw)
  x = conv2d_resample_ref(x, w, f=resample_filter, up=up, padding=padding,
                          groups=n, flip_weight=flip_weight)
  x = x.reshape(n, -1, *x.shape[2:])
  if noise is not None:
    x = x + noise
  return x


def normalize_2nd_moment(x, eps=1e-8):
  return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


# ---------------------------------------------------------------------------
# Reference networks ([ada] training/networks.py).


@persistent
class FullyConnectedLayer(torch.nn.Module):

  def __init__(self, in_features, out_features, bias=True,
               activation='linear', lr_multiplier=1, bias_init=0):
    super().__init__()
    self.activation = activation
    self.weight = torch.nn.Parameter(
        torch.randn([out_features, in_features]) / lr_multiplier)
    self.bias = (torch.nn.Parameter(torch.full([out_features],
                                               np.float32(bias_init)))
                 if bias else None)
    self.weight_gain = lr_multiplier / np.sqrt(in_features)
    self.bias_gain = lr_multiplier

  def forward(self, x):
    w = self.weight * self.weight_gain
    b = self.bias * self.bias_gain if self.bias is not None else None
    if self.activation == 'linear' and b is not None:
      return torch.addmm(b.unsqueeze(0), x, w.t())
    return bias_act_ref(x.matmul(w.t()), b, act=self.activation)


@persistent
class Conv2dLayer(torch.nn.Module):

  def __init__(self, in_channels, out_channels, kernel_size, bias=True,
               activation='linear', up=1, down=1, conv_clamp=None):
    super().__init__()
    self.activation, self.up, self.down = activation, up, down
    self.conv_clamp = conv_clamp
    self.register_buffer('resample_filter', setup_filter([1, 3, 3, 1]))
    self.padding = kernel_size // 2
    self.weight_gain = 1 / np.sqrt(in_channels * (kernel_size ** 2))
    self.act_gain = np.sqrt(2) if activation == 'lrelu' else 1
    self.weight = torch.nn.Parameter(
        torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
    self.bias = (torch.nn.Parameter(torch.zeros([out_channels]))
                 if bias else None)

  def forward(self, x, gain=1):
    w = self.weight * self.weight_gain
    x = conv2d_resample_ref(x, w, f=self.resample_filter, up=self.up,
                            down=self.down, padding=self.padding,
                            flip_weight=(self.up == 1))
    clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
    return bias_act_ref(x, self.bias, act=self.activation,
                        gain=self.act_gain * gain, clamp=clamp)


@persistent
class MappingNetwork(torch.nn.Module):

  def __init__(self, z_dim, c_dim, w_dim, num_ws, num_layers=8,
               lr_multiplier=0.01, w_avg_beta=0.995):
    super().__init__()
    self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
    self.num_ws, self.num_layers, self.w_avg_beta = (num_ws, num_layers,
                                                     w_avg_beta)
    embed = w_dim if c_dim > 0 else 0
    feats = [z_dim + embed] + [w_dim] * (num_layers - 1) + [w_dim]
    if c_dim > 0:
      self.embed = FullyConnectedLayer(c_dim, embed)
    for idx in range(num_layers):
      setattr(self, f'fc{idx}', FullyConnectedLayer(
          feats[idx], feats[idx + 1], activation='lrelu',
          lr_multiplier=lr_multiplier))
    if num_ws is not None and w_avg_beta is not None:
      self.register_buffer('w_avg', torch.zeros([w_dim]))

  def forward(self, z, c, truncation_psi=1, truncation_cutoff=None):
    x = normalize_2nd_moment(z) if self.z_dim > 0 else None
    if self.c_dim > 0:
      y = normalize_2nd_moment(self.embed(c))
      x = torch.cat([x, y], dim=1) if x is not None else y
    for idx in range(self.num_layers):
      x = getattr(self, f'fc{idx}')(x)
    if self.num_ws is not None:
      x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
    if truncation_psi != 1:
      if self.num_ws is None or truncation_cutoff is None:
        x = self.w_avg.lerp(x, truncation_psi)
      else:
        x[:, :truncation_cutoff] = self.w_avg.lerp(
            x[:, :truncation_cutoff], truncation_psi)
    return x


@persistent
class SynthesisLayer(torch.nn.Module):

  def __init__(self, in_channels, out_channels, w_dim, resolution, up=1,
               conv_clamp=None):
    super().__init__()
    self.resolution, self.up, self.conv_clamp = resolution, up, conv_clamp
    self.register_buffer('resample_filter', setup_filter([1, 3, 3, 1]))
    self.padding = 1
    self.act_gain = np.sqrt(2)
    self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
    self.weight = torch.nn.Parameter(
        torch.randn([out_channels, in_channels, 3, 3]))
    self.register_buffer('noise_const', torch.randn([resolution, resolution]))
    self.noise_strength = torch.nn.Parameter(torch.zeros([]))
    self.bias = torch.nn.Parameter(torch.zeros([out_channels]))

  def forward(self, x, w, gain=1):
    styles = self.affine(w)
    noise = self.noise_const * self.noise_strength
    x = modulated_conv2d_ref(x, self.weight, styles, noise, up=self.up,
                             padding=self.padding,
                             resample_filter=self.resample_filter,
                             flip_weight=(self.up == 1))
    clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
    return bias_act_ref(x, self.bias, 'lrelu', gain=self.act_gain * gain,
                        clamp=clamp)


@persistent
class ToRGBLayer(torch.nn.Module):

  def __init__(self, in_channels, out_channels, w_dim, conv_clamp=None):
    super().__init__()
    self.conv_clamp = conv_clamp
    self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
    self.weight = torch.nn.Parameter(
        torch.randn([out_channels, in_channels, 1, 1]))
    self.bias = torch.nn.Parameter(torch.zeros([out_channels]))
    self.weight_gain = 1 / np.sqrt(in_channels)

  def forward(self, x, w):
    styles = self.affine(w) * self.weight_gain
    x = modulated_conv2d_ref(x, self.weight, styles, demodulate=False)
    return bias_act_ref(x, self.bias, clamp=self.conv_clamp)


@persistent
class SynthesisBlock(torch.nn.Module):

  def __init__(self, in_channels, out_channels, w_dim, resolution,
               img_channels, is_last, conv_clamp=None):
    super().__init__()
    self.in_channels, self.resolution = in_channels, resolution
    self.register_buffer('resample_filter', setup_filter([1, 3, 3, 1]))
    self.num_conv, self.num_torgb = 0, 1
    if in_channels == 0:
      self.const = torch.nn.Parameter(
          torch.randn([out_channels, resolution, resolution]))
    else:
      self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim,
                                  resolution, up=2, conv_clamp=conv_clamp)
      self.num_conv += 1
    self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution,
                                conv_clamp=conv_clamp)
    self.num_conv += 1
    self.torgb = ToRGBLayer(out_channels, img_channels, w_dim,
                            conv_clamp=conv_clamp)

  def forward(self, x, img, ws):
    w_iter = iter(ws.unbind(dim=1))
    if self.in_channels == 0:
      x = self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
      x = self.conv1(x, next(w_iter))
    else:
      x = self.conv0(x, next(w_iter))
      x = self.conv1(x, next(w_iter))
    if img is not None:
      f = self.resample_filter
      img = upfirdn2d_ref(img, f, up=2, padding=[2, 1, 2, 1], gain=4)
    y = self.torgb(x, next(w_iter))
    return x, (img + y if img is not None else y)


@persistent
class SynthesisNetwork(torch.nn.Module):

  def __init__(self, w_dim, img_resolution, img_channels, channel_base=32768,
               channel_max=512, conv_clamp=None):
    super().__init__()
    self.img_resolution_log2 = int(np.log2(img_resolution))
    self.block_resolutions = [2 ** i for i in
                              range(2, self.img_resolution_log2 + 1)]
    ch = {r: min(channel_base // r, channel_max)
          for r in self.block_resolutions}
    self.num_ws = 0
    for res in self.block_resolutions:
      block = SynthesisBlock(ch[res // 2] if res > 4 else 0, ch[res], w_dim,
                             res, img_channels, res == img_resolution,
                             conv_clamp=conv_clamp)
      self.num_ws += block.num_conv + (block.num_torgb
                                       if res == img_resolution else 0)
      setattr(self, f'b{res}', block)

  def forward(self, ws):
    x = img = None
    w_idx = 0
    for res in self.block_resolutions:
      block = getattr(self, f'b{res}')
      cur = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
      w_idx += block.num_conv
      x, img = block(x, img, cur)
    return img


@persistent
class Generator(torch.nn.Module):

  def __init__(self, z_dim, c_dim, w_dim, img_resolution, img_channels,
               mapping_kwargs=None, synthesis_kwargs=None):
    super().__init__()
    self.z_dim, self.c_dim = z_dim, c_dim
    self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels,
                                      **(synthesis_kwargs or {}))
    self.num_ws = self.synthesis.num_ws
    self.mapping = MappingNetwork(z_dim, c_dim, w_dim, self.num_ws,
                                  **(mapping_kwargs or {}))

  def forward(self, z, c, truncation_psi=1, truncation_cutoff=None):
    ws = self.mapping(z, c, truncation_psi, truncation_cutoff)
    return self.synthesis(ws)


@persistent
class DiscriminatorBlock(torch.nn.Module):

  def __init__(self, in_channels, tmp_channels, out_channels, img_channels,
               conv_clamp=None):
    super().__init__()
    self.in_channels = in_channels
    self.register_buffer('resample_filter', setup_filter([1, 3, 3, 1]))
    if in_channels == 0:
      self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1,
                                 activation='lrelu', conv_clamp=conv_clamp)
    self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3,
                             activation='lrelu', conv_clamp=conv_clamp)
    self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3,
                             activation='lrelu', down=2,
                             conv_clamp=conv_clamp)
    self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False,
                            down=2)

  def forward(self, x, img):
    if self.in_channels == 0:
      x = self.fromrgb(img)
    y = self.skip(x, gain=np.sqrt(0.5))
    x = self.conv0(x)
    x = self.conv1(x, gain=np.sqrt(0.5))
    return y.add_(x)


@persistent
class MinibatchStdLayer(torch.nn.Module):

  def __init__(self, group_size, num_channels=1):
    super().__init__()
    self.group_size, self.num_channels = group_size, num_channels

  def forward(self, x):
    n, c, h, w = x.shape
    g = min(self.group_size, n)
    f = self.num_channels
    y = x.reshape(g, -1, f, c // f, h, w)
    y = y - y.mean(dim=0)
    y = y.square().mean(dim=0)
    y = (y + 1e-8).sqrt()
    y = y.mean(dim=[2, 3, 4])
    y = y.reshape(-1, f, 1, 1)
    y = y.repeat(g, 1, h, w)
    return torch.cat([x, y], dim=1)


@persistent
class DiscriminatorEpilogue(torch.nn.Module):

  def __init__(self, in_channels, cmap_dim, resolution, conv_clamp=None):
    super().__init__()
    self.cmap_dim = cmap_dim
    self.mbstd = MinibatchStdLayer(4, 1)
    self.conv = Conv2dLayer(in_channels + 1, in_channels, 3,
                            activation='lrelu', conv_clamp=conv_clamp)
    self.fc = FullyConnectedLayer(in_channels * resolution ** 2, in_channels,
                                  activation='lrelu')
    self.out = FullyConnectedLayer(in_channels,
                                   1 if cmap_dim == 0 else cmap_dim)

  def forward(self, x, cmap):
    x = self.out(self.fc(self.conv(self.mbstd(x)).flatten(1)))
    if self.cmap_dim > 0:
      x = (x * cmap).sum(dim=1, keepdim=True) * (1 / np.sqrt(self.cmap_dim))
    return x


@persistent
class Discriminator(torch.nn.Module):

  def __init__(self, c_dim, img_resolution, img_channels, channel_base=32768,
               channel_max=512, conv_clamp=None, mapping_kwargs=None):
    super().__init__()
    self.c_dim = c_dim
    log2 = int(np.log2(img_resolution))
    self.block_resolutions = [2 ** i for i in range(log2, 2, -1)]
    ch = {r: min(channel_base // r, channel_max)
          for r in self.block_resolutions + [4]}
    cmap_dim = ch[4] if c_dim > 0 else 0
    for res in self.block_resolutions:
      setattr(self, f'b{res}', DiscriminatorBlock(
          ch[res] if res < img_resolution else 0, ch[res], ch[res // 2],
          img_channels, conv_clamp=conv_clamp))
    if c_dim > 0:
      self.mapping = MappingNetwork(0, c_dim, cmap_dim, None,
                                    w_avg_beta=None,
                                    **(mapping_kwargs or {}))
    self.b4 = DiscriminatorEpilogue(ch[4], cmap_dim, 4, conv_clamp=conv_clamp)

  def forward(self, img, c):
    x = None
    for res in self.block_resolutions:
      x = getattr(self, f'b{res}')(x, img)
    cmap = self.mapping(None, c) if self.c_dim > 0 else None
    return self.b4(x, cmap)


# ---------------------------------------------------------------------------
# Helpers.

RES, Z, CB, CM, CLAMP = 16, 32, 256, 32, 1.0


def _randomize(module, seed):
  gen = torch.Generator().manual_seed(seed)
  with torch.no_grad():
    for name, p in module.named_parameters():
      if name.endswith('bias') or name.endswith('noise_strength'):
        p.add_(0.3 * torch.randn(p.shape, generator=gen))
    for name, b in module.named_buffers():
      if name.endswith('w_avg'):
        b.copy_(torch.randn(b.shape, generator=gen))
  return module.eval().requires_grad_(False)


def _make_g(seed=0):
  torch.manual_seed(seed)
  # [ada] train.py: construct_class_by_name(**G_kwargs, **common_kwargs).
  g = Generator(z_dim=Z, w_dim=Z, c_dim=0, img_resolution=RES,
                img_channels=3, mapping_kwargs=EasyDict(num_layers=4),
                synthesis_kwargs=EasyDict(channel_base=CB, channel_max=CM,
                                          conv_clamp=CLAMP))
  return _randomize(g, seed + 1)


def _make_d(seed=0, c_dim=3):
  torch.manual_seed(seed)
  d = Discriminator(c_dim=c_dim, img_resolution=RES, img_channels=3,
                    channel_base=CB, channel_max=CM,
                    conv_clamp=CLAMP, mapping_kwargs=EasyDict(num_layers=2))
  return _randomize(d, seed + 1)


def _state(module):
  return {'params': {k: v.numpy() for k, v in module.named_parameters()},
          'buffers': {k: v.numpy() for k, v in module.named_buffers()}}


def _rel(a, b):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _nchw(x):
  return np.transpose(np.asarray(x), (0, 3, 1, 2))


_GEN = stylegan2.Generator(z_dim=Z, w_dim=Z, img_resolution=RES,
                           mapping_layers=4, channel_base=CB, channel_max=CM,
                           conv_clamp=CLAMP)


@jax.jit
def _g_apply(variables, z):
  ws = _GEN.apply(variables, z, None, 0.7, 4, method='map')
  ws1 = _GEN.apply(variables, z, method='map')
  img = _GEN.apply(variables, ws1, 'const', method='synthesize')
  return ws, img


# ---------------------------------------------------------------------------
# Tests.


def test_upfirdn2d_matches_reference_with_asymmetric_filter():
  x = np.random.RandomState(0).randn(2, 3, 7, 6).astype(np.float32)
  taps = [1.0, 2.0, 4.0]
  f = torch.tensor(taps).ger(torch.tensor(taps))
  f = f / f.sum()
  for up, down, pad in [(2, 1, (2, 1, 1, 2)), (1, 2, (1, 1, 0, 2)),
                        (2, 2, (-1, 2, 0, 0))]:
    want = upfirdn2d_ref(torch.from_numpy(x), f, up=up, down=down,
                         padding=list(pad), gain=up * up)
    got = stylegan2.upfirdn2d(jnp.asarray(np.transpose(x, (0, 2, 3, 1))),
                              taps, up=up, down=down, padding=pad,
                              gain=up * up)
    assert got.shape == (2,) + tuple(want.shape[2:]) + (3,)
    assert _rel(_nchw(got), want.numpy()) < 1e-5


def test_generator_mapping_and_synthesis_parity():
  g = _make_g()
  z = torch.randn(3, Z, generator=torch.Generator().manual_seed(5))
  with torch.no_grad():
    want_ws = g.mapping(z, None, truncation_psi=0.7, truncation_cutoff=4)
    want_img = g.synthesis(g.mapping(z, None))
  variables = stylegan2_pkl.generator_variables(_state(g))
  ws, img = _g_apply(variables, jnp.asarray(z.numpy()))
  assert ws.shape == (3, g.num_ws, Z) and img.shape == (3, RES, RES, 3)
  assert _rel(ws, want_ws.numpy()) < 1e-4
  assert _rel(_nchw(img), want_img.numpy()) < 1e-4


def test_discriminator_parity():
  d = _make_d()
  rng = torch.Generator().manual_seed(7)
  img = torch.randn(8, 3, RES, RES, generator=rng)
  c = torch.randn(8, 3, generator=rng)
  with torch.no_grad():
    want = d(img, c)
  disc = stylegan2.Discriminator(c_dim=3, img_resolution=RES,
                                 channel_base=CB, channel_max=CM,
                                 conv_clamp=CLAMP, mapping_layers=2)
  got = jax.jit(disc.apply)(
      stylegan2_pkl.discriminator_variables(_state(d)),
      jnp.asarray(np.transpose(img.numpy(), (0, 2, 3, 1))),
      jnp.asarray(c.numpy()))
  assert got.shape == (8, 1)
  assert _rel(got, want.numpy()) < 1e-4


def test_w_avg_update_and_noise_modes():
  mapping = stylegan2.MappingNetwork(z_dim=8, w_dim=8, num_ws=2,
                                     num_layers=2)
  z = jax.random.normal(jax.random.PRNGKey(1), (4, 8))
  variables = mapping.init(jax.random.PRNGKey(0), z)
  variables = {**variables, 'buffers': {'w_avg': jnp.ones(8)}}
  ws, state = mapping.apply(variables, z, update_w_avg=True,
                            mutable=['buffers'])
  mean = ws[:, 0].mean(axis=0)  # [ada]: w_avg = lerp(mean, w_avg, 0.995).
  np.testing.assert_allclose(state['buffers']['w_avg'],
                             mean + 0.995 * (1.0 - mean), rtol=1e-6)
  for mode in ('random', 'none'):
    out = jax.eval_shape(
        lambda m=mode: _GEN.init_with_output(
            {'params': jax.random.PRNGKey(0), 'noise': jax.random.PRNGKey(1)},
            jnp.zeros((2, Z)), noise_mode=m)[0])
    assert out.shape == (2, RES, RES, 3)


def test_flax_init_tree_matches_official_names():
  g = _make_g()
  shapes = jax.eval_shape(
      lambda: _GEN.init({'params': jax.random.PRNGKey(0)},
                        jnp.zeros((1, Z))))
  flat = {'.'.join(k.key for k in path): v.shape for path, v in
          jax.tree_util.tree_flatten_with_path(shapes['params'])[0]}
  want = {k: tuple(v.shape) for k, v in g.named_parameters()}
  assert flat == want


def _write_snapshot(path, monkeypatch, **modules):
  with monkeypatch.context() as m:
    for name, mod in _fake_modules().items():
      m.setitem(sys.modules, name, mod)
    with open(path, 'wb') as f:
      pickle.dump(dict(training_set_kwargs=dict(resolution=RES, xflip=True),
                       **modules), f)


def test_snapshot_pkl_converts_and_generates_the_same_image(tmp_path,
                                                           monkeypatch):
  g, d = _make_g(seed=3), _make_d(seed=4, c_dim=0)
  path = tmp_path / 'network-snapshot-000000.pkl'
  _write_snapshot(path, monkeypatch, G=g, D=d, G_ema=g)
  assert 'torch_utils' not in sys.modules
  snap = stylegan2_pkl.load_snapshot(path)
  assert 'torch_utils' not in sys.modules  # Nothing imported or executed.
  assert snap['training_set_kwargs'] == {'resolution': RES, 'xflip': True}
  part = snap['G_ema']
  assert part['class_name'] == 'Generator'
  assert part['init_kwargs']['synthesis_kwargs']['channel_base'] == CB
  assert snap['D']['class_name'] == 'Discriminator'
  assert set(snap['D']['params']) == {k for k, _ in d.named_parameters()}
  gen, variables = stylegan2_pkl.generator_from_snapshot(part)
  assert gen == _GEN
  z = torch.randn(2, Z, generator=torch.Generator().manual_seed(9))
  with torch.no_grad():
    want = g(z, None)
  _, img = _g_apply(variables, jnp.asarray(z.numpy()))
  assert _rel(_nchw(img), want.numpy()) < 1e-4


class _Trap:

  def __init__(self, func, arg):
    self.func, self.arg = func, arg

  def __reduce__(self):
    return (self.func, (self.arg,))


@pytest.mark.parametrize('how', ['os.system', 'eval', 'nested'])
def test_booby_trapped_pkl_is_refused(tmp_path, monkeypatch, how):
  sentinel = tmp_path / 'pwned'
  cmd = f'touch {sentinel}'
  path = tmp_path / 'evil.pkl'
  if how == 'os.system':
    payload = {'G_ema': _Trap(os.system, cmd)}
  elif how == 'eval':
    payload = {'G_ema': _Trap(eval, f'open({str(sentinel)!r}, "w")')}
  else:  # A trap hidden in a module's state, after real tensors.
    layer = FullyConnectedLayer(2, 2)
    layer.hook = _Trap(os.system, cmd)
    payload = {'G_ema': layer}
  with monkeypatch.context() as m:
    for name, mod in _fake_modules().items():
      m.setitem(sys.modules, name, mod)
    with open(path, 'wb') as f:
      pickle.dump(payload, f)
  with pytest.raises(stylegan2_pkl.UnsafePickleError,
                     match='refused: not a tensor or a StyleGAN2 module'):
    stylegan2_pkl.load_snapshot(path)
  assert not sentinel.exists()


_OFFICIAL_SCRIPT = r'''
import copy, pickle, sys, numpy as np, torch
sys.path.insert(0, sys.argv[1])
import dnnlib
from training import networks
torch.manual_seed(0)
common = dict(c_dim=0, img_resolution=32, img_channels=3)
G = networks.Generator(z_dim=32, w_dim=32, **common,
    mapping_kwargs=dnnlib.EasyDict(num_layers=8),
    synthesis_kwargs=dnnlib.EasyDict(channel_base=256, channel_max=32,
                                     conv_clamp=256, num_fp16_res=0))
D = networks.Discriminator(**common, channel_base=256, channel_max=32,
                           conv_clamp=256, num_fp16_res=0)
with torch.no_grad():
  for m in (G, D):
    for n, p in m.named_parameters():
      if n.endswith('bias') or n.endswith('noise_strength'):
        p.add_(0.3 * torch.randn(p.shape))
  G.mapping.w_avg.copy_(torch.randn(32))
G, D = [copy.deepcopy(m).eval().requires_grad_(False) for m in (G, D)]
with open(sys.argv[2] + '.pkl', 'wb') as f:
  pickle.dump(dict(training_set_kwargs={}, G=G, D=D, G_ema=G,
                   augment_pipe=None), f)
z, img = torch.randn(4, 32), torch.randn(8, 3, 32, 32)
with torch.no_grad():
  np.savez(sys.argv[2] + '.npz', z=z.numpy(), img=G(z, None,
           noise_mode='const').numpy(), dimg=img.numpy(),
           dout=D(img, None).numpy())
'''


@pytest.mark.slow
def test_official_code_parity(tmp_path):
  """NVIDIA's own networks.py + persistence, if a checkout is given."""
  src = os.environ.get('STYLEGAN2_ADA_PYTORCH', '')
  if not os.path.isfile(os.path.join(src, 'training', 'networks.py')):
    pytest.skip('set $STYLEGAN2_ADA_PYTORCH to a stylegan2-ada-pytorch '
                'checkout to compare with the official code')
  import subprocess  # pylint: disable=g-import-not-at-top
  out = str(tmp_path / 'official')
  subprocess.run([sys.executable, '-c', _OFFICIAL_SCRIPT, src, out],
                 check=True)
  snap = stylegan2_pkl.load_snapshot(out + '.pkl')
  ref = np.load(out + '.npz')
  gen, variables = stylegan2_pkl.generator_from_snapshot(snap['G_ema'])
  img = gen.apply(variables, jnp.asarray(ref['z']), noise_mode='const')
  assert _rel(_nchw(img), ref['img']) < 1e-4
  dk = snap['D']['init_kwargs']
  disc = stylegan2.Discriminator(
      img_resolution=32, channel_base=dk['channel_base'],
      channel_max=dk['channel_max'], conv_clamp=dk['conv_clamp'])
  got = disc.apply(stylegan2_pkl.discriminator_variables(snap['D']),
                   jnp.asarray(np.transpose(ref['dimg'], (0, 2, 3, 1))))
  assert _rel(got, ref['dout']) < 1e-4
