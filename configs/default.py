"""Every hyper-parameter of animejax, with where each number comes from.

The per-style configs (`shinkai.py`, `hayao.py`, `paprika.py`) start from this
one and override the published AnimeGANv2 per-style values. Values derived from
others (steps per epoch, total steps, schedules) are NOT stored here: they are
computed in `animejax.methods.animegan.config.derive` so a command-line override such as
`--config.batch_size=4` never leaves them stale.

Sources:
  [v2]  AnimeGANv2, TachibanaYoshino/AnimeGANv2 `train.py` argument defaults and
        `AnimeGANv2.py` (loss weights per style are in the README / comments).
  [v1]  AnimeGAN, TachibanaYoshino/AnimeGAN `main.py` / `AnimeGAN.py`.
  [cg]  CartoonGAN, Chen et al. CVPR 2018 (paper, section 3 and 4.1).

Run:
  python -m animejax.main --config configs/default.py --workdir runs/default
(default.py trains AnimeGANv2 with the Shinkai weights; prefer `shinkai.py`.)
"""

import ml_collections

from animejax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """Returns the full default config (AnimeGANv2, Shinkai weights)."""
  del arg
  # The run loop's keys (seed, dtype, cadence, ...: config_lib.run_config).
  # The method 'animegan' trains AnimeGAN v1/v2 and CartoonGAN
  # (config.generator.name picks the generator).
  c = config_lib.run_config('animegan')

  # ---------------------------------------------------------------- data
  c.data = ml_collections.ConfigDict()
  # 'procedural' (offline demo scenes), 'folders' (photo_dir/style_dir) or
  # 'tfds' (the AnimeGAN release archives through our TFDS builder).
  c.data.source = 'tfds'
  c.data.style = 'Shinkai'            # [v2] dataset names: Hayao, Shinkai, Paprika
  c.data.tfds_data_dir = ''           # '' = TFDS default (~/tensorflow_datasets)
  c.data.manual_dir = ''              # where the user put downloaded archives
  c.data.photo_dir = ''               # folders source: real photos (recursive)
  c.data.style_dir = ''               # folders source: anime style images
  c.data.smooth_dir = ''              # '' = make edge-smoothed images on the fly
  c.data.val_dir = ''                 # '' = use the source's validation split
  c.data.image_size = 256             # [v2] img_size 256
  # Random resized crop: fraction of the image area kept. [v2] trains on
  # pre-cropped 256x256 images, so (1.0, 1.0) reproduces it exactly.
  c.data.crop_scale = (1.0, 1.0)
  c.data.flip = False                 # [v2] no augmentation
  # [v2] tools/data_mean.py + data_loader (README: train with --data_mean):
  # add (grey mean - channel mean) of the style set to every colour style
  # image (not its gray copy), unclipped, so the style set averages to grey.
  # The last [v2] commit dropped it from data_loader; its README and the
  # published training recipe use it. Ignored by the procedural source.
  c.data.style_mean_adjust = True
  c.data.shuffle_buffer = 1024
  c.data.prefetch = 2
  # Images per epoch of the procedural source (real sources count their files).
  c.data.procedural_epoch_size = 6656  # = [v2] train_photo count
  c.data.num_val_images = 8

  c.batch_size = 12                   # [v2] batch_size 12 (global, all devices)

  # ---------------------------------------------------------------- models
  c.generator = ml_collections.ConfigDict()
  c.generator.name = 'animeganv2'     # see animejax.models.GENERATORS
  c.generator.width = 1.0             # channel multiplier; 1.0 = published
  # Bilinear x2 upsampling: 'tf1' = TF1 resize_images (align_corners=False,
  # half_pixel_centers=False) as in the official TF graph; 'align_corners' as in
  # the official PyTorch conversion; 'half_pixel' = jax.image.resize.
  c.generator.upsample = 'tf1'
  c.generator.init_from = ''          # converted weights file to fine-tune from

  c.discriminator = ml_collections.ConfigDict()
  c.discriminator.name = 'animegan'   # see animejax.models.DISCRIMINATORS
  c.discriminator.ch = 64             # [v2] --ch 64 (first conv has ch // 2)
  c.discriminator.n_dis = 3           # [v2] --n_dis 3
  c.discriminator.norm = 'layer'      # [v2] layer_norm; 'instance' for [v1]
  c.discriminator.spectral_norm = True  # [v2] --sn True

  c.vgg = ml_collections.ConfigDict()
  # 'torchvision' (download vgg19-dcbb9e9d.pth, checked by SHA-256), a path to
  # a .pth / .h5 / .npy file, or 'random' (offline demos and tests only).
  c.vgg.weights = 'torchvision'
  c.vgg.layer = 'conv4_4'             # [v2] conv4_4_no_activation
  # 'auto' = what the weights were trained with: 'torch' (normalised RGB) for
  # torchvision's .pth, 'caffe' ([v2] BGR in [0,255] minus the mean) for the
  # Keras .h5 / AnimeGAN vgg19.npy. Feeding torchvision weights [v2]'s caffe
  # input would shift every feature, hence not 'caffe' by default.
  c.vgg.preprocess = 'auto'           # 'auto' | 'caffe' | 'torch'
  c.vgg.cache_dir = ''                # '' = ~/.cache/animejax

  # ---------------------------------------------------------------- losses
  c.loss = ml_collections.ConfigDict()
  c.loss.adv_type = 'lsgan'           # [v2] --gan_type lsgan; 'hinge', 'bce'
  c.loss.g_adv_weight = 300.0         # [v2] --g_adv_weight 300
  c.loss.d_adv_weight = 300.0         # [v2] --d_adv_weight 300
  # [v2] Shinkai: con 1.2, sty 2.0, color 10, tv 1.
  c.loss.content_weight = 1.2
  c.loss.style_weight = 2.0
  c.loss.color_weight = 10.0
  c.loss.tv_weight = 1.0
  # [v2] discriminator_loss: real, fake, gray-anime, edge-smoothed weights.
  c.loss.d_real_weight = 1.7
  c.loss.d_fake_weight = 1.7
  c.loss.d_gray_weight = 1.7
  c.loss.d_smooth_weight = 1.0
  c.loss.gp_type = 'none'             # 'none', 'r1', 'dragan', 'wgan-gp'
  c.loss.gp_weight = 10.0             # [v2] --ld 10.0

  # ---------------------------------------------------------------- optim
  c.optim = ml_collections.ConfigDict()
  c.optim.init_lr = 2e-4              # [v2] --init_lr 2e-4
  c.optim.g_lr = 2e-5                 # [v2] --g_lr 2e-5
  c.optim.d_lr = 4e-5                 # [v2] --d_lr 4e-5
  c.optim.b1 = 0.5                    # [v2] AdamOptimizer(beta1=0.5)
  c.optim.b2 = 0.999                  # TF Adam default
  c.optim.eps = 1e-8                  # TF Adam default epsilon
  # 'constant' as [v2]; 'cosine' decays both GAN learning rates to 0.
  c.optim.schedule = 'constant'
  c.optim.d_steps_per_g = 1           # [v2] --training_rate 1 (D:G ratio)

  # ---------------------------------------------------------------- schedule
  c.num_epochs = 101                  # [v2] --epoch 101 (includes init epochs)
  c.init_epochs = 10                  # [v2] --init_epoch 10
  # config.num_train_steps > 0 overrides the epoch-derived step counts.
  c.steps_per_epoch = -1              # -1 = dataset size // batch_size
  return c
