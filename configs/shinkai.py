"""AnimeGANv2, Shinkai style: the published recipe.

Run (after downloading the AnimeGAN datasets, see README "Real data"):
  python -m animejax.main --config configs/shinkai.py --workdir runs/shinkai

Weights from the AnimeGANv2 README / `AnimeGANv2.py` comments: content 1.2,
style 2.0, colour 10, tv 1; discriminator real/fake/gray/smooth 1.7/1.7/1.7/1.0.
Expect: 101 epochs of 554 steps at batch 12 (10 content-only init epochs);
recognisable Shinkai colours (blue skies, saturated greens) after ~30 epochs.
"""

from configs import default


def get_config(arg: str | None = None):
  c = default.get_config(arg)
  c.data.style = 'Shinkai'
  c.loss.content_weight = 1.2
  c.loss.style_weight = 2.0
  c.loss.color_weight = 10.0
  c.loss.tv_weight = 1.0
  c.loss.d_real_weight = 1.7
  c.loss.d_fake_weight = 1.7
  c.loss.d_gray_weight = 1.7
  c.loss.d_smooth_weight = 1.0
  return c
