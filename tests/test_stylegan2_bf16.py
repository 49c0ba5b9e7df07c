"""bfloat16 mixed precision of StyleGAN2 (config.dtype='bfloat16').

The float32 networks are the reference here (tests/test_stylegan2.py holds
them to [ada]'s torch code): the bf16 G and D must stay close to them,
compute exactly the blocks [ada] runs in fp16 (num_fp16_res highest
resolutions) in bf16 and everything else in float32, and a bf16 train step
must keep every parameter, Adam moment, G_ema and buffer in float32.

Tolerance: bf16 keeps 8 significant bits, so every cast rounds by up to
2^-9 (0.2 %) relative. At 16 px the image passes through up to six bf16
convs (b8 and b16: conv0, conv1, torgb; D: fromrgb, conv0, conv1, skip),
each rounding its activations and weights; the roundings add up to a
relative RMS error of a few tenths of a percent (measured over three seeds
here: 0.2-0.7 % for G, 0.1-0.8 % for D's logits). We allow 2 % RMS, about
2.5 times the worst seen, and ask for > 0.01 % so that a path left in
float32 (error 0) fails too.
"""

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # `configs` is a folder of the repo, not installed
  sys.path.insert(0, REPO)

from animejax import config_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax.methods import stylegan2 as sg2  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax.models import stylegan2 as nets  # pylint: disable=g-import-not-at-top,wrong-import-position

RES = 16
NET = dict(img_resolution=RES, channel_base=256, channel_max=32)  # 32/32/16
RMS_TOL = 2e-2   # relative RMS error allowed (module docstring)
RMS_MIN = 1e-4   # below this the bf16 path did not run


def _rel_rms(a, b):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  return float(np.sqrt(np.mean((a - b) ** 2) / np.mean(b ** 2)))


def _dtypes(intermediates, leaf='__call__'):
  """{'b16/conv0': dtype, ...} of every captured module output."""
  out = {}
  for path, v in jax.tree_util.tree_flatten_with_path(intermediates)[0]:
    keys = [p.key for p in path if hasattr(p, 'key')]
    if leaf in keys:
      out['/'.join(k for k in keys if k != leaf)] = v.dtype
  return out


def _init_key():
  # The method's cheap PRNG for init (sg2.fast_key): threefry init of every
  # parameter compiles for 10 s here.
  return sg2.fast_key(jax.random.key(0), 'unsafe_rbg')


def _generator(**kw):
  return nets.Generator(z_dim=16, w_dim=16, mapping_layers=2, **NET, **kw)


def _discriminator(**kw):
  return nets.Discriminator(mbstd_group_size=2, **NET, **kw)


def test_low_precision_blocks_are_adas_fp16_blocks():
  # [ada] train.py num_fp16_res=4: paper256 runs b32..b256 in fp16, a 1024 px
  # net b128..b1024; never below 8 px; 0 = none (2 R is above every block).
  assert nets.low_precision_resolution(256, 4) == 32
  assert nets.low_precision_resolution(1024, 4) == 128
  assert nets.low_precision_resolution(16, 4) == 8
  assert nets.low_precision_resolution(32, 0) == 64


