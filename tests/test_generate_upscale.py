"""`generate --upscale` (the seed's DCGAN 32 px -> SRGAN x4 face pipeline)
and what `upscale.load_upscaler` refuses.

Workdirs are written directly (config + one checkpoint of an initialised
state, as the run loop writes them), not trained: the tests are about the
chain, not the weights.

- `generate --upscale SR` writes exactly the pixels of `generate` followed
  by `upscale --weights SR` on its folder, and (with an SR net that starts
  as bicubic up-sampling, the seed variant's tanh/nearest layout) those are
  the bicubic x4 up-sampling of the 8-bit generated faces.
- A dcgan workdir, an AnimeGAN weights file, an AnimeGAN-like torch state
  dict and a non-weights file given as SR weights raise ValueError naming
  the file and what to pass (and `generate --upscale` exits 2 with it).
- The SRGAN stage's VGG19 content loss offline fails with a message naming
  the torchvision file and where to put it (nothing is downloaded).
"""

import os
import sys
import urllib.error
import urllib.request

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

from animejax import checkpointing  # pylint: disable=wrong-import-position
from animejax import generate  # pylint: disable=wrong-import-position
from animejax import upscale  # pylint: disable=wrong-import-position
from animejax import weights_io  # pylint: disable=wrong-import-position
from animejax.methods import dcgan  # pylint: disable=wrong-import-position
from animejax.methods import srgan  # pylint: disable=wrong-import-position
from workdirs import initialised_workdir  # pylint: disable=wrong-import-position


@pytest.fixture(scope='module')
def dcgan_workdir(tmp_path_factory):
  config = dcgan.smoke_config()  # 16 px faces, tiny widths
  return initialised_workdir(config, str(tmp_path_factory.mktemp('dcgan')))


@pytest.fixture(scope='module')
def sr_workdir(tmp_path_factory):
  """The seed variant's layout (nearest up-sampling, tanh output, Keras
  BN/PReLU) at a tiny width, with the bicubic global skip and its last conv
  at zero (as `init` makes it): the net IS bicubic x4 up-sampling."""
  config = srgan.smoke_config()
  config.model.upsample = 'nearest'
  config.model.out_activation = 'tanh'
  config.model.prelu = 'channel'
  config.model.conv_bias_before_bn = True
  config.model.residual = 'bicubic'
  config.loss.vgg_weight = 0.0  # no VGG19 to build
  return initialised_workdir(config, str(tmp_path_factory.mktemp('sr')),
                              zero=('conv3',))


def _folder(path):
  return [np.asarray(Image.open(os.path.join(path, f)))
          for f in sorted(os.listdir(path))]


def test_generate_upscale_equals_generate_then_upscale(dcgan_workdir,
                                                      sr_workdir, tmp_path):
  plain, chained, ups = (str(tmp_path / n) for n in ('plain', 'chained',
                                                     'ups'))
  args = ['--weights', dcgan_workdir, '--num', '3', '--seed', '5']
  assert generate.main(args + ['--out', plain]) == 0
  assert generate.main(args + ['--out', chained, '--upscale',
                               sr_workdir]) == 0
  assert upscale.main(['--weights', sr_workdir, '--input', plain,
                       '--output', ups]) == 0
  small, big, via_cli = _folder(plain), _folder(chained), _folder(ups)
  assert [im.shape for im in small] == [(16, 16, 3)] * 3
  assert [im.shape for im in big] == [(64, 64, 3)] * 3
  for a, b in zip(big, via_cli):
    np.testing.assert_array_equal(a, b)
  # The SR net starts as bicubic: the 128 px faces are the bicubic x4
  # up-sampling of the 8-bit 32 px ones (computed here with jax.image).
  for lr, sr in zip(small, big):
    want = jax.image.resize(jnp.asarray(lr, jnp.float32) / 255.0,
                            (64, 64, 3), 'bicubic')
    want = np.clip(np.round(np.asarray(want) * 255.0), 0, 255)
    assert np.abs(sr.astype(int) - want).max() <= 1
  assert not np.array_equal(big[0], big[1])  # different noise, faces
  # A grid: 2 x 2 cells of 64 px with 2 px padding (3 images, ceil(sqrt)).
  grid = str(tmp_path / 'grid.png')
  assert generate.main(args + ['--out', grid, '--upscale', sr_workdir]) == 0
  cells = np.asarray(Image.open(grid))
  assert cells.shape == (1 * 66 + 2, 2 * 66 + 2, 3)  # rows = 3 // 2
  np.testing.assert_array_equal(cells[2:66, 2:66], big[0])
  np.testing.assert_array_equal(cells[2:66, 68:132], big[1])


