r"""Held-out Y-PSNR / Y-SSIM of an srgan run next to bicubic, and its figure.

  python docs/make_srresnet_figure.py --workdir /tmp/srresnet_anime \
      --config configs/srresnet_anime.py --out docs/srresnet_anime.png

Evaluates the workdir's latest (or --which best) checkpoint through
`animejax.upscale.load_upscaler` on the config's held-out images (the SR
field's measure: BT.601 Y, `scale`-px border, outputs rounded to 8 bits,
MATLAB bicubic of the same LR images beside it; as the method's evaluate)
and prints the table with the per-image gain's standard error. The figure
has one row per held-out image, the first --rows in name order (no
picking): centre crops of LR (nearest) | bicubic | SR | HR, --crop HR px
shown --zoom times.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

import numpy as np
from PIL import Image

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO not in sys.path:
  sys.path.insert(0, _REPO)

from animejax import image_quality as iq  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax import upscale  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax.data import sr_pairs  # pylint: disable=g-import-not-at-top,wrong-import-position


def _config(path: str):
  spec = importlib.util.spec_from_file_location('sr_config', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def _u8(x: np.ndarray) -> np.ndarray:
  return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--workdir', required=True)
  p.add_argument('--config', required=True, help='the run\'s config file')
  p.add_argument('--out', required=True, help='figure PNG')
  p.add_argument('--which', default='latest', choices=('latest', 'best'))
  p.add_argument('--rows', type=int, default=3)
  p.add_argument('--crop', type=int, default=96, help='HR px per cell')
  p.add_argument('--zoom', type=int, default=2)
  args = p.parse_args(argv)

  config = _config(args.config)
  val = sr_pairs.create(config, 0, process_index=0, process_count=1).val
  fn, scale = upscale.load_upscaler(args.workdir, args.which)
  sr = np.concatenate([fn(val.lr[i:i + 4]) for i in range(0, len(val.lr), 4)])
  b = scale  # SR tables crop `scale` border pixels
  p_sr = iq.psnr_y(sr, val.hr, b, quantize=True)
  p_bi = iq.psnr_y(val.bicubic, val.hr, b, quantize=True)
  s_sr = iq.ssim_y(sr, val.hr, b, quantize=True)
  s_bi = iq.ssim_y(val.bicubic, val.hr, b, quantize=True)
  n = len(p_sr)
  se = lambda d: d.std(ddof=1) / np.sqrt(n)
  gain, s_gain = p_sr - p_bi, s_sr - s_bi
  print(f'{n} held-out images ({val.hr.shape[1]} px HR centre crops, '
        f'{val.lr.shape[1]} px LR), Y channel, {b}-px border:')
  print(f'  bicubic  Y-PSNR {p_bi.mean():.2f} dB  Y-SSIM {s_bi.mean():.4f}')
  print(f'  SR       Y-PSNR {p_sr.mean():.2f} dB  Y-SSIM {s_sr.mean():.4f}')
  print(f'  gain     {gain.mean():+.2f} +- {se(gain):.2f} dB (s.e.), SR '
        f'better on {(gain > 0).sum()}/{n}; SSIM {s_gain.mean():+.4f} +- '
        f'{se(s_gain):.4f}')

  h = val.hr.shape[1]
  c, z = min(args.crop, h) // scale * scale, args.zoom
  o = (h - c) // 2 // scale * scale
  side, pad = c * z, 2
  grid = np.full((args.rows * (side + pad) + pad, 4 * (side + pad) + pad, 3),
                 255, np.uint8)
  for r in range(min(args.rows, n)):
    lr = val.lr[r, o // scale:(o + c) // scale, o // scale:(o + c) // scale]
    cells = [np.repeat(np.repeat(lr, scale, 0), scale, 1),
             val.bicubic[r, o:o + c, o:o + c], sr[r, o:o + c, o:o + c],
             val.hr[r, o:o + c, o:o + c]]
    for col, cell in enumerate(cells):
      y, x = pad + r * (side + pad), pad + col * (side + pad)
      grid[y:y + side, x:x + side] = np.repeat(np.repeat(_u8(cell), z, 0),
                                               z, 1)
    print(f'  row {r}: {val.names[r]}: bicubic {p_bi[r]:.2f} dB, SR '
          f'{p_sr[r]:.2f} dB (whole {h} px crop)')
  Image.fromarray(grid).save(args.out, optimize=True)
  print(f'{args.out}: {grid.shape[1]}x{grid.shape[0]} px, '
        f'{os.path.getsize(args.out) // 1024} KiB')
  return 0


if __name__ == '__main__':
  sys.exit(main())
