"""TFDS builder for the official U-GAT-IT selfie2anime data set (`selfie2anime`).

Source: selfie2anime.zip, linked from the U-GAT-IT READMEs (taki0112/UGATIT
"Dataset: selfie2anime"; znxlwm/UGATIT-pytorch) on Google Drive, which TFDS
cannot download unattended; so this builder is manual-only. The archive
unpacks to the layout both official codes read ([pt] UGATIT.py build_model,
dataset/<name>/...):

  trainA/   3400 selfies (256x256)        trainB/   3400 anime faces
  testA/     100 selfies                  testB/     100 anime faces

Each split (trainA, trainB, testA, testB) holds {'image': encoded image,
'filename': path inside the archive}. Unreadable files are skipped and
logged.

Manual download: put selfie2anime.zip (or the folder it unzips to) in the
manual_dir, by default ~/tensorflow_datasets/downloads/manual/, or pass
config.data.manual_dir. No checksum is registered: the archive has no
published one.

`as_folders(data_config)` prepares the data set once and writes its splits
back as the trainA/ trainB/ testA/ testB/ folders that
`animejax.data.unpaired` reads (config.data.source = 'tfds' in the U-GAT-IT
configs).
"""

from __future__ import annotations

import os

from absl import logging
import tensorflow as tf
import tensorflow_datasets as tfds

from animejax.data import common
from animejax.data import folders

ARCHIVE = 'selfie2anime.zip'
HOMEPAGE = 'https://github.com/taki0112/UGATIT'
SOURCE = (f'the "selfie2anime" link of {HOMEPAGE} or of znxlwm/UGATIT-pytorch '
          '(Google Drive: it cannot be downloaded automatically)')
SPLITS = ('trainA', 'trainB', 'testA', 'testB')
DEFAULT_MANUAL_DIR = common.DEFAULT_MANUAL_DIR


def find_root(path: str) -> str:
  """The folder holding trainA/ and trainB/ (the archive root or below)."""
  for root, dirs, _ in tf.io.gfile.walk(path):
    names = {d.rstrip('/') for d in dirs}
    if {'trainA', 'trainB'} <= names:
      return root
  raise FileNotFoundError(
      f'{path!r} does not hold the selfie2anime layout (trainA/, trainB/, '
      f'testA/, testB/). Download {ARCHIVE} from the U-GAT-IT README '
      f'({HOMEPAGE}) and put it in the manual_dir.')


def missing_message(manual_dir: str | None) -> str:
  """The error text when selfie2anime.zip is not in `manual_dir`."""
  return common.missing_message('selfie2anime', (ARCHIVE,), SOURCE,
                                manual_dir)


class Selfie2anime(tfds.core.GeneratorBasedBuilder):
  """U-GAT-IT selfie2anime: unpaired selfies (A) and anime faces (B)."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'The U-GAT-IT selfie2anime.zip.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f'Download {ARCHIVE} from the U-GAT-IT README ({HOMEPAGE}) and place '
      'the zip, or the folder it unzips to, in the manual_dir.')

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(None, None, 3)),
            'filename': tfds.features.Text(),
        }),
        homepage=HOMEPAGE,
        citation=('@inproceedings{kim2020ugatit, title={U-GAT-IT: '
                  'Unsupervised Generative Attentional Networks with Adaptive '
                  'Layer-Instance Normalization for Image-to-Image '
                  'Translation}, author={Kim, Junho and Kim, Minjae and Kang, '
                  'Hyeonwoo and Lee, Kwanghee}, booktitle={ICLR}, '
                  'year={2020}}'))

  def _archive_root(self, dl_manager) -> str:
    # The extracted folders, else selfie2anime.zip (or another zip) there.
    return common.find_manual_data(
        dl_manager, find_root, dataset='selfie2anime', files=(ARCHIVE,),
        source=SOURCE, suffix='.zip')

  def _split_generators(self, dl_manager):
    root = self._archive_root(dl_manager)
    return {s: self._generate_examples(root, s) for s in SPLITS
            if tf.io.gfile.isdir(os.path.join(root, s))}

  def _generate_examples(self, root: str, split: str):
    skipped = []
    for path in folders.list_images(os.path.join(root, split), split):
      rel = os.path.relpath(path, root).replace('\\', '/')
      try:
        rgb = folders.decode(folders.read_file(path))
      except Exception:  # pylint: disable=broad-except
        skipped.append(rel)
        continue
      yield rel, {'image': rgb, 'filename': rel}
    if skipped:
      logging.warning('selfie2anime: skipped %d unreadable file(s) in %s: %s',
                      len(skipped), split, ', '.join(skipped))


def builder(data_config) -> Selfie2anime:
  """The prepared builder of config.data (tfds_data_dir, manual_dir)."""
  b = Selfie2anime(data_dir=data_config.get('tfds_data_dir') or None)
  manual = data_config.get('manual_dir') or None
  try:
    b.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=manual))
  except AssertionError as e:  # tfds: manual_dir missing
    raise common.ManualDataMissingError(missing_message(manual)) from e
  return b


def as_folders(data_config) -> str:
  """Writes the prepared splits once as <tfds data_dir>/selfie2anime_folders/
  <version>/{trainA,trainB,testA,testB}/ (PNG) and returns that root, the
  layout animejax.data.unpaired reads."""
  b = builder(data_config)
  # b.data_dir is <data_dir>/selfie2anime/<version>; keep TFDS's own folder
  # free of files it does not know.
  top = os.path.dirname(os.path.dirname(b.data_dir))
  root = os.path.join(top, 'selfie2anime_folders', str(b.version))
  done = os.path.join(root, '.complete')
  if tf.io.gfile.exists(done):
    return root
  for split in b.info.splits:
    ds = b.as_dataset(split=split, shuffle_files=False)
    for ex in tfds.as_numpy(ds):
      name = os.path.splitext(ex['filename'].decode())[0] + '.png'
      path = os.path.join(root, name)
      tf.io.gfile.makedirs(os.path.dirname(path))
      with tf.io.gfile.GFile(path, 'wb') as f:
        f.write(tf.io.encode_png(ex['image']).numpy())
  with tf.io.gfile.GFile(done, 'w') as f:
    f.write('ok\n')
  return root
