"""StyleGAN2 bench rows: G forward ('generate') and train steps, f32 / bf16.

  python -m bench.stylegan2                  # small config at 32 and 64 px
  python -m bench.stylegan2 --paper256       # + configs/stylegan2_anime256.py
                                             #   at batch 4 (slow on a CPU)
  python -m bench.stylegan2 --smoke          # 8 px smoke config: code path
  python -m bench.stylegan2 --json out.json  # also write the rows

Specs: configs/stylegan2_small.py as configured (32 px, batch 16) and the
same config at 64 px ('stylegan2_small@64': only data.image_size changed;
16 channels at 64 px), each in float32 and bfloat16 (config.dtype: the
model.num_bf16_res=4 highest-resolution G/D blocks in bf16); with
--paper256 configs/stylegan2_anime256.py ([ada] cfg_specs paper256:
channel_base 16384, 24.8M + 24.0M parameters) in float32 at batch 4
(--paper256_batch; its recipe's 64 does not fit a 2-core 24 GB CPU's
patience) with mbstd group 4 instead of 8 (a batch must be a multiple of
the group: same FLOPs up to the tiny mbstd layer).

Rows, each timed by bench.run.median_time (median wall and process-CPU
seconds after one warm-up call) with GFLOP/image from XLA's cost analysis of
the compiled function and `compile_s` (lower + compile; no persistent
compilation cache is set here):
  generate      the method's 'generate' predict fn (G_ema mapping +
                synthesis, const noise, clip) on N = batch z's.
  g_main        one [ada] Gmain phase: value_and_grad of softplus(-D(G(z)))
                over G's params and G's Adam update.
  d_main        one [ada] Dmain phase: G forward for the fakes, then
                value_and_grad of the D loss on fakes and reals and D's Adam
                update.
  <kind>_step   the run loop's jitted step (animejax.train._jit_step, state
                donated) of each kind of the schedule: main = Gmain + Dmain
                + EMA, main_pl adds Greg (path length), main_pl_r1 adds Dreg
                (R1). The regularised kinds run unless --no_reg.
The reals are uniform noise in [-1, 1] (a step's cost does not depend on
the pixels; no data folder is read) and the VGG feature net is not built
(train steps do not use it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import optax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench import run as bench  # noqa: E402  pylint: disable=wrong-import-position
from animejax import parallel  # noqa: E402  pylint: disable=wrong-import-position
from animejax.methods import stylegan2  # noqa: E402  pylint: disable=wrong-import-position


def specs(smoke: bool = False, paper256: bool = False,
          paper256_batch: int = 4) -> list[tuple[str, object, int]]:
  """(name, config, batch) of every spec, dtype set in the config."""
  from configs import stylegan2_anime256, stylegan2_small  # pylint: disable=g-import-not-at-top
  out = []
  if smoke:
    for dtype in ('float32', 'bfloat16'):
      c = stylegan2.smoke_config()
      c.dtype = dtype
      out.append(('stylegan2_smoke', c, c.batch_size))
    return out
  for size in (32, 64):
    for dtype in ('float32', 'bfloat16'):
      c = stylegan2_small.get_config()
      c.data.image_size = size
      c.dtype = dtype
      name = 'stylegan2_small' + ('' if size == 32 else f'@{size}')
      out.append((name, c, c.batch_size))
  if paper256:
    c = stylegan2_anime256.get_config()
    c.batch_size = paper256_batch
    c.model.mbstd_group_size = min(c.model.mbstd_group_size, paper256_batch)
    c.eval.vgg_weights = 'random'  # never downloaded: train steps skip VGG
    out.append(('stylegan2_anime256', c, paper256_batch))
  return out


def _timed_compile(jitted, *args):
  t0 = time.perf_counter()
  compiled = jitted.lower(*args).compile()
  return compiled, time.perf_counter() - t0


def rows_for(name: str, config, batch: int, *, reg: bool = True,
             repeats: int = 3, budget_s: float = 20.0) -> list[dict]:
  """generate, g_main, d_main and <kind>_step rows of one spec."""
  config.batch_size = batch
  errors = stylegan2.config_errors(config)
  errors = [e for e in errors if 'image_dir' not in e]  # no data is read
  if errors:
    raise ValueError(f'{name}: {errors}')
  method = stylegan2.create(config)
  size, dtype = config.data.image_size, config.dtype
  state = jax.jit(method.init)(jax.random.key(0))
  reals = jax.random.uniform(jax.random.key(2), (batch, size, size, 3),
                             jnp.float32, -1.0, 1.0)
  z = method.noise(jax.random.key(3), batch)
  key = jax.random.key(4)
  rows = []

  def row(kind, fn, compiled, compile_s):
    wall, cpu = bench.median_time(fn, repeats=repeats, budget_s=budget_s)
    rows.append(bench._row(  # pylint: disable=protected-access
        kind, name, dtype, size, batch, wall, cpu,
        bench.flops(compiled) / batch, compile_s=compile_s))

  # G forward: N = batch images from G_ema, as sampling and metrics run it.
  params = method.inference_params(state)
  gen = jax.jit(method.predict_fns()['generate'])
  compiled, secs = _timed_compile(gen, params, {'z': z})
  row('generate', lambda: compiled(params, {'z': z})['images'], compiled,
      secs)

  # The Gmain and Dmain phases alone ([ada] loss.py; Adam as in the step,
  # and its cheap PRNG: config.rng_impl, stylegan2.fast_key).
  def g_main(state, z, rng):
    rng = stylegan2.fast_key(rng, config.rng_impl)
    (loss, _), grads = jax.value_and_grad(method.g_main_loss, has_aux=True)(
        state.g_params, state.d_params, state.g_buffers, z, rng)
    updates, opt = method.g_tx.update(grads, state.g_opt, state.g_params)
    return optax.apply_updates(state.g_params, updates), opt, loss

  def d_main(state, reals, z, rng):
    rng = stylegan2.fast_key(rng, config.rng_impl)
    fakes, _, _ = method.run_g(state.g_params, state.g_buffers, z, rng)
    (loss, _), grads = jax.value_and_grad(method.d_main_loss, has_aux=True)(
        state.d_params, jax.lax.stop_gradient(fakes), reals)
    updates, opt = method.d_tx.update(grads, state.d_opt, state.d_params)
    return optax.apply_updates(state.d_params, updates), opt, loss

  compiled, secs = _timed_compile(jax.jit(g_main), state, z, key)
  row('g_main', lambda: compiled(state, z, key), compiled, secs)
  compiled, secs = _timed_compile(jax.jit(d_main), state, reals, z, key)
  row('d_main', lambda: compiled(state, reals, z, key), compiled, secs)

  # The run loop's step of each kind.
  mesh = parallel.create_mesh()
  kinds = method.schedule(0).kinds if reg else ('main',)
  step, _ = bench.step_rows(
      name, method, mesh, parallel.replicate(state, mesh), {},
      parallel.global_batch({'image': reals}, mesh),
      parallel.replicate(key, mesh), kinds, dtype=dtype, size=size,
      batch=batch, repeats=repeats, budget_s=budget_s)
  rows += step
  return rows


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument('--smoke', action='store_true',
                 help='8 px smoke config only (checks the code path)')
  p.add_argument('--paper256', action='store_true',
                 help='also configs/stylegan2_anime256.py (float32)')
  p.add_argument('--paper256_batch', type=int, default=4)
  p.add_argument('--no_reg', action='store_true',
                 help="only the 'main' step kind (no path length / R1)")
  p.add_argument('--repeats', type=int, default=3)
  p.add_argument('--json', default='')
  args = p.parse_args(argv)
  t_start = time.perf_counter()
  info = dict(bench.machine_info(), load_before=list(os.getloadavg()))
  print(f'# {info}', flush=True)
  peaks = {}
  if not args.smoke:
    for dt in ('float32', 'bfloat16'):
      peaks[dt] = bench.measure_peak(dtype=jnp.dtype(dt).type)
      print(f'# peak {dt} 2048 matmul: {peaks[dt] / 1e9:.1f} GFLOP/s',
            flush=True)
  rows = []
  for name, config, batch in specs(args.smoke, args.paper256,
                                   args.paper256_batch):
    rows += rows_for(name, config, batch, reg=not args.no_reg,
                     repeats=1 if args.smoke else args.repeats,
                     budget_s=5.0 if args.smoke else 20.0)
  for r in rows:
    r['gflops_per_s'] = r['flops_per_image'] * r['images_per_s'] / 1e9
    peak = peaks.get(r['dtype'], 0.0)
    r['fraction_of_peak'] = r['gflops_per_s'] * 1e9 / peak if peak else 0.0
  info.update(peak_flops=peaks, load_after=list(os.getloadavg()),
              total_seconds=time.perf_counter() - t_start)
  print()
  print(bench.table(rows))
  print('\n| what | model | dtype | px | batch | compile s |\n'
        '|---|---|---|---|---|---|')
  for r in rows:
    print(f"| {r['kind']} | {r['model']} | {r['dtype']} | {r['size']} | "
          f"{r['batch']} | {r['compile_s']:.1f} |")
  print(f"\n# load average before {info['load_before'][0]:.1f}, after "
        f"{info['load_after'][0]:.1f} (1 min); {info['cpus']} CPUs; "
        f"{info['total_seconds']:.0f} s")
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(dict(info=info, rows=rows), f, indent=1)
  return 0


if __name__ == '__main__':
  sys.exit(main())
