"""Faces from noise with a trained 'dcgan' / 'dragan' workdir.

  python -m animejax.generate --weights WORKDIR --num 16 --out grid.png
  python -m animejax.generate --weights WORKDIR --num 8 --out faces/ \\
      --seed 3 --labels "blonde hair,blue eyes"
  python -m animejax.generate --weights WORKDIR --num 4 --interpolate 8 \\
      --out walk.png

--out ending in .png/.jpg writes one grid (rows of ceil(sqrt(N)) images, or
one row per pair of end points with --interpolate K), anything else is a
folder of single PNGs (000000.png, ...). The noise (and, for a conditional
model without --labels, the labels) is drawn from --seed, so a seed always
gives the same images. --labels takes comma-separated tags of the model's
vocabulary (the labels CSV it trained on); an unknown tag is an error that
lists the known ones. --interpolate K walks linearly from each noise vector
to the next in K steps. --truncation T (> 0) draws the noise and then clips
it to [-T, T] (the 'truncation trick' of BigGAN, as resampling-free clip).

--upscale SR chains a super-resolution network after the generator: SR is
anything `animejax.upscale --weights` takes (a 'srgan' workdir, an
'srresnet' weights file, a Lornatang/SRGAN-PyTorch .pth.tar). Each face is
rounded to 8 bits first and upscaled exactly as `animejax.upscale` upscales
a saved PNG, so `generate --upscale SR` writes the same pixels as `generate`
followed by `upscale --weights SR` on its folder. This is the
anime-image-development face pipeline (DCGAN 32 px -> SRGAN x4 128 px):

  python -m animejax.generate --weights DCGAN_WORKDIR --num 16 \
      --upscale SRGAN_SEED32_WORKDIR --out faces128.png

Exit status: 0 written; 2 usage error, nothing written (bad arguments, a
workdir or --upscale weights that cannot be loaded, unknown labels).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

import jax
import numpy as np

from animejax import checkpointing

GRID_EXTS = ('.png', '.jpg', '.jpeg')


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
  p = argparse.ArgumentParser(
      prog='animejax-generate', description=__doc__.split('\n\n')[0],
      formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--weights', required=True,
                 help='training workdir of a dcgan/dragan/stylegan2 run')
  p.add_argument('--num', type=int, default=16, help='images (or paths)')
  p.add_argument('--out', required=True, help='grid.png or a folder')
  p.add_argument('--seed', type=int, default=0)
  p.add_argument('--labels', default='',
                 help='comma-separated tags, e.g. "blonde hair,blue eyes"')
  p.add_argument('--interpolate', type=int, default=0,
                 help='K > 1: K steps from each noise vector to the next')
  p.add_argument('--truncation', type=float, default=0.0,
                 help='> 0: clip the noise to [-T, T] (stylegan2: the '
                 'truncation trick, psi = T around w_avg)')
  p.add_argument('--which', choices=('latest', 'best'), default='latest')
  p.add_argument('--upscale', default='',
                 help='super-resolve every image with these SR weights '
                 '(srgan workdir, srresnet weights file or SRGAN-PyTorch '
                 '.pth.tar; see animejax.upscale)')
  p.add_argument('--upscale-which', choices=('latest', 'best'),
                 default='latest',
                 help="--upscale workdir's latest or best checkpoint")
  args = p.parse_args(argv)
  if args.num < 1:
    p.error('--num must be >= 1')
  if args.interpolate == 1 or args.interpolate < 0:
    p.error('--interpolate must be 0 (off) or >= 2')
  return args


def load(workdir: str, which: str = 'latest'):
  """(method, inference params, step) of a face generator's workdir."""
  return checkpointing.restore_for_inference(workdir, which, task='generate')


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
    t = np.linspace(0.0, 1.0, interpolate, dtype=np.float32)[None, :, None]
    ends = {k: (v, np.roll(v, -1, 0)) for k, v in out.items()}
    out = {k: (a[:, None] * (1 - t) + b[:, None] * t).reshape(
        -1, a.shape[-1]) for k, (a, b) in ends.items()}
  return out


def upscale_images(images: np.ndarray, fn, scale: int) -> np.ndarray:
  """[N, S, S, 3] [-1, 1] -> uint8 [N, S*s, S*s, 3]: each image rounded to
  8 bits, then `upscale.upscale_image` (what the upscale CLI does to a
  saved PNG)."""
  from animejax import metrics as metrics_lib  # pylint: disable=g-import-not-at-top
  from animejax import upscale  # pylint: disable=g-import-not-at-top
  return np.stack([upscale.upscale_image(fn, im, scale)
                   for im in metrics_lib.to_uint8(images)])


def main(argv: Sequence[str] | None = None) -> int:
  args = parse_args(argv)
  from animejax import metrics as metrics_lib  # pylint: disable=g-import-not-at-top
  from animejax import upscale  # pylint: disable=g-import-not-at-top
  from animejax.methods import dcgan  # pylint: disable=g-import-not-at-top
  try:
    method, params, step = load(args.weights, args.which)
    inputs = inputs_for(method, args.num, args.seed, args.labels,
                        args.interpolate, args.truncation)
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
  fn = jax.jit(method.predict_fns()['generate'])
  images = np.asarray(fn(params, inputs)['images'])
  note = f'step {step}'
  if sr_fn is not None:
    size = images.shape[1]
    images_u8 = upscale_images(images, sr_fn, scale)
    # Back to [-1, 1] for the grid (exact: to_uint8 gives images_u8 again).
    images = images_u8.astype(np.float32) / 127.5 - 1.0
    note += f'; {size} px upscaled x{scale} to {images.shape[1]} px'
  else:
    images_u8 = metrics_lib.to_uint8(images)
  if args.out.lower().endswith(GRID_EXTS):
    cols = args.interpolate or int(np.ceil(np.sqrt(len(images))))
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
