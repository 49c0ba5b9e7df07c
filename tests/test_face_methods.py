"""Faces from noise on the method interface: the DRAGAN penalty of
methods/dragan.py against an independent reference, label parsing, the
labelled-folder stream, KID (with its jackknife standard error) and FID
against numpy references, and the generate CLI (deterministic, unknown
labels listed). The methods' end-to-end runs are in test_methods_smoke.py.

Sources: [bhp] bhpfelix/PyTorch-Face-Generator-SRResNet-based-ACGAN-DRAGAN
main.py (the penalty); Binkowski et al. 2018 (KID); Heusel et al. 2017
(FID)."""

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # `configs` is a folder of the repo
  sys.path.insert(0, REPO)

from animejax import evaluation  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax import generate  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax.data import labelled  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax.methods import dragan  # pylint: disable=g-import-not-at-top,wrong-import-position

SHARED = os.environ.get('ANIMEJAX_SHARED',
                        os.path.join(os.path.dirname(REPO), 'shared'))
TAGGED = os.path.join(SHARED, 'data', 'faces', 'anime64_tagged')


# ------------------------------------------------------------------ penalty
def _reference_penalty(real, alpha, beta, u, v, lam=0.5):
  """[bhp] main.py in numpy (float64) for D(x)_b = sum v tanh(u x_b), whose
  input gradient is v u (1 - tanh(u x)^2): x_hat = alpha x + (1 - alpha)
  (x + 0.5 std(x) beta), unbiased std, norm over the flattened image."""
  x = np.asarray(real, np.float64)
  std = x.std(ddof=1)
  x_hat = alpha * x + (1 - alpha) * (x + 0.5 * std * beta)
  g = v * u * (1 - np.tanh(u * x_hat) ** 2)
  norms = np.sqrt((g.reshape(len(x), -1) ** 2).sum(1))
  return lam * np.mean((norms - 1) ** 2)


def test_dragan_penalty_matches_reference_with_fixed_noise():
  rng = np.random.default_rng(0)
  real = rng.uniform(-1, 1, (4, 6, 5, 3)).astype(np.float32)
  u, v = rng.normal(size=(2, 6, 5, 3)).astype(np.float32)
  d = lambda x: jnp.sum(v * jnp.tanh(u * x), axis=(1, 2, 3))
  key = jax.random.key(3)
  got = float(dragan.dragan_penalty(d, jnp.asarray(real), key))
  # The draws the penalty makes: split(key) -> (alpha, beta).
  k_alpha, k_beta = jax.random.split(key)
  alpha = np.asarray(jax.random.uniform(k_alpha, (4, 1, 1, 1)), np.float64)
  beta = np.asarray(jax.random.uniform(k_beta, real.shape), np.float64)
  want = _reference_penalty(real, alpha, beta, u, v)
  np.testing.assert_allclose(got, want, rtol=1e-5)
  # Not the weighting of animejax.losses (alpha on the perturbed side).
  assert abs(_reference_penalty(real, 1 - alpha, beta, u, v) - want) > 1e-4


def test_dragan_penalty_trains_d_only():
  rng = np.random.default_rng(1)
  real = jnp.asarray(rng.uniform(-1, 1, (3, 4, 4, 3)), jnp.float32)
  w = jnp.asarray(rng.normal(size=(4, 4, 3)), jnp.float32)
  key = jax.random.key(4)

  def penalty(d_w, g_scale):
    d = lambda x: jnp.sum(jnp.tanh(d_w * x), axis=(1, 2, 3))
    return dragan.dragan_penalty(d, g_scale * real, key)
  g_d, g_g = jax.grad(penalty, argnums=(0, 1))(w, jnp.float32(1.0))
  assert float(jnp.max(jnp.abs(g_d))) > 0  # D's parameters get a gradient
  assert float(g_g) == 0.0  # what produced the images (data or G) gets none


