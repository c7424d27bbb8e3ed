"""Tests for hardattn.datasets.sort_of_clevr and the dataset registry."""

import collections
import subprocess
import sys

import ml_collections
import numpy as np
import pytest

from hardattn import datasets
from hardattn import errors
from hardattn.datasets import sort_of_clevr

_NUM_TRAIN, _NUM_TEST, _SEED = 12, 7, 5


def _config(data_dir, **overrides):
  config = ml_collections.ConfigDict({
      'dataset': 'sort_of_clevr',
      'data_dir': str(data_dir),
      'prepare_if_missing': False,
      'sort_of_clevr': {
          'num_train_images': _NUM_TRAIN,
          'num_test_images': _NUM_TEST,
          'seed': _SEED,
      },
      'batch_size': 16,
      'eval_batch_size': 64,
      'data_seed': 0,
      'data_threads': 1,
      'data_workers': 0,
  })
  config.update(overrides)
  return config


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  path = tmp_path_factory.mktemp('data')
  sort_of_clevr.prepare(str(path), num_train_images=_NUM_TRAIN,
                        num_test_images=_NUM_TEST, seed=_SEED)
  return path


def _expected_answer(question, centers, shapes):
  """Recomputes an answer from the bits and the object metadata."""
  color = int(np.flatnonzero(question[:6])[0])
  relational = bool(question[7])
  subtype = int(np.flatnonzero(question[8:])[0])
  x, y = centers[color]
  if not relational:
    if subtype == 0:
      return 2 + shapes[color]
    return 0 if (x if subtype == 1 else y) < 37.5 else 1
  if subtype == 2:
    return 4 + sum(s == shapes[color] for s in shapes) - 1
  distances = {o: np.hypot(*(centers[o] - centers[color]))
               for o in range(6) if o != color}
  pick = min if subtype == 0 else max
  other = pick(distances, key=distances.get)
  assert sorted(distances.values()).count(distances[other]) == 1  # No ties.
  return 2 + shapes[other]


@pytest.mark.parametrize('split', ['train', 'test'])
def test_answers_match_independent_recomputation(split):
  seen_types = set()
  for index in range(60):
    scene = sort_of_clevr.generate_scene(3, split, index)
    for q in range(20):
      question = scene.questions[q]
      expected = _expected_answer(question, scene.object_centers,
                                  scene.object_shapes)
      assert scene.answers[q] == expected
      kind = 1 if question[7] else 0
      assert scene.question_types[q] == 3 * kind + np.argmax(question[8:])
      seen_types.add((int(scene.question_types[q]), int(scene.answers[q])))
  assert {t for t, _ in seen_types} == set(range(6))
  # Each type sees each of its possible answers.
  assert {a for t, a in seen_types if t in (1, 2)} == {0, 1}
  assert {a for t, a in seen_types if t in (0, 3, 4)} == {2, 3}
  assert {a for t, a in seen_types if t == 5} <= set(range(4, 10))


def test_question_vectors_bits_and_order():
  scene = sort_of_clevr.generate_scene(0, 'train', 0)
  q = scene.questions
  assert q.shape == (20, 11) and q.dtype == np.uint8
  assert set(np.unique(q)) <= {0, 1}
  np.testing.assert_array_equal(q[:, :6].sum(1), 1)
  np.testing.assert_array_equal(q[:, 6:8].sum(1), 1)
  np.testing.assert_array_equal(q[:, 8:].sum(1), 1)
  assert q[:10, 6].all() and q[10:, 7].all()
  assert (scene.question_types[:10] < 3).all()
  assert (scene.question_types[10:] >= 3).all()


def test_image_matches_metadata():
  for index in range(20):
    scene = sort_of_clevr.generate_scene(1, 'train', index)
    image = scene.image
    assert image.shape == (75, 75, 3) and image.dtype == np.uint8
    centers = scene.object_centers
    assert ((centers >= 5) & (centers < 70)).all()
    painted = np.zeros((75, 75), dtype=int)
    for color, ((x, y), shape) in enumerate(zip(centers, scene.object_shapes)):
      rgb = sort_of_clevr.COLORS[color]
      mask = (image == rgb).all(-1)
      painted += mask
      np.testing.assert_array_equal(image[y, x], rgb)
      ys, xs = np.nonzero(mask)
      assert xs.min() == x - 5 and xs.max() == x + 4
      assert ys.min() == y - 5 and ys.max() == y + 4
      corner_painted = mask[y - 5, x - 5]
      assert corner_painted == (shape == sort_of_clevr.RECTANGLE)
      assert mask.sum() == (100 if shape == sort_of_clevr.RECTANGLE else 80)
    white = (image == 255).all(-1)
    assert painted.max() == 1
    np.testing.assert_array_equal(white, painted == 0)


