"""Faces from noise with a trained 'dcgan' / 'dragan' / 'stylegan2' workdir.

  python -m animejax.generate --weights WORKDIR --num 16 --out grid.png
  python -m animejax.generate --weights WORKDIR --num 8 --out faces/ \\
      --seed 3 --labels "blonde hair,blue eyes"
  python -m animejax.generate --weights WORKDIR --seeds 3,7,10-12 \\
      --out faces/
  python -m animejax.generate --weights WORKDIR --num 4 --interpolate 8 \\
      --out walk.png
  python -m animejax.generate --weights WORKDIR --seeds 0-3 \\
      --interpolate 30 --fps 30 --out walk.mp4
  python -m animejax.generate --weights STYLEGAN2_WORKDIR --mix-rows 0-3 \\
      --mix-cols 4-7 --mix-styles 0-6 --truncation 0.7 --out mix.png

--out ending in .png/.jpg writes one grid (rows of ceil(sqrt(N)) images, or
one row per pair of end points with --interpolate K), a video extension
(.mp4 .webm .gif .avi .mov .mkv .m4v, see animejax.video) writes the
--interpolate walk as a video, anything else is a folder of single PNGs
(000000.png, ...). The noise (and, for a conditional model without --labels,
the labels) is drawn from --seed, so a seed always gives the same images.
--seeds takes a list of seeds instead of --seed/--num ('0-15', '3,7,10-12':
[ada] NVlabs/stylegan2-ada-pytorch generate.py --seeds, with ranges inside
the list as NVlabs/stylegan3 gen_images.py parse_range allows): one image
per seed, drawn from that seed alone, so seed s gives the same image alone,
anywhere in a list, or as `--num 1 --seed s`. --labels takes
comma-separated tags of the model's vocabulary (the labels CSV it trained
on); an unknown tag is an error that lists the known ones. --truncation T
(> 0) draws the noise and then clips it to [-T, T] (the 'truncation trick'
of BigGAN, as resampling-free clip); for stylegan2 it is [ada]'s truncation
psi = T: w = w_avg + T (w - w_avg).

--interpolate K walks linearly from each end point (each of the --num
noise vectors or --seeds) to the next, the last back to the first, in K
steps with both ends. dcgan/dragan walk the noise (and labels); stylegan2
walks its intermediate latents W (mapped, truncated end points), the usual
StyleGAN latent walk, in grids and videos alike. A video (--fps, default 30)
plays the paths one after another without each path's last frame (the next
path's first), so it loops seamlessly: P end points give P (K - 1) frames.

Style mixing (stylegan2 only; [ada] style_mixing.py): --mix-rows R and
--mix-cols C (seed lists) write a grid whose top row is the column seeds'
images, left column the row seeds' images (top-left blank) and cell (r, c)
the row seed's ws with the ws of the layers in --mix-styles (index list,
default [ada]'s 0-6: the 4-32 px 'coarse and middle' styles) taken from
the column seed. --truncation applies to every ws before mixing, as in
[ada]. A folder --out holds [ada]'s files instead: ROW-COL.png per cell,
S-S.png per seed and grid.png.

--upscale SR chains a super-resolution network after the generator: SR is
anything `animejax.upscale --weights` takes (a 'srgan' workdir, an
'srresnet' weights file, a Lornatang/SRGAN-PyTorch .pth.tar). Each face is
rounded to 8 bits first and upscaled exactly as `animejax.upscale` upscales
a saved PNG, so `generate --upscale SR` writes the same pixels as `generate`
followed by `upscale --weights SR` on its folder. This is the
anime-image-development face pipeline (DCGAN 32 px -> SRGAN x4 128 px):

  python -m animejax.generate --weights DCGAN_WORKDIR --num 16 \\
      --upscale SRGAN_SEED32_WORKDIR --out faces128.png

Exit status: 0 written; 2 usage error, nothing written (bad arguments, a
workdir or --upscale weights that cannot be loaded, unknown labels, style
mixing for a model without W, style indices outside the model's ws, a video
the codec cannot write).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Sequence

import jax
import numpy as np

from animejax import checkpointing
from animejax import video

GRID_EXTS = ('.png', '.jpg', '.jpeg')
# [ada] style_mixing.py --styles default: ws 0-6 (b4 to b32).
DEFAULT_MIX_STYLES = '0-6'
_MAX_SEED = 2 ** 32 - 1  # [ada] seeds np.random.RandomState: 0 .. 2**32 - 1


def parse_seeds(text: str) -> list[int]:
  """'0-15' or '3,7,10-12' -> the ints, in order (duplicates kept).

  [ada] generate.py num_range takes 'a,b,c' or one range 'a-c';
  NVlabs/stylegan3 gen_images.py parse_range also takes ranges in a list.
  Raises ValueError for anything else, a descending range or a number
  above 2**32 - 1.
  """
  out = []
  for part in text.split(','):
    m = re.fullmatch(r'\s*(\d+)\s*(?:-\s*(\d+)\s*)?', part)
    if not m:
      raise ValueError(f'{text!r}: {part.strip()!r} is not a number N or a '
                       'range A-B (e.g. "0-15" or "3,7,10-12")')
    a = int(m.group(1))
    b = a if m.group(2) is None else int(m.group(2))
    if b < a:
      raise ValueError(f'{text!r}: range {part.strip()!r} runs backwards')
    if b > _MAX_SEED:
      raise ValueError(f'{text!r}: {b} is above {_MAX_SEED}')
    out.extend(range(a, b + 1))
  return out


def _seed_list(text: str) -> list[int]:
  try:
    return parse_seeds(text)
  except ValueError as e:
    raise argparse.ArgumentTypeError(str(e)) from e


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
  p = argparse.ArgumentParser(
      prog='animejax-generate', description=__doc__.split('\n\n')[0],
      formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--weights', required=True,
                 help='training workdir of a dcgan/dragan/stylegan2 run')
  p.add_argument('--num', type=int, default=None,
                 help='images (or paths); default 16')
  p.add_argument('--out', required=True,
                 help='grid.png, walk.mp4 (with --interpolate) or a folder')
  p.add_argument('--seed', type=int, default=None, help='default 0')
  p.add_argument('--seeds', type=_seed_list, default=None,
                 help='one image per seed, e.g. "0-15" or "3,7,10-12" '
                 '(instead of --num/--seed)')
  p.add_argument('--labels', default='',
                 help='comma-separated tags, e.g. "blonde hair,blue eyes"')
  p.add_argument('--interpolate', type=int, default=0,
                 help='K > 1: K steps from each noise vector to the next')
  p.add_argument('--fps', type=float, default=30.0,
                 help='frames per second of a video --out')
  p.add_argument('--truncation', type=float, default=0.0,
                 help='> 0: clip the noise to [-T, T] (stylegan2: the '
                 'truncation trick, psi = T around w_avg)')
  p.add_argument('--mix-rows', type=_seed_list, default=None,
                 help='stylegan2 style mixing: the rows\' seeds')
  p.add_argument('--mix-cols', type=_seed_list, default=None,
                 help='stylegan2 style mixing: the columns\' seeds')
  p.add_argument('--mix-styles', type=_seed_list, default=None,
                 help='ws indices the columns give (default '
                 f'{DEFAULT_MIX_STYLES}, as [ada] style_mixing.py)')
  p.add_argument('--which', choices=('latest', 'best'), default='latest')
  p.add_argument('--upscale', default='',
                 help='super-resolve every image with these SR weights '
                 '(srgan workdir, srresnet weights file or SRGAN-PyTorch '
                 '.pth.tar; see animejax.upscale)')
  p.add_argument('--upscale-which', choices=('latest', 'best'),
                 default='latest',
                 help="--upscale workdir's latest or best checkpoint")
  args = p.parse_args(argv)
  if args.num is not None and args.num < 1:
    p.error('--num must be >= 1')
  if args.interpolate == 1 or args.interpolate < 0:
    p.error('--interpolate must be 0 (off) or >= 2')
  if args.fps <= 0:
    p.error('--fps must be > 0')
  mixing = args.mix_rows is not None or args.mix_cols is not None
  if mixing:
    if args.mix_rows is None or args.mix_cols is None:
      p.error('style mixing needs both --mix-rows and --mix-cols')
    given = [name for name, v in (('--num', args.num), ('--seed', args.seed),
                                  ('--seeds', args.seeds)) if v is not None]
    if args.interpolate:
      given.append('--interpolate')
    if given:
      p.error(f'--mix-rows/--mix-cols name their seeds; drop {given}')
    if video.is_video(args.out):
      p.error('style mixing writes a grid image or a folder, not a video')
  elif args.mix_styles is not None:
    p.error('--mix-styles needs --mix-rows and --mix-cols')
  if args.seeds is not None:
    given = [name for name, v in (('--num', args.num), ('--seed', args.seed))
             if v is not None]
    if given:
      p.error(f'--seeds gives the images\' seeds; drop {given}')
  if video.is_video(args.out) and not args.interpolate:
    p.error(f'--out {args.out!r} is a video: give --interpolate K (>= 2)')
  args.num = 16 if args.num is None else args.num
  args.seed = 0 if args.seed is None else args.seed
  return args


def load(workdir: str, which: str = 'latest'):
  """(method, inference params, step) of a face generator's workdir."""
  return checkpointing.restore_for_inference(workdir, which, task='generate')


