"""Mesh, shardings, global batches; data-parallel parity on 8 fake CPU devices.

The 8-device checks run in a subprocess with
XLA_FLAGS=--xla_force_host_platform_device_count=8 so this pytest process
keeps its single device.
"""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from animejax import parallel

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)


def test_single_device_mesh_and_batch():
  mesh = parallel.create_mesh()
  assert mesh.axis_names == ('data',)
  assert mesh.shape['data'] == jax.device_count()
  local = {'photo': np.arange(2 * 4 * 4 * 3, dtype=np.float32).reshape(
      2, 4, 4, 3)}
  out = parallel.global_batch(local, mesh)
  assert out['photo'].shape == (2, 4, 4, 3)
  assert out['photo'].sharding == parallel.batch_sharding(mesh)
  np.testing.assert_array_equal(out['photo'], local['photo'])
  assert parallel.replicated_sharding(mesh).is_fully_replicated


def test_create_mesh_rejects_empty_device_list():
  with pytest.raises(ValueError, match='empty'):
    parallel.create_mesh([])


def test_scalar_batch_entry_raises():
  with pytest.raises(ValueError, match='scalar'):
    parallel.global_batch({'photo': np.float32(1.0)}, parallel.create_mesh())


_SCRIPT = textwrap.dedent(r'''
    import json, sys
    import jax, numpy as np
    sys.path.insert(0, sys.argv[1])
    import train_step_helpers as h
    from animejax import parallel
    from animejax.methods.animegan import steps as ts

    out = {'devices': jax.device_count()}
    mesh8 = parallel.create_mesh()
    mesh1 = parallel.create_mesh(jax.devices()[:1])
    # global_batch: row i of the batch lands on device i.
    local = {'x': np.arange(8 * 2, dtype=np.float32).reshape(8, 2)}
    arr = parallel.global_batch(local, mesh8)['x']
    out['shards'] = sorted(
        (int(s.index[0].start), np.asarray(s.data).tolist())
        for s in arr.addressable_shards)
    try:
      parallel.global_batch({'x': np.zeros((6, 2), np.float32)}, mesh8)
    except ValueError as e:
      out['error'] = str(e)

    cfg = h.tiny_config(**{'optim.init_lr': 1e-2, 'optim.g_lr': 1e-2,
                           'optim.d_lr': 1e-2})
    g, d, vgg, vgg_params = h.tiny_models()
    batch = h.fixed_batch(batch_size=8, seed=7)
    results = {}
    for name, mesh in (('8', mesh8), ('1', mesh1)):
      fns = ts.make_step_fns(cfg, g, d, vgg, mesh)
      state = ts.create_train_state(cfg, jax.random.key(0), g, d)
      state = jax.device_put(state, parallel.replicated_sharding(mesh))
      vp = jax.device_put(vgg_params, parallel.replicated_sharding(mesh))
      b = parallel.global_batch(batch, mesh)
      metrics = []
      state, m = fns.init_step(state, b, vp)
      metrics.append(m)
      for _ in range(2):
        state, m = fns.gan_step(state, b, vp)
        metrics.append(m)
      leaves = [np.asarray(x, np.float64).ravel().tolist()
                for x in jax.tree.leaves((state.g_params, state.d_params,
                                          state.d_spectral))]
      results[name] = {
          'metrics': [{k: float(v) for k, v in mm.items()} for mm in metrics],
          'leaves': leaves}
    out['results'] = results
    print('RESULT' + json.dumps(out))
''')


@pytest.fixture(scope='module')
def eight_devices():
  env = dict(os.environ)
  env['XLA_FLAGS'] = (env.get('XLA_FLAGS', '') +
                      ' --xla_force_host_platform_device_count=8').strip()
  env['JAX_PLATFORMS'] = 'cpu'
  proc = subprocess.run([sys.executable, '-c', _SCRIPT, TESTS], env=env,
                        capture_output=True, text=True, timeout=1500, cwd=REPO)
  assert proc.returncode == 0, proc.stderr[-4000:]
  line = [l for l in proc.stdout.splitlines() if l.startswith('RESULT')][-1]
  return json.loads(line[len('RESULT'):])


def test_global_batch_shards_over_eight_devices(eight_devices):
  out = eight_devices
  assert out['devices'] == 8
  assert out['shards'] == [[i, [[2.0 * i, 2.0 * i + 1]]] for i in range(8)]
  assert 'not divisible by the 8 devices' in out['error']


def test_eight_devices_match_one_device(eight_devices):
  r8, r1 = eight_devices['results']['8'], eight_devices['results']['1']
  for step, (m8, m1) in enumerate(zip(r8['metrics'], r1['metrics'])):
    assert m8.keys() == m1.keys()
    for k in m8:
      np.testing.assert_allclose(m8[k], m1[k], rtol=1e-5, atol=1e-5,
                                 err_msg=f'step {step} {k}')
  for a, b in zip(r8['leaves'], r1['leaves']):
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
