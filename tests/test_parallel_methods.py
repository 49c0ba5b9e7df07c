"""Every registered method, data-parallel over 8 fake CPU devices vs 1.

For each name in `animejax.methods.names()`: the method's smoke config with a
global batch of 8 (a multiple of the 8 devices; stylegan2 also with its
regularisers on and short intervals, so its three kinds run) takes its first
steps, covering every step kind of its schedule, through the run loop's own
pieces: `train._jit_step` (jit with the state and frozen inputs replicated,
the batch sharded on 'data', the state donated, the kind static),
`parallel.global_batch` (the batch) and `parallel.replicate` (init state,
frozen inputs, the step key), on `parallel.create_mesh()` over all 8 devices
and on `parallel.create_mesh(jax.devices()[:1])`, from the same init, key and
host batches. The metrics of every step and every leaf of the final state
must agree, and the 8-device batch must really be split 8 ways (one distinct
row block per device) with the state replicated on all 8.

All methods of a test session run in ONE subprocess with
XLA_FLAGS=--xla_force_host_platform_device_count=8 (this pytest process keeps
its single device), started by the module fixture for the method names the
session selected. Every case is marked slow (`-m slow`): each method
compiles each of its kinds twice (8-device and 1-device programs). Measured
on the shared 2-core CPU at load 5-7 (subprocess time per method): dcgan
86-125 s (first step 36-53 s on 8 devices, 32-46 s on 1), dragan 43 s,
stylegan2 167-220 s (main_pl_r1, main, main_pl: 33-54, 15-26, 32-46 s on 8
devices; 31-33, 17-19, 27-29 s on 1).
"""

import json
import os
import re
import subprocess
import sys
import textwrap
import time

import ml_collections
import numpy as np
import pytest

pytestmark = pytest.mark.slow

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)
if REPO not in sys.path:  # `configs` is a folder of the repo, not installed
  sys.path.insert(0, REPO)

from animejax import methods  # pylint: disable=g-import-not-at-top,wrong-import-position

DEVICES = 8
NAMES = methods.names()
MIN_STEPS = 3

# Tolerance of 8-device vs 1-device values (float32), for metrics and state
# leaves alike (as tests/test_parallel.py for AnimeGAN). GSPMD runs the same
# program on row blocks of the batch and all-reduces the batch sums (losses,
# gradients, BatchNorm and minibatch-std statistics); the step's random
# draws are functions of the replicated key, not of the sharding
# (jax_threefry_partitionable; stylegan2's unsafe_rbg draws too: its step-0
# losses come out bit-equal). So the runs differ only in the order of float32
# additions: measured after 3 steps, the leaves differ by at most 2.4e-7
# (stylegan2; dcgan 1.8e-7; 40-60 % of all values bit-equal) and the metrics
# by at most 6e-8 (all three). 1e-5 leaves a margin of 40x for other methods
# and machines, and is far below what a sharding bug (statistics of one
# device's rows, a missing all-reduce, per-device random draws) changes:
# 1e-3 to 1 relative.
RTOL, ATOL = 1e-5, 1e-5
# Except leaves whose gradient is zero in exact arithmetic: their float
# gradient is reduction-order noise, which Adam (a step of up to ~lr whatever
# the gradient's size) turns into different steps on 8 and on 1 device.
# DRAGAN's generator residual blocks feed a conv with a bias straight into a
# training-mode BatchNorm (animejax/models/dragan.py 'res{i}_conv{1,2}' ->
# 'res{i}_bn{1,2}'), which subtracts every per-channel constant; the BN
# running means carry those biases (the running variances do not, and
# match). Measured: 5.1e-5 (biases; lr 2e-4) and 1.1e-5 (means of ~0.03)
# after 3 steps. For these leaves only |8-device - 1-device| <= NOISE_ATOL.
NOISE_LEAVES = {
    'dragan': (r"^\.g_params\['res\d+_conv\d'\]\['bias'\]$",
               r"^\.g_stats\['res\d+_bn\d'\]\['mean'\]$"),
}
NOISE_ATOL = 1e-3  # 5 x (3 steps x lr 2e-4): the scale of noise-driven steps


