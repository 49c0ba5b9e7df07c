"""The offline default: a narrow AnimeGANv2 on procedural scenes, 2 CPU cores.

Run:
  python -m animejax.main --config configs/demo.py --workdir runs/demo

No downloads: the data are procedural "photo"/"anime" scene pairs (trained
unpaired; the pairs only serve evaluation), and VGG19 uses random weights
(the log says so loudly). Expect: about 7-8 images/s on 2 CPU cores (384 steps
of batch 8, under 10 minutes including compilation); checkpoints, TensorBoard
scalars and sample grids (photo | generated | ground-truth anime) under the
workdir; eval/psnr (G(photo) vs the ground-truth anime rendering) next to
eval/psnr_identity (the photo itself). Measured so far: identity 16.4 dB, the
generator 11-14 dB after 128-256 steps (blurry: the narrow generator does not
yet learn to reconstruct in the short init phase with random VGG features).
Tuning this recipe so the demo beats the identity mapping is open work.
"""

from configs import default


def get_config(arg: str | None = None):
  c = default.get_config(arg)
  c.data.source = 'procedural'
  c.data.image_size = 64
  c.data.procedural_epoch_size = 256
  c.data.num_val_images = 8
  c.data.shuffle_buffer = 64
  c.batch_size = 8
  c.generator.width = 0.25
  c.discriminator.ch = 16
  c.vgg.weights = 'random'
  c.num_epochs = 12
  c.init_epochs = 2
  c.optim.init_lr = 1e-3
  c.optim.g_lr = 2e-4
  c.optim.d_lr = 4e-4
  c.log_every_steps = 16
  c.checkpoint_every_steps = 64
  c.eval_every_steps = 128
  c.sample_every_steps = 64
  c.num_sample_images = 4
  return c
