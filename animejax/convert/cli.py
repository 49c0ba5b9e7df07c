"""`python -m animejax.convert`: official weights -> animejax weights file.

  python -m animejax.convert --from AnimeGANv3_Shinkai_37.onnx --out s.msgpack
  python -m animejax.convert --from animeganv3-shinkai-37 --out s.msgpack
  python -m animejax.convert --from selfie2anime_params_0100000.pt \
      --out ugatit.msgpack          # official U-GAT-IT (PyTorch) checkpoint
  python -m animejax.convert --from network-snapshot-025000.pkl \
      --out runs/sg2 [--image-dir FACES]  # NVIDIA stylegan2-ada-pytorch
  python -m animejax.convert --list

--from takes a local file/folder or a catalogue name (see --list); names are
downloaded into --cache_dir on machines with internet. One source gives one
weights file, so there is no partial result. A StyleGAN2 snapshot (.pkl)
gives a stylegan2 training workdir instead (config.json + a step-0
checkpoint with G, G_ema and D) that `animejax.generate` samples from.
"""

from __future__ import annotations

import argparse
import os
import sys

from animejax import convert
from animejax import weights_io
from animejax.convert import catalogue

EXIT_HELP = """exit status:
  0  the weights file (or, for a .pkl, the workdir) was written
  1  the conversion or the download failed (the message says why), e.g. a
     .pkl that is not a stylegan2-ada-pytorch network snapshot
  2  usage error: --from/--out missing, --from is neither a file nor a
     known name, or --out (for a .pkl) already holds a checkpoint"""


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
      prog='python -m animejax.convert',
      description='Convert official AnimeGANv2/v3 or U-GAT-IT (PyTorch) '
                  'weights to an animejax weights file, or an NVIDIA '
                  'stylegan2-ada-pytorch network-snapshot .pkl to a '
                  'training workdir.',
      epilog=EXIT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--from', dest='source',
                 help='file, TF1 checkpoint folder, catalogue name, or a '
                      'StyleGAN2 network-snapshot-*.pkl')
  p.add_argument('--out', help='output weights file (.msgpack); for a '
                               '.pkl, a new training workdir')
  p.add_argument('--image-dir', dest='image_dir', default='',
                 help='.pkl only: face folder saved as config.data.image_dir '
                      '(needed only to train or evaluate further)')
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
  if source.lower().endswith('.pkl') and os.path.isfile(source):
    return _stylegan2_snapshot(source, args)
  w = convert.convert(source, arch=args.arch, fmt=args.format, meta=meta)
  weights_io.save(args.out, w)
  print(f'arch:   {w.arch} {w.model_kwargs}')
  print(f'params: {w.meta["num_params"]:,}')
  print(f'source: {w.meta["source"]} ({w.meta["format"]})')
  print(f'wrote:  {args.out}')
  print(f'licence: {w.meta["licence"]}')
  return 0


def _stylegan2_snapshot(path: str, args: argparse.Namespace) -> int:
  """[ada] network-snapshot .pkl -> a training workdir (config + step 0).

  The file is read by `stylegan2_pkl.load_snapshot`, which never runs the
  pickle's code; `stylegan2.from_snapshot` builds the config and state. The
  checkpoint carries the run loop's meta (`train._meta`), so generate,
  evaluate and export read it like any stylegan2 run's. Raises ValueError
  (exit 1 under `run`) for a .pkl that is not a StyleGAN2 snapshot.
  """
  # pylint: disable=g-import-not-at-top
  import pickle
  import jax
  from animejax import checkpointing, methods, train
  from animejax.convert import stylegan2_pkl
  from animejax.methods import stylegan2
  # pylint: enable=g-import-not-at-top
  if args.arch or args.format != 'auto':
    print('error: --arch/--format do not apply to a StyleGAN2 .pkl',
          file=sys.stderr)
    return 2
  out = args.out
  if os.path.exists(out) and not os.path.isdir(out):
    print(f'error: --out {out!r} is a file; a .pkl converts to a training '
          'workdir (a folder).', file=sys.stderr)
    return 2
  ckpt_dir = os.path.join(out, checkpointing.CHECKPOINT_DIR)
  if os.path.isdir(ckpt_dir) and os.listdir(ckpt_dir):
    # Never mix a converted step 0 into an existing run's checkpoints.
    print(f'error: --out {out!r} already holds checkpoints ({ckpt_dir}); '
          'pass a new folder.', file=sys.stderr)
    return 2
  try:
    snap = stylegan2_pkl.load_snapshot(path)
  except (pickle.UnpicklingError, EOFError) as e:  # UnsafePickleError too
    raise ValueError(
        f'{path!r} is not a readable stylegan2-ada-pytorch network snapshot '
        f'(nothing in it was run): {e}') from e
  if not any(isinstance(snap.get(k), dict) and 'class_name' in snap[k]
             for k in ('G_ema', 'G', 'D')):
    raise ValueError(
        f'{path!r} is not a stylegan2-ada-pytorch network snapshot: it has '
        f'no G_ema/G/D networks (keys: {sorted(snap)}).')
  config, state = stylegan2.from_snapshot(snap)
  config.data.image_dir = args.image_dir or ''
  method = methods.create(config)
  # Total steps and kinds need no data. No step has run: the meta's kind is
  # the one the loop runs at step 0 (the loop only logs it).
  schedule = method.schedule(0)
  checkpointing.write_config(out, config)
  name, mode = method.best_metric
  ckpt = checkpointing.Checkpointer(out, keep=1, best_metric=name,
                                    best_mode=mode, async_save=False)
  try:
    ckpt.save(0, state, train._meta(config, method, 0,  # pylint: disable=protected-access
                                    schedule.step_kind(0),
                                    schedule.total_steps))
  finally:
    ckpt.close()
  m = config.model
  count = sum(int(x.size) for x in jax.tree.leaves(state.g_ema))
  print(f'snapshot: {os.path.abspath(path)} (stylegan2-ada-pytorch)')
  print(f'model:    stylegan2 {config.data.image_size} px, z {m.z_dim}, '
        f'w {m.w_dim}, G_ema {count:,} params')
  print(f'wrote:    {out} (config.json + checkpoint at step 0)')
  if not config.data.image_dir:
    print('note:     set data.image_dir (--image-dir) to train or evaluate '
          'further; generating needs nothing more.')
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
