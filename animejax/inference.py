"""Running a generator on images of any size: padding, buckets, tiles, colour.

The generator contract (animejax.models): x float [N,H,W,3] in [-1,1] ->
same shape in [-1,1], H and W multiples of the class attribute
`size_multiple`. `Cartoonizer` wraps one generator and its params and turns
uint8 RGB images of any size into uint8 RGB images of the same size:

  * whole-image pass: the image is reflect-padded (bottom/right) up to a
    *bucket* shape, run, and cropped back. Buckets are multiples of `bucket`
    pixels (itself a multiple of `size_multiple`), so a folder of mixed sizes
    compiles one function per bucket instead of one per image. jax.jit keeps
    one executable per (batch, padded shape).
  * tiled pass (H*W > `tile_threshold` or an explicit `tile`): overlapping
    tiles of a fixed size, whose origins lie on the `size_multiple` grid so
    every tile sees the same stride-2 phase as the whole image; each tile's
    output is weighted by a linear ramp over the overlap at its inner edges
    and the weighted sum is normalised, so seams are blended and memory is
    bounded by the tile size. Tiles at the image border use the real border
    (the generator's own reflect padding), like the whole-image pass does.

Limits: AnimeGANv2/v3 normalise with per-image statistics (layer/instance
norm over H, W), so a bucket's reflected margin and a tile's content shift
those statistics slightly; outputs therefore differ from the exact whole-image
pass by a small amount (measured in tests/test_inference.py).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Iterable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

# Default threshold above which images are tiled: 1024x1024 pixels.
DEFAULT_TILE_THRESHOLD = 1024 * 1024
DEFAULT_TILE = 512
DEFAULT_OVERLAP = 64
DEFAULT_BUCKET = 64


def to_model_range(images_u8: np.ndarray) -> np.ndarray:
  """uint8 [..., 3] in [0, 255] -> float32 in [-1, 1] (x / 127.5 - 1)."""
  return images_u8.astype(np.float32) / 127.5 - 1.0


def from_model_range(x: np.ndarray) -> np.ndarray:
  """float in [-1, 1] -> uint8, rounded and clipped."""
  x = (np.asarray(x, np.float32) + 1.0) * 127.5
  return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def round_up(n: int, multiple: int) -> int:
  return int(math.ceil(n / multiple) * multiple)


def reflect_pad_to(x: np.ndarray, height: int, width: int) -> np.ndarray:
  """Reflect-pads [H,W,C] (or [N,H,W,C]) at the bottom/right to height x width.

  numpy reflects repeatedly when the pad is wider than the image, so tiny
  images can go into large buckets.
  """
  h, w = x.shape[-3], x.shape[-2]
  if height < h or width < w:
    raise ValueError(f'Cannot pad {h}x{w} down to {height}x{width}.')
  if (h, w) == (height, width):
    return x
  pad = [(0, 0)] * x.ndim
  pad[-3] = (0, height - h)
  pad[-2] = (0, width - w)
  mode = 'reflect' if h > 1 and w > 1 else 'edge'
  return np.pad(x, pad, mode=mode)


def fit_long_side(image: np.ndarray, size: int) -> np.ndarray:
  """Resizes so that max(H, W) == size, keeping the aspect ratio."""
  import cv2  # pylint: disable=g-import-not-at-top
  h, w = image.shape[:2]
  scale = size / max(h, w)
  nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
  if (nh, nw) == (h, w):
    return image
  interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
  return cv2.resize(image, (nw, nh), interpolation=interp)


# --- colour ------------------------------------------------------------------

def keep_color(output_u8: np.ndarray, input_u8: np.ndarray) -> np.ndarray:
  """Keeps the stylised luma and the input's chroma (YCrCb).

  Luminance-only stylisation: Y from the generator output, Cr/Cb from the
  photo, so hues stay those of the photo while edges/shading are stylised.
  """
  import cv2  # pylint: disable=g-import-not-at-top
  out = cv2.cvtColor(output_u8, cv2.COLOR_RGB2YCrCb)
  src = cv2.cvtColor(input_u8, cv2.COLOR_RGB2YCrCb)
  out[..., 1:] = src[..., 1:]
  return cv2.cvtColor(out, cv2.COLOR_YCrCb2RGB)


def adjust_brightness(output_u8: np.ndarray, input_u8: np.ndarray) -> np.ndarray:
  """Scales the output so its mean brightness matches the input's.

  [v2] TachibanaYoshino/AnimeGANv2 tools/adjust_brightness.py
  (adjust_brightness_from_src_to_dst, used by test.py when
  --if_adjust_brightness): brightness = 0.299 R + 0.587 G + 0.114 B of the
  channel means; dst * (brightness(src) / brightness(dst)), clipped and
  truncated to uint8.
  """
  def brightness(img):
    m = img.reshape(-1, 3).astype(np.float64).mean(axis=0)
    return 0.299 * m[0] + 0.587 * m[1] + 0.114 * m[2]
  ratio = brightness(input_u8) / max(brightness(output_u8), 1e-6)
  return np.clip(output_u8 * ratio, 0, 255).astype(np.uint8)


# --- tiling ------------------------------------------------------------------

def tile_starts(length: int, tile: int, overlap: int, multiple: int) -> list[int]:
  """Origins of tiles covering [0, length) with at least `overlap` shared.

  length, tile and overlap are multiples of `multiple`; origins are too, so
  strided layers see the same phase in every tile.
  """
  if tile >= length:
    return [0]
  stride = tile - overlap
  if stride <= 0:
    raise ValueError(f'overlap {overlap} must be smaller than tile {tile}.')
  starts = list(range(0, length - tile, stride))
  starts.append(length - tile)
  assert all(s % multiple == 0 for s in starts), (starts, multiple)
  return starts


def ramp_weights(length: int, ramp_start: int, ramp_end: int) -> np.ndarray:
  """1D blend weights: linear ramps over the first/last `ramp_*` pixels.

  (i + 0.5) / ramp keeps every weight > 0, so the normalised sum is defined
  everywhere even where only one tile covers a pixel.
  """
  w = np.ones(length, np.float32)
  if ramp_start:
    r = min(ramp_start, length)
    w[:r] = np.minimum(w[:r], (np.arange(r) + 0.5) / ramp_start)
  if ramp_end:
    r = min(ramp_end, length)
    w[length - r:] = np.minimum(w[length - r:],
                                (np.arange(r)[::-1] + 0.5) / ramp_end)
  return w


def tile_plan(height: int, width: int, tile: int, overlap: int,
              multiple: int) -> list[tuple[int, int, int, int, np.ndarray]]:
  """[(y, x, th, tw, weight[th, tw])] for a padded height x width image."""
  ys = tile_starts(height, tile, overlap, multiple)
  xs = tile_starts(width, tile, overlap, multiple)
  th, tw = min(tile, height), min(tile, width)
  plan = []
  for i, y in enumerate(ys):
    # Ramp only on edges shared with a neighbour; image borders keep weight 1.
    wy = ramp_weights(th, overlap if i > 0 else 0,
                      overlap if i < len(ys) - 1 else 0)
    for j, x in enumerate(xs):
      wx = ramp_weights(tw, overlap if j > 0 else 0,
                        overlap if j < len(xs) - 1 else 0)
      plan.append((y, x, th, tw, wy[:, None] * wx[None, :]))
  return plan


# --- the runner --------------------------------------------------------------

@dataclasses.dataclass
class Cartoonizer:
  """Runs `module` with `params` on uint8 RGB images of any size.

  Attributes:
    module: a generator (see module docstring); `size_multiple` is read from
      it (default 4).
    params: its 'params' collection.
    bucket: whole-image passes pad H and W up to multiples of this (rounded
      to a multiple of size_multiple); 0 pads only to size_multiple.
    tile: tile size for large images (rounded to size_multiple); 0 = auto.
    overlap: pixels shared by neighbouring tiles (rounded to size_multiple).
    tile_threshold: H*W above which an image is tiled when tile is 0.
    batch: images (or tiles) per call; partial batches are padded to it.
    force_tile: tile every image with `tile` (the --tile flag).
  """
  module: Any
  params: Any
  bucket: int = DEFAULT_BUCKET
  tile: int = 0
  overlap: int = DEFAULT_OVERLAP
  tile_threshold: int = DEFAULT_TILE_THRESHOLD
  batch: int = 1
  force_tile: bool = False

  def __post_init__(self):
    self.multiple = int(getattr(self.module, 'size_multiple', 4))
    m = self.multiple
    self.bucket = round_up(self.bucket, m) if self.bucket else m
    self.tile = round_up(self.tile or DEFAULT_TILE, m)
    self.overlap = round_up(self.overlap, m) if self.overlap else 0
    if self.overlap >= self.tile:
      raise ValueError(f'--overlap ({self.overlap}) must be smaller than '
                       f'--tile ({self.tile}).')
    self.batch = max(1, int(self.batch))
    self.compilations = 0   # traces of the jitted forward (one per shape)
    self._forward = jax.jit(self._apply)

  def _apply(self, params, x):
    self.compilations += 1  # runs only while tracing, i.e. once per shape
    y = self.module.apply({'params': params}, x)
    return y.astype(jnp.float32)

  def run_batch(self, x: np.ndarray) -> np.ndarray:
    """float32 [n,H,W,3] (H, W on the grid) -> float32; pads n to `batch`."""
    n = x.shape[0]
    if n < self.batch:  # repeat the last one rather than compile a new shape
      x = np.concatenate([x, np.repeat(x[-1:], self.batch - n, axis=0)])
    out = []
    for i in range(0, x.shape[0], self.batch):
      out.append(np.asarray(self._forward(self.params, x[i:i + self.batch])))
    return np.concatenate(out)[:n]

  # Shapes.
  def uses_tiles(self, height: int, width: int) -> bool:
    return self.force_tile or height * width > self.tile_threshold

  def bucket_shape(self, height: int, width: int) -> tuple[int, int]:
    return round_up(height, self.bucket), round_up(width, self.bucket)

  def group_key(self, image: np.ndarray) -> tuple[Any, ...]:
    """Images with equal keys can be batched together."""
    h, w = image.shape[:2]
    if self.uses_tiles(h, w):
      return ('tiled', h, w)
    return ('whole',) + self.bucket_shape(h, w)

  # Passes.
  def whole(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Whole-image pass on images of one bucket; returns uint8 images."""
    bh, bw = self.bucket_shape(*images[0].shape[:2])
    x = np.stack([reflect_pad_to(to_model_range(im), bh, bw) for im in images])
    y = self.run_batch(x)
    return [from_model_range(y[i, :im.shape[0], :im.shape[1]])
            for i, im in enumerate(images)]

  def plan_for(self, height: int, width: int):
    """The tile plan used for an image of height x width."""
    m = self.multiple
    return tile_plan(round_up(height, m), round_up(width, m), self.tile,
                     self.overlap, m)

  def tiled_float(self, image: np.ndarray) -> np.ndarray:
    """Tiled pass on one uint8 image; float32 [H,W,3] in [-1,1]."""
    h, w = image.shape[:2]
    m = self.multiple
    ph, pw = round_up(h, m), round_up(w, m)
    x = reflect_pad_to(to_model_range(image), ph, pw)
    acc = np.zeros((ph, pw, 3), np.float32)
    norm = np.zeros((ph, pw, 1), np.float32)
    plan = self.plan_for(h, w)
    for i in range(0, len(plan), self.batch):
      chunk = plan[i:i + self.batch]
      tiles = np.stack([x[y:y + th, x0:x0 + tw] for y, x0, th, tw, _ in chunk])
      out = self.run_batch(tiles)
      for (y, x0, th, tw, wt), o in zip(chunk, out):
        acc[y:y + th, x0:x0 + tw] += o * wt[..., None]
        norm[y:y + th, x0:x0 + tw] += wt[..., None]
    return (acc / norm)[:h, :w]

  def __call__(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """uint8 RGB images (any sizes) -> uint8 RGB images of the same sizes.

    Images are grouped by bucket so each call of the compiled function sees
    up to `batch` images of one shape.
    """
    results: list[np.ndarray | None] = [None] * len(images)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, im in enumerate(images):
      check_image(im)
      groups.setdefault(self.group_key(im), []).append(i)
    for key, idx in groups.items():
      if key[0] == 'tiled':
        for i in idx:
          results[i] = from_model_range(self.tiled_float(images[i]))
      else:
        for s in range(0, len(idx), self.batch):
          part = idx[s:s + self.batch]
          for i, out in zip(part, self.whole([images[i] for i in part])):
            results[i] = out
    return results  # type: ignore[return-value]


def check_image(image: np.ndarray) -> None:
  if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
    raise ValueError(f'Expected a uint8 RGB image [H,W,3], got '
                     f'{image.dtype} {image.shape}.')


def postprocess(output: np.ndarray, source: np.ndarray, *, color: bool,
                brightness: bool) -> np.ndarray:
  """Applies --keep-color / --adjust-brightness to one output image."""
  if color:
    output = keep_color(output, source)
  if brightness:
    output = adjust_brightness(output, source)
  return output


def batched(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
  buf = []
  for item in items:
    buf.append(item)
    if len(buf) == size:
      yield buf
      buf = []
  if buf:
    yield buf


ForwardFn = Callable[[np.ndarray], np.ndarray]


# --- loading -----------------------------------------------------------------

OFFICIAL_EXTS = ('.pb', '.tflite', '.onnx', '.pt', '.pth')


def resolve_weights(spec: str | None, *, which: str = 'latest',
                    style: str | None = None):
  """--weights / --style -> weights_io.GeneratorWeights, with clear errors.

  spec may be a weights file (weights_io), a training workdir (orbax
  checkpoints; `which` = 'latest' | 'best'), or an official AnimeGAN file
  (.pb/.tflite/.onnx/.pt, converted on the fly). `style` names an entry of
  animejax.convert.catalogue when that exists.
  """
  import os  # pylint: disable=g-import-not-at-top
  from animejax import weights_io  # pylint: disable=g-import-not-at-top
  if style:
    # Official weights by catalogue name: fetched into the cache when
    # possible (else DownloadError says what to download), then converted.
    from animejax import convert  # pylint: disable=g-import-not-at-top
    from animejax.convert import catalogue  # pylint: disable=g-import-not-at-top
    try:
      path = catalogue.resolve(style)
    except KeyError as e:
      raise ValueError(e.args[0]) from e
    except catalogue.DownloadError as e:
      raise ValueError(str(e)) from e
    entry = catalogue.CATALOGUE[style]
    return convert.convert(path, arch=entry.arch, fmt=entry.fmt,
                           meta={'style': style})
  if not spec:
    raise ValueError('Pass --weights (a weights file, a training workdir or '
                     'an official AnimeGAN file) or --style NAME.')
  if not os.path.exists(spec):
    raise FileNotFoundError(
        f'--weights {spec!r} does not exist. Pass a weights file written by '
        '`python -m animejax.convert`, an official .pb/.tflite/.onnx/.pt '
        'file, a training workdir, or --style NAME instead (names: '
        '`python -m animejax.convert --list`).')
  if os.path.isdir(spec):
    try:
      from animejax import checkpointing  # pylint: disable=g-import-not-at-top
    except ImportError as e:
      raise ValueError(f'{spec!r} is a folder, but animejax.checkpointing is '
                       'not available to read training workdirs.') from e
    return checkpointing.load_generator_weights(spec, which=which)
  if spec.lower().endswith(OFFICIAL_EXTS):
    from animejax import convert  # pylint: disable=g-import-not-at-top
    return convert.convert(spec)
  return weights_io.load(spec)


def build_generator(weights, dtype: Any = jnp.float32):
  """GeneratorWeights -> (module, params), checking params against the arch."""
  from animejax import models  # pylint: disable=g-import-not-at-top
  registry = getattr(models, 'GENERATORS', {})
  if registry and weights.arch not in registry:
    raise ValueError(f'Weights are for architecture {weights.arch!r}, which '
                     f'this animejax does not know (known: {sorted(registry)}).')
  try:
    module = models.create_generator(weights.arch, dtype=dtype,
                                     **weights.model_kwargs)
  except TypeError as e:
    raise ValueError(f'Cannot build {weights.arch!r} with model_kwargs '
                     f'{weights.model_kwargs}: {e}') from e
  m = int(getattr(module, 'size_multiple', 4))
  probe = jax.ShapeDtypeStruct((1, 2 * m, 2 * m, 3), jnp.float32)
  expected = jax.eval_shape(module.init, jax.random.key(0), probe)['params']
  params = weights.params
  problems = _shape_problems(expected, params)
  if problems:
    shown = '\n  '.join(problems[:8])
    more = f'\n  ... and {len(problems) - 8} more' if len(problems) > 8 else ''
    raise ValueError(
        f'The weights do not fit {weights.arch!r} {weights.model_kwargs}:\n  '
        f'{shown}{more}\nWere they written for another architecture or '
        'width?')
  params = jax.tree.map(jnp.asarray, params)
  return module, params


def _shape_problems(expected, got, path: str = '') -> list[str]:
  if isinstance(expected, dict) or isinstance(got, dict):
    if not isinstance(expected, dict) or not isinstance(got, dict):
      return [f'{path or "/"}: expected '
              f'{"a dict" if isinstance(expected, dict) else "an array"}']
    out = []
    for k in sorted(set(expected) | set(got)):
      p = f'{path}/{k}'
      if k not in got:
        out.append(f'{p}: missing')
      elif k not in expected:
        out.append(f'{p}: unexpected')
      else:
        out.extend(_shape_problems(expected[k], got[k], p))
    return out
  if tuple(expected.shape) != tuple(np.shape(got)):
    return [f'{path}: shape {tuple(np.shape(got))}, expected '
            f'{tuple(expected.shape)}']
  return []
