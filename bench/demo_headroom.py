"""How far the demo task lets a generator go: ceilings on the procedural pairs.

  python -m bench.demo_headroom                   # oracles only, seconds
  python -m bench.demo_headroom --workdir runs/demo --supervised_steps 512

The offline demo scores G(photo) against the ground-truth anime rendering of
the same scene (PSNR over held-out pairs). This prints what that number can
reach, so a demo result can be read against more than the identity:

* oracles that peek at the targets: the photo with the target's luma or
  chroma (YUV), with the target's outline pixels, and through the best global
  affine colour map (least squares over all validation pixels);
* with --workdir: the G of that training run (its latest checkpoint), and
  its PSNR gain over the identity with the standard error over the pairs;
* with --supervised_steps N: that G (or a fresh one without --workdir)
  trained N more steps with an L1 loss on ground-truth training pairs, the
  paired supervision no unpaired recipe gets. It bounds what the same model
  learns in the same number of steps.

Measured on the demo (64 pairs, `runs/demo` of configs/demo.py): see the
README's Quickstart section.
"""

from __future__ import annotations

import argparse
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from animejax import evaluation
from animejax.methods.animegan import losses as ag_losses

# Outline pixels of the anime rendering are 0.25 * colour + 0.02 (see
# animejax/data/procedural.py), so no channel exceeds 0.27 on [0, 1]. Pixels
# under this bound are outlines: on the demo's 64 held-out pairs the mask
# holds every outline pixel (from the renderer's object-id map) and 98.9% of
# its pixels are outlines (the rest: shaded windows and trunks).
OUTLINE_MAX = 0.3
# [v2]'s rgb2yuv kernel, the one the colour loss uses ([RGB, YUV]).
_RGB_TO_YUV = np.asarray(ag_losses.RGB_TO_YUV, np.float64)


def _unit(images: np.ndarray) -> np.ndarray:
  """[-1, 1] model range -> [0, 1], float64."""
  return (np.asarray(images, np.float64) + 1) / 2


def outline_mask(targets: np.ndarray) -> np.ndarray:
  """[N, H, W] bool: the outline pixels of anime renderings in [-1, 1]."""
  return _unit(targets).max(-1) < OUTLINE_MAX


def oracles(photos: np.ndarray, targets: np.ndarray) -> dict[str, float]:
  """PSNR (dB) against `targets` of photo edits that peek at the targets.

  Images are [N, H, W, 3] in [-1, 1].
  """
  p01, t01 = _unit(photos), _unit(targets)
  back = lambda x01: np.clip(x01, 0, 1) * 2 - 1
  yuv_p, yuv_t = p01 @ _RGB_TO_YUV, t01 @ _RGB_TO_YUV
  from_yuv = lambda y: back(y @ np.linalg.inv(_RGB_TO_YUV))
  flat_p = np.concatenate([p01.reshape(-1, 3),
                           np.ones((p01[..., 0].size, 1))], 1)
  affine, *_ = np.linalg.lstsq(flat_p, t01.reshape(-1, 3), rcond=None)
  outline = outline_mask(targets)[..., None]
  score = lambda x: evaluation.psnr(x, targets)
  return {
      'identity': score(photos),
      'photo luma + target chroma': score(from_yuv(np.concatenate(
          [yuv_p[..., :1], yuv_t[..., 1:]], -1))),
      'target luma + photo chroma': score(from_yuv(np.concatenate(
          [yuv_t[..., :1], yuv_p[..., 1:]], -1))),
      'best global affine colour map': score(back(
          (flat_p @ affine).reshape(p01.shape))),
      'photo + target outline pixels': score(back(
          np.where(outline, t01, p01))),
  }


def outline_share(photos: np.ndarray, targets: np.ndarray) -> tuple[float,
                                                                    float]:
  """(fraction of outline pixels, their share of the identity's squared error)."""
  outline = outline_mask(targets)
  err = ((_unit(photos) - _unit(targets)) ** 2).sum(-1)
  return float(outline.mean()), float(err[outline].sum() / err.sum())


