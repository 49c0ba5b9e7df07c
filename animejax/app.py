"""The animejax web page: cartoonize, selfie to anime, generate and upscale.

  python -m animejax.app --weights hayao=hayao.msgpack --runs runs/
  python -m animejax.app --weights faces=runs/dragan --weights x4=runs/sr \\
      --port 7860 [--share]

Built with Gradio (runs locally, on Hugging Face Spaces and in Colab with
--share). Models are given as --weights NAME=PATH (a training workdir, an
animejax weights file or an official AnimeGAN .pb/.tflite/.onnx file) and
--runs DIR (every workdir in DIR); official styles already in the convert
cache are offered too. Nothing is downloaded at start-up, and no model is
loaded until a request needs it: the first request of a model shows a
progress message while it loads and compiles, later ones reuse it.

Requests run one at a time (a queue), so two visitors don't double the
memory. A tab without a model says which command makes or converts one.
Bad uploads (not an image, empty, too many megapixels) are answered with a
message in the page; the server keeps serving.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from animejax import serving

os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')

TITLES = {'cartoonize': 'Cartoonize', 'selfie': 'Selfie to anime',
          'generate': 'Generate', 'upscale': 'Upscale'}
ANY = '(any)'
# Display height of the image boxes: small model outputs (64 px faces) are
# shown scaled up; the downloaded file keeps its real size.
IMAGE_HEIGHT = 320


def _path_of(payload) -> str | None:
  """The file behind an image payload (preprocess=False: raw FileData)."""
  if payload is None:
    return None
  if isinstance(payload, dict):
    return payload.get('path')
  return getattr(payload, 'path', None)


def _message(fn):
  """Runs fn, turning serving.InputError into a message shown in the page."""
  import gradio as gr  # pylint: disable=g-import-not-at-top

  def wrapped(*args, **kwargs):
    try:
      return fn(*args, **kwargs)
    except serving.InputError as e:
      raise gr.Error(str(e), print_exception=False) from e
  wrapped.__name__ = fn.__name__
  return wrapped


class Handlers:
  """The page's callbacks (plain functions of the inputs; tested directly)."""

  def __init__(self, models: serving.Models, max_megapixels: float):
    self.models = models
    self.max_megapixels = max_megapixels

  def _model(self, name, progress):
    if progress is not None and not self.models.is_loaded(name):
      progress(0.0, desc=f'Loading {name} and compiling it (first use)...')
    return self.models.get(name)

  def _image(self, payload, what, max_megapixels=None):
    return serving.read_upload(
        _path_of(payload), what=what,
        max_megapixels=max_megapixels or self.max_megapixels)

  def cartoonize(self, payload, name, keep_colour=False, size=0,
                 progress=None):
    image = self._image(payload, 'Cartoonize')
    model = self._model(name, progress)
    return model.cartoonize(image, keep_colour=bool(keep_colour),
                            size=int(size or 0))['image']

  def selfie(self, payload, name, face_crop=False, progress=None):
    image = self._image(payload, 'Selfie to anime')
    if face_crop:
      image = self._crop(image)
    out = self._model(name, progress).cartoonize(image)
    return out['image'], out.get('heatmap')

  def _crop(self, image):
    from animejax import faces  # pylint: disable=g-import-not-at-top
    try:
      face = faces.crop_face(image, kind='real')
    except (OSError, ValueError, RuntimeError) as e:
      raise serving.InputError(f'Face crop is not available: {e}') from e
    if face is None:
      raise serving.InputError('No face found: untick "Crop the face" or '
                               'upload a closer photo.')
    return face

  def generate(self, name, seed, hair=ANY, eyes=ANY, truncation=0.0,
               upscale=False, sr_name=None, progress=None):
    model = self._model(name, progress)
    labels = [t for t in (hair, eyes) if t and t != ANY]
    grid = model.generate(int(seed or 0), labels=labels,
                          truncation=float(truncation or 0.0))
    if upscale:
      if not sr_name:
        raise serving.InputError('No upscaler: pass an SRGAN with --weights '
                                 'to upscale the faces.')
      grid = self._model(sr_name, progress).upscale(grid)
    return grid

  def labels_of(self, name):
    model = self.models.get(name)
    return ([ANY] + list(getattr(model, 'hair', [])),
            [ANY] + list(getattr(model, 'eyes', [])))

  def upscale(self, payload, name, progress=None):
    model = self._model(name, None)
    # The output has scale^2 times the pixels: bound the input by that.
    image = self._image(payload, 'Upscale',
                        self.max_megapixels / model.scale ** 2)
    if progress is not None:
      progress(0.0, desc=f'Upscaling x{model.scale}...')
    return model.upscale(image)


