r"""Upscale images and folders x4 with an SRResNet / SRGAN generator.

  python -m animejax.upscale --weights W --input IN --output OUT \
      [--which latest|best] [--tile T] [--overlap O] [--ext .png]

W is a training workdir of the 'srgan' method (configs/srresnet_*.py,
srgan_*.py), an animejax weights file with arch 'srresnet', or a
Lornatang/SRGAN-PyTorch checkpoint (`SRResNet_x4-*.pth.tar` /
`SRGAN_x4-*.pth.tar`, read without torch). IN is an image or a folder
(recursive; OUT mirrors its tree, written as PNG unless --ext). Unreadable
files are reported and skipped. Weights of anything but an SRResNet (another
method's workdir, an AnimeGAN weights file, another network's .pth) are
refused with a message naming the file and what to pass instead.

Big inputs (over --tile-threshold LR pixels, or every input with --tile T)
are cut into T x T LR tiles that share 2 x O pixels with their neighbours;
each tile contributes only its centre (O pixels from every inner edge), so
the result equals the untiled one wherever O covers the network's receptive
field (BatchNorm is frozen at inference: no statistic crosses tiles).

Exit status: 0 every input was written; 3 some inputs failed (the others
were written); 1 every input failed; 2 usage error, nothing run (bad
arguments, missing --input, weights that cannot be loaded) - as
`animejax.cartoonize`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Callable, Sequence

import numpy as np

from animejax.cartoonize import EXIT_HELP
from animejax.cartoonize import EXIT_USAGE
from animejax.cartoonize import exit_status
from animejax.cartoonize import quiet_runtime

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')
DEFAULT_TILE = 256                     # LR px: 1024 px output tiles at x4
DEFAULT_OVERLAP = 32                   # LR px kept off each inner tile edge
DEFAULT_TILE_THRESHOLD = 512 * 512     # LR pixels above which inputs tile


def port_model_kwargs(variables: dict[str, Any]) -> dict[str, Any]:
  """SRResNet kwargs of converted [port] weights, read off their shapes
  (the other fields keep SRResNet's [port] defaults)."""
  p = variables['params']
  n_up = sum(1 for k in p if k.startswith('upsampling_'))
  return {'channels': int(p['conv1']['kernel'].shape[-1]),
          'num_blocks': sum(1 for k in p if k.startswith('trunk_')),
          'upscale': 2 ** n_up}


def load_upscaler(weights: str, which: str = 'latest'
                  ) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
  """(fn: [N, h, w, 3] [0, 1] LR -> [0, 1] SR numpy, scale) of `weights`.

  `weights`: a 'srgan' training workdir (its `which` checkpoint), an
  animejax weights file with arch 'srresnet', or a Lornatang/SRGAN-PyTorch
  generator .pth.tar. Raises FileNotFoundError for a missing path and
  ValueError (naming the file and what to pass) for any other network.
  """
  import jax  # pylint: disable=g-import-not-at-top
  from animejax.methods import srgan  # pylint: disable=g-import-not-at-top
  from animejax.models import srgan as srgan_models  # pylint: disable=g-import-not-at-top
  variables, kwargs, residual = srgan.load_generator_variables(weights,
                                                              which)
  if not kwargs:
    kwargs = port_model_kwargs(variables)
  model = srgan_models.SRResNet(**kwargs)
  tanh = kwargs.get('out_activation') == 'tanh'

  @jax.jit
  def apply(v, x):
    return srgan.model_to_unit(
        srgan.generate(model, v, x, residual, tanh), tanh)
  variables = jax.device_put(variables)
  return (lambda x: np.asarray(apply(variables, x.astype(np.float32))),
          int(kwargs['upscale']))


def window_starts(length: int, tile: int, overlap: int) -> list[int]:
  """Origins of `tile`-long windows covering [0, length), consecutive ones
  sharing 2 * overlap (the last one moved back to end at `length`)."""
  if tile >= length:
    return [0]
  stride = tile - 2 * overlap
  if stride <= 0:
    raise ValueError(f'--tile {tile} must exceed 2 x --overlap ({overlap}).')
  starts = list(range(0, length - tile, stride))
  starts.append(length - tile)
  return starts


def upscale_tiled(fn: Callable[[np.ndarray], np.ndarray], image: np.ndarray,
                  scale: int, tile: int, overlap: int) -> np.ndarray:
  """[h, w, 3] -> [h*s, w*s, 3] from tiles; each window writes its part
  more than `overlap` px from its inner edges (later windows overwrite)."""
  h, w = image.shape[:2]
  th, tw = min(tile, h), min(tile, w)
  out = np.zeros((h * scale, w * scale, 3), np.float32)
  for y in window_starts(h, th, overlap):
    y0 = 0 if y == 0 else y + overlap
    y1 = h if y + th == h else y + th - overlap
    for x in window_starts(w, tw, overlap):
      x0 = 0 if x == 0 else x + overlap
      x1 = w if x + tw == w else x + tw - overlap
      sr = fn(image[None, y:y + th, x:x + tw])[0]
      out[y0 * scale:y1 * scale, x0 * scale:x1 * scale] = sr[
          (y0 - y) * scale:(y1 - y) * scale, (x0 - x) * scale:(x1 - x) * scale]
  return out


def upscale_image(fn, image_u8: np.ndarray, scale: int, tile: int = 0,
                  overlap: int = DEFAULT_OVERLAP,
                  tile_threshold: int = DEFAULT_TILE_THRESHOLD) -> np.ndarray:
  """uint8 [h, w, 3] -> uint8 [h*s, w*s, 3]; tiled if `tile` or big."""
  x = image_u8.astype(np.float32) / 255.0
  h, w = x.shape[:2]
  if tile or h * w > tile_threshold:
    sr = upscale_tiled(fn, x, scale, tile or DEFAULT_TILE, overlap)
  else:
    sr = fn(x[None])[0]
  return np.clip(np.round(sr * 255.0), 0, 255).astype(np.uint8)


def _jobs(inp: str, out: str, ext: str) -> list[tuple[str, str]]:
  """(input, output) paths; a folder's tree is mirrored under `out`."""
  if os.path.isdir(inp):
    jobs = []
    for root, dirs, files in os.walk(inp):
      dirs.sort()
      for name in sorted(files):
        if name.lower().endswith(IMAGE_EXTS) and not name.startswith('.'):
          rel = os.path.relpath(os.path.join(root, name), inp)
          jobs.append((os.path.join(root, name),
                       os.path.join(out, os.path.splitext(rel)[0] + ext)))
    return jobs
  if out.lower().endswith(IMAGE_EXTS):
    return [(inp, out)]
  stem = os.path.splitext(os.path.basename(inp))[0]
  return [(inp, os.path.join(out, stem + ext))]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
  p = argparse.ArgumentParser(
      prog='animejax-upscale', description=__doc__.split('\n\n')[0],
      epilog=EXIT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--weights', required=True,
                 help='srgan workdir, srresnet weights file or [port] .pth.tar')
  p.add_argument('--which', default='latest', choices=('latest', 'best'),
                 help="a workdir's latest or best (eval/psnr_y) checkpoint")
  p.add_argument('--input', required=True, help='image or folder')
  p.add_argument('--output', required=True,
                 help='output image path (single input) or folder')
  p.add_argument('--tile', type=int, default=0,
                 help='tile every input with TxT LR tiles (0: only inputs '
                 f'over --tile-threshold, with {DEFAULT_TILE} px tiles)')
  p.add_argument('--overlap', type=int, default=DEFAULT_OVERLAP,
                 help='LR pixels each tile keeps off its inner edges')
  p.add_argument('--tile-threshold', type=int, default=DEFAULT_TILE_THRESHOLD,
                 help='LR pixels (H*W) above which inputs are tiled')
  p.add_argument('--ext', default='.png', help='output extension (folders)')
  args = p.parse_args(argv)
  if args.tile < 0 or args.overlap < 0:
    p.error('--tile and --overlap must be >= 0.')
  if args.tile and args.tile <= 2 * args.overlap:
    p.error(f'--tile {args.tile} must exceed 2 x --overlap ({args.overlap}).')
  if not args.ext.startswith('.'):
    args.ext = '.' + args.ext
  return args


def main(argv: Sequence[str] | None = None) -> int:
  quiet_runtime()
  args = parse_args(argv)
  if not os.path.exists(args.input):
    print(f'error: --input {args.input!r} does not exist.', file=sys.stderr)
    return EXIT_USAGE
  jobs = _jobs(args.input, args.output, args.ext)
  if not jobs:
    print(f'error: no images in {args.input!r}.', file=sys.stderr)
    return EXIT_USAGE
  try:
    fn, scale = load_upscaler(args.weights, args.which)
  except Exception as e:  # pylint: disable=broad-except
    print(f'error: cannot load --weights {args.weights!r}: {e}',
          file=sys.stderr)
    return EXIT_USAGE
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from animejax.data import folders  # pylint: disable=g-import-not-at-top
  written = failed = 0
  start = time.perf_counter()
  for src, dst in jobs:
    try:
      image = folders.decode(folders.read_file(src))
      sr = upscale_image(fn, image, scale, args.tile, args.overlap,
                         args.tile_threshold)
      os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
      Image.fromarray(sr).save(dst)
      written += 1
    except Exception as e:  # pylint: disable=broad-except
      print(f'failed: {src}: {type(e).__name__}: {e}', file=sys.stderr)
      failed += 1
  print(f'upscaled {written} image(s) x{scale} to {args.output} in '
        f'{time.perf_counter() - start:.1f}s' +
        (f'; {failed} failed' if failed else ''))
  return exit_status(written, failed)


def run() -> None:
  """Console-script entry point (animejax-upscale)."""
  quiet_runtime()
  sys.exit(main())


if __name__ == '__main__':
  run()
