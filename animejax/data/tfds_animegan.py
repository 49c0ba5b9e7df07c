"""TFDS builder for the official AnimeGAN training set (`animegan/<style>`).

Source: the AnimeGAN release 'dataset-1', file dataset.zip
(https://github.com/TachibanaYoshino/AnimeGAN/releases/tag/dataset-1), which
AnimeGAN/AnimeGANv2 unzip into ./dataset and read as ([v2] AnimeGANv2.py):

  train_photo/            6656 real photos (256x256)
  val/                    validation photos
  test/<...>/             test photos (test_photo, test_photo256, real, ...)
  <Style>/style/          anime frames, Style in Hayao, Shinkai, Paprika, ...
  <Style>/smooth/         their edge-smoothed copies (tools/edge_smooth.py)

Each split holds {'image': encoded image, 'filename': path inside the
archive}. Splits: train_photo, style, smooth (same file names as style), val,
test. When an archive has no <Style>/smooth folder, the builder makes the
smooth images with `smoothing.edge_smooth` ([v2] resizes the style image to
256 first, as we do).

Checksum: the release publishes no checksum, so none is registered here
(inventing one would be dishonest). TFDS then downloads without verifying;
run once with `tfds.download.DownloadConfig(register_checksums=True)` to
record the SHA-256 of the file you got in checksums.tsv next to this module.

Manual download: put dataset.zip (or its extracted folder) in manual_dir
(config.data.manual_dir); it is used instead of downloading.
"""

from __future__ import annotations

import io
import os

from absl import logging
import cv2
from PIL import Image
import tensorflow as tf
import tensorflow_datasets as tfds

from animejax.data import common
from animejax.data import folders
from animejax.data import smoothing

URL = ('https://github.com/TachibanaYoshino/AnimeGAN/releases/download/'
       'dataset-1/dataset.zip')
STYLES = ('Hayao', 'Shinkai', 'Paprika')
SMOOTH_SIZE = 256  # [v2] edge_smooth.py --img_size 256
SPLITS = ('train_photo', 'style', 'smooth', 'val', 'test')


class AnimeganConfig(tfds.core.BuilderConfig):
  """One anime style of the archive."""

  def __init__(self, *, style: str, **kwargs):
    super().__init__(name=style.lower(), description=f'{style} style images '
                     'plus the shared real photos.', **kwargs)
    self.style = style


def find_root(path: str) -> str:
  """The folder that holds train_photo/ (the archive root or a parent)."""
  # tf.io.gfile (not os) so that the builder also reads from GCS paths.
  for root, dirs, _ in tf.io.gfile.walk(path):
    if 'train_photo' in [d.rstrip('/') for d in dirs]:
      return root
  raise FileNotFoundError(
      f'{path!r} does not contain the AnimeGAN dataset layout (no '
      'train_photo/ folder). Download dataset.zip from ' + URL)


