"""CLEVR: the release reader, prepared data, pipeline, training and export."""

import json
import logging
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from hardattn import attention_quality
from hardattn import cli
from hardattn import errors
from hardattn import train
from hardattn.datasets import clevr
from tests import clevr_fixture

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = 32  # stored resolution in these tests


@pytest.fixture(scope='module')
def release(tmp_path_factory):
  return clevr_fixture.make_release(str(tmp_path_factory.mktemp('release')))


@pytest.fixture(scope='module')
def prepared(release, tmp_path_factory):
  data_dir = str(tmp_path_factory.mktemp('data'))
  clevr.prepare(data_dir, release, image_size=SIZE)
  return data_dir


def tiny_config(data_dir, name='clevr_han_rn', **clevr_fields):
  """configs/<name>.py with tiny sizes over the prepared fixture."""
  name, _, preset = name.partition(':')
  config = cli.load_config(os.path.join(REPO, 'configs', f'{name}.py')
                           + (f':{preset}' if preset else ''))
  config.data_dir = data_dir
  config.clevr.image_size = SIZE
  config.clevr.max_question_length = 16
  config.clevr.update(clevr_fields)
  config.data_threads = 0
  config.batch_size = 8
  config.eval_batch_size = 16
  config.model.cnn_features = (8, 8, 8)  # 32x32 -> 4x4 cells
  config.model.word_embed_dim = 8
  config.model.lstm_dim = 16
  if config.model.fusion_features:
    config.model.fusion_features = (16,)
  config.model.g_features = (16, 16)
  config.model.f_features = (16,)
  config.optimizer.learning_rate = 3e-3
  config.num_train_steps = 12
  config.log_every_steps = 4
  config.eval_every_steps = 12
  config.checkpoint_every_steps = 12
  config.num_pictures = 4
  return config


# ----------------------------------------------------- Text and types ----


def test_tokenize():
  assert clevr.tokenize('Is there a big cube; what color is it?') == [
      'is', 'there', 'a', 'big', 'cube', ';', 'what', 'color', 'is', 'it']
  assert clevr.tokenize('How many  RED things, left of it?') == [
      'how', 'many', 'red', 'things', ',', 'left', 'of', 'it']


@pytest.mark.parametrize('function,expected', [
    ('count', 'count'), ('exist', 'exist'),
    ('equal_integer', 'compare_numbers/equal_integer'),
    ('less_than', 'compare_numbers/less_than'),
    ('greater_than', 'compare_numbers/greater_than'),
    ('query_color', 'query_attribute/color'),
    ('query_size', 'query_attribute/size'),
    ('equal_material', 'compare_attribute/material'),
    ('equal_shape', 'compare_attribute/shape'),
])
def test_question_type_from_last_function(function, expected):
  program = [{'function': 'scene'}, {'function': function}]
  assert clevr.QUESTION_TYPES[clevr.question_type(program)] == expected
  # Older program layouts name the key 'type'.
  assert clevr.question_type([{'type': function}]) == (
      clevr.QUESTION_TYPES.index(expected))


def test_question_type_rejects_unknown_and_empty():
  with pytest.raises(ValueError, match='relate'):
    clevr.question_type([{'function': 'relate'}])
  with pytest.raises(ValueError, match='empty'):
    clevr.question_type([])


def test_type_groups_follow_rn_paper_table():
  meta = clevr.meta(
      clevr.Vocabulary(clevr.SPECIAL_TOKENS, ('yes',), {}), image_size=8,
      max_length=4, num_train=1, num_eval=1, eval_split='val')
  assert list(meta.question_type_groups()) == [
      'count', 'exist', 'compare_numbers', 'query_attribute',
      'compare_attribute']


def test_vocabulary_from_train_with_unk_and_lengths():
  questions = {
      'train': [{'question': 'Is the cube red?', 'answer': 'yes'},
                {'question': 'Is the cube blue?', 'answer': 'no'},
                {'question': 'What color is the ball?', 'answer': 'red'}],
      'val': [{'question': 'Is the zebra red?', 'answer': 'maybe'}],
  }
  vocab = clevr.build_vocabulary(questions)
  # pad, unk, then train words by count (ties alphabetical).
  assert vocab.tokens == ('<pad>', '<unk>', 'is', 'the', 'cube', 'ball',
                          'blue', 'color', 'red', 'what')
  assert vocab.answers == ('no', 'red', 'yes', 'maybe')  # val-only last
  assert vocab.encode('Is the zebra red?') == [2, 3, clevr.UNK, 8]
  assert vocab.decode([2, 3, 1, 8, 0, 0]) == 'is the <unk> red'
  assert vocab.length_histogram == {'train': {4: 2, 5: 1}, 'val': {4: 1}}
  assert vocab.num_longer_than('train', 4) == (1, 3)
  again = clevr.Vocabulary.from_json(vocab.to_json())
  assert again == vocab


# ------------------------------------------------------------ Prepare ----


