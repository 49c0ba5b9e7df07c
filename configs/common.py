"""Config pieces every method shares: the run loop's keys.

`run_config(method)` returns a ConfigDict holding what `animejax.train`
reads from every config (checked by `animejax.config_lib.validate`); a
method's recipe adds its own keys to it. Values derived from others (steps
per epoch, total steps) are never stored: each method's schedule computes
them.
"""

import ml_collections


def run_config(method: str, **overrides) -> ml_collections.ConfigDict:
  """The run loop's keys with their defaults, for method `method`."""
  c = ml_collections.ConfigDict()
  c.method = method                   # animejax.methods.names()
  c.seed = 0
  # 'float32' or 'bfloat16': compute dtype; params and optimizer state fp32.
  c.dtype = 'float32'
  c.batch_size = 1                    # global, over every device
  # > 0 overrides the method's own step count (smoke tests, benchmarks).
  c.num_train_steps = -1
  c.log_every_steps = 50
  c.checkpoint_every_steps = 1000
  c.keep_checkpoints = 3
  c.eval_every_steps = 2000
  c.sample_every_steps = 1000
  c.num_sample_images = 4
  for key, value in overrides.items():
    c[key] = value
  return c
