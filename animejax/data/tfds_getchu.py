"""TFDS builder for the Kaggle "Anime Face Dataset" (`anime_faces`): 63,632
anime character faces cropped from Getchu character images.

Source: Kaggle dataset splcher/animefacedataset
(https://www.kaggle.com/datasets/splcher/animefacedataset): `archive.zip`
holding `images/<n>_<year>.jpg`, 63,632 JPEG faces of 90-120 px, made with
nagadomi/lbpcascade_animeface (the set DCGAN anime tutorials and the
anime-image-development project train on; MakeGirlsMoe's own Getchu crawl
was never published). Kaggle needs a login, so there is no download URL:
the archive (or its extracted folder) must be put in the manual_dir.

  tfds.builder('anime_faces', data_dir=D).download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=M))

One split, 'train': {'image': the face decoded to RGB (any mode, via
`animejax.data.folders.decode`) and stored losslessly as PNG, 'filename':
its path inside the images folder}. Files that do not decode are
skipped and logged. The count is checked against the published 63,632 only
in the log (a partial archive is allowed and said so), so hand-made archives
and tests work.
"""

from __future__ import annotations

import os

from absl import logging
import tensorflow as tf
import tensorflow_datasets as tfds

from animejax.data import common
from animejax.data import folders

KAGGLE_URL = 'https://www.kaggle.com/datasets/splcher/animefacedataset'
ARCHIVE = 'archive.zip'
NUM_FACES = 63632  # the Kaggle page: 63,632 "high-quality" anime faces
SOURCE = (f'the Kaggle Anime Face Dataset ({KAGGLE_URL}; a Kaggle login is '
          'needed, e.g. `kaggle datasets download -d '
          'splcher/animefacedataset`)')
INSTRUCTIONS = (
    f'Download {ARCHIVE} of {SOURCE} and put the zip, or the images/ folder '
    'it extracts to, in the manual_dir (config.data.manual_dir; TFDS default '
    '<data_dir>/downloads/manual/).')


# The archive is not in the manual_dir (offline, or not downloaded).
ManualDataMissingError = common.ManualDataMissingError


def find_images_dir(path: str) -> str:
  """The folder of the archive's images (a folder named 'images', else the
  first folder, from `path` down, that holds image files)."""
  fallback = None
  for root, dirs, files in tf.io.gfile.walk(path):
    if 'images' in [d.rstrip('/') for d in dirs]:
      return os.path.join(root, 'images')
    if fallback is None and any(
        os.path.splitext(f)[1].lower() in folders.IMAGE_EXTENSIONS
        for f in files):
      fallback = root
  if fallback is None:
    raise ManualDataMissingError(f'{path!r} holds no face images. '
                                 + INSTRUCTIONS)
  return fallback


class AnimeFaces(tfds.core.GeneratorBasedBuilder):
  """Kaggle/Getchu anime faces (63,632), from a manually downloaded zip."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Kaggle splcher/animefacedataset archive.zip.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = INSTRUCTIONS

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(None, None, 3)),
            'filename': tfds.features.Text(),
        }),
        homepage=KAGGLE_URL,
        citation=('@misc{animefacedataset, author={Spencer Churchill and '
                  'Brian Chao}, title={Anime Face Dataset}, '
                  'howpublished={Kaggle}, year={2019}}'))

  def _images_dir(self, dl_manager) -> str:
    # archive.zip (or another zip, e.g. the CLI's animefacedataset.zip)
    # first: find_images_dir would also take a stray image in manual_dir.
    return common.find_manual_data(
        dl_manager, find_images_dir, dataset='anime_faces', files=(ARCHIVE,),
        source=SOURCE, suffix='.zip', archive_first=True)

  def _split_generators(self, dl_manager):
    return {'train': self._generate_examples(self._images_dir(dl_manager))}

  def _generate_examples(self, images_dir: str):
    skipped, count = [], 0
    for path in folders.list_images(images_dir, 'anime_faces images'):
      rel = os.path.relpath(path, images_dir).replace('\\', '/')
      try:
        rgb = folders.decode(folders.read_file(path))
      except Exception:  # pylint: disable=broad-except
        skipped.append(rel)
        continue
      count += 1
      yield rel, {'image': rgb, 'filename': rel}
    if skipped:
      logging.warning('anime_faces: skipped %d unreadable file(s): %s',
                      len(skipped), ', '.join(skipped[:10]))
    if count != NUM_FACES:
      logging.warning('anime_faces: %d faces, not the published %d (a '
                      'partial or hand-made archive).', count, NUM_FACES)
