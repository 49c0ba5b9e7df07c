"""The models a front end serves: found by path, loaded once, run on uint8.

The web app (animejax.app) is built on this module; nothing here knows
Gradio, so the loading, caching and input checks are tested without a
browser. A model is a NAME and a PATH:

  * a training workdir (its saved config names the method),
  * an animejax weights file (`weights_io`; its arch names the generator),
  * an official AnimeGAN .pb / .tflite / .onnx file (converted on load).

Which page tab serves which method is the table `METHOD_TASKS`: the
front end, unlike the run loop, has to know that a U-GAT-IT is a face model
and a DRAGAN makes faces from noise.

Every model is loaded (and its functions compiled) on first use, not at
start-up, and kept; jax.jit keeps one executable per input shape, and the
callers bucket shapes (AnimeGAN: padded to multiples of 64 px; U-GAT-IT and
trVAE: their fixed training size; generators: a fixed 4x4 grid; SR: whole
images up to a bound, fixed tiles above it) so requests reuse them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from typing import Any, Callable, Sequence

import numpy as np

TASKS = ('cartoonize', 'selfie', 'generate', 'upscale')

# method -> the tabs that serve it (see the module docstring).
METHOD_TASKS = {
    'animegan': ('cartoonize',),
    'ugatit': ('cartoonize', 'selfie'),
    'trvae': ('cartoonize', 'selfie'),
    'dcgan': ('generate',),
    'dragan': ('generate',),
    'stylegan2': ('generate',),
    'srgan': ('upscale',),
}

# animejax weights-file archs that are not AnimeGAN-family generators.
_ARCH_METHOD = {'srresnet': 'srgan', 'ugatit': 'ugatit'}

OFFICIAL_EXTS = ('.pb', '.tflite', '.onnx')
DEFAULT_MAX_MEGAPIXELS = 16.0

# What to run when a tab has no model: the commands that make one.
HOW_TO_GET = {
    'cartoonize': (
        'Convert an official AnimeGAN style (`python -m animejax.convert '
        '--style animeganv3-hayao --out hayao.msgpack`) or train one '
        '(`python -m animejax.main --config configs/demo.py --workdir '
        'runs/demo`), then start the app with `--weights hayao=hayao.msgpack` '
        'or `--runs runs`.'),
    'selfie': (
        'Train U-GAT-IT (`python -m animejax.main --config '
        'configs/ugatit_small.py --workdir runs/ugatit`) or trVAE '
        '(`configs/trvae_small.py`), or convert an official U-GAT-IT '
        'checkpoint (`python -m animejax.convert --from '
        'selfie2anime_params_0100000.pt --out ugatit.msgpack`), then pass '
        '`--weights selfie=runs/ugatit`.'),
    'generate': (
        'Train a face generator (`python -m animejax.main --config '
        'configs/dragan_anime64.py --workdir runs/dragan`; also '
        'configs/dcgan_anime32.py), then pass `--weights faces=runs/dragan`.'),
    'upscale': (
        'Train an SRResNet (`python -m animejax.main --config '
        'configs/srresnet_anime.py --workdir runs/sr`) or pass a '
        'Lornatang/SRGAN-PyTorch `SRResNet_x4-*.pth.tar` file: '
        '`--weights x4=runs/sr`.'),
}


class InputError(ValueError):
  """A request the page should answer with its message (nothing crashed)."""


@dataclasses.dataclass(frozen=True)
class Entry:
  """A servable model: its name, where it is, what trained it."""
  name: str
  path: str
  method: str

  @property
  def tasks(self) -> tuple[str, ...]:
    return METHOD_TASKS.get(self.method, ())


# --- what a path holds ---------------------------------------------------------

def method_of(path: str) -> str:
  """The method behind a workdir or weights file, with clear errors."""
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path!r} does not exist.')
  if os.path.isdir(path):
    from animejax import checkpointing  # pylint: disable=g-import-not-at-top
    config = os.path.join(path, checkpointing.CONFIG_FILE)
    if not os.path.isfile(config):
      raise ValueError(f'{path!r} is a folder without '
                       f'{checkpointing.CONFIG_FILE}: not a training workdir.')
    with open(config, encoding='utf-8') as f:
      # Workdirs from before methods existed hold AnimeGAN runs.
      return json.load(f).get('method') or 'animegan'
  if path.lower().endswith(OFFICIAL_EXTS):
    return 'animegan'
  from animejax import weights_io  # pylint: disable=g-import-not-at-top
  try:
    arch = weights_io.load(path).arch
  except ValueError as e:
    raise ValueError(f'{e} (.pt/.pth files: convert them first with '
                     '`python -m animejax.convert --from FILE --out '
                     'W.msgpack`.)') from e
  return _ARCH_METHOD.get(arch, 'animegan')


def parse_weights(specs: Sequence[str]) -> list[tuple[str, str]]:
  """['NAME=PATH', 'PATH', ...] -> [(name, path)] (name: the file's stem)."""
  out = []
  for spec in specs:
    name, sep, path = spec.partition('=')
    if not sep:
      name, path = os.path.splitext(os.path.basename(spec.rstrip('/')))[0], spec
    if not name or not path:
      raise ValueError(f'--weights {spec!r}: use NAME=PATH.')
    out.append((name, path))
  return out


def run_dirs(root: str) -> list[tuple[str, str]]:
  """(name, path) of the training workdirs directly under `root`."""
  from animejax import checkpointing  # pylint: disable=g-import-not-at-top
  if not os.path.isdir(root):
    raise FileNotFoundError(f'--runs {root!r} is not a folder.')
  return [(d, os.path.join(root, d)) for d in sorted(os.listdir(root))
          if os.path.isfile(os.path.join(root, d, checkpointing.CONFIG_FILE))]


def cached_styles(cache_dir: str | None = None) -> list[tuple[str, str]]:
  """Official AnimeGAN styles already in the convert cache (nothing fetched)."""
  from animejax.convert import catalogue  # pylint: disable=g-import-not-at-top
  cache_dir = cache_dir or catalogue.default_cache_dir()
  out = []
  for name, entry in sorted(catalogue.CATALOGUE.items()):
    path = os.path.join(cache_dir, entry.filename)
    if os.path.isfile(path) and path.lower().endswith(OFFICIAL_EXTS):
      out.append((name, path))
  return out


def find_entries(named: Sequence[tuple[str, str]]
                 ) -> tuple[list[Entry], list[str]]:
  """Entries for (name, path) pairs, and a message for each one skipped."""
  entries, problems, seen = [], [], set()
  for name, path in named:
    if name in seen:
      problems.append(f'{name}: a second model of that name was skipped.')
      continue
    try:
      entry = Entry(name, path, method_of(path))
    except (OSError, ValueError) as e:
      problems.append(f'{name}: {e}')
      continue
    if not entry.tasks:
      problems.append(f'{name}: method {entry.method!r} has no tab.')
      continue
    seen.add(name)
    entries.append(entry)
  return entries, problems


# --- images in ---------------------------------------------------------------

def read_upload(path: str | None, *, max_megapixels: float,
                what: str = 'the upload') -> np.ndarray:
  """An uploaded file -> uint8 RGB [H, W, 3], or InputError saying why not.

  The size is read from the header before any pixel is decoded, so a
  100-megapixel upload is refused without holding it in memory.
  """
  import PIL.Image  # pylint: disable=g-import-not-at-top
  import PIL.ImageOps  # pylint: disable=g-import-not-at-top
  if not path:
    raise InputError(f'No image: upload one for {what}.')
  name = os.path.basename(path)
  if not os.path.isfile(path) or os.path.getsize(path) == 0:
    raise InputError(f'{name} is empty (0 bytes): upload a PNG, JPEG or '
                     'WebP image.')
  try:
    with PIL.Image.open(path) as im:
      w, h = im.size
      if w * h > max_megapixels * 1e6:
        raise InputError(
            f'{name} is {w}x{h} ({w * h / 1e6:.1f} MP), above the '
            f'{max_megapixels:g} MP this app accepts: downscale it, or start '
            'the app with a larger --max-megapixels.')
      im = PIL.ImageOps.exif_transpose(im).convert('RGB')
      return np.asarray(im, np.uint8).copy()
  except InputError:
    raise
  except (OSError, ValueError, SyntaxError,
          PIL.Image.DecompressionBombError) as e:
    raise InputError(f'{name} is not an image this app can read '
                     f'({type(e).__name__}): upload a PNG, JPEG or WebP '
                     'photo.') from e


# --- the loaded models ---------------------------------------------------------

class Translator:
  """AnimeGAN-family generator: any size in, the same size out."""

  def __init__(self, entry: Entry, which: str):
    from animejax import inference  # pylint: disable=g-import-not-at-top
    weights = inference.resolve_weights(entry.path, which=which)
    module, params = inference.build_generator(weights)
    self._model = inference.Cartoonizer(module, params)

  def cartoonize(self, image: np.ndarray, *, keep_colour: bool = False,
                 size: int = 0) -> dict[str, np.ndarray]:
    from animejax import inference  # pylint: disable=g-import-not-at-top
    if size:
      image = inference.fit_long_side(image, size)
    out = self._model([image])[0]
    return {'image': inference.postprocess(out, image, color=keep_colour,
                                           brightness=False)}


class FaceTranslator:
  """U-GAT-IT A->B at its training size, with the CAM heatmap."""

  def __init__(self, entry: Entry, which: str):
    from animejax.methods import ugatit  # pylint: disable=g-import-not-at-top
    self._model = ugatit.load_translator(entry.path, which, 'a2b')

  def cartoonize(self, image: np.ndarray, *, keep_colour: bool = False,
                 size: int = 0) -> dict[str, np.ndarray]:
    del size  # the model's own size
    from animejax import inference  # pylint: disable=g-import-not-at-top
    out, heat = self._model(image[None])
    out = out[0]
    if keep_colour:  # the colours of exactly what the model saw
      out = inference.keep_color(out, self._model.preprocess(image))
    return {'image': out, 'heatmap': heat[0]}


class Transfer:
  """trVAE: the source condition (real) -> the target condition (anime)."""

  def __init__(self, entry: Entry, which: str):
    import jax  # pylint: disable=g-import-not-at-top
    from animejax import checkpointing  # pylint: disable=g-import-not-at-top
    self._method, self._params, _ = checkpointing.restore_for_inference(
        entry.path, which, task='transfer')
    names = list(self._method.condition_names)
    self.source = _pick(names, ('real', 'photo', 'selfie', 'face'), 0)
    self.target = _pick(names, ('anime', 'cartoon', 'drawing'), -1)
    self.size = int(self._method.config.data.image_size)
    self._fn = jax.jit(self._method.predict_fns()['transfer'])

  def cartoonize(self, image: np.ndarray, *, keep_colour: bool = False,
                 size: int = 0) -> dict[str, np.ndarray]:
    del keep_colour, size  # a VAE's output is its own
    from animejax import inference  # pylint: disable=g-import-not-at-top
    from animejax.data import conditions  # pylint: disable=g-import-not-at-top
    # The crop and resize of training (conditions.load_image).
    x = inference.to_model_range(conditions.square(image, self.size))[None]
    y = self._fn(self._params, {'images': x,
                                'source': np.array([self.source], np.int32),
                                'target': np.array([self.target], np.int32)})
    return {'image': inference.from_model_range(np.asarray(y['images'])[0])}


class FaceGenerator:
  """DCGAN / DRAGAN / StyleGAN2: a grid of faces from a seed."""

  GRID = 16  # 4x4: one compiled shape per model

  def __init__(self, entry: Entry, which: str):
    import jax  # pylint: disable=g-import-not-at-top
    from animejax import generate  # pylint: disable=g-import-not-at-top
    self._method, self._params, _ = generate.load(entry.path, which)
    self._fn = jax.jit(self._method.predict_fns()['generate'])
    vocab = list(getattr(self._method, 'vocab', []))
    self.hair = [t for t in vocab if t.endswith('hair')]
    self.eyes = [t for t in vocab if t.endswith('eyes')]

  def generate(self, seed: int, *, labels: Sequence[str] = (),
               truncation: float = 0.0) -> np.ndarray:
    """uint8 [4*S, 4*S, 3]: 16 faces of `seed`."""
    from animejax import generate  # pylint: disable=g-import-not-at-top
    from animejax.methods import dcgan  # pylint: disable=g-import-not-at-top
    inputs = generate.inputs_for(self._method, self.GRID, int(seed),
                                 ','.join(t for t in labels if t), 0,
                                 float(truncation))
    images = np.asarray(self._fn(self._params, inputs)['images'])
    return dcgan.grid(images, 4)


class Upscaler:
  """SRResNet / SRGAN x4, tiled above `upscale.DEFAULT_TILE_THRESHOLD`."""

  def __init__(self, entry: Entry, which: str):
    from animejax import upscale  # pylint: disable=g-import-not-at-top
    self._fn, self.scale = upscale.load_upscaler(entry.path, which)

  def upscale(self, image: np.ndarray) -> np.ndarray:
    from animejax import upscale  # pylint: disable=g-import-not-at-top
    return upscale.upscale_image(self._fn, image, self.scale)


_LOADERS: dict[str, Callable[[Entry, str], Any]] = {
    'animegan': Translator, 'ugatit': FaceTranslator, 'trvae': Transfer,
    'dcgan': FaceGenerator, 'dragan': FaceGenerator,
    'stylegan2': FaceGenerator, 'srgan': Upscaler,
}


def _pick(names: list[str], wanted: Sequence[str], fallback: int) -> int:
  for i, n in enumerate(names):
    if any(w in n.lower() for w in wanted):
      return i
  return fallback % len(names)


class Models:
  """The entries of a session and their loaded models (loaded on first use).

  One lock guards loading so two first requests don't both compile; the
  app's queue (one request at a time) keeps memory to one model's working
  set.
  """

  def __init__(self, entries: Sequence[Entry], which: str = 'latest'):
    self.entries = {e.name: e for e in entries}
    self.which = which
    self._loaded: dict[str, Any] = {}
    self._lock = threading.Lock()

  def names(self, task: str) -> list[str]:
    return [n for n, e in self.entries.items() if task in e.tasks]

  def is_loaded(self, name: str) -> bool:
    return name in self._loaded

  def get(self, name: str) -> Any:
    """The loaded model `name`; InputError if it can't be served."""
    if name not in self.entries:
      raise InputError(f'No model named {name!r} (known: '
                       f'{sorted(self.entries)}).')
    with self._lock:
      if name not in self._loaded:
        entry = self.entries[name]
        try:
          self._loaded[name] = _LOADERS[entry.method](entry, self.which)
        except (OSError, ValueError, KeyError) as e:
          raise InputError(f'Model {name!r} ({entry.path}) cannot be '
                           f'loaded: {e}') from e
      return self._loaded[name]
