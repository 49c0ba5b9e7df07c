"""Runs the variants of an ablation config one after another (resumable).

An ablation config (configs/ablations/*.py) is a normal config file whose
`get_config()` returns the base config, plus `sweep()` yielding
(name, {dotted.key: value}) pairs. For each variant this trains and evaluates
in <workdir>/<name> with `animejax.train.train_and_evaluate` and writes the
final metrics to <workdir>/<name>/sweep_result.json, which
`python -m animejax.report <workdir>` tabulates. Variants whose result file
exists are skipped, and an interrupted variant resumes from its checkpoints.

  python -m animejax.sweep --config configs/ablations/losses.py --workdir runs/abl
  python -m animejax.sweep ... --only baseline,no_color --config.num_train_steps=200
  python -m animejax.sweep ... --print   # one launch command per variant

`--config.<key>=<value>` flags change the base of every variant; the
variant's own overrides are applied after them.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import shlex
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from absl import app
from absl import flags
from absl import logging
from etils import epath
from ml_collections import config_flags
import numpy as np

from animejax import distributed

RESULT_FILE = 'sweep_result.json'



def define_flags() -> None:
  """Defines this CLI's flags (only when run as a program: importing
  `apply_overrides` from a config file must not define flags)."""
  config_flags.DEFINE_config_file(
      'config', None, 'Ablation config file: get_config() and sweep().',
      lock_config=False)
  flags.DEFINE_string('workdir', None,
                      'Sweep directory; variant X runs in workdir/X.')
  flags.DEFINE_bool('print', False, 'Print one `python -m animejax.main` '
                    'command per variant instead of running them.')
  flags.DEFINE_list('only', [], 'Comma-separated variant names to run.')
  distributed.define_flags()


def apply_overrides(config, overrides: Mapping[str, Any],
                    where: str = 'overrides'):
  """Sets dotted keys ('loss.color_weight') of a ConfigDict in place.

  Unknown keys are errors naming the key and the keys that exist there; value
  types are checked by ConfigDict itself (an int may replace a float).
  """
  import ml_collections  # pylint: disable=g-import-not-at-top
  for key, value in overrides.items():
    node = config
    parts = key.split('.')
    for i, part in enumerate(parts):
      if not isinstance(node, ml_collections.ConfigDict) or part not in node:
        known = sorted(node.keys()) if isinstance(
            node, ml_collections.ConfigDict) else []
        raise KeyError(f'{where}: unknown config key {key!r} (no '
                       f'{".".join(parts[:i + 1])!r}; keys there: {known})')
      if i < len(parts) - 1:
        node = node[part]
    node[parts[-1]] = value
  return config


class SweepPreempted(RuntimeError):
  """A variant's run was preempted (checkpoint saved); rerun to resume."""


