"""`animejax.generate`: --seeds, StyleGAN2 style mixing and latent-walk videos.

A tiny 16 px StyleGAN2 workdir (6 ws) is written without training, its
weights at [ada]'s init scale (N(0, 1), mapping weights N(0, 1) /
lr_multiplier) so that seeds give distinct ws and images. Every image the
CLI writes is checked against a reference computed here apart from
generate.py: z of seed s = method.noise(first half of split(key(s)), 1) (the
documented rule: what `--num 1 --seed s` draws), ws = G.map(z) truncated by
hand ([ada] w_avg + psi (w - w_avg)), mixed by slicing, lerped by hand and
synthesized with G.synthesize ('const' noise), clipped, rounded to 8 bits.
Images are compared within 1 of 255 (XLA may round the last float bit
differently between the CLI's fused graph and the reference). The
reference and the CLI's synthesis run at one batch size (8), so the tiny
generator compiles a few times only (seconds each); the file takes ~40 s
on 2 loaded cores.
"""

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

TESTS = os.path.dirname(os.path.abspath(__file__))
if TESTS not in sys.path:
  sys.path.insert(0, TESTS)

# One persistent XLA cache for the module (autouse): every CLI run jits new
# closures, and runs of one shape then reuse the first one's compilation.
from test_train_run import compilation_cache  # pylint: disable=wrong-import-position,unused-import
from workdirs import filled, initialised_workdir  # pylint: disable=wrong-import-position

from animejax import checkpointing  # pylint: disable=wrong-import-position
from animejax import generate  # pylint: disable=wrong-import-position
from animejax import methods  # pylint: disable=wrong-import-position
from animejax import metrics  # pylint: disable=wrong-import-position
from animejax import train  # pylint: disable=wrong-import-position
from animejax import video  # pylint: disable=wrong-import-position
from animejax.methods import dcgan  # pylint: disable=wrong-import-position
from animejax.methods import stylegan2 as sg2  # pylint: disable=wrong-import-position

PSI = 0.7
PAD = 2  # dcgan.grid / metrics.image_grid padding
S = 16


def _stylegan2_config():
  c = sg2.smoke_config()
  c.data.image_size = S                 # blocks 4, 8, 16: num_ws 6
  c.model.channel_base, c.model.channel_max = 64, 8   # 8, 8, 4 channels
  return c


@pytest.fixture(scope='module')
def sg2_run(tmp_path_factory):
  """(workdir, method, params, reference fns) of a tiny StyleGAN2."""
  config = _stylegan2_config()
  workdir = str(tmp_path_factory.mktemp('stylegan2'))
  method = methods.create(config)
  lr = config.model.mapping_lr_multiplier

  def init_scale(path, a):  # filled's N(0, 0.1^2) -> [ada]'s init scale
    keys = [getattr(k, 'key', getattr(k, 'name', '')) for k in path]
    if not jnp.issubdtype(a.dtype, jnp.floating):
      return a
    mapping_weight = 'mapping' in keys and keys[-1] == 'weight'
    return a * (10.0 / lr if mapping_weight else 10.0)
  state = jax.tree_util.tree_map_with_path(
      init_scale, filled(jax.eval_shape(method.init, jax.random.key(0))))
  checkpointing.write_config(workdir, config)
  ckpt = checkpointing.Checkpointer(workdir, keep=1)
  ckpt.save(1, state, train._meta(config, method, 1, 'init', 1))  # pylint: disable=protected-access
  ckpt.close()
  method, params, step = generate.load(workdir)
  assert step == 1 and method.generator.num_ws == 6
  g = method.generator
  ref = {
      'map': jax.jit(lambda p, z: g.apply(p, z, method='map')),
      'synth': jax.jit(lambda p, ws: jnp.clip(
          g.apply(p, ws, 'const', method='synthesize'), -1.0, 1.0)),
  }
  return workdir, method, params, ref


def _ref_z(method, seeds):
  return np.concatenate([
      np.asarray(method.noise(jax.random.split(jax.random.key(s))[0], 1))
      for s in seeds])


def _ref_ws(run, z):
  _, _, params, ref = run
  ws = np.asarray(ref['map'](params, z))
  w_avg = np.asarray(params['buffers']['mapping']['w_avg'])
  return w_avg + PSI * (ws - w_avg)  # [ada] truncation on every ws


def _ref_images(run, ws):
  _, _, params, ref = run
  assert len(ws) == 8  # one compiled batch size for every reference
  return metrics.to_uint8(np.asarray(ref['synth'](params, ws)))


def _folder(path):
  return np.stack([np.asarray(Image.open(os.path.join(path, f)).convert(
      'RGB')) for f in sorted(os.listdir(path))])


