"""Train-step and generation timings of dcgan / dragan (bench.run's
bench_train through the run loop's jitted step; bench/run.py's CLI has no
face specs, so this script passes them).

  python -m bench.faces      # from the repository root; needs ../shared
"""
import json, os, sys, time
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import jax, jax.numpy as jnp, numpy as np
from bench import run as bench
from configs import dcgan_anime32, dragan_anime64, dragan_anime128
from animejax import methods

def small(c):
  # The step's cost does not depend on the folder's size: decode fewer faces.
  c.data.max_images, c.data.num_val_images = 1200, 200
  return c

def specs():
  out = []
  c = small(dcgan_anime32.get_config()); out.append(('dcgan_anime32', c, c.batch_size))
  c = small(dcgan_anime32.get_config('cpu')); out.append(('dcgan_anime32:cpu', c, c.batch_size))
  c = small(dragan_anime64.get_config()); out.append(('dragan_anime64', c, c.batch_size))
  return out

rows = bench.bench_train(specs(), repeats=3, budget_s=20.0)
for name, c in (('dcgan_anime32', small(dcgan_anime32.get_config())),
                ('dragan_anime64', small(dragan_anime64.get_config()))):
  m = methods.create(c)
  state = jax.jit(m.init)(jax.random.key(0))
  fn = jax.jit(m.predict_fns()['generate'])
  z, labels = m.eval_inputs(64, 0)
  feed = {'z': z} if labels is None else {'z': z, 'labels': labels}
  params = m.inference_params(state)
  jax.block_until_ready(fn(params, feed))
  wall, cpu = bench.median_time(lambda: fn(params, feed)['images'], repeats=5, budget_s=10.0)
  rows.append(dict(kind='generate', model=name, dtype='float32', size=c.data.image_size,
                   batch=64, wall_ms=wall * 1e3, cpu_ms=cpu * 1e3))
print(json.dumps(rows, indent=1, default=str))
print('load', os.getloadavg())
