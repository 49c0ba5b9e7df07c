"""Discriminator normalization ablation: layer norm ([v2]) vs instance norm
([v1] AnimeGAN), with and without spectral norm ([v2] --sn True).

  python -m animejax.sweep --config configs/ablations/norms.py --workdir runs/abl_norm
  python -m animejax.report runs/abl_norm
"""

from configs import demo
from configs.ablations import common

BASE = demo.get_config

VARIANTS = {
    'layer_sn': {'discriminator.norm': 'layer'},
    'instance_sn': {'discriminator.norm': 'instance'},
    'layer_no_sn': {'discriminator.norm': 'layer',
                    'discriminator.spectral_norm': False},
}


def sweep():
  """Yields (name, overrides) for every discriminator variant."""
  yield from VARIANTS.items()


def get_config(arg: str | None = None):
  """The base config, or with `arg` = a variant name that variant."""
  return common.variant_config(BASE, VARIANTS, arg)
