"""AnimeGANv2 importers: TF1 checkpoints, animegan2-pytorch, PINTO .tflite.

The TF1 test builds the official generator graph ([v2] net/generator.py,
re-expressed with tf.compat.v1 ops because tf.contrib is gone) with random
variables under the official names, saves it with tf.compat.v1.train.Saver,
converts the checkpoint and compares outputs. The PyTorch test builds the
animegan2-pytorch Generator layer list (its model.py) in torch.
"""

import glob

import jax
import numpy as np
import pytest
from PIL import Image

from animejax import convert
from animejax.convert import tf1_checkpoint, v2_layers

# ----------------------------------------------------------------------------
# TF1 reference of [v2] net/generator.py G_net (variables by official names).


def _tf_v2_generator(tf, x, init):
  """Official AnimeGANv2 G_net in tf.compat.v1; `init(name, shape)`."""
  v1 = tf.compat.v1

  def var(name, shape):
    return v1.get_variable(name, initializer=init(
        v1.get_variable_scope().name + '/' + name, shape))

  def conv(x, filters, k=3, s=1, scope='Conv'):
    # [v2] Conv2D: reflect pad 1 (3x3), 3 (7x7); stride 2 pads (0, 1).
    if k == 3 and s == 1:
      x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode='REFLECT')
    if k == 7 and s == 1:
      x = tf.pad(x, [[0, 0], [3, 3], [3, 3], [0, 0]], mode='REFLECT')
    if s == 2:
      x = tf.pad(x, [[0, 0], [0, 1], [0, 1], [0, 0]], mode='REFLECT')
    with v1.variable_scope(scope):
      w = var('weights', [k, k, x.shape[-1], filters])
    return tf.nn.conv2d(x, w, [1, s, s, 1], 'VALID')

  def layer_norm(x, scope):
    # tf.contrib.layers.layer_norm: moments over H, W, C, eps 1e-12.
    with v1.variable_scope(scope):
      beta = var('beta', [x.shape[-1]])
      gamma = var('gamma', [x.shape[-1]])
    mean, variance = tf.nn.moments(x, [1, 2, 3], keepdims=True)
    return tf.nn.batch_normalization(x, mean, variance, beta, gamma, 1e-12)

  counters = {}

  def cnl(x, filters, k=3, s=1):
    scope = v1.get_variable_scope().name
    i = counters.get(scope, 0)
    counters[scope] = i + 1
    sfx = '' if i == 0 else f'_{i}'
    x = conv(x, filters, k, s, scope='Conv' + sfx)
    return tf.nn.leaky_relu(layer_norm(x, 'LayerNorm' + sfx), 0.2)

  def inverted_res(x, name):
    with v1.variable_scope(name):
      cin = x.shape[-1]
      net = cnl(x, 2 * cin, k=1)
      net = tf.pad(net, [[0, 0], [1, 1], [1, 1], [0, 0]], mode='REFLECT')
      with v1.variable_scope(name):
        w = var('w', [3, 3, 2 * cin, 1])
        b = var('bias', [2 * cin])
      net = tf.nn.bias_add(
          tf.nn.depthwise_conv2d(net, w, [1, 1, 1, 1], 'VALID'), b)
      net = tf.nn.leaky_relu(layer_norm(net, '1'), 0.2)
      net = conv(net, 256, k=1, scope='Conv_1')
      net = layer_norm(net, '2')
      return x + net if cin == 256 else net

  def up(x):
    size = [2 * tf.shape(x)[1], 2 * tf.shape(x)[2]]
    return v1.image.resize_bilinear(x, size)  # TF1 resize_images default

  with v1.variable_scope('generator'), v1.variable_scope('G_MODEL'):
    with v1.variable_scope('A'):
      x = cnl(x, 32, 7)
      x = cnl(x, 64, s=2)
      x = cnl(x, 64)
    with v1.variable_scope('B'):
      x = cnl(x, 128, s=2)
      x = cnl(x, 128)
    with v1.variable_scope('C'):
      x = cnl(x, 128)
      for k in range(1, 5):
        x = inverted_res(x, f'r{k}')
      x = cnl(x, 128)
    with v1.variable_scope('D'):
      x = cnl(up(x), 128)
      x = cnl(x, 128)
    with v1.variable_scope('E'):
      x = cnl(up(x), 64)
      x = cnl(x, 64)
      x = cnl(x, 32, 7)
    with v1.variable_scope('out_layer'):
      x = conv(x, 3, k=1)
    return tf.tanh(x)


def tf_v2_reference(weights, x):
  """Runs the TF1 reference with official-name `weights` on `x`."""
  import tensorflow as tf
  prefix = 'generator/G_MODEL/'
  with tf.Graph().as_default():
    inp = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3])
    out = _tf_v2_generator(
        tf, inp, lambda name, shape: weights[name[len(prefix):]])
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      return sess.run(out, {inp: x})


