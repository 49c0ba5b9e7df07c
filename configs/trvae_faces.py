"""trVAE real <-> anime faces with the paper's CelebA recipe ([rep] arch 3).

Sources: [rep] theislab/trVAE_reproducibility `scripts/train_DCtrVAE.py`
(data_name 'celeba') and `reptrvae/models/_dctrvae.py`; [trvae]
theislab/trVAE `trvae/models/_utils.py`. Anime-TrVAE applied the same model
to real / cartoon / anime faces at 64x64.

Run (a GPU; 43,261,627 params, batch 1024 of 64x64 images):
  python -m animejax.main --config configs/trvae_faces.py --workdir runs/trvae \
    --config.data.root=/path/to/faces

The default conditions read the face folders of the project's shared data
(`real` = selfie2anime/trainA + real_faces, `anime` = selfie2anime/trainB +
anime64_tagged/images under `data.root`); any 'name=folder,...;name=...'
works, with more than two conditions too (e.g. Anime-TrVAE's real / cartoon /
anime). KID features use ImageNet VGG19 (downloaded once; offline, the error
names the file and where to put it).

[rep] trains up to 10000 epochs with EarlyStopping(patience=150) and
ReduceLROnPlateau(patience=100) on the validation loss; our loop has neither,
so `num_epochs` is the cap to set (`--config.num_epochs=...`).
"""

import ml_collections

from animejax import config_lib


def get_config(arg: str | None = None):
  del arg
  c = config_lib.run_config('trvae')
  c.batch_size = 1024                  # [rep] network.train(batch_size=1024)
  c.num_epochs = 10000                 # [rep] n_epochs=10000 (early-stopped)
  c.log_every_steps = 50
  c.eval_every_steps = 1000
  c.sample_every_steps = 1000
  c.checkpoint_every_steps = 1000
  c.num_sample_images = 8

  c.model = ml_collections.ConfigDict()
  c.model.arch = 'arch3'               # [rep] arch_style = 3 (celeba)
  c.model.z_dim = 60                   # [rep] z_dimension=60
  c.model.dropout_rate = 0.2           # [rep] dropout_rate=0.2
  c.model.output_activation = 'relu'   # [rep] output_activation='relu'

  c.loss = ml_collections.ConfigDict()
  c.loss.alpha = 5e-5                  # [rep] alpha=5e-5 (KL)
  c.loss.beta = 500.0                  # [rep] beta=500 (MMD)
  c.loss.eta = 100.0                   # [rep] eta=100 (reconstruction)

  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.learning_rate = 1e-3     # [rep] learning_rate=0.001
  # Keras Adam defaults (the official code passes only lr).
  c.optimizer.b1 = 0.9
  c.optimizer.b2 = 0.999
  c.optimizer.eps = 1e-7               # Keras backend epsilon()

  c.data = ml_collections.ConfigDict()
  c.data.source = 'folders'            # 'folders' | 'procedural'
  c.data.root = '../shared/data/faces'
  c.data.conditions = ('real=selfie2anime/trainA,real_faces;'
                       'anime=selfie2anime/trainB,anime64_tagged/images')
  c.data.image_size = 64               # [rep] img_width = img_height = 64
  # [rep] train_test_split(adata, 0.80) holds out 20%; we hold out a fixed
  # number per condition (evaluation cost does not grow with the data).
  c.data.num_val_per_condition = 256
  c.data.max_per_condition = 0         # 0 = every image
  c.data.balanced = False              # [rep] shuffles the union
  c.data.crop = 'center'               # 'center' | 'none' (squash)
  # Face cropping before `crop` (animejax.faces): 'condition:kind,...' with
  # kind 'real' (OpenCV Haar frontal face) or 'anime' (lbpcascade_animeface),
  # e.g. 'real:real'; images without a detected face keep the `crop` above.
  # The cascades are downloaded once (offline: the error says where to put
  # them; face_cascade_dir overrides the cache folder).
  c.data.face_crop = ''
  c.data.face_margin = 0.25
  c.data.face_cascade_dir = ''
  c.data.procedural_epoch_size = 256   # source='procedural' only
  # source='celeb_a' (the paper's task): [rep] attribute='Smiling'; conditions
  # 'not_Smiling' / 'Smiling' (set eval.source / eval.target to them).
  c.data.celeba_attribute = 'Smiling'
  c.data.tfds_data_dir = ''            # '' = TFDS default

  c.eval = ml_collections.ConfigDict()
  c.eval.source = 'real'
  c.eval.target = 'anime'
  c.eval.num_kid_images = 256
  # The independent real/anime classifier (animejax.domain_classifier): its
  # held-out accuracy (eval/cls_acc) and the share of source -> target
  # transfers it calls the target (eval/cls_target_share). Trained once per
  # run on up to classifier_max_per_condition training images per condition;
  # with classifier_file set, loaded from / saved to that file instead.
  c.eval.classifier = True
  c.eval.classifier_steps = 400
  c.eval.classifier_batch_size = 64
  c.eval.classifier_max_per_condition = 2048
  c.eval.classifier_file = ''

  c.vgg = ml_collections.ConfigDict()  # KID features (animejax.evaluation)
  c.vgg.weights = 'torchvision'
  c.vgg.preprocess = 'auto'
  c.vgg.cache_dir = ''
  return c
