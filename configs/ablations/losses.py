"""Loss-term ablation of AnimeGANv2 on the offline demo data.

Each variant switches off one term of the published objective ([v2]
AnimeGANv2.py: generator = adversarial + content + style (gram) + colour (YUV)
+ tv; discriminator = real + fake + gray-anime + edge-smoothed terms) or the
content-only initialization phase ([v2] --init_epoch 10 of 101; the demo
keeps 40 of 48).

Run every variant one after the other (resumable), then tabulate:
  python -m animejax.sweep --config configs/ablations/losses.py --workdir runs/abl_losses
  python -m animejax.report runs/abl_losses
One variant alone (any config flag works, e.g. fewer steps):
  python -m animejax.main --config configs/ablations/losses.py:no_color --workdir runs/abl_losses/no_color
"""

from configs import demo
from configs.ablations import common

BASE = demo.get_config

VARIANTS = {
    'baseline': {},
    'no_gray_adv': {'loss.d_gray_weight': 0.0},     # no gray-anime fake class
    'no_smooth_adv': {'loss.d_smooth_weight': 0.0},  # no edge-smoothed fakes
    'no_color': {'loss.color_weight': 0.0},          # no YUV colour loss
    'no_style': {'loss.style_weight': 0.0},          # no gram style loss
    'no_content': {'loss.content_weight': 0.0},      # no VGG content loss
    'no_init': {'init_epochs': 0},                   # skip the init phase
}


def sweep():
  """Yields (name, overrides) for every variant, baseline first."""
  yield from VARIANTS.items()


def get_config(arg: str | None = None):
  """The base config, or with `arg` = a variant name that variant."""
  return common.variant_config(BASE, VARIANTS, arg)
