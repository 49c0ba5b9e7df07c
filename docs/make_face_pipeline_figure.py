r"""The seed's face pipeline figure: 32 px faces from noise, then x4.

  python docs/make_face_pipeline_figure.py --weights DCGAN_WORKDIR \
      --upscale SR_A --upscale SR_B --num 8 --seed 0 \
      --out docs/faces_32_to_128.jpg

Row 1: the generator's 32 px faces (`animejax.generate --num N --seed S`),
shown x4 nearest; row 2: bicubic x4 of the same 8-bit faces; then one row
per --upscale (anything `animejax.upscale --weights` takes), each made by
`animejax.generate --upscale` itself, so a row is exactly what that
command writes. No picking: the first N faces of the seed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np
from PIL import Image

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO not in sys.path:
  sys.path.insert(0, _REPO)

from animejax import generate  # pylint: disable=g-import-not-at-top,wrong-import-position


def generated_faces(args: list[str], folder: str) -> np.ndarray:
  """`animejax.generate ARGS --out FOLDER`, read back as [N, H, W, 3] uint8."""
  if generate.main([*args, '--out', folder]) != 0:
    raise SystemExit(f'animejax.generate {" ".join(args)} failed')
  names = sorted(os.listdir(folder))
  return np.stack([np.asarray(Image.open(os.path.join(folder, n)).convert(
      'RGB')) for n in names])


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--weights', required=True)
  p.add_argument('--upscale', action='append', default=[])
  p.add_argument('--num', type=int, default=8)
  p.add_argument('--seed', type=int, default=0)
  p.add_argument('--out', required=True)
  a = p.parse_args()
  base = ['--weights', a.weights, '--num', str(a.num), '--seed', str(a.seed)]
  with tempfile.TemporaryDirectory() as tmp:
    small = generated_faces(base, os.path.join(tmp, 'small'))
    size = small.shape[1] * 4
    rows = [np.repeat(np.repeat(small, 4, 1), 4, 2),
            np.stack([np.asarray(Image.fromarray(f).resize(
                (size, size), Image.BICUBIC)) for f in small])]
    for i, sr in enumerate(a.upscale):
      rows.append(generated_faces([*base, '--upscale', sr],
                                  os.path.join(tmp, f'sr{i}')))
  gap = 4
  h, w = len(rows) * (size + gap) - gap, a.num * (size + gap) - gap
  canvas = np.full((h, w, 3), 255, np.uint8)
  for r, row in enumerate(rows):
    for c, face in enumerate(row):
      y, x = r * (size + gap), c * (size + gap)
      canvas[y:y + size, x:x + size] = face
  Image.fromarray(canvas).save(a.out, quality=90)
  print(f'{a.out}: {len(rows)} rows x {a.num} faces, {size} px')


if __name__ == '__main__':
  main()
