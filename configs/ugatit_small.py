r"""U-GAT-IT light, narrow, 64 px, on ../shared/data/faces/selfie2anime (CPU).

  python -m animejax.main --config configs/ugatit_small.py \
      --workdir /tmp/ugatit_small

A scaled-down configs/ugatit_selfie2anime_light.py for a 2-core CPU in under
15 minutes: 64 px (load 72 = 64 * 286 / 256), ngf = ndf = 16, 2 + 2 residual
blocks; at 64 px the global D has 6 layers (7 would shrink the map below the
reflect padding; 6 still sees the whole image, receptive field 142 px) and
the local D 4 (34 px patches, about half the face, as 70 of 256 is about a
quarter). The shared folders have no testA/testB: 50 images of each train
folder are held out for KID and cycle PSNR. KID uses random VGG19 weights
here (no torchvision download offline): a distance between feature
distributions, comparable only within this config.

Measured (shared 2-core CPU, load 11-16 then 3-6; 601 steps in 26 min
incl. ~12 min input checks + compilation, SIGTERM, resumed: 599 steps in
8.3 min), 50 held-out images per domain: KID x100 (random VGG19) 26.96 ->
0.68 (identity baseline 0.049: these features barely separate the domains),
B->A 22.01 -> 2.00; cycle PSNR A 9.70 -> 15.26 dB, B 10.13 -> 14.48 dB.
Details in the README section "U-GAT-IT (selfie2anime)".
"""

import os

import ml_collections

from configs import ugatit_selfie2anime_light

_SHARED = os.environ.get('ANIMEJAX_SHARED', os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), '..',
    'shared'))


def get_config() -> ml_collections.ConfigDict:
  c = ugatit_selfie2anime_light.get_config()
  c.data.root = os.path.normpath(
      os.path.join(_SHARED, 'data', 'faces', 'selfie2anime'))
  c.data.image_size = 64
  c.data.load_size = 72               # 64 * 286 / 256, as [pt] 256 -> 286
  c.data.num_val_images = 50
  c.model.ngf = 16
  c.model.ndf = 16
  c.model.n_res = 2
  c.model.global_layers = 6
  c.model.local_layers = 4
  c.batch_size = 1                    # [pt] --batch_size 1
  c.iterations = 1200
  c.log_every_steps = 50
  c.checkpoint_every_steps = 300
  c.eval_every_steps = 600
  c.sample_every_steps = 300
  c.num_sample_images = 6
  c.eval_batch_size = 25
  c.vgg.weights = 'random'
  return c