# ------------------------------------------------------------------ labels
def test_d_label_loss_on_fake_faces_is_optional():
  """config.d_cls_fake=False drops exactly D's label BCE on G's faces (the
  'd_cls_fake' metric) from the D loss, and so changes D's update."""
  config = dragan.smoke_config()
  rng = np.random.default_rng(0)
  batch = {'image': jnp.asarray(rng.uniform(-1, 1, (4, 16, 16, 3)),
                                jnp.float32)}
  out = {}
  for on in (True, False):
    config.d_cls_fake = on
    method = dragan.create(config)
    batch['labels'] = method.sample_labels(jax.random.key(1), 4)
    state = method.init(jax.random.key(0))
    out[on] = method.train_step(state, None, batch, jax.random.key(2),
                                'train')
  (s_on, m_on), (s_off, m_off) = out[True], out[False]
  assert float(m_on['d_cls_fake']) == pytest.approx(float(m_off['d_cls_fake']))
  assert float(m_on['d_cls_fake']) > 0.1
  np.testing.assert_allclose(float(m_on['d_loss']) - float(m_off['d_loss']),
                             float(m_on['d_cls_fake']), rtol=1e-5)
  leaves = lambda s: jax.tree.leaves(s.d_params)
  assert any(not np.allclose(a, b)
             for a, b in zip(leaves(s_on), leaves(s_off)))


def test_label_losses_match_numpy_references():
  """'bce': mean sigmoid BCE over samples and tags ([bhp]); 'softmax': per
  group the mean -log softmax of the true tag, summed over groups (ACGAN)."""
  config = dragan.smoke_config()
  rng = np.random.default_rng(4)
  logits = rng.normal(0, 2, (5, 12))
  want = {}
  p = 1 / (1 + np.exp(-logits))
  method = dragan.create(config)
  tags = np.asarray(method.sample_labels(jax.random.key(3), 5))
  want['bce'] = np.mean(-tags * np.log(p) - (1 - tags) * np.log(1 - p))
  ce = 0.0
  for sl in (slice(0, 6), slice(6, 12)):
    z = logits[:, sl] - logits[:, sl].max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    ce += np.mean(-logp[np.arange(5), tags[:, sl].argmax(1)])
  want['softmax'] = ce
  for kind in ('bce', 'softmax'):
    config.label_loss = kind
    got = dragan.create(config).label_loss(jnp.asarray(logits, jnp.float32),
                                           jnp.asarray(tags))
    np.testing.assert_allclose(float(got), want[kind], rtol=1e-5)
  config.label_loss = 'focal'
  assert any('label_loss' in e for e in dragan.config_errors(config))


def test_parse_tags_and_vocabulary():
  assert labelled.parse_tags('blonde hair blue eyes') == ['blonde hair',
                                                          'blue eyes']
  assert labelled.parse_tags(' Blonde Hair, blue  eyes;smile') == [
      'blonde hair', 'blue eyes', 'smile']
  vocab = labelled.vocabulary([['red hair', 'blue eyes'], ['aqua hair',
                                                          'red eyes', 'hat']])
  assert vocab == ['aqua hair', 'red hair', 'blue eyes', 'red eyes', 'hat']
  np.testing.assert_array_equal(
      labelled.multi_hot(['red hair', 'red eyes'], vocab), [0, 1, 0, 1, 0])
  assert labelled.group_slices(vocab) == {'hair': slice(0, 2),
                                          'eyes': slice(2, 4)}
  with pytest.raises(ValueError, match='known labels: aqua hair, red hair'):
    labelled.multi_hot(['green hair'], vocab)


def _write_folder(root, n=12, size=8):
  os.makedirs(root / 'images')
  rows = ['id,tags']
  for i in range(n):
    im = np.full((size, size, 3), 20 * i, np.uint8)
    Image.fromarray(im).save(root / 'images' / f'{i}.png')
    rows.append(f'{i},{"red" if i % 2 else "blue"} hair green eyes')
  (root / 'images' / 'bad.png').write_bytes(b'not a png')
  rows.append('bad,red hair red eyes')
  rows.append('999,red hair red eyes')  # no image
  (root / 'tags.csv').write_text('\n'.join(rows) + '\n')


