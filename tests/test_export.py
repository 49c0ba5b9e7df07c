"""Tests for animejax.export: SavedModel, TFLite and ONNX match JAX (fp32)."""

import json
import os

import numpy as np
import pytest

from animejax import export
import inference_helpers as h

tf = pytest.importorskip('tensorflow')


@pytest.fixture(scope='module')
def tiny():
  module = h.tiny_module()
  return module, h.init_params(module)


def _jax(module, params, x):
  return np.asarray(module.apply({'params': params}, x))


def _inputs(shape, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


@pytest.mark.slow  # jax2tf with polymorphic shapes: ~45 s on 2 cores
def test_saved_model_polymorphic(tmp_path, tiny):
  module, params = tiny
  out = str(tmp_path / 'sm')
  export.export_saved_model(module, params, out, platforms=('cpu',))
  loaded = tf.saved_model.load(out)
  serve = loaded.signatures['serving_default']
  for shape in [(1, 16, 24, 3), (2, 32, 16, 3)]:  # one export, many shapes
    x = _inputs(shape)
    y = list(serve(image=tf.constant(x)).values())[0].numpy()
    np.testing.assert_allclose(y, _jax(module, params, x), atol=1e-3)
  info = json.load(open(os.path.join(out, 'animejax_export.json')))
  assert info['size_multiple'] == 8


def test_tflite_and_onnx_fixed_size(tmp_path, tiny):
  module, params = tiny
  x = _inputs((1, 32, 32, 3), seed=1)
  ref = _jax(module, params, x)
  path = str(tmp_path / 'g.tflite')
  export.export_tflite(module, params, path, size=32)
  interp = tf.lite.Interpreter(model_path=path)
  interp.allocate_tensors()
  inp, outp = interp.get_input_details()[0], interp.get_output_details()[0]
  assert list(inp['shape']) == [1, 32, 32, 3]
  interp.set_tensor(inp['index'], x)
  interp.invoke()
  np.testing.assert_allclose(interp.get_tensor(outp['index']), ref,
                             atol=1e-3)

  pytest.importorskip('tf2onnx', reason='ONNX export needs tf2onnx '
                      '(pip install --no-deps tf2onnx)')
  ort = pytest.importorskip('onnxruntime')
  path = str(tmp_path / 'g.onnx')
  export.export_onnx(module, params, path, size=32)
  sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
  y = sess.run(None, {sess.get_inputs()[0].name: x})[0]
  np.testing.assert_allclose(y, ref, atol=1e-3)


def test_cli_errors_and_size_check(tmp_path, tiny, monkeypatch, capsys):
  h.ensure_registry(monkeypatch)
  assert export.main(['--weights', str(tmp_path / 'none'), '--format',
                      'tflite', '--out', str(tmp_path / 'x')]) == 2
  assert 'does not exist' in capsys.readouterr().err
  w = tmp_path / 'w.msgpack'
  h.write_tiny_weights(w, params=tiny[1])
  assert export.main(['--weights', str(w), '--format', 'tflite', '--size',
                      '30', '--out', str(tmp_path / 'x')]) == 2
  assert 'multiple of 8' in capsys.readouterr().err
