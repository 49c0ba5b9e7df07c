"""Writes colab/*.ipynb from the cell sources below (outputs cleared).

  python colab/build_notebooks.py

Edit the cells here, not in the .ipynb files, so the notebooks stay
reviewable. Conventions that tests/test_notebooks.py relies on:
  * Lines starting with `!` or `%` (shell, magics) only install software or
    start TensorBoard; the test skips them.
  * Colab-only Python (google.colab, pip, git clone, Drive) sits under
    `if IN_COLAB:`.
  * ANIMEJAX_NOTEBOOK_TEST=1 switches to tiny CPU settings: a tiny config or
    a random-weight tiny generator, a procedural photo, a temporary workdir.
"""

import pathlib

import nbformat
from nbformat import v4

HERE = pathlib.Path(__file__).resolve().parent
REPO_URL = 'https://github.com/YOUR_GITHUB_USER/animejax'

SETUP = f'''\
import os
import sys

# Where this repository lives on GitHub (edit if you forked it).
REPO_URL = '{REPO_URL}'
# tests/test_notebooks.py sets this to run every cell on CPU with tiny settings.
TEST_MODE = os.environ.get('ANIMEJAX_NOTEBOOK_TEST') == '1'
IN_COLAB = 'google.colab' in sys.modules and not TEST_MODE

if IN_COLAB:
  import subprocess
  if not os.path.isdir('/content/animejax'):
    subprocess.run(['git', 'clone', '-q', REPO_URL, '/content/animejax'],
                   check=True)
  subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '-e',
                  '/content/animejax' + EXTRAS], check=True)
  os.chdir('/content/animejax')
  sys.path.insert(0, '/content/animejax')  # for `import configs`
'''


# ----------------------------------------------------------------- training
TRAIN_CELLS = [
    ('md', '''\
# Train AnimeGAN on a Cloud TPU with animejax

Runtime > Change runtime type > **TPU**. This notebook installs animejax with
TPU support, mounts Google Drive for the data and the run directory, trains
with `animejax.train.train_and_evaluate` (every TPU core is a device of the
data-parallel mesh) and shows TensorBoard. Runs resume from the last
checkpoint in the workdir, so re-running the training cell after a
disconnect continues where it stopped.

Data: put the AnimeGAN dataset archives (`train_photo`, `Shinkai`, ...,
from the AnimeGAN / AnimeGANv2 release pages) in `DATA_DIR` on your Drive,
or set `config.data.source = 'folders'` and point `photo_dir` / `style_dir`
at image folders. The `demo` config needs no data at all.'''),
    ('code', SETUP.replace('EXTRAS', "'[tpu]'")),
    ('md', '## Choose a config and where data and runs live'),
    ('code', '''\
import importlib
import tempfile

CONFIG_NAME = 'shinkai'  # @param ['shinkai', 'hayao', 'paprika', 'animeganv1', 'cartoongan', 'demo']
DRIVE_DIR = '/content/drive/MyDrive/animejax'  # @param {type:'string'}
DATA_DIR = DRIVE_DIR + '/data'   # AnimeGAN archives (TFDS manual_dir)
WORKDIR = DRIVE_DIR + '/runs/' + CONFIG_NAME

if IN_COLAB:
  from google.colab import drive
  drive.mount('/content/drive')
  os.makedirs(DATA_DIR, exist_ok=True)

config = importlib.import_module('configs.' + CONFIG_NAME).get_config()
if config.data.source == 'tfds':
  config.data.manual_dir = DATA_DIR
  config.data.tfds_data_dir = DRIVE_DIR + '/tensorflow_datasets'

if TEST_MODE:  # a few steps of a tiny model on procedural data, on CPU
  config = importlib.import_module('configs.demo').get_config()
  config.data.image_size = 32
  config.data.procedural_epoch_size = 8
  config.data.num_val_images = 2
  config.batch_size = 2
  config.steps_per_epoch = 2
  config.init_epochs = 1
  config.num_train_steps = 4
  config.log_every_steps = 2
  config.checkpoint_every_steps = 4
  config.eval_every_steps = 4
  config.sample_every_steps = 4
  config.num_sample_images = 2
  WORKDIR = os.environ.get('ANIMEJAX_NOTEBOOK_WORKDIR') or tempfile.mkdtemp()
print(config.generator.name, config.data.source, 'workdir:', WORKDIR)'''),
    ('md', '## The devices'),
    ('code', '''\
import jax

devices = jax.devices()
print(f'{len(devices)} x {devices[0].device_kind} ({jax.default_backend()})')
# The global batch is split over all devices; keep it a multiple of their
# number (e.g. the published batch 12 becomes 16 on 8 TPU cores).
n = jax.device_count()
if config.batch_size % n:
  new = -(-config.batch_size // n) * n
  print(f'batch_size {config.batch_size} -> {new} (multiple of {n} devices)')
  config.batch_size = new'''),
    ('md', '## TensorBoard\nLosses, evaluation metrics and sample images, '
     'refreshed while training runs.'),
    ('code', '''\
%load_ext tensorboard
%tensorboard --logdir {WORKDIR}'''),
    ('md', '## Train and evaluate'),
    ('code', '''\
from animejax import train

metrics = train.train_and_evaluate(config, WORKDIR)
for key in sorted(metrics):
  print(f'{key:30s} {float(metrics[key]):.4f}')'''),
    ('md', '## Samples: photo | generated | (demo) target'),
    ('code', '''\
import glob

from PIL import Image

samples = sorted(glob.glob(os.path.join(WORKDIR, '**', '*.png'),
                           recursive=True), key=os.path.getmtime)
print(len(samples), 'sample images')
sample = Image.open(samples[-1]) if samples else None
sample  # the notebook shows the newest sample grid'''),
]