def test_prepared_records_follow_the_release(release, prepared):
  q_builder, i_builder = clevr.builders(prepared, SIZE)
  assert q_builder.is_prepared() and i_builder.is_prepared()
  for split in ('train', 'val'):
    expected = clevr_fixture.load_questions(release, split)
    records = q_builder.as_data_source(split)
    assert len(records) == len(expected)
    for q, r in zip(expected, records):
      assert r['question'].decode() == q['question']
      assert r['answer'].decode() == q['answer']
      assert r['image_index'] == q['image_index']
      assert r['question_family'] == q['question_family_index']
      assert clevr.QUESTION_TYPES[r['question_type']] == (
          clevr._TYPE_OF_FUNCTION[q['program'][-1]['function']])
  test = q_builder.as_data_source('test')
  assert len(test) == 4 and test[0]['question_type'] == -1
  assert test[0]['answer'] == b''
  # Images: decoded once, RGB, resized like PIL's bilinear resize.
  images = i_builder.as_data_source('val')
  assert len(images) == 4
  want = np.asarray(clevr_fixture.render('val', 2).convert('RGB').resize(
      (SIZE, SIZE), clevr.Image.BILINEAR))
  np.testing.assert_array_equal(images[2]['image'], want)
  vocab = clevr.load_vocabulary(q_builder)
  assert len(vocab.answers) == 12 and 'yes' in vocab.answers
  # Objects: boxes of the scenes, roles by running the programs.
  assert clevr.scene_splits(q_builder) == ('train', 'val')
  assert q_builder.info.metadata['unexecuted_programs'] == {'train': 0,
                                                            'val': 0}
  scenes = clevr_fixture.load_scenes(release, 'val')
  for q, r in zip(clevr_fixture.load_questions(release, 'val'),
                  q_builder.as_data_source('val')):
    scene = scenes[q['image_index']]
    np.testing.assert_array_equal(r['object_boxes'], clevr.scene_boxes(scene))
    np.testing.assert_array_equal(
        r['object_roles'], clevr.object_roles(q['program'], scene)[0])
  assert np.all(test[0]['object_roles'] == attention_quality.NONE)
  assert not np.any(test[0]['object_boxes'])


def test_zip_release_prepares_the_same_data(release, prepared, tmp_path):
  zipped = clevr_fixture.make_release(str(tmp_path / 'z'), as_zip=True)
  shutil.rmtree(os.path.join(str(tmp_path / 'z'), clevr.RELEASE_DIR))
  data_dir = str(tmp_path / 'data')
  q_zip, i_zip = clevr.prepare(data_dir, zipped, image_size=SIZE)
  q_dir, i_dir = clevr.builders(prepared, SIZE)
  for split in ('train', 'val', 'test'):
    a, b = q_zip.as_data_source(split), q_dir.as_data_source(split)
    assert [r['question'] for r in a] == [r['question'] for r in b]
    np.testing.assert_array_equal(i_zip.as_data_source(split)[1]['image'],
                                  i_dir.as_data_source(split)[1]['image'])
  assert clevr.load_vocabulary(q_zip) == clevr.load_vocabulary(q_dir)


def test_locate_accepts_the_parent_dir_and_the_zip_beside_it(release,
                                                             tmp_path):
  assert clevr.locate(os.path.dirname(release)).path == release
  zipped = clevr_fixture.make_release(str(tmp_path), {'train': 1, 'val': 1},
                                      as_zip=True)
  shutil.rmtree(os.path.join(str(tmp_path), clevr.RELEASE_DIR))
  assert clevr.locate(str(tmp_path)).path == zipped


def test_download_when_allowed(release, tmp_path, monkeypatch):
  zipped = clevr_fixture.make_release(str(tmp_path / 'dl'), {'train': 2,
                                                             'val': 1},
                                      as_zip=True)
  fetched = []

  def fake_download(self, url):
    del self
    fetched.append(url)
    return zipped

  monkeypatch.setattr(clevr.tfds.download.DownloadManager, 'download',
                      fake_download)
  with pytest.raises(errors.DatasetNotFoundError):
    clevr.prepare(str(tmp_path / 'data'), None, image_size=SIZE)
  q_builder, _ = clevr.prepare(str(tmp_path / 'data'), None, image_size=SIZE,
                               download=True)
  assert fetched and fetched[0] == clevr.URL
  assert len(q_builder.as_data_source('train')) == 2 * 13


# ----------------------------------------------------------- Bad input ----


def test_no_release_names_the_path(tmp_path):
  with pytest.raises(errors.DatasetNotFoundError, match='manual_dir'):
    clevr.locate(None)
  with pytest.raises(errors.DatasetNotFoundError,
                     match=f'No CLEVR release found at {tmp_path}'):
    clevr.locate(str(tmp_path))


