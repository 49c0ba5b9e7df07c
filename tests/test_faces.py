"""animejax.faces: cascade files (offline errors), the numpy cascade
detector on hand-written cascades, and the crop geometry. Nothing downloads.
"""

import hashlib
import os
import urllib.error

import numpy as np
import pytest

from animejax import faces


# ------------------------------------------------------ cascade files
@pytest.fixture(name='no_bundled')
def _no_bundled(monkeypatch):
  """Pretend OpenCV bundles no cascades (as opencv 5.0 here)."""
  monkeypatch.setattr(faces, '_opencv_data_dir', lambda: '')


def test_offline_error_names_file_url_and_place(tmp_path, no_bundled):
  del no_bundled
  def offline(url, dest):
    raise urllib.error.URLError('no network')
  cache = tmp_path / 'cache'
  for kind in ('real', 'anime'):
    entry = faces.CASCADES[kind]
    with pytest.raises(faces.CascadeUnavailableError) as e:
      faces.cascade_path(kind, cache_dir=str(cache), fetch=offline)
    msg = str(e.value)
    assert entry.filename in msg and entry.url in msg
    assert str(cache / entry.filename) in msg and faces.ENV_VAR in msg
    assert entry.sha256 in msg and 'no network' in msg
    assert not (cache / entry.filename).exists()
  with pytest.raises(faces.CascadeUnavailableError, match='disabled'):
    faces.cascade_path('real', cache_dir=str(cache), download=False)
  with pytest.raises(ValueError, match="unknown face kind 'cat'"):
    faces.cascade_path('cat', cache_dir=str(cache))


def test_download_checks_sha_and_caches(tmp_path, monkeypatch, no_bundled):
  del no_bundled
  body = b'<opencv_storage/>'
  calls = []

  def fetch(url, dest):
    calls.append(url)
    with open(dest, 'wb') as f:
      f.write(body)
  # Wrong hash: the file is removed and the error says so.
  with pytest.raises(faces.CascadeUnavailableError, match='was removed'):
    faces.cascade_path('anime', cache_dir=str(tmp_path), fetch=fetch)
  assert not os.listdir(tmp_path)
  entry = faces.CASCADES['anime']
  monkeypatch.setitem(faces.CASCADES, 'anime', faces.CascadeFile(
      entry.filename, entry.url, hashlib.sha256(body).hexdigest()))
  path = faces.cascade_path('anime', cache_dir=str(tmp_path), fetch=fetch)
  assert path == str(tmp_path / entry.filename) and calls == [entry.url] * 2
  # Cached: no second download; the env var names the cache folder.
  monkeypatch.setenv(faces.ENV_VAR, str(tmp_path))
  assert faces.cascade_path('anime', fetch=fetch) == path
  assert len(calls) == 2


def test_pinned_cascades():
  # SHA-256 of the published files (also cited by third parties).
  assert faces.CASCADES['real'].sha256.startswith('0f7d4527844eb514')
  assert faces.CASCADES['anime'].sha256.startswith('9376d30ac38db6bd')
  assert all(e.url.startswith('https://raw.githubusercontent.com/')
             for e in faces.CASCADES.values())


# --------------------------------------------- hand-written cascades
def _write_haar(path, threshold=0.05):
  """One stage, one stump: (bottom half - top half) / (area * std) of the
  24x24 window (weights -1 on the whole window, +2 on its bottom half)."""
  path.write_text(f'''<?xml version="1.0"?>
<opencv_storage>
<cascade type_id="opencv-cascade-classifier"><stageType>BOOST</stageType>
  <featureType>HAAR</featureType><height>24</height><width>24</width>
  <stageParams><boostType>GAB</boostType><minHitRate>0.995</minHitRate>
    <maxFalseAlarm>0.5</maxFalseAlarm><weightTrimRate>0.95</weightTrimRate>
    <maxDepth>1</maxDepth><maxWeakCount>1</maxWeakCount></stageParams>
  <featureParams><maxCatCount>0</maxCatCount><featSize>1</featSize>
    <mode>BASIC</mode></featureParams>
  <stageNum>1</stageNum>
  <stages><_><maxWeakCount>1</maxWeakCount><stageThreshold>0.</stageThreshold>
    <weakClassifiers><_><internalNodes>0 -1 0 {threshold}</internalNodes>
      <leafValues>-1. 1.</leafValues></_></weakClassifiers></_></stages>
  <features><_><rects><_>0 0 24 24 -1.</_><_>0 12 24 12 2.</_></rects>
    <tilted>0</tilted></_></features></cascade>
</opencv_storage>
''')
  return str(path)


