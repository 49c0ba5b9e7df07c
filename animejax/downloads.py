"""Files fetched on first use: the download and the checksum, written once.

The official-weights catalogue, the VGG19 and FID Inception-v3 weights and
the face cascades all fetch a file into a cache folder and check its
SHA-256; offline each caller turns the error into a message naming the file
and where to put it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request


def urlopen_to(url: str, dest: str) -> None:
  """Downloads `url` to `dest` atomically: a dropped connection leaves no
  partial file (the bytes go to a temporary file renamed at the end)."""
  with urllib.request.urlopen(url, timeout=60) as r:  # noqa: S310
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest) or '.',
                               prefix=os.path.basename(dest) + '.',
                               suffix='.part')
    try:
      with os.fdopen(fd, 'wb') as f:
        shutil.copyfileobj(r, f)
    except BaseException:
      os.remove(tmp)
      raise
  os.replace(tmp, dest)


def sha256(path: str) -> str:
  """The hex SHA-256 of a file, read in 1 MiB chunks."""
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()
