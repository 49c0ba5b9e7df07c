"""The animejax generator-weights file: one msgpack file per generator.

Written by `animejax.convert` (official weights), `animejax.export`/training
(from a workdir) and read by `cartoonize`, `export` and
`config.generator.init_from`. It holds everything needed to rebuild the model:

  {'format': 'animejax-generator', 'version': 1,
   'arch': 'animeganv2', 'model_kwargs': {...}, 'params': {...},
   'meta': {... free-form: source file, style, licence note ...}}
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import flax.serialization
import jax
import numpy as np

FORMAT = 'animejax-generator'
VERSION = 1


@dataclasses.dataclass
class GeneratorWeights:
  arch: str
  model_kwargs: dict[str, Any]
  params: Any
  meta: dict[str, Any] = dataclasses.field(default_factory=dict)


def save(path: str, weights: GeneratorWeights) -> None:
  """Writes `weights` atomically (temp file + rename) to `path`."""
  payload = {
      'format': FORMAT,
      'version': VERSION,
      'arch': weights.arch,
      'model_kwargs': dict(weights.model_kwargs),
      'params': jax.tree.map(np.asarray, weights.params),
      'meta': dict(weights.meta),
  }
  data = flax.serialization.msgpack_serialize(payload)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f'{path}.tmp{os.getpid()}'
  with open(tmp, 'wb') as f:
    f.write(data)
  os.replace(tmp, path)


def load(path: str) -> GeneratorWeights:
  """Reads a weights file written by `save`, with clear errors."""
  if not os.path.isfile(path):
    raise FileNotFoundError(
        f'No weights file at {path!r}. Pass a file written by '
        '`python -m animejax.convert` or a training workdir.')
  with open(path, 'rb') as f:
    raw = f.read()
  try:
    payload = flax.serialization.msgpack_restore(raw)
  except Exception as e:  # msgpack raises several unrelated types
    raise ValueError(
        f'{path!r} is not an animejax weights file (msgpack could not read '
        f'it: {e}). Official AnimeGAN files must be converted first with '
        '`python -m animejax.convert --from FILE --out W`.') from e
  if not isinstance(payload, dict) or payload.get('format') != FORMAT:
    raise ValueError(
        f'{path!r} is a msgpack file but not an animejax generator file '
        f'(format={payload.get("format") if isinstance(payload, dict) else None!r}).')
  if payload.get('version', 0) > VERSION:
    raise ValueError(f'{path!r} has version {payload["version"]}; this '
                     f'animejax reads up to {VERSION}. Upgrade animejax.')
  return GeneratorWeights(
      arch=payload['arch'],
      model_kwargs=dict(payload.get('model_kwargs') or {}),
      params=payload['params'],
      meta=dict(payload.get('meta') or {}))