def _write_lbp(path):
  """One stage, one stump on the 3x3 grid of 8x8 blocks: accept only LBP
  code 0 (every neighbour block darker than the centre; flat windows give
  code 255)."""
  words = [1] + [0] * 7  # bit 0 of word 0
  path.write_text(f'''<?xml version="1.0"?>
<opencv_storage>
<cascade><stageType>BOOST</stageType><featureType>LBP</featureType>
  <height>24</height><width>24</width>
  <stageParams><boostType>GAB</boostType><minHitRate>0.995</minHitRate>
    <maxFalseAlarm>0.5</maxFalseAlarm><weightTrimRate>0.95</weightTrimRate>
    <maxDepth>1</maxDepth><maxWeakCount>1</maxWeakCount></stageParams>
  <featureParams><maxCatCount>256</maxCatCount><featSize>1</featSize>
    </featureParams>
  <stageNum>1</stageNum>
  <stages><_><maxWeakCount>1</maxWeakCount><stageThreshold>0.</stageThreshold>
    <weakClassifiers><_><internalNodes>0 -1 0 {' '.join(map(str, words))}
      </internalNodes><leafValues>1. -1.</leafValues></_></weakClassifiers>
    </_></stages>
  <features><_><rect>0 0 8 8</rect></_></features></cascade>
</opencv_storage>
''')
  return str(path)


def _edge_image():
  """Grey 128 background (flat windows are rejected) with a 36x36 square
  whose top half is dark and bottom half bright, at x 40..76, y 30..66."""
  img = np.full((100, 120), 128, np.uint8)
  img[30:48, 40:76] = 20
  img[48:66, 40:76] = 235
  return img


def test_numpy_haar_cascade_raw_windows_match_brute_force(tmp_path):
  det = faces.NumpyCascade(_write_haar(tmp_path / 'h.xml'))
  img = _edge_image()
  got = det.detect_multi_scale(img, 1.25, min_neighbors=0)
  # Brute force of the same rule at scale 1 (step 2): normalised feature
  # over the 1-px-shrunk window's std, std > 10 (OpenCV's flat-window test).
  f = img.astype(np.float64)
  want = set()
  for y in range(0, 100 - 24 + 1, 2):
    for x in range(0, 120 - 24 + 1, 2):
      w = f[y:y + 24, x:x + 24]
      inner = w[1:-1, 1:-1]
      nf = np.sqrt(inner.size * np.sum(inner ** 2) - inner.sum() ** 2)
      if nf <= 0 or inner.size / nf >= 0.1:
        continue
      val = (-w.sum() + 2 * w[12:].sum()) / nf
      if val >= 0.05:
        want.add((x, y, 24, 24))
  scale1 = {tuple(b) for b in got.tolist() if b[2] == 24}
  assert want and scale1 == want
  assert {b[2] for b in got} > {24}  # larger scales were scanned too
  grouped = det.detect_multi_scale(img, 1.25, min_neighbors=2)
  assert len(grouped)
  for x, y, w, h in grouped:  # every group straddles the dark/bright edge
    assert y < 48 < y + h and x < 76 and x + w > 40


def test_numpy_lbp_cascade_finds_the_dark_block(tmp_path):
  det = faces.NumpyCascade(_write_lbp(tmp_path / 'l.xml'))
  img = np.full((64, 64), 30, np.uint8)
  img[30:38, 20:28] = 220           # an 8x8 bright block at x 20, y 30
  raw = det.detect_multi_scale(img, 1.5, min_neighbors=0, max_size=24)
  # The centre block (x+8..x+16) must overlap the bright block more than
  # its neighbours in x and in y: |x - 12| < 4 and |y - 22| < 4, even
  # origins (step 2 at scale 1). x = 10 is never evaluated: OpenCV skips the
  # next x after a first-stage rejection, so a row scans x = 0, 4, 8, then
  # (8 rejected) 12, 14 (accepted), 16, ...
  want = {(x, y, 24, 24) for x in (12, 14) for y in (20, 22, 24)}
  assert {tuple(b) for b in raw.tolist()} == want
  grouped = det.detect_multi_scale(img, 1.5, min_neighbors=3, max_size=24)
  np.testing.assert_array_equal(grouped, [[13, 22, 24, 24]])


