"""TFDS builder for Google's Cartoon Set (`cartoonset/10k`, `cartoonset/100k`).

Source: https://google.github.io/cartoonset/ (Cole, Mosseri, Krishnan,
Sarna, Maschinot, Freeman, Fuman; CC-BY 4.0). Its archives

  cartoonset10k.tgz    cartoonset10k/cs<id>.png + cs<id>.csv      (10,000)
  cartoonset100k.tgz   cartoonset100k/<0..9>/cs<id>.png + .csv    (100,000)

hold 500x500 RGBA PNG avatars on a transparent background and, per image, a
CSV with one line per attribute: `"<name>", <variant index>, <variant
count>`, e.g. `"hair", 37, 111`. The 18 attributes (10 artwork, 4 colour,
4 proportion) and their variant counts are ATTRIBUTES below; the builder
checks every CSV line against them (a name or count that differs fails
with the file named).

Examples: {'image': RGB PNG (alpha composited on white, as
`folders.to_rgb_u8` does for every image of the project), 'filename': path
inside the archive, 'attributes': {name: ClassLabel}}. One split, 'train'
(the set has none).

Download: the public bucket `cartoonset_public_files` (URLS); no checksum is
published, so none is registered (run once with
`DownloadConfig(register_checksums=True)` to pin the file you got).
Offline, or to skip the download, put the .tgz (or the folder it extracts
to) in the manual_dir; without either, the error names the file, the URL
and the manual_dir.

Use with trVAE: the 'anime' side of a real / cartoon / anime model reads
folders, so export once with `export_images(builder, folder, size)`.
"""

from __future__ import annotations

import csv
import io
import os

import numpy as np
from PIL import Image
import tensorflow as tf
import tensorflow_datasets as tfds

from animejax.data import common
from animejax.data import folders

URLS = {
    '10k': 'https://storage.googleapis.com/cartoonset_public_files/'
           'cartoonset10k.tgz',
    '100k': 'https://storage.googleapis.com/cartoonset_public_files/'
            'cartoonset100k.tgz',
}

# name -> number of variants (the third CSV column), in the CSV's order.
ATTRIBUTES = {
    'eye_angle': 3, 'eye_lashes': 2, 'eye_lid': 2, 'chin_length': 3,
    'eyebrow_weight': 2, 'eyebrow_shape': 14, 'eyebrow_thickness': 4,
    'face_shape': 7, 'facial_hair': 15, 'hair': 111, 'eye_color': 5,
    'face_color': 11, 'hair_color': 10, 'glasses': 12, 'glasses_color': 7,
    'eye_slant': 3, 'eyebrow_width': 3, 'eye_eyebrow_distance': 3,
}


class CartoonsetConfig(tfds.core.BuilderConfig):
  """One of the two published sizes."""

  def __init__(self, *, size: str, **kwargs):
    super().__init__(name=size, description=f'Cartoon Set {size} avatars.',
                     **kwargs)
    self.size = size
    self.archive = f'cartoonset{size}.tgz'
    self.folder = f'cartoonset{size}'


def parse_attributes(text: str, where: str = 'csv') -> dict[str, int]:
  """A Cartoon Set CSV -> {name: variant index}, checked against ATTRIBUTES.

  Raises:
    ValueError naming `where` on a malformed line, an unknown attribute, a
    variant count or index that differs from ATTRIBUTES, or missing ones.
  """
  out: dict[str, int] = {}
  for row in csv.reader(io.StringIO(text), skipinitialspace=True):
    if not row:
      continue
    if len(row) != 3:
      raise ValueError(f'{where}: line {row!r} is not "name", index, count.')
    name = row[0].strip()
    try:
      index, count = int(row[1]), int(row[2])
    except ValueError as e:
      raise ValueError(f'{where}: line {row!r} has a non-integer index or '
                       'count.') from e
    if name not in ATTRIBUTES:
      raise ValueError(f'{where}: unknown attribute {name!r}; known: '
                       f'{sorted(ATTRIBUTES)}.')
    if count != ATTRIBUTES[name] or not 0 <= index < count:
      raise ValueError(f'{where}: {name} = {index} of {count}, but Cartoon '
                       f'Set has {ATTRIBUTES[name]} variants.')
    out[name] = index
  missing = sorted(set(ATTRIBUTES) - set(out))
  if missing:
    raise ValueError(f'{where}: missing attributes {missing}.')
  return out


