"""hardattn.predict and hardattn.assets: a trained run answers typed
questions about image files, without its config file or dataset."""

import json
import logging
import os
import re
import shutil
import subprocess
import sys

import jax
import ml_collections
import numpy as np
from PIL import Image
import pytest

from hardattn import assets
from hardattn import cli
from hardattn import datasets
from hardattn import errors
from hardattn import predict
from hardattn import train
from hardattn.datasets import clevr
from hardattn.datasets import inputs as inputs_lib
from hardattn.datasets import sort_of_clevr
from hardattn.datasets import spatial
from hardattn.datasets import vqa

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ANSWER_LINE = re.compile(r'^\s*(\d+)\. (.+?)\s+([0-9.]+)$')


def _config(data_dir: str) -> ml_collections.ConfigDict:
  config = cli.load_config(os.path.join(REPO, 'configs', 'test.py'))
  config.unlock()
  config.data_dir = data_dir
  config.num_train_steps = 4
  config.eval_every_steps = 4
  config.checkpoint_every_steps = 4
  config.num_pictures = 0
  config.num_eval_batches = 1
  config.lock()
  return config


@pytest.fixture(scope='module')
def run(tmp_path_factory):
  """One tiny trained run, a test image (75x75 and 150x150) and its scene."""
  root = tmp_path_factory.mktemp('predict')
  config = _config(str(root / 'data'))
  workdir = str(root / 'work')
  train.train_and_evaluate(config, workdir)
  scene = sort_of_clevr.generate_scene(0, 'test', 0)  # test image 0
  image = str(root / 'scene.png')
  Image.fromarray(scene.image).save(image)
  big = str(root / 'scene_big.png')
  Image.fromarray(scene.image).resize((150, 150), Image.NEAREST).save(big)
  return dict(config=config, workdir=workdir, scene=scene, image=image,
              big=big, root=root)


@pytest.fixture(scope='module')
def predictor(run):
  return predict.Predictor(run['workdir'])


def _predict(*flags):
  env = dict(os.environ, XLA_FLAGS='', JAX_PLATFORMS='cpu')
  return subprocess.run([sys.executable, '-m', 'hardattn.predict', *flags],
                        cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=300)


def _error_lines(stderr: str) -> list[str]:
  assert 'Traceback' not in stderr, stderr
  return [l for l in stderr.splitlines() if l.startswith('error:')]


# ------------------------------------------------------------------ CLI ----


def test_cli_prints_sorted_answers_and_writes_picture_of_a_resized_image(
    run, tmp_path):
  out = _predict(f'--workdir={run["workdir"]}', f'--image={run["big"]}',
                 '--question=What is the shape of the red object?',
                 '--top_k=5', f'--output_dir={tmp_path}')
  assert out.returncode == 0, out.stderr
  assert 'from 150x150 to 75x75' in out.stderr  # the resize is logged
  rows = [_ANSWER_LINE.match(l) for l in out.stdout.splitlines()]
  rows = [m for m in rows if m]
  assert [int(m[1]) for m in rows] == [1, 2, 3, 4, 5]
  probs = [float(m[3]) for m in rows]
  assert probs == sorted(probs, reverse=True)
  assert sum(probs) <= 1.0 + 1e-3
  assert all(m[2] in sort_of_clevr.ANSWER_NAMES for m in rows)
  picture = os.path.join(tmp_path, 'scene_big_0.png')
  assert f'Attention picture: {picture}' in out.stdout
  with Image.open(picture) as img:
    assert img.format == 'PNG' and img.size[0] > 200


def test_cli_text_file_as_image_is_a_one_line_error(run, tmp_path):
  text = tmp_path / 'notes.png'
  text.write_text('not an image')
  out = _predict(f'--workdir={run["workdir"]}', f'--image={text}',
                 '--question=Is the red object on the left?')
  assert out.returncode == 1
  (line,) = _error_lines(out.stderr)
  assert str(text) in line and 'image' in line


def _run(**flag_values):
  """hardattn.predict's program in this process, flags as keywords."""
  predict.run(flag_values)


def test_empty_question_is_an_error(run):
  with pytest.raises(errors.UserError, match='empty'):
    _run(workdir=run['workdir'], image=run['image'], question='   ')


def test_unreadable_question_lists_the_forms(run):
  with pytest.raises(errors.UserError) as e:
    _run(workdir=run['workdir'], image=run['image'],
         question='What colour is the ball?')
  assert 'What colour is the ball?' in str(e.value)
  for form in sort_of_clevr.question_forms():
    assert form in str(e.value)
  assert 'yellow' in str(e.value) and '\n' not in str(e.value)


def test_batch_writes_one_answer_per_question(run, predictor, tmp_path,
                                              capsys):
  texts = [sort_of_clevr.question_text(q) for q in run['scene'].questions]
  entries = [{'image': os.path.basename(run['image'] if i % 2 else run['big']),
              'question': t} for i, t in enumerate(texts)]
  questions = tmp_path / 'questions.json'
  questions.write_text(json.dumps(entries))
  output = tmp_path / 'answers.txt'
  # 20 questions: batches of 8, 8, 4.
  _run(workdir=run['workdir'], questions=str(questions),
       image_dir=str(run['root']), output=str(output), batch_size=8)
  assert f'20 answers -> {output}' in capsys.readouterr().out
  answers = output.read_text().splitlines()
  assert len(answers) == len(texts)
  want = predictor.answer_batch(
      [os.path.join(run['root'], e['image']) for e in entries], texts)
  assert answers == [p.answer for p in want]


