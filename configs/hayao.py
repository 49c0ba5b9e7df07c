"""AnimeGANv2, Hayao (Miyazaki) style: the published recipe.

Run:
  python -m animejax.main --config configs/hayao.py --workdir runs/hayao

Weights from the AnimeGANv2 README / `AnimeGANv2.py` comments: content 1.5,
style 2.5, colour 15, tv 1; discriminator real/fake/gray/smooth 1.2/1.2/1.2/0.8.
Expect: 101 epochs at batch 12; soft watercolour palettes and clean outlines.
"""

from configs import default


def get_config(arg: str | None = None):
  c = default.get_config(arg)
  c.data.style = 'Hayao'
  c.loss.content_weight = 1.5
  c.loss.style_weight = 2.5
  c.loss.color_weight = 15.0
  c.loss.tv_weight = 1.0
  c.loss.d_real_weight = 1.2
  c.loss.d_fake_weight = 1.2
  c.loss.d_gray_weight = 1.2
  c.loss.d_smooth_weight = 0.8
  return c
