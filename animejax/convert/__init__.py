"""Official AnimeGANv2/v3 weights -> animejax weights files.

Formats (detected from the extension, then the content):
  .pb       frozen TensorFlow graph (AnimeGANv3 releases)     tf_graph.py
  .tflite   TFLite, float/fp16/int8 (v3 releases, PINTO v2)    tflite_reader.py
  .onnx     ONNX (v3 releases, tiny portrait models)           onnx_reader.py
  TF1 ckpt  `generator_<Style>_weight/` (AnimeGANv2 releases)  tf1_checkpoint.py
  .pt/.pth  bryandlee/animegan2-pytorch state dicts            pytorch_v2.py
  .pt       znxlwm/UGATIT-pytorch checkpoints (arch 'ugatit')  ugatit.py

Usage:
  from animejax import convert, weights_io
  w = convert.convert('AnimeGANv3_Shinkai_37.pb')     # GeneratorWeights
  weights_io.save('shinkai.msgpack', w)

The licence of the official weights (non-commercial research, teaching and
publication) travels in `meta['licence']`.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from animejax import weights_io

FORMATS = ('pb', 'tflite', 'onnx', 'tf1', 'torch')
ARCHS = ('animeganv2', 'animeganv3', 'ugatit')
LICENCE = ('AnimeGAN/AnimeGANv2/AnimeGANv3 weights: the authors release them '
           'for non-commercial research, teaching and publication only.')


def detect_format(path: str) -> str:
  """Returns one of FORMATS for `path` (a file or a checkpoint folder)."""
  if os.path.isdir(path) or os.path.isfile(path + '.index'):
    return 'tf1'
  if not os.path.exists(path):
    raise FileNotFoundError(f'No such file or folder: {path!r}.')
  ext = os.path.splitext(path)[1].lower()
  by_ext = {'.pb': 'pb', '.tflite': 'tflite', '.onnx': 'onnx', '.pt': 'torch',
            '.pth': 'torch', '.index': 'tf1'}
  if ext in by_ext:
    return 'tf1' if ext == '.index' else by_ext[ext]
  with open(path, 'rb') as f:
    head = f.read(64)
  if head[4:8] == b'TFL3':
    return 'tflite'
  if head[:2] == b'PK' or head[:2] == b'\x80\x02':
    return 'torch'  # zip (torch >= 1.6) or legacy pickle
  if os.path.getsize(path) and head[:1] == b'\x08':
    return 'onnx'   # ModelProto starts with field 1 (ir_version, varint)
  if head[:1] == b'\n':
    return 'pb'     # GraphDef starts with field 1 (node, length-delimited)
  raise ValueError(
      f'Cannot tell the format of {path!r}. Pass --format with one of '
      f'{FORMATS} (supported: .pb, .tflite, .onnx, .pt/.pth, TF1 checkpoint '
      'folders).')


def _v3_pb(path: str):
  from animejax.convert import tf_graph, v3_layers  # pylint: disable=g-import-not-at-top
  layers, bn, lade_eps, attn_eps = tf_graph.v3_layers(
      tf_graph.read_constants(path), path)
  return v3_layers.v3_from_layers(layers, path, bn=bn, lade_eps=lade_eps,
                                  attention_eps=attn_eps)


def _flushed(eps: float | None) -> float | None:
  # fp16 exports flush the LADE eps 1e-5 (an fp16 subnormal) and the
  # attention eps 1e-9 to 0; keep the official values, which avoid 0/0 on
  # flat feature maps (the difference to the runtime is ~80 dB PSNR).
  return None if eps is None or eps == 0 else eps


def _v3_tflite(path: str):
  from animejax.convert import tflite_reader, v3_layers  # pylint: disable=g-import-not-at-top
  model = tflite_reader.TfliteModel(path)
  by_name = {model.tensor_name(i): i for i in model.details}
  def eps(suffix):
    hits = [i for n, i in by_name.items() if n.endswith(suffix)]
    return model.scalar(hits[0]) if hits else None
  return v3_layers.v3_from_layers(
      model.conv_layers(), path, lade_eps=_flushed(eps('base/add/y')),
      attention_eps=_flushed(eps('External_attention/add/x')))


def _v3_onnx(path: str):
  from animejax.convert import onnx_reader, v3_layers  # pylint: disable=g-import-not-at-top
  model = onnx_reader.load(path)
  return v3_layers.v3_from_layers(onnx_reader.conv_layers(model, path), path)


def _v2(path: str, fmt: str):
  from animejax.convert import v2_layers  # pylint: disable=g-import-not-at-top
  return v2_layers.convert(path, fmt)


def guess_arch(path: str, fmt: str) -> str:
  """'ugatit' for U-GAT-IT checkpoints, 'animeganv3' for v3 exports, else
  'animeganv2' (by content/names/format)."""
  name = os.path.basename(path.rstrip('/')).lower()
  if fmt == 'torch':
    from animejax.convert import ugatit  # pylint: disable=g-import-not-at-top
    if ugatit.looks_like_checkpoint(path):
      return 'ugatit'
  if 'v3' in name:
    return 'animeganv3'
  if fmt in ('tf1', 'torch') or 'v2' in name:
    return 'animeganv2'
  if fmt == 'pb':
    from animejax.convert import tf_graph  # pylint: disable=g-import-not-at-top
    consts = tf_graph.read_constants(path)
    return ('animeganv3' if any(k.startswith('base/') for k in consts)
            else 'animeganv2')
  if fmt == 'tflite':
    from animejax.convert import tflite_reader  # pylint: disable=g-import-not-at-top
    m = tflite_reader.TfliteModel(path)
    names = [m.tensor_name(i) for i in m.details]
    return ('animeganv2' if any('G_MODEL' in n for n in names)
            else 'animeganv3')
  return 'animeganv3'


def convert(path: str, arch: str | None = None, fmt: str = 'auto',
            meta: dict[str, Any] | None = None) -> weights_io.GeneratorWeights:
  """Converts an official weights file to GeneratorWeights."""
  fmt = detect_format(path) if fmt in (None, '', 'auto') else fmt
  if fmt not in FORMATS:
    raise ValueError(f'Unknown format {fmt!r}; use one of {FORMATS}.')
  arch = arch or guess_arch(path, fmt)
  if arch not in ARCHS:
    raise ValueError(f'Unknown arch {arch!r}; use one of {ARCHS}.')
  if arch == 'ugatit':
    if fmt != 'torch':
      raise ValueError(
          f'U-GAT-IT from {fmt!r} files is not supported: pass an official '
          'znxlwm/UGATIT-pytorch <dataset>_params_<step>.pt checkpoint (the '
          'TF1 taki0112/UGATIT layout is not converted).')
    from animejax.convert import ugatit  # pylint: disable=g-import-not-at-top
    w = ugatit.convert_file(path)
    w.meta.update(meta or {})
    return w
  if arch == 'animeganv3':
    fns = {'pb': _v3_pb, 'tflite': _v3_tflite, 'onnx': _v3_onnx}
    if fmt not in fns:
      raise ValueError(f'AnimeGANv3 from {fmt!r} files is not supported '
                       '(use the released .pb, .onnx or .tflite).')
    kwargs, params = fns[fmt](path)
  else:
    kwargs, params = _v2(path, fmt)
  info = {'source': os.path.abspath(path), 'format': fmt, 'licence': LICENCE,
          'num_params': int(sum(np.size(v) for v in _leaves(params)))}
  info.update(meta or {})
  return weights_io.GeneratorWeights(arch, kwargs, params, info)


def _leaves(tree):
  if isinstance(tree, dict):
    for v in tree.values():
      yield from _leaves(v)
  else:
    yield tree
