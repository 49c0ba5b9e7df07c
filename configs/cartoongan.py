"""CartoonGAN (Chen et al., CVPR 2018) on the AnimeGAN data.

Run:
  python -m animejax.main --config configs/cartoongan.py --workdir runs/cartoongan

Recipe from the paper (section 4.1): ResNet-block generator and its
discriminator, non-saturating BCE adversarial loss with edge-smoothed anime as
an extra fake (the edge-promoting loss), content loss = L1 on VGG19 conv4_4
with weight omega = 10, no style / colour / tv terms, Adam lr 2e-4 for both
networks, 10 initialisation epochs. Batch 8 and 100 epochs follow the widely
used reference port (znxlwm/pytorch-CartoonGAN), the paper does not state them.
Expect: flat shading and crisp edges; colours drift more than AnimeGAN's.
"""

from configs import default


def get_config(arg: str | None = None):
  c = default.get_config(arg)
  c.data.style = 'Hayao'
  c.batch_size = 8
  c.num_epochs = 110            # 10 init + 100 adversarial
  c.init_epochs = 10
  c.generator.name = 'cartoongan'
  c.discriminator.name = 'cartoongan'
  c.discriminator.norm = 'instance'
  c.discriminator.spectral_norm = False
  c.loss.adv_type = 'bce'
  c.loss.g_adv_weight = 1.0
  c.loss.d_adv_weight = 1.0
  c.loss.content_weight = 10.0
  c.loss.style_weight = 0.0
  c.loss.color_weight = 0.0
  c.loss.tv_weight = 0.0
  c.loss.d_real_weight = 1.0
  c.loss.d_fake_weight = 1.0
  c.loss.d_gray_weight = 0.0
  c.loss.d_smooth_weight = 1.0
  c.optim.init_lr = 2e-4
  c.optim.g_lr = 2e-4
  c.optim.d_lr = 2e-4
  return c
