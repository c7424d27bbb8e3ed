"""Train batches gathered from arrays: order, groups, resume, processes."""

import numpy as np
import pytest

from hardattn import errors
from hardattn.datasets import arrays

# 30 images with 1 to 7 questions each.
COUNTS = np.random.default_rng(0).integers(1, 8, 30)
IMAGE_INDEX = np.repeat(np.arange(30), COUNTS).astype(np.int32)


@pytest.fixture(name='split')
def _split(tmp_path):
  writer = arrays.ArrayWriter(str(tmp_path / 'train'))
  images = writer.create('images', (30, 4, 4, 3), np.uint8)
  images[:] = np.arange(30, dtype=np.uint8)[:, None, None, None]
  writer.create('image_index', IMAGE_INDEX.shape, np.int32)[:] = IMAGE_INDEX
  answers = writer.create('answer', IMAGE_INDEX.shape, np.int32)
  answers[:] = np.arange(len(IMAGE_INDEX))  # a question's answer: its id
  assert not arrays.is_built(str(tmp_path / 'train'))
  writer.close()
  return arrays.load(str(tmp_path / 'train'))


def test_a_stopped_build_is_not_read(tmp_path):
  writer = arrays.ArrayWriter(str(tmp_path / 'train'))
  writer.create('answer', (3,), np.int32)
  with pytest.raises(errors.DatasetNotFoundError, match='No prepared'):
    arrays.load(str(tmp_path / 'train'))


@pytest.mark.parametrize('group', [1, 3])
def test_an_epoch_has_every_question_once_in_image_chunks(group):
  chunks = arrays.question_chunks(IMAGE_INDEX, group,
                                  np.random.default_rng(1))
  ids = chunks[chunks >= 0]
  assert sorted(ids) == list(range(len(IMAGE_INDEX)))
  for chunk in chunks:
    real = chunk[chunk >= 0]
    assert 1 <= len(real) <= group
    assert len(set(IMAGE_INDEX[real])) == 1  # one image
    assert np.all(chunk[len(real):] == -1)  # padding at the end
  # Fewest chunks: an image of n questions gives ceil(n / group).
  assert len(chunks) == sum(-(-COUNTS // group))
  other = arrays.question_chunks(IMAGE_INDEX, group, np.random.default_rng(2))
  assert not np.array_equal(chunks, other)


def test_batches_share_images_and_mask_padding(split):
  it = arrays.train_iterator(split, batch_size=12, seed=0,
                             questions_per_image=3, num_threads=0)
  seen = []
  for _ in range(20):
    batch = next(it)
    assert batch['image'].shape == (4, 4, 4, 3)
    answers = batch['answer'].reshape(4, 3)
    mask = batch['mask'].reshape(4, 3)
    for image, row, keep in zip(batch['image'], answers, mask):
      assert keep[0]
      assert np.all(IMAGE_INDEX[row] == image[0, 0, 0])  # its own image
      seen.extend(row[keep])
  assert set(seen) == set(range(len(IMAGE_INDEX)))


def test_resume_and_processes_give_the_same_batches(split):
  def make(**kwargs):
    return arrays.train_iterator(split, seed=3, questions_per_image=2,
                                 num_threads=0, **kwargs)
  whole = make(batch_size=8)
  batches = [next(whole) for _ in range(25)]  # several epochs
  # Resumed at batch 10.
  again = make(batch_size=8)
  for _ in range(10):
    next(again)
  state = again.get_state()
  resumed = make(batch_size=8)
  resumed.set_state(state)
  for want in batches[10:]:
    np.testing.assert_array_equal(next(resumed)['answer'], want['answer'])
  # Two processes of 4: their rows stacked are the one-process batch.
  halves = [make(batch_size=4, process_index=p, process_count=2)
            for p in range(2)]
  for want in batches:
    parts = [next(h) for h in halves]
    for key in ('image', 'answer', 'mask'):
      np.testing.assert_array_equal(
          np.concatenate([p[key] for p in parts]), want[key])


def test_host_augment_draws_for_the_global_batch(split):
  calls = []

  def augment(images, rng, row, rows):
    calls.append((row, rows, rng.integers(1 << 30)))
    return images + 1

  for p in range(2):
    it = arrays.train_iterator(split, batch_size=4, seed=0, process_index=p,
                               process_count=2, augment=augment,
                               num_threads=0)
    plain = arrays.train_iterator(split, batch_size=4, seed=0,
                                  process_index=p, process_count=2,
                                  num_threads=0)
    np.testing.assert_array_equal(next(it)['image'],
                                  next(plain)['image'] + 1)
  (row0, rows0, draw0), (row1, rows1, draw1) = calls
  assert (row0, row1, rows0, rows1) == (0, 4, 8, 8)
  assert draw0 == draw1  # one generator for the global batch


def test_bad_groups_are_user_errors(split):
  with pytest.raises(errors.UserError, match='questions_per_image=3'):
    arrays.train_iterator(split, batch_size=8, seed=0, questions_per_image=3)
  with pytest.raises(errors.UserError, match='fewer than one global batch'):
    arrays.train_iterator(split, batch_size=400, seed=0)
