"""MakeGirlsMoe's conditional DRAGAN ('dragan'), narrow, at 64 px on the
shared tagged faces (hair and eye colours), sized for a 2-core CPU.

  python -m animejax.main --config configs/dragan_anime64.py --workdir W
  python -m animejax.main --config configs/dragan_anime64.py:labels \\
      --workdir W       # label control on 2 cores: hair in ~35 min (below)
  python -m animejax.generate --weights W --num 16 --out grid.png \\
      --labels "blonde hair,blue eyes"

The recipe of configs/dragan_anime128.py ([mgm] Jin et al. 2017 Sec. 4,
[bhp] bhpfelix/PyTorch-Face-Generator-SRResNet-based-ACGAN-DRAGAN, numbers
cited in animejax/methods/dragan.py: Adam 2e-4 (0.5, 0.999), lambda_gp 0.5,
lambda_adv = number of labels, lr x0.1 decay steps) with these deviations
for the CPU: G 32 features and 4 residual blocks (not 64 and 16), D widths
16..256 with one residual block per stage (not 32..1024 with two), batch 16
(not 64), 2 pixel-shuffle stages (64 px, as [a305] ANIME305/Anime-GAN-
tensorflow). Data: ../shared/data/faces/anime64_tagged (18,000 faces, tags
'<c> hair <c> eyes': 9 hair x 10 eye colours in this subset = 19 labels),
1,000 held out.

Metrics: KID / FID on pooled conv5_4 features of a fixed-seed RANDOM VGG19
(offline here: 'kid_randvgg19'; --config.eval.vgg_weights=torchvision with
internet, or --config.eval.features=inception for pytorch-fid's FID
Inception-v3: 'kid_inception' / 'fid_inception'), and the label accuracy of
the D's own label head per group on generated faces ('dhead_acc_hair_fake')
beside the same head on held-out real faces ('..._real', the ceiling). With
--config.eval.attribute_classifier=F (a file of `python -m
animejax.attributes train --config configs/dragan_anime64.py --out F`), an
independent classifier judges the same ('attr_acc_*'). MEASURED says what a
short run reached here.
"""

import os

from animejax.methods import dragan

