r"""Export a generator to TF SavedModel, TFLite or ONNX (via jax2tf).

  python -m animejax.export --weights W --format saved_model --out DIR
  python -m animejax.export --weights W --format tflite --size 256 --out F
  python -m animejax.export --weights W --format onnx --size 256 --out F

All exports keep the generator contract: float32 [N,H,W,3] RGB in [-1,1] in,
same out (x = pixel / 127.5 - 1; pixel = (y + 1) * 127.5).

  saved_model  jax2tf with native serialization (an XlaCallModule op holding
               StableHLO), lowered for --platforms (default cpu,cuda).
               Polymorphic batch/H/W where H, W are multiples of the
               generator's size_multiple (>= 2 of them); --size fixes them.
               Serving signature 'serving_default': input 'image'.
  tflite       the same function at a fixed [batch, size, size, 3], through
               the TFLite converter (which lowers the StableHLO to TFLite
               builtins).
  onnx         the TFLite model converted with tf2onnx (from_tflite). tf2onnx
               pins protobuf~=3.20, which clashes with TF 2.21, so install it
               with `pip install --no-deps tf2onnx` (1.17.0 works here).

Exit status: 0 exported; 2 nothing exported (bad arguments, weights that
cannot be loaded or fetched, a model or format that cannot be exported);
1 an unexpected error (with its traceback). One model goes to one output,
so there is no partial result.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from typing import Any, Iterator, Sequence

FORMATS = ('saved_model', 'tflite', 'onnx')
DEFAULT_EXT = {'tflite': '.tflite', 'onnx': '.onnx'}

# What the TFLite converter's C++ code logs at warning level on every
# conversion: options it ignores by design, and absl's banner before the
# first such line. Any other line it writes is passed on.
_CONVERTER_NOISE = ('All log messages before absl::InitializeLog()',
                    'Ignored output_format.',
                    'Ignored drop_control_dependency.')
# tf2onnx runs the TFLite model once, and TFLite's C++ runtime announces
# its default CPU delegate (TF_CPP_MIN_LOG_LEVEL does not govern it).
_TF2ONNX_NOISE = ('INFO: Created TensorFlow Lite XNNPACK delegate for CPU.',)


@contextlib.contextmanager
def _drop_stderr_lines(noise: Sequence[str]) -> Iterator[None]:
  """Runs the block with fd 2 captured, then re-emits its other lines.

  C++ logging goes straight to file descriptor 2, past Python's warning and
  logging filters, so known lines can only be dropped this way.
  """
  sys.stderr.flush()
  try:
    saved = os.dup(2)
  except OSError:  # no fd 2 (e.g. a daemon): nothing reaches a terminal
    yield
    return
  with tempfile.TemporaryFile() as captured:
    os.dup2(captured.fileno(), 2)
    try:
      yield
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      text = captured.read().decode(errors='replace')
      kept = [line for line in text.splitlines(keepends=True)
              if not any(n in line for n in noise)]
      if kept:
        sys.stderr.write(''.join(kept))
        sys.stderr.flush()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
  p = argparse.ArgumentParser(prog='animejax-export', description=__doc__,
                              formatter_class=argparse.RawTextHelpFormatter)
  p.add_argument('--weights', help='weights file, training workdir or '
                 'official AnimeGAN file')
  p.add_argument('--which', default='latest', choices=('latest', 'best'))
  p.add_argument('--style', help='catalogue entry of animejax.convert')
  p.add_argument('--format', required=True, choices=FORMATS)
  p.add_argument('--out', required=True,
                 help='folder (saved_model) or file (tflite/onnx)')
  p.add_argument('--size', type=int, default=0,
                 help='fixed square H=W (tflite/onnx default 256; '
                 'saved_model default: polymorphic)')
  p.add_argument('--batch', type=int, default=1,
                 help='fixed batch for tflite/onnx')
  p.add_argument('--platforms', default='cpu,cuda',
                 help='saved_model lowering platforms (cpu,cuda,tpu)')
  p.add_argument('--opset', type=int, default=17, help='ONNX opset')
  return p.parse_args(argv)


def _jax_fn(module, params):
  return lambda x: module.apply({'params': params}, x).astype('float32')


def to_tf_function(module, params, *, size: int = 0, batch: int = 0,
                   platforms: Sequence[str] = ('cpu',)):
  """tf.function of the generator: polymorphic when size == 0."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from jax.experimental import jax2tf  # pylint: disable=g-import-not-at-top
  if 'conv_impl' in getattr(module, '__dataclass_fields__', {}):
    # The literal conv/pad ops: portable to TFLite/ONNX and to GPU/TPU
    # (the 'fast' CPU formulation lowers to dynamic_update_slice chains that
    # tf2onnx cannot convert), see animejax/models/layers.py.
    module = module.clone(conv_impl='plain')
  m = int(getattr(module, 'size_multiple', 4))
  if size and size % m:
    raise ValueError(f'--size {size} must be a multiple of {m} '
                     f'(the generator\'s size_multiple).')
  kwargs: dict[str, Any] = {'with_gradient': False,
                            'native_serialization_platforms': tuple(platforms)}
  if size:
    spec = tf.TensorSpec([batch or None, size, size, 3], tf.float32,
                         name='image')
    if not batch:
      kwargs['polymorphic_shapes'] = ['(b, _, _, 3)']
  else:
    spec = tf.TensorSpec([batch or None, None, None, 3], tf.float32,
                         name='image')
    # H = m*h keeps the size_multiple contract visible to shape checks;
    # h >= 2 lets the reflect pads of the deepest layer be proven valid.
    kwargs['polymorphic_shapes'] = [
        f'({"b" if not batch else batch}, {m}*h, {m}*w, 3)']
    kwargs['polymorphic_constraints'] = ('h >= 2', 'w >= 2')
  converted = jax2tf.convert(_jax_fn(module, params), **kwargs)
  return tf.function(converted, autograph=False, input_signature=[spec])


