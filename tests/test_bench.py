"""Smoke tests of the benchmark helpers (bench/run.py) at tiny sizes.

No timing assertions: only that the helpers measure what they claim (FLOP
counts against the textbook formula, the number of calls, table/JSON shape).
"""

import json

import jax
import jax.numpy as jnp
import pytest

from bench import run


def test_flops_of_matmul_match_formula():
  n = 64
  f = jax.jit(jnp.matmul)
  x = jnp.ones((n, n), jnp.float32)
  compiled = f.lower(x, x).compile()
  # A dense n x n matmul is n^3 multiply-adds = 2 n^3 FLOPs.
  assert run.flops(compiled) == pytest.approx(2 * n**3, rel=0.01)


def test_median_time_calls_warmup_plus_repeats():
  calls = []

  def fn():
    calls.append(1)
    return jnp.zeros(())

  wall, cpu = run.median_time(fn, repeats=3, budget_s=100.0)
  assert len(calls) == 4  # one warm-up, three timed
  assert wall >= 0.0 and cpu >= 0.0


def test_measure_peak_positive():
  assert run.measure_peak(size=64, repeats=1) > 0.0


def test_inference_row_tiny_generator():
  rows = run.bench_inference([32], [2], ['float32'], repeats=1, width=0.25)
  (row,) = rows
  assert row['kind'] == 'inference' and row['batch'] == 2
  assert row['images_per_s'] == pytest.approx(2 / row['seconds'])
  assert row['flops_per_image'] > 0.0
  text = run.table(rows)
  assert text.count('\n') == 2 and '| inference | animeganv2 |' in text


def test_main_only_peak_writes_json(tmp_path, monkeypatch):
  monkeypatch.setattr(run, 'measure_peak', lambda dtype=None, **kw: 1e9)
  out = tmp_path / 'r.json'
  assert run.main(['--only', 'peak', '--json', str(out)]) == 0
  data = json.loads(out.read_text())
  assert data['rows'] == []
  assert data['info']['peak_flops'] == {'float32': 1e9, 'bfloat16': 1e9}
  assert data['info']['cpus'] >= 1


def test_train_configs_batch12_only_with_big():
  # The full run must fit in 10 minutes on 2 cores: shinkai's batch-12 steps
  # (about two minutes each there) are opt-in with --big.
  def specs(**kw):
    return [(name, batch) for name, _, batch in run._train_configs(**kw)]
  assert specs(quick=True) == [('demo', 8)]
  assert specs(quick=False) == [('demo', 8), ('shinkai', 4)]
  assert specs(quick=False, big=True) == [('demo', 8), ('shinkai', 4),
                                          ('shinkai', 12)]
  for name, config, _ in run._train_configs(quick=False, big=True):
    if name == 'shinkai':
      assert config.vgg.weights == 'random'  # offline, same FLOPs