def test_incomplete_release_names_what_is_missing(tmp_path):
  base = clevr_fixture.make_release(str(tmp_path), {'train': 2, 'val': 1})
  os.remove(os.path.join(base, 'questions', 'CLEVR_val_questions.json'))
  with pytest.raises(errors.DatasetNotFoundError,
                     match='incomplete: missing .*CLEVR_val_questions.json'):
    clevr.locate(base)


def test_missing_image_names_the_file(tmp_path):
  base = clevr_fixture.make_release(str(tmp_path), {'train': 3, 'val': 1})
  os.remove(os.path.join(base, 'images', 'train', 'CLEVR_train_000002.png'))
  with pytest.raises(errors.DatasetNotFoundError,
                     match='CLEVR_train_000002.png is missing'):
    clevr.prepare(str(tmp_path / 'data'), base, image_size=SIZE)


def test_corrupt_png_names_the_file(tmp_path):
  base = clevr_fixture.make_release(str(tmp_path), {'train': 2, 'val': 1})
  bad = os.path.join(base, 'images', 'train', 'CLEVR_train_000001.png')
  with open(bad, 'r+b') as f:
    f.seek(60)
    f.write(b'\0' * 200)  # damage the image data after the header
  with pytest.raises(clevr.CorruptImageError, match='CLEVR_train_000001.png'):
    clevr.prepare(str(tmp_path / 'data'), base, image_size=SIZE)


def test_not_prepared_says_how_to_prepare(tmp_path):
  config = tiny_config(str(tmp_path))
  with pytest.raises(errors.DatasetNotFoundError,
                     match='hardattn.prepare --dataset=clevr'):
    clevr.get_dataset(config)


def test_main_reports_a_missing_release_in_one_line(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'hardattn.main',
       '--config=configs/clevr_han_rn.py', f'--workdir={tmp_path / "w"}',
       f'--config.data_dir={tmp_path / "data"}',
       f'--config.clevr.manual_dir={tmp_path / "nowhere"}'],
      cwd=REPO, capture_output=True, text=True, timeout=300,
      env=dict(os.environ, JAX_PLATFORMS='cpu'))
  assert result.returncode == 1
  assert 'Traceback' not in result.stderr
  assert f'No CLEVR release found at {tmp_path / "nowhere"}' in result.stderr


# ------------------------------------------------------------ Pipeline ----


def test_source_examples(prepared, release):
  q_builder, i_builder = clevr.builders(prepared, SIZE)
  vocab = clevr.load_vocabulary(q_builder)
  source = clevr.QuestionSource(q_builder.as_data_source('val'),
                                i_builder.as_data_source('val'), vocab, 5)
  questions = clevr_fixture.load_questions(release, 'val')
  ex = source[14]  # image 1, second question
  q = questions[14]
  assert ex['question'].dtype == np.int32 and ex['question'].shape == (5,)
  np.testing.assert_array_equal(ex['question'], vocab.encode(q['question'])[:5])
  assert vocab.answers[ex['answer']] == q['answer']
  assert ex['question_family'] == q['question_family_index']
  np.testing.assert_array_equal(
      ex['image'], i_builder.as_data_source('val')[1]['image'])
  long_source = clevr.QuestionSource(q_builder.as_data_source('val'),
                                     i_builder.as_data_source('val'), vocab,
                                     40)
  tokens = long_source[0]['question']
  n = len(vocab.encode(questions[0]['question']))
  assert np.all(tokens[:n] > 0) and np.all(tokens[n:] == 0)


def test_unknown_words_are_unk(prepared):
  config = tiny_config(prepared)
  iter_fn, meta = clevr.get_split(config, 'test', batch_size=4)
  batch = next(iter_fn())
  # 'Is there a zebra-striped cube?': zebra and striped never occur in train.
  text = meta.question_text(batch['question'][1])
  assert text == 'is there a <unk> <unk> cube'


def test_long_questions_error_or_truncate(prepared, caplog):
  config = tiny_config(prepared, max_question_length=6,
                       long_questions='error')
  with pytest.raises(errors.UserError,
                     match=r'36 of 78 CLEVR train questions are longer than '
                     r'config.clevr.max_question_length=6 .*longest has 14'):
    clevr.get_dataset(config)
  config = tiny_config(prepared, max_question_length=6)
  with caplog.at_level(logging.WARNING):
    train_iter, _, meta = clevr.get_dataset(config)
  assert 'cut to their first 6 tokens' in caplog.text
  assert next(train_iter)['question'].shape == (8, 6)
  assert meta.question_shape == (6,)
  config = tiny_config(prepared, long_questions='drop')
  config.clevr.max_question_length = 6
  with pytest.raises(errors.UserError, match="'truncate' or 'error'"):
    clevr.get_dataset(config)


