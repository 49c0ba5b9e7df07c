"""animejax: photo-to-anime GANs (AnimeGAN v1/v2/v3, CartoonGAN) in JAX/Flax.

Package map:
  models/        Flax generators, discriminators, VGG19 features, registry.
  data/          procedural scenes, image folders, TFDS builder, edge smoothing,
                 tf.data pipeline.
  losses.py      content / style / colour / tv / adversarial / penalties.
  methods/       training methods (animegan/steps.py: TrainState, init_step,
                 gan_step).
  parallel.py    device mesh, shardings, global batches.
  train.py       train_and_evaluate: the run loop (checkpoints, metrics, eval).
  weights_io.py  the animejax generator-weights file (used by convert,
                 cartoonize, export and config.generator.init_from).
  convert/       official AnimeGANv2/v3 weights -> animejax weights.
  cartoonize.py  inference CLI for images, folders and video.
"""

__version__ = '0.1.0'