def _png(path):
  return np.asarray(Image.open(path).convert('RGB'))


def _close(a, b):
  a, b = np.asarray(a, np.int32), np.asarray(b, np.int32)
  assert a.shape == b.shape, (a.shape, b.shape)
  assert np.max(np.abs(a - b)) <= 1, np.max(np.abs(a - b))


def _distinct(images):
  """Every pair of images differs by more than rounding."""
  for i in range(len(images)):
    for j in range(i):
      diff = np.abs(images[i].astype(int) - images[j].astype(int))
      assert diff.max() > 8, (i, j)


# ------------------------------------------------------------- parsing
def test_parse_seeds_ranges_lists_and_errors():
  assert generate.parse_seeds('0-3') == [0, 1, 2, 3]
  assert generate.parse_seeds('3,7,10-12') == [3, 7, 10, 11, 12]
  assert generate.parse_seeds(' 5 ') == [5]
  assert generate.parse_seeds('2,2,4-4') == [2, 2, 4]
  assert generate.parse_seeds(f'{2 ** 32 - 1}') == [2 ** 32 - 1]
  for bad, why in (('', 'is not a number'), ('a', 'is not a number'),
                   ('1-', 'is not a number'), ('-1', 'is not a number'),
                   ('1,,2', 'is not a number'), ('1.5', 'is not a number'),
                   ('5-3', 'runs backwards'), (f'{2 ** 32}', 'above')):
    with pytest.raises(ValueError, match=why):
      generate.parse_seeds(bad)


@pytest.mark.parametrize('argv, message', [
    (['--seeds', '3-1'], 'runs backwards'),
    (['--seeds', 'x'], 'is not a number'),
    (['--seeds', '1-3', '--num', '3'], "--seeds gives the images' seeds"),
    (['--seeds', '1-3', '--seed', '0'], "drop ['--seed']"),
    (['--mix-rows', '0-1'], 'needs both --mix-rows and --mix-cols'),
    (['--mix-rows', '0', '--mix-cols', '1', '--seeds', '2'],
     "drop ['--seeds']"),
    (['--mix-rows', '0', '--mix-cols', '1', '--interpolate', '3'],
     "drop ['--interpolate']"),
    (['--mix-styles', '0-2'], '--mix-styles needs --mix-rows'),
    (['--num', '2', '--out', 'walk.mp4'], 'give --interpolate K'),
    (['--interpolate', '3', '--fps', '0'], '--fps must be > 0'),
])
def test_bad_option_combinations_are_usage_errors(argv, message, capsys):
  argv = ['--weights', 'w', '--out', 'o.png'] + argv
  with pytest.raises(SystemExit) as e:
    generate.parse_args(argv)
  assert e.value.code == 2
  assert message in capsys.readouterr().err


def test_num_and_seed_keep_their_defaults():
  args = generate.parse_args(['--weights', 'w', '--out', 'o.png'])
  assert (args.num, args.seed, args.seeds) == (16, 0, None)
  args = generate.parse_args(['--weights', 'w', '--out', 'o',
                              '--seeds', '3,7,10-12'])
  assert args.seeds == [3, 7, 10, 11, 12]


# ------------------------------------------------------------- pure parts
def test_interpolate_paths_is_the_old_2d_walk_and_lerps_any_rank():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(3, 5)).astype(np.float32)
  # The formula inputs_for used before (bit-identical --interpolate).
  t = np.linspace(0.0, 1.0, 4, dtype=np.float32)[None, :, None]
  a, b = x, np.roll(x, -1, 0)
  old = (a[:, None] * (1 - t) + b[:, None] * t).reshape(-1, 5)
  np.testing.assert_array_equal(generate.interpolate_paths(x, 4), old)
  ws = rng.normal(size=(2, 6, 3)).astype(np.float32)
  out = generate.interpolate_paths(ws, 3)
  assert out.shape == (6, 6, 3)
  np.testing.assert_allclose(out[1], (ws[0] + ws[1]) / 2, rtol=1e-6)
  np.testing.assert_allclose(out[4], (ws[1] + ws[0]) / 2, rtol=1e-6)
  np.testing.assert_array_equal(out[[0, 2, 3, 5]], ws[[0, 1, 1, 0]])


