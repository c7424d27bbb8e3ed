"""DAQUAR: the official files, bad input, and SMem / iBOWIMG end to end:
prepare, a few training steps, evaluation with accuracy and WUPS, export,
and hardattn.predict."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from hardattn import datasets
from hardattn import errors
from hardattn import export
from hardattn import predict
from hardattn import train
from hardattn import wups
from hardattn.datasets import clevr
from hardattn.datasets import daquar
from hardattn.datasets import vqa
from tests import daquar_fixture
from tests import vqa_fixture

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def release(tmp_path_factory):
  return daquar_fixture.write_release(str(tmp_path_factory.mktemp('daquar')))


def tiny(spec, release, data_dir):
  """configs/<spec> on the fixture: tiny GoogLeNet (random), tiny model."""
  return vqa_fixture.tiny_config(
      spec, data_dir, 'daquar', vqa_fixture.TINY_SMEM_MODEL,
      manual_dir=release, backbone='googlenet_tiny', heldout_fraction=0.2)


# ---------------------------------------------------------------- Files ----


def test_reads_the_official_files(release):
  paths = daquar.locate('reduced', release)
  assert paths['train'].endswith('qa.37.raw.train.txt')
  entries = daquar.read_split(paths['test'])
  assert len(entries) == 2 * len(daquar_fixture.QA)
  assert entries[0] == {'question': 'what is on the desk in the image7 ?',
                        'image_id': 7, 'answer': 'book, scissor', 'line': 1}
  assert entries[6]['line'] == 13
  assert daquar.canonical('scissor ,book, scissor') == 'book, scissor'
  assert daquar.question_words('what is in the image12 ?') == (
      'what is in the image ?')
  assert daquar.QUESTION_TYPES[daquar.question_type('lamp, pillow')] == (
      'answer/list')


@pytest.mark.parametrize('text,line,match', [
    ('what is on the desk in the image1 ?\n \nwhat is in the image2 ?\nsofa\n',
     2, 'empty answer line'),
    ('what is it ?\nchair\n', 1, 'names no image'),
    ('what is on the desk in the image1 ?\nchair\n\nsofa\n', 3,
     'empty question line'),
    ('what is on the desk in the image1 ?\nchair\nwhat is in the image2 ?\n',
     3, 'no answer line'),
])
def test_bad_lines_name_file_and_line(tmp_path, text, line, match):
  path = tmp_path / 'qa.37.raw.train.txt'
  path.write_text(text)
  with pytest.raises(errors.DatasetNotFoundError, match=match) as e:
    daquar.read_split(str(path))
  assert str(e.value).startswith(f'{path}:{line}: ')
  assert '\n' not in str(e.value)


def test_missing_files_and_images_are_named(release, tmp_path):
  with pytest.raises(errors.DatasetNotFoundError,
                     match='qa.894.raw.train.txt, qa.894.raw.test.txt'):
    daquar.locate('full', str(tmp_path))
  partial = tmp_path / 'partial'
  shutil.copytree(release, partial)
  os.remove(partial / 'nyu_depth_images' / 'image8.png')
  with pytest.raises(errors.DatasetNotFoundError) as e:
    daquar.prepare_questions(str(tmp_path / 'data'), 'reduced', str(partial))
  message = str(e.value)
  assert message.startswith(f'{partial}/qa.37.raw.test.txt:11: ')
  assert 'image8' in message and 'nyu_depth_images' in message


def test_unprepared_data_names_the_command(release, tmp_path):
  config = tiny('daquar_smem.py', release, str(tmp_path))
  config.daquar.manual_dir = None
  with pytest.raises(errors.DatasetNotFoundError,
                     match='hardattn.prepare --dataset=daquar_reduced'):
    datasets.get_dataset(config)


# ------------------------------------------------------------- Examples ----


def test_examples_and_classes(release, data_dir):
  config = tiny('daquar_smem.py', release, data_dir)
  iter_fn, meta = daquar.get_split(config, 'test', batch_size=5)
  batch = next(iter_fn())
  # Every train answer a class, the canonical sets; five answers, each on
  # six train images: a tie, alphabetical.
  assert meta.answer_names == ('2', 'book, scissor', 'brown', 'lamp, pillow',
                               'sofa')
  assert meta.image_shape == (2, 2, 64) and meta.image_dtype == 'float16'
  assert batch['image'].shape == (5, 2, 2, 64)
  names = [meta.answer_names[a] for a in batch['answer']]
  assert names == ['book, scissor', '2', 'sofa', 'brown', 'lamp, pillow']
  assert meta.question_text(batch['question'][0]) == (
      'what is on the desk in the image')  # the tokenizer drops '?'
  assert meta.pictures(batch).shape == (5, vqa.THUMBNAIL_SIZE,
                                        vqa.THUMBNAIL_SIZE, 3)
  # A typed question is encoded as training encodes it: the image's name
  # is the word 'image', unknown words are <unk>.
  inputs = daquar.prediction_inputs(config, meta)
  np.testing.assert_array_equal(
      daquar.encode_question('what is on the desk in the image7 ?', inputs),
      batch['question'][0])
  tokens = daquar.encode_question('what is on the xyzzy in the image99 ?',
                                  inputs)
  assert tokens[4] == clevr.UNK and inputs['tokens'][tokens[7]] == 'image'
  _, heldout = daquar.get_split(config, 'heldout', batch_size=5)
  assert heldout.num_eval_examples == 6  # 0.2 of 30


def test_long_questions_are_cut_with_a_logged_count(release, data_dir,
                                                    caplog):
  config = tiny('daquar_smem.py', release, data_dir)
  config.daquar.max_question_length = 8
  with caplog.at_level('WARNING'):
    iter_fn, _ = daquar.get_split(config, 'test', batch_size=5)
  # 'what is on the left side of the bed in the image ?' has 12 tokens,
  # 'what is in front of the wall in the image ?' 9 ('?' is dropped).
  assert ('4 of 10 DAQUAR test questions are longer than '
          'config.daquar.max_question_length=8 tokens') in caplog.text
  assert next(iter_fn())['question'].shape == (5, 8)
  config.daquar.long_questions = 'error'
  with pytest.raises(errors.UserError, match='Raise max_question_length'):
    daquar.get_split(config, 'test', batch_size=5)


# ------------------------------------------------------------- Training ----


@pytest.mark.parametrize('spec', ['daquar_smem.py:hops=2',
                                  'daquar_smem.py:hops=1',
                                  'daquar_ibowimg.py'])
def test_trains_evaluates_exports_and_predicts(spec, release, data_dir,
                                               tmp_path):
  config = tiny(spec, release, data_dir)
  workdir = str(tmp_path / 'work')
  report = train.train_and_evaluate(config, workdir)
  assert report['step'] == 3 and report['split'] == 'test'
  assert report['num_examples'] == 10 and np.isfinite(report['loss'])
  assert [r[0] for r in report['table']] == ['overall', 'answer']
  assert os.listdir(os.path.join(workdir, 'pictures'))
  # Export: one answer per line, and accuracy and WUPS by DAQUAR's script;
  # its accuracy is the eval step's.
  output = str(tmp_path / 'answers.txt')
  returned = {}
  assert export.export_answers(config, workdir, 'test', output,
                               returned) == 10
  with open(output) as f:
    answers = f.read().splitlines()
  truth = [a for _, a in daquar_fixture.questions(daquar_fixture.TEST_IMAGES)]
  with open(str(tmp_path / 'answers.scores.json')) as f:
    scores = json.load(f)
  assert scores == pytest.approx(dict(wups.scores(answers, truth),
                                      num_examples=10))
  assert scores['accuracy'] == pytest.approx(report['accuracy'])
  assert returned == scores
  assert scores['wups_0.0'] >= scores['wups_0.9'] >= scores['accuracy']
  image = os.path.join(release, 'nyu_depth_images', 'image7.png')
  predictor = predict.Predictor(workdir)
  prediction = predictor.answer(image, 'what is on the desk in the image7 ?')
  assert prediction.answer in daquar.Metadata(
      daquar.builders(data_dir, 'reduced')[0], 0).answers
  if 'ibowimg' not in spec:
    return
  # hardattn.predict, in a fresh process, from the workdir alone.
  out = subprocess.run(
      [sys.executable, '-m', 'hardattn.predict', f'--workdir={workdir}',
       f'--image={image}', '--question=what is on the desk in the image7 ?',
       '--top_k=3', f'--output_dir={tmp_path}'],
      cwd=REPO, capture_output=True, text=True, timeout=300,
      env=dict(os.environ, XLA_FLAGS='', JAX_PLATFORMS='cpu'))
  assert out.returncode == 0, out.stderr
  assert 'ibowimg on daquar' in out.stdout
  assert ' 1. ' in out.stdout and os.path.isfile(
      os.path.join(tmp_path, 'image7_0.png'))


def test_learns_the_fixture_answers(release, data_dir, tmp_path):
  """The answers depend on the question alone: SMem learns them, so the
  test accuracy and both WUPS reach 1."""
  config = vqa_fixture.train_to_learn(
      tiny('daquar_smem.py:hops=1', release, data_dir), 150, 1e-2)
  report = train.train_and_evaluate(config, str(tmp_path))
  assert report['accuracy'] == 1.0
  output = str(tmp_path / 'answers.txt')
  export.export_answers(config, str(tmp_path), 'test', output)
  with open(str(tmp_path / 'answers.scores.json')) as f:
    scores = json.load(f)
  assert scores['wups_0.9'] == scores['wups_0.0'] == 1.0


def test_prepare_command(release, tmp_path):
  """python -m hardattn.prepare --dataset=daquar_reduced: a missing image
  is one error line naming the question's file and line; then it
  prepares."""
  partial = tmp_path / 'partial'
  shutil.copytree(release, partial)
  os.remove(partial / 'nyu_depth_images' / 'image3.png')

  def prepare(manual_dir):
    return subprocess.run(
        [sys.executable, '-m', 'hardattn.prepare', '--dataset=daquar_reduced',
         f'--data_dir={tmp_path / "data"}', f'--manual_dir={manual_dir}',
         '--backbone=googlenet_tiny', '--image_size=64',
         f'--backbone_weights={vqa.RANDOM_WEIGHTS}'],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, XLA_FLAGS='', JAX_PLATFORMS='cpu'))

  out = prepare(partial)
  assert out.returncode == 1
  errors_ = [l for l in out.stderr.splitlines() if l.startswith('error:')]
  assert errors_ == [l for l in out.stderr.splitlines() if 'error' in l]
  assert errors_[0].startswith(f'error: {partial}/qa.37.raw.train.txt:21: ')
  out = prepare(release)
  assert out.returncode == 0, out.stderr
  assert '8 image grids ready' in out.stdout