def interpolate_paths(x: np.ndarray, steps: int) -> np.ndarray:
  """[P, ...] end points -> [P * steps, ...]: path i walks linearly from x[i]
  to x[i + 1] (the last path back to x[0]) in `steps` points, ends
  included."""
  t = np.linspace(0.0, 1.0, steps, dtype=np.float32)
  t = t.reshape((1, steps) + (1,) * (x.ndim - 1))
  a, b = x, np.roll(x, -1, 0)
  return (a[:, None] * (1 - t) + b[:, None] * t).reshape((-1,) + x.shape[1:])


def inputs_for(method, num: int, seed: int, labels: str = '',
               interpolate: int = 0, truncation: float = 0.0
               ) -> dict[str, np.ndarray]:
  """The generator's inputs for the CLI options (a pure function of them)."""
  from animejax.data import labelled  # pylint: disable=g-import-not-at-top
  k_z, k_l = jax.random.split(jax.random.key(seed))
  z = np.asarray(method.noise(k_z, num), np.float32)
  # StyleGAN2 truncates in W around its tracked w_avg (psi = T); the
  # others clip z.
  psi = getattr(method, 'truncation_psi', False)
  if truncation > 0 and not psi:
    z = np.clip(z, -truncation, truncation)
  vocab = getattr(method, 'vocab', [])
  if labels and not vocab:
    raise ValueError(f'--labels given, but the {method.name!r} model is '
                     'unconditional (it takes no labels).')
  out = {'z': z}
  if truncation > 0 and psi:
    out['truncation'] = np.full((num, 1), truncation, np.float32)
  if vocab:
    if labels:
      tags = [t.strip().lower() for t in labels.split(',') if t.strip()]
      c = np.repeat(labelled.multi_hot(tags, vocab)[None], num, 0)
    else:
      c = np.asarray(method.sample_labels(k_l, num), np.float32)
    out['labels'] = c
  if interpolate:
    out = {k: interpolate_paths(v, interpolate) for k, v in out.items()}
  return out