# ../shared beside the repository (absolute, so a workdir's saved config
# works from any directory), or $ANIMEJAX_SHARED.
SHARED = os.environ.get('ANIMEJAX_SHARED', os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared')))
FACES = os.path.join(SHARED, 'data', 'faces', 'anime64_tagged')

MEASURED = """Measured on a shared 2-core CPU, load 11.2-14.5 (other engineers
training at the same time), 30 Nov 2026:

  timeout -s TERM 900 python -m animejax.main \
      --config configs/dragan_anime64.py --workdir /tmp/dragan64/run
  python -m animejax.main --config configs/dragan_anime64.py \
      --workdir /tmp/dragan64/run --mode eval                     # end
  python -m animejax.main --config configs/dragan_anime64.py \
      --workdir /tmp/dragan64_eval/start --config.num_train_steps=1  # start

934 s wall gave 101 steps (~6 s/step). 100 generated vs 100 held-out faces:
            kid_randvgg19     fid_randvgg19  D-head label accuracy
                                             hair fake/real  eyes fake/real
  step 1:   2.205 +- 0.063    214.9          0.12 / 0.06     0.08 / 0.12
  step 101: 0.403 +- 0.030    16.63          0.13 / 0.29     0.08 / 0.09
(chance: 1/9 hair, 1/10 eyes). KID / FID fall; the D's label head has begun
on real hair colour only, and G's labels are not yet followed: samples are
face-shaped blobs, and `generate --labels` shows no colour control after
101 steps. A useful run needs thousands of steps (a GPU).

Again on 1 Dec 2026 (load 3 at the start, ~20 for most of the run), with
the independent attribute classifier (animejax/attributes.py):

  python -m animejax.attributes train --config configs/dragan_anime64.py \
      --out /tmp/attr64.msgpack --steps 800 --batch_size 32 \
      --widths 16,32,64,128        # 1412 s; held-out: hair 0.954, eyes 0.869
  timeout -s TERM 900 python -m animejax.main \
      --config configs/dragan_anime64.py --workdir /tmp/i18/dragan64
  python -m animejax.main --config configs/dragan_anime64.py \
      --workdir W --mode eval \
      --config.eval.attribute_classifier=/tmp/attr64.msgpack
      # W = the run (step 141) and a --config.num_train_steps=1 run (step 1)

900 s gave 141 steps. 100 generated vs 100 held-out faces:
            kid_randvgg19   fid    classifier acc.      D-head acc.
                                   hair     eyes        hair      eyes
                                   fake/real fake/real  fake/real fake/real
  step 1:   2.205 +- 0.063  214.9  0.16/0.96 0.12/0.86  0.12/0.06 0.08/0.12
  step 141: 0.296 +- 0.024  13.73  0.06/0.96 0.09/0.86  0.12/0.16 0.07/0.12
The classifier reads real held-out hair / eye colours at 0.96 / 0.86
(0.954 / 0.869 on all 1,000), so it can judge; on G's faces it gives chance
(1/9, 1/10) at step 141: the labels are not followed yet, as the grid
(docs/dragan_anime64.png: one row per asked pair, the same noise in every
column) shows.
Third, 1 Dec 2026 (load 5-8), resumed from that step-141 workdir:
  timeout -s TERM 3900 python -m animejax.main \
      --config configs/dragan_anime64.py --workdir W \
      --config.eval_every_steps=500 \
      --config.eval.attribute_classifier=/tmp/attr64.msgpack   # to 531
then a copy of W at step 531 with the 'labels' variant (lambda_adv 1):
  timeout -s TERM 4200 python -m animejax.main \
      --config configs/dragan_anime64.py:labels --workdir W2 \
      --config.eval.attribute_classifier=/tmp/attr64.msgpack   # to 1381
(stopped at step 1381 for lack of CPU time). Classifier / D-head accuracy,
fake / real:
            kid_randvgg19   fid    classifier acc.      D-head acc.
                                   hair     eyes        hair      eyes
  step 500: 0.084 +- 0.016  4.80   0.08/0.96 0.15/0.86  0.10/0.15 0.13/0.08
  step 750: 0.151 +- 0.020  7.63   0.06/0.96 0.03/0.86  0.08/0.25 0.13/0.11
  step 1250: 0.344 +- 0.032 14.06  0.08/0.96 0.11/0.86  0.13/0.19 0.15/0.07
Still chance. The D's label loss on real faces (train/d_cls_real) sat at
0.33-0.35 from step 70 to 1381: the entropy of the tags' marginals (2 of 19
tags on, ~1/9 each: 0.336 nats), i.e. the head predicts the prior and
nothing of the image, with or without lambda_adv = 1 (which also lets KID /
FID drift back up). The same D network trained alone as a classifier
(same BCE, Adam 2e-4, batch 16, no GAN) reaches held-out hair 0.45 / eyes
0.12 after 400 steps: the head can learn, slowly, but in the GAN its trunk
serves the adversarial and penalty terms and its label head also fits
random labels on G's faces. Label control needs a much longer run (the
[bhp] recipe trains tens of thousands of steps on a GPU).

Fourth, 1 Dec 2026, from scratch (load 2-3; 4-5 from step ~4,300 while the
test suite ran), the 'labels' variant as it is now, in 4,800 s:
  python -m animejax.attributes train --config configs/dragan_anime64.py \
      --out /tmp/attr64.msgpack --steps 800 --batch_size 32 \
      --widths 16,32,64,128        # 212 s; held-out: hair 0.954, eyes 0.869
  timeout -s TERM 4800 python -m animejax.main \
      --config configs/dragan_anime64.py:labels --workdir W \
      --config.eval.attribute_classifier=/tmp/attr64.msgpack
  (and a --config.num_train_steps=1 run for step 1)
5,781 steps (~0.63 s/step idle: step 1,000 after 10.5 minutes, 4,000
after 43). 100 generated vs 100 held-out faces (chance 1/9 hair, 1/10 eyes):
            kid_randvgg19   fid    classifier acc.      D-head acc.
                                   hair     eyes        hair      eyes
                                   fake/real fake/real  fake/real fake/real
  step 1:    2.205 +- 0.063 214.9  0.16/0.96 0.12/0.86  0.15/0.20 0.08/0.11
  step 1000: 0.084 +- 0.021  4.64  0.58/0.96 0.17/0.86  0.88/0.75 0.16/0.11
  step 2000: 0.031 +- 0.010  2.26  0.87/0.96 0.38/0.86  0.92/0.88 0.52/0.42
  step 3000: 0.011 +- 0.006  1.37  0.87/0.96 0.65/0.86  0.96/0.90 0.85/0.76
  step 4000: 0.002 +- 0.002  1.30  0.90/0.96 0.92/0.86  0.94/0.95 0.96/0.86
  step 5750: 0.002 +- 0.002  0.99  0.89/0.96 0.88/0.86  0.91/0.95 0.93/0.90
G follows the hair labels from step ~750 and the eye labels from ~2,000;
by step 4,000 the independent classifier reads the asked colours about as
well as it reads real faces (eyes above: G draws them large and clear).
Per asked colour at step 5,781 (20 faces each, the other group cycling;
/tmp script, classifier as above): hair 1.00 for black, blonde, blue,
brown, pink, purple and white, gray 0.60, aqua 0.40; eyes red 1.00, aqua /
green / orange 0.90, blue 0.85, purple 0.80, pink 0.75, yellow 0.65, brown
0.25, black 0.20. Grid (docs/dragan_anime64_labels.jpg: one row per asked
pair, the same 8 noise vectors in every row):
  python docs/make_dragan_labels_figure.py --weights W --num 8 --seed 0 \
      --pairs "blonde hair,blue eyes;black hair,red eyes;pink hair,green \
eyes;blue hair,yellow eyes;white hair,purple eyes;brown hair,aqua eyes" \
      --out docs/dragan_anime64_labels.jpg
What changed it: the label loss. The D trained alone as a classifier for
300 steps (batch 16, Adam 2e-4) reads held-out hair at 0.33 with the
recipe's mean of 19 sigmoid BCEs and 0.59 with the per-group softmax cross
entropy; in a GAN run with lambda_adv 1 and D's label loss on real faces
only but the BCE, d_cls_real stayed at the prior (0.330-0.345) to step 600.
D's label loss on real faces only matters too: the same variant with
--config.d_cls_fake=True (1,631 steps in 1,500 s, load 3-4) let D's head
read G's labels off G's faces from step ~250 (its label loss there 0.8 by
step 1,000, on real faces still 3.4; D-head hair accuracy on G's faces
0.92-0.94 at steps 500-750) while the classifier gave hair 0.10 / 0.17 /
0.23 / 0.31 / 0.50 at steps 500-1,500 (this run: 0.07 / 0.39 / 0.58 /
0.61 / 0.68), and FID 64.5 / 10.5 / 2.8 / 10.5 at 750-1,500.
Samples still show a fine checkerboard and faces in a row look alike."""


def get_config(variant: str = ''):
  """'' = the narrow recipe; 'labels' = label loss weighted up, on real
  faces only in D (see below)."""
  c = dragan.get_config_base()
  c.data.image_dir = os.path.join(FACES, 'images')
  c.data.labels_csv = os.path.join(FACES, 'tags.csv')
  c.data.image_size = 64
  c.model.g_features = 32
  c.model.g_res_blocks = 4
  c.model.d_widths = (16, 32, 64, 128, 256)
  c.model.d_res_blocks = 1
  c.batch_size = 16
  c.train_steps = 20000
  c.optim.lr_decay_steps = 10000
  c.eval.vgg_weights = 'random'     # offline here; 'torchvision' with internet
  c.eval.num_images = 100           # VGG19 at 64 px is the eval's cost on CPU
  c.eval.batch_size = 25
  c.log_every_steps = 10
  c.eval_every_steps = 500
  c.sample_every_steps = 25
  c.checkpoint_every_steps = 25
  if variant == 'labels':
    # Label control on 2 cores. With the recipe (and with lambda_adv 1, or
    # also D's label loss on real faces only) the D's label head stayed at
    # the tags' prior for 600-1,381 steps (MEASURED): a mean of 19 sigmoid
    # BCEs gives the shared trunk ~1/19 of a class loss's gradient. Here the
    # label loss is ACGAN's softmax cross entropy per group (hair, eyes),
    # trained in D on real faces only (StudioGAN's ACGAN), with
    # lambda_adv = 1 (ACGAN's equal weights).
    c.label_loss = 'softmax'
    c.lambda_adv = 1.0
    c.d_cls_fake = False
    c.eval_every_steps = 250
    c.checkpoint_every_steps = 50
    c.sample_every_steps = 50
  elif variant:
    raise ValueError(f'unknown variant {variant!r}; use "" or "labels".')
  return c
