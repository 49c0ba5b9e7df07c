"""The anime-image-development DCGAN ('dcgan') on the shared 64 px faces
downscaled to 32 px.

  python -m animejax.main --config configs/dcgan_anime32.py --workdir W

Recipe ([aid] Team7-Code/anime-image-development `Image Generator/
image_generator/dcgan_model.py`, numbers cited in animejax/methods/dcgan.py):
100-d U(-1, 1) noise, G Dense 16x16x256 -> PReLU -> BN(0.5) -> x2 -> 5x5
transposed convs 128/64/32 (+PReLU+BN) -> 3 + tanh; D four 5x5 stride-2 convs
32/64/128/256 + PReLU + Dropout 0.2; Adam 2e-5 (D) / 1e-5 (G), beta1 0.5;
batch 32 (16 real + 16 fake per D update), 10 D iterations per G update,
real labels 0.9. Data: ../shared/data/faces/anime64_tagged/images (18,000
NTU MLDS faces; [aid] trained on < 14,000 Getchu faces read at 32 px), the
labels ignored, 1,000 held out for the metrics.

Metrics: KID / FID on pooled VGG19 conv5_4 features, N = 500 generated vs
500 held-out faces. Offline (no ImageNet VGG19 here) the config uses a
fixed-seed RANDOM VGG19, so the metrics are named 'kid_randvgg19' /
'fid_randvgg19': they compare checkpoints of this run, nothing else. With
internet pass --config.eval.vgg_weights=torchvision, or
--config.eval.features=inception for pytorch-fid's FID Inception-v3
('kid_inception' / 'fid_inception', the numbers papers report; weights
pt_inception-2015-12-05-6726825d.pth, see animejax/models/inception_fid.py).
Data: --config.data.source=tfds --config.data.manual_dir=M reads the
Kaggle/Getchu set (63,632 faces; archive.zip in M; animejax/data/
tfds_getchu.py) instead of the shared folder.

What was measured here: see MEASURED below.
"""

import os

from animejax.methods import dcgan

# ../shared beside the repository (absolute, so a workdir's saved config
# works from any directory), or $ANIMEJAX_SHARED.
SHARED = os.environ.get('ANIMEJAX_SHARED', os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared')))
FACES = os.path.join(SHARED, 'data', 'faces', 'anime64_tagged')

MEASURED = """Measured on a shared 2-core CPU, load 10.2-15.9 (other engineers
training at the same time), variant 'cpu', 30 Nov 2026:

  timeout -s TERM 960 python -m animejax.main \
      --config configs/dcgan_anime32.py:cpu --workdir /tmp/dcgan32/run
  python -m animejax.main --config configs/dcgan_anime32.py:cpu \
      --workdir /tmp/dcgan32/run --mode eval                    # end
  python -m animejax.main --config configs/dcgan_anime32.py:cpu \
      --workdir /tmp/dcgan32_eval/start --config.num_train_steps=1  # start

1037 s wall (about 140 s of it compiling) gave 71 steps (~13 s/step; the
full-width recipe took 64 s/step here). KID / FID on 250 generated vs 250
held-out faces, random-VGG19 conv5_4 features:
  step 1:  kid_randvgg19 0.01607 +- 0.00047, fid_randvgg19 2.781
  step 71: kid_randvgg19 0.00932 +- 0.00055, fid_randvgg19 1.557
Both fall, but the step-50 samples are bright blobs on dark ground, NOT
faces: 71 steps are far too few at this load (the 15-minute face target
was not met here; an idle machine runs ~6x more steps).
Resumed in a copy of that workdir (same command, --workdir
/tmp/dcgan32_more, timeout 480 s) when the load fell to ~2-3.5: steps
72-291 at ~1.5-2.5 s/step; step 150: kid_randvgg19 0.00256 +- 0.00024,
fid_randvgg19 0.536; rough faces (hair framing a face) in the step-225
samples, i.e. after ~25 minutes of training in all.

Again on an idle machine (load 0.6 at the start, 1-2 throughout; 1 Dec
2026), the first command with `timeout -s TERM 900` (15 minutes, compile
and three evals included): 511 steps (~1.5 s/step), then the two evals:
  step 1:   kid_randvgg19 0.01607 +- 0.00047, fid_randvgg19 2.781
  step 150: kid_randvgg19 0.00256 +- 0.00024, fid_randvgg19 0.536
  step 300: kid_randvgg19 0.00046 +- 0.00010, fid_randvgg19 0.186
  step 511: kid_randvgg19 0.00039 +- 0.00007, fid_randvgg19 0.189
(steps 1 and 150 equal the first run's to the digit: the run is
deterministic.) Faces from step ~300 (8.5 minutes in); at step 511 they
are faces with hair, eyes and mouth, but of few hair colours (mostly dark
or purple; partial mode collapse):
  python -m animejax.generate --weights /tmp/s26/dcgan32 --num 64 \
      --out docs/dcgan_anime32.png --seed 0"""


def get_config(variant: str = ''):
  """'' = [aid]'s recipe; 'cpu' = the 2-core variant (configs/...py:cpu)."""
  c = dcgan.get_config_base()
  c.data.image_dir = os.path.join(FACES, 'images')
  c.data.image_size = 32            # [aid] readImagesShort(scale_size=32)
  c.eval.num_images = 500
  c.eval.vgg_weights = 'random'     # offline here; 'torchvision' with internet
  c.train_steps = 10000
  c.log_every_steps = 10
  c.eval_every_steps = 1000
  c.sample_every_steps = 50
  c.checkpoint_every_steps = 100
  if variant == 'cpu':
    # The recipe's step (160 fakes + 32 G updates at full width) took 64 s
    # on the shared 2-core CPU (load 11): a quarter of the widths (1/16 of
    # the FLOPs), 2 D iterations per G update instead of 10, and the DCGAN
    # paper's lr 2e-4 (Radford et al. 2016, Sec. 4) for both nets instead
    # of [aid]'s 2e-5 / 1e-5, so faces appear within minutes.
    c.model.g_widths = (64, 32, 16, 8)
    c.model.d_widths = (32, 64, 128, 256)
    c.d_steps = 2
    c.optim.d_lr = 2e-4
    c.optim.g_lr = 2e-4
    c.eval.num_images = 250
    c.eval_every_steps = 150
    c.sample_every_steps = 25
    c.checkpoint_every_steps = 25
  elif variant:
    raise ValueError(f'unknown variant {variant!r}; use "" or "cpu".')
  return c
