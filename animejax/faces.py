"""Face detection and cropping for real photos and anime drawings.

Two published cascades, both 24x24 boosted stumps in OpenCV's XML format:
- 'real': OpenCV's `haarcascade_frontalface_default.xml` (Lienhart's Haar
  frontal-face detector, opencv/opencv `data/haarcascades/`), the cascade the
  trVAE issue asks for;
- 'anime': nagadomi's `lbpcascade_animeface.xml` (LBP features,
  nagadomi/lbpcascade_animeface, MIT), with the detection parameters of its
  README: equalised grey image, scaleFactor 1.1, minNeighbors 5, minSize 24.

opencv-python(-headless) 5.0 ships neither the XML files (`cv2.data` is
empty) nor `cv2.CascadeClassifier` (OpenCV 5 moved the cascade detector out
of the main modules), so this module

1. finds the XML in $ANIMEJAX_CASCADE_DIR, the cache folder
   ($XDG_CACHE_HOME or ~/.cache)/animejax/cascades, or OpenCV 4's `cv2.data`,
   else downloads it once from the pinned URL below and checks its SHA-256;
   offline the error names the file, the URL and where to put it;
2. runs the cascade with `cv2.CascadeClassifier` when the installed OpenCV
   has it, else with `NumpyCascade`, a numpy re-implementation of OpenCV 4's
   `CascadeClassifier::detectMultiScale` for stump cascades (HAAR without
   tilted features, and LBP): the same scale loop, window steps, variance
   normalisation, stage thresholds and `groupRectangles` as
   opencv/opencv 4.x `modules/objdetect/src/cascadedetect.cpp` and
   `cascadedetect.hpp` (`HaarEvaluator::setWindow`,
   `LBPEvaluator::OptFeature::calc`, `predictOrderedStump`,
   `predictCategoricalStump`, `CascadeClassifierInvoker`'s skip of the next
   x after a first-stage rejection, `clipObjects`) and
   `modules/objdetect/src/objdetect.cpp` (`groupRectangles`,
   `SimilarRects`).

Checked against opencv-python-headless 4.12.0.88's `CascadeClassifier` (a
throw-away install outside the project): on 30 real faces (15
selfie2anime/trainA, 15 real_faces) with the Haar file and 30 anime faces
(15 selfie2anime/trainB, 15 anime64_tagged) with the LBP file, the raw
windows (minNeighbors 0) and the grouped boxes (minNeighbors 5, minSize 24,
equalised grey) are identical on all 60 images; so are the hand-written
cascades of tests/test_faces.py. The numpy version is about 40x slower
(measured on the loaded shared 2-core machine: 4.2 s vs 0.1 s per 128 px
image with the Haar file, 0.6 s vs 0.03 s with the LBP file), hence
`max_side` and the use of OpenCV's class whenever it exists.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import xml.etree.ElementTree as ET
from typing import Callable

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph

from animejax.downloads import sha256 as _sha256
from animejax.downloads import urlopen_to as _urlopen_to  # tests replace it

ENV_VAR = 'ANIMEJAX_CASCADE_DIR'


@dataclasses.dataclass(frozen=True)
class CascadeFile:
  """A published cascade: file name, pinned URL, SHA-256 of its bytes."""
  filename: str
  url: str
  sha256: str


CASCADES = {
    # Byte-identical to the copy in opencv-python 4.x wheels (cv2/data/).
    'real': CascadeFile(
        'haarcascade_frontalface_default.xml',
        'https://raw.githubusercontent.com/opencv/opencv/4.12.0/data/'
        'haarcascades/haarcascade_frontalface_default.xml',
        '0f7d4527844eb514d4a4948e822da90fbb16a34a0bbbbc6adc6498747a5aafb0'),
    # nagadomi/lbpcascade_animeface at its latest commit (the file itself is
    # unchanged since 2014).
    'anime': CascadeFile(
        'lbpcascade_animeface.xml',
        'https://raw.githubusercontent.com/nagadomi/lbpcascade_animeface/'
        '4433ab1ae1166ea75acfe99eb0f18709dac329a0/lbpcascade_animeface.xml',
        '9376d30ac38db6bda2a68b88b3b76bbd7e6aa33af47f7f5c76bc88ca75f1ce30'),
}

# detectMultiScale parameters per kind ([anime]: nagadomi's README example;
# [real]: the same, the common choice for the default frontal cascade).
DETECT_DEFAULTS = {'real': dict(scale_factor=1.1, min_neighbors=5,
                                min_size=24, equalize=True),
                   'anime': dict(scale_factor=1.1, min_neighbors=5,
                                 min_size=24, equalize=True)}

Boxes = np.ndarray  # int [N, 4] (x, y, w, h)
Detector = Callable[[np.ndarray], Boxes]


class CascadeUnavailableError(FileNotFoundError):
  """A cascade XML is missing and could not be downloaded."""


def default_cache_dir() -> str:
  """$ANIMEJAX_CASCADE_DIR, else ($XDG_CACHE_HOME|~/.cache)/animejax/cascades."""
  if os.environ.get(ENV_VAR):
    return os.environ[ENV_VAR]
  base = os.environ.get('XDG_CACHE_HOME', os.path.expanduser('~/.cache'))
  return os.path.join(base, 'animejax', 'cascades')


def _opencv_data_dir() -> str:
  try:
    import cv2  # pylint: disable=g-import-not-at-top
    return getattr(getattr(cv2, 'data', None), 'haarcascades', '') or ''
  except ImportError:
    return ''


def _offline_message(entry: CascadeFile, target: str, err: object) -> str:
  return (f'The face cascade {entry.filename} is not available and could not '
          f'be downloaded from {entry.url} ({err}).\n'
          f'On a machine with internet access fetch that URL (SHA-256 '
          f'{entry.sha256}) and put the file at {target}, or into any folder '
          f'named by ${ENV_VAR}, or pass its path (cascade=... / '
          '--face-cascade).')


def cascade_path(kind: str = 'real', *, cache_dir: str | None = None,
                 download: bool = True,
                 fetch: Callable[[str, str], None] | None = None) -> str:
  """Local path of the cascade XML of `kind` ('real' | 'anime').

  Looks in `cache_dir` (default `default_cache_dir()`), then in OpenCV 4's
  bundled `cv2.data.haarcascades`; otherwise downloads it (`fetch(url, dest)`,
  default urllib) and checks its SHA-256.

  Raises:
    ValueError: unknown kind.
    CascadeUnavailableError: missing and not downloadable (offline), or the
      download has the wrong SHA-256 (removed); the message says what to do.
  """
  if kind not in CASCADES:
    raise ValueError(f'unknown face kind {kind!r}; known: {sorted(CASCADES)}.')
  entry = CASCADES[kind]
  cache_dir = cache_dir or default_cache_dir()
  target = os.path.join(cache_dir, entry.filename)
  if os.path.isfile(target):
    return target
  bundled = os.path.join(_opencv_data_dir(), entry.filename)
  if _opencv_data_dir() and os.path.isfile(bundled):
    return bundled
  if not download:
    raise CascadeUnavailableError(_offline_message(entry, target,
                                                   'downloads disabled'))
  try:
    os.makedirs(cache_dir, exist_ok=True)
    (fetch or _urlopen_to)(entry.url, target)
  except (OSError, ValueError) as e:  # URLError is an OSError
    if os.path.exists(target):
      os.remove(target)
    raise CascadeUnavailableError(_offline_message(entry, target, e)) from e
  got = _sha256(target)
  if got != entry.sha256:
    os.remove(target)
    raise CascadeUnavailableError(
        f'{entry.url} gave a file with SHA-256 {got}, not {entry.sha256}; it '
        f'was removed. Download it by hand and put it at {target}.')
  return target


# ------------------------------------------------------- numpy cascade
@dataclasses.dataclass
class _Stage:
  threshold: float
  feature: np.ndarray    # int [W] feature index per stump
  split: np.ndarray      # HAAR: float [W] thresholds; LBP: uint32 [W, 8]
  leaves: np.ndarray     # float [W, 2] (value < thr / bit set, otherwise)


def _numbers(node: ET.Element | None) -> list[float]:
  return [float(t) for t in (node.text or '').split()] if node is not None else []


class NumpyCascade:
  """OpenCV 4 `CascadeClassifier` for new-format stump cascades, in numpy.

  Each stage is evaluated for all surviving windows of one scale at once
  (integral-image gathers); see the module docstring for the sources.
  """

  def __init__(self, path: str):
    root = ET.parse(path).getroot()
    node = root.find('cascade')
    if node is None:
      node = next(iter(root), None)
    if node is None or node.find('stages') is None or node.find(
        'featureType') is None:
      raise ValueError(f'{path}: not a new-format OpenCV cascade '
                       '(<cascade> with <stageType>, <featureType>, <stages>); '
                       'old-format (opencv-haar-classifier) files need '
                       'cv2.CascadeClassifier from OpenCV 4.')
    self.feature_type = node.findtext('featureType').strip()
    if self.feature_type not in ('HAAR', 'LBP'):
      raise ValueError(f'{path}: featureType {self.feature_type} is not '
                       'supported (HAAR or LBP).')
    self.window = (int(node.findtext('width')), int(node.findtext('height')))
    max_cat = int(float(node.findtext('featureParams/maxCatCount', '0')))
    subset = (max_cat + 31) // 32 if max_cat > 0 else 0
    self.stages: list[_Stage] = []
    for st in node.find('stages'):
      feats, splits, leaves = [], [], []
      for weak in st.find('weakClassifiers'):
        nodes = (weak.findtext('internalNodes') or '').split()
        leaf = _numbers(weak.find('leafValues'))
        step = 3 + (subset if subset else 1)
        if len(nodes) != step or len(leaf) != 2:
          raise ValueError(f'{path}: only stump cascades (one node per weak '
                           'classifier) are supported by NumpyCascade.')
        feats.append(int(nodes[2]))
        if subset:
          splits.append([int(v) & 0xFFFFFFFF for v in nodes[3:]])
        else:
          splits.append(float(nodes[3]))
        leaves.append(leaf)
      # cascadedetect.cpp Data::read: stage.threshold - THRESHOLD_EPS (1e-5).
      thr = float(np.float32(float(st.findtext('stageThreshold'))) -
                  np.float32(1e-5))
      self.stages.append(_Stage(
          thr, np.asarray(feats, np.int64),
          np.asarray(splits, np.uint32 if subset else np.float32),
          np.asarray(leaves, np.float32)))
    self._read_features(node.find('features'), path)
    self._haar_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

  def _read_features(self, features: ET.Element, path: str) -> None:
    if self.feature_type == 'HAAR':
      rects = np.zeros((len(features), 3, 5), np.float64)  # x y w h weight
      for i, f in enumerate(features):
        if (f.findtext('tilted') or '0').strip() not in ('0', ''):
          raise ValueError(f'{path}: tilted Haar features are not supported '
                           'by NumpyCascade.')
        for j, r in enumerate(f.find('rects')):
          rects[i, j] = [float(v) for v in r.text.split()]
      self.rects = rects
    else:
      self.rects = np.asarray(
          [[int(v) for v in f.findtext('rect').split()] for f in features],
          np.int64)

  # -------------------------------------------------------------- features
  def _haar(self, s: np.ndarray, stride: int, stage: int,
            base: np.ndarray) -> np.ndarray:
    """[W, n] raw Haar sums of a stage's features at windows `base` (flat
    offsets into the integral image `s`, row length `stride`)."""
    if stage not in self._haar_cache:
      r = self.rects[self.stages[stage].feature]          # [W, 3, 5]
      wi, ri = np.nonzero(r[..., 4])                      # rects in use
      geo = r[wi, ri, :4].astype(np.int64)                # [R, 4] x y w h
      mix = np.zeros((len(r), len(wi)))
      mix[wi, np.arange(len(wi))] = r[wi, ri, 4]          # weights [W, R]
      self._haar_cache[stage] = (geo, mix)
    geo, mix = self._haar_cache[stage]
    x, y, w, h = (geo[:, k, None] for k in range(4))
    tl = y * stride + x + base
    box = (s[tl + h * stride + w] - s[tl + w] - s[tl + h * stride] + s[tl])
    return mix @ box

  def _lbp(self, s: np.ndarray, stride: int, stage: int,
           base: np.ndarray) -> np.ndarray:
    """[W, n] LBP codes (cascadedetect.hpp LBPEvaluator::OptFeature::calc)."""
    r = self.rects[self.stages[stage].feature]  # [W, 4] x y w h of a block
    steps = np.arange(4)
    gx = r[:, 0, None] + r[:, 2, None] * steps  # [W, 4] grid columns
    gy = r[:, 1, None] + r[:, 3, None] * steps  # [W, 4] grid rows
    # Grid corners (p[4 * row + col] in OpenCV) [W, 4 rows, 4 cols, n].
    corner = s[(gy[:, :, None] * stride + gx[:, None, :])[..., None] + base]
    blocks = (corner[:, 1:, 1:] - corner[:, :-1, 1:] - corner[:, 1:, :-1] +
              corner[:, :-1, :-1])
    c = blocks[:, 1, 1]
    # Bits clockwise from the top-left block: 128 64 32 / 1 . 16 / 2 4 8.
    order = ((0, 0, 128), (0, 1, 64), (0, 2, 32), (1, 2, 16), (2, 2, 8),
             (2, 1, 4), (2, 0, 2), (1, 0, 1))
    code = np.zeros(c.shape, np.int64)
    for i, j, bit in order:
      code |= np.where(blocks[:, i, j] >= c, bit, 0)
    return code

  # -------------------------------------------------------------- detect
  def _scan(self, gray: np.ndarray, factor: float) -> Boxes:
    """Accepted windows of one scale, as boxes in the input's pixels."""
    import cv2  # pylint: disable=g-import-not-at-top
    ww, wh = self.window
    h, w = gray.shape
    # OpenCV keeps the scales as float: float sizes, cvRound (half to even).
    factor = np.float32(factor)
    sw = int(np.rint(np.float32(w) / factor))
    sh = int(np.rint(np.float32(h) / factor))
    img = gray if (sw, sh) == (w, h) else cv2.resize(
        gray, (sw, sh), interpolation=cv2.INTER_LINEAR_EXACT)
    step = 1 if factor >= 2.0 else 2          # ScaleData: sc >= 2 ? 1 : 2
    # ScaleData::getWorkingSize: (scaled size + 1) - winSize0 positions.
    gy, gx = np.arange(0, sh - wh + 1, step), np.arange(0, sw - ww + 1, step)
    if not len(gy) or not len(gx):
      return np.zeros((0, 4), np.int64)
    yy, xx = np.meshgrid(gy, gx, indexing='ij')
    ys, xs = yy.reshape(-1), xx.reshape(-1)
    grid = np.arange(len(ys))
    f = img.astype(np.float64)
    s = np.zeros((sh + 1, sw + 1))
    s[1:, 1:] = f.cumsum(0).cumsum(1)
    inv_nf = None
    if self.feature_type == 'HAAR':
      q = np.zeros((sh + 1, sw + 1))
      q[1:, 1:] = (f * f).cumsum(0).cumsum(1)
      # HaarEvaluator::setWindow: normrect = window shrunk by 1 px;
      # nf = sqrt(area * sqsum - sum^2); windows with nf <= 0 or
      # area / nf >= 0.1 (grey-level std <= 10) are rejected.
      y0, x0, y1, x1 = ys + 1, xs + 1, ys + wh - 1, xs + ww - 1
      area = float((ww - 2) * (wh - 2))
      vs = s[y1, x1] - s[y0, x1] - s[y1, x0] + s[y0, x0]
      vq = q[y1, x1] - q[y0, x1] - q[y1, x0] + q[y0, x0]
      nf = area * vq - vs * vs
      ok = nf > 0
      nf = np.sqrt(np.where(ok, nf, 1.0))
      ok &= area / nf < 0.1
      ys, xs, grid = ys[ok], xs[ok], grid[ok]
      inv_nf = (1.0 / nf[ok]).astype(np.float32)
    stride = sw + 1
    s = s.reshape(-1)
    for k, st in enumerate(self.stages):
      if not len(ys):
        break
      base = ys * stride + xs
      if self.feature_type == 'HAAR':
        val = self._haar(s, stride, k, base).astype(np.float32) * inv_nf[None]
        right = val >= st.split[:, None]
      else:
        code = self._lbp(s, stride, k, base)
        words = np.take_along_axis(st.split, (code >> 5), axis=1)
        right = (words >> (code & 31).astype(np.uint32)) & 1 == 0
      # Stage sums in float32 and in order, as predict*Stump's `tmp +=`.
      leaf = np.where(right, st.leaves[:, 1, None], st.leaves[:, 0, None])
      total = np.cumsum(leaf, axis=0, dtype=np.float32)[-1]
      keep = total >= st.threshold
      if k == 0:
        keep &= self._not_skipped(grid, ~keep, (len(gy), len(gx)))
      ys, xs, grid = ys[keep], xs[keep], grid[keep]
      if inv_nf is not None:
        inv_nf = inv_nf[keep]
    size = (int(np.rint(np.float32(ww) * factor)),
            int(np.rint(np.float32(wh) * factor)))
    return np.stack([np.rint(xs.astype(np.float32) * factor),
                     np.rint(ys.astype(np.float32) * factor),
                     np.full(len(xs), size[0]), np.full(len(xs), size[1])],
                    axis=1).astype(np.int64).reshape(-1, 4)

  @staticmethod
  def _not_skipped(grid: np.ndarray, rejected0: np.ndarray,
                   shape: tuple[int, int]) -> np.ndarray:
    """CascadeClassifierInvoker: after a window rejected by the first stage
    (runAt == 0) the next x position of its row is not evaluated."""
    rej = np.zeros(shape, bool).reshape(-1)
    rej[grid[rejected0]] = True
    rej = rej.reshape(shape)
    evaluated = np.ones(shape, bool)
    for j in range(1, shape[1]):
      evaluated[:, j] = ~(evaluated[:, j - 1] & rej[:, j - 1])
    return evaluated.reshape(-1)[grid]

  def detect_multi_scale(self, gray: np.ndarray, scale_factor: float = 1.1,
                         min_neighbors: int = 3, min_size: int = 0,
                         max_size: int = 0) -> Boxes:
    """OpenCV's detectMultiScale on a uint8 grey image -> int [N, 4] boxes."""
    if gray.ndim != 2 or gray.dtype != np.uint8:
      raise ValueError(f'need a uint8 [H, W] grey image, got {gray.dtype} '
                       f'{gray.shape}.')
    if scale_factor <= 1:
      raise ValueError(f'scale_factor={scale_factor} must be > 1.')
    h, w = gray.shape
    ww, wh = self.window
    max_w, max_h = (max_size, max_size) if max_size else (w, h)
    found = []
    factor = 1.0
    while True:
      win = (int(round(ww * factor)), int(round(wh * factor)))
      if win[0] > max_w or win[1] > max_h or win[0] > w or win[1] > h:
        break
      if win[0] >= min_size and win[1] >= min_size:
        found.append(self._scan(gray, factor))
      factor *= scale_factor
    boxes = np.concatenate(found) if found else np.zeros((0, 4), np.int64)
    boxes = group_rectangles(boxes, min_neighbors, 0.2)
    # CascadeClassifier::detectMultiScale ends with clipObjects: boxes are
    # intersected with the image and empty ones dropped.
    x0, y0 = np.maximum(boxes[:, 0], 0), np.maximum(boxes[:, 1], 0)
    x1 = np.minimum(boxes[:, 0] + boxes[:, 2], w)
    y1 = np.minimum(boxes[:, 1] + boxes[:, 3], h)
    boxes = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
    return boxes[(boxes[:, 2] > 0) & (boxes[:, 3] > 0)]


