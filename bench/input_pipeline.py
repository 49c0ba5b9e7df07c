"""Input-pipeline throughput: images per second out of `train_iter`.

  python -m bench.input_pipeline                       # procedural, 256 px
  python -m bench.input_pipeline --source folders \
      --photo_dir ../shared/data/photos \
      --style_dir ../shared/data/style/scenimefy        # real JPEGs, 256 px

One "image" is one training sample: a photo plus its anime, anime_gray and
smooth_gray companions. The first batch (pipeline start-up, thread pools,
tf.data tracing) is excluded; the rest are timed back to back. On a shared
machine the figure moves with the other load: report it with the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def benchmark_input_pipeline(config, num_batches: int = 20,
                             stats: dict | None = None) -> float:
  """Images/s of create_input_pipeline(config).train_iter (1 process).

  Args:
    config: full config (data.source, image_size, batch_size...).
    num_batches: timed batches after one warm-up batch.
    stats: if given, receives 'cpu_ms_per_image' (process CPU time, steadier
      than wall time on a shared machine).
  """
  from animejax import data  # pylint: disable=g-import-not-at-top
  pipeline = data.create_input_pipeline(config, process_index=0,
                                        process_count=1)
  it = iter(pipeline.train_iter)
  next(it)  # warm-up: start-up costs are not throughput
  start, cpu = time.perf_counter(), time.process_time()
  for _ in range(num_batches):
    next(it)
  elapsed = time.perf_counter() - start
  if stats is not None:
    stats['cpu_ms_per_image'] = ((time.process_time() - cpu) * 1e3 /
                                 (num_batches * config.batch_size))
  if hasattr(it, 'close'):
    it.close()
  return num_batches * config.batch_size / elapsed


def _config(args):
  sys.path.insert(0, _ROOT)
  from configs import default  # pylint: disable=g-import-not-at-top
  c = default.get_config()
  c.data.source = args.source
  c.data.image_size = args.size
  c.batch_size = args.batch_size
  c.data.photo_dir = args.photo_dir
  c.data.style_dir = args.style_dir
  c.data.procedural_epoch_size = 100000  # no cache: measure rendering
  return c


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--source', default='procedural',
                      choices=('procedural', 'folders'))
  parser.add_argument('--size', type=int, default=256)
  parser.add_argument('--batch_size', type=int, default=12)
  parser.add_argument('--num_batches', type=int, default=10)
  parser.add_argument('--photo_dir', default='')
  parser.add_argument('--style_dir', default='')
  args = parser.parse_args(argv)
  stats = {}
  ips = benchmark_input_pipeline(_config(args), args.num_batches, stats)
  print(f'{args.source} {args.size}px batch {args.batch_size}: '
        f'{ips:.1f} images/s, {stats["cpu_ms_per_image"]:.0f} CPU ms/image '
        f'(load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores)')


if __name__ == '__main__':
  main()
