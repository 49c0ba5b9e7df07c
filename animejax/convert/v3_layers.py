"""Maps an ordered list of AnimeGANv3 conv layers onto AnimeGANv3Generator.

Every reader (.pb, .tflite, .onnx) yields the graph's convs in execution
order, which for the released graphs is the order of the official variable
names (generator/base/Conv, Conv_1, ..., main/Conv_12; see
animejax/models/animeganv3.py for the architecture):

  full (30 layers; exports that keep both attention conv1d give 31):
    base/Conv_{2i}, base/Conv_{2i+1}  -> enc{i}/conv, enc{i}/lade   i < 7
    External_attention/Conv           -> attention/proj_in
    External_attention/kernel         -> attention/memory   [C, 128]
    (conv1d_1: the memory transposed, checked and dropped)
    External_attention/Conv_1         -> attention/proj_out (+ BN)
    main/Conv_{2i}, main/Conv_{2i+1}  -> dec{i}/conv, dec{i}/lade   i < 6
    main/Conv_12                      -> out_conv
  tiny (28 layers, batch norm folded into conv biases):
    base/Conv_0..8 -> enc0..8; base/Conv_9..11 -> res0 reduce/conv/expand;
    base/Conv_12..14 -> res1; main/Conv_0..9 -> dec0..9;
    main/Conv_10, main/Conv_11 -> dec10 conv/lade; main/Conv_12 -> out_conv.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from animejax.convert.tflite_reader import ConvLayer


def _full_paths() -> list[tuple[str, ...]]:
  paths = []
  for i in range(7):
    paths += [(f'enc{i}', 'conv'), (f'enc{i}', 'lade')]
  paths += [('attention', 'proj_in'), ('attention', 'memory'),
            ('attention', 'proj_out')]
  for i in range(6):
    paths += [(f'dec{i}', 'conv'), (f'dec{i}', 'lade')]
  return paths + [('out_conv',)]


def _tiny_paths() -> list[tuple[str, ...]]:
  paths = [(f'enc{i}', 'conv') for i in range(9)]
  for r in range(2):
    paths += [(f'res{r}_reduce', 'conv'), (f'res{r}_conv', 'conv'),
              (f'res{r}_expand',)]
  paths += [(f'dec{i}', 'conv') for i in range(10)]
  return paths + [('dec10', 'conv'), ('dec10', 'lade'), ('out_conv',)]


FULL_PATHS = _full_paths()
TINY_PATHS = _tiny_paths()


def _drop_transposed_memory(layers: list[ConvLayer], source: str
                            ) -> list[ConvLayer]:
  """Exports that keep conv1d_1 (memory^T as a 1x1 conv) list it after
  the memory; it carries no new weights."""
  if len(layers) != len(FULL_PATHS) + 1:
    return layers
  mem, mem_t = layers[15].kernel, layers[16].kernel
  if mem.shape[:2] != (1, 1) or mem_t.shape != (1, 1) + mem.shape[2:][::-1]:
    raise ValueError(f'{source}: layers 15/16 should be the attention memory '
                     f'and its transpose; got {mem.shape} and {mem_t.shape}.')
  if not np.allclose(mem[0, 0], mem_t[0, 0].T, atol=1e-3 * np.abs(mem).max()):
    raise ValueError(f'{source}: attention conv1d_1 is not the transposed '
                     'memory; unknown AnimeGANv3 variant.')
  return layers[:16] + layers[17:]


def v3_from_layers(layers: Sequence[ConvLayer], source: str,
                   bn: dict[str, np.ndarray] | None = None,
                   lade_eps: float | None = None,
                   attention_eps: float | None = None,
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
  """Returns (model_kwargs, params) for AnimeGANv3Generator.

  `bn`: attention batch-norm {'scale','bias','mean','var'}; when None, a
  bias on the attention's output conv (BN folded at export) becomes the BN
  bias with an identity transform.
  """
  from animejax.models.animeganv3 import AnimeGANv3Generator  # pylint: disable=g-import-not-at-top
  layers = list(layers)
  if len(layers) in (len(FULL_PATHS), len(FULL_PATHS) + 1):
    variant, paths, base = 'full', FULL_PATHS, 32
    layers = _drop_transposed_memory(layers, source)
  elif len(layers) == len(TINY_PATHS):
    variant, paths, base = 'tiny', TINY_PATHS, 16
  else:
    raise ValueError(
        f'{source}: found {len(layers)} conv layers; an AnimeGANv3 graph has '
        f'{len(FULL_PATHS)} (full, or {len(FULL_PATHS) + 1} with both '
        f'attention conv1d) or {len(TINY_PATHS)} (tiny). Is this an '
        'AnimeGANv3 generator? (use --arch animeganv2 for v2 files)')
  width = layers[0].kernel.shape[-1] / base
  kwargs: dict[str, Any] = {'variant': variant, 'width': float(width)}
  if lade_eps is not None:
    kwargs['lade_eps'] = float(lade_eps)
  if attention_eps is not None:
    kwargs['attention_eps'] = float(attention_eps)
  model = AnimeGANv3Generator(**kwargs)
  m = AnimeGANv3Generator.size_multiple
  shapes = jax.eval_shape(model.init, jax.random.key(0),
                          jnp.zeros((1, 2 * m, 2 * m, 3)))['params']
  params: dict[str, Any] = jax.tree.map(lambda s: None, shapes)

  def put(path, leaf, value):
    node = params
    for p in path[:-1]:
      node = node[p]
    want = shapes
    for p in path:
      want = want[p]
    if tuple(want.shape) != tuple(value.shape):
      raise ValueError(
          f'{source}: layer {layer.name!r} -> {"/".join(path)} has shape '
          f'{value.shape}, the model wants {tuple(want.shape)} '
          f'({variant}, width {width:g}).')
    node[path[-1]] = np.asarray(value, np.float32)

  for layer, path in zip(layers, paths):
    node = shapes
    for p in path:
      node = node[p]
    if path[-1] == 'memory':
      put(path, 'memory', layer.kernel.reshape(layer.kernel.shape[-2:]))
      continue
    put(path + ('kernel',), 'kernel', layer.kernel)
    has_bias = 'bias' in node
    b = layer.bias
    if has_bias:
      put(path + ('bias',), 'bias',
          b if b is not None else np.zeros(layer.kernel.shape[-1], np.float32))
    elif path == ('attention', 'proj_out') and bn is None:
      c = layer.kernel.shape[-1]
      bn_eps = model.bn_eps
      bn = {'scale': np.ones(c, np.float32),
            'bias': np.zeros(c, np.float32) if b is None else b,
            'mean': np.zeros(c, np.float32),
            # var + eps == 1 makes the folded BN an identity.
            'var': np.full(c, 1.0 - bn_eps, np.float32)}
    elif b is not None and np.any(b != 0):
      raise ValueError(
          f'{source}: layer {layer.name!r} -> {"/".join(path)} has a non-zero '
          'bias that this AnimeGANv3 layer does not have.')
  if variant == 'full':
    if bn is None:
      raise ValueError(f'{source}: attention batch-norm statistics missing.')
    for k, v in bn.items():
      put(('attention', k), k, np.asarray(v, np.float32))
  missing = [jax.tree_util.keystr(p) for p, v in
             jax.tree_util.tree_leaves_with_path(
                 params, is_leaf=lambda x: x is None) if v is None]
  if missing:
    raise ValueError(f'{source}: no weights for {missing}.')
  return kwargs, params
