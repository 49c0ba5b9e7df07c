"""Frozen TensorFlow graphs (.pb): constants by name, and a TF runner.

A frozen graph stores every variable as a Const node under its variable
name (e.g. `generator/base/Conv/weights` in AnimeGANv3). `read_constants`
returns them with the leading model scope (`generator`, `generator_1`)
stripped, so the official variable names can be looked up directly.
"""

from __future__ import annotations

import os
import re

import numpy as np

from animejax.convert.tflite_reader import ConvLayer


def _graph_def(path: str):
  if not os.path.isfile(path):
    raise FileNotFoundError(f'No frozen graph at {path!r}.')
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  graph_def = tf.compat.v1.GraphDef()
  with open(path, 'rb') as f:
    data = f.read()
  try:
    graph_def.ParseFromString(data)
  except Exception as e:  # protobuf raises DecodeError and others
    raise ValueError(f'{path!r} is not a TensorFlow GraphDef (.pb): {e}') from e
  if not graph_def.node:
    raise ValueError(f'{path!r} parsed as an empty GraphDef; not a frozen '
                     'TensorFlow graph.')
  return graph_def


def read_constants(path: str) -> dict[str, np.ndarray]:
  """{name without its first scope: float32/int value} of all Const nodes."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  out = {}
  for node in _graph_def(path).node:
    if node.op != 'Const':
      continue
    value = tf.make_ndarray(node.attr['value'].tensor)
    out[node.name.split('/', 1)[-1]] = value
  return out


def run_graph(path: str, x: np.ndarray, input_name: str | None = None,
              output_name: str | None = None) -> np.ndarray:
  """Runs the frozen graph on `x` with tf.compat.v1.Session (reference)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  graph_def = _graph_def(path)
  placeholders = [n.name for n in graph_def.node if n.op == 'Placeholder']
  input_name = input_name or placeholders[0]
  if output_name is None:
    consumed = {i.split(':')[0].lstrip('^') for n in graph_def.node
                for i in n.input}
    sinks = [n.name for n in graph_def.node
             if n.name not in consumed and n.op not in ('Const', 'NoOp')]
    output_name = sinks[-1]
  with tf.Graph().as_default() as g:
    tf.compat.v1.import_graph_def(graph_def, name='')
    with tf.compat.v1.Session(graph=g) as sess:
      return sess.run(f'{output_name}:0', {f'{input_name}:0': x})


def _conv_index(name: str) -> int:
  m = re.search(r'Conv(?:_(\d+))?$', name)
  return int(m.group(1) or 0) if m else -1


def v3_layers(consts: dict[str, np.ndarray], source: str):
  """AnimeGANv3 layers in official order from frozen-graph constants.

  Returns (layers, bn, lade_eps, attention_eps); see convert/v3_layers.py.
  """
  def convs(scope):
    found = {}
    for k, v in consts.items():
      m = re.fullmatch(rf'{scope}/(Conv(?:_\d+)?)/weights', k)
      if m:
        found[_conv_index(m.group(1))] = (k, v)
    return [ConvLayer(found[i][0], found[i][1], None)
            for i in sorted(found)]

  base, main = convs('base'), convs('main')
  ea = 'main/External_attention'
  if not base or f'{ea}/kernel' not in consts:
    raise ValueError(
        f'{source}: no AnimeGANv3 variables (base/Conv/weights, '
        f'{ea}/kernel) in this graph. Is it an AnimeGANv3 generator?')
  mem = consts[f'{ea}/kernel']  # [1, C, K]
  attention = [
      ConvLayer(f'{ea}/Conv/weights', consts[f'{ea}/Conv/weights'], None),
      ConvLayer(f'{ea}/kernel', mem.reshape((1,) + mem.shape), None),
      ConvLayer(f'{ea}/Conv_1/weights', consts[f'{ea}/Conv_1/weights'], None)]
  layers = base + attention + main
  # [v3] tools/ops.py batch_norm_wrapper creates scale, beta, mean, var as
  # unnamed tf.Variable -> Variable, Variable_1, Variable_2, Variable_3.
  names = ('scale', 'bias', 'mean', 'var')
  suffixes = ('', '_1', '_2', '_3')
  bn = {n: consts[f'{ea}/Variable{s}'] for n, s in zip(names, suffixes)
        if f'{ea}/Variable{s}' in consts}
  if len(bn) != 4:
    raise ValueError(f'{source}: attention batch-norm variables '
                     f'{ea}/Variable..Variable_3 not all found.')
  lade_eps = consts.get('base/add/y')
  attn_eps = consts.get(f'{ea}/add/x')
  return (layers, bn, None if lade_eps is None else float(lade_eps),
          None if attn_eps is None else float(attn_eps))
