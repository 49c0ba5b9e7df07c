"""The method interface: what a training method owns.

The run loop (`animejax.train`) owns what every method shares: the mesh, jit
with a donated state, the per-step RNG, checkpoints with exact resume,
preemption, the NaN guard, TensorBoard, progress and the eval/sample cadence.
A method owns everything else, behind this small interface (after jaxline's
`Experiment`: the loop owns the loop, the experiment its state and steps):

  input_pipeline(start_step) -> InputPipeline   its data (train stream + val)
  schedule(num_train_images) -> Schedule        total steps, kind of each step
  frozen()        -> pytree                     fixed inputs (e.g. VGG19)
  init(rng)       -> state                      a pytree, params to opt states
  train_step(state, frozen, batch, rng, kind) -> (state, metrics)   pure
  evaluate(state, frozen, pipeline)   -> {'eval/...': float}
  sample_grid(state, frozen, pipeline) -> uint8 [H, W, 3] or None
  predict_fns()   -> {'translate' | 'generate' | ...: pure fn(params, inputs)}
  inference_params(state) -> the pytree the predict functions take
  predict_example(task, pipeline) -> inputs for predict_fns()[task]

A method module defines `create(config) -> Method`, `config_errors(config)
-> list[str]` (its keys' checks, before anything compiles) and
`smoke_config() -> ConfigDict` (a run of a few CPU-seconds: the
registry-wide smoke test trains, resumes and serves every method with it).
A method whose runs serve `animejax.cartoonize` / `export` also defines
`export_weights(state, config) -> weights_io.GeneratorWeights` (state and
config as saved: nested dicts).

`kind` is a static string (one compiled program per kind: AnimeGAN's 'init'
and 'gan' phases, StyleGAN2's lazy-regularisation steps, SRGAN's MSE
pre-training). `rng` is the loop's key folded in by the step number, so a
resumed run draws the same numbers as an uninterrupted one; a state need
hold no key. Metrics are float32 scalars named 'group/name'.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import ml_collections
import numpy as np

PyTree = Any


@dataclasses.dataclass(frozen=True)
class Schedule:
  """How many steps a run has and which kind of step runs at each.

  Attributes:
    total_steps: steps of the whole run.
    step_kind: step (0-based, = steps done) -> kind, a static string.
    kinds: every kind step_kind can return (one compiled program each).
    summary: one line for the log (e.g. the phases' lengths).
  """
  total_steps: int
  step_kind: Callable[[int], str]
  kinds: tuple[str, ...]
  summary: str = ''


@dataclasses.dataclass
class InputPipeline:
  """What the run loop needs from a method's data.

  Attributes:
    num_train_images: images per epoch (the method's schedule may use it).
    train_iter: infinite iterator of per-process numpy batches {name: [B,...]}
      whose stream is a pure function of (config, step): `start_step=k`
      yields batch k first.
    val: the method's validation data (the loop never looks inside).
    skipped_files: unreadable inputs that were left out (counted, logged).
  """
  num_train_images: int
  train_iter: Any
  val: Any = None
  skipped_files: list[str] = dataclasses.field(default_factory=list)


class Method(abc.ABC):
  """A training method: state, steps, schedule, data, evaluation, inference.

  Subclasses set `name`, `state_version` (bumped when the state's layout
  changes, so an old checkpoint fails with a clear message instead of a
  shape error) and `best_metric` ((name, 'max'|'min') that ranks
  checkpoints), and implement the abstract methods.
  """
  name: str = ''
  state_version: int = 1

  def __init__(self, config: ml_collections.ConfigDict):
    self.config = config

  @property
  def best_metric(self) -> tuple[str, str]:
    return 'eval/loss', 'min'

  # ---------------------------------------------------------------- data
  @abc.abstractmethod
  def input_pipeline(self, start_step: int = 0) -> InputPipeline:
    """The data of this config, the training stream starting at start_step."""

  @abc.abstractmethod
  def schedule(self, num_train_images: int) -> Schedule:
    """Step counts derived from the config and the data size."""

  # ---------------------------------------------------------------- state
  def frozen(self) -> PyTree:
    """Inputs every step takes that are not trained (replicated, not saved)."""
    return {}

  @abc.abstractmethod
  def init(self, rng: jax.Array) -> PyTree:
    """The initial state (pure: the loop jits it and evaluates its shape)."""

  @abc.abstractmethod
  def train_step(self, state: PyTree, frozen: PyTree,
                 batch: Mapping[str, jax.Array], rng: jax.Array,
                 kind: str) -> tuple[PyTree, dict[str, jax.Array]]:
    """One step of `kind` (pure; the loop jits it with `kind` static)."""

  # ---------------------------------------------------------------- results
  @abc.abstractmethod
  def evaluate(self, state: PyTree, frozen: PyTree,
               pipeline: InputPipeline) -> dict[str, float]:
    """Metrics on the validation data, 'eval/...' -> float (every process)."""

  def sample_grid(self, state: PyTree, frozen: PyTree,
                  pipeline: InputPipeline) -> np.ndarray | None:
    """A uint8 [H, W, 3] grid of samples, or None (every process calls it)."""
    del state, frozen, pipeline
    return None

  @abc.abstractmethod
  def predict_fns(self) -> dict[str, Callable[..., Any]]:
    """Pure inference functions by task: 'translate', 'generate', ...

    Each is fn(params, inputs) with params = `inference_params(state)` and
    inputs a dict of arrays (e.g. {'images': [N, H, W, 3]}); it returns a
    dict of arrays ({'images': ...} at least). Callers jit them.
    """

  @abc.abstractmethod
  def predict_example(self, task: str,
                      pipeline: InputPipeline) -> dict[str, np.ndarray]:
    """Valid inputs for predict_fns()[task] from the validation data."""

  @abc.abstractmethod
  def inference_params(self, state: PyTree) -> PyTree:
    """The part of the state the predict functions take."""

  def checkpoint_meta(self, step: int) -> dict[str, Any]:
    """Extra JSON saved beside each checkpoint (the loop adds the rest)."""
    del step
    return {}