def test_mix_ws_takes_the_listed_layers_from_the_column():
  rng = np.random.default_rng(1)
  rows = rng.normal(size=(2, 6, 4))
  cols = rng.normal(size=(3, 6, 4))
  every = generate.mix_ws(rows, cols, range(6))
  none = generate.mix_ws(rows, cols, [])
  mid = generate.mix_ws(rows, cols, [2, 3])
  assert every.shape == (2, 3, 6, 4)
  for r in range(2):
    for c in range(3):
      np.testing.assert_array_equal(every[r, c], cols[c])
      np.testing.assert_array_equal(none[r, c], rows[r])
      np.testing.assert_array_equal(mid[r, c], np.concatenate(
          [rows[r, :2], cols[c, 2:4], rows[r, 4:]]))
  with pytest.raises(ValueError, match=r"index\(es\) \[6, 9\] outside the "
                     r"model's 6 ws \(0-5\)"):
    generate.check_styles([0, 9, 6], 6)
  generate.check_styles([0, 5], 6)


# ------------------------------------------------------------- dcgan --seeds
@pytest.fixture(scope='module')
def dcgan_workdir(tmp_path_factory):
  return initialised_workdir(dcgan.smoke_config(),
                             str(tmp_path_factory.mktemp('dcgan')))


def test_dcgan_seeds_are_drawn_one_by_one(dcgan_workdir, tmp_path):
  method, _, _ = generate.load(dcgan_workdir)
  # The inputs: seed 5's are the same alone, in a list, or as --seed 5.
  both = generate.seed_inputs(method, [3, 5], truncation=0.5)
  alone = generate.seed_inputs(method, [5], truncation=0.5)
  one = generate.inputs_for(method, 1, 5, truncation=0.5)
  np.testing.assert_array_equal(both['z'][1:], alone['z'])
  np.testing.assert_array_equal(alone['z'], one['z'])
  assert not np.array_equal(both['z'][0], both['z'][1])
  assert np.abs(both['z']).max() <= 0.5  # dcgan truncation clips z
  # --num/--seed unchanged: one draw of [num, noise_dim] from key(seed).
  k_z, _ = jax.random.split(jax.random.key(7))
  np.testing.assert_array_equal(
      generate.inputs_for(method, 3, 7)['z'],
      np.asarray(jax.random.uniform(
          k_z, (3, method.config.model.noise_dim), jnp.float32, -1.0, 1.0)))
  outs = {}
  for name, args in (('list', ['--seeds', '3,5']), ('alone', ['--seeds', '5']),
                     ('seed', ['--num', '1', '--seed', '5'])):
    out = str(tmp_path / name)
    assert generate.main(['--weights', dcgan_workdir, '--out', out] +
                         args) == 0
    outs[name] = _folder(out)
  assert len(outs['list']) == 2 and len(outs['alone']) == 1
  _close(outs['list'][1], outs['alone'][0])
  np.testing.assert_array_equal(outs['alone'], outs['seed'])
  _distinct(outs['list'])


def test_dcgan_refuses_style_mixing(dcgan_workdir, tmp_path, capsys):
  out = str(tmp_path / 'mix.png')
  assert generate.main(['--weights', dcgan_workdir, '--out', out,
                        '--mix-rows', '0', '--mix-cols', '1']) == 2
  assert "needs a generator with a W space (stylegan2); 'dcgan' has none" in (
      capsys.readouterr().err)
  assert not os.path.exists(out)


# ------------------------------------------------------------- stylegan2
def test_stylegan2_seeds_match_the_reference_wherever_listed(sg2_run,
                                                             tmp_path):
  workdir, method, _, _ = sg2_run
  first, second = str(tmp_path / 'a'), str(tmp_path / 'b')
  for out, seeds in ((first, '0-7'), (second, '5,9-15')):
    assert generate.main(['--weights', workdir, '--out', out, '--seeds',
                          seeds, '--truncation', str(PSI)]) == 0
  a, b = _folder(first), _folder(second)
  assert a.shape == (8, S, S, 3)
  want = _ref_images(sg2_run, _ref_ws(sg2_run, _ref_z(method, range(8))))
  _close(a, want)
  _close(b[0], a[5])  # seed 5 first among others = seed 5 sixth
  _distinct(a)