def test_bf16_generator_close_to_float32_and_casts_its_top_blocks():
  g32 = _generator()
  z = jax.random.normal(jax.random.key(1), (4, 16))
  variables = jax.jit(g32.init)(_init_key(), z)
  ws = jax.jit(lambda v, z: g32.apply(v, z, method='map'))(variables, z)

  def synth(gen):
    return jax.jit(lambda v, w: gen.apply(
        v, w, 'const', method='synthesize', capture_intermediates=True,
        mutable=['intermediates']))(variables, ws)

  want, _ = synth(g32)
  # num_bf16_res=1: only b16 in bf16 (low_precision_resolution = 16).
  got, inter = synth(_generator(dtype=jnp.bfloat16, num_bf16_res=1))
  dts = _dtypes(inter['intermediates']['synthesis'])
  assert got.dtype == jnp.float32  # the skip-connected image stays float32
  for name in ('b16/conv0', 'b16/conv1', 'b16/torgb'):
    assert dts[name] == jnp.bfloat16, name
  for name in ('b4/conv1', 'b4/torgb', 'b8/conv0', 'b8/conv1', 'b8/torgb',
               'b16/conv0/affine', 'b16/torgb/affine'):  # styles stay f32
    assert dts[name] == jnp.float32, name
  assert RMS_MIN < _rel_rms(got, want) < RMS_TOL
  # The default num_bf16_res=4 takes every block from 8 px up ([ada]).
  got4, inter = synth(_generator(dtype=jnp.bfloat16))
  dts = _dtypes(inter['intermediates']['synthesis'])
  assert dts['b8/conv0'] == dts['b16/torgb'] == jnp.bfloat16
  assert dts['b4/conv1'] == jnp.float32
  assert RMS_MIN < _rel_rms(got4, want) < RMS_TOL
  # Mapping (ws) is float32 and bit-identical whatever the synthesis dtype.
  ws16 = jax.jit(lambda v, z: _generator(dtype=jnp.bfloat16).apply(
      v, z, method='map'))(variables, z)
  assert ws16.dtype == jnp.float32
  np.testing.assert_array_equal(ws16, ws)


def test_bf16_discriminator_close_to_float32_and_keeps_its_epilogue():
  d32 = _discriminator()
  img = jax.random.uniform(jax.random.key(2), (4, RES, RES, 3), jnp.float32,
                           -1, 1)
  variables = jax.jit(d32.init)(_init_key(), img)

  def run(d):
    return jax.jit(lambda v, x: d.apply(
        v, x, capture_intermediates=True, mutable=['intermediates']))(
            variables, img)

  want, _ = run(d32)
  got, inter = run(_discriminator(dtype=jnp.bfloat16, num_bf16_res=1))
  dts = _dtypes(inter['intermediates'])
  assert got.dtype == jnp.float32
  for name in ('b16/fromrgb', 'b16/conv0', 'b16/conv1', 'b16/skip'):
    assert dts[name] == jnp.bfloat16, name
  for name in ('b8/conv0', 'b8/skip', 'b4/conv', 'b4/fc', 'b4/out'):
    assert dts[name] == jnp.float32, name
  assert RMS_MIN < _rel_rms(got, want) < RMS_TOL
  got4, inter = run(_discriminator(dtype=jnp.bfloat16))  # b16 and b8
  dts = _dtypes(inter['intermediates'])
  assert dts['b8/conv1'] == jnp.bfloat16 and dts['b4/conv'] == jnp.float32
  assert RMS_MIN < _rel_rms(got4, want) < RMS_TOL


def test_float32_path_is_unchanged():
  z = jax.random.normal(jax.random.key(1), (2, 16))
  img = jax.random.uniform(jax.random.key(2), (2, RES, RES, 3))
  g, d = _generator(), _discriminator()
  g_vars = jax.eval_shape(g.init, _init_key(), z)  # programs only: shapes
  d_vars = jax.eval_shape(d.init, _init_key(), img)
  # The default dtype is float32, and the float32 programs hold no bf16 op.
  assert g.dtype == d.dtype == jnp.float32
  assert 'bf16' not in str(jax.make_jaxpr(g.apply)(g_vars, z))
  assert 'bf16' not in str(jax.make_jaxpr(d.apply)(d_vars, img))
  # bf16 in no block (num_bf16_res=0) lowers to the very float32 program
  # (hence bit-identical outputs), and so does an explicit float32.
  hlo = lambda net, v, x: jax.jit(net.apply).lower(v, x).as_text()
  none = dict(dtype=jnp.bfloat16, num_bf16_res=0)
  for kw in (none, dict(dtype=jnp.float32)):
    assert hlo(_generator(**kw), g_vars, z) == hlo(g, g_vars, z)
    assert hlo(_discriminator(**kw), d_vars, img) == hlo(d, d_vars, img)
  # ... and a bf16 block changes it (the comparison can fail).
  assert hlo(_generator(dtype=jnp.bfloat16), g_vars, z) != hlo(g, g_vars, z)
  # The method: default config and explicit 'float32' build float32 nets.
  explicit = sg2.smoke_config()
  explicit.dtype = 'float32'
  for c in (sg2.smoke_config(), explicit):
    method = sg2.create(c)
    assert method.generator.dtype == method.discriminator.dtype == jnp.float32


