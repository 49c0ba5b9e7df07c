"""Command line entry point: train or evaluate a model from a config file.

  python -m animejax.main --config configs/demo.py --workdir runs/demo
  python -m animejax.main --config configs/shinkai.py --workdir runs/shinkai \
      --config.batch_size=4
  python -m animejax.main --config configs/demo.py --workdir runs/demo \
      --mode eval

Running the same command again resumes from the latest checkpoint in
--workdir. Multi-process runs also take --coordinator_address /
--num_processes / --process_id (see animejax.distributed).
"""

import os
import re
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from animejax import distributed

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'Config file (e.g. configs/demo.py); override any key with '
    '--config.<key>=<value>.', lock_config=True)
_WORKDIR = flags.DEFINE_string(
    'workdir', None, 'Directory for checkpoints, TensorBoard logs and samples '
    '(resumed if it holds a run).')
_MODE = flags.DEFINE_enum('mode', 'train', ['train', 'eval'],
                          'train: train_and_evaluate; eval: evaluate the '
                          'latest checkpoint of --workdir.')
flags.mark_flags_as_required(['config', 'workdir'])

distributed.define_flags()  # --coordinator_address, --num_processes, ...

_OVERRIDE = re.compile(r'^--?config\.([A-Za-z0-9_.]+)')


def _add_config_root(argv: list[str]) -> None:
  """Lets config files import `configs.default` from any current directory.

  The config files live in `<repo>/configs/` and import their base as
  `from configs import default`; the console script does not run from the
  repository root, so the root is put on sys.path here.
  """
  path = _config_path(argv)
  if path:
    path = path.split(':', 1)[0]  # config_flags allows `file.py:arg`
    root = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    if root not in sys.path:
      sys.path.insert(0, root)


def _config_path(argv: list[str]) -> str | None:
  for i, arg in enumerate(argv):
    if arg.startswith('--config='):
      return arg.split('=', 1)[1]
    if arg == '--config' and i + 1 < len(argv):
      return argv[i + 1]
  return None


def _load_config_file(argv: list[str]):
  """The config of --config, loaded directly (for error hints only)."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  path = _config_path(argv)
  if not path:
    return None
  path, _, arg = path.partition(':')
  spec = importlib.util.spec_from_file_location('_animejax_cfg', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg or None)


def _parse_flags(argv: list[str]) -> list[str]:
  """absl parsing with clear messages for unknown/mistyped config keys."""
  try:
    return flags.FLAGS(argv)
  except (AttributeError, KeyError) as e:
    # config_flags reports an unknown key as a bare AttributeError('key').
    keys = [m.group(1) for a in argv[1:] if (m := _OVERRIDE.match(a))]
    bad = [k for k in keys if k.split('.')[-1] in str(e)] or keys
    hint = ''
    try:
      base = _load_config_file(argv)
      if base is not None and bad:
        from animejax import config_lib  # pylint: disable=g-import-not-at-top
        hint = config_lib.override_hint(base, bad[0])
    except Exception:  # pylint: disable=broad-except
      pass  # the hint is a nicety; the error below stands without it
    sys.stderr.write(
        f'FATAL: unknown config key {bad[0] if bad else e!s} in '
        f'--config.{bad[0] if bad else "?"} (no such key in the config '
        f'file; keys are listed in configs/default.py).{hint}\n')
    sys.exit(2)
  except flags.Error as e:
    # Wrong types arrive here, e.g. "flag --config.batch_size=abc: invalid
    # literal for int()".
    sys.stderr.write(f'FATAL: {e}\nEach --config.<key> must have the type of '
                     'its default in configs/default.py.\n')
    sys.exit(2)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  # Must run before the first JAX computation of every process.
  distributed.initialize_from_flags()
  # Imported after the distributed start-up: importing the run loop touches
  # no devices, but keeps start-up quick for --help.
  from animejax import config_lib  # pylint: disable=g-import-not-at-top
  from animejax import train  # pylint: disable=g-import-not-at-top
  config = _CONFIG.value
  try:
    config_lib.validate(config)
  except config_lib.ConfigError as e:
    logging.error('%s', e)
    sys.stderr.write(f'FATAL: {e}\n')
    sys.exit(2)
  if _MODE.value == 'train':
    result = train.train_and_evaluate(config, _WORKDIR.value)
  else:
    result = train.evaluate(config, _WORKDIR.value)
  logging.info('%s finished: %s', _MODE.value, result)


def run():
  """Console script `animejax-train`."""
  _add_config_root(sys.argv)
  app.run(main, flags_parser=_parse_flags)


if __name__ == '__main__':
  run()