def test_numpy_cascade_rejects_unsupported(tmp_path):
  bad = tmp_path / 'old.xml'
  bad.write_text('<opencv_storage><haar type_id="opencv-haar-classifier">'
                 '<size>24 24</size></haar></opencv_storage>')
  with pytest.raises(ValueError, match='not a new-format OpenCV cascade'):
    faces.NumpyCascade(str(bad))
  det = faces.NumpyCascade(_write_haar(tmp_path / 'h.xml'))
  with pytest.raises(ValueError, match='uint8'):
    det.detect_multi_scale(np.zeros((30, 30), np.float32))


def test_group_rectangles_like_opencv():
  boxes = np.array([[10, 10, 20, 20], [11, 10, 20, 20], [10, 12, 21, 21],
                    [60, 60, 20, 20],                      # alone: dropped
                    [12, 12, 6, 6], [12, 13, 6, 6], [13, 12, 6, 6],
                    [12, 12, 7, 7]])                       # inside the first
  got = faces.group_rectangles(boxes, 2, 0.2)
  # Cluster means (rounded): (10.33, 10.67, 20.33, 20.33) -> (10, 11, 20, 20).
  np.testing.assert_array_equal(got, [[10, 11, 20, 20], [12, 12, 6, 6]])
  got = faces.group_rectangles(boxes, 3, 0.2)  # the small one has 4 > 3
  np.testing.assert_array_equal(got, [[12, 12, 6, 6]])
  np.testing.assert_array_equal(faces.group_rectangles(boxes, 0), boxes)


@pytest.mark.skipif(not hasattr(__import__('cv2'), 'CascadeClassifier'),
                    reason='this OpenCV has no CascadeClassifier (OpenCV 5)')
def test_numpy_cascade_equals_opencv(tmp_path):
  import cv2  # pylint: disable=g-import-not-at-top
  img = _edge_image()
  for path in (_write_haar(tmp_path / 'h.xml'), _write_lbp(tmp_path / 'l.xml')):
    ref = cv2.CascadeClassifier(path)
    mine = faces.NumpyCascade(path)
    for mn in (0, 3):
      want = np.asarray(ref.detectMultiScale(img, 1.1, mn), np.int64)
      got = mine.detect_multi_scale(img, 1.1, mn)
      assert sorted(map(tuple, want.reshape(-1, 4))) == sorted(
          map(tuple, got))


# ------------------------------------------------------------- crops
def test_square_box_geometry():
  # Box 20x20 at (30, 20), margin 0.25 -> side 30 around the centre (40, 30).
  assert faces.square_box((30, 20, 20, 20), (80, 100), 0.25) == (15, 25, 30)
  # Near the top-left corner: shifted into the image, side kept.
  assert faces.square_box((0, 0, 20, 20), (80, 100), 0.25) == (0, 0, 30)
  # Bottom-right corner of a 80x100 image.
  assert faces.square_box((85, 65, 15, 15), (80, 100), 0.5) == (50, 70, 30)
  # Larger than the image: shrunk to the short side.
  assert faces.square_box((10, 10, 70, 60), (80, 100), 0.25) == (0, 5, 80)


def test_crop_face_with_injected_detector():
  rng = np.random.default_rng(0)
  img = rng.integers(0, 256, (80, 100, 3), np.uint8)
  seen = []

  def detector(gray):
    seen.append(gray.shape)
    return [[5, 5, 10, 10], [30, 20, 20, 20], [60, 50, 12, 12]]
  crop = faces.crop_face(img, margin=0.25, detector=detector)
  assert seen == [(80, 100)]
  np.testing.assert_array_equal(crop, img[15:45, 25:55])   # largest face
  assert faces.crop_face(img, detector=lambda g: []) is None
  with pytest.raises(ValueError, match='margin'):
    faces.crop_face(img, margin=-1, detector=detector)


def test_crop_face_with_cascade_file(tmp_path):
  img = np.repeat(_edge_image()[..., None], 3, axis=2)
  path = _write_haar(tmp_path / 'h.xml')
  crop = faces.crop_face(img, margin=0.0, cascade=path, backend='numpy')
  box = faces.detect_faces(img, cascade=path, backend='numpy',
                           equalize=False, min_size=0, min_neighbors=2)
  assert crop is not None and crop.shape[0] == crop.shape[1] >= 24
  assert len(box)
  with pytest.raises(faces.CascadeUnavailableError, match='does not exist'):
    faces.crop_face(img, cascade=str(tmp_path / 'missing.xml'))