def test_batches_and_meta(prepared):
  config = tiny_config(prepared)
  train_iter, eval_fn, meta = clevr.get_dataset(config)
  batch = next(train_iter)
  assert batch['image'].shape == (8, SIZE, SIZE, 3)
  assert batch['image'].dtype == np.uint8
  assert batch['question'].shape == (8, 16)
  assert set(batch) == {'image', 'question', 'answer', 'question_type',
                        'question_family', 'mask'}
  assert meta.num_answers == 12 and meta.question_kind == 'tokens'
  assert (meta.num_train_examples, meta.num_eval_examples) == (78, 52)
  eval_batches = list(eval_fn())
  assert len(eval_batches) == 4  # 52 questions in batches of 16, padded
  assert sum(int(b['mask'].sum()) for b in eval_batches) == 52


# --------------------------------------------------- Scenes and roles ----
O, R, A, N = (attention_quality.OTHER, attention_quality.RELEVANT,
              attention_quality.ASKED, attention_quality.NONE)


def _hand_scene():
  """Five objects; x grows to the right, y to the back."""
  objects = [
      ('red', 'cube', 'large', 'rubber', -1, 0),
      ('blue', 'sphere', 'small', 'metal', 0, 1),
      ('red', 'sphere', 'large', 'metal', 2, -1),
      ('green', 'cylinder', 'small', 'rubber', -2, 2),
      ('red', 'cylinder', 'small', 'metal', 1, -2),
  ]
  xs = [o[4] for o in objects]
  ys = [o[5] for o in objects]
  n = range(len(objects))
  return {
      'objects': [dict(color=c, shape=s, size=z, material=m,
                       pixel_coords=[240, 160, 10.0])
                  for c, s, z, m, _, _ in objects],
      'relationships': {
          'left': [[j for j in n if xs[j] < xs[i]] for i in n],
          'right': [[j for j in n if xs[j] > xs[i]] for i in n],
          'front': [[j for j in n if ys[j] < ys[i]] for i in n],
          'behind': [[j for j in n if ys[j] > ys[i]] for i in n],
      },
  }


def _program(*steps):
  return [{'function': f, 'inputs': list(i), 'value_inputs': list(v)}
          for f, i, v in steps]


SCENE = (('scene', (), ()),)
BLUE = SCENE + (('filter_color', (0,), ('blue',)), ('unique', (1,), ()))
GREEN = SCENE + (('filter_color', (0,), ('green',)), ('unique', (1,), ()))


@pytest.mark.parametrize('steps,answer,roles', [
    # The blue thing's shape: it is asked about.
    (BLUE + (('query_shape', (2,), ()),), 'sphere', [O, A, O, O, O]),
    # Red things left of the blue thing: red and left (object 0) counts,
    # left but green (3) and red but right (2, 4) do not.
    (BLUE + (('relate', (2,), ('left',)), ('filter_color', (3,), ('red',)),
             ('count', (4,), ())), 1, [R, A, O, O, O]),
    (SCENE + (('filter_shape', (0,), ('sphere',)), ('exist', (1,), ())),
     True, [O, R, R, O, O]),
    # Things of the green thing's size: it is asked, they are counted.
    (GREEN + (('same_size', (2,), ()), ('count', (3,), ())), 2,
     [O, R, O, A, R]),
    # The green thing's material against the cube's: both asked.
    (GREEN + (('query_material', (2,), ()), ('scene', (), ()),
              ('filter_shape', (4,), ('cube',)), ('unique', (5,), ()),
              ('query_material', (6,), ()),
              ('equal_material', (3, 7), ())), True, [A, O, O, A, O]),
    # As many cylinders as large things: all four are compared.
    (SCENE + (('filter_shape', (0,), ('cylinder',)), ('count', (1,), ()),
              ('scene', (), ()), ('filter_size', (3,), ('large',)),
              ('count', (4,), ()), ('equal_integer', (2, 5), ())), True,
     [R, O, R, R, R]),
    # Things behind the red sphere (red things intersect spheres).
    (SCENE + (('filter_color', (0,), ('red',)), ('scene', (), ()),
              ('filter_shape', (2,), ('sphere',)), ('intersect', (1, 3), ()),
              ('unique', (4,), ()), ('relate', (5,), ('behind',)),
              ('count', (6,), ())), 3, [R, R, A, R, O]),
    (SCENE + (('filter_color', (0,), ('red',)), ('scene', (), ()),
              ('filter_shape', (2,), ('sphere',)), ('union', (1, 3), ()),
              ('count', (4,), ())), 4, [R, R, R, O, R]),
    (SCENE + (('filter_color', (0,), ('red',)), ('count', (1,), ()),
              ('scene', (), ()), ('filter_shape', (3,), ('sphere',)),
              ('count', (4,), ()), ('greater_than', (2, 5), ())), True,
     [R, R, R, O, R]),
])
def test_program_roles(steps, answer, roles):
  scene = _hand_scene()
  program = _program(*steps)
  assert clevr.execute(program, scene)[-1] == answer
  got, executed = clevr.object_roles(program, scene)
  assert executed and got.dtype == np.int8
  np.testing.assert_array_equal(got, roles + [N] * 5)
  # Older releases: 'type' and 'side_inputs', or the value in the name.
  old = [{'type': n['function'], 'inputs': n['inputs'],
          'side_inputs': n['value_inputs']} for n in program]
  named = [{'function': n['function'] + ''.join(
      f'[{v}]' for v in n['value_inputs']), 'inputs': n['inputs']}
           for n in program]
  for other in (old, named):
    np.testing.assert_array_equal(clevr.object_roles(other, scene)[0], got)