def find_root(path: str, folder: str) -> str:
  """The folder `folder` (cartoonset10k / cartoonset100k) under path, or path
  itself when it directly holds cs*.png files."""
  for root, dirs, files in tf.io.gfile.walk(path):
    if os.path.basename(root.rstrip('/')) == folder:
      return root
    if folder in [d.rstrip('/') for d in dirs]:
      return os.path.join(root, folder)
    if any(f.startswith('cs') and f.endswith('.png') for f in files):
      return root
  raise FileNotFoundError(f'{path!r} holds no {folder}/ folder and no '
                          'cs*.png images.')


class Cartoonset(tfds.core.GeneratorBasedBuilder):
  """Google Cartoon Set: avatars with 18 categorical attributes."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'cartoonset10k.tgz / cartoonset100k.tgz.'}
  BUILDER_CONFIGS = [CartoonsetConfig(size=s, version='1.0.0')
                     for s in ('10k', '100k')]
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      'Download cartoonset10k.tgz or cartoonset100k.tgz from '
      'https://google.github.io/cartoonset/download.html (' +
      ', '.join(URLS.values()) + ') and place the .tgz, or the folder it '
      'extracts to, in the manual_dir.')
  # Tests rebind this to file:// URLs.
  urls = URLS

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(None, None, 3)),
            'filename': tfds.features.Text(),
            'attributes': tfds.features.FeaturesDict({
                name: tfds.features.ClassLabel(num_classes=n)
                for name, n in ATTRIBUTES.items()}),
        }),
        homepage='https://google.github.io/cartoonset/',
        citation=('@misc{cartoonset, title={Cartoon Set: An Image Dataset of '
                  'Random Cartoons}, author={Cole, Forrester and Mosseri, '
                  'Inbar and Krishnan, Dilip and Sarna, Aaron and Maschinot, '
                  'Aaron and Freeman, Bill and Fuman, Shiraz}, '
                  'howpublished={\\url{https://google.github.io/cartoonset/}}'
                  '}'))

  def _root(self, dl_manager) -> str:
    cfg = self.builder_config
    url = self.urls[cfg.size]
    spec = dict(dataset=f'Cartoon Set {cfg.size}', files=(cfg.archive,),
                source=url)
    # Only this size's archive (the other one would pass find_root), before
    # the folder; else the download.
    root = common.find_manual_data(
        dl_manager, lambda path: find_root(path, cfg.folder), **spec,
        archive_first=True, required=False)
    if root is not None:
      return root
    try:
      return find_root(os.fspath(dl_manager.download_and_extract(url)),
                       cfg.folder)
    except Exception as e:  # pylint: disable=broad-except
      raise RuntimeError(common.missing_message(
          **spec, manual_dir=common.manual_dir_of(dl_manager)[1],
          detail=f'and the download failed: {type(e).__name__}: {e}')) from e

  def _split_generators(self, dl_manager):
    return {'train': self._generate_examples(self._root(dl_manager))}

  def _generate_examples(self, root: str):
    for folder, _, files in tf.io.gfile.walk(root):
      for name in sorted(files):
        if not (name.startswith('cs') and name.endswith('.png')):
          continue
        png = os.path.join(folder, name)
        rel = os.path.relpath(png, root).replace('\\', '/')
        csv_path = png[:-4] + '.csv'
        if not tf.io.gfile.exists(csv_path):
          raise FileNotFoundError(f'{rel}: no attribute file {csv_path}.')
        with tf.io.gfile.GFile(csv_path, 'r') as f:
          attrs = parse_attributes(f.read(), csv_path)
        rgb = folders.decode(folders.read_file(png))  # RGBA -> RGB on white
        yield rel, {'image': rgb, 'filename': rel, 'attributes': attrs}


def export_images(builder: tfds.core.DatasetBuilder, folder: str,
                  size: int = 0, limit: int = 0) -> int:
  """Writes the prepared images as PNG files (optionally resized to size x
  size, at most `limit`) into `folder`, for the trVAE folder source."""
  os.makedirs(folder, exist_ok=True)
  n = 0
  for ex in tfds.as_numpy(builder.as_dataset(split='train',
                                             shuffle_files=False)):
    img = Image.fromarray(np.asarray(ex['image']))
    if size:
      img = img.resize((size, size), Image.BICUBIC)
    base = os.path.basename(ex['filename'].decode())
    img.save(os.path.join(folder, base))
    n += 1
    if limit and n >= limit:
      break
  return n
