"""MakeGirlsMoe's conditional DRAGAN ('dragan') as published: 128 px,
SRResNet G (64 features, 16 residual blocks, 3 pixel-shuffle stages),
residual D 32..1024, batch 64, Adam 2e-4 (0.5, 0.999), lambda_gp 0.5,
lambda_adv = number of labels, lr x0.1 every 10,000 steps. For a GPU.

  python -m animejax.main --config configs/dragan_anime128.py --workdir W \\
      --config.data.image_dir=/data/getchu/images \\
      --config.data.labels_csv=/data/getchu/tags.csv

Sources: [mgm] Jin et al. 2017 (arXiv:1708.05509) Sec. 4, Figs. 3-4; [bhp]
bhpfelix/PyTorch-Face-Generator-SRResNet-based-ACGAN-DRAGAN main.py /
settings.py (numbers cited in animejax/methods/dragan.py). [mgm] trained on
its own 42k Getchu faces with 34 tags (not released); by default this
config reads the shared 64 px tagged faces up-scaled to 128 (a stand-in:
point data.image_dir / labels_csv at a 128 px labelled set). Not run here
(no GPU in this session); expect [mgm]'s 128 px faces after tens of epochs.

Metrics as in configs/dragan_anime64.py; on a machine with the weights add
--config.eval.features=inception (pytorch-fid's FID Inception-v3) and
--config.eval.attribute_classifier=F (F from `python -m animejax.attributes
train --config configs/dragan_anime128.py --out F`: 128 px, same split).
"""

import os

from animejax.methods import dragan

# ../shared beside the repository (absolute, so a workdir's saved config
# works from any directory), or $ANIMEJAX_SHARED.
SHARED = os.environ.get('ANIMEJAX_SHARED', os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared')))
FACES = os.path.join(SHARED, 'data', 'faces', 'anime64_tagged')


def get_config():
  c = dragan.get_config_base()    # the published numbers, cited there
  c.data.image_dir = os.path.join(FACES, 'images')
  c.data.labels_csv = os.path.join(FACES, 'tags.csv')
  c.data.image_size = 128         # [mgm] Sec. 4: 128 x 128
  c.eval.num_images = 1000
  c.log_every_steps = 100
  c.eval_every_steps = 5000
  c.sample_every_steps = 1000
  c.checkpoint_every_steps = 1000
  return c
