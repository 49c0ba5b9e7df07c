"""U-GAT-IT bench rows: translator inference and train steps (bench.run's
bench_train: the run loop's jitted step through the method interface).

  python -m bench.ugatit [inf_small WORKDIR] [inf_light] [inf_full] \
      [train_small] [train_light] [train_full]   # from the repository root
"""
import json, os, resource, sys, time, statistics
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import jax, jax.numpy as jnp, numpy as np
from bench import run as bench
from animejax import weights_io
from animejax.methods import ugatit
from animejax.models import ugatit as nets

def emit(row):
  row['load'] = os.getloadavg()[0]
  print(json.dumps(row), flush=True)

def random_weights(kwargs):
  g = nets.UGATITGenerator(**kwargs)
  s = kwargs['img_size']
  shapes = jax.eval_shape(g.init, jax.random.key(0),
                          jax.ShapeDtypeStruct((1, s, s, 3), jnp.float32))
  rng = np.random.default_rng(0)
  p = jax.tree.map(lambda a: (rng.standard_normal(a.shape, np.float32) * 0.02), shapes['params'])
  return weights_io.GeneratorWeights('ugatit', kwargs, {'a2b': p, 'b2a': p})

def time_translator(name, t, n=1, repeats=3):
  x = np.random.default_rng(1).integers(0, 256, (n, 300, 400, 3), np.uint8)
  t0 = time.perf_counter(); t(x); first = time.perf_counter() - t0
  walls, cpus = [], []
  for _ in range(repeats):
    c0, w0 = time.process_time(), time.perf_counter()
    t(x)
    walls.append(time.perf_counter() - w0); cpus.append(time.process_time() - c0)
  params = sum(int(np.size(a)) for a in jax.tree.leaves(t.params))
  emit(dict(kind='translate', model=name, size=t.size, batch=n, params=params,
            first_call_s=first, seconds=statistics.median(walls),
            cpu_seconds=statistics.median(cpus),
            ms_per_image=1e3 * statistics.median(walls) / n))

which = sys.argv[1:] or ['inf_light', 'inf_full', 'train_small', 'train_light']
if 'inf_small' in which:  # a trained configs/ugatit_small.py workdir
  workdir = which[which.index('inf_small') + 1]
  time_translator('ugatit_small (workdir, light ngf16)', ugatit.load_translator(workdir))
for light, key in ((True, 'inf_light'), (False, 'inf_full')):
  if key in which:
    kw = dict(ngf=64, n_blocks=4, img_size=256, light=light, variance='unbiased')
    time_translator('ugatit light 256 (published)' if light else 'ugatit full 256 (published)',
                    ugatit.Translator(random_weights(kw)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from configs import ugatit_small, ugatit_selfie2anime, ugatit_selfie2anime_light
if 'train_small' in which:
  c = ugatit_small.get_config()
  t0 = time.perf_counter()
  rows = bench.bench_train([('ugatit_small', c, 1)], repeats=3, budget_s=20)
  for r in rows: r['wall_incl_compile_s'] = time.perf_counter() - t0; emit(r)
for key, module in (('train_light', ugatit_selfie2anime_light),
                    ('train_full', ugatit_selfie2anime)):
  if key not in which:
    continue
  c = module.get_config()
  c.data.root = ugatit_small.get_config().data.root
  c.data.num_val_images = 50
  c.vgg.weights = 'random'
  t0 = time.perf_counter()
  rows = bench.bench_train([(f'ugatit_{key[6:]}_256', c, 1)], repeats=2,
                          budget_s=30)
  for r in rows:
    r['wall_incl_compile_s'] = time.perf_counter() - t0
    r['max_rss_gb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    emit(r)
