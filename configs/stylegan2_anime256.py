"""StyleGAN2 ('stylegan2') at 256 px with the published 'paper256' recipe.

  python -m animejax.main --config configs/stylegan2_anime256.py \\
      --workdir W --config.data.image_dir=/path/to/256px/portraits
  python -m animejax.generate --weights W --num 16 --out grid.png

[ada] NVlabs/stylegan2-ada-pytorch train.py cfg_specs 'paper256' (the
StyleGAN2 / ADA papers' 256 px setting): batch 64, mbstd group 8, fmaps 0.5
(channel_base 16384, channel_max 512), lr 0.0025, R1 gamma 1, G EMA 20 kimg
without rampup, 8 mapping layers, 25,000 kimg (390,625 iterations); the
StyleGAN2Loss defaults (path length weight 2, decay 0.01, batch shrink 2,
style mixing 0.9); lazy regularisation every 4 G / 16 D iterations with the
Adam lr/beta correction; x-flips (--mirror=1, as anime portrait runs use).
Parameters: G 24,767,458, D 24,001,089 (same names and shapes as [ada]).

Data: any folder of square portraits (e.g. a 256 px Danbooru portrait
crop); the default points at the shared 64 px NTU faces, which are then
UP-sampled (only for timing and smoke runs, not for quality). Metrics: KID /
FID on pooled ImageNet VGG19 conv5_4 features (downloaded once; pass
--config.eval.vgg_weights=random offline). Meant for a GPU/TPU; not run
to completion here.
"""

import os

from animejax.methods import stylegan2

SHARED = os.environ.get('ANIMEJAX_SHARED', os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared')))
FACES = os.path.join(SHARED, 'data', 'faces', 'anime64_tagged')


def get_config():
  c = stylegan2.get_config_base()  # paper256 numbers, cited there
  c.data.image_dir = os.path.join(FACES, 'images')
  c.data.image_size = 256
  c.eval.num_images = 1000
  c.eval.vgg_weights = 'torchvision'
  c.log_every_steps = 100
  c.eval_every_steps = 5000
  c.sample_every_steps = 1000
  c.checkpoint_every_steps = 1000
  return c
