"""Tests for hardattn.datasets.spatial (and the generated-dataset plumbing)."""

import collections
import pickle
import re
import subprocess
import sys

import ml_collections
import numpy as np
import pytest

from hardattn import base_config
from hardattn import datasets
from hardattn import errors
from hardattn.datasets import spatial

_NUM_TRAIN, _NUM_TEST, _SEED = 12, 4, 0
RED, GREEN, BLUE, ORANGE = 0, 1, 2, 3
SQUARE, CIRCLE = spatial.SQUARE, spatial.CIRCLE
YES, NO = spatial.YES, spatial.NO
Q = spatial.Question

# A hand-built layout: red square top-left, blue square top-right, green
# circle bottom-left.
_COLORS = np.array([RED, BLUE, GREEN])
_SHAPES = np.array([SQUARE, SQUARE, CIRCLE])
_CENTERS = np.array([[10, 10], [50, 20], [20, 50]])


def _config(data_dir, **overrides):
  c = base_config.base_config()
  c.dataset = 'spatial'
  c.data_dir = str(data_dir)
  c.prepare_if_missing = False
  c.spatial = ml_collections.ConfigDict(dict(
      num_train_images=_NUM_TRAIN, num_test_images=_NUM_TEST, seed=_SEED))
  c.batch_size = 16
  c.questions_per_image = 1  # base_config's 20 is Sort-of-CLEVR's
  c.eval_batch_size = 24
  c.data_threads = 1
  c.update(overrides)
  return c


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  path = tmp_path_factory.mktemp('data')
  spatial.prepare(str(path), num_train_images=_NUM_TRAIN,
                  num_test_images=_NUM_TEST, seed=_SEED)
  return path


@pytest.mark.parametrize('question, text, expected', [
    # Absolute: red (10, 10), blue (50, 20); green is the circle.
    (Q(0, RED), 'is there a red square on the top ?', YES),
    (Q(1, RED), 'is there a red square on the bottom ?', NO),
    (Q(2, RED), 'is there a red square on the left ?', YES),
    (Q(3, RED), 'is there a red square on the right ?', NO),
    (Q(0, BLUE), 'is there a blue square on the top ?', YES),
    (Q(1, BLUE), 'is there a blue square on the bottom ?', NO),
    (Q(2, BLUE), 'is there a blue square on the left ?', NO),
    (Q(3, BLUE), 'is there a blue square on the right ?', YES),
    (Q(1, GREEN), 'is there a green square on the bottom ?', NO),  # Circle.
    (Q(2, GREEN), 'is there a green square on the left ?', NO),
    (Q(0, ORANGE), 'is there a orange square on the top ?', NO),  # Absent.
    # Relative.
    (Q(4, RED, BLUE, SQUARE), 'is there a red square left of the blue square ?',
     YES),
    (Q(5, RED, BLUE, SQUARE),
     'is there a red square right of the blue square ?', NO),
    (Q(6, RED, BLUE, SQUARE), 'is there a red square above the blue square ?',
     YES),
    (Q(7, RED, BLUE, SQUARE), 'is there a red square below the blue square ?',
     NO),
    (Q(4, BLUE, GREEN, CIRCLE),
     'is there a blue square left of the green circle ?', NO),
    (Q(5, BLUE, GREEN, CIRCLE),
     'is there a blue square right of the green circle ?', YES),
    (Q(6, BLUE, GREEN, CIRCLE),
     'is there a blue square above the green circle ?', YES),
    (Q(7, BLUE, GREEN, CIRCLE),
     'is there a blue square below the green circle ?', NO),
    (Q(7, BLUE, RED, SQUARE), 'is there a blue square below the red square ?',
     YES),
    (Q(6, BLUE, RED, SQUARE), 'is there a blue square above the red square ?',
     NO),
    (Q(5, GREEN, RED, SQUARE),  # The green object is not a square.
     'is there a green square right of the red square ?', NO),
    (Q(5, ORANGE, RED, SQUARE),
     'is there a orange square right of the red square ?', NO),
])
def test_hand_built_answers(question, text, expected):
  assert question.text() == text
  assert spatial.answer_question(question, _COLORS, _SHAPES,
                                 _CENTERS) == expected
  # Padding is ignored.
  padded = [np.concatenate([a, np.full((1,) + a.shape[1:], -1)])
            for a in (_COLORS, _SHAPES, _CENTERS)]
  assert spatial.answer_question(question, *padded) == expected


def test_reference_must_be_in_layout():
  with pytest.raises(ValueError, match='reference'):
    spatial.answer_question(Q(4, RED, ORANGE, SQUARE), _COLORS, _SHAPES,
                            _CENTERS)
  with pytest.raises(ValueError, match='reference'):  # Wrong shape.
    spatial.answer_question(Q(4, RED, BLUE, CIRCLE), _COLORS, _SHAPES,
                            _CENTERS)


