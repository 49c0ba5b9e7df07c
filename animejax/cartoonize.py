r"""Cartoonize images, folders and videos with an animejax generator.

  python -m animejax.cartoonize --weights W --input IN --output OUT \
      [--which latest|best] [--style NAME] [--size N] [--tile T] \
      [--keep-color] [--adjust-brightness] [--batch B] [--dtype bfloat16]
  python -m animejax.cartoonize --weights UGATIT --input IN --output OUT \
      [--direction a2b|b2a] [--save-heatmap] [--size N]

W is a weights file (`python -m animejax.convert`), a training workdir, or an
official AnimeGAN file (.pb/.tflite/.onnx, converted on the fly). IN is an
image, a folder (recursive; OUT mirrors its tree) or a video
(mp4/webm/gif/avi/mov/mkv; streamed frame by frame; audio copied when ffmpeg
is on PATH). Unreadable files are reported and skipped.

U-GAT-IT weights (a `ugatit` workdir, a converted file, or an official
UGATIT-pytorch `<dataset>_params_<step>.pt`) translate images and folders
through `animejax.methods.ugatit.load_translator`: each image is centre-cropped
to a square and resized to the model's size (256 for the published models;
the full model's MLP reads the whole feature map, so it only runs at that
size), and the output is written at that size (--size N: N x N).
--direction b2a uses genB2A; --save-heatmap also writes the CAM heatmap as
NAME_heatmap.png next to each output. Videos are not translated.

Exit status (EXIT_HELP): 0 every input was written; 3 some inputs failed
(the others were written); 1 every input failed; 2 usage error, nothing
run (bad arguments, missing --input, weights that cannot be loaded).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import warnings
from typing import Any, Sequence

import numpy as np

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')
DTYPES = ('float32', 'bfloat16', 'float16')

# Exit statuses. "Some failed" has its own code so that scripts can tell a
# partial run from a clean one and from one that produced nothing.
EXIT_OK = 0
EXIT_ALL_FAILED = 1
EXIT_USAGE = 2  # argparse's own code for bad arguments
EXIT_SOME_FAILED = 3
EXIT_HELP = """exit status:
  0  every input was written
  1  every input failed (nothing written)
  2  usage error, nothing run: bad arguments, missing --input, weights that
     cannot be loaded or fetched
  3  some inputs failed, the others were written (see the "failed:" lines)"""


def exit_status(written: int, failed: int) -> int:
  """The exit status of a run that wrote `written` and failed `failed`."""
  if not failed:
    return EXIT_OK
  return EXIT_SOME_FAILED if written else EXIT_ALL_FAILED


# --- a quiet terminal --------------------------------------------------------

# Known messages of our dependencies that tell a CLI user nothing they can
# act on. Matched by their start, so every other warning still shows.
_TFLITE_DEPRECATION = r'\s*Warning: tf\.lite\.Interpreter is deprecated'
# JAX logs this (at INFO) for each optional backend whose plugin is
# installed but finds no device, e.g. libtpu on a CPU machine.
_JAX_OPTIONAL_BACKEND = "Unable to initialize backend '"


class DropMessages(logging.Filter):
  """Drops records at or below `level` whose message starts with a prefix."""

  def __init__(self, prefixes: tuple[str, ...], level: int):
    super().__init__()
    self.prefixes, self.level = prefixes, level

  def filter(self, record: logging.LogRecord) -> bool:
    return not (record.levelno <= self.level and
                record.getMessage().startswith(self.prefixes))


def quiet_runtime() -> None:
  """Keeps TF's, JAX's and libtpu's chatter out of a CLI user's terminal.

  The console entry points call it first: TF reads TF_CPP_MIN_LOG_LEVEL
  when it is imported. Values already in the environment win, so
  TF_CPP_MIN_LOG_LEVEL=0 still shows everything.
  """
  # 1 hides TF's C++ INFO lines (CPU feature guard, the oneDNN notice,
  # absl's pre-InitializeLog banner) and keeps its warnings and errors.
  # TF_ENABLE_ONEDNN_OPTS stays as it is: it would change TF's numerics,
  # not only what TF prints.
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
  # Reading .tflite files needs tf.lite.Interpreter until TF drops it; its
  # deprecation notice is addressed to this project, not to its users.
  warnings.filterwarnings('ignore', message=_TFLITE_DEPRECATION,
                          category=UserWarning)
  logger = logging.getLogger('jax._src.xla_bridge')
  if not any(isinstance(f, DropMessages) for f in logger.filters):
    logger.addFilter(DropMessages((_JAX_OPTIONAL_BACKEND,), logging.INFO))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
  p = argparse.ArgumentParser(
      prog='animejax-cartoonize',
      description='Photo/video -> anime style with an animejax generator.',
      epilog=EXIT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--weights', help='weights file, training workdir, or '
                 'official AnimeGAN .pb/.tflite/.onnx file')
  p.add_argument('--which', default='latest', choices=('latest', 'best'),
                 help='checkpoint of a training workdir to use')
  p.add_argument('--style', help='catalogue entry of animejax.convert')
  p.add_argument('--input', required=True, help='image, folder or video')
  p.add_argument('--output', required=True,
                 help='output file (single input) or folder')
  p.add_argument('--size', type=int, default=0,
                 help='resize so the long side is N pixels (0: keep)')
  p.add_argument('--tile', type=int, default=0,
                 help='tile every image with TxT tiles (0: only images '
                 'over --tile-threshold pixels, with 512 px tiles)')
  p.add_argument('--overlap', type=int, default=64,
                 help='pixels shared by neighbouring tiles')
  p.add_argument('--tile-threshold', type=int, default=1024 * 1024,
                 help='H*W above which images are tiled')
  p.add_argument('--bucket', type=int, default=64,
                 help='pad H, W up to multiples of this so mixed sizes share '
                 'compiled functions (0: only to the generator multiple)')
  p.add_argument('--keep-color', action='store_true',
                 help="keep the input's colours (stylised luma + input chroma)")
  p.add_argument('--adjust-brightness', action='store_true',
                 help="scale to the input's mean brightness (official v2 "
                 'test.py behaviour)')
  p.add_argument('--batch', type=int, default=1,
                 help='images/frames/tiles per device call')
  p.add_argument('--dtype', default='float32', choices=DTYPES,
                 help='compute dtype')
  p.add_argument('--ext', default='',
                 help='output image extension for folders, e.g. png '
                 '(default: same as input)')
  p.add_argument('--no-progress', action='store_true', help='no progress bar')
  p.add_argument('--source', default='',
                 help="label-conditioned models (trvae): the inputs' "
                 "condition, e.g. 'real' (names: the checkpoint's)")
  p.add_argument('--target', default='',
                 help="label-conditioned models (trvae): the condition to "
                 "transfer to, e.g. 'anime'")
  p.add_argument('--direction', default=None, choices=('a2b', 'b2a'),
                 help='U-GAT-IT: a2b (genA2B, default) or b2a (genB2A)')
  p.add_argument('--save-heatmap', action='store_true',
                 help='U-GAT-IT: also write the CAM heatmap as '
                 'NAME_heatmap.png next to each output')
  return p.parse_args(argv)


# --- image files -------------------------------------------------------------

def read_image(path: str) -> np.ndarray | None:
  """RGB uint8 or None when the file cannot be decoded."""
  import cv2  # pylint: disable=g-import-not-at-top
  data = np.fromfile(path, np.uint8)  # imdecode: non-ASCII paths work too
  img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
  return None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def write_image(path: str, image: np.ndarray) -> None:
  import cv2  # pylint: disable=g-import-not-at-top
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  ext = os.path.splitext(path)[1].lower() or '.png'
  params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext in ('.jpg', '.jpeg') else []
  ok, buf = cv2.imencode(ext, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params)
  if not ok:
    raise ValueError(f'OpenCV cannot encode {ext!r} for {path!r}.')
  buf.tofile(path)


def list_inputs(folder: str) -> list[str]:
  out = []
  for root, dirs, files in os.walk(folder):
    dirs.sort()
    for f in sorted(files):
      if f.lower().endswith(IMAGE_EXTS) or f.lower().endswith(_video_exts()):
        out.append(os.path.join(root, f))
  return out


def _video_exts():
  from animejax import video  # pylint: disable=g-import-not-at-top
  return video.VIDEO_EXTS


# --- the run -----------------------------------------------------------------

class Runner:
  """Holds the Cartoonizer and the bookkeeping of one CLI run."""

  def __init__(self, cartoonizer, args: argparse.Namespace):
    self.model, self.args = cartoonizer, args
    self.done, self.failures, self.notes = 0, [], []
    self.pending: dict[Any, list[tuple[np.ndarray, str]]] = {}

  def prepare(self, image: np.ndarray) -> np.ndarray:
    if self.args.size:
      from animejax import inference  # pylint: disable=g-import-not-at-top
      image = inference.fit_long_side(image, self.args.size)
    return image

  def finish(self, outputs, sources) -> list[np.ndarray]:
    from animejax import inference  # pylint: disable=g-import-not-at-top
    return [inference.postprocess(o, s, color=self.args.keep_color,
                                  brightness=self.args.adjust_brightness)
            for o, s in zip(outputs, sources)]

  # Images: grouped by bucket and flushed when a group holds --batch images.
  def add_image(self, path: str, out_path: str) -> None:
    image = read_image(path)
    if image is None:
      self.fail(path, 'not a readable image')
      return
    image = self.prepare(image)
    key = self.model.group_key(image)
    group = self.pending.setdefault(key, [])
    group.append((image, out_path))
    if len(group) >= self.model.batch or key[0] == 'tiled':
      self.flush(key)

  def flush(self, key=None) -> None:
    for k in ([key] if key is not None else list(self.pending)):
      group = self.pending.pop(k, [])
      if not group:
        continue
      images = [g[0] for g in group]
      outputs = self.finish(self.model(images), images)
      for out, (_, out_path) in zip(outputs, group):
        try:
          write_image(out_path, out)
          self.done += 1
        except (OSError, ValueError) as e:
          self.fail(out_path, f'cannot write: {e}')

  def report(self, seconds: float, what: str = '', extra: str = '') -> int:
    """Prints the run's summary, failures and notes; returns the exit
    status. `what` describes the outputs, `extra` follows the time."""
    print(f'done: {self.done} written{what}, {len(self.failures)} failed, '
          f'{seconds:.1f} s{extra}')
    for path, why in self.failures:
      print(f'  failed: {path}: {why}')
    for note in sorted(set(self.notes)):
      print(f'  note: {note}')
    return exit_status(self.done, len(self.failures))

  def fail(self, path: str, why: str) -> None:
    self.failures.append((path, why))
    print(f'[skip] {path}: {why}', file=sys.stderr)

  # Videos: frames streamed in batches of --batch.
  def run_video(self, path: str, out_path: str, progress: bool) -> None:
    from animejax import inference, video  # pylint: disable=g-import-not-at-top
    try:
      info = video.probe(path)
    except ValueError as e:
      self.fail(path, str(e))
      return
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    ext = os.path.splitext(out_path)[1]
    fd, tmp = tempfile.mkstemp(suffix=ext, dir=os.path.dirname(
        os.path.abspath(out_path)))
    os.close(fd)
    writer, count = None, 0
    bar = _progress(info.frames or None, 'frame', progress, path)
    try:
      frames = (self.prepare(f) for f in video.read_frames(path))
      for chunk in inference.batched(frames, self.model.batch):
        outs = self.finish(self.model(chunk), chunk)
        if writer is None:
          h, w = outs[0].shape[:2]
          writer = video.open_writer(tmp, info.fps, w, h)
        for o in outs:
          writer.write(o)
        count += len(outs)
        bar.update(len(outs))
    except (ValueError, OSError) as e:
      self.fail(path, str(e))
      os.remove(tmp)
      return
    finally:
      bar.close()
      if writer is not None:
        writer.close()
    if count == 0:
      self.fail(path, 'no frames could be decoded')
      os.remove(tmp)
      return
    note = video.copy_audio(path, tmp, out_path)
    if note:
      self.notes.append(note)
    self.done += 1
    print(f'{path} -> {out_path}: {count} frames at {info.fps:g} fps')


def _progress(total, unit: str, enabled: bool, desc: str = ''):
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  return tqdm(total=total, unit=unit, disable=not enabled, desc=desc,
              dynamic_ncols=True, file=sys.stderr)


def output_for(src: str, in_root: str, out_root: str, ext: str) -> str:
  rel = os.path.relpath(src, in_root)
  base, src_ext = os.path.splitext(rel)
  from animejax import video  # pylint: disable=g-import-not-at-top
  if ext and not video.is_video(src):
    src_ext = '.' + ext.lstrip('.')
  return os.path.join(out_root, base + src_ext)


def single_output(src: str, output: str) -> str:
  """--output for a single --input: a file path, or (an existing folder or a
  name without extension) the folder to write src's basename into."""
  if os.path.isdir(output) or not os.path.splitext(output)[1]:
    return os.path.join(output, os.path.basename(src))
  return output