class Animegan(tfds.core.GeneratorBasedBuilder):
  """AnimeGAN photos + per-style anime frames and edge-smoothed frames."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'AnimeGAN release dataset-1 (dataset.zip).'}
  BUILDER_CONFIGS = [AnimeganConfig(style=s, version='1.0.0') for s in STYLES]
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f'Download {URL} and place dataset.zip, or the folder it unzips to, '
      'in the manual_dir (config.data.manual_dir).')
  # The test rebinds this to a local file:// URL.
  url = URL

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(None, None, 3)),
            'filename': tfds.features.Text(),
        }),
        homepage='https://github.com/TachibanaYoshino/AnimeGAN',
        citation=('@inproceedings{chen2019animegan, title={AnimeGAN: A Novel '
                  'Lightweight GAN for Photo Animation}, author={Chen, Jie '
                  'and Liu, Gang and Chen, Xin}, booktitle={ISICA}, '
                  'year={2019}}'))

  def _archive_root(self, dl_manager) -> str:
    # The extracted folder or dataset.zip (or another zip) in the manual_dir,
    # else the release download.
    root = common.find_manual_data(
        dl_manager, find_root, dataset='animegan', files=('dataset.zip',),
        source=self.url, suffix='.zip', required=False)
    if root is not None:
      return root
    return find_root(os.fspath(dl_manager.download_and_extract(self.url)))

  def _split_generators(self, dl_manager):
    root = self._archive_root(dl_manager)
    style = self.builder_config.style
    style_dir = os.path.join(root, style, 'style')
    if not tf.io.gfile.isdir(style_dir):
      raise FileNotFoundError(f'{root!r} has no {style}/style folder.')
    splits = {
        'train_photo': self._generate_examples(root, 'train_photo'),
        'style': self._generate_examples(root, os.path.join(style, 'style')),
        'smooth': self._generate_smooth(root, style),
    }
    for name in ('val', 'test'):  # optional in hand-made archives
      if tf.io.gfile.isdir(os.path.join(root, name)):
        splits[name] = self._generate_examples(root, name)
    return splits

  def _generate_examples(self, root: str, sub: str):
    folder = os.path.join(root, sub)
    if not tf.io.gfile.isdir(folder):
      return
    skipped = []
    for path in folders.list_images(folder, sub):
      rel = os.path.relpath(path, root).replace('\\', '/')
      image = _encodable(path)
      if image is None:
        skipped.append(rel)
        continue
      yield rel, {'image': image, 'filename': rel}
    if skipped:
      logging.warning('animegan: skipped %d unreadable file(s) in %s: %s',
                      len(skipped), sub, ', '.join(skipped))

  def _generate_smooth(self, root: str, style: str):
    smooth_dir = os.path.join(root, style, 'smooth')
    if tf.io.gfile.isdir(smooth_dir):
      yield from self._generate_examples(root, os.path.join(style, 'smooth'))
      return
    logging.info('animegan: no %s/smooth folder; edge-smoothing the style '
                 'images.', style)
    for path in folders.list_images(os.path.join(root, style, 'style')):
      try:
        rgb = folders.decode(folders.read_file(path))
      except Exception:  # pylint: disable=broad-except
        continue  # reported by the style split
      rgb = cv2.resize(rgb, (SMOOTH_SIZE, SMOOTH_SIZE))
      rel = os.path.relpath(path, os.path.join(root, style, 'style'))
      rel = f'{style}/smooth/' + rel.replace('\\', '/')
      yield rel, {'image': smoothing.edge_smooth(rgb), 'filename': rel}


def _encodable(path: str):
  """File object of an RGB JPEG/PNG as is; other images as RGB arrays."""
  data = folders.read_file(path)
  try:
    with_pil = Image.open(io.BytesIO(data))
    fmt, mode = with_pil.format, with_pil.mode
    rgb = folders.decode(data)
  except Exception:  # pylint: disable=broad-except
    return None
  if fmt in ('JPEG', 'PNG') and mode == 'RGB':
    return io.BytesIO(data)
  return rgb


def load_real_data(config):
  """RealData for the 'tfds' source: prepares `animegan/<style>` if needed."""
  # pylint: disable=g-import-not-at-top
  from animejax.data import pipeline
  d = config.data
  if d.style not in STYLES:
    raise ValueError(f'config.data.style={d.style!r} is not one of {STYLES}.')
  builder = tfds.builder(f'animegan/{d.style.lower()}',
                         data_dir=d.tfds_data_dir or None)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=d.manual_dir or None))
  read = lambda split: _read_split(builder, split)
  photos, _ = read('train_photo')
  styles, style_names = read('style')
  smooth, smooth_names = read('smooth')
  by_name = {os.path.splitext(os.path.basename(n))[0]: s
             for n, s in zip(smooth_names, smooth)}
  smooths = [by_name.get(os.path.splitext(os.path.basename(n))[0], b'')
             for n in style_names]
  val, _ = read('val')
  if not val:  # archive without val/: evaluate on a few training photos
    val = photos[-int(d.num_val_images):]
  _, _, means = folders.verify(styles, want_means=bool(
      d.get('style_mean_adjust', False)))
  return pipeline.RealData(photos, styles, smooths,
                           val[:int(d.num_val_images)], [], means)


def _read_split(builder, split: str) -> tuple[list[bytes], list[str]]:
  """Encoded images and file names of a split, in file-name order."""
  if split not in builder.info.splits:
    return [], []
  ds = builder.as_dataset(split=split, shuffle_files=False, decoders={
      'image': tfds.decode.SkipDecoding()})
  rows = sorted((ex['filename'].decode(), ex['image'])
                for ex in tfds.as_numpy(ds))
  return [r[1] for r in rows], [r[0] for r in rows]
