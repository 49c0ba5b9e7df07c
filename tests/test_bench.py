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


@pytest.mark.slow  # bench rows compile several shapes: ~75 s on 2 cores
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


# ----------------------------------------------------------- demo_headroom

def _headroom():
  from bench import demo_headroom  # pylint: disable=g-import-not-at-top
  return demo_headroom


def test_headroom_oracles_recover_the_edit_they_peek_at():
  import numpy as np  # pylint: disable=g-import-not-at-top
  oracles = _headroom().oracles
  rng = np.random.default_rng(0)
  p01 = rng.uniform(0.35, 0.65, (3, 8, 8, 3))
  to_model = lambda x01: x01 * 2 - 1
  # A global affine colour map is exactly what the affine oracle fits.
  mix = np.array([[1.2, 0.1, -0.1], [0.0, 0.9, 0.2], [0.1, -0.1, 1.1]])
  out = oracles(to_model(p01), to_model(p01 @ mix.T + 0.05))
  assert out['best global affine colour map'] > 90.0
  assert out['identity'] < 40.0
  # Dark outline pixels pasted onto the photo: only the outline oracle (and
  # nothing that keeps the photo's dark-free pixels) recovers them.
  target = p01.copy()
  target[:, 3, :, :] = 0.05
  out = oracles(to_model(p01), to_model(target))
  assert out['photo + target outline pixels'] > 90.0
  assert out['identity'] < 30.0
  frac, share = _headroom().outline_share(to_model(p01), to_model(target))
  assert frac == pytest.approx(1 / 8) and share == pytest.approx(1.0)
  # Chroma changed, luma kept (YUV): the target's chroma on the photo's luma
  # is the target; the target's luma on the photo's chroma is the photo.
  yuv = np.array([[0.299, 0.587, 0.114], [-0.14714119, -0.28886916,
                                          0.43601035],
                  [0.61497538, -0.51496512, -0.10001026]])
  shifted = (p01 @ yuv.T + np.array([0.0, 0.03, -0.02])) @ np.linalg.inv(
      yuv).T
  out = oracles(to_model(p01), to_model(shifted))
  assert out['photo luma + target chroma'] > 90.0
  assert out['target luma + photo chroma'] == pytest.approx(out['identity'])


def test_headroom_cli_oracles(capsys):
  assert _headroom().main(['--num_pairs', '3', '--size', '32']) == 0
  text = capsys.readouterr().out
  assert '3 held-out pairs at 32 px' in text
  assert 'best global affine colour map' in text and 'outline pixels' in text


def test_headroom_supervised_learns_the_colour_map():
  # A 1x1 convolution can only learn a per-pixel colour map; paired L1
  # steps must move it from the identity towards the anime rendering.
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from animejax import evaluation  # pylint: disable=g-import-not-at-top
  from animejax.data import procedural_source  # pylint: disable=g-import-not-at-top
  headroom = _headroom()
  photos, targets, _ = procedural_source.val_arrays(0, 32, 8)
  pointwise = nn.Conv(3, (1, 1))
  identity = {'kernel': np.eye(3, dtype=np.float32)[None, None],
              'bias': np.zeros(3, np.float32)}
  apply = lambda p: np.asarray(pointwise.apply({'params': p}, photos))
  assert evaluation.psnr(apply(identity), targets) == pytest.approx(
      evaluation.psnr(photos, targets), abs=1e-4)
  seen = []
  trained = headroom.supervised(pointwise, identity, 60, seed=0, size=32,
                                batch=8, lr=3e-2,
                                report=lambda i, p: seen.append(i))
  assert seen == list(range(1, 61))
  # +0.5 dB here; the least-squares affine map of the oracles gets ~+0.9.
  assert evaluation.psnr(apply(trained), targets) > (
      evaluation.psnr(photos, targets) + 0.3)
  # The pairs it learns from are the training photos' scenes, not val ones.
  photo, anime = headroom.training_pairs(0, 32, 2, 0)
  assert photo.shape == anime.shape == (2, 32, 32, 3)
  assert not any(np.array_equal(p, v) for p in photo for v in photos)
