"""The run loop end to end on a tiny procedural run (CPU, 32 px, width 0.25).

Exact resumption is checked against an uninterrupted run of the same length:
after SIGKILL (restart from the last complete checkpoint) and after SIGTERM
(preemption: checkpoint at the current step, clean exit), every leaf of the
final TrainState (params, optimizer states, spectral vectors, RNG) is equal.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import jax
import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # `configs` is a folder of the repo, not installed
  sys.path.insert(0, REPO)

from animejax import checkpointing  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax import sweep  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax import train  # pylint: disable=g-import-not-at-top,wrong-import-position
from configs import demo  # pylint: disable=g-import-not-at-top,wrong-import-position

# 4 steps per epoch, 1 init epoch + 2 adversarial: 12 steps, both phases.
OVERRIDES = {
    'data.image_size': 32,
    'data.num_val_images': 4,
    'data.procedural_epoch_size': 16,
    'data.shuffle_buffer': 8,
    'batch_size': 2,
    'generator.width': 0.25,
    'discriminator.ch': 8,
    'steps_per_epoch': 4,
    'num_epochs': 3,
    'init_epochs': 1,
    'log_every_steps': 2,
    'checkpoint_every_steps': 4,
    'eval_every_steps': 6,
    'sample_every_steps': 6,
    'num_sample_images': 2,
    'keep_checkpoints': 2,
    # Stopping VGG19 early (demo.py stops at conv1_1) cuts the compile time
    # of the steps severalfold.
    'vgg.layer': 'conv1_2',
}
TOTAL = 12


@pytest.fixture(scope='module', autouse=True)
def compilation_cache(tmp_path_factory):
  """One persistent XLA cache for every run of this module (in-process and
  subprocesses): the same tiny config compiles the same programs, so all
  runs after the first skip compilation."""
  # Under the session's base temp dir: test_main.py shares it.
  cache = str(tmp_path_factory.getbasetemp() / 'xla_cache')
  os.makedirs(cache, exist_ok=True)
  previous = {k: getattr(jax.config, k) for k in _CACHE_OPTIONS}
  jax.config.update('jax_compilation_cache_dir', cache)
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
  jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0)
  os.environ['JAX_COMPILATION_CACHE_DIR'] = cache
  os.environ['JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS'] = '0'
  os.environ['JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES'] = '0'
  yield cache
  for k, v in previous.items():
    jax.config.update(k, v)
  for k in ('JAX_COMPILATION_CACHE_DIR', 'JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS',
            'JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES'):
    os.environ.pop(k, None)


_CACHE_OPTIONS = ('jax_compilation_cache_dir',
                  'jax_persistent_cache_min_compile_time_secs',
                  'jax_persistent_cache_min_entry_size_bytes')


def tiny_config():
  return sweep.apply_overrides(demo.get_config(), OVERRIDES)


def cli_args(workdir):
  return ['--config', os.path.join(REPO, 'configs', 'demo.py'),
          '--workdir', str(workdir)] + [
              f'--config.{k}={v}' for k, v in OVERRIDES.items()]


# Runs animejax.main with every input batch delayed, so the test can signal
# the process between two checkpoints of a run that otherwise takes ~1 s.
_SLOW_MAIN = textwrap.dedent('''
    import time
    import animejax.parallel as parallel
    _global_batch = parallel.global_batch
    def slow_global_batch(batch, mesh):
      time.sleep(0.4)
      return _global_batch(batch, mesh)
    parallel.global_batch = slow_global_batch
    from animejax import main
    main.run()
''')


def _env():
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
  env.pop('XLA_FLAGS', None)
  return env


def _complete_steps(workdir):
  d = os.path.join(workdir, checkpointing.CHECKPOINT_DIR)
  if not os.path.isdir(d):
    return []
  return sorted(int(n) for n in os.listdir(d) if n.isdigit())


def _start_slow(tmp_path, workdir):
  script = tmp_path / 'slow_main.py'
  script.write_text(_SLOW_MAIN)
  log = open(tmp_path / f'{os.path.basename(workdir)}.log', 'w')
  proc = subprocess.Popen([sys.executable, str(script), *cli_args(workdir)],
                          cwd=str(tmp_path), env=_env(), stdout=log,
                          stderr=subprocess.STDOUT)
  return proc, log


def _wait_for_checkpoint(proc, workdir, timeout=240):
  start = time.time()
  while time.time() - start < timeout:
    if _complete_steps(workdir):
      return
    if proc.poll() is not None:
      raise AssertionError(f'run exited early with {proc.returncode}')
    time.sleep(0.05)
  proc.kill()
  raise AssertionError('no checkpoint within the timeout')


def _final_state(workdir):
  ckpt = checkpointing.Checkpointer(str(workdir), keep=1, read_only=True)
  try:
    step = ckpt.latest_step()
    state, meta = ckpt.restore_raw(step)
  finally:
    ckpt.close()
  return step, jax.tree.map(np.asarray, state), meta


def _assert_same_state(a, b):
  la = jax.tree_util.tree_leaves_with_path(a)
  lb = jax.tree_util.tree_leaves_with_path(b)
  assert [p for p, _ in la] == [p for p, _ in lb]
  for (path, x), (_, y) in zip(la, lb):
    np.testing.assert_array_equal(x, y, err_msg=jax.tree_util.keystr(path))


@pytest.fixture(scope='module')
def reference_run(tmp_path_factory):
  """An uninterrupted tiny run: (workdir, result)."""
  workdir = tmp_path_factory.mktemp('reference')
  result = train.train_and_evaluate(tiny_config(), str(workdir))
  return workdir, result


def test_end_to_end_outputs(reference_run):
  workdir, result = reference_run
  assert result['step'] == TOTAL and not result['preempted']
  for key in ('eval/psnr', 'eval/psnr_identity', 'eval/psnr_gain',
              'eval/psnr_gain_stderr', 'eval/psnr_win_rate', 'eval/l1',
              'eval/content', 'eval/colorfulness', 'eval/colorfulness_photo',
              'eval/colorfulness_style'):
    assert np.isfinite(result[key]), key
  assert result['eval/psnr_gain'] == pytest.approx(
      result['eval/psnr'] - result['eval/psnr_identity'], abs=1e-9)
  steps = _complete_steps(workdir)
  # keep_checkpoints=2 (8, 12) plus the best evaluated one (6 or 12).
  assert steps[-2:] == [8, 12] and set(steps) <= {6, 8, 12}, steps
  events = [n for n in os.listdir(workdir) if n.startswith('events.out')]
  assert events, os.listdir(workdir)
  samples = sorted(os.listdir(workdir / 'samples'))
  assert samples == ['step_00000006.png', 'step_00000012.png']
  from PIL import Image  # pylint: disable=g-import-not-at-top
  grid = np.asarray(Image.open(workdir / 'samples' / samples[-1]))
  # 2 sample rows of 32 px, 3 columns (photo | generated | ground truth).
  assert grid.shape == (2 * 34 + 2, 3 * 34 + 2, 3)
  assert (workdir / 'config.json').is_file()
  step, state, meta = _final_state(workdir)
  assert step == TOTAL and meta['phase'] == 'gan'
  assert meta['config']['generator']['width'] == 0.25


def test_generator_weights_and_evaluate(reference_run):
  workdir, result = reference_run
  latest = checkpointing.load_generator_weights(str(workdir), 'latest')
  best = checkpointing.load_generator_weights(str(workdir), 'best')
  assert latest.arch == 'animeganv2' and latest.meta['step'] == TOTAL
  assert latest.model_kwargs.get('width') == 0.25
  assert best.meta['step'] in (6, 12)
  _, state, _ = _final_state(workdir)
  _assert_same_state(latest.params, state['g_params'])
  again = train.evaluate(tiny_config(), str(workdir))
  assert again['step'] == TOTAL
  assert again['eval/psnr'] == pytest.approx(result['eval/psnr'], abs=1e-4)
  assert again['eval/psnr_identity'] == pytest.approx(
      result['eval/psnr_identity'], abs=1e-9)


@pytest.mark.slow  # a third training run (~45 s); crash-and-resume stays in the
# default run through tests/test_methods_smoke.py (dcgan, dragan)
def test_resume_after_sigkill_is_exact(reference_run, tmp_path):
  workdir = tmp_path / 'killed'
  proc, log = _start_slow(tmp_path, workdir)
  _wait_for_checkpoint(proc, workdir)
  proc.send_signal(signal.SIGKILL)
  proc.wait(timeout=60)
  log.close()
  done = _complete_steps(workdir)
  assert done and max(done) < TOTAL, done  # really interrupted
  result = train.train_and_evaluate(tiny_config(), str(workdir))
  assert result['step'] == TOTAL
  _, want, _ = _final_state(reference_run[0])
  _, got, _ = _final_state(workdir)
  _assert_same_state(got, want)


def test_sigterm_saves_checkpoint_and_resumes_exactly(reference_run, tmp_path):
  workdir = tmp_path / 'preempted'
  proc, log = _start_slow(tmp_path, workdir)
  _wait_for_checkpoint(proc, workdir)
  first = max(_complete_steps(workdir))
  proc.send_signal(signal.SIGTERM)
  rc = proc.wait(timeout=120)
  log.close()
  output = (tmp_path / 'preempted.log').read_text()
  assert rc == 0, output[-3000:]
  saved = max(_complete_steps(workdir))
  # A checkpoint newer than the one we waited for: the one SIGTERM wrote at
  # the step the run had reached (the run was stopped before the end).
  assert first < saved < TOTAL, (first, saved)
  assert 'Preempted' in output
  train.train_and_evaluate(tiny_config(), str(workdir))
  _, want, _ = _final_state(reference_run[0])
  _, got, _ = _final_state(workdir)
  _assert_same_state(got, want)


def test_nan_guard_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
  from animejax import data  # pylint: disable=g-import-not-at-top
  # Step 5 (0-based) gets a NaN photo; step 6 = its end is an eval and
  # sample step whose checkpoint must not be written.
  bad_step = 5
  create = data.create_input_pipeline

  class Proxy:
    def __init__(self, pipeline, train_iter):
      self._pipeline = pipeline
      self.train_iter = train_iter

    def __getattr__(self, name):
      return getattr(self._pipeline, name)

  def poisoned(config, *, start_step=0, **kwargs):
    pipeline = create(config, start_step=start_step, **kwargs)
    source = pipeline.train_iter

    def batches():
      for step, batch in enumerate(source, start=start_step):
        if step == bad_step:
          batch = dict(batch)
          batch['photo'] = np.full_like(batch['photo'], np.nan)
        yield batch
    return Proxy(pipeline, batches())

  monkeypatch.setattr(data, 'create_input_pipeline', poisoned)
  config = tiny_config()
  with pytest.raises(train.NonFiniteLossError,
                     match=f'at step {bad_step} ') as err:
    train.train_and_evaluate(config, str(tmp_path))
  assert 'loss' in str(err.value)
  steps = _complete_steps(tmp_path)
  assert steps == [4], steps  # step 6 (eval + sample) was never saved
  _, state, _ = _final_state(tmp_path)
  for leaf in jax.tree.leaves(state['g_params']):
    assert np.all(np.isfinite(leaf))