def parallel_config(name: str) -> ml_collections.ConfigDict:
  """`name`'s smoke config with a global batch of DEVICES images.

  stylegan2's smoke config has only 'main' (no regularisers); here R1 and
  path length are on ([ada] loss.py defaults pl_weight 2, style mixing 0.9)
  with intervals 2 (G) and 4 (D), so steps 0, 1, 2 are 'main_pl_r1',
  'main', 'main_pl' (as [ada]'s 4 / 16 give at steps 0, 1, 4).
  """
  config = methods.module(name).smoke_config()
  config.batch_size = DEVICES
  if name == 'stylegan2':
    config.loss.r1_gamma = 1.0
    config.loss.pl_weight = 2.0
    config.loss.style_mixing_prob = 0.9
    config.loss.g_reg_interval = 2
    config.loss.d_reg_interval = 4
  return config


def steps_to_run(schedule) -> int:
  """The first steps of `schedule` that show every kind (at least MIN_STEPS
  when the run is that long)."""
  seen, n = set(), 0
  while n < schedule.total_steps and (n < MIN_STEPS or
                                      seen != set(schedule.kinds)):
    seen.add(schedule.step_kind(n))
    n += 1
  return n


# Runs in the 8-device subprocess: argv = tests dir, output dir, names JSON.
# Writes <out>/<name>_<mesh>.npz (the final state's leaves in tree order) and
# prints one line RESULT{json}.
_SCRIPT = textwrap.dedent(r'''
    import json, os, sys, time, traceback
    import jax, jax.numpy as jnp, numpy as np
    sys.path.insert(0, sys.argv[1])
    import test_parallel_methods as t
    from animejax import config_lib, methods, parallel, train

    out_dir, names = sys.argv[2], json.loads(sys.argv[3])
    mesh8 = parallel.create_mesh()
    mesh1 = parallel.create_mesh(jax.devices()[:1])

    def describe_batch(batch):
      """Per entry: global shape, spec, (first row, rows, device) per shard."""
      return {k: {'shape': list(v.shape),
                  'spec': [str(a) for a in v.sharding.spec],
                  'shards': sorted((int(s.index[0].start or 0),
                                    int(s.data.shape[0]), int(s.device.id))
                                   for s in v.addressable_shards)}
              for k, v in batch.items()}

    def host(x):
      if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        x = jax.random.key_data(x)
      return np.asarray(x)

    def run(name, label, mesh, method, initial, host_batches, kinds):
      # What train.train_and_evaluate does before and in its loop (the
      # frozen inputs and the jitted init's state computed once, on the host:
      # both meshes start from the same values).
      t0 = time.perf_counter()
      init_key, frozen, state = initial
      frozen = parallel.replicate(frozen, mesh)
      step_key = parallel.replicate(
          jax.random.fold_in(init_key, train._STEP_KEY_SALT), mesh)
      state = parallel.replicate(state, mesh)
      train_step = train._jit_step(method, mesh)
      jax.block_until_ready(state)
      res = {'metrics': [], 'batches': [], 'seconds': [],
             'setup_seconds': time.perf_counter() - t0}
      print(f'{name} {label} setup: {res["setup_seconds"]:.1f} s',
            file=sys.stderr, flush=True)
      for step, kind in enumerate(kinds):
        batch = parallel.global_batch(host_batches[step], mesh)
        res['batches'].append(describe_batch(batch))
        start = time.perf_counter()
        state, m = train_step(state, frozen, batch, step_key,
                              jnp.int32(step), kind)
        m = jax.device_get(m)
        res['seconds'].append(time.perf_counter() - start)
        print(f'{name} {label} step {step} {kind}: '
              f'{res["seconds"][-1]:.1f} s', file=sys.stderr, flush=True)
        res['metrics'].append({k: float(v) for k, v in m.items()})
      leaves, _ = jax.tree_util.tree_flatten_with_path(state)
      res['paths'] = [jax.tree_util.keystr(p) for p, _ in leaves]
      res['state_devices'] = sorted({len(x.sharding.device_set)
                                     for _, x in leaves})
      res['state_replicated'] = all(x.sharding.is_fully_replicated
                                    for _, x in leaves)
      np.savez(os.path.join(out_dir, f'{name}_{label}.npz'),
               **{f'{i:05d}': host(x) for i, (_, x) in enumerate(leaves)})
      return res

    out = {'devices': jax.device_count(),
           'mesh8': int(mesh8.devices.size), 'mesh1': int(mesh1.devices.size),
           'methods': {}}
    for name in names:
      start = time.perf_counter()
      try:
        config = t.parallel_config(name)
        config_lib.validate(config)  # with 8 devices: batch % 8 checked
        method = methods.create(config)
        pipeline = method.input_pipeline(0)
        schedule = method.schedule(pipeline.num_train_images)
        kinds = [schedule.step_kind(s) for s in range(t.steps_to_run(schedule))]
        stream = iter(pipeline.train_iter)
        host_batches = [next(stream) for _ in kinds]
        init_key = jax.random.key(config.seed)
        start_values = (init_key, jax.device_get(method.frozen()),
                        jax.device_get(jax.jit(method.init)(init_key)))
        np.savez(os.path.join(out_dir, f'{name}_init.npz'), **{
            f'{i:05d}': host(x)
            for i, x in enumerate(jax.tree.leaves(start_values[2]))})
        r = {'schedule_kinds': list(schedule.kinds), 'kinds': kinds}
        for label, mesh in (('8', mesh8), ('1', mesh1)):
          r[label] = run(name, label, mesh, method, start_values,
                         host_batches, kinds)
      except Exception:  # reported by this method's tests, not the others'
        r = {'error': traceback.format_exc()}
      r['total_seconds'] = time.perf_counter() - start
      out['methods'][name] = r
      print(f'{name}: {r["total_seconds"]:.1f} s', file=sys.stderr, flush=True)
    print('RESULT' + json.dumps(out))
''')