def group_rectangles(boxes: Boxes, group_threshold: int,
                     eps: float = 0.2) -> Boxes:
  """cv::groupRectangles: cluster similar boxes, keep clusters of more than
  `group_threshold`, average them, drop small ones inside strong big ones."""
  boxes = np.asarray(boxes, np.int64).reshape(-1, 4)
  if group_threshold <= 0 or not len(boxes):
    return boxes
  # partition(SimilarRects(eps)): the transitive closure of similarity.
  a, b = boxes[:, None, :], boxes[None, :, :]
  delta = eps * (np.minimum(a[..., 2], b[..., 2]) +
                 np.minimum(a[..., 3], b[..., 3])) * 0.5
  near = ((np.abs(a[..., 0] - b[..., 0]) <= delta) &
          (np.abs(a[..., 1] - b[..., 1]) <= delta) &
          (np.abs(a[..., 0] + a[..., 2] - b[..., 0] - b[..., 2]) <= delta) &
          (np.abs(a[..., 1] + a[..., 3] - b[..., 1] - b[..., 3]) <= delta))
  _, roots = scipy.sparse.csgraph.connected_components(
      scipy.sparse.csr_matrix(near), directed=False)
  labels = {r: k for k, r in enumerate(dict.fromkeys(roots.tolist()))}
  sums = np.zeros((len(labels), 4))
  counts = np.zeros(len(labels), np.int64)
  for i, r in enumerate(roots.tolist()):
    sums[labels[r]] += boxes[i]
    counts[labels[r]] += 1
  # saturate_cast<int>(float) rounds half to even like np.rint.
  means = np.rint((sums * (1.0 / counts)[:, None]).astype(np.float32)).astype(
      np.int64)
  out = []
  for i, (r1, n1) in enumerate(zip(means, counts)):
    if n1 <= group_threshold:
      continue
    inside = False
    for j, (r2, n2) in enumerate(zip(means, counts)):
      if j == i or n2 <= group_threshold:
        continue
      dx, dy = int(np.rint(r2[2] * eps)), int(np.rint(r2[3] * eps))
      if (r1[0] >= r2[0] - dx and r1[1] >= r2[1] - dy and
          r1[0] + r1[2] <= r2[0] + r2[2] + dx and
          r1[1] + r1[3] <= r2[1] + r2[3] + dy and
          (n2 > max(3, n1) or n1 < 3)):
        inside = True
        break
    if not inside:
      out.append(r1)
  return np.asarray(out, np.int64).reshape(-1, 4)


