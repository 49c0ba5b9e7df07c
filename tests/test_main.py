"""The command line: required flags, --mode eval, the console-script entry."""

import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # `configs` is a folder of the repo, not installed
  sys.path.insert(0, REPO)

from animejax import main  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax import train  # pylint: disable=g-import-not-at-top,wrong-import-position
import test_train_run  # pylint: disable=g-import-not-at-top,wrong-import-position
# The tiny run's XLA cache (shared with test_train_run.py within a session).
compilation_cache = test_train_run.compilation_cache


def _cli(*args, cwd='/'):
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  env.pop('XLA_FLAGS', None)
  return subprocess.run([sys.executable, '-m', 'animejax.main', *args],
                        cwd=cwd, env=env, capture_output=True, text=True,
                        timeout=300)


def test_console_script_entry_point():
  assert callable(main.run)
  setup = open(os.path.join(REPO, 'setup.py'), encoding='utf-8').read()
  assert "'animejax-train=animejax.main:run'" in setup


def test_workdir_is_required():
  r = _cli('--config', os.path.join(REPO, 'configs', 'demo.py'))
  assert r.returncode != 0
  assert 'workdir' in r.stderr


def test_eval_without_checkpoint_fails_clearly(tmp_path):
  r = _cli(*test_train_run.cli_args(tmp_path / 'empty'), '--mode', 'eval')
  assert r.returncode != 0
  assert 'not a training workdir' in r.stderr


@pytest.mark.slow  # a training run and an eval run: ~3 min on 2 cores
def test_eval_mode_matches_training_eval(tmp_path):
  # Fewer steps than the run-loop tests: only the evaluation is under test.
  config = test_train_run.tiny_config()
  config.num_epochs = 2
  result = train.train_and_evaluate(config, str(tmp_path))
  assert result['step'] == 8
  r = _cli(*test_train_run.cli_args(tmp_path), '--config.num_epochs=2',
           '--mode', 'eval')
  assert r.returncode == 0, r.stderr[-3000:]
  found = re.search(r"eval finished: .*'eval/psnr': ([0-9.eE+-]+)", r.stderr)
  assert found, r.stderr[-3000:]
  assert float(found.group(1)) == pytest.approx(result['eval/psnr'], abs=1e-4)
