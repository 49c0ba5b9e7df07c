"""`python -m animejax.convert`: official weights -> animejax weights file.

  python -m animejax.convert --from AnimeGANv3_Shinkai_37.onnx --out s.msgpack
  python -m animejax.convert --from animeganv3-shinkai-37 --out s.msgpack
  python -m animejax.convert --from selfie2anime_params_0100000.pt \
      --out ugatit.msgpack          # official U-GAT-IT (PyTorch) checkpoint
  python -m animejax.convert --list

--from takes a local file/folder or a catalogue name (see --list); names are
downloaded into --cache_dir on machines with internet. One source gives one
weights file, so there is no partial result.
"""

from __future__ import annotations

import argparse
import os
import sys

from animejax import convert
from animejax import weights_io
from animejax.convert import catalogue

EXIT_HELP = """exit status:
  0  the weights file was written
  1  the conversion or the download failed (the message says why)
  2  usage error: --from/--out missing, or --from is neither a file nor a
     known name"""


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
      prog='python -m animejax.convert',
      description='Convert official AnimeGANv2/v3 or U-GAT-IT (PyTorch) '
                  'weights to an animejax weights file.',
      epilog=EXIT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--from', dest='source',
                 help='file, TF1 checkpoint folder, or catalogue name')
  p.add_argument('--out', help='output weights file (.msgpack)')
  p.add_argument('--arch', choices=convert.ARCHS, default=None,
                 help='default: guessed from the file')
  p.add_argument('--format', default='auto',
                 choices=('auto',) + convert.FORMATS)
  p.add_argument('--cache_dir', default=None,
                 help='download cache (default '
                      f'{catalogue.default_cache_dir()})')
  p.add_argument('--list', action='store_true',
                 help='list the known official weights and exit')
  return p


def main(argv: list[str] | None = None) -> int:
  args = _parser().parse_args(argv)
  if args.list:
    for e in catalogue.CATALOGUE.values():
      how = f'manual: {e.manual}' if e.manual else e.url
      print(f'{e.name:36s} {e.arch:11s} {e.fmt:7s} {how}')
    return 0
  if not args.source or not args.out:
    print('error: --from and --out are required (or --list)', file=sys.stderr)
    return 2
  source, meta = args.source, {}
  if not os.path.exists(source) and source in catalogue.CATALOGUE:
    entry = catalogue.CATALOGUE[source]
    source = catalogue.resolve(source, args.cache_dir)
    meta = {'name': entry.name, 'url': entry.url, 'licence': entry.licence}
    args.arch = args.arch or entry.arch
  elif not os.path.exists(source):
    print(f'error: {source!r} is neither a file/folder nor a known name '
          '(see --list).', file=sys.stderr)
    return 2
  w = convert.convert(source, arch=args.arch, fmt=args.format, meta=meta)
  weights_io.save(args.out, w)
  print(f'arch:   {w.arch} {w.model_kwargs}')
  print(f'params: {w.meta["num_params"]:,}')
  print(f'source: {w.meta["source"]} ({w.meta["format"]})')
  print(f'wrote:  {args.out}')
  print(f'licence: {w.meta["licence"]}')
  return 0


def run() -> None:
  """Console-script entry point: clear one-line errors, exit codes."""
  from animejax import cartoonize  # pylint: disable=g-import-not-at-top
  cartoonize.quiet_runtime()  # before TF is imported (.pb/.tflite readers)
  try:
    sys.exit(main())
  except (ValueError, FileNotFoundError, KeyError,
          catalogue.DownloadError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


if __name__ == '__main__':
  run()