def test_seeded_and_order_independent():
  a = sort_of_clevr.generate_scene(0, 'train', 4)
  b = sort_of_clevr.generate_scene(0, 'train', 4)
  for key, value in a.as_dict().items():
    np.testing.assert_array_equal(value, b.as_dict()[key])
  assert not np.array_equal(
      a.image, sort_of_clevr.generate_scene(1, 'train', 4).image)
  assert not np.array_equal(
      a.image, sort_of_clevr.generate_scene(0, 'test', 4).image)
  assert not np.array_equal(
      a.image, sort_of_clevr.generate_scene(0, 'train', 5).image)


def test_question_text_round_trip():
  texts = set()
  for question_type in range(6):
    for color in range(6):
      vec = sort_of_clevr.question_vector(question_type, color)
      assert sort_of_clevr.decode_question(vec) == (question_type, color)
      assert sort_of_clevr.decode_question(
          vec.astype(np.float32)) == (question_type, color)
      text = sort_of_clevr.question_text(vec)
      assert sort_of_clevr.COLOR_NAMES[color] in text
      texts.add(text)
  assert len(texts) == 36
  red = sort_of_clevr.question_vector
  assert sort_of_clevr.question_text(red(0, 0)) == (
      'What is the shape of the red object?')
  assert sort_of_clevr.question_text(red(1, 0)) == (
      'Is the red object on the left?')
  assert sort_of_clevr.question_text(red(4, 2)) == (
      'What is the shape of the object furthest from the blue object?')
  assert sort_of_clevr.question_text(red(5, 3)) == (
      'How many objects have the same shape as the orange object?')
  with pytest.raises(ValueError):
    sort_of_clevr.decode_question(np.zeros(11))
  assert len(sort_of_clevr.ANSWER_NAMES) == 10


def test_prepared_data_equals_generator(data_dir):
  builder = sort_of_clevr.prepare(str(data_dir), num_train_images=_NUM_TRAIN,
                                  num_test_images=_NUM_TEST, seed=_SEED)
  assert builder.builder_config.name == 'train12_test7_seed5'
  for split, n in (('train', _NUM_TRAIN), ('test', _NUM_TEST)):
    source = builder.as_data_source(split)
    assert len(source) == n
    for index in range(n):
      expected = sort_of_clevr.generate_scene(_SEED, split, index).as_dict()
      record = source[index]
      assert set(record) == set(expected)
      for key, value in expected.items():
        assert record[key].dtype == value.dtype, key
        np.testing.assert_array_equal(record[key], value)
  assert 'tensorflow' not in sys.modules


def test_get_dataset_batches(data_dir):
  train_iter, eval_fn, meta = datasets.get_dataset(_config(data_dir))
  batch = next(train_iter)
  assert batch['image'].shape == (16, 75, 75, 3)
  assert batch['image'].dtype == np.uint8
  assert batch['question'].shape == (16, 11)
  assert batch['question'].dtype == np.float32
  assert batch['answer'].dtype == np.int32 and batch['answer'].shape == (16,)
  assert batch['question_type'].dtype == np.int32
  assert batch['mask'].all() and batch['mask'].shape == (16,)
  for i in range(16):  # Answers are consistent with the questions.
    question_type, _ = sort_of_clevr.decode_question(batch['question'][i])
    assert question_type == batch['question_type'][i]

  eval_batches = list(eval_fn())
  assert len(eval_batches) == 3  # 7 * 20 = 140 examples at batch 64.
  masks = np.concatenate([b['mask'] for b in eval_batches])
  assert masks.sum() == 140 and masks[:140].all()
  # In order: example q is question q % 20 of test image q // 20.
  scene = sort_of_clevr.generate_scene(_SEED, 'test', 1)
  first = eval_batches[0]
  np.testing.assert_array_equal(first['image'][20], scene.image)
  np.testing.assert_array_equal(first['question'][20:40], scene.questions)
  np.testing.assert_array_equal(first['answer'][20:40], scene.answers)
  assert not eval_batches[-1]['image'][12:].any()

  assert meta.num_answers == 10 and meta.question_shape == (11,)
  assert meta.num_train_examples == _NUM_TRAIN * 20
  assert meta.num_eval_examples == _NUM_TEST * 20
  assert meta.eval_split == 'test'
  assert meta.question_type_groups() == {
      'non_relational': [0, 1, 2], 'relational': [3, 4, 5]}
  assert meta.question_text(batch['question'][0]).endswith('?')
  assert 'tensorflow' not in sys.modules


