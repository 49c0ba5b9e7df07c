"""animejax.distributed: environment detection, and multi-process training.

The multi-process test starts 2 processes on localhost (2 CPU devices each),
joined by jax.distributed through 127.0.0.1, trains a few steps of a tiny demo
config and checks that both end with identical parameters, equal to a
single-process run (4 CPU devices) with the same global batch.
"""

import os
import pathlib
import socket
import subprocess
import sys

import numpy as np
import pytest

from animejax import distributed

REPO = pathlib.Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ plan()
def test_plan_single_process_does_nothing():
  assert distributed.plan(environ={}).method == 'none'
  assert not distributed.plan(environ={'HOME': '/x'}).initialize


def test_plan_explicit_from_env_and_args():
  env = {'ANIMEJAX_COORDINATOR': '10.0.0.1:1234', 'ANIMEJAX_NUM_PROCESSES': '4',
         'ANIMEJAX_PROCESS_ID': '3', 'ANIMEJAX_LOCAL_DEVICE_IDS': '0,1'}
  p = distributed.plan(environ=env)
  assert p == distributed.Plan('explicit', '10.0.0.1:1234', 4, 3, (0, 1))
  # Arguments (the absl flags) win over the environment.
  p = distributed.plan('h:1', 2, 0, '5', environ=env)
  assert p == distributed.Plan('explicit', 'h:1', 2, 0, (5,))
  # One process with no coordinator: nothing to join.
  assert distributed.plan(num_processes=1, environ={}).method == 'none'


def test_plan_explicit_errors_name_the_missing_setting():
  with pytest.raises(ValueError, match='missing: process_id'):
    distributed.plan(environ={'ANIMEJAX_COORDINATOR': 'h:1',
                              'ANIMEJAX_NUM_PROCESSES': '2'})
  with pytest.raises(ValueError, match='outside'):
    distributed.plan('h:1', 2, 2, environ={})
  with pytest.raises(ValueError, match='ANIMEJAX_NUM_PROCESSES=.*integer'):
    distributed.plan(environ={'ANIMEJAX_NUM_PROCESSES': 'two'})
  with pytest.raises(ValueError, match='ANIMEJAX_LOCAL_DEVICE_IDS'):
    distributed.plan('h:1', 2, 0, environ={'ANIMEJAX_LOCAL_DEVICE_IDS': 'a,b'})
  with pytest.raises(ValueError, match='ANIMEJAX_DISTRIBUTED'):
    distributed.plan(environ={'ANIMEJAX_DISTRIBUTED': 'maybe'})


def test_plan_slurm_only_inside_multi_task_steps():
  step = {'SLURM_JOB_ID': '7', 'SLURM_STEP_NODELIST': 'n[1-2]',
          'SLURM_NTASKS': '8', 'SLURM_STEP_NUM_TASKS': '8',
          'SLURM_PROCID': '3', 'SLURM_LOCALID': '3'}
  assert distributed.plan(environ=step).method == 'slurm'
  # The batch script itself (no job step): a single process, never wait.
  batch = {'SLURM_JOB_ID': '7', 'SLURM_NTASKS': '8'}
  assert distributed.plan(environ=batch).method == 'none'
  # A one-task step.
  one = dict(step, SLURM_NTASKS='1', SLURM_STEP_NUM_TASKS='1')
  assert distributed.plan(environ=one).method == 'none'


def test_plan_tpu_and_forced_and_off():
  assert distributed.plan(environ={'TPU_WORKER_HOSTNAMES': 'a,b,c,d'}).method == 'tpu'
  assert distributed.plan(environ={'TPU_WORKER_HOSTNAMES': 'a'}).method == 'none'
  assert distributed.plan(
      environ={'MEGASCALE_COORDINATOR_ADDRESS': 'h:8080'}).method == 'tpu'
  assert distributed.plan(environ={'ANIMEJAX_DISTRIBUTED': '1'}).method == 'forced'
  off = {'ANIMEJAX_DISTRIBUTED': '0', 'TPU_WORKER_HOSTNAMES': 'a,b',
         'ANIMEJAX_COORDINATOR': 'h:1'}
  assert distributed.plan(environ=off).method == 'none'


def test_maybe_initialize_single_process_is_a_noop(monkeypatch):
  for key in list(os.environ):
    if key.startswith(('ANIMEJAX_', 'SLURM_', 'TPU_', 'MEGASCALE_')):
      monkeypatch.delenv(key)
  monkeypatch.setattr(distributed, '_RESULT', None)
  p = distributed.maybe_initialize()
  assert p.method == 'none'
  assert distributed.maybe_initialize() is p
  import jax  # pylint: disable=g-import-not-at-top
  assert jax.process_count() == 1 and not jax.distributed.is_initialized()


def test_absl_flags_are_defined_once():
  from absl import flags  # pylint: disable=g-import-not-at-top
  fv = flags.FlagValues()
  distributed.define_flags(fv)
  distributed.define_flags(fv)  # idempotent
  fv(['prog', '--coordinator_address=h:9', '--num_processes=2',
      '--process_id=1', '--local_device_ids=0,1'])
  assert (fv.coordinator_address, fv.num_processes, fv.process_id,
          fv.local_device_ids) == ('h:9', 2, 1, '0,1')
