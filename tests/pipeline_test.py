"""Tests for hardattn.datasets.pipeline over an in-memory source."""

import numpy as np
import pytest

from hardattn import errors
from hardattn.datasets import pipeline


def _source(n):
  """n examples; example i has answer i and a constant image of value i."""
  return [{
      'image': np.full((4, 4, 3), i % 256, dtype=np.uint8),
      'question': np.full((3,), i, dtype=np.float32),
      'answer': np.int32(i),
      'question_type': np.int32(i % 2),
  } for i in range(n)]


def _take(it, n):
  return [next(it) for _ in range(n)]


def test_train_batch_shapes_and_dtypes():
  it = pipeline.train_iterator(_source(20), batch_size=8, seed=0,
                               num_threads=0)
  batch = next(it)
  assert set(batch) == {'image', 'question', 'answer', 'question_type', 'mask'}
  assert batch['image'].shape == (8, 4, 4, 3)
  assert batch['image'].dtype == np.uint8
  assert batch['question'].shape == (8, 3)
  assert batch['question'].dtype == np.float32
  assert batch['answer'].shape == (8,) and batch['answer'].dtype == np.int32
  assert batch['question_type'].dtype == np.int32
  assert batch['mask'].dtype == np.bool_ and batch['mask'].all()


def test_train_epochs_are_permutations_and_reshuffled():
  it = pipeline.train_iterator(_source(12), batch_size=4, seed=3,
                               num_threads=1)
  epochs = [np.concatenate([b['answer'] for b in _take(it, 3)])
            for _ in range(2)]
  for epoch in epochs:
    np.testing.assert_array_equal(np.sort(epoch), np.arange(12))
  assert not np.array_equal(epochs[0], epochs[1])


def test_train_same_seed_same_order():
  orders = [
      np.concatenate([b['answer'] for b in _take(
          pipeline.train_iterator(_source(30), batch_size=5, seed=7,
                                  num_threads=threads), 4)])
      for threads in (0, 2)]
  np.testing.assert_array_equal(orders[0], orders[1])


def test_process_slices_are_disjoint_and_cover():
  n, count = 23, 3
  seen = []
  for index in range(count):
    eval_fn = pipeline.eval_iterable_fn(
        _source(n), batch_size=4, process_index=index, process_count=count,
        num_threads=0)
    answers = np.concatenate(
        [b['answer'][b['mask']] for b in eval_fn()])
    np.testing.assert_array_equal(answers, np.arange(index, n, count))
    seen.append(answers)
  all_answers = np.concatenate(seen)
  assert len(set(all_answers)) == len(all_answers) == n


@pytest.mark.parametrize('count', [2, 3])
def test_process_batches_stack_into_the_single_process_batches(count):
  # Batches spanning epochs included (24 examples, global batch 2 * count).
  def augment(example, rng):
    return dict(example, question=example['question'] + rng.random(3))
  kwargs = dict(seed=5, num_threads=0, random_map_fn=augment)
  single = _take(pipeline.train_iterator(
      _source(23), batch_size=2 * count, **kwargs), 9)
  parts = [_take(pipeline.train_iterator(
      _source(23), batch_size=2, process_index=index, process_count=count,
      **kwargs), 9) for index in range(count)]
  for step, want in enumerate(single):
    for key in want:
      np.testing.assert_array_equal(
          want[key], np.concatenate([p[step][key] for p in parts]))


def test_iterator_state_save_restore():
  kwargs = dict(batch_size=4, seed=1, num_threads=2)
  it = pipeline.train_iterator(_source(10), **kwargs)
  _take(it, 3)
  state = it.get_state()
  expected = _take(it, 2)
  restored = pipeline.train_iterator(_source(10), **kwargs)
  restored.set_state(state)
  for want, got in zip(expected, _take(restored, 2)):
    for key in want:
      np.testing.assert_array_equal(want[key], got[key])


def test_eval_padding_and_mask():
  eval_fn = pipeline.eval_iterable_fn(_source(140), batch_size=64,
                                      num_threads=1)
  for _ in range(2):  # Each call is a fresh pass.
    batches = list(eval_fn())
    assert len(batches) == 3
    assert all(b['image'].shape == (64, 4, 4, 3) for b in batches)
    masks = np.concatenate([b['mask'] for b in batches])
    assert masks.dtype == np.bool_ and masks.sum() == 140
    assert masks[:140].all()
    answers = np.concatenate([b['answer'] for b in batches])
    np.testing.assert_array_equal(answers[:140], np.arange(140))
    assert not answers[140:].any()
    assert not batches[-1]['image'][12:].any()


def test_eval_same_number_of_batches_on_every_process():
  # 9 examples over 2 processes at batch 1: 5 and 4 real examples.
  counts = []
  for index in range(2):
    batches = list(pipeline.eval_iterable_fn(
        _source(9), batch_size=1, process_index=index, process_count=2,
        num_threads=0)())
    assert len(batches) == 5
    counts.append(sum(int(b['mask'].sum()) for b in batches))
  assert counts == [5, 4]


def test_per_process_batch_size():
  assert pipeline.per_process_batch_size(64, 4) == 16
  with pytest.raises(errors.UserError, match='batch_size=10'):
    pipeline.per_process_batch_size(10, 4)


def test_question_type_groups():
  meta = pipeline.DatasetMeta(
      name='x', num_answers=2, answer_names=('a', 'b'),
      question_kind='vector', question_shape=(3,), vocab_size=0,
      question_types=('a/x', 'b/y', 'a/z', 'plain'), image_shape=(4, 4, 3),
      num_train_examples=1, num_eval_examples=1, eval_split='test',
      question_text=str)
  assert meta.question_type_groups() == {
      'a': [0, 2], 'b': [1], 'plain': [3]}


def _noisy(example, rng):
  return dict(example, question=example['question'] + rng.uniform(size=3))


def test_worker_processes_give_the_same_batches_and_resume():
  from absl import flags  # pylint: disable=g-import-not-at-top
  flags.FLAGS.mark_as_parsed()  # grain's workers read absl flags
  kwargs = dict(batch_size=4, seed=5, num_threads=0, random_map_fn=_noisy)
  serial = _take(pipeline.train_iterator(_source(22), **kwargs), 8)
  it = pipeline.train_iterator(_source(22), num_workers=2, **kwargs)
  try:
    parallel = _take(it, 5)
    state = it.get_state()
    parallel += _take(it, 3)
  finally:
    it.close()
  for a, b in zip(serial, parallel):
    np.testing.assert_array_equal(a['answer'], b['answer'])
    np.testing.assert_array_equal(a['question'], b['question'])
  resumed = pipeline.train_iterator(_source(22), num_workers=2, **kwargs)
  try:
    resumed.set_state(state)
    for a, b in zip(serial[5:], _take(resumed, 3)):
      np.testing.assert_array_equal(a['question'], b['question'])
  finally:
    resumed.close()