def main(argv: Sequence[str] | None = None) -> int:
  """Runs the CLI; returns the exit status (see EXIT_HELP)."""
  argv = list(sys.argv[1:] if argv is None else argv)
  args = parse_args(argv)
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from animejax import inference, video  # pylint: disable=g-import-not-at-top
  from animejax.convert import catalogue  # pylint: disable=g-import-not-at-top

  if not os.path.exists(args.input):
    print(f'error: --input {args.input!r} does not exist.', file=sys.stderr)
    return EXIT_USAGE
  if args.source or args.target:
    return transfer_main(args)
  try:
    weights = inference.resolve_weights(args.weights, which=args.which,
                                        style=args.style)
    if weights.arch == 'ugatit':
      return ugatit_main(args, weights)
    if args.direction or args.save_heatmap:
      raise ValueError(f'--direction and --save-heatmap are for U-GAT-IT '
                       f'weights; these are {weights.arch!r} (one direction, '
                       'no CAM heatmap).')
    module, params = inference.build_generator(
        weights, dtype=getattr(jnp, args.dtype))
  except (FileNotFoundError, ValueError, KeyError) as e:
    hint = catalogue.style_hint(e, 'animejax.cartoonize', argv, args.style)
    print(f'error: {e}{hint}', file=sys.stderr)
    return EXIT_USAGE
  model = inference.Cartoonizer(
      module, params, bucket=args.bucket, tile=args.tile,
      overlap=args.overlap, tile_threshold=args.tile_threshold,
      batch=args.batch, force_tile=bool(args.tile))
  runner = Runner(model, args)
  progress = not args.no_progress
  start = time.time()

  if os.path.isdir(args.input):
    files = list_inputs(args.input)
    if not files:
      print(f'error: no images or videos under {args.input!r} '
            f'(extensions {IMAGE_EXTS + video.VIDEO_EXTS}).', file=sys.stderr)
      return EXIT_USAGE
    images = [f for f in files if not video.is_video(f)]
    bar = _progress(len(images), 'img', progress)
    for f in images:
      try:
        runner.add_image(f, output_for(f, args.input, args.output, args.ext))
      except Exception as e:  # pylint: disable=broad-except
        runner.fail(f, f'{type(e).__name__}: {e}')  # never abort the folder
      bar.update(1)
    runner.flush()
    bar.close()
    for f in files:
      if video.is_video(f):
        runner.run_video(f, output_for(f, args.input, args.output, ''),
                         progress)
  elif video.is_video(args.input):
    runner.run_video(args.input, single_output(args.input, args.output),
                     progress)
  else:
    runner.add_image(args.input, single_output(args.input, args.output))
    runner.flush()

  elapsed = time.time() - start
  return runner.report(elapsed,
                       extra=f', {model.compilations} compiled shape(s)')


