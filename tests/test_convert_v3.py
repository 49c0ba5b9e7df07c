"""Official AnimeGANv3 files (../shared/weights) -> JAX, against their runtimes.

Measured (CPU, float32): Shinkai_37.pb vs TF session ~130 dB PSNR at 256x256
and 256x384; Hayao_36 fp16 .tflite vs tf.lite ~79 dB (117 dB with the
file's flushed eps 0); tiny_Cute.onnx vs onnxruntime ~116 dB. Thresholds
below leave a wide margin for other BLAS/conv backends.
"""

import glob
import os

import jax
import numpy as np
import pytest
from PIL import Image

from animejax import convert, models, weights_io
from animejax.models.animeganv3 import AnimeGANv3Generator


def photo(shared, i, h, w):
  files = sorted(glob.glob(str(shared / 'data/photos/val/*.jpg')))
  files += sorted(glob.glob(str(shared / 'data/photos/train/*.jpg')))
  img = Image.open(files[i]).convert('RGB').resize((w, h), Image.BICUBIC)
  return np.asarray(img, np.float32)[None] / 127.5 - 1.0


def psnr(a, b):
  """PSNR of images in [-1, 1] (peak-to-peak 2)."""
  return 10 * np.log10(4.0 / np.mean((a - b) ** 2))


def weight(shared, name):
  path = shared / 'weights' / name
  if not path.is_file():
    pytest.skip(f'{name} not in the shared weights folder')
  return str(path)


def run(w, x):
  # Rebuilt through the registry, as cartoonize does.
  model = models.create_generator(w.arch, **w.model_kwargs)
  assert isinstance(model, AnimeGANv3Generator)
  return np.asarray(jax.jit(model.apply)({'params': w.params}, x))


def test_pb_matches_tf_session(shared, tmp_path):
  from animejax.convert import tf_graph
  path = weight(shared, 'AnimeGANv3_Shinkai_37.pb')
  w = convert.convert(path)
  assert w.arch == 'animeganv3' and w.model_kwargs['variant'] == 'full'
  # Round trip through our weights file.
  weights_io.save(str(tmp_path / 'w.msgpack'), w)
  w = weights_io.load(str(tmp_path / 'w.msgpack'))
  for i, h, wd in [(0, 256, 256), (30, 256, 384)]:  # a val, a train photo
    x = photo(shared, i, h, wd)
    ref = tf_graph.run_graph(path, x)
    y = run(w, x)
    assert y.shape == ref.shape
    assert psnr(y, ref) > 60, (h, wd, psnr(y, ref))


def test_fp16_tflite_matches_interpreter(shared):
  from animejax.convert import tflite_reader
  path = weight(shared, 'AnimeGANv3_Hayao_36_QUANTIZED_fp16.tflite')
  w = convert.convert(path)
  assert w.model_kwargs['variant'] == 'full'
  x = photo(shared, 2, 512, 512)  # the export is fixed at 1x512x512x3
  ref = tflite_reader.TfliteModel(path).run(x)
  assert psnr(run(w, x), ref) > 55


def test_tiny_onnx_matches_onnxruntime(shared):
  pytest.importorskip('onnxruntime')
  from animejax.convert import onnx_reader
  path = weight(shared, 'AnimeGANv3_tiny_Cute.onnx')
  w = convert.convert(path)
  assert w.model_kwargs == {'variant': 'tiny', 'width': 1.0}
  assert w.meta['num_params'] == 605616
  x = photo(shared, 3, 256, 384)
  assert psnr(run(w, x), onnx_reader.run(path, x)) > 60


def test_non_v3_graph_is_rejected(tmp_path):
  import tensorflow as tf
  g = tf.Graph()
  with g.as_default():
    tf.constant(np.ones((3, 3), np.float32), name='generator/foo/weights')
  path = tmp_path / 'other.pb'
  path.write_bytes(g.as_graph_def().SerializeToString())
  with pytest.raises(ValueError, match='AnimeGANv3'):
    convert.convert(str(path), arch='animeganv3')


def test_truncated_file_is_rejected(tmp_path):
  path = tmp_path / 'bad.onnx'
  path.write_bytes(b'\x08\x07garbage')
  with pytest.raises(ValueError, match='not a readable ONNX'):
    convert.convert(str(path), arch='animeganv3')
  with pytest.raises(FileNotFoundError):
    convert.convert(str(tmp_path / 'missing.pb'))
