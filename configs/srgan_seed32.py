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
"""

from animejax.methods import srgan
from animejax.models import srgan as srgan_models


def get_config(arg: str | None = None):
  del arg
  c = srgan.base_config()
  c.batch_size = 8                               # [seed] batch_size 8
  c.pretrain_steps = 0                           # [seed] trains the GAN only
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
  return c
