"""Procedural outdoor scenes rendered as a "photo" and as "anime" (offline data).

One random scene description (sky, sun, clouds, hills, buildings, trees) is
rendered twice:

* photo: smooth shading, per-object textures (low- and high-frequency noise),
  muted colours, sensor noise and a slight blur;
* anime: flat cel-shaded colour regions (two tones plus a highlight), a more
  saturated and brighter palette, and dark outlines around every object.

The photo -> anime map is local and mostly per-colour (saturate, flatten,
outline), so a small generator can learn it; identity PSNR between a photo and
its anime rendering stays well below what such a map reaches.

Everything is vectorised: objects are drawn with cv2 into an object-id map and
both renderings are gathers over per-object tables, so a 128 px pair takes a
few milliseconds.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

# Seed streams: disjoint integer seeds for unpaired training photos, unpaired
# training anime images and held-out validation pairs (see `scene_seed`).
STREAM_PHOTO = 0
STREAM_ANIME = 1
STREAM_VAL = 2
_STREAM_BITS = 36  # 6.9e10 indices per stream


def scene_seed(base_seed: int, stream: int, index: int) -> int:
  """Integer seed of scene `index` of `stream`; disjoint across streams."""
  if not 0 <= index < 2**_STREAM_BITS:
    raise ValueError(f'scene index {index} out of range [0, 2**36).')
  return ((int(base_seed) * 4 + int(stream)) << _STREAM_BITS) + int(index)


@dataclasses.dataclass
class _Scene:
  """Object-id map plus per-object tables (index 0 is the sky)."""
  ids: np.ndarray          # [S,S] int32
  colors: list             # RGB float in [0,1] per object
  centers: list            # (cx, cy) in pixels per object
  scales: list             # shading length scale in pixels per object
  texture: list            # photo texture amplitude per object
  outline: list            # whether the anime rendering outlines it
  sky_top: np.ndarray
  sky_bottom: np.ndarray
  light: np.ndarray        # unit vector towards the light (image coords)


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
  """HSV in [0,1] -> RGB in [0,1] (scalar)."""
  i = int(h * 6.0) % 6
  f = h * 6.0 - int(h * 6.0)
  p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
  return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v),
                   (v, p, q)][i], np.float32)


def _build_scene(rng: np.random.Generator, size: int) -> _Scene:
  """Draws a random scene into an object-id map (painter's order)."""
  s = size
  ids = np.zeros((s, s), np.int32)
  colors, centers, scales, texture, outline = [], [], [], [], []

  def add(color, center, scale, tex, line=True) -> int:
    colors.append(np.asarray(color, np.float32))
    centers.append(center)
    scales.append(max(float(scale), 1.0))
    texture.append(tex)
    outline.append(line)
    return len(colors) - 1

  # Sky (id 0): a vertical gradient, painted separately.
  sunset = rng.random() < 0.25
  if sunset:
    sky_top = _hsv_to_rgb(rng.uniform(0.6, 0.72), 0.55, 0.55)
    sky_bottom = _hsv_to_rgb(rng.uniform(0.02, 0.1), 0.55, 0.95)
  else:
    sky_top = _hsv_to_rgb(rng.uniform(0.55, 0.63), rng.uniform(0.45, 0.7),
                          rng.uniform(0.7, 0.9))
    sky_bottom = _hsv_to_rgb(rng.uniform(0.5, 0.6), rng.uniform(0.1, 0.3),
                             0.95)
  add(sky_top, (s / 2, s / 2), s, 0.02, line=False)

  horizon = rng.uniform(0.4, 0.65) * s
  sun_x, sun_y = rng.uniform(0.1, 0.9) * s, rng.uniform(0.08, 0.35) * s
  light = np.array([sun_x - s / 2, sun_y - s], np.float32)
  light /= np.linalg.norm(light) + 1e-6

  # Sun.
  if rng.random() < 0.7:
    r = rng.uniform(0.04, 0.08) * s
    k = add(_hsv_to_rgb(rng.uniform(0.1, 0.15), 0.35, 1.0), (sun_x, sun_y),
            4 * r, 0.0, line=False)
    cv2.circle(ids, (int(sun_x), int(sun_y)), max(int(r), 1), k, -1)

  # Clouds: clusters of ellipses sharing one id each.
  for _ in range(rng.integers(1, 4)):
    cx, cy = rng.uniform(0, 1) * s, rng.uniform(0.05, 0.35) * s
    w = rng.uniform(0.08, 0.2) * s
    k = add(_hsv_to_rgb(0.6, rng.uniform(0.0, 0.08), rng.uniform(0.9, 1.0)),
            (cx, cy), w, 0.05, line=True)
    for _ in range(rng.integers(3, 6)):
      ex = int(cx + rng.uniform(-1, 1) * w)
      ey = int(cy + rng.uniform(-0.3, 0.3) * w)
      ax = max(int(rng.uniform(0.3, 0.6) * w), 1)
      cv2.ellipse(ids, (ex, ey), (ax, max(int(ax * 0.6), 1)), 0, 0, 360, k, -1)

  # Hills: layered sine ridges, farther ones bluer and lighter.
  x = np.arange(s + 1, dtype=np.float32)
  n_hills = int(rng.integers(2, 4))
  front_top = horizon
  for layer in range(n_hills):
    depth = 1.0 - layer / max(n_hills - 1, 1)   # 1 = farthest
    base = horizon + (layer * 0.12 + rng.uniform(-0.03, 0.03)) * s
    y = base.copy() if isinstance(base, np.ndarray) else np.full_like(x, base)
    for _ in range(3):
      amp = rng.uniform(0.01, 0.06) * s * (1.0 + 0.5 * depth)
      y += amp * np.sin(x / s * rng.uniform(2, 9) + rng.uniform(0, 2 * np.pi))
    hue = rng.uniform(0.22, 0.38) if depth < 0.9 else rng.uniform(0.4, 0.55)
    color = _hsv_to_rgb(hue, rng.uniform(0.35, 0.6) * (1 - 0.4 * depth),
                        rng.uniform(0.45, 0.7) + 0.2 * depth)
    k = add(color, (s / 2, float(y.mean())), 0.25 * s, 0.12, line=True)
    poly = np.concatenate([np.stack([x, y], 1), [[s, s + 2], [0, s + 2]]])
    cv2.fillPoly(ids, [np.round(poly).astype(np.int32)], k)
    front_top = float(y.mean())

  # Buildings on the ground line: boxes with a roof and a few windows.
  for _ in range(rng.integers(0, 4)):
    w = rng.uniform(0.08, 0.18) * s
    h = rng.uniform(0.1, 0.3) * s
    bx = rng.uniform(0, s - w)
    by = front_top + rng.uniform(0.0, 0.12) * s
    wall = _hsv_to_rgb(rng.uniform(0.0, 0.15), rng.uniform(0.1, 0.4),
                       rng.uniform(0.6, 0.9))
    k = add(wall, (bx + w / 2, by - h / 2), 0.6 * w, 0.06)
    cv2.rectangle(ids, (int(bx), int(by - h)), (int(bx + w), int(by)), k, -1)
    roof = _hsv_to_rgb(rng.choice([0.0, 0.03, 0.58, 0.6]), 0.6,
                       rng.uniform(0.35, 0.6))
    k = add(roof, (bx + w / 2, by - h), 0.5 * w, 0.06)
    tri = np.array([[bx - 0.08 * w, by - h], [bx + w / 2, by - h - 0.35 * w],
                    [bx + 1.08 * w, by - h]])
    cv2.fillPoly(ids, [np.round(tri).astype(np.int32)], k)
    k = add(_hsv_to_rgb(0.58, 0.3, 0.3), (bx + w / 2, by - h / 2), w, 0.03)
    for wy in np.arange(by - 0.85 * h, by - 0.2 * h, max(0.25 * h, 3)):
      for wx in np.arange(bx + 0.15 * w, bx + 0.8 * w, max(0.3 * w, 3)):
        cv2.rectangle(ids, (int(wx), int(wy)),
                      (int(wx + 0.15 * w), int(wy + 0.1 * h)), k, -1)

  # Trees: trunk plus one or two round crowns, in front.
  for _ in range(rng.integers(1, 7)):
    tx = rng.uniform(0, 1) * s
    ty = front_top + rng.uniform(0.02, 0.4) * s
    th = rng.uniform(0.08, 0.2) * s
    k = add(_hsv_to_rgb(0.07, 0.5, 0.35), (tx, ty - th / 2), th, 0.08)
    cv2.rectangle(ids, (int(tx - 0.06 * th), int(ty - th)),
                  (int(tx + 0.06 * th), int(ty)), k, -1)
    crown = _hsv_to_rgb(rng.uniform(0.2, 0.36), rng.uniform(0.45, 0.75),
                        rng.uniform(0.35, 0.6))
    r = 0.45 * th
    k = add(crown, (tx, ty - th), r, 0.18)
    for _ in range(rng.integers(1, 3)):
      cv2.circle(ids, (int(tx + rng.uniform(-0.3, 0.3) * r),
                       int(ty - th - rng.uniform(0, 0.4) * r)),
                 max(int(r * rng.uniform(0.8, 1.1)), 1), k, -1)
  return _Scene(ids, colors, centers, scales, texture, outline, sky_top,
                sky_bottom, light)


def _saturate(rgb: np.ndarray, amount: float, gain: float) -> np.ndarray:
  """Pushes colours away from their grey value and brightens them."""
  grey = rgb.mean(axis=-1, keepdims=True)
  return np.clip((grey + amount * (rgb - grey)) * gain, 0.0, 1.0)


def _noise_field(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
  """Smooth noise in about [-1, 1]: a random grid upsampled bicubically."""
  grid = rng.standard_normal((cells, cells)).astype(np.float32)
  return cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)


def render_pair(seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
  """Renders scene `seed` as (photo, anime) uint8 RGB arrays of [size,size,3]."""
  return _render(seed, size, want_photo=True, want_anime=True)


def render(seed: int, size: int, kind: str) -> np.ndarray:
  """Only the 'photo' or only the 'anime' image of render_pair (faster)."""
  if kind not in ('photo', 'anime'):
    raise ValueError(f"kind must be 'photo' or 'anime', got {kind!r}.")
  photo, anime = _render(seed, size, want_photo=kind == 'photo',
                         want_anime=kind == 'anime')
  return photo if kind == 'photo' else anime


def _render(seed: int, size: int, want_photo: bool, want_anime: bool):
  if size < 16:
    raise ValueError(f'procedural size must be >= 16, got {size}.')
  rng = np.random.default_rng(int(seed))
  scene = _build_scene(rng, size)
  ids = scene.ids
  colors = np.stack(scene.colors)
  cx, cy = np.asarray(scene.centers, np.float32).T
  scale = np.asarray(scene.scales, np.float32)

  yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
  # Shading in [0, 1]: how much each pixel of an object faces the light.
  shade = 0.5 + ((xx - cx[ids]) * scene.light[0] +
                 (yy - cy[ids]) * scene.light[1]) * (0.6 / scale)[ids]
  shade = np.clip(shade, 0.0, 1.0)[..., None]
  t = (yy[:, :1] / (size - 1))[..., None]  # [S,1,1] sky gradient position
  is_sky = (ids == 0)[..., None]

  photo = anime = None
  if want_photo:
    photo = _render_photo(rng, scene, colors, ids, shade, t, is_sky, size)
  if want_anime:
    anime = _render_anime(scene, colors, ids, shade, t, is_sky, size)
  to_u8 = lambda a: np.clip(a * 255.0 + 0.5, 0, 255).astype(np.uint8)
  return (None if photo is None else to_u8(photo),
          None if anime is None else to_u8(anime))


def _render_photo(rng, scene, colors, ids, shade, t, is_sky, size):
  """Photo: smooth shading, textures, muted colours, noise, slight blur."""
  # (_saturate is linear, so it is applied to the colour tables, not pixels.)
  muted = _saturate(colors, 0.8, 0.95)
  tex = np.asarray(scene.texture, np.float32)[ids][..., None]
  low = _noise_field(rng, size, 6)[..., None]
  high = _noise_field(rng, size, max(size // 3, 4))[..., None]
  photo = muted[ids] * ((0.62 + 0.55 * shade) *
                        (1 + tex * (1.2 * low + 0.8 * high)))
  top, bottom = _saturate(np.stack([scene.sky_top, scene.sky_bottom]), 0.8,
                          0.95)
  photo = np.where(is_sky, (top + t * (bottom - top)) * (1 + 0.02 * low),
                   photo)
  photo = cv2.GaussianBlur(photo, (0, 0), 0.5 + size / 512)
  photo += rng.standard_normal(photo.shape, np.float32) * np.float32(0.015)
  return photo


def _render_anime(scene, colors, ids, shade, t, is_sky, size):
  """Anime: flat two-tone cel shading with a highlight, saturated palette."""
  vivid = _saturate(colors, 1.6, 1.1)
  cel = np.where(shade < 0.42, np.float32(0.72),
                 np.where(shade > 0.9, np.float32(1.12), np.float32(1.0)))
  anime = vivid[ids] * cel
  top, bottom = _saturate(np.stack([scene.sky_top, scene.sky_bottom]), 1.5,
                          1.05)
  anime = np.where(is_sky, top + t * (bottom - top), anime)
  # Outlines: pixels whose right/lower neighbour belongs to another object.
  lined = np.asarray(scene.outline)[ids]
  edge = np.zeros((size, size), bool)
  dx = ids[:, 1:] != ids[:, :-1]
  dy = ids[1:, :] != ids[:-1, :]
  edge[:, 1:] |= dx
  edge[1:, :] |= dy
  edge &= lined | np.pad(lined[:, 1:], ((0, 0), (0, 1))) | np.pad(
      lined[1:, :], ((0, 1), (0, 0)))
  thickness = max(1, round(size / 160))
  if thickness > 1:
    edge = cv2.dilate(edge.astype(np.uint8),
                      np.ones((thickness, thickness), np.uint8)) > 0
  anime = np.where(edge[..., None], 0.25 * vivid[ids] + 0.02, anime)

  return anime