def load_sweep(config_path: str) -> list[tuple[str, dict[str, Any]]]:
  """Imports the ablation file at `config_path` and lists its variants."""
  path = config_path.split(':', 1)[0]
  if not os.path.isfile(path):
    raise FileNotFoundError(f'ablation config {path!r} not found')
  spec = importlib.util.spec_from_file_location('_animejax_ablation', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  fn = getattr(module, 'sweep', None) or getattr(module, 'get_sweep', None)
  if fn is None:
    raise AttributeError(
        f'{path} has no sweep() (or get_sweep()) yielding (name, overrides); '
        'see configs/ablations/losses.py for the format')
  variants = [(str(name), dict(overrides)) for name, overrides in fn()]
  names = [n for n, _ in variants]
  dupes = sorted({n for n in names if names.count(n) > 1})
  if dupes:
    raise ValueError(f'{path}: variant names repeat: {dupes}')
  bad = [n for n in names if not n or '/' in n or n.startswith('.')]
  if bad:
    raise ValueError(f'{path}: variant names must be plain directory names, '
                     f'got {bad}')
  return variants


def select(variants: Sequence[tuple[str, dict[str, Any]]],
           only: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
  """Keeps the variants named in `only` (all when empty), in sweep order."""
  only = [o for o in only if o]
  if not only:
    return list(variants)
  known = [n for n, _ in variants]
  unknown = [o for o in only if o not in known]
  if unknown:
    raise ValueError(f'--only names unknown variants {unknown}; the sweep has '
                     f'{known}')
  return [(n, o) for n, o in variants if n in only]


def _flag_value(value: Any) -> str:
  # How config_flags parses values back: bools as true/false, tuples/lists
  # in Python syntax, everything else via str().
  if isinstance(value, bool):
    return 'true' if value else 'false'
  if isinstance(value, (tuple, list)):
    return repr(tuple(value))
  return str(value)


def launch_commands(config_path: str, workdir: str,
                    variants: Sequence[tuple[str, Mapping[str, Any]]],
                    base_overrides: Mapping[str, Any] | None = None,
                    python: str = 'python') -> list[str]:
  """One `python -m animejax.main` command line per variant."""
  lines = []
  for name, overrides in variants:
    args = [python, '-m', 'animejax.main', f'--config={config_path}',
            f'--workdir={os.path.join(workdir, name)}']
    merged = {**(base_overrides or {}), **overrides}
    args += [f'--config.{k}={_flag_value(v)}' for k, v in merged.items()]
    lines.append(' '.join(shlex.quote(a) for a in args))
  return lines


def _jsonable(metrics: Mapping[str, Any]) -> dict[str, Any]:
  out = {}
  for key, value in metrics.items():
    arr = np.asarray(value)
    if arr.dtype.kind in 'biuf':
      out[str(key)] = arr.item() if arr.size == 1 else arr.tolist()
    elif arr.dtype.kind in 'U' or isinstance(value, str):
      out[str(key)] = str(value)
  return out


def read_result(variant_dir: str | os.PathLike) -> dict[str, Any] | None:
  """The sweep result of one variant directory, or None if unfinished."""
  path = epath.Path(variant_dir) / RESULT_FILE
  if not path.exists():
    return None
  return json.loads(path.read_text())


def run_sweep(base_config, workdir: str,
              variants: Sequence[tuple[str, Mapping[str, Any]]],
              train_fn=None) -> dict[str, dict[str, Any]]:
  """Trains and evaluates every unfinished variant; returns name -> metrics.

  Args:
    base_config: the config every variant starts from (not modified).
    workdir: sweep directory (local or gs://).
    variants: (name, overrides) pairs as from `load_sweep`.
    train_fn: `train_and_evaluate(config, workdir) -> metrics` (tests pass a
      stand-in; default animejax.train.train_and_evaluate).
  """
  if train_fn is None:
    from animejax import train  # pylint: disable=g-import-not-at-top
    train_fn = train.train_and_evaluate
  try:
    from animejax import config_lib  # pylint: disable=g-import-not-at-top
  except ImportError:  # run loop not installed: key checks only
    config_lib = None
  # Validate every variant before spending time on the first one.
  configs = []
  for name, overrides in variants:
    config = copy.deepcopy(base_config)
    apply_overrides(config, overrides, where=f'variant {name!r}')
    if config_lib is not None:
      try:
        config_lib.validate(config)
      except ValueError as e:
        raise ValueError(f'variant {name!r}: {e}') from e
    configs.append(config)
  results = {}
  for index, ((name, overrides), config) in enumerate(zip(variants, configs)):
    vdir = epath.Path(workdir) / name
    done = read_result(vdir)
    if done is not None:
      logging.info('sweep: %s finished before, skipping (%s)', name,
                   vdir / RESULT_FILE)
      results[name] = done['metrics']
      continue
    logging.info('sweep: variant %d/%d %s with %s', index + 1, len(variants),
                 name, overrides or 'the base config')
    start = time.time()
    metrics = _jsonable(train_fn(config, str(vdir)))
    if metrics.get('preempted'):
      # The run saved a checkpoint and stopped early (SIGTERM): not finished,
      # so no result file; rerunning the sweep resumes it.
      logging.warning('sweep: %s was preempted at step %s; rerun to resume.',
                      name, metrics.get('step'))
      raise SweepPreempted(name)
    record = {'name': name, 'index': index, 'overrides': dict(overrides),
              'metrics': metrics, 'wall_seconds': round(time.time() - start, 1),
              'config': json.loads(config.to_json_best_effort())}
    if distributed.is_main_process():
      vdir.mkdir(parents=True, exist_ok=True)
      tmp = vdir / (RESULT_FILE + '.tmp')
      tmp.write_text(json.dumps(record, indent=2, sort_keys=True))
      tmp.rename(vdir / RESULT_FILE)  # complete files only: resume is exact
    results[name] = metrics
  return results


def _cli_overrides(argv: Sequence[str]) -> dict[str, str]:
  """--config.key=value flags exactly as given (for --print)."""
  out = {}
  it = iter(argv)
  for arg in it:
    if arg.startswith('--config.'):
      key, eq, value = arg[len('--config.'):].partition('=')
      out[key] = value if eq else next(it, '')
  return out


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  fv = flags.FLAGS
  if not fv.workdir:
    raise app.UsageError('--workdir is required (variants go to workdir/NAME)')
  config_path = config_flags.get_config_filename(flags.FLAGS['config'])
  try:
    variants = select(load_sweep(config_path), fv.only)
  except (OSError, AttributeError, ValueError) as e:
    raise app.UsageError(str(e)) from e
  if fv.print:
    for line in launch_commands(config_path, fv.workdir, variants,
                                _cli_overrides(sys.argv[1:])):
      print(line)
    return
  distributed.initialize_from_flags()
  try:
    results = run_sweep(fv.config, fv.workdir, variants)
  except SweepPreempted as e:
    logging.warning('sweep stopped: variant %s preempted; rerun the same '
                    'command to resume.', e)
    sys.exit(143)
  logging.info('sweep: %d variants done in %s; tabulate with '
               '`python -m animejax.report %s`', len(results), fv.workdir,
               fv.workdir)


def _add_config_root(argv: Sequence[str]) -> None:
  # Ablation files import `configs.demo`: put the directory holding
  # `configs/` on sys.path so the console script works from anywhere.
  for i, arg in enumerate(argv):
    path = None
    if arg.startswith('--config='):
      path = arg.split('=', 1)[1]
    elif arg == '--config' and i + 1 < len(argv):
      path = argv[i + 1]
    if path:
      path = os.path.abspath(path.split(':', 1)[0])
      while path != os.path.dirname(path):
        path = os.path.dirname(path)
        if os.path.isfile(os.path.join(path, 'configs', '__init__.py')):
          if path not in sys.path:
            sys.path.insert(0, path)
          return


def run() -> None:
  """Console-script entry point (animejax-sweep)."""
  _add_config_root(sys.argv)
  define_flags()
  app.run(main)


if __name__ == '__main__':
  run()