def test_stylegan2_style_mixing_grid_cells(sg2_run, tmp_path):
  workdir, method, _, _ = sg2_run
  rows, cols = [1, 2], [3, 4]
  grid_path = str(tmp_path / 'mix.png')
  assert generate.main(['--weights', workdir, '--out', grid_path,
                        '--mix-rows', '1-2', '--mix-cols', '3,4',
                        '--mix-styles', '2-3', '--truncation',
                        str(PSI)]) == 0
  grid = _png(grid_path)
  assert grid.shape == (3 * (S + PAD) + PAD, 3 * (S + PAD) + PAD, 3)

  def cell(i, j):
    y, x = PAD + i * (S + PAD), PAD + j * (S + PAD)
    return grid[y:y + S, x:x + S]
  ws = _ref_ws(sg2_run, _ref_z(method, rows + cols))
  w_row, w_col = ws[:2], ws[2:]
  # [ada]: w = w_row.clone(); w[styles] = w_col[styles], by hand.
  mixed = np.stack([np.concatenate([w_row[r, :2], w_col[c, 2:4],
                                    w_row[r, 4:]])
                    for r in range(2) for c in range(2)])
  want = _ref_images(sg2_run, np.concatenate([ws, mixed]))
  assert np.all(cell(0, 0) == 255)  # blank: the grid's background
  for j in range(2):
    _close(cell(0, j + 1), want[2 + j])        # top row: column seeds
  for i in range(2):
    _close(cell(i + 1, 0), want[i])            # left column: row seeds
    for j in range(2):
      _close(cell(i + 1, j + 1), want[4 + 2 * i + j])
  _distinct(want)  # mixed cells differ from both of their parents

  # Every layer from the column: each cell is its column's image; a folder
  # holds [ada]'s files.
  folder = str(tmp_path / 'mix')
  assert generate.main(['--weights', workdir, '--out', folder,
                        '--mix-rows', '1-2', '--mix-cols', '3,4',
                        '--mix-styles', '0-5', '--truncation',
                        str(PSI)]) == 0
  names = sorted(os.listdir(folder))
  assert names == sorted(['1-1.png', '2-2.png', '3-3.png', '4-4.png',
                          '1-3.png', '1-4.png', '2-3.png', '2-4.png',
                          'grid.png'])
  for r in rows:
    _close(_png(os.path.join(folder, f'{r}-{r}.png')), want[r - 1])
    for c in cols:
      _close(_png(os.path.join(folder, f'{r}-{c}.png')), want[c - 1])
  assert _png(os.path.join(folder, 'grid.png')).shape == grid.shape


def test_stylegan2_bad_style_index_is_a_usage_error(sg2_run, tmp_path,
                                                    capsys):
  workdir = sg2_run[0]
  out = str(tmp_path / 'mix.png')
  base = ['--weights', workdir, '--out', out, '--mix-rows', '0',
          '--mix-cols', '1']
  assert generate.main(base + ['--mix-styles', '4-7']) == 2
  err = capsys.readouterr().err
  assert "--mix-styles: index(es) [6, 7] outside the model's 6 ws (0-5)" in (
      err)
  assert generate.main(base) == 2  # [ada]'s default 0-6 needs >= 7 ws
  assert 'give --mix-styles' in capsys.readouterr().err
  assert not os.path.exists(out)


def test_stylegan2_walks_in_w_to_a_video(sg2_run, tmp_path):
  workdir, method, _, _ = sg2_run
  args = ['--weights', workdir, '--seeds', '1,2', '--interpolate', '4',
          '--truncation', str(PSI)]
  folder = str(tmp_path / 'walk')
  assert generate.main(args + ['--out', folder]) == 0
  frames = _folder(folder)
  assert frames.shape == (8, S, S, 3)
  # The reference walk: lerp the two (truncated) ws, 1 -> 2 -> 1.
  z = _ref_z(method, [1, 2])
  ws = _ref_ws(sg2_run, z)
  t = np.linspace(0.0, 1.0, 4, dtype=np.float32)[:, None, None]
  walk = np.concatenate([ws[0] * (1 - t) + ws[1] * t,
                         ws[1] * (1 - t) + ws[0] * t])
  want = _ref_images(sg2_run, walk)
  _close(frames, want)
  # Walking z instead (map the lerped z) gives other in-between frames.
  tz = t[:, :, 0]
  z_walk = np.concatenate([z[0] * (1 - tz) + z[1] * tz,
                           z[1] * (1 - tz) + z[0] * tz])
  in_z = _ref_images(sg2_run, _ref_ws(sg2_run, z_walk))
  assert np.abs(in_z[[1, 2, 5, 6]].astype(int) -
                frames[[1, 2, 5, 6]].astype(int)).max() > 8

  # Each path without its last frame (the next path's first): 2 x 3.
  kept = frames[[0, 1, 2, 4, 5, 6]]
  movie = str(tmp_path / 'walk.mp4')
  assert generate.main(args + ['--out', movie, '--fps', '12']) == 0
  info = video.probe(movie)
  assert np.stack(list(video.read_frames(movie))).shape == (6, S, S, 3)
  assert (info.width, info.height, info.frames) == (S, S, 6)
  assert abs(info.fps - 12) < 1e-3
  # GIF (a 256-colour palette per frame holds all of a 16 x 16 frame's
  # colours): the frames themselves.
  gif = str(tmp_path / 'walk.gif')
  assert generate.main(args + ['--out', gif, '--fps', '12']) == 0
  _close(np.stack(list(video.read_frames(gif))), kept)
  assert video.probe(gif).frames == 6