def random_official(seed=0):
  rng = np.random.default_rng(seed)
  out = {}
  for name, shape in tf1_checkpoint.official_names():
    if name.endswith('gamma'):
      out[name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
    elif name.endswith('beta') or name.endswith('bias'):
      out[name] = rng.normal(0, 0.1, shape).astype(np.float32)
    else:
      fan_in = np.prod(shape[:-1]) if not name.endswith('/w') else 9
      out[name] = rng.normal(0, np.sqrt(2 / fan_in), shape).astype(np.float32)
  return out


def write_tf1_checkpoint(weights, folder):
  """Official names/shapes as tf.compat.v1 variables + Saver."""
  import tensorflow as tf
  with tf.Graph().as_default():
    for name, value in weights.items():
      tf.compat.v1.get_variable('generator/G_MODEL/' + name, initializer=value)
    saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      saver.save(sess, str(folder / 'Hayao-99.ckpt'))


def test_tf1_checkpoint_reads_official_names(tmp_path):
  weights = random_official()
  write_tf1_checkpoint(weights, tmp_path)
  back, kwargs = v2_layers.read(str(tmp_path), 'tf1')
  assert kwargs == {'upsample': 'tf1', 'eps': 1e-12}
  assert set(back) == set(weights)
  for k in weights:
    np.testing.assert_array_equal(back[k], weights[k])


def test_tf1_checkpoint_errors(tmp_path):
  import tensorflow as tf
  with pytest.raises(FileNotFoundError, match='No TF1 checkpoint'):
    tf1_checkpoint.read(str(tmp_path / 'nothing'))
  with tf.Graph().as_default():
    tf.compat.v1.get_variable('discriminator/conv/kernel', [3])
    saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      saver.save(sess, str(tmp_path / 'd.ckpt'))
  with pytest.raises(ValueError, match='G_MODEL'):
    tf1_checkpoint.read(str(tmp_path))
  partial = random_official()
  del partial['C/r2/r2/w']
  with pytest.raises(ValueError, match='C/r2/r2/w'):
    tf1_checkpoint.check(partial, 'x')


# ----------------------------------------------------------------------------
# animegan2-pytorch


def torch_generator():
  """bryandlee/animegan2-pytorch model.py Generator, as a layer list."""
  torch = pytest.importorskip('torch')
  nn = torch.nn

  def cnl(cin, cout, k=3, s=1, pad=1, groups=1, bias=False):
    return nn.Sequential(
        nn.ReflectionPad2d(pad),
        nn.Conv2d(cin, cout, k, s, 0, groups=groups, bias=bias),
        nn.GroupNorm(1, cout, affine=True), nn.LeakyReLU(0.2))

  class InvRes(nn.Module):
    def __init__(self, cin, cout):
      super().__init__()
      mid = 2 * cin
      self.res = cin == cout
      self.layers = nn.Sequential(
          cnl(cin, mid, k=1, pad=0), cnl(mid, mid, groups=mid, bias=True),
          nn.Conv2d(mid, cout, 1, bias=False), nn.GroupNorm(1, cout))

    def forward(self, x):
      y = self.layers(x)
      return x + y if self.res else y

  class Gen(nn.Module):
    def __init__(self):
      super().__init__()
      self.block_a = nn.Sequential(cnl(3, 32, 7, pad=3),
                                   cnl(32, 64, s=2, pad=(0, 1, 0, 1)),
                                   cnl(64, 64))
      self.block_b = nn.Sequential(cnl(64, 128, s=2, pad=(0, 1, 0, 1)),
                                   cnl(128, 128))
      self.block_c = nn.Sequential(cnl(128, 128), InvRes(128, 256),
                                   InvRes(256, 256), InvRes(256, 256),
                                   InvRes(256, 256), cnl(256, 128))
      self.block_d = nn.Sequential(cnl(128, 128), cnl(128, 128))
      self.block_e = nn.Sequential(cnl(128, 64), cnl(64, 64),
                                   cnl(64, 32, 7, pad=3))
      self.out_layer = nn.Sequential(nn.Conv2d(32, 3, 1, bias=False),
                                     nn.Tanh())

    def forward(self, x):
      f = torch.nn.functional
      out = self.block_a(x)
      half = out.shape[-2:]
      out = self.block_c(self.block_b(out))
      out = f.interpolate(out, half, mode='bilinear', align_corners=True)
      out = self.block_d(out)
      out = f.interpolate(out, x.shape[-2:], mode='bilinear',
                          align_corners=True)
      return self.out_layer(self.block_e(out))

  torch.manual_seed(0)
  gen = Gen().eval()
  with torch.no_grad():  # non-trivial norms
    for m in gen.modules():
      if isinstance(m, nn.GroupNorm):
        m.weight.uniform_(0.5, 1.5)
        m.bias.normal_(0, 0.1)
  return torch, gen


def test_pytorch_state_dict_reads_official_names(tmp_path):
  torch, gen = torch_generator()
  path = tmp_path / 'paprika.pt'
  torch.save(gen.state_dict(), path)
  weights, kwargs = v2_layers.read(str(path), 'torch')
  assert kwargs == {'upsample': 'align_corners', 'eps': 1e-5}
  sd = gen.state_dict()
  np.testing.assert_array_equal(weights['A/Conv/weights'],
                                sd['block_a.0.1.weight'].numpy()
                                .transpose(2, 3, 1, 0))
  np.testing.assert_array_equal(weights['C/r3/r3/w'][..., 0],
                                sd['block_c.3.layers.1.1.weight'].numpy()
                                [:, 0].transpose(1, 2, 0))
  np.testing.assert_array_equal(weights['C/LayerNorm_1/gamma'],
                                sd['block_c.5.2.weight'].numpy())


def test_pytorch_wrong_state_dict(tmp_path):
  torch = pytest.importorskip('torch')
  path = tmp_path / 'other.pt'
  torch.save({'features.0.weight': torch.zeros(3)}, path)
  with pytest.raises(ValueError, match='animegan2-pytorch'):
    v2_layers.read(str(path), 'torch')


# ----------------------------------------------------------------------------
# PINTO int8 .tflite


def tflite_path(shared):
  path = shared / 'weights' / 'animeganv2_hayao_256_int8.tflite'
  if not path.is_file():
    pytest.skip('animeganv2_hayao_256_int8.tflite not in shared weights')
  return str(path)


def photo(shared, i, size=256):
  files = sorted(glob.glob(str(shared / 'data/photos/val/*.jpg')))
  img = Image.open(files[i]).convert('RGB').resize((size, size), Image.BICUBIC)
  return np.asarray(img, np.float32)[None] / 127.5 - 1.0


def psnr(a, b):
  return 10 * np.log10(4.0 / np.mean((a - b) ** 2))


# ----------------------------------------------------------------------------
# Whole-model parity (needs animejax.models.animeganv2)


def run_flax(kwargs, params, x):
  from animejax.models.animeganv2 import AnimeGANv2Generator
  model = AnimeGANv2Generator(**kwargs)
  return np.asarray(jax.jit(model.apply)({'params': params}, x))


def test_tf1_checkpoint_converts_to_matching_model(tmp_path):
  weights = random_official(1)
  write_tf1_checkpoint(weights, tmp_path)
  w = convert.convert(str(tmp_path), arch='animeganv2')
  assert w.arch == 'animeganv2' and w.meta['format'] == 'tf1'
  assert w.model_kwargs == {'width': 1.0, 'upsample': 'tf1', 'eps': 1e-12}
  assert w.meta['num_params'] == 2143552
  x = np.random.default_rng(0).uniform(-1, 1, (1, 64, 96, 3)).astype(
      np.float32)
  ref = tf_v2_reference(weights, x)
  y = run_flax(w.model_kwargs, w.params, x)
  np.testing.assert_allclose(y, ref, atol=2e-4)


def test_pytorch_converts_to_matching_model(tmp_path):
  torch, gen = torch_generator()
  path = tmp_path / 'face_paint_512_v2.pt'
  torch.save(gen.state_dict(), path)
  w = convert.convert(str(path))
  assert w.arch == 'animeganv2'
  x = np.random.default_rng(1).uniform(-1, 1, (1, 64, 64, 3)).astype(
      np.float32)
  with torch.no_grad():
    ref = gen(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
  y = run_flax(w.model_kwargs, w.params, x)
  np.testing.assert_allclose(y, ref.transpose(0, 2, 3, 1), atol=1e-4)


def test_tflite_converts_and_matches_interpreter(shared):
  from animejax.convert import tflite_reader
  path = tflite_path(shared)
  w = convert.convert(path)
  assert w.arch == 'animeganv2' and w.model_kwargs['upsample'] == 'tf1'
  x = photo(shared, 0)
  ref = tflite_reader.TfliteModel(path).run(x)
  # The interpreter runs int8 activations: measured 27.1 dB mean over the 22
  # val photos (22.2-31.0), 28.1 dB on this one; align_corners/half_pixel
  # resizes give 19.8/19.9 dB, so 'tf1' is the export's upsampling.
  assert psnr(run_flax(w.model_kwargs, w.params, x), ref) > 25
