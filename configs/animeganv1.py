"""AnimeGAN (v1), Hayao style: the original recipe.

Run:
  python -m animejax.main --config configs/animeganv1.py --workdir runs/animeganv1

Values from TachibanaYoshino/AnimeGAN `main.py` defaults and `tools/ops.py`:
batch 6, 101 epochs with 1 init epoch, init lr 1e-4, G lr 4e-5, D lr 8e-5,
content 1.5, style 1.8, colour 10, no total variation; discriminator
real/fake/gray/smooth 1.5/1.5/1.5/0.8; generator with instance norm and
separable convolutions (about 3.96M parameters).
Expect: Hayao-like colours after ~20 epochs; v1 shows more high-frequency
artefacts than v2 (the reason v2 exists).
"""

from configs import default


def get_config(arg: str | None = None):
  c = default.get_config(arg)
  c.data.style = 'Hayao'
  c.batch_size = 6
  c.num_epochs = 101
  c.init_epochs = 1
  c.generator.name = 'animeganv1'
  c.discriminator.norm = 'instance'
  c.optim.init_lr = 1e-4
  c.optim.g_lr = 4e-5
  c.optim.d_lr = 8e-5
  c.loss.content_weight = 1.5
  c.loss.style_weight = 1.8
  c.loss.color_weight = 10.0
  c.loss.tv_weight = 0.0
  c.loss.d_real_weight = 1.5
  c.loss.d_fake_weight = 1.5
  c.loss.d_gray_weight = 1.5
  c.loss.d_smooth_weight = 0.8
  return c
