"""SRResNet upscale inference + srgan train-step rows, timed with bench.run's
helpers (median after a warm-up, wall and process-CPU per image).

  python -m bench.sr [--no-train]     # from the repository root
"""
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench import run as bench  # noqa: E402
from configs import srgan_x4, srresnet_anime, srresnet_x4  # noqa: E402
from animejax.methods import srgan  # noqa: E402

SHARED = os.environ.get('ANIMEJAX_SHARED', os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    'shared'))
HR = os.path.join(SHARED, 'data', 'sr', 'anime_hr')


def inference_rows(name, config, sizes, batch=1):
  config.loss.vgg_weight = 0.0
  method = srgan.create(config)
  state = jax.jit(method.init)(jax.random.key(0))
  params = method.inference_params(state)
  fn = jax.jit(method.predict_fns()['upscale'])
  rows = []
  for size in sizes:
    x = jax.random.uniform(jax.random.key(1), (batch, size, size, 3))
    compiled = fn.lower(params, {'images': x}).compile()
    wall, cpu = bench.median_time(lambda: compiled(params, {'images': x}),
                                  repeats=3, budget_s=30.0)
    rows.append(bench._row('upscale', name, 'float32', f'{size}->{size * 4}',
                           batch, wall, cpu, bench.flops(compiled) / batch))
  return rows


def main():
  print('load average', os.getloadavg())
  rows = []
  rows += inference_rows('srresnet_anime', srresnet_anime.get_config(),
                         (64, 256))
  rows += inference_rows('srresnet_x4', srresnet_x4.get_config(), (64, 256))
  if '--no-train' not in sys.argv:
    small = srresnet_anime.get_config()
    x4 = srresnet_x4.get_config()
    x4.data.hr_dir = HR
    x4.loss.vgg_weight = 0.0
    gan = srgan_x4.get_config()
    gan.data.hr_dir = HR
    gan.vgg.weights = 'random'   # offline; same FLOPs as ImageNet VGG19
    rows += bench.bench_train([('srresnet_anime', small, 8),
                               ('srresnet_x4', x4, 16),
                               ('srgan_x4', gan, 16)], repeats=3,
                              budget_s=60.0)
  print('load average', os.getloadavg())
  print(bench.table([dict(r, size=str(r['size'])) for r in rows]))


if __name__ == '__main__':
  main()