def _selected_names(session) -> list[str]:
  """Method names of this module's tests the session will run."""
  names = []
  for item in session.items:
    callspec = getattr(item, 'callspec', None)
    module = getattr(item, 'module', None)
    if (module is not None and module.__name__ == __name__ and
        callspec is not None and 'name' in callspec.params):
      if callspec.params['name'] not in names:
        names.append(callspec.params['name'])
  return names


@pytest.fixture(scope='module')
def eight_devices(request, tmp_path_factory):
  """The subprocess's results for every selected method, and its npz dir."""
  names = _selected_names(request.session)
  out_dir = tmp_path_factory.mktemp('parallel_methods')
  env = dict(os.environ)
  env['XLA_FLAGS'] = (env.get('XLA_FLAGS', '') +
                      f' --xla_force_host_platform_device_count={DEVICES}'
                      ).strip()
  env['JAX_PLATFORMS'] = 'cpu'
  start = time.perf_counter()
  proc = subprocess.run(
      [sys.executable, '-c', _SCRIPT, TESTS, str(out_dir), json.dumps(names)],
      env=env, capture_output=True, text=True, timeout=1200 * len(names),
      cwd=REPO)
  assert proc.returncode == 0, proc.stderr[-4000:]
  line = [l for l in proc.stdout.splitlines() if l.startswith('RESULT')][-1]
  result = json.loads(line[len('RESULT'):])
  result['seconds'] = time.perf_counter() - start
  (out_dir / 'result.json').write_text(json.dumps(result))
  sys.stderr.write(proc.stderr[-2000:])
  return result, out_dir


