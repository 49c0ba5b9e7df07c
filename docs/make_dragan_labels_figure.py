r"""The labelled-faces figure: one row per asked hair / eye pair.

  python docs/make_dragan_labels_figure.py --weights DRAGAN_WORKDIR \
      --pairs "blonde hair,blue eyes;black hair,red eyes;pink hair,green eyes" \
      --num 8 --seed 0 --out docs/dragan_anime64_labels.jpg

Each row is exactly what `animejax.generate --weights W --labels PAIR --num N
--seed S` writes, so every column holds the same noise and only the asked
labels change down a column. Faces are shown x`--zoom` nearest, with the
pair written on the left. No picking: the first N faces of the seed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np
from PIL import Image
from PIL import ImageDraw

_DOCS = os.path.dirname(os.path.abspath(__file__))
if _DOCS not in sys.path:  # make_face_pipeline_figure (it adds the repo)
  sys.path.insert(0, _DOCS)

from make_face_pipeline_figure import generated_faces  # pylint: disable=g-import-not-at-top,wrong-import-position

_CAPTION_WIDTH = 150


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--weights', required=True)
  p.add_argument('--pairs', required=True,
                 help='";"-separated --labels values, one per row')
  p.add_argument('--num', type=int, default=8)
  p.add_argument('--seed', type=int, default=0)
  p.add_argument('--zoom', type=int, default=2)
  p.add_argument('--out', required=True)
  a = p.parse_args()
  pairs = [s.strip() for s in a.pairs.split(';') if s.strip()]
  base = ['--weights', a.weights, '--num', str(a.num), '--seed', str(a.seed)]
  with tempfile.TemporaryDirectory() as tmp:
    rows = [generated_faces([*base, '--labels', pair],
                            os.path.join(tmp, str(i)))
            for i, pair in enumerate(pairs)]
  size, gap = rows[0].shape[1] * a.zoom, 4
  h = len(rows) * (size + gap) - gap
  w = _CAPTION_WIDTH + a.num * (size + gap) - gap
  canvas = Image.new('RGB', (w, h), 'white')
  draw = ImageDraw.Draw(canvas)
  for r, (pair, row) in enumerate(zip(pairs, rows)):
    y = r * (size + gap)
    for k, tag in enumerate(pair.split(',')):
      draw.text((4, y + size // 2 - 14 + 16 * k), tag.strip(), fill='black')
    for c, face in enumerate(row):
      big = np.repeat(np.repeat(face, a.zoom, 0), a.zoom, 1)
      canvas.paste(Image.fromarray(big), (_CAPTION_WIDTH + c * (size + gap),
                                          y))
  canvas.save(a.out, quality=85)  # JPEG quality (PNG ignores it)
  print(f'{a.out}: {len(rows)} rows x {a.num} faces, {size} px')


if __name__ == '__main__':
  main()
