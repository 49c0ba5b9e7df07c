"""Config validation, derived schedule and the command line's key checks."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # `configs` is a folder of the repo, not installed
  sys.path.insert(0, REPO)

from animejax import config_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax.methods.animegan import config as animegan_config  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax import sweep  # pylint: disable=g-import-not-at-top,wrong-import-position
from configs import default  # pylint: disable=g-import-not-at-top,wrong-import-position
from configs import demo  # pylint: disable=g-import-not-at-top,wrong-import-position


def _cfg():
  return demo.get_config()


def test_shipped_configs_validate():
  for name in ('default', 'demo', 'shinkai', 'hayao', 'paprika',
               'animeganv1', 'cartoongan'):
    module = __import__(f'configs.{name}', fromlist=['get_config'])
    config_lib.validate(module.get_config(), device_count=1, process_count=1)


@pytest.mark.parametrize('key,value', [
    ('generator.name', 'animeganv9'),
    ('loss.adv_type', 'wgan'),
    ('dtype', 'float16'),
    ('data.source', 'folder'),
    ('batch_size', 0),
    ('data.image_size', 66),
    ('log_every_steps', -1),
    ('init_epochs', 999),               # more than num_epochs
])
def test_bad_values_name_the_key(key, value):
  config = sweep.apply_overrides(_cfg(), {key: value})
  with pytest.raises(config_lib.ConfigError, match=f'config.{key}='):
    config_lib.validate(config, device_count=1, process_count=1)


def test_choice_error_suggests_close_name():
  config = _cfg()
  config.generator.name = 'animegan2'
  with pytest.raises(config_lib.ConfigError, match="Did you mean 'animeganv2'"):
    config_lib.validate(config, device_count=1, process_count=1)


def test_batch_must_divide_devices():
  config = _cfg()
  config.batch_size = 6
  with pytest.raises(config_lib.ConfigError, match='batch_size=6.*4 devices'):
    config_lib.validate(config, device_count=4, process_count=1)
  config.batch_size = 8
  config_lib.validate(config, device_count=4, process_count=2)


def test_image_size_multiple_of_generator():
  config = _cfg()
  config.data.image_size = 62
  with pytest.raises(config_lib.ConfigError, match='multiple of 4'):
    config_lib.validate(config, device_count=1, process_count=1)


def test_derive_from_epochs():
  config = default.get_config()  # [v2]: 6656 photos, batch 12
  s = animegan_config.derive(config, 6656)
  assert s.steps_per_epoch == 6656 // 12 == 554
  assert s.init_steps == 10 * 554
  assert s.total_steps == 101 * 554
  assert s.gan_steps == 91 * 554
  assert s.phase(10 * 554 - 1) == 'init' and s.phase(10 * 554) == 'gan'


def test_derive_follows_overrides():
  config = default.get_config()
  config.batch_size = 4
  assert animegan_config.derive(config, 6656).steps_per_epoch == 1664
  config.steps_per_epoch = 7
  s = animegan_config.derive(config, 6656)
  assert (s.steps_per_epoch, s.init_steps, s.total_steps) == (7, 70, 707)


def test_derive_num_train_steps_keeps_init_share():
  config = default.get_config()
  config.num_train_steps = 202
  s = animegan_config.derive(config, 6656)
  assert s.total_steps == 202
  assert s.init_steps == round(202 * 10 / 101) == 20
  config.init_epochs = 0
  assert animegan_config.derive(config, 6656).init_steps == 0


def test_derive_rejects_empty_epoch():
  config = default.get_config()
  with pytest.raises(config_lib.ConfigError, match='batch_size=12'):
    animegan_config.derive(config, 5)


def _main(*args):
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  return subprocess.run(
      [sys.executable, '-m', 'animejax.main', '--config',
       os.path.join(REPO, 'configs', 'demo.py'), '--workdir',
       os.path.join('/nonexistent', 'never_created'), *args],
      cwd='/', env=env, capture_output=True, text=True, timeout=120)


def test_cli_unknown_key_fails_before_compiling():
  r = _main('--config.data.imag_size=64')
  assert r.returncode != 0
  assert 'data.imag_size' in r.stderr
  assert "data.image_size" in r.stderr  # the suggestion
  assert 'Traceback' not in r.stderr
  assert not os.path.exists('/nonexistent')


def test_cli_wrong_type_and_bad_value():
  r = _main('--config.batch_size=abc')
  assert r.returncode != 0 and 'config.batch_size' in r.stderr
  assert 'Traceback' not in r.stderr
  r = _main('--config.loss.adv_type=wgan')
  assert r.returncode != 0 and 'config.loss.adv_type' in r.stderr
  assert 'Traceback' not in r.stderr


def test_method_base_configs_need_no_checkout(tmp_path):
  # An installed animejax has no `configs` package beside it: the methods'
  # base configs (and `convert`, which builds one for a .pkl) must not
  # import it. Run from a folder where `configs` can't be imported.
  code = (
      'import importlib.util as u\n'
      'assert u.find_spec("configs") is None, "configs importable"\n'
      'from animejax import config_lib\n'
      'from animejax.methods import dcgan, dragan, srgan, stylegan2\n'
      'for c in (dcgan.get_config_base(), dragan.get_config_base(),\n'
      '          srgan.base_config(), stylegan2.get_config_base()):\n'
      '  assert set(config_lib.run_config(c.method)) <= set(c), c.method\n'
      'print("ok")\n')
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  env.pop('PYTHONPATH', None)
  r = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=env,
                     capture_output=True, text=True, timeout=120)
  assert r.returncode == 0, r.stderr[-2000:]
  assert r.stdout.strip() == 'ok'


def _config_specs():
  """Every configs/<name>.py and each of its variants ('name' or 'name:v';
  a variant is a `variant == '<v>'` branch of its get_config)."""
  import re  # pylint: disable=g-import-not-at-top
  folder = os.path.join(REPO, 'configs')
  for fname in sorted(os.listdir(folder)):
    if not fname.endswith('.py') or fname.startswith('_'):
      continue
    name = fname[:-3]
    with open(os.path.join(folder, fname)) as f:
      source = f.read()
    yield name
    for v in sorted(set(re.findall(r"variant == '(\w+)'", source))):
      yield f'{name}:{v}'


@pytest.mark.parametrize('spec', list(_config_specs()))
def test_every_config_and_variant_validates(spec, tmp_path):
  name, _, variant = spec.partition(':')
  module = __import__(f'configs.{name}', fromlist=['get_config'])
  config = module.get_config(variant) if variant else module.get_config()
  # The recipes for the user's own data (srgan_x4, ...) leave the data
  # folder to the command line, as their docstrings say.
  if config.get('data', {}).get('hr_dir', None) == '':
    config.data.hr_dir = str(tmp_path)
  config_lib.validate(config, device_count=1, process_count=1)
