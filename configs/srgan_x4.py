"""SRGAN x4 from a trained SRResNet, the [paper] / [port] recipe.

  python -m animejax.main --config configs/srgan_x4.py \
      --workdir runs/srgan_x4 --config.data.hr_dir=/path/to/HR_images \
      --config.model.init_from=runs/srresnet_x4
  # or a [port] checkpoint: --config.model.init_from=SRResNet_x4-*.pth.tar

[paper] Ledig et al. 2017, Sec. 3.2: generator initialised with the trained
SRResNet-MSE; 10^5 updates at lr 1e-4 and 10^5 at 1e-5; Adam beta1 0.9;
batch 16 of 96x96 HR crops; perceptual loss = content + 10^-3 adversarial,
the VGG54 content loss on features rescaled by 1/12.75.
[port] Lornatang/SRGAN-PyTorch `configs/train/SRGAN_x4-SRGAN_ImageNet.yaml`
and `train_srgan.py`: pixel (MSE) weight 1.0 + content (VGG19 features.35,
torchvision ImageNet weights, normalised input) weight 1.0 + adversarial
(BCEWithLogits) weight 0.001; MultiStepLR x0.1 at half the epochs.
Used here: [port]'s sum MSE + content + 1e-3 adversarial, with [paper]'s
1/12.75 feature scaling inside the content term (c.loss.vgg_feature_scale;
set it to 1.0 for [port]'s exact weights). Needs the torchvision VGG19
(downloaded once; offline, the error names the file and the cache folder).
"""

from animejax.methods import srgan


def get_config(arg: str | None = None):
  del arg
  c = srgan.base_config()     # every number's source is in base_config()
  c.pretrain_steps = 0
  c.gan_steps = 200_000       # [paper] 10^5 at 1e-4 + 10^5 at 1e-5
  c.optim.g_lr = 1e-4
  c.optim.d_lr = 1e-4
  c.optim.lr_decay_fraction = 0.5
  return c
