"""The anime-image-development SRGAN: 32 -> 128 px anime faces.

  python -m animejax.main --config configs/srgan_seed32.py \
      --workdir runs/srgan_seed32 \
      --config.data.hr_dir=../shared/data/faces/selfie2anime/trainB

[seed] Team7-Code/anime-image-development `Super Resolution/` (Keras):
generator.py (16 residual blocks, conv biases before BN, PReLU per channel,
BatchNormalization(momentum=0.5), two conv 256 + UpSampling2D(2) (nearest)
stages, 9x9 conv + tanh: `models.srgan.seed_srresnet`), discriminator.py
(the [paper] D with Keras 'same' padding and biases, momentum 0.5, on 128 px),
SRGAN.py: LR 32x32 in [0, 1], HR 128x128 in [-1, 1]; D and the combined
model compiled with Adam(9e-5, beta_1=0.5); combined loss
['mse', 'binary_crossentropy'] with equal weights (no VGG term); batch 8;
noisy labels (real in (0.8, 1], fake in [0, 0.2)); no MSE pre-training.
Its "PSNR" is -10 log10(MSE) on [-1, 1] RGB: add 6.02 dB for PSNR on
[0, 1] (`image_quality.pm1_psnr_to_unit`); our eval/psnr_y is on Y with a
4-px border, not comparable to either.
The face sets here are 128 px (selfie2anime trainB): the HR "crop" is the
whole face; LR = antialiased bicubic x4 (the seed resizes with cv2).
The step count is not in [seed] (it trains by epochs of its face folder):
20,000 steps = 50 epochs of 3,200 faces at batch 8.

Variant 'cpu' measured on the shared 2-core CPU (load 6-8, two other
trainings), 1 Dec 2026:
  timeout -s TERM 900 python -m animejax.main \
      --config configs/srgan_seed32.py:cpu --workdir /tmp/srgan_seed32
93 steps (~10 s each at that load). 64 held-out faces (trainB's last 64),
Y channel, 4-px border: Y-PSNR 16.87 dB / SSIM 0.541 vs bicubic 22.84 /
0.639. It starts as bicubic (the skip), and the adversarial term at the
seed's weight 1 has pulled it 6 dB below in 93 steps (dark blotches in
docs/faces_32_to_128.jpg); the seed trains 50 epochs. Not a usable
upscaler yet: it shows the pipeline runs end to end.
"""

import os

from animejax.methods import srgan
from animejax.models import srgan as srgan_models

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get('ANIMEJAX_SHARED', os.path.join(_REPO, '..', 'shared'))


def get_config(variant: str | None = None):
  """'' = [seed]'s recipe; 'cpu' = the 2-core variant (configs/...py:cpu)."""
  c = srgan.base_config()
  c.batch_size = 8                               # [seed] batch_size 8
  c.pretrain_steps = 0                           # [seed] trains the GAN only
  # 128 px anime faces (selfie2anime domain B) from ../shared by default.
  c.data.hr_dir = os.path.join(SHARED, 'data', 'faces', 'selfie2anime',
                               'trainB')
  c.gan_steps = 20_000
  c.data.hr_crop = 128                           # [seed] HR 128 x 128
  c.data.val_crop = 128
  c.data.num_val_images = 64
  c.model.upsample = 'nearest'                   # [seed] UpSampling2D(2)
  c.model.out_activation = 'tanh'                # [seed] tanh, HR in [-1, 1]
  c.model.bn_momentum = srgan_models.KERAS_BN_MOMENTUM   # 0.5
  c.model.bn_epsilon = srgan_models.KERAS_BN_EPS         # Keras 1e-3
  c.model.prelu = 'channel'                      # PReLU(shared_axes=[1, 2])
  c.model.prelu_init = 0.0                       # Keras alpha 'zeros'
  c.model.conv_bias_before_bn = True             # Keras Conv2D bias
  c.discriminator.padding = 'same'               # Keras 'same'
  c.discriminator.conv_bias = True
  c.discriminator.bn_momentum = srgan_models.KERAS_BN_MOMENTUM
  c.discriminator.bn_epsilon = srgan_models.KERAS_BN_EPS
  c.loss.mse_weight = 1.0                        # [seed] loss_weights [1, 1]
  c.loss.adv_weight = 1.0
  c.loss.vgg_weight = 0.0                        # [seed]: no content loss
  c.loss.noisy_labels = True                     # [seed] (0.8,1] / [0,0.2)
  c.loss.label_noise = 0.2
  c.optim.g_lr = 9e-5                            # [seed] Adam(9e-5, 0.5)
  c.optim.d_lr = 9e-5
  c.optim.b1 = 0.5
  c.optim.lr_decay_fraction = 0.0                # [seed] constant lr
  if variant == 'cpu':
    # [seed]'s G (64 ch, 16 blocks, two 256-ch stages at 64 and 128 px)
    # and D (64..512 at 128 px) are too slow for 15 minutes on 2 cores:
    # G 32 ch / 4 blocks, D 16..128 with a 256-wide dense layer, and the
    # bicubic global skip of configs/srresnet_anime.py (G starts as bicubic
    # up-sampling and learns the correction; not in [seed]). Everything
    # else (losses, noisy labels, Adam 9e-5 / 0.5, batch 8) is [seed]'s.
    c.model.channels = 32
    c.model.num_blocks = 4
    c.model.residual = 'bicubic'
    c.discriminator.channels = 16
    c.discriminator.dense_features = 256
    c.gan_steps = 2000
    c.log_every_steps = 25
    c.eval_every_steps = 200
    c.sample_every_steps = 100
    c.checkpoint_every_steps = 50
  elif variant:
    raise ValueError(f'unknown variant {variant!r}; use "" or "cpu".')
  return c
