"""Reads conv weights out of an .onnx model (tf2onnx exports of AnimeGAN).

Conv nodes are taken in graph order with their weight/bias initializers
(OIHW -> HWIO). Batch norm is usually folded into the conv by tf2onnx
(`Conv2D_weights_fused_bn`), which is what the tiny AnimeGANv3 models need.
"""

from __future__ import annotations

import os

import numpy as np

from animejax.convert.tflite_reader import ConvLayer


def load(path: str):
  if not os.path.isfile(path):
    raise FileNotFoundError(f'No .onnx file at {path!r}.')
  import onnx  # pylint: disable=g-import-not-at-top
  try:
    return onnx.load(path)
  except Exception as e:  # onnx raises DecodeError and others
    raise ValueError(f'{path!r} is not a readable ONNX model: {e}') from e


def conv_layers(model, source: str) -> list[ConvLayer]:
  """Conv nodes' weights in graph order."""
  from onnx import numpy_helper  # pylint: disable=g-import-not-at-top
  inits = {i.name: i for i in model.graph.initializer}
  consts = {n.output[0]: n for n in model.graph.node if n.op_type == 'Constant'}

  def value(name):
    if name in inits:
      return numpy_helper.to_array(inits[name]).astype(np.float32)
    if name in consts:
      t = next(a.t for a in consts[name].attribute if a.name == 'value')
      return numpy_helper.to_array(t).astype(np.float32)
    raise ValueError(f'{source}: conv weight {name!r} is not a constant; '
                     'only models with constant weights can be converted.')

  out = []
  for node in model.graph.node:
    if node.op_type != 'Conv':
      continue
    group = next((a.i for a in node.attribute if a.name == 'group'), 1)
    w = value(node.input[1])  # OIHW
    if group != 1 and group != w.shape[0]:
      raise ValueError(f'{source}: grouped conv {node.name!r} (group={group})'
                       ' is not supported.')
    b = value(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    kernel = np.transpose(w, (2, 3, 1, 0))  # -> HWIO (depthwise: HW1C)
    out.append(ConvLayer(node.name or node.input[1],
                         np.ascontiguousarray(kernel), b, group != 1))
  return out


def scalar_initializer(model, suffix: str) -> float | None:
  """Value of the first scalar constant whose name ends with `suffix`."""
  from onnx import numpy_helper  # pylint: disable=g-import-not-at-top
  for i in model.graph.initializer:
    if i.name.endswith(suffix):
      v = numpy_helper.to_array(i)
      if v.size == 1:
        return float(v.reshape(-1)[0])
  return None


def run(path: str, x: np.ndarray) -> np.ndarray:
  """Runs the model with onnxruntime (reference)."""
  import onnxruntime as ort  # pylint: disable=g-import-not-at-top
  sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
  name = sess.get_inputs()[0].name
  return sess.run(None, {name: np.asarray(x, np.float32)})[0]