def seed_inputs(method, seeds: Sequence[int], labels: str = '',
                truncation: float = 0.0) -> dict[str, np.ndarray]:
  """One image's inputs per seed: row i is `inputs_for(method, 1,
  seeds[i], ...)`, drawn from that seed alone (as [ada] generate.py draws
  each seed's z from its own RandomState(seed))."""
  if not seeds:
    raise ValueError('no seeds given')
  per = [inputs_for(method, 1, s, labels, 0, truncation) for s in seeds]
  return {k: np.concatenate([p[k] for p in per]) for k in per[0]}


def latent_fns(method):
  """The method's jitted W-space functions {'mapping', 'synthesis'} (see
  methods.stylegan2.StyleGAN2.latent_fns), or None for a generator without
  an intermediate latent space (dcgan, dragan)."""
  fns = getattr(method, 'latent_fns', None)
  return None if fns is None else {k: jax.jit(f) for k, f in fns().items()}


def check_styles(styles: Sequence[int], num_ws: int,
                 default: bool = False) -> None:
  """Raises ValueError unless every index is one of the model's ws."""
  if not styles:
    raise ValueError('--mix-styles: no style index given')
  bad = sorted({s for s in styles if not 0 <= s < num_ws})
  if bad:
    hint = (f' (the default, [ada]\'s {DEFAULT_MIX_STYLES}, needs a model '
            'of 32 px or more; give --mix-styles)' if default else '')
    raise ValueError(f'--mix-styles: index(es) {bad} outside the model\'s '
                     f'{num_ws} ws (0-{num_ws - 1}){hint}')