def test_batch_of_vqa_style_file_needs_image_dir(tmp_path):
  questions = tmp_path / 'q.json'
  questions.write_text(json.dumps({'questions': [
      {'image_id': 9, 'question': 'what?', 'question_id': 90}]}))
  with pytest.raises(errors.UserError, match='--image_dir'):
    predict.read_questions(str(questions))
  coco = tmp_path / 'coco' / 'val2014'
  coco.mkdir(parents=True)
  (coco / 'COCO_val2014_000000000009.jpg').write_bytes(b'')
  images, texts, ids = predict.read_questions(str(questions),
                                              str(tmp_path / 'coco'))
  assert images == [str(coco / 'COCO_val2014_000000000009.jpg')]
  assert texts == ['what?'] and ids == [90]


def test_missing_workdir_files_say_what_to_do(tmp_path):
  with pytest.raises(errors.UserError, match='config.json and dataset.json '
                     'not found.*--config='):
    assets.load(str(tmp_path))


# ------------------------------------------------------------ Predictor ----


def test_assets_round_trip(run):
  loaded = assets.load(run['workdir'])
  assert loaded.config.to_dict() == run['config'].to_dict()
  assert loaded.config.model.g_features == (16, 16)  # a tuple again
  assert loaded.config.is_locked
  assert loaded.meta == sort_of_clevr.meta(40, 10)
  vec = run['scene'].questions[3]
  assert loaded.meta.question_text(vec) == sort_of_clevr.question_text(vec)


def test_predictor_agrees_with_predict_step(run, predictor):
  _, eval_batches, meta = datasets.get_dataset(run['config'])
  batch = next(iter(eval_batches()))
  texts = [meta.question_text(q) for q in batch['question']]
  encoded = np.stack([predictor.encode_question(t) for t in texts])
  np.testing.assert_array_equal(encoded, batch['question'])
  predicted, aux = jax.jit(train.predict_step)(
      predictor.state, {'image': batch['image'],
                        'question': batch['question']})
  probs, cell_mask, _ = predictor.predict_arrays(batch['image'], encoded)
  np.testing.assert_array_equal(np.argmax(probs, -1), predicted)
  np.testing.assert_allclose(cell_mask, aux['cell_mask'])
  np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
  # The same through images and question strings.
  answers = predictor.answer_batch(list(batch['image'][:6]), texts[:6])
  assert [p.answer for p in answers] == [
      meta.answer_names[a] for a in np.asarray(predicted)[:6]]


def test_resized_image_gets_the_same_answer(run, predictor, caplog,
                                            monkeypatch):
  question = 'How many objects have the same shape as the blue object?'
  # The resize is logged once per size pair in a process: another test in
  # this worker may have logged this one already.
  monkeypatch.setattr(inputs_lib, '_RESIZES_LOGGED', set())
  with caplog.at_level(logging.INFO):
    big = predictor.answer(run['big'], question)
  assert 'Resizing' in caplog.text
  # The model sees the image resized back to 75x75: the original up to
  # the edges' blur (a barely trained model may answer the two apart).
  fitted = inputs_lib.fit_image(np.asarray(Image.open(run['big'])), (75, 75))
  assert np.abs(fitted.astype(int) - run['scene'].image).mean() < 3
  as_fitted = predictor.answer(fitted, question)
  assert big.answers == as_fitted.answers
  same = predictor.answer(run['image'], question)
  assert big.picture.shape == same.picture.shape == (75, 75, 3)
  picture = predictor.picture([big, same])
  assert picture.dtype == np.uint8 and picture.ndim == 3
  with_truth = predictor.picture([big], true=['3'])
  assert with_truth.shape[1] == picture.shape[1]


def test_run_without_assets_gets_them_from_its_config(run, predictor,
                                                      tmp_path):
  old = tmp_path / 'old_run'
  shutil.copytree(os.path.join(run['workdir'], 'checkpoints'),
                  old / 'checkpoints')
  with pytest.raises(errors.UserError, match='--config'):
    predict.Predictor(str(old))
  restored = predict.Predictor(str(old), config=run['config'])
  assert assets.exists(str(old))
  question = 'Is the green object on the top?'
  assert (restored.answer(run['image'], question).answers ==
          predictor.answer(run['image'], question).answers)


def test_predictor_rejects_a_text_file(predictor, tmp_path):
  text = tmp_path / 'x.jpg'
  text.write_text('hello')
  with pytest.raises(errors.UserError, match=re.escape(str(text))):
    predictor.answer(str(text), 'Is the red object on the left?')


# -------------------------------------------------------------- Encoders ----


