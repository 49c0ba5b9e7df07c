"""Shared pytest fixtures: locating ../shared and keeping JAX single-device."""

import os
import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def shared_dir() -> pathlib.Path | None:
  """The shared data/weights folder: $ANIMEJAX_SHARED or <repo>/../shared."""
  env = os.environ.get('ANIMEJAX_SHARED')
  path = pathlib.Path(env) if env else REPO_ROOT.parent / 'shared'
  return path if path.is_dir() else None


@pytest.fixture
def shared() -> pathlib.Path:
  """Skips the test with a reason when the shared folder is missing."""
  path = shared_dir()
  if path is None:
    pytest.skip('shared data not found: set $ANIMEJAX_SHARED or put it at '
                '../shared beside the repository (see README "Test data")')
  return path