def test_generate_upscale_with_bad_weights_exits_2(dcgan_workdir, tmp_path,
                                                   capsys):
  out = str(tmp_path / 'x')
  rc = generate.main(['--weights', dcgan_workdir, '--num', '2', '--out', out,
                      '--upscale', dcgan_workdir])
  err = capsys.readouterr().err
  assert rc == 2 and not os.path.exists(out)
  assert '--upscale' in err and repr(dcgan_workdir) in err
  assert "'dcgan' method" in err and 'Pass an SRResNet' in err
  rc = generate.main(['--weights', dcgan_workdir, '--out', out, '--upscale',
                      str(tmp_path / 'missing')])
  assert rc == 2 and 'no file or folder' in capsys.readouterr().err


def _animegan_weights(path: str) -> str:
  weights_io.save(path, weights_io.GeneratorWeights(
      arch='animeganv2', model_kwargs={},
      params={'params': {'conv': {'kernel': np.zeros((3, 3, 3, 4),
                                                      np.float32)}}},
      meta={'style': 'hayao'}))
  return path


def test_load_upscaler_refuses_other_architectures(dcgan_workdir, tmp_path):
  cases = [(dcgan_workdir, "training workdir of the 'dcgan' method"),
           (_animegan_weights(str(tmp_path / 'hayao.msgpack')),
            "holds a 'animeganv2' generator")]
  onnx = str(tmp_path / 'AnimeGANv3_tiny_Cute.onnx')
  with open(onnx, 'wb') as f:
    f.write(b'\x08\x07\x12\x07pytorch not msgpack')
  cases.append((onnx, 'neither a training workdir, an animejax weights file'))
  for path, what in cases:
    with pytest.raises(ValueError) as e:
      upscale.load_upscaler(path, 'latest')
    msg = str(e.value)
    assert repr(path) in msg and what in msg, msg
    # ... and says what to pass instead.
    assert 'configs/srresnet_' in msg and 'SRResNet_x4-*.pth.tar' in msg


def test_load_upscaler_refuses_other_torch_networks(tmp_path):
  torch = pytest.importorskip('torch')
  # An AnimeGANv2 generator's keys (bryandlee/animegan2-pytorch model.py).
  path = str(tmp_path / 'face_paint_512_v2.pt')
  torch.save({'block_a.0.conv.weight': torch.zeros(32, 3, 7, 7),
              'block_a.0.norm.weight': torch.ones(32)}, path)
  with pytest.raises(ValueError, match='PyTorch state dict of another '
                     r'network .*block_a\.0\.conv\.weight') as e:
    upscale.load_upscaler(path)
  assert repr(path) in str(e.value) and 'Pass an SRResNet' in str(e.value)
  bad = str(tmp_path / 'truncated.pth.tar')
  with open(bad, 'wb') as f:
    f.write(b'PK\x03\x04 truncated')
  with pytest.raises(ValueError, match='Pass an SRResNet'):
    upscale.load_upscaler(bad)


def test_vgg_content_loss_offline_names_the_file(tmp_path, monkeypatch):
  def offline(*args, **kwargs):
    raise urllib.error.URLError('no network (test)')
  monkeypatch.setattr(urllib.request, 'urlopen', offline)
  config = srgan.smoke_config()
  config.vgg.weights = 'torchvision'  # srgan_x4's [port] ImageNet VGG19
  config.vgg.cache_dir = str(tmp_path / 'cache')
  with pytest.raises(FileNotFoundError) as e:
    srgan.create(config)
  msg = str(e.value)
  assert 'conv1_2 content loss' in msg  # which loss needs it
  assert os.path.join(str(tmp_path / 'cache'), 'vgg19-dcbb9e9d.pth') in msg
  assert 'https://download.pytorch.org/models/vgg19-dcbb9e9d.pth' in msg
  assert '--config.loss.vgg_weight=0' in msg
  # The MSE-only configs never need it.
  config.loss.vgg_weight = 0.0
  assert srgan.create(config).vgg is None
