"""SRResNet x4 (SRResNet-MSE), the [paper] / [port] recipe.

  python -m animejax.main --config configs/srresnet_x4.py \
      --workdir runs/srresnet_x4 --config.data.hr_dir=/path/to/HR_images
  # DIV2K through TFDS (downloads ~4 GB; offline it names the archives):
  python -m animejax.main --config configs/srresnet_x4.py \
      --workdir runs/srresnet_x4 --config.data.source=tfds

[paper] Ledig et al. 2017, Sec. 3.2: 16 random 96x96 HR sub-images per
batch, Adam beta1 0.9, lr 1e-4, 10^6 update iterations, pixel MSE.
[port] Lornatang/SRGAN-PyTorch `configs/train/SRResNet_x4-SRGAN_ImageNet.yaml`
and `train_srresnet.py`: the same (MSELoss, Adam(1e-4, (0.9, 0.999))), 64
channels, 16 residual blocks, output clamped to [0, 1] in forward().
Not measured here (a CPU does not train it); the small variant that is:
configs/srresnet_anime.py. Its workdir is the `model.init_from` of
configs/srgan_x4.py.
"""

from animejax.methods import srgan


def get_config(arg: str | None = None):
  del arg
  c = srgan.base_config()     # every number's source is in base_config()
  c.pretrain_steps = 1_000_000  # [paper] 10^6 updates, lr 1e-4
  c.gan_steps = 0
  c.loss.vgg_weight = 0.0     # MSE only: VGG19 is not loaded
  return c