_ABSOLUTE_RE = re.compile(
    r'is there a (\w+) square on the (top|bottom|left|right) \?')
_RELATIVE_RE = re.compile(r'is there a (\w+) square (left of|right of|above|'
                          r'below) the (\w+) (square|circle) \?')


def _expected(text, objects):
  """(question type, answer, asked colour) recomputed from a question text.

  Args:
    text: the question.
    objects: {colour name: (shape name, x, y)}.
  """
  match = _ABSOLUTE_RE.fullmatch(text)
  if match:
    color, where = match.groups()
    question_type = ('top', 'bottom', 'left', 'right').index(where)
    yes = False
    if color in objects and objects[color][0] == 'square':
      _, x, y = objects[color]
      yes = (y < 32, y >= 32, x < 32, x >= 32)[question_type]
    return question_type, YES if yes else NO, color
  color, relation, ref_color, ref_shape = _RELATIVE_RE.fullmatch(
      text).groups()
  assert color != ref_color
  assert objects[ref_color][0] == ref_shape  # The reference is there.
  _, ref_x, ref_y = objects[ref_color]
  question_type = 4 + ('left of', 'right of', 'above', 'below').index(
      relation)
  yes = False
  if color in objects and objects[color][0] == 'square':
    _, x, y = objects[color]
    yes = (x < ref_x, x > ref_x, y < ref_y, y > ref_y)[question_type - 4]
  return question_type, YES if yes else NO, color


def _objects(scene):
  n = int((scene.object_colors >= 0).sum())
  return {spatial.COLOR_NAMES[c]: (spatial.SHAPE_NAMES[s], int(x), int(y))
          for c, s, (x, y) in zip(scene.object_colors[:n],
                                  scene.object_shapes[:n],
                                  scene.object_centers[:n])}


def _check_layout(scene):
  n = int((scene.object_colors >= 0).sum())
  assert n in (3, 4)
  np.testing.assert_array_equal(scene.object_colors[n:], -1)
  np.testing.assert_array_equal(scene.object_shapes[n:], -1)
  np.testing.assert_array_equal(scene.object_centers[n:], -1)
  colors = scene.object_colors[:n]
  assert len(set(colors.tolist())) == n and (colors < 6).all()
  np.testing.assert_array_equal(scene.object_shapes[:n],
                                [SQUARE] * (n - 1) + [CIRCLE])
  centers = scene.object_centers[:n]
  assert ((centers >= 4) & (centers <= 60)).all()  # Boxes in the image.
  assert (np.abs(centers - 32) > 3).all()  # Off the middle lines.
  for i in range(n):
    for j in range(i):
      dx, dy = np.abs(centers[i] - centers[j])
      assert max(dx, dy) >= 8  # Boxes do not overlap.
      assert dx >= 3 and dy >= 3


def _check_image(scene):
  image = scene.image
  assert image.shape == (64, 64, 3) and image.dtype == np.uint8
  painted = np.zeros((64, 64), dtype=int)
  for color, shape, (x, y) in zip(scene.object_colors, scene.object_shapes,
                                  scene.object_centers):
    if color < 0:
      continue
    mask = (image == spatial.COLORS[color]).all(-1)
    painted += mask
    ys, xs = np.nonzero(mask)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (x - 4, x + 3, y - 4,
                                                        y + 3)
    assert mask[y - 4, x - 4] == (shape == SQUARE)  # Corner.
    assert mask.sum() == (64 if shape == SQUARE else 52)
  assert painted.max() == 1
  np.testing.assert_array_equal((image == 255).all(-1), painted == 0)


@pytest.mark.parametrize('split', ['train', 'test'])
def test_generated_scenes_follow_the_rules(split):
  seen = collections.Counter()
  hard_no = 0
  for index in range(150):
    scene = spatial.generate_scene(1, split, index)
    _check_layout(scene)
    _check_image(scene)
    objects = _objects(scene)
    texts = [spatial.question_text(q) for q in scene.questions]
    assert len(set(texts)) == 8  # Distinct questions.
    per_group = collections.Counter()
    for text, answer, question_type in zip(texts, scene.answers,
                                           scene.question_types):
      expected_type, expected_answer, color = _expected(text, objects)
      assert question_type == expected_type, text
      assert answer == expected_answer, text
      per_group[question_type >= 4, int(answer)] += 1
      seen[int(question_type), int(answer)] += 1
      hard_no += answer == NO and color in objects
    assert per_group == {(False, YES): 2, (False, NO): 2, (True, YES): 2,
                         (True, NO): 2}
  # Every type is asked with both answers; about half the no-questions are
  # hard (more, since random negatives can be hard too).
  assert set(seen) == {(t, a) for t in range(8) for a in (YES, NO)}
  assert 0.5 < hard_no / (150 * 4) < 0.95