@functools.lru_cache(maxsize=8)
def load_detector(path: str, backend: str = 'auto'):
  """A cascade object with `detect_multi_scale(gray, ...)` for an XML file.

  backend 'opencv' needs cv2.CascadeClassifier (OpenCV 4 / contrib),
  'numpy' is NumpyCascade, 'auto' takes OpenCV when it has the class.
  """
  if backend not in ('auto', 'opencv', 'numpy'):
    raise ValueError(f"backend {backend!r} is not 'auto', 'opencv' or "
                     "'numpy'.")
  if not os.path.isfile(path):
    raise CascadeUnavailableError(f'cascade file {path!r} does not exist.')
  try:
    import cv2  # pylint: disable=g-import-not-at-top
    has_cv = hasattr(cv2, 'CascadeClassifier')
  except ImportError:
    has_cv = False
  if backend == 'opencv' or (backend == 'auto' and has_cv):
    if not has_cv:
      raise RuntimeError('this OpenCV has no CascadeClassifier (OpenCV 5 '
                         "moved it out); use backend='numpy'.")
    return _OpenCVCascade(path)
  return NumpyCascade(path)


class _OpenCVCascade:
  """cv2.CascadeClassifier behind the NumpyCascade interface."""

  def __init__(self, path: str):
    import cv2  # pylint: disable=g-import-not-at-top
    self._c = cv2.CascadeClassifier(path)
    if self._c.empty():
      raise ValueError(f'OpenCV could not read the cascade {path!r}.')

  def detect_multi_scale(self, gray, scale_factor=1.1, min_neighbors=3,
                         min_size=0, max_size=0) -> Boxes:
    found = self._c.detectMultiScale(
        gray, scaleFactor=scale_factor, minNeighbors=min_neighbors,
        minSize=(min_size, min_size),
        maxSize=(max_size, max_size) if max_size else (0, 0))
    return np.asarray(found, np.int64).reshape(-1, 4)


