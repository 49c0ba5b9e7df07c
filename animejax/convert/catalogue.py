"""Known official AnimeGAN weight files: where they are published.

`resolve(name)` returns a local path for a catalogue name, downloading into
a cache on machines with internet. Offline (or when a source needs a
browser, e.g. Google Drive confirm pages) it raises `DownloadError` saying
what to download and where to put it.

URLs are the ones the authors publish (repository files, release assets)
or that the projects hosting conversions publish in their own scripts;
`sha256` is only set where a hash is published next to the file. The
hashes of the files in the project's shared test folder are in
`LOCAL_SHA256` (computed here, not published).
"""

from __future__ import annotations

import dataclasses
import http.client
import os
import shlex
import shutil
from typing import Callable, Sequence

from animejax.downloads import sha256  # noqa: F401  (catalogue.sha256 is public)
from animejax.downloads import urlopen_to as _urlopen_to  # tests replace it

NON_COMMERCIAL = ('non-commercial research, teaching and publication only '
                  '(AnimeGAN/AnimeGANv2/AnimeGANv3 licence by Asher Chan)')

_V2_REPO = 'https://github.com/TachibanaYoshino/AnimeGANv2'
# raw/<branch>/<path> serves files only: TF1 checkpoint folders are fetched
# file by file (`checkpoint` names the other two).
_RAW = '/raw/master/'
_V2 = f'{_V2_REPO}{_RAW}checkpoint'
_V3 = 'https://github.com/TachibanaYoshino/AnimeGANv3/releases/download/v1.1.0'
_PT = 'https://github.com/bryandlee/animegan2-pytorch/raw/main/weights'


@dataclasses.dataclass(frozen=True)
class Entry:
  name: str
  arch: str           # 'animeganv2' | 'animeganv3'
  fmt: str            # convert.FORMATS
  url: str            # file URL; for TF1 checkpoints the prefix of its files
  filename: str       # local file / folder name in the cache
  licence: str = NON_COMMERCIAL
  sha256: str = ''    # only when published
  manual: str = ''    # why it cannot be fetched automatically
  note: str = ''


CATALOGUE: dict[str, Entry] = {e.name: e for e in [
    # [v2] README: `test.py --checkpoint_dir checkpoint/generator_Hayao_weight`;
    # the folders are committed in TachibanaYoshino/AnimeGANv2.
    *[Entry(f'animeganv2-{s.lower()}', 'animeganv2', 'tf1',
            f'{_V2}/generator_{s}_weight', f'generator_{s}_weight',
            note='TF1 checkpoint folder (checkpoint + .index + .data)')
      for s in ('Hayao', 'Paprika', 'Shinkai')],
    # bryandlee/animegan2-pytorch hubconf.py `known` weights.
    Entry('animegan2-pytorch-paprika', 'animeganv2', 'torch',
          f'{_PT}/paprika.pt', 'paprika.pt',
          note='converted from the official Paprika checkpoint'),
    *[Entry(f'animegan2-pytorch-{n.replace("_", "-")}', 'animeganv2', 'torch',
            f'{_PT}/{n}.pt', f'{n}.pt',
            licence='see bryandlee/animegan2-pytorch (MIT code; weights '
                    'trained by its author on AnimeGANv2)')
      for n in ('celeba_distill', 'face_paint_512_v1', 'face_paint_512_v2')],
    # AnimeGANv3 release v1.1.0 assets (the URL used by the downstream
    # projects that ship these models).
    *[Entry(f'animeganv3-{s.lower().replace("_", "-")}', 'animeganv3', 'onnx',
            f'{_V3}/AnimeGANv3_{s}.onnx', f'AnimeGANv3_{s}.onnx')
      for s in ('Hayao_36', 'Shinkai_37')],
    # PINTO model zoo 050_AnimeGANv2/03_integer_quantization/download.sh:
    # a Google Drive archive with the integer-quantized TFLite exports.
    Entry('animeganv2-hayao-int8-tflite', 'animeganv2', 'tflite',
          'https://drive.google.com/uc?export=download&id='
          '1wFnyD3yJtEsv2GDHJw30VYZ-FIx_zGfb',
          'animeganv2_hayao_256_int8.tflite',
          manual='Google Drive archive (resources.tar.gz) behind a confirm '
                 'page: download it in a browser, extract the Hayao 256 '
                 'integer-quantized .tflite'),
]}

# sha256 of the copies in the project's shared test folder (computed).
LOCAL_SHA256 = {
    'AnimeGANv3_Hayao_36_QUANTIZED_fp16.tflite':
        '53daf9b8da8350ac6e1c1171efdbb7bad55f7221c7d213925125841f83e52f35',
    'AnimeGANv3_Shinkai_37.pb':
        'ecae7b7dc212e2dcb5f484ac50946740cd6b5e630233989799a35526f611a0a9',
    'AnimeGANv3_tiny_Cute.onnx':
        '3ef02d6b2939a0e81621abc5beb0e741bb58654570033cd0e97f6b6ef37c1171',
    'animeganv2_hayao_256_int8.tflite':
        '7d9157db18ad9238a7189c4f56786dbb865f980e219c167def0988fc67ffe5e0',
}


class DownloadError(RuntimeError):
  """A catalogue file could not be fetched; the message says what to do."""


def default_cache_dir() -> str:
  base = os.environ.get('XDG_CACHE_HOME', os.path.expanduser('~/.cache'))
  return os.path.join(base, 'animejax', 'official')


def converted_name(name: str) -> str:
  """The weights file the hints suggest converting catalogue entry `name` to."""
  return f'{name}.msgpack'


