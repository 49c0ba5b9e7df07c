"""animejax benchmarks: generator inference, train steps, input pipeline.

  python -m bench.run            # full table, < 10 minutes on 2 idle CPU cores
  python -m bench.run --quick    # smaller table, < 2 minutes
  python -m bench.run --only inference --only peak --json out.json
  python -m bench.run --big      # adds 1024 px at batch 8 and the shinkai
                                 # train steps at batch 12 (slow on CPU)

Every figure is measured after one warm-up call (compilation excluded) as the
median of repeated calls. Besides wall time, each row records the process CPU
time per call: on a shared machine the wall time grows with the other load
while CPU seconds stay nearly put, so `cpu ms/image` is the steadier number to
compare runs with (on an idle machine wall ~= cpu / cores). The load average is
printed with the results.

FLOPs per image come from XLA's cost analysis of the compiled function;
achieved FLOP/s and the fraction of this machine's peak use the peak measured
in the same run with a 2048x2048 matmul in the row's dtype (float32 rows
against the float32 peak, bfloat16 rows against the bfloat16 peak, which on
CPUs with AMX/avx512_bf16 is several times higher).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def median_time(fn: Callable[[], Any], *, repeats: int = 3,
                budget_s: float = 10.0) -> tuple[float, float]:
  """(median wall s, median process-CPU s) of `fn()` after one warm-up call.

  Runs `repeats` timed calls, fewer (at least one) when the warm-up call shows
  that they would take longer than `budget_s`. `fn` must return jax arrays (it
  is blocked on).
  """
  t0 = time.perf_counter()
  jax.block_until_ready(fn())
  warm = time.perf_counter() - t0
  n = max(1, min(repeats, int(budget_s // max(warm, 1e-9))))
  walls, cpus = [], []
  for _ in range(n):
    c0, t0 = time.process_time(), time.perf_counter()
    jax.block_until_ready(fn())
    walls.append(time.perf_counter() - t0)
    cpus.append(time.process_time() - c0)
  return statistics.median(walls), statistics.median(cpus)


def flops(compiled) -> float:
  """FLOPs of one call of a compiled function, from XLA's cost analysis."""
  cost = compiled.cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else {}
  return float((cost or {}).get('flops', 0.0))


def measure_peak(size: int = 2048, dtype: Any = jnp.float32,
                 repeats: int = 5) -> float:
  """Matmul FLOP/s of this machine: size x size @ size x size in `dtype`
  (float32 accumulation), median of `repeats` calls."""
  a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
  b = jax.random.normal(jax.random.key(1), (size, size), jnp.float32)
  a, b = a.astype(dtype), b.astype(dtype)
  f = jax.jit(lambda a, b: jnp.dot(a, b, preferred_element_type=jnp.float32))
  wall, _ = median_time(lambda: f(a, b), repeats=repeats)
  return 2.0 * size**3 / wall


def _row(kind, model, dtype, size, batch, wall, cpu, flops_per_image, **extra):
  row = dict(kind=kind, model=model, dtype=dtype, size=size, batch=batch,
             seconds=wall, cpu_seconds=cpu, images_per_s=batch / wall,
             ms_per_image=1e3 * wall / batch, cpu_ms_per_image=1e3 * cpu / batch,
             flops_per_image=flops_per_image, **extra)
  print(_fmt(row), flush=True)
  return row


def bench_inference(sizes, batches, dtypes, *, repeats: int = 3,
                    arch: str = 'animeganv2', width: float = 1.0,
                    budget_s: float = 10.0) -> list[dict]:
  """Generator forward pass (jit, fast conv path on CPU): one row per
  dtype x size x batch."""
  from animejax import models
  rows = []
  for dtype_name in dtypes:
    gen = models.create_generator(arch, width=width,
                                  dtype=jnp.dtype(dtype_name).type)
    params = jax.jit(gen.init)(jax.random.key(0),
                               jnp.zeros((1, 64, 64, 3)))['params']
    apply = jax.jit(lambda p, x, gen=gen: gen.apply({'params': p}, x))
    for size in sizes:
      for batch in batches:
        x = jax.random.uniform(jax.random.key(1), (batch, size, size, 3),
                               jnp.float32, -1, 1)
        compiled = apply.lower(params, x).compile()
        wall, cpu = median_time(lambda c=compiled: c(params, x),
                                repeats=repeats, budget_s=budget_s)
        rows.append(_row('inference', arch, dtype_name, size, batch, wall, cpu,
                         flops(compiled) / batch))
  return rows


