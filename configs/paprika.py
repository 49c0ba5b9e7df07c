"""AnimeGANv2, Paprika (Satoshi Kon) style: the published recipe.

Run:
  python -m animejax.main --config configs/paprika.py --workdir runs/paprika

Weights from the AnimeGANv2 README / `AnimeGANv2.py` comments: content 2.0,
style 0.6, colour 50, tv 0.1; discriminator real/fake/gray/smooth 1/1/1/0.005.
Expect: 101 epochs at batch 12; vivid, high-contrast colours.
"""

from configs import default


def get_config(arg: str | None = None):
  c = default.get_config(arg)
  c.data.style = 'Paprika'
  c.loss.content_weight = 2.0
  c.loss.style_weight = 0.6
  c.loss.color_weight = 50.0
  c.loss.tv_weight = 0.1
  c.loss.d_real_weight = 1.0
  c.loss.d_fake_weight = 1.0
  c.loss.d_gray_weight = 1.0
  c.loss.d_smooth_weight = 0.005
  return c