def build(models: serving.Models, *,
          max_megapixels: float = serving.DEFAULT_MAX_MEGAPIXELS,
          notes: Sequence[str] = ()):
  """The gr.Blocks page for `models`."""
  import gradio as gr  # pylint: disable=g-import-not-at-top
  h = Handlers(models, max_megapixels)
  progress = gr.Progress()
  with gr.Blocks(title='animejax') as page:
    gr.Markdown('# animejax\nPhoto to anime, selfie to anime, faces from '
                'noise and x4 upscaling, with the models this server was '
                'started with.')
    if notes:
      gr.Markdown('Skipped: ' + '; '.join(notes))
    for task in serving.TASKS:
      with gr.Tab(TITLES[task], id=task, elem_id=f'tab-{task}'):
        names = models.names(task)
        if not names:
          gr.Markdown(f'**No model for this tab.** {serving.HOW_TO_GET[task]}',
                      elem_id=f'{task}-missing')
          continue
        model = gr.Dropdown(names, value=names[0], label='Model',
                            elem_id=f'{task}-model')
        if task == 'cartoonize':
          with gr.Row():
            inp = _input_image('Photo', 'cartoonize')
            out = _output_image('Anime', 'cartoonize')
          with gr.Row():
            keep = gr.Checkbox(label='Keep the colours of the photo')
            size = gr.Number(0, precision=0, minimum=0, maximum=4096,
                             label='Long side in px (0: as uploaded)')
          run = gr.Button('Cartoonize', variant='primary',
                          elem_id='cartoonize-run')
          run.click(_message(lambda p, n, k, s, progress=progress:
                             h.cartoonize(p, n, k, s, progress)),
                    [inp, model, keep, size], out, preprocess=False,
                    api_name='cartoonize')
        elif task == 'selfie':
          with gr.Row():
            inp = _input_image('Face photo', 'selfie')
            out = _output_image('Anime', 'selfie')
            heat = _output_image('Attention (CAM)', 'selfie-heatmap')
          crop = gr.Checkbox(label='Crop the face first (OpenCV cascade)')
          run = gr.Button('To anime', variant='primary', elem_id='selfie-run')
          run.click(_message(lambda p, n, c, progress=progress:
                             h.selfie(p, n, c, progress)),
                    [inp, model, crop], [out, heat], preprocess=False,
                    api_name='selfie')
        elif task == 'generate':
          hair0, eyes0 = ([ANY], [ANY])
          with gr.Row():
            seed = gr.Number(0, precision=0, label='Seed', elem_id='seed')
            hair = gr.Dropdown(hair0, value=ANY, label='Hair colour')
            eyes = gr.Dropdown(eyes0, value=ANY, label='Eye colour')
            trunc = gr.Slider(0.0, 3.0, 0.0, step=0.1,
                              label='Truncation (0: off)')
          sr_names = models.names('upscale')
          with gr.Row():
            up = gr.Checkbox(label='Upscale x4', interactive=bool(sr_names))
            sr = gr.Dropdown(sr_names, value=sr_names[0] if sr_names else None,
                             label='Upscaler', visible=bool(sr_names))
          run = gr.Button('Generate 4x4', variant='primary',
                          elem_id='generate-run')
          out = _output_image('Faces', 'generate')
          run.click(_message(lambda n, s, a, b, t, u, r, progress=progress:
                             h.generate(n, s, a, b, t, u, r, progress)),
                    [model, seed, hair, eyes, trunc, up, sr], out,
                    api_name='generate')

          def pickers(name):
            hs, es = h.labels_of(name)
            return (gr.update(choices=hs, value=ANY, interactive=len(hs) > 1),
                    gr.update(choices=es, value=ANY, interactive=len(es) > 1))
          model.change(_message(pickers), model, [hair, eyes])
          page.load(_message(pickers), model, [hair, eyes])
        else:
          with gr.Row():
            inp = _input_image('Image', 'upscale')
            out = _output_image('x4', 'upscale')
          run = gr.Button('Upscale', variant='primary', elem_id='upscale-run')
          run.click(_message(lambda p, n, progress=progress:
                             h.upscale(p, n, progress)),
                    [inp, model], out, preprocess=False, api_name='upscale')
  return page