def _train_configs(quick: bool, big: bool = False):
  """(name, config, batch) specs: demo always; shinkai at batch 4 unless
  quick, and also at [v2]'s batch 12 with `big` (on 2 CPU cores one batch-12
  GAN step takes about two minutes, which alone would break the full run's
  10-minute budget). VGG weights 'random' keeps it offline (same FLOPs as real
  ones)."""
  if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
  from configs import demo, shinkai
  specs = [('demo', demo.get_config(), 8)]
  if not quick:
    for b in ((4, 12) if big else (4,)):
      c = shinkai.get_config()
      c.vgg.weights = 'random'
      c.data.source = 'procedural'  # offline; the step's cost is the same
      specs.append(('shinkai', c, b))
  return specs


def step_rows(name: str, method, mesh, state, frozen, batch_arrays, key,
              kinds, *, dtype: str, size, batch: int, repeats: int = 3,
              budget_s: float = 20.0) -> tuple[list[dict], Any]:
  """('<kind>_step' rows, the state after them): the run loop's jitted step
  (`train._jit_step`, state donated) of each kind on one batch, with its
  lower + compile seconds ('compile_s')."""
  from animejax import train
  step_fn = train._jit_step(method, mesh)  # pylint: disable=protected-access
  rows = []
  for kind in kinds:
    t0 = time.perf_counter()
    compiled = step_fn.lower(state, frozen, batch_arrays, key, jnp.int32(0),
                             kind).compile()
    compile_s = time.perf_counter() - t0
    holder = {'state': state}

    def run_once(fn=compiled, holder=holder):
      # The state is donated: always feed the newest one back.
      holder['state'], metrics = fn(holder['state'], frozen, batch_arrays,
                                    key, jnp.int32(0))
      return metrics

    wall, cpu = median_time(run_once, repeats=repeats, budget_s=budget_s)
    state = holder['state']
    rows.append(_row(f'{kind}_step', name, dtype, size, batch, wall, cpu,
                     flops(compiled) / batch, compile_s=compile_s))
  return rows, state


def bench_train(config_specs, *, repeats: int = 3,
                budget_s: float = 20.0) -> list[dict]:
  """Images/s of every step kind of each (name, config, batch) spec.

  Goes through the method interface and the run loop's jitted step (what
  `train_and_evaluate` runs), so any registered method can be timed; the
  batch is the method's own first training batch.
  """
  from animejax import methods, parallel
  rows = []
  for name, config, batch in config_specs:
    config.batch_size = batch
    mesh = parallel.create_mesh()
    method = methods.create(config)
    pipeline = method.input_pipeline(0)
    schedule = method.schedule(pipeline.num_train_images)
    frozen = parallel.replicate(method.frozen(), mesh)
    state = parallel.replicate(jax.jit(method.init)(jax.random.key(0)), mesh)
    batch_arrays = parallel.global_batch(next(iter(pipeline.train_iter)),
                                         mesh)
    size = int(next(iter(batch_arrays.values())).shape[1])
    spec_rows, _ = step_rows(name, method, mesh, state, frozen, batch_arrays,
                             jax.random.key(1), schedule.kinds,
                             dtype=config.dtype, size=size, batch=batch,
                             repeats=repeats, budget_s=budget_s)
    rows += spec_rows
  return rows


def bench_input(num_batches: int, image_size: int = 256,
                batch: int = 12) -> list[dict]:
  """Input pipeline images/s on the procedural source (offline).

  Uses bench/input_pipeline.py (data helper) when it exists, otherwise times
  `next(create_input_pipeline(config).train_iter)` directly."""
  if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
  from configs import demo
  c = demo.get_config()
  c.data.image_size = image_size
  c.batch_size = batch
  try:
    from bench import input_pipeline
  except ImportError:
    input_pipeline = None
  if input_pipeline is not None and hasattr(input_pipeline,
                                            'benchmark_input_pipeline'):
    stats = {}
    ips = float(input_pipeline.benchmark_input_pipeline(c, num_batches,
                                                        stats=stats))
    wall = batch / ips
    cpu = stats.get('cpu_ms_per_image', float('nan')) * batch / 1e3
    how = 'bench.input_pipeline'
  else:
    try:
      from animejax.data import create_input_pipeline
    except ImportError as e:
      print(f'# input pipeline skipped: {e}', flush=True)
      return []
    it = create_input_pipeline(c).train_iter
    next(it)  # warm-up: builds the pipeline, fills buffers
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(num_batches):
      b = next(it)
    wall = (time.perf_counter() - t0) / num_batches
    cpu = (time.process_time() - c0) / num_batches
    assert b['photo'].shape == (batch, image_size, image_size, 3)
    how = 'animejax.data.create_input_pipeline'
  return [_row('input', c.data.source, 'float32', image_size, batch, wall, cpu,
               0.0, via=how)]


