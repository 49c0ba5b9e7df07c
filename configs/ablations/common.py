"""Helpers shared by the ablation configs: variants as dotted-key overrides."""

from collections.abc import Callable, Mapping
from typing import Any

import ml_collections

from animejax.sweep import apply_overrides


def variant_config(base: Callable[[], ml_collections.ConfigDict],
                   variants: Mapping[str, Mapping[str, Any]],
                   name: str | None) -> ml_collections.ConfigDict:
  """`base()` with the overrides of variant `name` (None/'' = base)."""
  config = base()
  if not name:
    return config
  if name not in variants:
    raise KeyError(f'unknown variant {name!r}; choose one of {list(variants)}')
  return apply_overrides(config, variants[name], where=f'variant {name!r}')