def mix_ws(ws_rows: np.ndarray, ws_cols: np.ndarray,
           styles: Sequence[int]) -> np.ndarray:
  """[R, L, D], [C, L, D] -> [R, C, L, D]: cell (r, c) is ws_rows[r] with
  the layers in `styles` from ws_cols[c] ([ada] style_mixing.py: w =
  w_dict[row_seed].clone(); w[col_styles] = w_dict[col_seed][col_styles])."""
  take = np.zeros(ws_rows.shape[1], bool)
  take[list(styles)] = True
  return np.where(take[None, None, :, None], ws_cols[None], ws_rows[:, None])


def style_mixing(fns, params, row_inputs: dict[str, np.ndarray],
                 col_inputs: dict[str, np.ndarray], styles: Sequence[int]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """[ada] style_mixing.py: (row seeds' images [R, S, S, 3], column seeds'
  [C, ...], mixed [R, C, ...]), all in [-1, 1]. Every ws is mapped (and
  truncated, when the inputs carry 'truncation') before mixing."""
  r = len(row_inputs['z'])
  both = {k: np.concatenate([row_inputs[k], col_inputs[k]])
          for k in row_inputs}
  ws = np.asarray(fns['mapping'](params, both)['ws'])
  mixed = mix_ws(ws[:r], ws[r:], styles)
  c = len(ws) - r
  images = np.asarray(fns['synthesis'](params, {'ws': np.concatenate(
      [ws, mixed.reshape((-1,) + ws.shape[1:])])})['images'])
  return (images[:r], images[r:r + c],
          images[r + c:].reshape((r, c) + images.shape[1:]))


def mix_cells(rows: np.ndarray, cols: np.ndarray,
              mixed: np.ndarray) -> np.ndarray:
  """The style-mixing grid's (R + 1) x (C + 1) cells, row by row: a blank
  (+1, the grid's white background) top-left, the column images on top,
  each row image before its mixed row ([ada] style_mixing.py's canvas)."""
  out = [np.ones_like(cols[:1]), cols]
  for i in range(len(rows)):
    out += [rows[i:i + 1], mixed[i]]
  return np.concatenate(out)


def upscale_images(images: np.ndarray, fn, scale: int) -> np.ndarray:
  """[N, S, S, 3] [-1, 1] -> uint8 [N, S*s, S*s, 3]: each image rounded to
  8 bits, then `upscale.upscale_image` (what the upscale CLI does to a
  saved PNG)."""
  from animejax import metrics as metrics_lib  # pylint: disable=g-import-not-at-top
  from animejax import upscale  # pylint: disable=g-import-not-at-top
  return np.stack([upscale.upscale_image(fn, im, scale)
                   for im in metrics_lib.to_uint8(images)])


def write_video(path: str, frames: np.ndarray, fps: float) -> None:
  """uint8 [T, H, W, 3] frames -> `path` with animejax.video's writer."""
  writer = video.open_writer(path, fps, frames.shape[2], frames.shape[1])
  try:
    for frame in frames:
      writer.write(frame)
  finally:
    writer.close()


def main(argv: Sequence[str] | None = None) -> int:
  args = parse_args(argv)
  from animejax import metrics as metrics_lib  # pylint: disable=g-import-not-at-top
  from animejax import upscale  # pylint: disable=g-import-not-at-top
  from animejax.methods import dcgan  # pylint: disable=g-import-not-at-top
  mixing = args.mix_rows is not None
  k = args.interpolate
  try:
    method, params, step = load(args.weights, args.which)
    fns = latent_fns(method)
    if mixing:
      if fns is None:
        raise ValueError('style mixing (--mix-rows/--mix-cols) needs a '
                         'generator with a W space (stylegan2); '
                         f'{method.name!r} has none.')
      row_in = seed_inputs(method, args.mix_rows, args.labels,
                           args.truncation)
      col_in = seed_inputs(method, args.mix_cols, args.labels,
                           args.truncation)
      styles = (parse_seeds(DEFAULT_MIX_STYLES) if args.mix_styles is None
                else args.mix_styles)
      num_ws = jax.eval_shape(fns['mapping'], params, row_in)['ws'].shape[1]
      check_styles(styles, num_ws, default=args.mix_styles is None)
    elif args.seeds is not None:
      ends = seed_inputs(method, args.seeds, args.labels, args.truncation)
    else:
      ends = inputs_for(method, args.num, args.seed, args.labels, 0,
                        args.truncation)
  except (FileNotFoundError, ValueError) as e:
    print(f'animejax-generate: error: {e}', file=sys.stderr)
    return 2
  sr_fn = None
  if args.upscale:  # loaded before generating: a bad path fails fast
    try:
      sr_fn, scale = upscale.load_upscaler(args.upscale, args.upscale_which)
    except (FileNotFoundError, ValueError) as e:
      print(f'animejax-generate: error: --upscale: {e}', file=sys.stderr)
      return 2
  if mixing:
    rows, cols, mixed = style_mixing(fns, params, row_in, col_in, styles)
    images = np.concatenate(
        [rows, cols, mixed.reshape((-1,) + rows.shape[1:])])
  elif k and fns is not None:  # W-space walk: map the ends, lerp the ws
    ws = np.asarray(fns['mapping'](params, ends)['ws'])
    images = np.asarray(fns['synthesis'](
        params, {'ws': interpolate_paths(ws, k)})['images'])
  else:
    inputs = ({n: interpolate_paths(v, k) for n, v in ends.items()} if k
              else ends)
    fn = jax.jit(method.predict_fns()['generate'])
    images = np.asarray(fn(params, inputs)['images'])
  is_video = video.is_video(args.out)
  if is_video:  # each path without its last frame (the next one's first)
    images = images.reshape((-1, k) + images.shape[1:])[:, :-1].reshape(
        (-1,) + images.shape[1:])
  note = f'step {step}'
  if sr_fn is not None:
    size = images.shape[1]
    images_u8 = upscale_images(images, sr_fn, scale)
    # Back to [-1, 1] for the grid (exact: to_uint8 gives images_u8 again).
    images = images_u8.astype(np.float32) / 127.5 - 1.0
    note += f'; {size} px upscaled x{scale} to {images.shape[1]} px'
  else:
    images_u8 = metrics_lib.to_uint8(images)
  if mixing:
    r, c = len(args.mix_rows), len(args.mix_cols)
    rows, cols, mixed = (images[:r], images[r:r + c],
                         images[r + c:].reshape((r, c) + images.shape[1:]))
    grid = dcgan.grid(mix_cells(rows, cols, mixed), c + 1)
    note += f'; {r} x {c} style mixes of ws {list(styles)}'
    if args.out.lower().endswith(GRID_EXTS):
      metrics_lib.save_png(args.out, grid)
      print(f'{args.out}: {r} rows x {c} columns ({note})')
      return 0
    # A folder: [ada] style_mixing.py's files.
    os.makedirs(args.out, exist_ok=True)
    u8 = metrics_lib.to_uint8

    def save(name, im):
      metrics_lib.save_png(os.path.join(args.out, f'{name}.png'), im)
    for seeds, ims in ((args.mix_rows, rows), (args.mix_cols, cols)):
      for s, im in zip(seeds, u8(ims)):
        save(f'{s}-{s}', im)
    for i, row_seed in enumerate(args.mix_rows):
      for j, col_seed in enumerate(args.mix_cols):
        save(f'{row_seed}-{col_seed}', u8(mixed[i, j]))
    save('grid', grid)
    print(f'{args.out}/: {r} rows x {c} columns, grid.png ({note})')
    return 0
  if is_video:
    try:
      write_video(args.out, images_u8, args.fps)
    except ValueError as e:
      print(f'animejax-generate: error: {e}', file=sys.stderr)
      return 2
    print(f'{args.out}: {len(images_u8)} frames at {args.fps:g} fps '
          f'({note})')
  elif args.out.lower().endswith(GRID_EXTS):
    cols = k or int(np.ceil(np.sqrt(len(images))))
    metrics_lib.save_png(args.out, dcgan.grid(images, cols))
    print(f'{args.out}: {len(images)} images ({note})')
  else:
    os.makedirs(args.out, exist_ok=True)
    for i, im in enumerate(images_u8):
      metrics_lib.save_png(os.path.join(args.out, f'{i:06d}.png'), im)
    print(f'{args.out}/: {len(images)} images ({note})')
  return 0


def run() -> None:
  sys.exit(main())


if __name__ == '__main__':
  run()
