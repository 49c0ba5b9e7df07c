"""Tabulates the final metrics of a sweep (markdown and CSV).

  python -m animejax.report runs/abl [--metrics eval/psnr,eval/l1] [--out DIR]

Reads every <sweep>/<variant>/ directory. The metrics of a variant come from,
in this order: `sweep_result.json` (written by animejax.sweep), the training
run's `eval_results.json` / `metrics.json`, or, failing both, the last value
of every `eval/*` scalar in its TensorBoard event files. Writes
<sweep>/report.md and <sweep>/report.csv and prints the markdown table.
With a variant called `baseline` (or --baseline NAME), each metric also gets a
difference-to-baseline column.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from etils import epath

from animejax.sweep import RESULT_FILE

# Metric files the training run may write in its workdir (first found wins).
RUN_RESULT_FILES = ('eval_results.json', 'metrics.json', 'final_metrics.json')


def _flatten(d: Mapping[str, Any], prefix: str = '') -> dict[str, Any]:
  out = {}
  for key, value in d.items():
    name = f'{prefix}{key}'
    if isinstance(value, Mapping):
      out.update(_flatten(value, name + '/'))
    else:
      out[name] = value
  return out


def _tensorboard_scalars(variant_dir: epath.Path) -> dict[str, float]:
  """Last value of each eval/* scalar in the event files under the dir."""
  # Fixed depths rather than '**' (which epath refuses on GCS): the run may
  # write its events in the workdir or in subdirectories such as train/, eval/.
  files = sorted(f for pattern in ('', '*/', '*/*/')
                 for f in variant_dir.glob(pattern + 'events.out.tfevents.*'))
  if not files:
    return {}
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  last: dict[str, tuple[int, float]] = {}
  for f in files:
    for event in tf.compat.v1.train.summary_iterator(str(f)):
      for v in event.summary.value:
        if not v.tag.startswith('eval'):
          continue
        if v.HasField('simple_value'):
          value = v.simple_value
        elif v.HasField('tensor'):
          arr = tf.make_ndarray(v.tensor)
          if arr.size != 1 or arr.dtype.kind not in 'biuf':
            continue
          value = float(arr.reshape(()))
        else:
          continue
        if v.tag not in last or event.step >= last[v.tag][0]:
          last[v.tag] = (event.step, float(value))
  return {k: v for k, (_, v) in last.items()}


def load_variant(variant_dir: str | epath.Path) -> dict[str, Any] | None:
  """{'name', 'index', 'overrides', 'metrics', 'source'} or None if empty."""
  d = epath.Path(variant_dir)
  path = d / RESULT_FILE
  if path.exists():
    rec = json.loads(path.read_text())
    return {'name': rec.get('name', d.name), 'index': rec.get('index', 1e9),
            'overrides': rec.get('overrides', {}),
            'metrics': _flatten(rec.get('metrics', {})), 'source': path.name}
  for fname in RUN_RESULT_FILES:
    if (d / fname).exists():
      metrics = json.loads((d / fname).read_text())
      return {'name': d.name, 'index': 1e9, 'overrides': {},
              'metrics': _flatten(metrics), 'source': fname}
  scalars = _tensorboard_scalars(d)
  if scalars:
    return {'name': d.name, 'index': 1e9, 'overrides': {},
            'metrics': scalars, 'source': 'tensorboard'}
  return None


def collect(sweep_dir: str | epath.Path) -> list[dict[str, Any]]:
  """All finished variants of a sweep, in sweep order (then by name)."""
  root = epath.Path(sweep_dir)
  if not root.is_dir():
    raise FileNotFoundError(f'sweep directory {root} does not exist; run '
                            '`python -m animejax.sweep --workdir` there first')
  rows = [r for d in sorted(root.iterdir()) if d.is_dir()
          for r in [load_variant(d)] if r is not None]
  if not rows:
    raise FileNotFoundError(f'no finished variants under {root} (no '
                            f'{RESULT_FILE}, {", ".join(RUN_RESULT_FILES)} or '
                            'eval/* TensorBoard scalars in its subdirectories)')
  return sorted(rows, key=lambda r: (r['index'], r['name']))


def _numeric(value: Any) -> bool:
  return (isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value))


def choose_metrics(rows: Sequence[Mapping[str, Any]],
                   wanted: Sequence[str] = ()) -> list[str]:
  """The metric columns: `wanted`, else every numeric one, eval/* first."""
  if wanted:
    return list(wanted)
  names = {k for r in rows for k, v in r['metrics'].items() if _numeric(v)}
  return sorted(names, key=lambda k: (not k.startswith('eval'), k))


def _fmt(value: Any) -> str:
  if value is None:
    return ''
  if isinstance(value, float):
    return f'{value:.4g}'
  return str(value)


def _overrides_text(overrides: Mapping[str, Any]) -> str:
  return ', '.join(f'{k}={v}' for k, v in overrides.items()) or '-'


def table(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str],
          baseline: str | None = 'baseline') -> tuple[list[str], list[list]]:
  """Header and rows (raw values) of the report table."""
  base = next((r for r in rows if r['name'] == baseline), None)
  header = ['variant', 'overrides', *metrics]
  if base is not None:
    header += [f'Δ {m}' for m in metrics]
  body = []
  for r in rows:
    values = [r['metrics'].get(m) for m in metrics]
    line = [r['name'], _overrides_text(r['overrides']), *values]
    if base is not None:
      for m, v in zip(metrics, values):
        b = base['metrics'].get(m)
        line.append(v - b if _numeric(v) and _numeric(b) else None)
    body.append(line)
  return header, body


def to_markdown(header: Sequence[str], body: Sequence[Sequence[Any]]) -> str:
  lines = ['| ' + ' | '.join(header) + ' |',
           '|' + '|'.join('---' if i < 2 else '---:'
                          for i in range(len(header))) + '|']
  for row in body:
    lines.append('| ' + ' | '.join(_fmt(v) for v in row) + ' |')
  return '\n'.join(lines) + '\n'


def to_csv(header: Sequence[str], body: Sequence[Sequence[Any]]) -> str:
  buf = io.StringIO()
  writer = csv.writer(buf, lineterminator='\n')
  writer.writerow(header)
  for row in body:
    writer.writerow(['' if v is None else (repr(v) if isinstance(v, float)
                                           else v) for v in row])
  return buf.getvalue()


def build_report(sweep_dir: str, metrics: Sequence[str] = (),
                 baseline: str | None = 'baseline',
                 out_dir: str | None = None) -> str:
  """Writes report.md / report.csv for a sweep; returns the markdown."""
  rows = collect(sweep_dir)
  header, body = table(rows, choose_metrics(rows, metrics), baseline)
  md = to_markdown(header, body)
  out = epath.Path(out_dir or sweep_dir)
  out.mkdir(parents=True, exist_ok=True)
  (out / 'report.md').write_text(md)
  (out / 'report.csv').write_text(to_csv(header, body))
  return md


def main(argv: Sequence[str] | None = None) -> int:
  parser = argparse.ArgumentParser(
      prog='python -m animejax.report',
      description='Table of the final metrics of every variant of a sweep.')
  parser.add_argument('sweep_dir', help='the --workdir given to animejax.sweep')
  parser.add_argument('--metrics', default='',
                      help='comma-separated metric names (default: all, '
                      'eval/* first)')
  parser.add_argument('--baseline', default='baseline',
                      help='variant to compare against (default: baseline)')
  parser.add_argument('--out', default=None,
                      help='where report.md/report.csv go (default: sweep_dir)')
  args = parser.parse_args(argv)
  try:
    md = build_report(args.sweep_dir,
                      [m for m in args.metrics.split(',') if m],
                      args.baseline or None, args.out)
  except FileNotFoundError as e:
    print(f'report: error: {e}', file=sys.stderr)
    return 2
  print(md, end='')
  return 0


def run() -> None:
  """Console-script entry point (animejax-report)."""
  sys.exit(main())


if __name__ == '__main__':
  run()
