"""colab/*.ipynb: valid notebooks whose code cells run on CPU (test mode).

Each code cell is executed in order in one namespace, as a kernel would,
with ANIMEJAX_NOTEBOOK_TEST=1 (tiny settings, no Colab, no downloads); shell
(`!`) and magic (`%`) lines are skipped: they only install software or start
TensorBoard.
"""

import math
import os
import pathlib
import subprocess
import sys

import nbformat
import numpy as np
import pytest
from PIL import Image

REPO = pathlib.Path(__file__).resolve().parents[1]
COLAB = REPO / 'colab'


def code_cells(path):
  nb = nbformat.read(str(path), as_version=4)
  nbformat.validate(nb)
  return nb, [c for c in nb.cells if c.cell_type == 'code']


def run_notebook(path, monkeypatch, workdir):
  """Executes the code cells of `path`; returns the namespace."""
  monkeypatch.setenv('ANIMEJAX_NOTEBOOK_TEST', '1')
  monkeypatch.setenv('ANIMEJAX_NOTEBOOK_WORKDIR', str(workdir))
  monkeypatch.syspath_prepend(str(REPO))
  monkeypatch.chdir(REPO)
  _, cells = code_cells(path)
  ns = {'__name__': '__main__'}
  for i, cell in enumerate(cells):
    lines = [l for l in cell.source.splitlines()
             if not l.lstrip().startswith(('!', '%'))]
    code = compile('\n'.join(lines), f'{path.name}[cell {i}]', 'exec')
    exec(code, ns)  # pylint: disable=exec-used
  return ns


@pytest.mark.parametrize('name', ['train_tpu.ipynb', 'cartoonize.ipynb'])
def test_notebooks_are_clean_nbformat4(name):
  nb, cells = code_cells(COLAB / name)
  assert nb.nbformat == 4 and cells
  for cell in cells:
    assert cell.outputs == [] and cell.execution_count is None
    # Colab-only Python must be guarded so the test (and a local Jupyter)
    # can run the cells.
    src = cell.source
    for needle in ('google.colab', "'pip'"):
      if needle in src:
        assert 'if IN_COLAB:' in src, (name, needle)
  # The notebooks import the library instead of copying its code.
  text = '\n'.join(c.source for c in cells)
  assert 'from animejax import' in text
  assert 'nn.Module' not in text and 'def __call__' not in text


def test_notebooks_match_their_builder(tmp_path):
  """colab/build_notebooks.py regenerates exactly the committed notebooks."""
  proc = subprocess.run([sys.executable, '-c', (
      'import sys, pathlib; sys.path.insert(0, "colab");'
      'import build_notebooks as b, nbformat;'
      f'b.HERE = pathlib.Path({str(tmp_path)!r}); b.main()')],
                        cwd=REPO, capture_output=True, text=True, check=True)
  del proc
  for name in ('train_tpu.ipynb', 'cartoonize.ipynb'):
    assert (tmp_path / name).read_text() == (COLAB / name).read_text(), name


@pytest.mark.slow  # trains in the notebook: ~2 min on 2 cores
def test_train_tpu_notebook_runs(monkeypatch, tmp_path):
  ns = run_notebook(COLAB / 'train_tpu.ipynb', monkeypatch, tmp_path)
  assert ns['WORKDIR'] == str(tmp_path)
  metrics = ns['metrics']
  assert isinstance(metrics, dict) and metrics
  assert all(math.isfinite(float(v)) for v in metrics.values())
  assert ns['config'].num_train_steps == 4
  written = [p for p in tmp_path.rglob('*') if p.is_file()]
  assert written, 'training wrote nothing into the workdir'


def test_cartoonize_notebook_runs(monkeypatch, tmp_path):
  ns = run_notebook(COLAB / 'cartoonize.ipynb', monkeypatch, tmp_path)
  photo, anime = ns['photo'], ns['anime']
  assert photo.dtype == anime.dtype == np.uint8
  assert anime.shape == photo.shape == (96, 96, 3)
  assert ns['weights'].arch == 'animeganv2'
  # What the notebook shows is photo | anime side by side, also saved.
  saved = np.asarray(Image.open(ns['OUTPUT']))
  np.testing.assert_array_equal(saved, np.concatenate([photo, anime], axis=1))
  # The cartoonizer really ran the generator: same output as a direct apply
  # on the [-1, 1] image (96 is a multiple of 4: no padding involved).
  x = photo.astype(np.float32)[None] / 127.5 - 1.0
  y = np.asarray(ns['module'].apply({'params': ns['params']}, x))[0]
  expect = np.clip(np.round((y + 1.0) * 127.5), 0, 255).astype(np.uint8)
  assert np.abs(anime.astype(int) - expect.astype(int)).max() <= 1