@pytest.mark.parametrize('steps', [
    SCENE + (('filter_color', (0,), ('red',)), ('unique', (1,), ()),
             ('query_shape', (2,), ())),  # three red things
    SCENE + (('filter_color', (0,), ('purple',)), ('unique', (1,), ()),
             ('query_shape', (2,), ())),  # none
    SCENE + (('relate', (0,), ('left',)), ('count', (1,), ())),  # a set
    BLUE + (('count', (2,), ()),),  # count of one object
    SCENE + (('query_color', (0,), ()),),  # query of a set
    SCENE + (('frobnicate', (0,), ()),),
    SCENE + (('count', (2,), ()), ('scene', (), ())),  # a later node
    BLUE + (('relate', (2,), ('above',)), ('count', (3,), ())),
    BLUE + (('query_shape', (2,), ()), ('query_size', (2,), ()),
            ('less_than', (3, 4), ())),  # compares words
])
def test_programs_that_do_not_execute_have_no_roles(steps):
  scene = _hand_scene()
  program = _program(*steps)
  with pytest.raises(clevr.ProgramError):
    clevr.execute(program, scene)
  roles, executed = clevr.object_roles(program, scene)
  assert not executed
  np.testing.assert_array_equal(roles, [O] * 5 + [N] * 5)


def test_missing_program_has_no_roles():
  roles, executed = clevr.object_roles(None, _hand_scene())
  assert not executed and list(roles) == [O] * 5 + [N] * 5


def _object(size, x, y, depth):
  return dict(color='red', shape='cube', material='rubber', size=size,
              pixel_coords=[x, y, depth])


def test_scene_boxes():
  boxes = clevr.scene_boxes({'objects': [
      _object('large', 240, 160, 10.0), _object('large', 240, 160, 5.0),
      _object('small', 5, 310, 8.0)]})
  assert boxes.shape == (clevr.MAX_OBJECTS, 4) and boxes.dtype == np.float32
  scale = np.array([480, 320, 480, 320])
  half = 525 * 0.7 / 10  # pixels
  np.testing.assert_allclose(
      boxes[0] * scale, [240 - half, 160 - half, 240 + half, 160 + half],
      rtol=1e-6)
  # Twice as near, twice as big.
  np.testing.assert_allclose(
      boxes[1] * scale, [240 - 2 * half, 160 - 2 * half, 240 + 2 * half,
                         160 + 2 * half], rtol=1e-6)
  # Small: half the radius; clipped to the image.
  half = 525 * 0.35 / 8
  np.testing.assert_allclose(boxes[2] * scale,
                             [0, 310 - half, 5 + half, 320], rtol=1e-6)
  assert not np.any(boxes[3:])
  for bad in ([_object('large', 1, 1, 10.0)] * 11,
              [_object('large', 1, 1, 0.0)], [_object('medium', 1, 1, 9.0)]):
    with pytest.raises(ValueError):
      clevr.scene_boxes({'objects': bad})


def test_focal_length_fits_the_release():
  """CLEVR_val_000000's five objects (3d_coords and pixel_coords of the
  release's scenes file): a linear pinhole fit of pixel * depth against the
  3D point gives the focal length (x: 525.3, y: 518.8; pixels are rounded)."""
  points = np.array([[-1.4937, -1.9936, 0.7], [1.5557, -2.1047, 0.7],
                     [-2.3422, -0.5205, 0.35], [-0.8073, 1.9141, 0.7],
                     [2.6764, 0.0345, 0.35]])
  pixels = np.array([[119, 131, 10.8020], [198, 190, 8.6010],
                     [161, 118, 12.3727], [282, 100, 12.4950],
                     [337, 195, 9.1612]])
  homogeneous = np.c_[points, np.ones(5)]
  depth = pixels[:, 2]
  # Pixels from the image's centre (y up), times depth, are linear in the
  # point; the rows' norms are the focal length.
  for offset in (pixels[:, 0] - 240, 160 - pixels[:, 1]):
    row = np.linalg.lstsq(homogeneous, offset * depth, rcond=None)[0]
    assert np.linalg.norm(row[:3]) == pytest.approx(clevr.FOCAL_LENGTH,
                                                    rel=0.02)