def test_seeded_and_order_independent():
  a = spatial.generate_scene(0, 'train', 4).as_dict()
  b = spatial.generate_scene(0, 'train', 4).as_dict()
  assert set(a) == {'image', 'questions', 'answers', 'question_types',
                    'object_colors', 'object_shapes', 'object_centers'}
  for key, value in a.items():
    np.testing.assert_array_equal(value, b[key])
  for other in (spatial.generate_scene(0, 'train', 5),
                spatial.generate_scene(0, 'test', 4),
                spatial.generate_scene(1, 'train', 4)):
    assert not np.array_equal(a['image'], other.image)
    assert not np.array_equal(a['object_centers'], other.object_centers)


def test_vocabulary():
  assert spatial.VOCAB[:2] == ('<pad>', '<unk>')
  assert len(set(spatial.VOCAB)) == len(spatial.VOCAB)
  assert '?' in spatial.VOCAB
  assert set(spatial.COLOR_NAMES) <= set(spatial.VOCAB)
  absolute, relative = spatial.candidates(_COLORS, _SHAPES)
  assert len(absolute) == 4 * 6 and len(relative) == 3 * 4 * 5
  for question in absolute + relative:
    text = question.text()
    tokens = spatial.tokenize(text)
    assert tokens.shape == (12,) and tokens.dtype == np.int32
    assert spatial.UNK not in tokens
    assert spatial.question_text(tokens) == text


def test_tokenize():
  tokens = spatial.tokenize('Is there a RED square on the top?')
  np.testing.assert_array_equal(
      tokens, spatial.tokenize('is there a red square on the top ?'))
  ids = {w: i for i, w in enumerate(spatial.VOCAB)}
  expected = [ids[w] for w in 'is there a red square on the top ?'.split()]
  np.testing.assert_array_equal(tokens, expected + [0, 0, 0])
  unknown = spatial.tokenize('is there a purple blob ?')
  np.testing.assert_array_equal(
      unknown[:6], [ids['is'], ids['there'], ids['a'], 1, 1, ids['?']])
  assert spatial.question_text(unknown) == 'is there a <unk> <unk> ?'
  assert spatial.question_text(np.zeros(12, np.int32)) == ''
  eleven = 'is there a red square right of the blue circle ?'
  assert (spatial.tokenize(eleven) > 0).sum() == 11
  too_long = 'is there a red square right of the big blue circle there ?'
  with pytest.raises(ValueError, match=re.escape(repr(too_long))):
    spatial.tokenize(too_long)
  with pytest.raises(ValueError):
    spatial.question_text(np.array([2, 99]))


def test_prepared_data_equals_generator(data_dir):
  builder = spatial.prepare(str(data_dir), num_train_images=_NUM_TRAIN,
                            num_test_images=_NUM_TEST, seed=_SEED)
  assert builder.name == 'spatial'
  assert builder.builder_config.name == 'train12_test4_seed0'
  for split, n in (('train', _NUM_TRAIN), ('test', _NUM_TEST)):
    source = builder.as_data_source(split)
    assert len(source) == n
    for index in range(n):
      expected = spatial.generate_scene(_SEED, split, index).as_dict()
      record = source[index]
      assert set(record) == set(expected)
      for key, value in expected.items():
        assert record[key].dtype == value.dtype, key
        np.testing.assert_array_equal(record[key], value)
  assert 'tensorflow' not in sys.modules