def command_with_weights(module: str, argv: Sequence[str],
                         weights: str) -> str:
  """`python -m MODULE ARGV` with --style/--weights replaced by `weights`.

  For the hints of the CLIs that take --style: the same run, on the file
  that `python -m animejax.convert` writes.
  """
  args, skip = [], False
  for arg in argv:
    if skip:
      skip = False
    elif arg in ('--style', '--weights'):
      skip = True  # drop the option and its value
    elif not arg.startswith(('--style=', '--weights=')):
      args.append(arg)
  return shlex.join(['python', '-m', module, '--weights', weights, *args])


def _instructions(entry: Entry, target: str, why: str) -> str:
  """What to run when `entry` cannot be downloaded here (commands verbatim)."""
  convert_from = target
  if entry.manual:
    get = (f'  Download page: {entry.url}\n'
           f'  Save the file as {target}')
  elif entry.fmt == 'tf1':
    repo, _, folder = entry.url.partition(_RAW)
    clone = repo.rsplit('/', 1)[1]
    convert_from = f'{clone}/{folder}'
    get = ('  It is a TF1 checkpoint folder, and GitHub serves files, not '
           'folders.\n  Fetch only that folder with git:\n    '
           + shlex.join(['git', 'clone', '--depth', '1', '--filter=blob:none',
                         '--sparse', repo])
           + ' && ' + shlex.join(['git', '-C', clone, 'sparse-checkout',
                                  'set', folder]) + '\n'
           f'  (or download its files one by one: {entry.url}/checkpoint,\n'
           '  then NAME.index and NAME.data-00000-of-00001 from the same '
           'folder,\n  NAME being the model_checkpoint_path written in '
           f'`checkpoint`);\n  copy the folder to {target}')
  else:
    get = ('  Download it (on any machine with internet):\n    '
           + shlex.join(['curl', '-fL', '--create-dirs', '-o', target,
                         entry.url]))
  convert = shlex.join(['python', '-m', 'animejax.convert', '--from',
                        convert_from, '--arch', entry.arch, '--out',
                        converted_name(entry.name)])
  return (f'Cannot fetch {entry.name!r}: {why}\n{get}\n'
          '  and rerun this command (it looks there first), or convert your '
          f'copy once:\n    {convert}\n'
          f'  Licence: {entry.licence}.')


def style_hint(error: BaseException, module: str, argv: Sequence[str],
               style: str | None) -> str:
  """For a CLI run with --style: how to rerun it on the converted file.

  Empty unless `error` (or an exception it was raised from) is a
  DownloadError, whose message already says how to convert.
  """
  while error is not None and not isinstance(error, DownloadError):
    error = error.__cause__
  if error is None or not style:
    return ''
  return ('\n  With that file, this run is:\n    '
          + command_with_weights(module, argv, converted_name(style)))


def _missing_dirs(path: str) -> list[str]:
  """`path` and its ancestors that do not exist yet, deepest first."""
  out = []
  path = os.path.abspath(path)
  while not os.path.exists(path) and os.path.dirname(path) != path:
    out.append(path)
    path = os.path.dirname(path)
  return out


def _discard(target: str, created_dirs: Sequence[str]) -> None:
  """Removes what a failed download wrote: partial files, new empty dirs."""
  shutil.rmtree(target + '.part', ignore_errors=True)
  if os.path.isdir(target):
    shutil.rmtree(target, ignore_errors=True)
  elif os.path.lexists(target):
    os.remove(target)
  for d in created_dirs:  # deepest first; stop at one that holds other files
    try:
      os.rmdir(d)
    except OSError:
      break


def _fetch_entry(entry: Entry, target: str,
                 fetch: Callable[[str, str], None]) -> None:
  if entry.fmt == 'tf1':
    part = target + '.part'
    os.makedirs(part, exist_ok=True)
    fetch(f'{entry.url}/checkpoint', os.path.join(part, 'checkpoint'))
    with open(os.path.join(part, 'checkpoint')) as f:
      prefix = f.readline().split('"')[1]
    for suffix in ('.index', '.data-00000-of-00001'):
      fetch(f'{entry.url}/{prefix}{suffix}',
            os.path.join(part, prefix + suffix))
    os.replace(part, target)
  else:
    fetch(entry.url, target)


def resolve(name: str, cache_dir: str | None = None,
            fetch: Callable[[str, str], None] | None = None) -> str:
  """Local path of catalogue entry `name`, downloading it if needed.

  `fetch(url, dest)` defaults to urllib (looked up at call time, so tests
  can replace `_urlopen_to`). A failed download leaves nothing behind: no
  partial file, and no cache folder that it created.
  """
  if name not in CATALOGUE:
    raise KeyError(f'{name!r} is not a known weights name; known: '
                   f'{sorted(CATALOGUE)}')
  entry = CATALOGUE[name]
  cache_dir = cache_dir or default_cache_dir()
  target = os.path.join(cache_dir, entry.filename)
  if os.path.exists(target):
    return target
  if entry.manual:
    raise DownloadError(_instructions(entry, target, entry.manual))
  created = _missing_dirs(cache_dir)
  os.makedirs(cache_dir, exist_ok=True)
  try:
    _fetch_entry(entry, target, fetch or _urlopen_to)
  except BaseException as e:  # Ctrl-C too: never keep a half download
    _discard(target, created)
    # URLError is an OSError; a truncated body an HTTPException; a bad
    # `checkpoint` file an IndexError.
    if isinstance(e, (OSError, IndexError, ValueError,
                      http.client.HTTPException)):
      raise DownloadError(_instructions(entry, target, str(e))) from e
    raise
  if entry.sha256 and sha256(target) != entry.sha256:
    _discard(target, created)
    raise DownloadError(f'{name}: sha256 mismatch for {entry.url}; the file '
                        'was removed. Try again or download it by hand.')
  return target
