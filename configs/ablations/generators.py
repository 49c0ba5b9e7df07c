"""Generator ablation: AnimeGANv2 vs AnimeGAN (v1) vs CartoonGAN generators.

Only the generator changes; the data, discriminator and losses are the demo's
AnimeGANv2 recipe, so differences come from the architecture alone (the
per-method full recipes are configs/animeganv1.py and configs/cartoongan.py).

  python -m animejax.sweep --config configs/ablations/generators.py --workdir runs/abl_gen
  python -m animejax.report runs/abl_gen
"""

from configs import demo
from configs.ablations import common

BASE = demo.get_config

VARIANTS = {
    'animeganv2': {'generator.name': 'animeganv2'},
    'animeganv1': {'generator.name': 'animeganv1'},
    'cartoongan': {'generator.name': 'cartoongan'},
}


def sweep():
  """Yields (name, overrides) for every generator."""
  yield from VARIANTS.items()


def get_config(arg: str | None = None):
  """The base config, or with `arg` = a variant name that variant."""
  return common.variant_config(BASE, VARIANTS, arg)