# ---------------------------------------------------------------- cartoonize
CARTOONIZE_CELLS = [
    ('md', '''\
# Photo to anime with animejax

Pick a style, upload a photo, see it as anime. The official AnimeGANv2 /
AnimeGANv3 weights are downloaded from their authors' releases and converted
to animejax weights once (they are for non-commercial use only; see the
AnimeGAN licences). Runs on the Colab CPU; a GPU runtime is faster.'''),
    ('code', SETUP.replace('EXTRAS', "'[app]'")),
    ('md', '''\
## Pick a style
Names are entries of `animejax.convert.catalogue`: AnimeGANv3 (Hayao,
Shinkai; ONNX release assets), AnimeGANv2 (Hayao, Paprika, Shinkai; TF1
checkpoints from the official repository) and the animegan2-pytorch
conversions (Paprika, face portraits). The file is downloaded once and
converted to an animejax generator.'''),
    ('code', '''\
import tempfile

from animejax import inference
from animejax import weights_io
from animejax.convert import catalogue

STYLE = 'animeganv3-hayao-36'  # @param ['animeganv3-hayao-36', 'animeganv3-shinkai-37', 'animeganv2-hayao', 'animeganv2-paprika', 'animeganv2-shinkai', 'animegan2-pytorch-paprika', 'animegan2-pytorch-face-paint-512-v2', 'animegan2-pytorch-celeba-distill']
print('Licence:', catalogue.CATALOGUE[STYLE].licence)

if TEST_MODE:
  # No downloads in tests: a tiny randomly initialised AnimeGANv2 generator,
  # saved and loaded through the same weights-file path as real weights.
  import jax
  import numpy as np
  from animejax import models
  tiny = models.create_generator('animeganv2', width=0.25)
  # Shapes from tracing only, values from numpy: compiling init's random
  # initializers would take longer than the whole notebook on a small CPU.
  shapes = jax.eval_shape(tiny.init, jax.random.key(0),
                          np.zeros((1, 32, 32, 3), np.float32))['params']
  rng = np.random.default_rng(0)
  tiny_params = jax.tree.map(
      lambda s: rng.normal(0.0, 0.1, s.shape).astype(s.dtype), shapes)
  weights_path = os.path.join(tempfile.mkdtemp(), 'tiny.msgpack')
  weights_io.save(weights_path, weights_io.GeneratorWeights(
      'animeganv2', {'width': 0.25}, tiny_params, {'note': 'random weights'}))
else:
  weights_path = catalogue.resolve(STYLE)  # downloads into ~/.cache/animejax

weights = inference.resolve_weights(weights_path)  # converts official files
module, params = inference.build_generator(weights)
cartoonizer = inference.Cartoonizer(module, params)
print(weights.arch, weights.model_kwargs)'''),
    ('md', '## Upload a photo'),
    ('code', '''\
import io

import numpy as np
from PIL import Image

MAX_SIDE = 1024  # @param {type:'integer'}  larger photos are shrunk first
PHOTO_PATH = 'photo.jpg'  # used outside Colab

if IN_COLAB:
  from google.colab import files
  uploaded = files.upload()
  photo = np.asarray(Image.open(io.BytesIO(next(iter(uploaded.values()))))
                     .convert('RGB'))
elif TEST_MODE:
  from animejax.data import procedural
  photo, _ = procedural.render_pair(0, 96)
else:
  photo = np.asarray(Image.open(PHOTO_PATH).convert('RGB'))
if max(photo.shape[:2]) > MAX_SIDE:
  photo = inference.fit_long_side(photo, MAX_SIDE)
print('photo', photo.shape)'''),
    ('md', '## See the result (photo | anime)'),
    ('code', '''\
anime = cartoonizer([photo])[0]
result = Image.fromarray(np.concatenate([photo, anime], axis=1))
OUTPUT = os.path.join(tempfile.gettempdir() if TEST_MODE else '.',
                      'anime.png')
result.save(OUTPUT)
if IN_COLAB:
  files.download(OUTPUT)
result'''),
    ('md', '''\
The same from the command line, for folders and videos:

```
python -m animejax.convert --from animeganv3-hayao-36 --out hayao.msgpack
python -m animejax.cartoonize --weights hayao.msgpack --input photos/ --output anime/
```'''),
    ('md', '''\
## The web page
The same page as `python -m animejax.app`, with this style (add trained
runs with `runs=['path/to/runs']`). In Colab, `share=True` gives a public
`*.gradio.live` link for an hour.'''),
    ('code', '''\
from animejax import app

if TEST_MODE:  # a local port, closed again at once
  import socket
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
  page = app.launch([f'{STYLE}={weights_path}'], port=port, cache=False,
                    block=False)
  page.close()
else:
  page = app.launch([f'{STYLE}={weights_path}'], share=IN_COLAB,
                    block=False)'''),
]


def _cell(kind, source):
  if kind == 'md':
    return v4.new_markdown_cell(source)
  return v4.new_code_cell(source)


def build(cells, title):
  nb = v4.new_notebook()
  nb.metadata = {
      'kernelspec': {'name': 'python3', 'display_name': 'Python 3'},
      'language_info': {'name': 'python'},
      'colab': {'name': title, 'provenance': []},
      'accelerator': 'TPU' if 'train' in title else None,
  }
  if nb.metadata['accelerator'] is None:
    del nb.metadata['accelerator']
  nb.cells = [_cell(k, s) for k, s in cells]
  for i, cell in enumerate(nb.cells):
    cell.id = f'cell-{i:02d}'  # stable ids: rebuilding changes nothing
  nbformat.validate(nb)
  return nb


def main():
  for name, cs in [('train_tpu.ipynb', TRAIN_CELLS),
                   ('cartoonize.ipynb', CARTOONIZE_CELLS)]:
    nbformat.write(build(cs, name), str(HERE / name))
    print('wrote', HERE / name)


if __name__ == '__main__':
  main()