def test_labelled_folder_split_skips_and_resumes(tmp_path):
  _write_folder(tmp_path)
  data = labelled.load_folder(str(tmp_path / 'images'),
                              str(tmp_path / 'tags.csv'), image_size=4,
                              num_val=3, split_seed=5)
  assert data.vocab == ['blue hair', 'red hair', 'green eyes', 'red eyes']
  assert len(data.train_images) == 9 and len(data.val_images) == 3
  assert data.train_images.shape[1:] == (4, 4, 3)
  assert sorted(data.skipped_files)[0].endswith('bad.png')
  assert 'no image: 999' in data.skipped_files and len(data.skipped_files) == 2
  # Labels follow their images: blue hair (even ids) have even grey levels.
  grey = np.concatenate([data.train_images, data.val_images])[:, 0, 0, 0]
  hair = np.concatenate([data.train_labels, data.val_labels])[:, 1]
  np.testing.assert_array_equal(hair, (grey // 20) % 2)
  again = labelled.load_folder(str(tmp_path / 'images'),
                               str(tmp_path / 'tags.csv'), 4, 3, 5)
  np.testing.assert_array_equal(again.val_images, data.val_images)

  whole = labelled.train_stream(data, 4, seed=7)
  batches = [next(whole) for _ in range(5)]  # crosses epoch boundaries
  resumed = next(labelled.train_stream(data, 4, seed=7, start_step=3))
  for k in ('image', 'labels'):
    np.testing.assert_array_equal(resumed[k], batches[3][k])
  # Each epoch is a permutation: the first 9 positions cover every image.
  first = np.concatenate([b['image'] for b in batches])[:9, 0, 0, 0]
  assert len(np.unique(first)) == 9
  # Two processes split each global batch.
  p0 = next(labelled.train_stream(data, 4, 7, 0, 0, 2))['image']
  p1 = next(labelled.train_stream(data, 4, 7, 0, 1, 2))['image']
  np.testing.assert_array_equal(np.concatenate([p0, p1]), batches[0]['image'])


@pytest.mark.skipif(not os.path.isdir(TAGGED),
                    reason=f'shared tagged faces not found at {TAGGED}')
def test_shared_tagged_faces_parse():
  tags = labelled.read_labels_csv(os.path.join(TAGGED, 'tags.csv'))
  vocab = labelled.vocabulary(list(tags.values()))
  slices = labelled.group_slices(vocab)
  # The shared 18,000 use 9 of the set's 12 hair colours (no green, orange
  # or red hair) and all 10 eye colours.
  assert len(tags) == 18000 and len(vocab) == 19
  assert slices == {'hair': slice(0, 9), 'eyes': slice(9, 19)}
  assert all(len(t) == 2 for t in tags.values())


# ------------------------------------------------------------------ metrics
def _mmd2_loops(x, y):
  k = lambda a, b: (a @ b / a.shape[0] + 1.0) ** 3
  m, n = len(x), len(y)
  xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
  yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j)
  xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n))
  return xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2 * xy / (m * n)


def test_kid_and_jackknife_stderr_match_references():
  rng = np.random.default_rng(2)
  x, y = rng.normal(size=(9, 5)), rng.normal(0.3, 1.0, size=(7, 5))
  value, stderr = evaluation.kid_with_stderr(x, y)
  np.testing.assert_allclose(value, _mmd2_loops(x, y), rtol=1e-10)
  np.testing.assert_allclose(value, evaluation.mmd2_unbiased(x, y),
                             rtol=1e-10)
  loo_x = np.array([_mmd2_loops(np.delete(x, i, 0), y) for i in range(9)])
  loo_y = np.array([_mmd2_loops(x, np.delete(y, j, 0)) for j in range(7)])
  var = (8 / 9 * np.sum((loo_x - loo_x.mean()) ** 2) +
         6 / 7 * np.sum((loo_y - loo_y.mean()) ** 2))
  np.testing.assert_allclose(stderr, np.sqrt(var), rtol=1e-8)