def _fmt(r: dict) -> str:
  return (f"{r['kind']:>10} {r['model']:>11} {r['dtype']:>8} {r['size']:>5}px "
          f"b{r['batch']:<3} {r['ms_per_image']:9.1f} ms/img "
          f"({r['cpu_ms_per_image']:8.1f} cpu-ms) {r['images_per_s']:8.2f} img/s")


def table(rows: list[dict]) -> str:
  """Markdown table of benchmark rows."""
  lines = ['| what | model | dtype | px | batch | ms/image | cpu-ms/image | '
           'images/s | GFLOP/image | GFLOP/s | % peak |',
           '|---|---|---|---|---|---|---|---|---|---|---|']
  for r in rows:
    lines.append(
        f"| {r['kind']} | {r['model']} | {r['dtype']} | {r['size']} | "
        f"{r['batch']} | {r['ms_per_image']:.1f} | {r['cpu_ms_per_image']:.1f} "
        f"| {r['images_per_s']:.2f} | {r['flops_per_image'] / 1e9:.2f} | "
        f"{r.get('gflops_per_s', 0.0):.1f} | "
        f"{100 * r.get('fraction_of_peak', 0.0):.0f}% |")
  return '\n'.join(lines)


def machine_info() -> dict:
  """CPU model, core count, jax version and backend."""
  model = platform.processor() or platform.machine()
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('model name'):
          model = line.split(':', 1)[1].strip()
          break
  except OSError:
    pass
  return dict(cpu=model, cpus=os.cpu_count(), backend=jax.default_backend(),
              devices=[str(d) for d in jax.devices()], jax=jax.__version__,
              xla_flags=os.environ.get('XLA_FLAGS', ''),
              conv_impl=os.environ.get('ANIMEJAX_CONV_IMPL', 'auto'))


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument('--quick', action='store_true', help='small table, < 2 min')
  p.add_argument('--big', action='store_true',
                 help='also 1024 px at batch 8 and shinkai train steps at '
                 'batch 12 (minutes on CPU)')
  p.add_argument('--only', action='append',
                 choices=('peak', 'inference', 'train', 'input'))
  p.add_argument('--json', default=os.path.join(_ROOT, 'bench', 'results',
                                                'latest.json'))
  p.add_argument('--repeats', type=int, default=3)
  args = p.parse_args(argv)
  want = set(args.only or ('peak', 'inference', 'train', 'input'))
  t_start = time.perf_counter()
  info = dict(machine_info(), quick=args.quick,
              load_before=list(os.getloadavg()))
  print(f'# {info}', flush=True)
  peaks = {}
  if want & {'peak', 'inference', 'train'}:
    for name in ('float32', 'bfloat16'):
      peaks[name] = measure_peak(dtype=jnp.dtype(name).type)
      print(f'# peak {name} 2048 matmul: {peaks[name] / 1e9:.1f} GFLOP/s',
            flush=True)
  rows = []
  if 'inference' in want:
    dtypes = ('float32', 'bfloat16')
    if args.quick:
      rows += bench_inference([256], [1], dtypes, repeats=args.repeats)
    else:
      rows += bench_inference([256, 512], [1, 8], dtypes, repeats=args.repeats)
      rows += bench_inference([1024], [8] if args.big else [1], dtypes,
                              repeats=args.repeats, budget_s=15.0)
  if 'train' in want:
    rows += bench_train(_train_configs(args.quick, args.big),
                        repeats=args.repeats,
                        budget_s=5.0 if args.quick else 20.0)
  if 'input' in want:
    rows += bench_input(3 if args.quick else 10)
  for r in rows:
    peak = peaks.get(r['dtype'], 0.0)
    r['gflops_per_s'] = r['flops_per_image'] * r['images_per_s'] / 1e9
    r['fraction_of_peak'] = r['gflops_per_s'] * 1e9 / peak if peak else 0.0
  info['peak_flops'] = peaks
  info['load_after'] = list(os.getloadavg())
  info['total_seconds'] = time.perf_counter() - t_start
  print()
  print(table(rows))
  print(f"\n# load average before {info['load_before'][0]:.1f}, after "
        f"{info['load_after'][0]:.1f} (1 min); {info['cpus']} CPUs")
  os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
  with open(args.json, 'w') as f:
    json.dump(dict(info=info, rows=rows), f, indent=1)
  print(f"# wrote {args.json} in {info['total_seconds']:.0f} s", flush=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
