r"""U-GAT-IT light selfie2anime: the published recipe with [pt] --light True.

  python -m animejax.main --config configs/ugatit_selfie2anime_light.py \
      --workdir /tmp/ugatit_s2a_light --config.data.root /path/to/selfie2anime

The light generator's gamma/beta MLP reads the pooled map (10,589,888 G
parameters instead of 278,959,808); everything else as
configs/ugatit_selfie2anime.py ([pt] main.py defaults).
"""

import ml_collections

from configs import ugatit_selfie2anime


def get_config() -> ml_collections.ConfigDict:
  c = ugatit_selfie2anime.get_config()
  c.model.light = True                # [pt] --light True
  return c
