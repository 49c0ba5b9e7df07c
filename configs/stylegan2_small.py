"""A narrow StyleGAN2 ('stylegan2') at 32 px that trains on a 2-core CPU.

  python -m animejax.main --config configs/stylegan2_small.py --workdir W
  python -m animejax.generate --weights W --num 16 --out grid.png

The [ada] recipe (NVlabs/stylegan2-ada-pytorch; every number's source is in
animejax/methods/stylegan2.py get_config_base) with train.py cfg_specs
'auto' for one GPU at this resolution and batch (auto_spec: gamma =
0.0002 res^2 / mb, ema = mb * 10 / 32 kimg with rampup 0.05, mbstd group 4,
mapping 2 layers, lr 0.0025), but tiny widths (channel_base 1024, channel_max
64: 64/64/64/32 channels at 4/8/16/32 px; z = w = 64) so a step is cheap.
Data: ../shared/data/faces/anime64_tagged/images (18,000 NTU MLDS faces,
labels ignored) downscaled to 32 px, 1,000 held out for the metrics.

Metrics: KID / FID on pooled RANDOM-VGG19 conv5_4 features (offline here):
'kid_randvgg19' compares checkpoints of this config, nothing else. With
internet pass --config.eval.vgg_weights=torchvision.
"""

import os

from animejax.methods import stylegan2

SHARED = os.environ.get('ANIMEJAX_SHARED', os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared')))
FACES = os.path.join(SHARED, 'data', 'faces', 'anime64_tagged')


def get_config():
  c = stylegan2.get_config_base()
  c.data.image_dir = os.path.join(FACES, 'images')
  c.data.image_size = 32
  c.batch_size = 16
  auto = stylegan2.auto_spec(32, c.batch_size)  # [ada] cfg_specs 'auto'
  c.loss.r1_gamma = auto['r1_gamma']            # 0.0128
  c.ema_kimg = auto['ema_kimg']                 # 5 kimg
  c.ema_rampup = auto['ema_rampup']             # 0.05
  c.model.mbstd_group_size = auto['mbstd_group_size']  # 4
  c.optim.lr = auto['lr']                       # 0.0025
  c.model.mapping_layers = 2                    # [ada] 'auto' map=2
  c.model.z_dim = c.model.w_dim = 64            # narrow (not [ada])
  c.model.channel_base = 1024                   # narrow (not [ada])
  c.model.channel_max = 64
  c.train_steps = 20000                         # 320 kimg; stop any time
  c.eval.num_images = 250
  c.eval.vgg_weights = 'random'  # offline here; 'torchvision' with internet
  c.log_every_steps = 10
  c.eval_every_steps = 500
  c.sample_every_steps = 50
  c.checkpoint_every_steps = 50
  c.num_sample_images = 64
  return c
