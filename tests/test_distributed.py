"""animejax.distributed: environment detection, and multi-process training.

The multi-process test starts 2 processes on localhost (2 CPU devices each),
joined by jax.distributed through 127.0.0.1, trains a few steps of a tiny demo
config and checks that both end with identical parameters, equal to a
single-process run (4 CPU devices) with the same global batch.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np
import pytest

from animejax import distributed

REPO = pathlib.Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ plan()
def test_plan_single_process_does_nothing():
  assert distributed.plan(environ={}).method == 'none'
  assert not distributed.plan(environ={'HOME': '/x'}).initialize


def test_plan_explicit_from_env_and_args():
  env = {'ANIMEJAX_COORDINATOR': '10.0.0.1:1234', 'ANIMEJAX_NUM_PROCESSES': '4',
         'ANIMEJAX_PROCESS_ID': '3', 'ANIMEJAX_LOCAL_DEVICE_IDS': '0,1'}
  p = distributed.plan(environ=env)
  assert p == distributed.Plan('explicit', '10.0.0.1:1234', 4, 3, (0, 1))
  # Arguments (the absl flags) win over the environment.
  p = distributed.plan('h:1', 2, 0, '5', environ=env)
  assert p == distributed.Plan('explicit', 'h:1', 2, 0, (5,))
  # One process with no coordinator: nothing to join.
  assert distributed.plan(num_processes=1, environ={}).method == 'none'


def test_plan_explicit_errors_name_the_missing_setting():
  with pytest.raises(ValueError, match='missing: process_id'):
    distributed.plan(environ={'ANIMEJAX_COORDINATOR': 'h:1',
                              'ANIMEJAX_NUM_PROCESSES': '2'})
  with pytest.raises(ValueError, match='outside'):
    distributed.plan('h:1', 2, 2, environ={})
  with pytest.raises(ValueError, match='ANIMEJAX_NUM_PROCESSES=.*integer'):
    distributed.plan(environ={'ANIMEJAX_NUM_PROCESSES': 'two'})
  with pytest.raises(ValueError, match='ANIMEJAX_LOCAL_DEVICE_IDS'):
    distributed.plan('h:1', 2, 0, environ={'ANIMEJAX_LOCAL_DEVICE_IDS': 'a,b'})
  with pytest.raises(ValueError, match='ANIMEJAX_DISTRIBUTED'):
    distributed.plan(environ={'ANIMEJAX_DISTRIBUTED': 'maybe'})


def test_plan_slurm_only_inside_multi_task_steps():
  step = {'SLURM_JOB_ID': '7', 'SLURM_STEP_NODELIST': 'n[1-2]',
          'SLURM_NTASKS': '8', 'SLURM_STEP_NUM_TASKS': '8',
          'SLURM_PROCID': '3', 'SLURM_LOCALID': '3'}
  assert distributed.plan(environ=step).method == 'slurm'
  # The batch script itself (no job step): a single process, never wait.
  batch = {'SLURM_JOB_ID': '7', 'SLURM_NTASKS': '8'}
  assert distributed.plan(environ=batch).method == 'none'
  # A one-task step.
  one = dict(step, SLURM_NTASKS='1', SLURM_STEP_NUM_TASKS='1')
  assert distributed.plan(environ=one).method == 'none'


def test_plan_tpu_and_forced_and_off():
  assert distributed.plan(environ={'TPU_WORKER_HOSTNAMES': 'a,b,c,d'}).method == 'tpu'
  assert distributed.plan(environ={'TPU_WORKER_HOSTNAMES': 'a'}).method == 'none'
  assert distributed.plan(
      environ={'MEGASCALE_COORDINATOR_ADDRESS': 'h:8080'}).method == 'tpu'
  assert distributed.plan(environ={'ANIMEJAX_DISTRIBUTED': '1'}).method == 'forced'
  off = {'ANIMEJAX_DISTRIBUTED': '0', 'TPU_WORKER_HOSTNAMES': 'a,b',
         'ANIMEJAX_COORDINATOR': 'h:1'}
  assert distributed.plan(environ=off).method == 'none'


def test_maybe_initialize_single_process_is_a_noop(monkeypatch):
  for key in list(os.environ):
    if key.startswith(('ANIMEJAX_', 'SLURM_', 'TPU_', 'MEGASCALE_')):
      monkeypatch.delenv(key)
  monkeypatch.setattr(distributed, '_RESULT', None)
  p = distributed.maybe_initialize()
  assert p.method == 'none'
  assert distributed.maybe_initialize() is p
  import jax  # pylint: disable=g-import-not-at-top
  assert jax.process_count() == 1 and not jax.distributed.is_initialized()


def test_absl_flags_are_defined_once():
  from absl import flags  # pylint: disable=g-import-not-at-top
  fv = flags.FlagValues()
  distributed.define_flags(fv)
  distributed.define_flags(fv)  # idempotent
  fv(['prog', '--coordinator_address=h:9', '--num_processes=2',
      '--process_id=1', '--local_device_ids=0,1'])
  assert (fv.coordinator_address, fv.num_processes, fv.process_id,
          fv.local_device_ids) == ('h:9', 2, 1, '0,1')


# ------------------------------------------------- multi-process training
# Runs in its own interpreter: XLA's CPU device count and jax.distributed
# must be set before JAX starts, and the pytest process stays 1-device.
WORKER = r'''
import json
import os
import sys

import numpy as np
import jax

jax.config.update('jax_num_cpu_devices', int(os.environ['WORKER_DEVICES']))
sys.path.insert(0, os.environ['WORKER_REPO'])

from animejax import distributed
plan = distributed.maybe_initialize()  # ANIMEJAX_* from the test

from animejax.methods.animegan import config as animegan_config
from animejax import data
from animejax import models
from animejax import parallel
from animejax.methods.animegan import steps as train_step
from animejax.models import vgg_weights
from configs import demo

config = demo.get_config()
config.data.image_size = 32
config.data.procedural_epoch_size = 16
config.data.num_val_images = 4
config.batch_size = 4                 # global: 4 devices x 1 image
config.steps_per_epoch = 2
config.num_epochs = 2
config.init_epochs = 1                # steps 0-1: init phase
config.num_train_steps = 4            # steps 2-3: GAN phase
config.log_every_steps = 2
config.checkpoint_every_steps = 4
config.eval_every_steps = 4
config.sample_every_steps = 4
config.num_sample_images = 2

# The run loop's training part (animejax.train.train_and_evaluate), driven
# directly: the data pipeline's per-process batches, global batches on the
# mesh, the jitted init/GAN steps.
mesh = parallel.create_mesh()
generator = models.generator_from_config(config.generator)
discriminator = models.discriminator_from_config(config.discriminator)
vgg, vgg_params = vgg_weights.vgg_from_config(config.vgg)
state = train_step.create_train_state(config, jax.random.key(config.seed),
                                      generator, discriminator)
state = parallel.replicate(state, mesh)
vgg_params = parallel.replicate(vgg_params, mesh)
pipeline = data.create_input_pipeline(config)
schedule = animegan_config.derive(config, pipeline.num_train_images)
fns = train_step.make_step_fns(config, generator, discriminator, vgg, mesh)
train_iter = iter(pipeline.train_iter)
losses = []
for step in range(schedule.total_steps):
  fn = fns.init_step if schedule.phase(step) == 'init' else fns.gan_step
  state, metrics = fn(state, parallel.global_batch(next(train_iter), mesh),
                      vgg_params)
  losses.append({k: float(v) for k, v in jax.device_get(metrics).items()})
result = {'steps': schedule.total_steps,
          'phases': [schedule.phase(i) for i in range(schedule.total_steps)],
          'losses': losses}
captured = {'state': state}

arrays = {}
for path, leaf in jax.tree_util.tree_flatten_with_path(captured['state'])[0]:
  if not isinstance(leaf, jax.Array):
    continue
  if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
    leaf = jax.random.key_data(leaf)
  assert leaf.is_fully_replicated, (jax.tree_util.keystr(path), leaf.sharding)
  shards = [np.asarray(s.data) for s in leaf.addressable_shards]
  for s in shards[1:]:  # every local device holds the same copy
    np.testing.assert_array_equal(s, shards[0])
  arrays[jax.tree_util.keystr(path)] = shards[0]

out = os.environ['WORKER_OUT']
tag = f'{jax.process_count()}proc_{jax.process_index()}'
np.savez(os.path.join(out, f'state_{tag}.npz'), **arrays)
with open(os.path.join(out, f'result_{tag}.json'), 'w') as f:
  json.dump({'result': result, 'method': plan.method,
             'init_lr': config.optim.init_lr,
             'devices': jax.device_count(),
             'local_devices': jax.local_device_count()}, f, default=float)
'''


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _start(script, out, workdir, devices, env_extra):
  """Starts one worker; its output goes to out/log_<n>.txt."""
  env = {k: v for k, v in os.environ.items()
         if not k.startswith(('ANIMEJAX_', 'SLURM_', 'TPU_', 'XLA_FLAGS'))}
  env.update(JAX_PLATFORMS='cpu', WORKER_DEVICES=str(devices),
             WORKER_REPO=str(REPO), WORKER_OUT=str(out),
             WORKER_WORKDIR=str(workdir), **env_extra)
  log = open(out / f'log_{len(list(out.glob("log_*")))}.txt', 'w')
  return subprocess.Popen([sys.executable, str(script)], env=env, stdout=log,
                          stderr=subprocess.STDOUT), log


@pytest.mark.slow  # two processes train twice: ~4 min on 2 cores
def test_two_processes_train_like_one(tmp_path):
  script = tmp_path / 'worker.py'
  script.write_text(WORKER)
  out = tmp_path / 'out'
  out.mkdir()
  coordinator = f'127.0.0.1:{_free_port()}'
  procs = [_start(script, out, tmp_path / 'run_2proc', 2, {
      'ANIMEJAX_COORDINATOR': coordinator, 'ANIMEJAX_NUM_PROCESSES': '2',
      'ANIMEJAX_PROCESS_ID': str(i)}) for i in range(2)]
  # The reference: one process with the same 4 devices and global batch.
  procs.append(_start(script, out, tmp_path / 'run_1proc', 4, {}))
  try:
    codes = [p.wait(timeout=1800) for p, _ in procs]
  finally:
    for p, log in procs:
      if p.poll() is None:
        p.kill()
      log.close()
  logs = '\n'.join(f'--- {f.name}\n' + f.read_text()[-3000:]
                   for f in sorted(out.glob('log_*')))
  assert codes == [0, 0, 0], logs

  results = {t: json.loads((out / f'result_{t}.json').read_text())
             for t in ('2proc_0', '2proc_1', '1proc_0')}
  assert results['2proc_0']['method'] == 'explicit'
  assert results['2proc_0']['devices'] == 4
  assert results['2proc_0']['local_devices'] == 2
  assert results['1proc_0']['method'] == 'none'
  # Same schedule (2 init + 2 GAN steps) and the same losses at every step.
  r2, r1 = results['2proc_0']['result'], results['1proc_0']['result']
  assert r2 == results['2proc_1']['result']
  assert r2['phases'] == r1['phases'] == ['init', 'init', 'gan', 'gan']
  for step, (m2, m1) in enumerate(zip(r2['losses'], r1['losses'])):
    assert m2.keys() == m1.keys()
    off = {k: (m2[k], m1[k]) for k in m2
           if abs(m2[k] - m1[k]) > 1e-5 * max(1.0, abs(m1[k]))}
    assert not off, f'step {step}: 2 processes vs 1: {off}'
  states = {t: dict(np.load(out / f'state_{t}.npz')) for t in results}
  a, b, ref = states['2proc_0'], states['2proc_1'], states['1proc_0']
  assert a.keys() == b.keys() == ref.keys()
  assert any('g_params' in k for k in a) and any('d_params' in k for k in a)
  # Both processes hold identical parameters and optimizer state ...
  for k in a:
    np.testing.assert_array_equal(a[k], b[k], err_msg=k)
  # ... equal to the single-process run up to float reduction order. Adam
  # turns a gradient entry at rounding-noise level into a step of up to one
  # learning rate (m / sqrt(v) ~ +-1), so a rare entry may differ by that much
  # (measured: median 0, 99.9th percentile 3e-8, max 9e-5 over 212k params);
  # anything systematic (another batch, a missed all-reduce) moves far more
  # entries, and the losses above would already differ.
  rel = {}
  for k in a:
    if a[k].dtype.kind == 'f' and a[k].size:
      scale = max(1.0, float(np.max(np.abs(ref[k]))))
      rel[k] = np.abs(a[k].astype(np.float64) - ref[k]).ravel() / scale
  everything = np.concatenate(list(rel.values()))
  assert np.mean(everything > 1e-5) < 1e-4, sorted(
      ((float(np.max(v)), k) for k, v in rel.items()), reverse=True)[:5]
  worst = max((float(np.max(v)), k) for k, v in rel.items())
  assert worst[0] < results['1proc_0']['init_lr'], worst
  for k in a:
    if a[k].dtype.kind != 'f':
      np.testing.assert_array_equal(a[k], ref[k], err_msg=k)