def test_fid_matches_symmetric_reference():
  rng = np.random.default_rng(3)
  x = rng.normal(size=(40, 4)) @ rng.normal(size=(4, 4))
  y = rng.normal(0.5, 1.0, size=(30, 4)) @ rng.normal(size=(4, 4))

  def psd_sqrt(a):
    w, q = np.linalg.eigh(a)
    return (q * np.sqrt(np.clip(w, 0, None))) @ q.T
  s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
  r = psd_sqrt(s1)
  want = (np.sum((x.mean(0) - y.mean(0)) ** 2) + np.trace(s1) +
          np.trace(s2) - 2 * np.trace(psd_sqrt(r @ s2 @ r)))
  np.testing.assert_allclose(evaluation.fid(x, y), want, rtol=1e-6)
  assert abs(evaluation.fid(x, x)) < 1e-6


# ------------------------------------------------------------------ CLI
@pytest.fixture(scope='module')
def dragan_workdir(tmp_path_factory):
  from animejax import train  # pylint: disable=g-import-not-at-top
  config = dragan.smoke_config()
  config.num_train_steps = 1
  config.num_sample_images = 0
  workdir = str(tmp_path_factory.mktemp('dragan'))
  train.train_and_evaluate(config, workdir)
  return workdir


@pytest.mark.slow  # trains a 1-step run (~1-2 min on 2 cores)
def test_generate_cli_is_deterministic(dragan_workdir, tmp_path):
  outs = []
  for name, seed in (('a', 3), ('b', 3), ('c', 4)):
    out = str(tmp_path / name)
    assert generate.main(['--weights', dragan_workdir, '--num', '3', '--out',
                          out, '--seed', str(seed), '--labels',
                          'red hair,blue eyes']) == 0
    outs.append([np.asarray(Image.open(os.path.join(out, f))) for f in
                 sorted(os.listdir(out))])
  assert len(outs[0]) == 3
  for a, b in zip(outs[0], outs[1]):
    np.testing.assert_array_equal(a, b)
  assert any(not np.array_equal(a, c) for a, c in zip(outs[0], outs[2]))
  grid = str(tmp_path / 'walk.png')
  assert generate.main(['--weights', dragan_workdir, '--num', '2', '--out',
                        grid, '--interpolate', '3']) == 0
  # 2 rows of 3 images of 16 px with 2 px padding.
  assert np.asarray(Image.open(grid)).shape == (2 * 18 + 2, 3 * 18 + 2, 3)


@pytest.mark.slow  # trains a 1-step run (~1-2 min on 2 cores)
def test_generate_unknown_label_lists_known(dragan_workdir, tmp_path,
                                            capsys):
  rc = generate.main(['--weights', dragan_workdir, '--out',
                      str(tmp_path / 'x'), '--labels', 'purple hair'])
  err = capsys.readouterr().err
  assert rc == 2
  assert "unknown label(s) ['purple hair']" in err
  assert 'black hair' in err and 'red eyes' in err


def test_dragan_penalty_is_the_shared_one_in_makegirlsmoe_convention():
  from animejax import losses  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(5)
  real = jnp.asarray(rng.uniform(-1, 1, (3, 4, 4, 3)), jnp.float32)
  d = lambda x: jnp.sum(jnp.sin(x), axis=(1, 2, 3))
  key = jax.random.key(6)
  np.testing.assert_array_equal(
      dragan.dragan_penalty(d, real, key, 0.5),
      0.5 * losses.dragan_penalty(d, real, key, convention='makegirlsmoe'))
  # The other convention draws the same kind of points, other numbers.
  assert float(losses.dragan_penalty(d, real, key)) != pytest.approx(
      float(losses.dragan_penalty(d, real, key, convention='makegirlsmoe')))
  with pytest.raises(ValueError, match='makegirlsmoe'):
    losses.dragan_points(real, key, convention='pytorch')
