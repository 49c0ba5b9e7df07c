"""common.find_manual_data, the manual_dir lookup every TFDS builder uses,
with a real tfds DownloadManager (its manual_dir checks and zip extraction)
on tiny folders and zips that the test writes; nothing is downloaded."""

import os
import zipfile

import pytest

tfds = pytest.importorskip('tensorflow_datasets')

from animejax.data import common  # pylint: disable=g-import-not-at-top,wrong-import-position

URL = 'https://example.org/data/things.zip'
SPEC = dict(dataset='things', files=('things.zip',), source=URL)


def _find(path):
  """The folder holding marker.txt, at or under path."""
  for root, _, files in os.walk(path):
    if 'marker.txt' in files:
      return root
  raise FileNotFoundError(f'{path!r} holds no marker.txt')


def _dl(tmp_path, manual):
  return tfds.download.DownloadManager(
      download_dir=str(tmp_path / 'downloads'), manual_dir=str(manual),
      manual_dir_instructions='put things.zip here')


def _zip(path, tag):
  with zipfile.ZipFile(path, 'w') as z:
    z.writestr('things/data/marker.txt', tag)


def _tag(folder):
  with open(os.path.join(folder, 'marker.txt')) as f:
    return f.read()


@pytest.mark.parametrize('state', ['missing', 'empty', 'unrelated'])
def test_missing_message_names_file_url_and_folder(tmp_path, state):
  manual = tmp_path / 'manual'
  if state != 'missing':
    manual.mkdir()
  if state == 'unrelated':
    (manual / 'notes.txt').write_text('not the data')
  with pytest.raises(common.ManualDataMissingError) as e:
    common.find_manual_data(_dl(tmp_path, manual), _find, **SPEC)
  assert isinstance(e.value, FileNotFoundError)
  msg = str(e.value)
  assert msg.startswith(f'things: things.zip not found in {str(manual)!r}')
  assert URL in msg
  assert 'config.data.manual_dir' in msg
  assert 'DownloadConfig(manual_dir=...)' in msg
  # The same lookup in a builder that can download instead: no error.
  assert common.find_manual_data(_dl(tmp_path, manual), _find, **SPEC,
                                 required=False) is None


def test_extracted_folder_is_found_without_extracting(tmp_path):
  manual = tmp_path / 'manual'
  (manual / 'things' / 'data').mkdir(parents=True)
  (manual / 'things' / 'data' / 'marker.txt').write_text('folder')
  got = common.find_manual_data(_dl(tmp_path, manual), _find, **SPEC)
  assert got == str(manual / 'things' / 'data')
  assert not os.listdir(tmp_path / 'downloads' / 'extracted')  # no extract


def test_archive_is_extracted_official_name_first(tmp_path):
  manual = tmp_path / 'manual'
  manual.mkdir()
  _zip(manual / 'a_other.zip', 'other')  # sorts before things.zip
  _zip(manual / 'things.zip', 'official')
  got = common.find_manual_data(_dl(tmp_path, manual), _find, **SPEC,
                                suffix='.zip')
  assert _tag(got) == 'official'
  assert os.path.commonpath([got, str(tmp_path / 'downloads')]) == str(
      tmp_path / 'downloads')


def test_other_archive_only_with_suffix(tmp_path):
  manual = tmp_path / 'manual'
  manual.mkdir()
  _zip(manual / 'renamed.zip', 'renamed')  # e.g. a download tool's name
  _zip(manual / 'UPPER.ZIP', 'upper')  # sorts first; tfds won't extract it
  got = common.find_manual_data(_dl(tmp_path, manual), _find, **SPEC,
                                suffix='.zip')
  assert _tag(got) == 'renamed'
  with pytest.raises(common.ManualDataMissingError, match='things.zip'):
    common.find_manual_data(_dl(tmp_path, manual), _find, **SPEC)


@pytest.mark.parametrize('archive_first,want', [(False, 'folder'),
                                                (True, 'official')])
def test_archive_first_orders_archive_and_folder(tmp_path, archive_first,
                                                 want):
  manual = tmp_path / 'manual'
  (manual / 'x').mkdir(parents=True)
  (manual / 'x' / 'marker.txt').write_text('folder')
  _zip(manual / 'things.zip', 'official')
  got = common.find_manual_data(_dl(tmp_path, manual), _find, **SPEC,
                                archive_first=archive_first)
  assert _tag(got) == want


def test_archive_without_layout_raises_the_find_error(tmp_path):
  manual = tmp_path / 'manual'
  manual.mkdir()
  with zipfile.ZipFile(manual / 'things.zip', 'w') as z:
    z.writestr('readme.txt', 'no marker')
  with pytest.raises(FileNotFoundError, match='holds no marker.txt'):
    common.find_manual_data(_dl(tmp_path, manual), _find, **SPEC)
