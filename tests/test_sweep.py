"""animejax.sweep / animejax.report and the configs/ablations files."""

import csv
import io
import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `configs` is a directory of the repo, not installed
  sys.path.insert(0, str(REPO))

from animejax import report  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax import sweep  # pylint: disable=g-import-not-at-top,wrong-import-position
from configs import demo  # pylint: disable=g-import-not-at-top,wrong-import-position
ABLATIONS = ['losses', 'generators', 'norms']


@pytest.mark.parametrize('name', ABLATIONS)
def test_ablation_variants_build_valid_configs(name):
  path = REPO / 'configs' / 'ablations' / f'{name}.py'
  variants = sweep.load_sweep(str(path))
  assert len(variants) >= 3
  for vname, overrides in variants:
    config = sweep.apply_overrides(demo.get_config(), overrides)
    for key, value in overrides.items():
      node = config
      for part in key.split('.'):
        node = node[part]
      assert node == value, (vname, key)


def test_loss_ablation_switches_off_one_term_each():
  variants = dict(sweep.load_sweep(str(REPO / 'configs/ablations/losses.py')))
  assert variants['baseline'] == {}
  assert variants['no_gray_adv'] == {'loss.d_gray_weight': 0.0}
  assert variants['no_smooth_adv'] == {'loss.d_smooth_weight': 0.0}
  assert variants['no_color'] == {'loss.color_weight': 0.0}
  assert variants['no_style'] == {'loss.style_weight': 0.0}
  assert variants['no_init'] == {'init_epochs': 0}
  # The ablation file is itself a config file: ':variant' selects one.
  from configs.ablations import losses  # pylint: disable=g-import-not-at-top
  assert losses.get_config('no_color').loss.color_weight == 0.0
  assert losses.get_config().to_dict() == demo.get_config().to_dict()
  with pytest.raises(KeyError, match='unknown variant'):
    losses.get_config('no_such_variant')


def test_apply_overrides_rejects_unknown_keys_and_bad_types():
  with pytest.raises(KeyError, match="'loss.colour_weight'.*keys there"):
    sweep.apply_overrides(demo.get_config(), {'loss.colour_weight': 0.0})
  with pytest.raises(KeyError, match="no 'optimizer'"):
    sweep.apply_overrides(demo.get_config(), {'optimizer.lr': 1.0})
  with pytest.raises(TypeError):
    sweep.apply_overrides(demo.get_config(), {'loss.color_weight': 'zero'})


def test_select_keeps_sweep_order_and_rejects_unknown():
  variants = [('a', {}), ('b', {}), ('c', {})]
  assert [n for n, _ in sweep.select(variants, ['c', 'a'])] == ['a', 'c']
  assert sweep.select(variants, []) == variants
  with pytest.raises(ValueError, match=r"unknown variants \['d'\]"):
    sweep.select(variants, ['d'])


def _fake_train(calls, fail_on=None):
  def train(config, workdir):
    name = os.path.basename(workdir)
    calls.append(name)
    if name == fail_on:
      raise RuntimeError('preempted')
    # A number that depends on the overridden value, so the table can be
    # checked against it.
    return {'eval/psnr': 20.0 + config.loss.color_weight,
            'eval/l1': 0.5 - 0.01 * config.loss.style_weight,
            'train/steps': config.num_train_steps}
  return train