def _fixture_roles(question, scene):
  """The roles the fixture's question families mean, written out."""
  objects = scene['objects']
  roles = [O] * len(objects) + [N] * (clevr.MAX_OBJECTS - len(objects))
  cubes = [j for j, o in enumerate(objects) if o['shape'] == 'cube']
  family = question['question_family_index']
  relevant, asked = {
      0: (cubes, []),
      1: ([j for j in scene['relationships']['left'][0] if j in cubes], [0]),
      2: ([1] + cubes, []), 3: ([1] + cubes, []), 4: ([1] + cubes, []),
  }.get(family, ([], [0] if family < 9 else [0, 1]))
  for j in relevant:
    roles[j] = R
  for j in asked:
    roles[j] = A
  return roles


def test_eval_batches_carry_objects(prepared, release):
  config = tiny_config(prepared)
  train_iter, eval_fn, _ = clevr.get_dataset(config)
  assert 'object_roles' not in next(train_iter)
  iter_fn, _ = clevr.get_split(config, 'val', batch_size=4)
  assert 'object_roles' not in next(iter_fn())
  questions = clevr_fixture.load_questions(release, 'val')
  scenes = clevr_fixture.load_scenes(release, 'val')
  examples = []
  for batch in eval_fn():
    assert batch['object_boxes'].shape == (16, clevr.MAX_OBJECTS, 4)
    assert batch['object_boxes'].dtype == np.float32
    assert batch['object_roles'].shape == (16, clevr.MAX_OBJECTS)
    assert batch['object_roles'].dtype == np.int32
    examples += [{k: v[i] for k, v in batch.items()}
                 for i in np.flatnonzero(batch['mask'])]
  assert len(examples) == len(questions) == 52
  relevant = 0
  for ex, q in zip(examples, questions):
    scene = scenes[q['image_index']]
    # Pixels of the stored SIZE x SIZE image.
    np.testing.assert_allclose(
        ex['object_boxes'], clevr.scene_boxes(scene) * SIZE, rtol=1e-6)
    assert list(ex['object_roles']) == _fixture_roles(q, scene)
    relevant += np.sum(ex['object_roles'] == R)
  assert relevant > 0
  # The box of the image's biggest object sits on it in the stored image
  # (a box scaled wrongly, e.g. y by SIZE / 480, misses the small ones).
  for ex, q in zip(examples[::13], questions[::13]):
    objects = scenes[q['image_index']]['objects']
    sizes = (ex['object_boxes'][:, 2] - ex['object_boxes'][:, 0])
    big = int(np.argmax(sizes))
    x0, y0, x1, y1 = ex['object_boxes'][big]
    pixel = ex['image'][int((y0 + y1) / 2), int((x0 + x1) / 2)]
    np.testing.assert_allclose(
        pixel, clevr_fixture.COLORS[objects[big]['color']], atol=40)


def test_release_without_scenes_has_no_objects(tmp_path):
  base = clevr_fixture.make_release(str(tmp_path), {'train': 2, 'val': 1},
                                    scenes=False)
  data_dir = str(tmp_path / 'data')
  q_builder, _ = clevr.prepare(data_dir, base, image_size=SIZE)
  assert clevr.scene_splits(q_builder) == ()
  record = q_builder.as_data_source('val')[0]
  assert np.all(record['object_roles'] == N)
  config = tiny_config(data_dir)
  _, eval_fn, _ = clevr.get_dataset(config)
  batch = next(eval_fn())
  assert 'object_roles' not in batch and 'object_boxes' not in batch


def test_unexecuted_programs_are_counted_and_logged(tmp_path, caplog):
  base = clevr_fixture.make_release(str(tmp_path), {'train': 2, 'val': 1})
  path = os.path.join(base, 'questions', 'CLEVR_val_questions.json')
  with open(path) as f:
    data = json.load(f)
  query = data['questions'][5]  # What color is the <color> object?
  assert query['program'][2]['function'] == 'unique'
  query['program'][2]['inputs'] = [0]  # unique of the whole scene
  with open(path, 'w') as f:
    json.dump(data, f)
  with caplog.at_level(logging.INFO):
    q_builder, _ = clevr.prepare(str(tmp_path / 'data'), base,
                                 image_size=SIZE)
  messages = [r.getMessage() for r in caplog.records
              if 'do not execute' in r.getMessage()]
  assert messages == [
      'CLEVR scenes: 0 of 26 train and 1 of 13 val questions have programs '
      'that do not execute on their scenes (they get no asked or relevant '
      'objects).']
  assert q_builder.info.metadata['unexecuted_programs'] == {'train': 0,
                                                            'val': 1}
  roles = q_builder.as_data_source('val')[5]['object_roles']
  num_objects = len(clevr_fixture.scene('val', 0)['objects'])
  assert list(roles) == [O] * num_objects + [N] * (10 - num_objects)


def test_a_scene_missing_for_a_question_names_the_file(tmp_path):
  base = clevr_fixture.make_release(str(tmp_path), {'train': 2, 'val': 1})
  path = os.path.join(base, 'scenes', 'CLEVR_train_scenes.json')
  with open(path) as f:
    data = json.load(f)
  del data['scenes'][1]
  with open(path, 'w') as f:
    json.dump(data, f)
  with pytest.raises(errors.DatasetNotFoundError,
                     match='CLEVR_train_scenes.json has no scene of image 1'):
    clevr.prepare(str(tmp_path / 'data'), base, image_size=SIZE)