def _input_image(label: str, task: str):
  import gradio as gr  # pylint: disable=g-import-not-at-top
  return gr.Image(label=label, type='filepath', image_mode=None,
                  sources=['upload', 'webcam', 'clipboard'], height=IMAGE_HEIGHT,
                  elem_id=f'{task}-input')


def _output_image(label: str, task: str):
  import gradio as gr  # pylint: disable=g-import-not-at-top
  return gr.Image(label=label, format='png', interactive=False,
                  buttons=['download', 'fullscreen'], height=IMAGE_HEIGHT,
                  elem_id=f'{task}-output')


def theme():
  """The default theme with the machine's own fonts (nothing fetched)."""
  import gradio as gr  # pylint: disable=g-import-not-at-top
  return gr.themes.Default(font=['ui-sans-serif', 'system-ui', 'sans-serif'],
                           font_mono=['ui-monospace', 'monospace'])


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
  p = argparse.ArgumentParser(
      prog='animejax-app', description=__doc__.split('\n\n')[0],
      formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument('--weights', action='append', default=[],
                 metavar='NAME=PATH', help='a workdir or weights file '
                 '(repeatable)')
  p.add_argument('--runs', action='append', default=[], metavar='DIR',
                 help='serve every training workdir in DIR (repeatable)')
  p.add_argument('--no-cache', action='store_true',
                 help='do not offer the styles in the convert cache')
  p.add_argument('--which', choices=('latest', 'best'), default='latest',
                 help='checkpoint of workdirs')
  p.add_argument('--port', type=int, default=7860)
  p.add_argument('--host', default='127.0.0.1',
                 help='0.0.0.0 to serve the network')
  p.add_argument('--share', action='store_true',
                 help='a public *.gradio.live link (needs internet)')
  p.add_argument('--max-megapixels', type=float,
                 default=serving.DEFAULT_MAX_MEGAPIXELS,
                 help='largest upload accepted (output for Upscale)')
  return p.parse_args(argv)


def launch(weights: Sequence[str] = (), runs: Sequence[str] = (), *,
           port: int = 7860, host: str = '127.0.0.1', share: bool = False,
           which: str = 'latest', cache: bool = True,
           max_megapixels: float = serving.DEFAULT_MAX_MEGAPIXELS,
           block: bool = True):
  """Builds the page and serves it; returns the Blocks (with block=False).

  Also the Colab entry point: `app.launch(['hayao=hayao.msgpack'],
  share=True)`.
  """
  named = serving.parse_weights(weights)
  for root in runs:
    named += serving.run_dirs(root)
  if cache:
    named += serving.cached_styles()
  entries, notes = serving.find_entries(named)
  for note in notes:
    print(f'animejax-app: skipped {note}', file=sys.stderr)
  page = build(serving.Models(entries, which), max_megapixels=max_megapixels,
               notes=notes)
  page.queue(default_concurrency_limit=1, max_size=64)
  page.launch(server_name=host, server_port=port, share=share,
              show_error=True, prevent_thread_lock=not block,
              max_file_size='200mb', ssr_mode=False, theme=theme(),
              quiet=not block)
  return page


def main(argv: Sequence[str] | None = None) -> int:
  args = parse_args(argv)
  try:
    launch(args.weights, args.runs, port=args.port, host=args.host,
           share=args.share, which=args.which, cache=not args.no_cache,
           max_megapixels=args.max_megapixels)
  except (FileNotFoundError, ValueError) as e:
    print(f'animejax-app: error: {e}', file=sys.stderr)
    return 2
  return 0


def run() -> None:
  """Console-script entry point (animejax-app)."""
  sys.exit(main())


if __name__ == '__main__':
  run()