def test_run_sweep_writes_results_and_resumes(tmp_path):
  variants = [('baseline', {}), ('no_color', {'loss.color_weight': 0.0}),
              ('no_style', {'loss.style_weight': 0.0})]
  base = demo.get_config()
  base.num_train_steps = 7
  base.loss.color_weight = 10.0  # the table below is written for 10
  calls = []
  with pytest.raises(RuntimeError, match='preempted'):
    sweep.run_sweep(base, str(tmp_path), variants,
                    _fake_train(calls, fail_on='no_style'))
  assert calls == ['baseline', 'no_color', 'no_style']
  assert not (tmp_path / 'no_style' / sweep.RESULT_FILE).exists()
  calls.clear()
  results = sweep.run_sweep(base, str(tmp_path), variants, _fake_train(calls))
  assert calls == ['no_style']  # finished variants are skipped
  assert results['no_color']['eval/psnr'] == 20.0
  rec = json.loads((tmp_path / 'baseline' / sweep.RESULT_FILE).read_text())
  assert rec['metrics']['eval/psnr'] == 30.0 and rec['index'] == 0
  assert rec['config']['num_train_steps'] == 7
  assert base.loss.color_weight == 10.0  # the base config is not modified

  md = report.build_report(str(tmp_path))
  lines = md.splitlines()
  assert lines[0] == ('| variant | overrides | eval/l1 | eval/psnr | '
                      'train/steps | Δ eval/l1 | Δ eval/psnr | Δ train/steps |')
  assert lines[2] == '| baseline | - | 0.48 | 30 | 7 | 0 | 0 | 0 |'
  assert lines[3] == ('| no_color | loss.color_weight=0.0 | 0.48 | 20 | 7 | '
                      '0 | -10 | 0 |')
  assert lines[4].startswith('| no_style | loss.style_weight=0.0 | 0.5 | 30 |')
  rows = list(csv.DictReader(io.StringIO(
      (tmp_path / 'report.csv').read_text())))
  assert [r['variant'] for r in rows] == ['baseline', 'no_color', 'no_style']
  assert float(rows[2]['Δ eval/l1']) == pytest.approx(0.02)
  assert (tmp_path / 'report.md').read_text() == md


def test_run_sweep_validates_all_variants_first(tmp_path):
  calls = []
  with pytest.raises(KeyError, match="variant 'bad'"):
    sweep.run_sweep(demo.get_config(), str(tmp_path),
                    [('ok', {}), ('bad', {'loss.nope': 1.0})],
                    _fake_train(calls))
  assert calls == []


def test_report_reads_tensorboard_when_no_json(tmp_path):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  writer = tf.summary.create_file_writer(str(tmp_path / 'runA'))
  with writer.as_default():
    for step, v in [(10, 1.0), (20, 2.5)]:
      # tf.summary.write is core TF (tf.summary.scalar needs tensorboard).
      tf.summary.write('eval/psnr', tf.constant(v), step=step)
      tf.summary.write('train/loss', tf.constant(9.0), step=step)
  writer.close()
  rows = report.collect(tmp_path)
  assert rows[0]['name'] == 'runA' and rows[0]['source'] == 'tensorboard'
  assert rows[0]['metrics'] == {'eval/psnr': 2.5}


def test_report_cli_errors_on_empty_sweep(tmp_path):
  (tmp_path / 'empty_variant').mkdir()
  assert report.main([str(tmp_path)]) == 2
  assert report.main([str(tmp_path / 'missing')]) == 2


def test_print_mode_lists_one_command_per_variant():
  proc = subprocess.run(
      [sys.executable, '-m', 'animejax.sweep',
       '--config', 'configs/ablations/losses.py', '--workdir', 'runs/abl',
       '--print', '--only', 'baseline,no_color,no_init',
       '--config.num_train_steps=50'],
      cwd=REPO, capture_output=True, text=True, timeout=120, check=True)
  assert proc.stdout.splitlines() == [
      'python -m animejax.main --config=configs/ablations/losses.py '
      '--workdir=runs/abl/baseline --config.num_train_steps=50',
      'python -m animejax.main --config=configs/ablations/losses.py '
      '--workdir=runs/abl/no_color --config.num_train_steps=50 '
      '--config.loss.color_weight=0.0',
      'python -m animejax.main --config=configs/ablations/losses.py '
      '--workdir=runs/abl/no_init --config.num_train_steps=50 '
      '--config.init_epochs=0',
  ]


def test_preempted_variant_is_not_recorded(tmp_path):
  def preempted_train(config, workdir):
    del config, workdir
    return {'step': 3, 'preempted': True, 'eval/psnr': 1.0}
  with pytest.raises(sweep.SweepPreempted):
    sweep.run_sweep(demo.get_config(), str(tmp_path), [('baseline', {})],
                    preempted_train)
  assert not (tmp_path / 'baseline' / sweep.RESULT_FILE).exists()