def test_get_dataset_batches(data_dir):
  train_iter, eval_fn, meta = datasets.get_dataset(_config(data_dir))
  batch = next(train_iter)
  assert batch['image'].shape == (16, 64, 64, 3)
  assert batch['image'].dtype == np.uint8
  assert batch['question'].shape == (16, 12)
  assert batch['question'].dtype == np.int32
  assert batch['answer'].shape == (16,) and batch['answer'].dtype == np.int32
  assert set(batch['answer'].tolist()) <= {YES, NO}
  assert batch['question_type'].dtype == np.int32
  assert batch['mask'].shape == (16,) and batch['mask'].all()

  # One epoch (12 * 8 = 96 examples = 6 batches) is every question once.
  expected = collections.Counter()
  for index in range(_NUM_TRAIN):
    scene = spatial.generate_scene(_SEED, 'train', index)
    expected.update((bytes(scene.image), bytes(q), int(a))
                    for q, a in zip(scene.questions, scene.answers))
  seen = collections.Counter()
  for b in [batch] + [next(train_iter) for _ in range(5)]:
    seen.update(map(lambda i, q, a: (bytes(i), bytes(q), int(a)),
                    b['image'], b['question'], b['answer']))
  assert seen == expected

  eval_batches = list(eval_fn())
  assert len(eval_batches) == 2  # 4 * 8 = 32 examples at batch 24.
  masks = np.concatenate([b['mask'] for b in eval_batches])
  assert masks.sum() == 32 and masks[:32].all() and not masks[32:].any()
  questions = np.concatenate([b['question'] for b in eval_batches])
  answers = np.concatenate([b['answer'] for b in eval_batches])
  images = np.concatenate([b['image'] for b in eval_batches])
  for index in range(_NUM_TEST):  # In order: image q // 8, question q % 8.
    scene = spatial.generate_scene(_SEED, 'test', index)
    rows = slice(8 * index, 8 * index + 8)
    np.testing.assert_array_equal(questions[rows], scene.questions)
    np.testing.assert_array_equal(answers[rows], scene.answers)
    assert (images[rows] == scene.image).all()
  assert not questions[32:].any() and not images[32:].any()

  assert meta.name == 'spatial'
  assert meta.num_answers == 2 and meta.answer_names == ('yes', 'no')
  assert meta.question_kind == 'tokens' and meta.question_shape == (12,)
  assert meta.vocab_size == len(spatial.VOCAB)
  assert meta.image_shape == (64, 64, 3)
  assert meta.num_train_examples == 96 and meta.num_eval_examples == 32
  assert meta.eval_split == 'test'
  assert meta.question_type_groups() == {'absolute': [0, 1, 2, 3],
                                         'relative': [4, 5, 6, 7]}
  assert meta.question_text(batch['question'][0]).startswith('is there a ')
  assert meta == spatial.nominal_meta(_config(data_dir))
  assert 'tensorflow' not in sys.modules


def test_get_split(data_dir):
  iter_fn, meta = spatial.get_split(_config(data_dir), 'train',
                                    batch_size=40)
  batches = list(iter_fn())
  assert len(batches) == 3  # 96 examples.
  masks = np.concatenate([b['mask'] for b in batches])
  assert masks.sum() == 96 and masks[:96].all()
  types = np.concatenate([b['question_type'] for b in batches])[:96]
  for index in (0, _NUM_TRAIN - 1):
    scene = spatial.generate_scene(_SEED, 'train', index)
    np.testing.assert_array_equal(types[8 * index:8 * index + 8],
                                  scene.question_types)
  assert meta.num_train_examples == 96
  with pytest.raises(errors.UserError, match="'val'"):
    spatial.get_split(_config(data_dir), 'val', batch_size=8)


def test_question_source_pickles(data_dir):
  builder = spatial.builder(str(data_dir), num_train_images=_NUM_TRAIN,
                            num_test_images=_NUM_TEST, seed=_SEED)
  source = spatial.DATASET.question_source(builder.as_data_source('test'))
  copy = pickle.loads(pickle.dumps(source))
  assert len(copy) == 32
  for key, value in source[9].items():
    np.testing.assert_array_equal(copy[9][key], value)


def test_missing_data_raises(tmp_path):
  with pytest.raises(errors.DatasetNotFoundError) as info:
    datasets.get_dataset(_config(tmp_path / 'empty'))
  message = str(info.value)
  assert str(tmp_path / 'empty' / 'spatial' / 'train12_test4_seed0'
             / '1.0.0') in message
  assert (f'python -m hardattn.prepare --dataset=spatial '
          f'--data_dir={tmp_path / "empty"} --num_train_images=12 '
          '--num_test_images=4\n') in message


def test_config_names_and_commands():
  assert spatial.config_name(10_000, 1_000, 0) == 'default'
  assert spatial.config_name() == 'default'
  assert spatial.config_name(10_000, 1_000, 2) == 'train10000_test1000_seed2'
  assert spatial.prepare_command('D', 10_000, 1_000, 0) == (
      'python -m hardattn.prepare --dataset=spatial --data_dir=D')
  assert spatial.prepare_command('D', 5, 1_000, 3) == (
      'python -m hardattn.prepare --dataset=spatial --data_dir=D '
      '--num_train_images=5 --seed=3')
  assert spatial.builder('/nowhere').builder_config.name == 'default'


def test_prepare_cli(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'hardattn.prepare', '--dataset=spatial',
       f'--data_dir={tmp_path}', '--num_train_images=2',
       '--num_test_images=1'],
      capture_output=True, text=True, check=True)
  path = tmp_path / 'spatial' / 'train2_test1_seed0' / '1.0.0'
  assert str(path) in result.stdout
  assert (path / 'dataset_info.json').exists()
