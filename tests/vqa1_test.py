"""VQA v1 through the VQA pipeline, on GoogLeNet grids, with SMem and
iBOWIMG: prepare, a few training steps, the official accuracy, the
evaluation server's results files, and hardattn.predict."""

import json
import os

import jax
import numpy as np
import pytest

from hardattn import datasets
from hardattn import errors
from hardattn import export
from hardattn import predict
from hardattn import sharding
from hardattn import train
from hardattn.datasets import vqa
from hardattn.datasets import vqa_answers
from tests import vqa_fixture

@pytest.fixture(scope='module')
def release(tmp_path_factory):
  return vqa_fixture.write_vqa_v1(str(tmp_path_factory.mktemp('release')))


def tiny(spec, release, data_dir):
  """configs/<spec> on the fixture: tiny GoogLeNet (random), tiny model."""
  config = vqa_fixture.tiny_config(
      spec, data_dir, 'vqa', vqa_fixture.TINY_SMEM_MODEL,
      manual_dir=release['vqa1'], coco_dir=release['coco1'],
      heldout_fraction=0.0)
  assert config.vqa.version == 'vqa_v1' and (
      config.vqa.backbone == 'googlenet')  # SMem-VQA's setting
  config.vqa.backbone = 'googlenet_tiny'
  return config


def test_reads_v1_and_the_server_splits(release):
  files = vqa.locate('vqa_v1', release['vqa1'])
  assert set(files) == {'train', 'val', 'test_dev', 'test'}
  assert files['test_dev'][1] is None
  dev = vqa.read_split(*files['test_dev'])
  assert [e['question_id'] for e in dev] == [9010, 9011, 9150, 9151]
  assert {e['coco_split'] for e in dev} == {'test2015'}  # not test-dev2015
  assert dev[0]['answers'] == [] and dev[0]['answer_type'] is None
  val = vqa.read_split(*files['val'])
  assert val[0]['question_id'] == 400 and len(val[0]['answers']) == 10


@pytest.mark.parametrize('spec', ['vqa1_smem.py:hops=2', 'vqa1_ibowimg.py'])
def test_trains_evaluates_and_writes_server_files(spec, release, data_dir,
                                                  tmp_path):
  config = tiny(spec, release, data_dir)
  workdir = str(tmp_path / 'work')
  report = train.train_and_evaluate(config, workdir)
  assert report['step'] == 3 and report['split'] == 'val'
  assert report['num_examples'] == 18
  assert [r[0] for r in report['table']] == [
      'overall', 'yes_no', 'number', 'other']
  # The eval step's accuracy is the official one on the predictions.
  mesh = sharding.create_mesh()
  iter_fn, meta = vqa.get_split(config, 'val', batch_size=8)
  assert meta.image_shape == (2, 2, 64)  # googlenet_tiny at 64
  state, _ = train.restore_for_inference(config, workdir, meta, mesh)
  predict_fn = jax.jit(train.predict_step)
  records = vqa.builders(data_dir, 'vqa_v1')[0].as_data_source('val')
  scores, k = [], 0
  for batch in iter_fn():
    predicted, _ = predict_fn(state, sharding.to_global(
        {key: batch[key] for key in ('image', 'question')}, mesh))
    for p, real in zip(np.asarray(predicted), batch['mask']):
      if real:
        scores.append(vqa_answers.vqa_accuracy(
            meta.answer_names[p], json.loads(records[k]['answers'])))
        k += 1
  assert report['accuracy'] == pytest.approx(np.mean(scores), abs=1e-6)
  # The server's results files, named as the server wants them.
  for split, subset, ids in (
      ('test_dev', 'test-dev2015', [9010, 9011, 9150, 9151]),
      ('test', 'test2015', [9010, 9011, 9150, 9151, 9990, 9991])):
    output = export.default_output(config, workdir, split)
    assert os.path.basename(output) == (
        f'vqa_OpenEnded_mscoco_{subset}_hardattn_results.json')
    assert export.export_answers(config, workdir, split, output) == len(ids)
    with open(output) as f:
      results = json.load(f)
    assert [r['question_id'] for r in results] == ids
    assert all(r['answer'] in meta.answer_names for r in results)
  # hardattn.predict on a COCO test image, through the tiny GoogLeNet.
  image = os.path.join(release['coco1'], 'test2015',
                       'COCO_test2015_000000000015.jpg')
  predictor = predict.Predictor(workdir)
  prediction = predictor.answer(image, 'How many squares are there?')
  assert prediction.answer in meta.answer_names
  assert predictor.grid == (2, 2)


def test_server_splits_are_not_evaluated(release, data_dir):
  config = tiny('vqa1_ibowimg.py', release, data_dir)
  config.vqa.eval_split = 'test_dev'
  with pytest.raises(errors.UserError, match='has no answers'):
    datasets.get_dataset(config)
