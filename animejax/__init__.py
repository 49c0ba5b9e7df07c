"""animejax: anime image generation (AnimeGAN, U-GAT-IT, DCGAN/DRAGAN,
SRGAN, ...) in JAX/Flax, trained by one run loop.

Package map:
  train.py       train_and_evaluate: the run loop every method shares (mesh,
                 jit, RNG by step, checkpoints, preemption, NaN guard, logs).
  methods/       training methods by name (base.py: the Method interface;
                 animegan/: AnimeGAN v1/v2 and CartoonGAN).
  models/        Flax networks by family, VGG19 features, registries.
  data/          data sources: procedural scenes, image folders, TFDS
                 builders, edge smoothing, tf.data pipeline.
  losses.py      adversarial terms and gradient penalties shared by GANs.
  evaluation.py  PSNR, KID, colourfulness; image_quality.py: Y-PSNR / SSIM.
  parallel.py    device mesh, shardings, global batches.
  weights_io.py  the animejax generator-weights file (used by convert,
                 cartoonize, export and config.generator.init_from).
  convert/       official weights -> animejax weights.
  cartoonize.py  inference CLI for images, folders and video.
"""

__version__ = '0.1.0'