def _example_key(image, question, answer):
  return bytes(image), bytes(np.asarray(question, np.float32)), int(answer)


def test_get_dataset_two_processes_cover_train(data_dir):
  expected = collections.Counter()
  for index in range(_NUM_TRAIN):
    scene = sort_of_clevr.generate_scene(_SEED, 'train', index)
    for q in range(20):
      expected[_example_key(scene.image, scene.questions[q],
                            scene.answers[q])] += 1
  seen = collections.Counter()
  for index in range(2):
    train_iter, _, _ = datasets.get_dataset(
        _config(data_dir, batch_size=24), process_index=index,
        process_count=2)
    # 12 * 20 / 2 = 120 examples per process = 10 batches of 12 = one epoch.
    for _ in range(10):
      b = next(train_iter)
      seen.update(map(_example_key, b['image'], b['question'], b['answer']))
  assert seen == expected
  with pytest.raises(errors.UserError, match='batch_size=25'):
    datasets.get_dataset(_config(data_dir, batch_size=25), process_count=2)


def test_missing_data_raises(tmp_path):
  with pytest.raises(errors.DatasetNotFoundError) as info:
    datasets.get_dataset(_config(tmp_path / 'empty'))
  message = str(info.value)
  assert str(tmp_path / 'empty' / 'sort_of_clevr' / 'train12_test7_seed5'
             / '1.0.0') in message
  assert (f'python -m hardattn.prepare --dataset=sort_of_clevr '
          f'--data_dir={tmp_path / "empty"} --num_train_images=12 '
          '--num_test_images=7 --seed=5') in message


def test_prepare_if_missing(tmp_path):
  config = _config(tmp_path, prepare_if_missing=True)
  config.sort_of_clevr.num_train_images = 2
  config.sort_of_clevr.num_test_images = 1
  _, eval_fn, meta = datasets.get_dataset(config)
  assert meta.num_eval_examples == 20
  assert sum(b['mask'].sum() for b in eval_fn()) == 20


def test_unknown_dataset_raises(tmp_path):
  with pytest.raises(errors.UserError, match='sort_of_clevr') as info:
    datasets.get_dataset(_config(tmp_path, dataset='nope'))
  assert 'nope' in str(info.value)


def test_prepare_cli(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'hardattn.prepare', '--dataset=sort_of_clevr',
       f'--data_dir={tmp_path}', '--num_train_images=2',
       '--num_test_images=1', '--seed=4'],
      capture_output=True, text=True, check=True)
  path = tmp_path / 'sort_of_clevr' / 'train2_test1_seed4' / '1.0.0'
  assert str(path) in result.stdout
  assert (path / 'dataset_info.json').exists()


def test_questions_per_image_groups_an_images_questions(data_dir):
  config = _config(data_dir, batch_size=16, questions_per_image=4)
  train_iter, _, _ = datasets.get_dataset(config)
  expected = collections.Counter()
  scenes = [sort_of_clevr.generate_scene(_SEED, 'train', i)
            for i in range(_NUM_TRAIN)]
  for scene in scenes:
    for q in range(20):
      expected[_example_key(scene.image, scene.questions[q],
                            scene.answers[q])] += 1
  seen = collections.Counter()
  # 12 images * 20 questions / 16 = 15 batches: one epoch, each of 4 images.
  for _ in range(15):
    b = next(train_iter)
    assert b['image'].shape == (4, 75, 75, 3)
    assert b['question'].shape == (16, 11) and b['answer'].shape == (16,)
    assert b['question_type'].shape == (16,) and b['mask'].shape == (16,)
    images = np.repeat(b['image'], 4, axis=0)  # question i is on image i//4
    seen.update(map(_example_key, images, b['question'], b['answer']))
  assert seen == expected


@pytest.mark.parametrize('overrides, match', [
    (dict(questions_per_image=3, batch_size=24),
     'must divide the 20 questions'),
    (dict(questions_per_image=5, batch_size=16), 'divisor of the per-process'),
    (dict(dataset='daquar', questions_per_image=2), 'groups questions by image'),
])
def test_questions_per_image_errors(data_dir, overrides, match):
  with pytest.raises(errors.UserError, match=match):
    datasets.get_dataset(_config(data_dir, **overrides))
