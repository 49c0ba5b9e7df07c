r"""U-GAT-IT selfie2anime, the published recipe (full model).

  python -m animejax.main --config configs/ugatit_selfie2anime.py \
      --workdir /tmp/ugatit_s2a --config.data.root /path/to/selfie2anime

Every number is [pt] znxlwm/UGATIT-pytorch main.py's default (the paper's
selfie2anime setting): batch 1, 256 px, 1,000,000 iterations, Adam lr 1e-4
betas (0.5, 0.999) weight decay 1e-4, lr decayed linearly to 0 over the second
half, loss weights adv 1, cycle 10, identity 10, CAM 1000, ch 64, n_res 4,
global D 7 layers, local D 5 layers (UGATIT.py build_model). data.root holds
trainA/ trainB/ testA/ testB/ (the official selfie2anime.zip unpacked). The
full model is 2 x 278,959,808 G + 2 x (53,130,176 + 3,290,560) D parameters
(about 670M with both discriminator pairs), plus Adam's two moments each.
Or from the TFDS builder, with selfie2anime.zip in MANUAL:
  --config.data.source tfds --config.data.manual_dir MANUAL
Not trained here (no data set of that size, no accelerator).
"""

import ml_collections

from animejax import config_lib


def get_config() -> ml_collections.ConfigDict:
  c = config_lib.run_config('ugatit')
  c.batch_size = 1                    # [pt] --batch_size 1
  c.iterations = 1_000_000            # [pt] --iteration 1000000
  c.log_every_steps = 100
  c.checkpoint_every_steps = 10_000   # [pt] --save_freq 100000 (we save more)
  c.eval_every_steps = 50_000
  c.sample_every_steps = 1_000        # [pt] --print_freq 1000
  c.num_sample_images = 5             # [pt] writes 5 A and 5 B rows
  c.eval_batch_size = 8

  c.data = ml_collections.ConfigDict()
  # 'folders': data.root holds trainA/ trainB/ [testA/ testB/]; 'tfds': the
  # TFDS builder 'selfie2anime' (animejax/data/tfds_selfie2anime.py) reads
  # selfie2anime.zip from data.manual_dir (no automatic download).
  c.data.source = 'folders'
  c.data.root = ''
  c.data.manual_dir = ''
  c.data.tfds_data_dir = ''           # '' = TFDS's default
  c.data.image_size = 256             # [pt] --img_size 256
  c.data.load_size = 286              # [pt] Resize((img_size + 30,) * 2)
  c.data.flip = True                  # [pt] RandomHorizontalFlip()
  # [pt] dataset: 100 + 100 test images; used whole (held out of train*
  # when testA/testB are absent).
  c.data.num_val_images = 100

  c.model = ml_collections.ConfigDict()
  c.model.light = False               # [pt] --light False
  c.model.ngf = 64                    # [pt] --ch 64
  c.model.ndf = 64                    # [pt] --ch 64
  c.model.n_res = 4                   # [pt] --n_res 4
  c.model.global_layers = 7           # [pt] Discriminator(n_layers=7)
  c.model.local_layers = 5            # [pt] Discriminator(n_layers=5)
  c.model.variance = 'unbiased'       # [pt] torch.var (TF: 'biased')

  c.optim = ml_collections.ConfigDict()
  c.optim.lr = 1e-4                   # [pt] --lr 0.0001
  c.optim.b1 = 0.5                    # [pt] betas=(0.5, 0.999)
  c.optim.b2 = 0.999
  c.optim.weight_decay = 1e-4         # [pt] --weight_decay 0.0001 (coupled)
  c.optim.decay = True                # [pt] --decay_flag True

  c.loss = ml_collections.ConfigDict()
  c.loss.adv_weight = 1.0             # [pt] --adv_weight 1
  c.loss.cycle_weight = 10.0          # [pt] --cycle_weight 10
  c.loss.identity_weight = 10.0       # [pt] --identity_weight 10
  c.loss.cam_weight = 1000.0          # [pt] --cam_weight 1000

  # KID features (animejax.evaluation: VGG19 conv5_4, spatially averaged).
  c.vgg = ml_collections.ConfigDict()
  c.vgg.weights = 'torchvision'       # or a .pth/.h5/.npy path, or 'random'
  c.vgg.preprocess = 'auto'
  c.vgg.cache_dir = ''
  return c