def test_sort_of_clevr_questions_round_trip():
  for question_type in range(len(sort_of_clevr.QUESTION_TYPES)):
    for color in range(sort_of_clevr.NUM_OBJECTS):
      vec = sort_of_clevr.question_vector(question_type, color)
      text = sort_of_clevr.question_text(vec)
      for variant in (text, text.upper(), text.rstrip('?'),
                      '  ' + text.replace(' ', '   ') + ' ?! '):
        got = sort_of_clevr.encode_question(variant)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, vec)
  np.testing.assert_array_equal(
      sort_of_clevr.encode_question('is the GREY object on the top'),
      sort_of_clevr.question_vector(2, sort_of_clevr.COLOR_NAMES.index(
          'gray')))


def test_sort_of_clevr_bad_questions():
  with pytest.raises(errors.UserError, match='Ask one of'):
    sort_of_clevr.encode_question('Is the red object big?')
  with pytest.raises(errors.UserError, match="'purple'.*red, green"):
    sort_of_clevr.encode_question('Is the purple object on the left?')
  with pytest.raises(errors.UserError, match='empty'):
    sort_of_clevr.encode_question(' ')


def test_spatial_encoder_matches_training_and_maps_unknown_words(caplog):
  inputs = spatial.prediction_inputs(None, spatial.meta(1, 1))
  text = 'Is there a red square left of the blue circle?'
  np.testing.assert_array_equal(spatial.encode_question(text, inputs),
                                spatial.tokenize(text))
  with caplog.at_level(logging.INFO):
    tokens = spatial.encode_question('is there a purple square on the top ?',
                                     inputs)
  assert tokens[3] == spatial.UNK and 'purple' in caplog.text
  assert spatial.question_decoder(inputs)(tokens) == (
      'is there a <unk> square on the top ?')
  with pytest.raises(errors.UserError, match='more than the 12'):
    spatial.encode_question('is there a red square ' * 3, inputs)


def _clevr_inputs(long_questions='truncate'):
  vocab = clevr.token_vocabulary({'train': [
      'What color is the big cube?', 'Is there a small sphere; what size?']})
  settings = ml_collections.ConfigDict(dict(max_question_length=6,
                                            long_questions=long_questions))
  return vocab, clevr.token_inputs(vocab, settings)


def test_clevr_encoder_matches_training(caplog):
  vocab, inputs = _clevr_inputs()
  text = 'What color is the big sphere?'
  tokens = clevr.encode_question(text, inputs)
  assert tokens.dtype == np.int32 and tokens.shape == (6,)
  assert list(tokens[:6]) == vocab.encode(text)
  with caplog.at_level(logging.INFO):
    tokens = clevr.encode_question('What colour is the big cube', inputs)
  assert tokens[1] == clevr.UNK and 'colour' in caplog.text
  with caplog.at_level(logging.WARNING):
    long = clevr.encode_question('is there a big cube ; what size is it',
                                 inputs)
  assert list(long) == vocab.encode('is there a big cube ;')
  assert 'cut to its first 6 tokens' in caplog.text
  _, strict = _clevr_inputs('error')
  with pytest.raises(errors.UserError, match='clevr.max_question_length'):
    clevr.encode_question('is there a big cube ; what size is it', strict)


def test_clevr_inputs_come_from_the_meta_vocabulary():
  vocab, _ = _clevr_inputs()
  meta = clevr.meta(vocab, image_size=32, max_length=6, num_train=1,
                    num_eval=1, eval_split='val')
  config = ml_collections.ConfigDict({'clevr': dict(
      max_question_length=6, long_questions='truncate')})
  inputs = clevr.prediction_inputs(config, meta)
  assert inputs['tokens'] == list(vocab.tokens)
  assert inputs['image_size'] == [32, 32]
  image, picture = clevr.prepare_image(
      np.zeros((20, 30, 3), np.uint8), inputs)
  assert image.shape == picture.shape == (32, 32, 3)


def test_vqa_encoder_and_grid_runs_need_backbone_weights():
  vocab, inputs = _clevr_inputs()
  inputs = dict(inputs, image_input='features', image_size=[64, 64],
                backbone='tiny', backbone_stages=4,
                backbone_weights='/no/such/weights.msgpack')
  np.testing.assert_array_equal(vqa.encode_question('what color is it', inputs),
                                clevr.encode_question('what color is it',
                                                      inputs))
  with pytest.raises(errors.UserError, match='--backbone_weights'):
    vqa.prepare_image(np.zeros((8, 8, 3), np.uint8), inputs)
  pixels = dict(inputs, image_input='pixels')
  image, _ = vqa.prepare_image(np.zeros((8, 8, 3), np.uint8), pixels)
  assert image.shape == (64, 64, 3)


def test_read_image_names_bad_files(tmp_path):
  with pytest.raises(errors.UserError, match='not found'):
    inputs_lib.read_image(str(tmp_path / 'missing.png'))
  grey = tmp_path / 'grey.png'
  Image.fromarray(np.full((5, 7), 9, np.uint8)).save(grey)
  assert inputs_lib.read_image(str(grey)).shape == (5, 7, 3)