def _method(eight_devices, name):
  result, _ = eight_devices
  assert result['devices'] == DEVICES
  assert (result['mesh8'], result['mesh1']) == (DEVICES, 1)
  r = result['methods'][name]
  assert 'error' not in r, r['error']
  return r


@pytest.mark.parametrize('name', NAMES)
def test_batch_sharded_state_replicated(eight_devices, name):
  r = _method(eight_devices, name)
  # Every kind of the schedule ran (one compiled program each).
  assert set(r['kinds']) == set(r['schedule_kinds']), r['kinds']
  assert len(r['kinds']) >= MIN_STEPS
  for step, batch in enumerate(r['8']['batches']):
    assert batch, f'step {step}: empty batch'
    for key, entry in batch.items():
      rows = entry['shape'][0]
      assert rows % DEVICES == 0, (step, key, entry['shape'])
      per = rows // DEVICES
      assert entry['spec'] == ['data'], (step, key, entry)
      # Row block i (rows i*per .. (i+1)*per) on its own device, 8 devices.
      assert [s[:2] for s in entry['shards']] == [
          [i * per, per] for i in range(DEVICES)], (step, key, entry)
      assert len({s[2] for s in entry['shards']}) == DEVICES, (step, key)
  for step, batch in enumerate(r['1']['batches']):
    for key, entry in batch.items():
      assert [s[:2] for s in entry['shards']] == [[0, entry['shape'][0]]]
  # The state after the steps: whole on each of the 8 (or the 1) devices.
  assert r['8']['state_devices'] == [DEVICES]
  assert r['1']['state_devices'] == [1]
  assert r['8']['state_replicated'] and r['1']['state_replicated']


@pytest.mark.parametrize('name', NAMES)
def test_eight_devices_match_one_device(eight_devices, name):
  r = _method(eight_devices, name)
  _, out_dir = eight_devices
  r8, r1 = r['8'], r['1']
  assert len(r8['metrics']) == len(r1['metrics']) == len(r['kinds'])
  for step, (m8, m1) in enumerate(zip(r8['metrics'], r1['metrics'])):
    assert m8 and m8.keys() == m1.keys(), (step, m8.keys(), m1.keys())
    for k in m8:
      np.testing.assert_allclose(
          m8[k], m1[k], rtol=RTOL, atol=ATOL,
          err_msg=f'step {step} ({r["kinds"][step]}) metric {k}')
  assert r8['paths'] == r1['paths']
  noise = [re.compile(p) for p in NOISE_LEAVES.get(name, ())]
  moved, noisy = 0, 0
  with np.load(out_dir / f'{name}_8.npz') as a8, \
       np.load(out_dir / f'{name}_1.npz') as a1, \
       np.load(out_dir / f'{name}_init.npz') as a0:
    assert sorted(a8.files) == sorted(a1.files) == sorted(a0.files)
    assert len(a8.files) == len(r8['paths'])
    for key in sorted(a8.files):
      path = r8['paths'][int(key)]
      x8, x1 = a8[key], a1[key]
      assert x8.shape == x1.shape and x8.dtype == x1.dtype, path
      moved += not np.array_equal(x8, a0[key])
      if any(p.match(path) for p in noise):
        noisy += 1
        np.testing.assert_allclose(x8, x1, rtol=0, atol=NOISE_ATOL,
                                   err_msg=path)
      elif np.issubdtype(x8.dtype, np.floating):
        np.testing.assert_allclose(x8, x1, rtol=RTOL, atol=ATOL,
                                   err_msg=path)
      else:  # step counters, integer buffers, key data: exactly equal
        np.testing.assert_array_equal(x8, x1, err_msg=path)
  # The steps trained: compared are states that moved away from the init.
  assert moved > len(r8['paths']) // 2, (moved, len(r8['paths']))
  if noise:  # each pattern names leaves that exist (a rename must update
    # it), and together they are a small part of the state.
    assert all(any(p.match(q) for q in r8['paths']) for p in noise), (
        NOISE_LEAVES[name])
    assert noisy <= len(r8['paths']) // 10, noisy