# ----------------------------------------------------------- public API
def to_gray(image_u8: np.ndarray, equalize: bool = True) -> np.ndarray:
  """RGB (or grey) uint8 -> uint8 grey (BT.601, as cv2 RGB2GRAY), equalised."""
  import cv2  # pylint: disable=g-import-not-at-top
  image_u8 = np.asarray(image_u8)
  if image_u8.dtype != np.uint8:
    raise ValueError(f'need a uint8 image, got {image_u8.dtype}.')
  if image_u8.ndim == 3 and image_u8.shape[2] == 1:
    image_u8 = image_u8[..., 0]
  if image_u8.ndim == 3:
    gray = cv2.cvtColor(np.ascontiguousarray(image_u8[..., :3]),
                        cv2.COLOR_RGB2GRAY)
  elif image_u8.ndim == 2:
    gray = image_u8
  else:
    raise ValueError(f'need [H, W, 3] or [H, W], got {image_u8.shape}.')
  return cv2.equalizeHist(gray) if equalize else gray


def detect_faces(image_u8: np.ndarray, *, kind: str = 'real',
                 cascade: str | None = None, backend: str = 'auto',
                 max_side: int = 640, **overrides) -> Boxes:
  """Face boxes int [N, 4] (x, y, w, h) in the image's pixels.

  Images with a side above `max_side` are downscaled for the detection
  (boxes are scaled back); `overrides` replace DETECT_DEFAULTS[kind].
  """
  if kind not in CASCADES:
    raise ValueError(f'unknown face kind {kind!r}; known: {sorted(CASCADES)}.')
  params = dict(DETECT_DEFAULTS[kind], **overrides)
  det = load_detector(cascade or cascade_path(kind), backend)
  gray = to_gray(image_u8, params.pop('equalize'))
  scale = 1.0
  if max_side and max(gray.shape) > max_side:
    import cv2  # pylint: disable=g-import-not-at-top
    scale = max(gray.shape) / max_side
    gray = cv2.resize(gray, (round(gray.shape[1] / scale),
                             round(gray.shape[0] / scale)),
                      interpolation=cv2.INTER_AREA)
  boxes = det.detect_multi_scale(gray, **params)
  return np.round(boxes * scale).astype(np.int64).reshape(-1, 4)


