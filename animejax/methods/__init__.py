"""Training methods by name: `config.method` -> the module implementing it.

Each entry is a module path resolved with importlib on first use: nothing
registers itself on import, a method that fails to import breaks only
itself, and the table below is the whole list. A method module defines
`create(config) -> base.Method`.

  from animejax import methods
  method = methods.create(config)          # config.method names it
  methods.names()                          # every registered method

To add a method, see animejax/methods/README.md.
"""

from __future__ import annotations

import importlib
import types

import ml_collections

from animejax.methods.base import InputPipeline, Method, Schedule  # noqa: F401

_METHODS = {
    # AnimeGAN v1/v2 and CartoonGAN: init (content-only) phase, then GAN.
    'animegan': 'animejax.methods.animegan',
    # trVAE: conditional VAE with an MMD layer, label-conditioned transfer.
    'trvae': 'animejax.methods.trvae',
    # U-GAT-IT: two generators, four discriminators, one 'train' step kind.
    'ugatit': 'animejax.methods.ugatit',
    # SRResNet / SRGAN x4 super-resolution: MSE pretrain, then GAN.
    'srgan': 'animejax.methods.srgan',
    # Faces from noise: anime-image-development DCGAN; MakeGirlsMoe DRAGAN.
    'dcgan': 'animejax.methods.dcgan',
    'dragan': 'animejax.methods.dragan',
    # StyleGAN2 (stylegan2-ada-pytorch recipe): lazy R1 / path-length kinds.
    'stylegan2': 'animejax.methods.stylegan2',
}


def names() -> tuple[str, ...]:
  """Every registered method name."""
  return tuple(_METHODS)


def module(name: str) -> types.ModuleType:
  """The module of method `name`; ValueError listing the known names."""
  if name not in _METHODS:
    import difflib  # pylint: disable=g-import-not-at-top
    close = difflib.get_close_matches(str(name), list(_METHODS), n=1)
    hint = f' Did you mean {close[0]!r}?' if close else ''
    raise ValueError(f'config.method={name!r} is not a known method; known: '
                     f'{sorted(_METHODS)}.{hint}')
  return importlib.import_module(_METHODS[name])


def create(config: ml_collections.ConfigDict) -> Method:
  """The method that config.method names, built for `config`."""
  return module(config.method).create(config)
