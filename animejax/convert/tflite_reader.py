"""Reads weights out of a .tflite file with `tf.lite.Interpreter`.

Constant tensors are dequantized to float32: fp16 -> float32; int8/int32
with per-tensor or per-channel (scale, zero point) -> (q - zp) * scale.
A constant that reaches an op through a DEQUANTIZE op is followed back to
its source. Conv weights are OHWI in TFLite and returned as HWIO (depthwise
1HWC -> HW1C, the Flax grouped-conv layout).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np


@dataclasses.dataclass
class Op:
  index: int
  name: str            # builtin op name, e.g. 'CONV_2D'
  inputs: list[int]
  outputs: list[int]


@dataclasses.dataclass
class ConvLayer:
  """One conv of a graph, in execution order."""
  name: str                 # source tensor name (for messages)
  kernel: np.ndarray        # HWIO float32 (depthwise: H, W, 1, C)
  bias: np.ndarray | None   # [O] float32 or None
  depthwise: bool = False


class TfliteModel:
  """Ops, tensor names and dequantized constants of one .tflite file."""

  def __init__(self, path: str):
    if not os.path.isfile(path):
      raise FileNotFoundError(f'No .tflite file at {path!r}.')
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    try:
      # Without the default delegate (XNNPACK) the op list is the model's own.
      self.interpreter = tf.lite.Interpreter(
          model_path=path,
          experimental_op_resolver_type=(
              tf.lite.experimental.OpResolverType
              .BUILTIN_WITHOUT_DEFAULT_DELEGATES))
      self.interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as e:
      raise ValueError(f'{path!r} is not a readable TFLite model: {e}') from e
    self.path = path
    self.details = {d['index']: d
                    for d in self.interpreter.get_tensor_details()}
    self.ops = [Op(o['index'], o['op_name'], [int(i) for i in o['inputs']],
                   [int(i) for i in o['outputs']])
                for o in self.interpreter._get_ops_details()]  # pylint: disable=protected-access
    self.producer = {t: op for op in self.ops for t in op.outputs}

  def tensor_name(self, index: int) -> str:
    return self.details[index]['name']

  def is_constant(self, index: int) -> bool:
    index = self._source(index)
    return index >= 0 and index not in self.producer

  def _source(self, index: int) -> int:
    op = self.producer.get(index)
    while op is not None and op.name == 'DEQUANTIZE':
      index = op.inputs[0]
      op = self.producer.get(index)
    return index

  def constant(self, index: int) -> np.ndarray:
    """The float32 value of constant tensor `index` (dequantized)."""
    index = self._source(index)
    if index < 0 or index in self.producer:
      raise ValueError(f'{self.path}: tensor {index} is not a constant.')
    d = self.details[index]
    raw = self.interpreter.get_tensor(index)
    q = d['quantization_parameters']
    scales, zps = q['scales'], q['zero_points']
    if raw.dtype in (np.float32, np.float16, np.float64) or not len(scales):
      return np.asarray(raw, np.float32)
    shape = [1] * raw.ndim
    if len(scales) > 1:
      shape[q['quantized_dimension']] = len(scales)
    return ((raw.astype(np.float32) - zps.reshape(shape).astype(np.float32))
            * scales.reshape(shape).astype(np.float32))

  def scalar(self, index: int) -> float:
    return float(np.asarray(self.constant(index)).reshape(-1)[0])

  def conv_layers(self) -> list[ConvLayer]:
    """CONV_2D / DEPTHWISE_CONV_2D weights in execution order."""
    out = []
    for op in self.ops:
      if op.name not in ('CONV_2D', 'DEPTHWISE_CONV_2D'):
        continue
      w = self.constant(op.inputs[1])
      b = (self.constant(op.inputs[2])
           if len(op.inputs) > 2 and op.inputs[2] >= 0 else None)
      depthwise = op.name == 'DEPTHWISE_CONV_2D'
      # OHWI -> HWIO; depthwise weights are [1, H, W, C] -> [H, W, 1, C].
      kernel = (np.transpose(w, (1, 2, 0, 3)) if depthwise
                else np.transpose(w, (1, 2, 3, 0)))
      out.append(ConvLayer(self.tensor_name(self._source(op.inputs[1])),
                           np.ascontiguousarray(kernel), b, depthwise))
    return out

  def run(self, x: np.ndarray) -> np.ndarray:
    """Runs the model (first input/output) on float32 `x`."""
    it = self.interpreter
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    x = np.asarray(x, np.float32)
    if tuple(inp['shape']) != x.shape:
      it.resize_tensor_input(inp['index'], x.shape)
      it.allocate_tensors()
    it.set_tensor(inp['index'], x)
    it.invoke()
    return it.get_tensor(out['index']).copy()
