"""The offline default: a narrow AnimeGANv2 on procedural scenes, 2 CPU cores.

Run:
  python -m animejax.main --config configs/demo.py --workdir runs/demo

No downloads: the data are procedural "photo"/"anime" scene pairs (trained
unpaired; the pairs only serve evaluation), and VGG19 uses random weights
(the log says so loudly). Expect about 5-6 minutes on 2 CPU cores including
compilation (192 content-only init steps, then 320 adversarial steps, batch 8
at 64 px); checkpoints, TensorBoard scalars and sample grids (photo |
generated | ground-truth anime) under the workdir; eval/psnr (G(photo) vs the
ground-truth anime rendering) next to eval/psnr_identity (the photo itself).

What it shows, measured (see the README): the init phase learns to
reconstruct the photo (22 dB after 256 steps with conv1_2 features, 10.5 dB
with conv4_4 of a random VGG, hence the layer below); the adversarial phase
then moves G towards the anime set's most visible cue, saturated horizontal
colour bands (skies, hills), which costs PSNR: eval/psnr stays at 14-15 dB,
below the identity mapping's 16.4 dB. Beating the identity mapping in a
10-minute CPU budget is open work.
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
  # With random weights the deep conv4_4 features barely constrain G (10.5 dB
  # reconstruction after 64 init steps vs 19 dB with conv1_2, which also
  # costs about a quarter of the compute): use the shallow layer here.
  c.vgg.layer = 'conv1_2'
  # 16 epochs of 32 steps: 6 init epochs (192 steps), then 320 GAN steps.
  c.num_epochs = 16
  c.init_epochs = 6
  c.optim.init_lr = 1e-3    # 3e-3: 22.4 -> 20.6 dB after 256 init steps
  c.optim.g_lr = 1e-4
  c.optim.d_lr = 2e-4
  # The loss terms' scales differ from [v2]'s with a random VGG; at the
  # published g_adv_weight=300 the adversarial gradient wipes the
  # reconstruction within 64 steps (PSNR vs photo 21 -> 14 dB).
  c.loss.g_adv_weight = 3.0
  c.loss.d_adv_weight = 3.0
  c.log_every_steps = 16
  c.checkpoint_every_steps = 64
  c.eval_every_steps = 128
  c.sample_every_steps = 64
  c.num_sample_images = 4
  return c
