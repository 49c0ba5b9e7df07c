"""Model registry: generators and discriminators by name.

Entries are 'module:Class' strings resolved on first use, so a model module
that fails to import (or is still being written) only breaks that model.
`GENERATORS` / `DISCRIMINATORS` behave like dicts name -> Module class.

  from animejax import models
  gen = models.create_generator('animeganv2', width=0.5)
  gen = models.generator_from_config(config.generator, dtype=jnp.bfloat16)
"""

from __future__ import annotations

import collections.abc
import dataclasses
import importlib
from typing import Any, Iterator, Mapping

import jax.numpy as jnp

_GENERATOR_PATHS = {
    'animeganv2': 'animejax.models.animeganv2:AnimeGANv2Generator',
    'animeganv1': 'animejax.models.animeganv1:AnimeGANv1Generator',
    'cartoongan': 'animejax.models.cartoongan:CartoonGANGenerator',
    'animeganv3': 'animejax.models.animeganv3:AnimeGANv3Generator',
}
_DISCRIMINATOR_PATHS = {
    'animegan': 'animejax.models.discriminators:AnimeGANDiscriminator',
    'cartoongan': 'animejax.models.discriminators:CartoonGANDiscriminator',
}


class _LazyRegistry(collections.abc.Mapping):
  """Read-only mapping name -> class, importing each module on demand."""

  def __init__(self, kind: str, paths: Mapping[str, str]):
    self._kind = kind
    self._paths = dict(paths)
    self._cache: dict[str, type] = {}

  def __getitem__(self, name: str) -> type:
    if name not in self._paths:
      raise KeyError(name)
    if name not in self._cache:
      module_name, cls_name = self._paths[name].split(':')
      module = importlib.import_module(module_name)
      self._cache[name] = getattr(module, cls_name)
    return self._cache[name]

  def __iter__(self) -> Iterator[str]:
    return iter(self._paths)

  def __len__(self) -> int:
    return len(self._paths)

  def __repr__(self) -> str:
    return f'{self._kind}({sorted(self._paths)})'

  def get_class(self, name: str) -> type:
    """Like [] but a clear ValueError for unknown names."""
    if name not in self._paths:
      raise ValueError(f'Unknown {self._kind[:-1].lower()} {name!r}; known: '
                       f'{sorted(self._paths)}.')
    return self[name]


GENERATORS = _LazyRegistry('GENERATORS', _GENERATOR_PATHS)
DISCRIMINATORS = _LazyRegistry('DISCRIMINATORS', _DISCRIMINATOR_PATHS)


def _fields(cls: type) -> set[str]:
  return {f.name for f in dataclasses.fields(cls)}


def _pick(cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
  fields = _fields(cls)
  return {k: v for k, v in values.items() if k in fields}


def create_generator(name: str, **kwargs) -> Any:
  """Generator module `name` built with `kwargs` (its dataclass fields)."""
  return GENERATORS.get_class(name)(**kwargs)


def create_discriminator(name: str, **kwargs) -> Any:
  """Discriminator module `name` built with `kwargs`."""
  return DISCRIMINATORS.get_class(name)(**kwargs)


def generator_from_config(gcfg: Mapping[str, Any], dtype: Any = jnp.float32
                          ) -> Any:
  """Generator from `config.generator` (name, width, upsample, ...).

  Only keys the class declares are passed (e.g. v3 has no `upsample`).
  """
  cls = GENERATORS.get_class(gcfg['name'])
  keys = ('width', 'upsample')
  kwargs = _pick(cls, {k: gcfg[k] for k in keys if k in gcfg})
  kwargs.update(_pick(cls, {'dtype': dtype}))
  return cls(**kwargs)


def discriminator_from_config(dcfg: Mapping[str, Any],
                              dtype: Any = jnp.float32) -> Any:
  """Discriminator from `config.discriminator` (name, ch, n_dis, norm, sn)."""
  cls = DISCRIMINATORS.get_class(dcfg['name'])
  keys = ('ch', 'n_dis', 'norm', 'spectral_norm')
  kwargs = _pick(cls, {k: dcfg[k] for k in keys if k in dcfg})
  kwargs.update(_pick(cls, {'dtype': dtype}))
  return cls(**kwargs)