def square_box(box, image_hw: tuple[int, int], margin: float) -> tuple[
    int, int, int]:
  """(top, left, side) of the square around box (x, y, w, h) grown by
  `margin` x its size on every side, shifted (then shrunk) to fit the image."""
  x, y, w, h = (float(v) for v in box)
  ih, iw = image_hw
  side = max(w, h) * (1.0 + 2.0 * margin)
  side = int(round(min(side, ih, iw)))
  cx, cy = x + w / 2.0, y + h / 2.0
  left = int(round(cx - side / 2.0))
  top = int(round(cy - side / 2.0))
  left = min(max(left, 0), iw - side)
  top = min(max(top, 0), ih - side)
  return top, left, side


def crop_face(image_u8: np.ndarray, *, margin: float = 0.25,
              kind: str = 'real', cascade: str | None = None,
              detector: Detector | None = None,
              backend: str = 'auto') -> np.ndarray | None:
  """The square crop around the largest face, or None when there is none.

  Args:
    image_u8: uint8 [H, W, 3] RGB (or [H, W] grey).
    margin: the face box grows by margin x its width/height on every side
      (the cascades' boxes are tight: brows to mouth); the square is shifted
      into the image and shrunk to its short side if needed.
    kind: 'real' (OpenCV Haar frontal face) or 'anime' (lbpcascade_animeface).
    cascade: path of a cascade XML (default: `cascade_path(kind)`, which
      downloads once).
    detector: instead of a cascade, any function grey uint8 [H, W] -> boxes
      int [N, 4] (x, y, w, h) (tests, other detectors).
    backend: 'auto' | 'opencv' | 'numpy' (see `load_detector`).
  """
  if margin < 0:
    raise ValueError(f'margin={margin} must be >= 0.')
  image_u8 = np.asarray(image_u8)
  if detector is not None:
    boxes = np.asarray(detector(to_gray(image_u8, True)),
                       np.int64).reshape(-1, 4)
  else:
    boxes = detect_faces(image_u8, kind=kind, cascade=cascade,
                         backend=backend)
  if not len(boxes):
    return None
  best = boxes[np.argmax(boxes[:, 2] * boxes[:, 3])]
  top, left, side = square_box(best, image_u8.shape[:2], margin)
  return image_u8[top:top + side, left:left + side].copy()
