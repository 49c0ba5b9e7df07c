"""The independent hair/eye attribute classifier (animejax/attributes.py):
its loss and accuracy against numpy, training to a held-out accuracy on toy
faces, the weights file (round trip, refusals), and DRAGAN's evaluation
reporting it ('eval/attr_acc_*') beside the D head."""

import json
import os
import sys

import flax
import jax
import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # `configs` is a folder of the repo
  sys.path.insert(0, REPO)

from animejax import attributes  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax.data import labelled  # pylint: disable=g-import-not-at-top,wrong-import-position
from animejax.methods import dragan  # pylint: disable=g-import-not-at-top,wrong-import-position

VOCAB = ['blue hair', 'red hair', 'blue eyes', 'green eyes', 'red eyes',
         'smile']


def test_loss_matches_numpy():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(5, 6)).astype(np.float32)
  labels = np.zeros((5, 6), np.float32)
  labels[np.arange(5), rng.integers(0, 2, 5)] = 1
  labels[np.arange(5), 2 + rng.integers(0, 3, 5)] = 1
  labels[:, 5] = rng.integers(0, 2, 5)
  groups = labelled.group_slices(VOCAB)
  other = np.array([False] * 5 + [True])

  def ce(z, y):
    z = z - z.max(1, keepdims=True)
    return -np.mean(np.sum(y * (z - np.log(np.exp(z).sum(1, keepdims=True))),
                           1))
  x, y = logits[:, 5].astype(np.float64), labels[:, 5]
  bce = np.mean(-y * np.log(1 / (1 + np.exp(-x))) -
                (1 - y) * np.log(1 - 1 / (1 + np.exp(-x))))
  want = ce(logits[:, :2], labels[:, :2]) + ce(logits[:, 2:5],
                                               labels[:, 2:5]) + bce
  got = float(attributes.loss_fn(logits, labels, groups, other))
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_group_accuracy_counts_argmax_within_group():
  groups = labelled.group_slices(VOCAB)
  logits = np.array([[2, 1, 0, 5, 1, 9], [0, 3, 4, 0, 0, 0],
                     [1, 0, 0, 0, 2, 0]], np.float32)
  labels = np.array([[1, 0, 0, 1, 0, 0], [1, 0, 1, 0, 0, 0],
                     [0, 0, 0, 0, 0, 0]], np.float32)  # last: no tags
  acc = attributes.group_accuracy(logits, labels, groups)
  assert acc == {'hair': 0.5, 'eyes': 1.0}


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  data = labelled.synthetic_faces(160, 16, 40, seed=0)
  params, acc = attributes.train(data, steps=60, batch_size=32, log_every=0,
                                 widths=(8, 16))
  path = str(tmp_path_factory.mktemp('attr') / 'attr.msgpack')
  cfg = dragan.smoke_config().data
  cfg.synthetic_size, cfg.num_val_images = 160, 40
  attributes.save(path, params, data.vocab, (8, 16), 16, acc,
                  attributes.split_signature(cfg))
  return data, params, acc, path


def test_training_learns_held_out_colours(trained):
  data, _, acc, _ = trained
  # Toy faces: the hair disc and eye dots are flat colours (6 each; chance
  # 1/6). Faces never seen in training are read almost perfectly.
  assert len(data.val_images) == 40
  assert acc['hair'] >= 0.9 and acc['eyes'] >= 0.6, acc


def test_file_round_trip_and_refusals(trained, tmp_path):
  data, params, acc, path = trained
  clf = attributes.Classifier(path)
  assert clf.vocab == data.vocab and clf.meta['val_accuracy'] == acc
  np.testing.assert_array_equal(
      clf.logits(data.val_float()),
      attributes.predict(params, data.val_float(), len(data.vocab), (8, 16)))
  assert clf.accuracy(data.val_float(), data.val_labels) == acc
  with pytest.raises(ValueError, match='not these'):
    clf.check_vocab(data.vocab[::-1])
  with pytest.raises(ValueError, match='reads 16 px'):
    clf.logits(np.zeros((1, 32, 32, 3), np.float32))
  with pytest.raises(FileNotFoundError, match='animejax.attributes train'):
    attributes.Classifier(str(tmp_path / 'missing.msgpack'))
  other = tmp_path / 'other.msgpack'
  other.write_bytes(flax.serialization.msgpack_serialize(
      {'params': {}, 'meta': json.dumps({'format': 'something-else'})}))
  with pytest.raises(ValueError, match='not an animejax attribute'):
    attributes.Classifier(str(other))


@pytest.mark.slow  # a DRAGAN eval with the classifier: ~70 s on 2 cores
def test_dragan_eval_reports_classifier_beside_d_head(trained):
  _, _, acc, path = trained
  config = dragan.smoke_config()
  config.data.synthetic_size, config.data.num_val_images = 160, 40
  config.eval.num_images = 40
  config.eval.attribute_classifier = path
  method = dragan.create(config)
  state = method.init(jax.random.key(0))
  pipeline = method.input_pipeline(0)
  out = method.evaluate(state, method.frozen(), pipeline)
  for g in ('hair', 'eyes'):
    # On the held-out real faces it is the classifier's own accuracy.
    assert out[f'eval/attr_acc_{g}_real'] == pytest.approx(acc[g])
    assert 0.0 <= out[f'eval/attr_acc_{g}_fake'] <= 1.0
    assert f'eval/dhead_acc_{g}_fake' in out
  # A file trained on another split is refused (it may have seen the
  # held-out faces).
  config.data.split_seed = 7
  with pytest.raises(ValueError, match='another split'):
    dragan.create(config).attribute_classifier()
