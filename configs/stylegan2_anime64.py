"""A narrow StyleGAN2 ('stylegan2') at 64 px that trains on a 2-core CPU.

  python -m animejax.main --config configs/stylegan2_anime64.py --workdir W
  python -m animejax.generate --weights W --seeds 0-15 --out grid.png

configs/stylegan2_small.py (the [ada] recipe with train.py cfg_specs 'auto'
for one GPU, tiny widths) at the shared faces' own 64 px: 'auto' at 64 px
and batch 16 gives gamma = 0.0002 * 64^2 / 16 = 0.0512 ([ada] train.py);
channel_base 1024 / channel_max 64 gives 64/64/64/32/16 channels at
4/8/16/32/64 px. Data: ../shared/data/faces/anime64_tagged/images (18,000
NTU MLDS faces, labels ignored), 1,000 held out for the metrics (KID / FID
on RANDOM-VGG19 conv5_4 features offline: they rank checkpoints of this
config, nothing else). The published 256 px recipe for a GPU/TPU is
configs/stylegan2_anime256.py.

MEASURED says what a CPU run reached here.
"""

from animejax.methods import stylegan2
from configs import stylegan2_small

MEASURED = """Measured on the shared 2-core CPU, load 5-8 (two other trainings
and a test run at the same time), 1 Dec 2026:

  timeout -s TERM 1200 python -m animejax.main \
      --config configs/stylegan2_anime64.py --workdir /tmp/sg2_64
  python -m animejax.main --config configs/stylegan2_anime64.py \
      --workdir /tmp/sg2_64 --mode eval                          # end

20 minutes gave 76 iterations (1.2 kimg); compiling the three step kinds
took about 8 of them, then ~10 s per iteration. KID / FID on 200 generated
(G_ema) vs 200 held-out faces, random-VGG19 conv5_4 features; 'step 0' is
the initial state (method.init with the config's seed, as the run starts):
  step 0:  kid_randvgg19 0.110 +- 0.019, fid_randvgg19 6.65
  step 76: kid_randvgg19 0.460 +- 0.025, fid_randvgg19 27.75
Both got WORSE: the initial G's fine noise is closer, in these random
features, to faces than the smooth colour blobs G_ema makes after 76
iterations (docs/stylegan2_anime64.jpg). StyleGAN2 needs thousands of kimg
(the paper256 recipe 25,000); on this CPU the 64 px config shows that the
recipe trains (every step kind, EMA, checkpoints), not faces."""


def get_config():
  c = stylegan2_small.get_config()
  c.data.image_size = 64
  auto = stylegan2.auto_spec(64, c.batch_size)  # [ada] cfg_specs 'auto'
  c.loss.r1_gamma = auto['r1_gamma']            # 0.0512
  c.eval.num_images = 200
  c.eval_every_steps = 200
  c.sample_every_steps = 25
  c.checkpoint_every_steps = 25
  return c