def test_questions_prepared_before_objects_must_be_prepared_again(
    release, tmp_path, monkeypatch):
  data_dir = str(tmp_path)
  with monkeypatch.context() as m:
    m.setattr(clevr.ClevrQuestions, 'VERSION', clevr.tfds.core.Version(
        '1.0.0'))
    clevr.prepare(data_dir, release, image_size=SIZE)
  q_builder, i_builder = clevr.builders(data_dir, SIZE)
  assert i_builder.is_prepared() and not q_builder.is_prepared()
  with pytest.raises(errors.DatasetNotFoundError,
                     match='hardattn.prepare --dataset=clevr'):
    clevr.get_dataset(tiny_config(data_dir))


# -------------------------------------------------------- Augmentation ----


def _pattern(h=16, w=16):
  rng = np.random.default_rng(0)
  return rng.integers(1, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize('interpolation', ['nearest', 'bilinear'])
def test_affine_identity_and_shift_are_exact(interpolation):
  image = _pattern()
  np.testing.assert_array_equal(
      clevr.affine_transform(image, 0.0, (0, 0), interpolation), image)
  shifted = clevr.affine_transform(image, 0.0, (3, -2), interpolation)
  want = np.zeros_like(image)
  want[0:14, 3:16] = image[2:16, 0:13]  # content moves right 3, up 2
  np.testing.assert_array_equal(shifted, want)


def test_affine_quarter_turn_is_rot90():
  image = _pattern()
  np.testing.assert_array_equal(
      clevr.affine_transform(image, np.pi / 2, (0, 0), 'nearest'),
      np.rot90(image, k=1))
  turned = clevr.affine_transform(image, np.pi / 2, (0, 0), 'bilinear')
  # Counter-clockwise as displayed (rows go down); cos(pi/2) is 6e-17 in
  # floating point, which moves a few bilinear results by one level.
  np.testing.assert_allclose(turned, np.rot90(image, k=1), atol=1, rtol=0)


def test_augment_is_seeded_bounded_and_varies():
  image = _pattern(32, 32)
  a = clevr.augment(image, np.random.default_rng(7), pad=4, max_rotation=0.05)
  b = clevr.augment(image, np.random.default_rng(7), pad=4, max_rotation=0.05)
  c = clevr.augment(image, np.random.default_rng(8), pad=4, max_rotation=0.05)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
  # No padding and no rotation: the image is untouched.
  np.testing.assert_array_equal(
      clevr.augment(image, np.random.default_rng(7), pad=0, max_rotation=0),
      image)
  # Shifts stay within the pad: the centre 24x24 keeps content.
  for seed in range(20):
    out = clevr.augment(image, np.random.default_rng(seed), pad=4,
                        max_rotation=0.05)
    assert np.all(out[5:-5, 5:-5].max(axis=-1) > 0)


@pytest.mark.parametrize('input_kind', clevr.INPUTS)
def test_train_batches_are_augmented_and_repeat_exactly(prepared,
                                                        input_kind):
  config = tiny_config(prepared, input=input_kind, augment_on='host')
  first = [next(clevr.get_dataset(config)[0]) for _ in range(2)]
  np.testing.assert_array_equal(first[0]['image'], first[1]['image'])
  plain = tiny_config(prepared, input=input_kind, augment=False)
  unaugmented = next(clevr.get_dataset(plain)[0])
  np.testing.assert_array_equal(unaugmented['question'],
                                first[0]['question'])
  assert not np.array_equal(unaugmented['image'], first[0]['image'])
  # On the device (the default), the host leaves the images alone.
  device = tiny_config(prepared, input=input_kind)
  np.testing.assert_array_equal(next(clevr.get_dataset(device)[0])['image'],
                                unaugmented['image'])
  assert clevr.device_augment(device) is not None
  assert clevr.device_augment(config) is None
  assert clevr.device_augment(plain) is None


def test_arrays_hold_what_the_records_hold(prepared):
  config = tiny_config(prepared)
  q_builder, i_builder, vocab = clevr._open(config)
  source = clevr._source(q_builder, i_builder, vocab, 'train', config)
  arrays = clevr.train_arrays(prepared, q_builder, i_builder, vocab, 16)
  assert len(arrays['answer']) == len(source) == 78
  for i in range(len(source)):
    example = source[i]
    np.testing.assert_array_equal(
        arrays['images'][arrays['image_index'][i]], example['image'])
    for key in ('question', 'answer', 'question_type', 'question_family'):
      np.testing.assert_array_equal(arrays[key][i], example[key])
  # Built once; a shorter batch length cuts the stored tokens.
  short = clevr.train_arrays(prepared, q_builder, i_builder, vocab, 3)
  np.testing.assert_array_equal(short['question'], arrays['question'][:, :3])


def test_questions_share_images_only_from_arrays(prepared):
  config = tiny_config(prepared)
  config.questions_per_image = 2
  batch = next(clevr.get_dataset(config)[0])
  assert batch['image'].shape == (4, SIZE, SIZE, 3)
  assert batch['question'].shape == (8, 16) and batch['mask'].shape == (8,)
  config.clevr.input = 'records'
  with pytest.raises(errors.UserError, match="clevr.input='arrays'"):
    clevr.get_dataset(config)


@pytest.mark.parametrize('field', ['input', 'augment_on', 'interpolation'])
def test_bad_input_settings_name_the_field(prepared, field):
  config = tiny_config(prepared, **{field: 'typo'})
  with pytest.raises(errors.UserError, match=f'config.clevr.{field}'):
    clevr.get_dataset(config)


# ----------------------------------------------- Training and export ----


def test_train_han_rn_and_export_test_answers(prepared, release, tmp_path):
  """configs/clevr_han_rn.py, tiny: trains, reports every type, exports."""
  config = tiny_config(prepared)
  workdir = str(tmp_path / 'run')
  report = train.train_and_evaluate(config, workdir)
  groups = ['count', 'exist', 'compare_numbers', 'query_attribute',
            'compare_attribute']
  assert [row[0] for row in report['table']] == ['overall'] + groups
  assert set(clevr.QUESTION_TYPES) | set(groups) <= set(
      report['accuracy_by_type'])
  assert report['split'] == 'val' and report['num_examples'] == 52
  with open(os.path.join(workdir, 'eval_report.json')) as f:
    saved = json.load(f)
  assert saved['table'][0][0] == 'overall'
  # The val scenes give attention quality (hardattn.attention_quality): the
  # fixture's questions ask about objects (query, compare) and need more
  # than they ask about (count, compare numbers, exist).
  attention = saved['attention']
  assert set(attention_quality.HARD_FIELDS) <= set(attention) <= set(
      attention_quality.HARD_FIELDS + attention_quality.ANSWER_FIELDS)
  assert all(0 <= v <= 1 for v in attention.values())
  assert 0 < attention['object_cells'] < 1
  assert os.listdir(os.path.join(workdir, 'pictures'))
  history = [json.loads(l) for l in open(
      os.path.join(workdir, 'eval_history.jsonl'))]
  assert history[-1]['step'] == 12

  from hardattn import export  # pylint: disable=g-import-not-at-top
  output = str(tmp_path / 'answers.txt')
  assert export.export_answers(config, workdir, 'test', output) == 4
  lines = open(output).read().splitlines()
  vocab = clevr.load_vocabulary(clevr.builders(prepared, SIZE)[0])
  assert len(lines) == 4 and all(a in vocab.answers for a in lines)
  # A config whose model differs from the trained one: one clear error.
  config.model.lstm_dim = 24
  with pytest.raises(errors.UserError, match='does not fit this config'):
    export.export_answers(config, workdir, 'test', output)


def test_export_without_checkpoint_is_a_user_error(prepared, tmp_path):
  from hardattn import export  # pylint: disable=g-import-not-at-top
  with pytest.raises(errors.UserError, match='No checkpoints'):
    export.export_answers(tiny_config(prepared), str(tmp_path), 'test',
                          str(tmp_path / 'a.txt'))


@pytest.mark.parametrize('name', ['clevr_rn', 'clevr_adahan_rn',
                                  'clevr_han_sum', 'clevr_han_rn:per_image=2'])
def test_other_clevr_configs_train(prepared, tmp_path, name):
  config = tiny_config(prepared, name=name)
  config.num_train_steps = 2
  config.eval_every_steps = 2
  config.checkpoint_every_steps = 2
  config.num_eval_batches = 1
  config.num_pictures = 0
  if name == 'clevr_adahan_rn':
    config.model.adahan_max_cells = 8  # of the 16 tiny cells
  report = train.train_and_evaluate(config, str(tmp_path))
  assert np.isfinite(report['loss'])


def test_prepare_command(release, tmp_path):
  def prepare(*flags):
    return subprocess.run(
        [sys.executable, '-m', 'hardattn.prepare', '--dataset=clevr',
         f'--data_dir={tmp_path}', f'--image_size={SIZE}', *flags],
        cwd=REPO, capture_output=True, text=True, timeout=300)

  missing = prepare(f'--manual_dir={tmp_path / "nowhere"}')
  assert missing.returncode == 1 and 'Traceback' not in missing.stderr
  assert f'No CLEVR release found at {tmp_path / "nowhere"}' in (
      missing.stderr)
  done = prepare(f'--manual_dir={release}')
  assert done.returncode == 0, done.stderr
  assert 'clevr_questions' in done.stdout and f'img{SIZE}' in done.stdout
  assert all(b.is_prepared() for b in clevr.builders(str(tmp_path), SIZE))