def test_config_dtype_is_validated():
  c = sg2.smoke_config()
  c.dtype = 'bfloat16'
  config_lib.validate(c, device_count=1, process_count=1)  # accepted
  method = sg2.create(c)
  assert method.generator.dtype == method.discriminator.dtype == jnp.bfloat16
  assert method.generator.num_bf16_res == 4  # [ada] num_fp16_res=4
  c.dtype = 'float16'
  with pytest.raises(config_lib.ConfigError) as err:
    config_lib.validate(c, device_count=1, process_count=1)
  msg = str(err.value)
  assert "config.dtype='float16' is not one of ('float32', 'bfloat16')" in msg
  with pytest.raises(ValueError, match='float16'):
    sg2.create(c)
  c.dtype = 'bfloat16'
  c.model.num_bf16_res = -1
  assert any('num_bf16_res' in e for e in sg2.config_errors(c))


def _bf16_step(kind, **loss):
  c = sg2.smoke_config()  # 8 px: b8 (G and D) in bf16, the rest float32
  c.dtype = 'bfloat16'
  for k, v in loss.items():
    c.loss[k] = v
  config_lib.validate(c, device_count=1, process_count=1)
  method = sg2.create(c)
  state = jax.jit(method.init)(jax.random.key(0))
  batch = next(iter(method.input_pipeline(0).train_iter))
  new, metrics = jax.jit(method.train_step, static_argnums=(4,))(
      state, {}, batch, jax.random.key(3), kind)
  return state, new, jax.device_get(metrics)


def _check_float32_state(old, new, metrics):
  assert all(np.isfinite(v) for v in metrics.values()), metrics
  for part in ('g_params', 'g_ema', 'd_params', 'g_buffers', 'g_opt',
               'd_opt', 'pl_mean'):
    for path, leaf in jax.tree_util.tree_flatten_with_path(
        getattr(new, part))[0]:
      if jnp.issubdtype(leaf.dtype, jnp.floating):
        assert leaf.dtype == jnp.float32, (part, path, leaf.dtype)
        assert np.all(np.isfinite(leaf)), (part, path)
  for part in ('g_params', 'd_params'):  # both nets took a step
    assert any(not np.array_equal(a, b) for a, b in zip(
        jax.tree.leaves(getattr(new, part)),
        jax.tree.leaves(getattr(old, part)))), part


@pytest.mark.slow  # one step compile, ~30 s on 2 cores
def test_bf16_main_step_keeps_float32_state():
  old, new, metrics = _bf16_step('main')
  _check_float32_state(old, new, metrics)
  # Untrained D: logits near 0, so both losses near 2 log 2 / log 2.
  assert 0.3 < metrics['loss/g'] < 1.5 and 0.6 < metrics['loss/d'] < 3.0


@pytest.mark.slow  # double backward through bf16 convs: ~60 s on 2 cores
def test_bf16_regularised_step_keeps_float32_state():
  old, new, metrics = _bf16_step('main_pl_r1', pl_weight=2.0, r1_gamma=1.0,
                                 style_mixing_prob=0.9)
  _check_float32_state(old, new, metrics)
  assert metrics['reg/pl_penalty'] > 0 and metrics['reg/r1_penalty'] > 0
  assert float(new.pl_mean) == pytest.approx(metrics['reg/pl_mean'])