def transfer_main(args: argparse.Namespace) -> int:
  """--source/--target: a label-conditioned workdir's 'transfer' (trvae).

  The workdir's checkpoint metadata names the conditions and holds the
  config the method is rebuilt from. Every image is centre-cropped and
  resized to the model's size (as in training); outputs are at that size.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import ml_collections  # pylint: disable=g-import-not-at-top
  from animejax import checkpointing, methods  # pylint: disable=g-import-not-at-top
  from animejax.data import conditions  # pylint: disable=g-import-not-at-top
  if not (args.source and args.target):
    print('error: pass both --source and --target.', file=sys.stderr)
    return EXIT_USAGE
  if not args.weights or not os.path.isdir(args.weights):
    print(f'error: --source/--target need --weights WORKDIR (a training '
          f'workdir of a label-conditioned method), got {args.weights!r}.',
          file=sys.stderr)
    return EXIT_USAGE
  try:
    ckpt = checkpointing.open_read_only(args.weights)
    try:
      step = (ckpt.best_step() if args.which == 'best' else None) or (
          ckpt.latest_step())
      if step is None:
        raise ValueError(f'{args.weights!r} holds no checkpoint.')
      state, meta = ckpt.restore_raw(step)
    finally:
      ckpt.close()
    names = list(meta.get('conditions') or [])
    if not names:
      raise ValueError(f'{args.weights!r} ({meta.get("method")!r}) names no '
                       'conditions: not a label-conditioned model.')
    for flag, name in (('--source', args.source), ('--target', args.target)):
      if name not in names:
        raise ValueError(f'{flag} {name!r} is not a condition of this '
                         f'model; known: {names}.')
    config = ml_collections.ConfigDict(meta['config'])
    method = methods.create(config)
    fn = jax.jit(method.predict_fns()['transfer'])
  except (FileNotFoundError, ValueError, KeyError) as e:
    print(f'error: {e}', file=sys.stderr)
    return EXIT_USAGE
  params = state['params']
  size = int(meta.get('image_size', config.data.image_size))
  src, dst = names.index(args.source), names.index(args.target)
  if os.path.isdir(args.input):
    files = [f for f in list_inputs(args.input)
             if f.lower().endswith(IMAGE_EXTS)]
    outs = [output_for(f, args.input, args.output, args.ext) for f in files]
  else:
    files = [args.input]
    outs = [single_output(args.input, args.output)]
  runner = Runner(None, args)
  batch = max(1, args.batch)
  start = time.time()
  bar = _progress(len(files), 'img', not args.no_progress)
  for i in range(0, len(files), batch):
    images, targets = [], []
    for f, o in zip(files[i:i + batch], outs[i:i + batch]):
      try:
        images.append(conditions.load_image(f, size))
        targets.append(o)
      except Exception as e:  # pylint: disable=broad-except
        runner.fail(f, f'not a readable image ({type(e).__name__})')
    if images:
      x = np.stack(images).astype(np.float32) / 127.5 - 1.0
      n = len(x)
      x = np.concatenate([x, np.repeat(x[-1:], batch - n, 0)])  # one shape
      y = np.asarray(fn(params, {'images': x,
                                 'source': np.full(batch, src, np.int32),
                                 'target': np.full(batch, dst, np.int32)})
                     ['images'])[:n]
      y = np.clip(np.round((y + 1.0) * 127.5), 0, 255).astype(np.uint8)
      for image, o in zip(y, targets):
        try:
          write_image(o, image)
          runner.done += 1
        except (OSError, ValueError) as e:
          runner.fail(o, f'cannot write: {e}')
    bar.update(len(files[i:i + batch]))
  bar.close()
  return runner.report(time.time() - start,
                       f' ({args.source} -> {args.target}, {size}x{size})')


def heatmap_path(out_path: str) -> str:
  """NAME.ext -> NAME_heatmap.png beside it."""
  return os.path.splitext(out_path)[0] + '_heatmap.png'


def ugatit_main(args: argparse.Namespace, weights) -> int:
  """U-GAT-IT weights: images and folders through load_translator's
  Translator (centre crop, resize to the model's size, one jitted function).
  """
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from animejax import inference, video  # pylint: disable=g-import-not-at-top
  from animejax.methods import ugatit  # pylint: disable=g-import-not-at-top
  batch = max(1, args.batch)
  try:
    translator = ugatit.Translator(
        weights, args.direction or 'a2b',
        max_batch=1 << (batch - 1).bit_length(),
        dtype=getattr(jnp, args.dtype))
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    return EXIT_USAGE
  if os.path.isdir(args.input):
    files = list_inputs(args.input)
    if not files:
      print(f'error: no images under {args.input!r} (extensions '
            f'{IMAGE_EXTS}).', file=sys.stderr)
      return EXIT_USAGE
    outs = [output_for(f, args.input, args.output, args.ext) for f in files]
  else:
    files = [args.input]
    outs = [single_output(args.input, args.output)]
  runner = Runner(None, args)
  start = time.time()
  todo = []
  for f, o in zip(files, outs):
    if video.is_video(f):
      runner.fail(f, 'videos are not translated with U-GAT-IT weights')
    else:
      todo.append((f, o))
  bar = _progress(len(todo), 'img', not args.no_progress)
  for i in range(0, len(todo), batch):
    images, targets = [], []
    for f, o in todo[i:i + batch]:
      image = read_image(f)
      if image is None:
        runner.fail(f, 'not a readable image')
      else:
        images.append(image)
        targets.append(o)
    if images:
      fakes, heats = translator(images)
      for image, fake, heat, o in zip(images, fakes, heats, targets):
        if args.keep_color or args.adjust_brightness:
          fake = inference.postprocess(
              fake, translator.preprocess(image), color=args.keep_color,
              brightness=args.adjust_brightness)
        if args.size:
          fake, heat = (_resize_square(a, args.size) for a in (fake, heat))
        try:
          write_image(o, fake)
          if args.save_heatmap:
            write_image(heatmap_path(o), heat)
          runner.done += 1
        except (OSError, ValueError) as e:
          runner.fail(o, f'cannot write: {e}')
    bar.update(len(todo[i:i + batch]))
  bar.close()
  return runner.report(time.time() - start,
                       f' (U-GAT-IT {translator.direction}, '
                       f'{translator.size}x{translator.size})')


def _resize_square(image: np.ndarray, size: int) -> np.ndarray:
  import cv2  # pylint: disable=g-import-not-at-top
  if image.shape[0] == size:
    return image
  interp = cv2.INTER_AREA if size < image.shape[0] else cv2.INTER_CUBIC
  return cv2.resize(image, (size, size), interpolation=interp)


def run() -> None:
  """Console-script entry point (animejax-cartoonize)."""
  quiet_runtime()
  sys.exit(main())


if __name__ == '__main__':
  run()