def training_pairs(seed: int, size: int, batch: int, step: int):
  """Batch `step` of ground-truth (photo, anime) pairs from the training
  photos' stream (the scenes the unpaired run draws its photos from)."""
  from animejax.data import common, procedural  # pylint: disable=g-import-not-at-top
  pairs = [procedural.render_pair(procedural.scene_seed(
      seed, procedural.STREAM_PHOTO, step * batch + i), size)
           for i in range(batch)]
  return (np.stack([common.to_float(p) for p, _ in pairs]),
          np.stack([common.to_float(a) for _, a in pairs]))


def supervised(generator, params, steps: int, *, seed: int, size: int,
               batch: int, lr: float, report=None):
  """`params` after `steps` Adam steps of L1(G(photo), anime) on pairs."""
  opt = optax.adam(lr, b1=0.5)   # the demo's optimiser family ([v2] Adam)

  @jax.jit
  def step_fn(p, opt_state, photo, anime):
    loss, grads = jax.value_and_grad(lambda q: jnp.mean(jnp.abs(
        generator.apply({'params': q}, photo) - anime)))(p)
    updates, opt_state = opt.update(grads, opt_state, p)
    return optax.apply_updates(p, updates), opt_state, loss

  opt_state = opt.init(params)
  for i in range(steps):
    photo, anime = training_pairs(seed, size, batch, i)
    params, opt_state, _ = step_fn(params, opt_state, photo, anime)
    if report is not None:
      report(i + 1, params)
  return params


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--workdir', default='',
                      help='demo training workdir (its latest checkpoint)')
  parser.add_argument('--num_pairs', type=int, default=64)
  parser.add_argument('--size', type=int, default=64)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--supervised_steps', type=int, default=0)
  parser.add_argument('--batch_size', type=int, default=8)
  parser.add_argument('--lr', type=float, default=1e-3)
  args = parser.parse_args(argv)

  from animejax.data import procedural_source  # pylint: disable=g-import-not-at-top
  photos, targets, _ = procedural_source.val_arrays(args.seed, args.size,
                                                    args.num_pairs)
  print(f'{args.num_pairs} held-out pairs at {args.size} px')
  for name, value in oracles(photos, targets).items():
    print(f'  {name:34s} {value:6.2f} dB')
  frac, share = outline_share(photos, targets)
  print(f'  outline pixels: {100 * frac:.1f}% of the image, '
        f'{100 * share:.0f}% of the identity\'s squared error')

  generator = params = None
  if args.workdir:
    from animejax import checkpointing, inference  # pylint: disable=g-import-not-at-top
    generator, params = inference.build_generator(
        checkpointing.load_generator_weights(args.workdir))
  elif args.supervised_steps:
    from configs import demo  # pylint: disable=g-import-not-at-top
    from animejax import models  # pylint: disable=g-import-not-at-top
    generator = models.generator_from_config(demo.get_config().generator)
    # jit: un-jitted, init compiles each of G's ~200 ops on its own (23 s).
    params = jax.jit(generator.init)(jax.random.key(args.seed),
                                     photos[:1])['params']

  if generator is not None:
    apply = jax.jit(lambda p, x: jnp.clip(generator.apply({'params': p}, x),
                                          -1, 1))

  def show(label, p):
    generated = np.asarray(apply(p, photos))
    gain = evaluation.paired_gain(generated, photos, targets)
    print(f'  {label:34s} {evaluation.psnr(generated, targets):6.2f} dB, gain '
          f'{gain["eval/psnr_gain"]:+.2f} +- '
          f'{gain.get("eval/psnr_gain_stderr", float("nan")):.2f} (s.e.), '
          f'wins {100 * gain["eval/psnr_win_rate"]:.0f}%', flush=True)

  if args.workdir:
    show(f'G of {args.workdir}', params)
  if args.supervised_steps:
    start = time.time()
    every = max(args.supervised_steps // 4, 1)
    supervised(generator, params, args.supervised_steps, seed=args.seed,
               size=args.size, batch=args.batch_size, lr=args.lr,
               report=lambda i, p: i % every == 0 and show(
                   f'+ {i} supervised steps ({time.time() - start:.0f} s)', p))
  return 0


if __name__ == '__main__':
  sys.exit(main())