def export_saved_model(module, params, out: str, *, size: int = 0,
                       platforms: Sequence[str] = ('cpu', 'cuda'),
                       meta: dict[str, Any] | None = None) -> str:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  fn = to_tf_function(module, params, size=size, platforms=platforms)
  holder = tf.Module()
  holder.generate = fn
  try:
    sig = fn.get_concrete_function()
  except Exception as e:  # jax shape-polymorphism errors have many types
    if size:
      raise
    raise ValueError(
        f'{type(module).__name__} cannot be exported with symbolic H/W '
        f'({type(e).__name__}: {str(e).splitlines()[0][:200]}). Pass '
        '--size N for a fixed-size SavedModel.') from e
  tf.saved_model.save(
      holder, out, signatures={'serving_default': sig},
      options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
  _write_info(os.path.join(out, 'animejax_export.json'), module, meta,
              size=size)
  return out


def export_tflite(module, params, out: str, *, size: int = 256,
                  batch: int = 1, meta: dict[str, Any] | None = None) -> str:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  fn = to_tf_function(module, params, size=size, batch=batch,
                      platforms=('cpu',))
  holder = tf.Module()
  holder.generate = fn
  converter = tf.lite.TFLiteConverter.from_concrete_functions(
      [fn.get_concrete_function()], holder)
  with _drop_stderr_lines(_CONVERTER_NOISE):
    data = converter.convert()
  _atomic_write(out, data)
  _write_info(out + '.json', module, meta, size=size, batch=batch)
  return out


def export_onnx(module, params, out: str, *, size: int = 256, batch: int = 1,
                opset: int = 17, meta: dict[str, Any] | None = None) -> str:
  try:
    import tf2onnx  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ValueError(
        'ONNX export needs tf2onnx: `pip install --no-deps tf2onnx` (its '
        'protobuf~=3.20 pin conflicts with TensorFlow 2.21, hence '
        '--no-deps; 1.17.0 is tested).') from e
  with tempfile.TemporaryDirectory() as tmp:
    lite = os.path.join(tmp, 'model.tflite')
    export_tflite(module, params, lite, size=size, batch=batch)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with _drop_stderr_lines(_TF2ONNX_NOISE):
      tf2onnx.convert.from_tflite(lite, opset=opset, output_path=out)
  _write_info(out + '.json', module, meta, size=size, batch=batch)
  return out


def _atomic_write(path: str, data: bytes) -> None:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f'{path}.tmp{os.getpid()}'
  with open(tmp, 'wb') as f:
    f.write(data)
  os.replace(tmp, path)


def _write_info(path, module, meta, **shape) -> None:
  info = {'input': 'float32 [N,H,W,3] RGB in [-1,1] (pixel / 127.5 - 1)',
          'output': 'float32 [N,H,W,3] RGB in [-1,1]',
          'size_multiple': int(getattr(module, 'size_multiple', 4)),
          'module': type(module).__name__, **shape, 'meta': meta or {}}
  with open(path, 'w', encoding='utf-8') as f:
    json.dump(info, f, indent=2, default=str)


def main(argv: Sequence[str] | None = None) -> int:
  """Runs the CLI; returns the exit status (see the module docstring)."""
  argv = list(sys.argv[1:] if argv is None else argv)
  args = parse_args(argv)
  from animejax import inference  # pylint: disable=g-import-not-at-top
  from animejax.convert import catalogue  # pylint: disable=g-import-not-at-top
  try:
    weights = inference.resolve_weights(args.weights, which=args.which,
                                        style=args.style)
    module, params = inference.build_generator(weights)
  except (FileNotFoundError, ValueError, KeyError) as e:
    hint = catalogue.style_hint(e, 'animejax.export', argv, args.style)
    print(f'error: {e}{hint}', file=sys.stderr)
    return 2
  out = args.out
  if args.format in DEFAULT_EXT and (os.path.isdir(out)
                                     or not os.path.splitext(out)[1]):
    out = os.path.join(out, f'{weights.arch}{DEFAULT_EXT[args.format]}')
  meta = {'arch': weights.arch, 'model_kwargs': weights.model_kwargs,
          **{k: v for k, v in weights.meta.items()
             if isinstance(v, (str, int, float))}}
  try:
    if args.format == 'saved_model':
      export_saved_model(module, params, out, size=args.size,
                         platforms=args.platforms.split(','), meta=meta)
    elif args.format == 'tflite':
      export_tflite(module, params, out, size=args.size or 256,
                    batch=args.batch, meta=meta)
    else:
      export_onnx(module, params, out, size=args.size or 256,
                  batch=args.batch, opset=args.opset, meta=meta)
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  print(f'exported {weights.arch} as {args.format} to {out}')
  return 0


def run() -> None:
  """Console-script entry point (animejax-export)."""
  from animejax import cartoonize  # pylint: disable=g-import-not-at-top
  cartoonize.quiet_runtime()  # before TF is imported
  sys.exit(main())


if __name__ == '__main__':
  run()
