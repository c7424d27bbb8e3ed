"""VQA-CP v2 / VQA v2: readers, preparation, grids, targets, training."""

import json
import os
import pickle

import chex
import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardattn import cli
from hardattn import compare
from hardattn import datasets
from hardattn import errors
from hardattn import export
from hardattn import models
from hardattn import sharding
from hardattn import train
from hardattn.datasets import vqa
from hardattn.datasets import vqa_answers
from hardattn.models import hard_attention
from hardattn.models import resnet
from tests import vqa_fixture

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE_CONFIGS = ['vqacp_sum.py', 'vqacp_rn.py', 'vqacp_han_sum.py',
                 'vqacp_han_rn.py', 'vqacp_adahan_sum.py',
                 'vqacp_adahan_rn.py', 'vqacp_san.py']


@pytest.fixture(scope='module')
def release(tmp_path_factory):
  return vqa_fixture.write_release(str(tmp_path_factory.mktemp('release')))


def tiny(spec, release, data_dir, version='vqacp_v2'):
  """configs/<spec> on the fixture: tiny backbone (random), tiny model."""
  return vqa_fixture.tiny_config(
      spec, data_dir, 'vqa',
      dict(word_embed_dim=8, lstm_dim=16, fusion_features=(16,),
           g_features=(16, 16), f_features=(16,), attention_dim=16),
      version=version,
      eval_split='test' if version == 'vqacp_v2' else 'val',
      manual_dir=release['vqacp' if version == 'vqacp_v2' else 'vqa'],
      coco_dir=release['coco'], backbone='tiny', heldout_fraction=0.25)


# ---------------------------------------------------------------- Files ----


def test_reads_vqacp_lists_and_vqa_v2_dicts(release):
  train_files = vqa.locate('vqacp_v2', release['vqacp'])['train']
  cp = vqa.read_split(*train_files)
  assert len(cp) == 4 * len(vqa_fixture._QA)
  first = cp[0]
  assert first == {
      'question_id': 1000, 'image_id': 9, 'coco_split': 'train2014',
      'question': 'Is there a red square?', 'answers': ['yes'] * 9 + ['no'],
      'multiple_choice_answer': 'yes', 'question_type': 'is there a',
      'answer_type': 'yes/no'}
  assert {e['coco_split'] for e in cp} == {'train2014', 'val2014'}
  v2 = vqa.read_split(*vqa.locate('vqa_v2', release['vqa'])['val'])
  assert {e['coco_split'] for e in v2} == {'val2014'}  # from data_subtype
  assert [e['question_id'] for e in v2] == list(range(200, 200 + len(v2)))
  assert v2[2]['answers'][-1] == '2 '  # answers are kept as given


def test_files_found_in_subdirectories(release, tmp_path):
  nested = tmp_path / 'zips'
  os.makedirs(nested / 'Questions')
  os.makedirs(nested / 'Annotations')
  for name in os.listdir(release['vqa']):
    sub = 'Questions' if 'questions' in name else 'Annotations'
    os.symlink(os.path.join(release['vqa'], name), nested / sub / name)
  files = vqa.locate('vqa_v2', str(nested))
  assert files['train'][0].endswith(
      'Questions/v2_OpenEnded_mscoco_train2014_questions.json')


def test_missing_and_bad_files_are_named(release, tmp_path):
  with pytest.raises(errors.DatasetNotFoundError,
                     match='vqacp_v2_test_annotations.json'):
    os.makedirs(tmp_path / 'partial')
    for name in ('vqacp_v2_train_questions.json',
                 'vqacp_v2_train_annotations.json',
                 'vqacp_v2_test_questions.json'):
      os.symlink(os.path.join(release['vqacp'], name),
                 tmp_path / 'partial' / name)
    vqa.locate('vqacp_v2', str(tmp_path / 'partial'))
  with pytest.raises(errors.DatasetNotFoundError, match='manual_dir'):
    vqa.locate('vqacp_v2', None)
  bad = tmp_path / 'bad.json'
  bad.write_text('{"questions": 3}')
  with pytest.raises(errors.DatasetNotFoundError, match='bad.json'):
    vqa.read_split(str(bad), str(bad))
  bad.write_text('[{"question": "no id"')
  with pytest.raises(errors.DatasetNotFoundError, match='bad.json'):
    vqa.read_split(str(bad), str(bad))


def test_corrupt_jpeg_names_the_file(tmp_path):
  path = tmp_path / 'COCO_train2014_000000000001.jpg'
  path.write_bytes(b'\xff\xd8 not a jpeg')
  with pytest.raises(vqa.CorruptImageError, match=str(path)):
    vqa.load_image(str(path), 32)


# -------------------------------------------------------------- Prepare ----


def test_prepared_questions(release, data_dir):
  builder = vqa.prepare_questions(data_dir, 'vqacp_v2', release['vqacp'])
  assert set(builder.info.splits) == {'train', 'test'}
  md = vqa.Metadata(builder, num_answers=3)
  # Train multiple_choice_answers: 4 images x ('yes', 'no', '2', '1',
  # 'red', 'square'): a six-way tie, broken alphabetically.
  assert md.answers == ('1', '2', 'no')
  assert md.coverage == pytest.approx(0.5)  # 3 of the 6 answers, 4 each
  assert md.question_types == (
      'yes_no/is_the', 'yes_no/is_there_a', 'number/how_many',
      'other/what_color_is_the', 'other/what_is_in_the')
  record = builder.as_data_source('test')[1]
  assert int(record['question_id']) == 5001
  assert int(record['image_id']) == 30
  assert vqa.COCO_SPLITS[int(record['coco_split'])] == 'train2014'
  assert json.loads(record['answers']) == ['no'] * 7 + ['yes'] * 2 + ['No']
  assert md.vocab.encode('How many zebras?') == [
      md.vocab.token_ids['how'], md.vocab.token_ids['many'], 1]


def test_extracted_grids(release, data_dir):
  grids = vqa.prepare_grids(data_dir, release['coco'], vqa.RANDOM_WEIGHTS,
                            backbone='tiny', image_size=64, stages=4,
                            batch_size=4)
  ids = json.loads(grids.info.metadata['image_ids'])
  assert ids == {'train2014': [9, 25, 30], 'val2014': [42, 73, 74]}
  record = grids.as_data_source('val2014')[2]
  assert int(record['image_id']) == 74
  assert record['grid'].dtype == np.float16
  assert record['grid'].shape == (2, 2, 256)  # 64 / 32; 4 * 8 * 2**3
  assert record['thumbnail'].shape == (vqa.THUMBNAIL_SIZE,) * 2 + (3,)
  # The stored grid is the backbone's output on the decoded image (the
  # random init is seeded), batched or not.
  forward = vqa.backbone_forward('tiny', 4, vqa.RANDOM_WEIGHTS)
  image = vqa.load_image(os.path.join(
      release['coco'], 'val2014', vqa.coco_filename('val2014', 74)), 64)
  np.testing.assert_allclose(
      forward(image[None])[0].astype(np.float32),
      record['grid'].astype(np.float32), rtol=1e-2, atol=1e-3)


def test_images_without_grids_are_named_before_training(release, tmp_path):
  coco = tmp_path / 'coco'
  for split in sorted(os.listdir(release['coco'])):  # train2014, val2014
    os.makedirs(coco / split)
    for name in os.listdir(os.path.join(release['coco'], split)):
      if name != vqa.coco_filename('val2014', 73):
        os.symlink(os.path.join(release['coco'], split, name),
                   coco / split / name)
  config = tiny('vqacp_han_sum.py', release, str(tmp_path / 'data'))
  config.vqa.coco_dir = str(coco)
  with pytest.raises(errors.DatasetNotFoundError,
                     match='1 images .* COCO_val2014_000000000073.jpg'):
    datasets.get_dataset(config)


def test_grids_need_weights(release, tmp_path):
  with pytest.raises(errors.UserError, match='resnet_weights'):
    vqa.prepare_grids(str(tmp_path), release['coco'], None, backbone='tiny',
                      image_size=64)


def test_unprepared_data_names_the_commands(release, tmp_path):
  config = tiny('vqacp_han_rn.py', release, str(tmp_path))
  config.vqa.manual_dir = None
  with pytest.raises(errors.DatasetNotFoundError,
                     match='hardattn.prepare --dataset=vqacp_v2'):
    datasets.get_dataset(config)
  config.vqa.manual_dir = release['vqacp']
  config.vqa.coco_dir = None
  with pytest.raises(errors.DatasetNotFoundError, match='--coco_dir'):
    datasets.get_dataset(config)


# ------------------------------------------------------------- Examples ----


def test_examples_carry_soft_targets_and_official_credit(release, data_dir):
  config = tiny('vqacp_han_rn.py', release, data_dir)
  config.vqa.num_answers = 10
  iter_fn, meta = vqa.get_split(config, 'test', batch_size=4)
  batch = next(iter_fn())
  assert meta.image_dtype == 'float16'
  assert batch['image'].shape == (4, 2, 2, 256)
  assert batch['image'].dtype == np.float16
  names = meta.answer_names
  gt = vqa_fixture._QA
  for i in range(4):
    answers = gt[i][2]
    for name_id, name in enumerate(names):  # every vocabulary answer
      listed = batch['credit_ids'][i] == name_id
      credit = float(np.sum(batch['credit'][i][listed]))
      assert credit == pytest.approx(vqa_answers.vqa_accuracy(name, answers))
  # 'How many squares?': '2' x3, 'two' x2, 'Two', '3' x2, '1', '2 ':
  # normalised 2 x7 (capped at 1), 3 x2, 1 x1; '3' was never a train
  # multiple_choice_answer, so it is not a class and has no target.
  assert '3' not in names
  ids, scores = batch['answer_ids'][2], batch['answer_scores'][2]
  got = {names[j]: s for j, s in zip(ids, scores) if j >= 0}
  assert got == pytest.approx({'2': 1.0, '1': 1 / 3})
  assert names[batch['answer'][2]] == '2'
  # Official credit: the 10 answers differ, so they are punctuation-
  # processed only: '2' matches the three '2' (not 'two', 'Two', '2 ').
  credit = dict(zip(batch['credit_ids'][2], batch['credit'][2]))
  assert credit[names.index('2')] == pytest.approx(0.9)
  pictures = meta.pictures(batch)
  assert pictures.shape == (4, vqa.THUMBNAIL_SIZE, vqa.THUMBNAIL_SIZE, 3)


def test_heldout_split_is_carved_from_train(release, data_dir):
  train_idx, heldout = vqa.heldout_indices(100, 0.1, seed=3)
  assert len(heldout) == 10 and len(train_idx) == 90
  assert not set(train_idx) & set(heldout)
  again, _ = vqa.heldout_indices(100, 0.1, seed=3)
  np.testing.assert_array_equal(train_idx, again)
  config = tiny('vqacp_han_rn.py', release, data_dir)
  _, meta = vqa.get_split(config, 'heldout', batch_size=2)
  assert meta.num_eval_examples == 6  # 0.25 of 24
  with pytest.raises(errors.UserError, match="no 'val' split"):
    vqa.get_split(config, 'val', batch_size=2)


# ---------------------------------------------------------- Train arrays ----


def _train_input(config):
  """(train question source, arrays, image table) of a config."""
  # pylint: disable=protected-access
  q_builder, images, md = vqa._open(config)
  source = vqa._source(q_builder, images, md, 'train', config)
  arrays, table = vqa.train_arrays(config, q_builder, md, images,
                                   source.indices, vqa._image_name(config))
  # pylint: enable=protected-access
  return source, arrays, table


@pytest.mark.parametrize('spec', ['vqacp_han_rn.py', 'vqacp_han_rn.py:pixels'])
def test_train_arrays_hold_the_records_examples(spec, release, data_dir):
  """Built once from the records, the arrays give every train example's
  fields as the record source does, and its image through the table."""
  config = tiny(spec, release, data_dir)
  config.vqa.max_question_length = 5  # cuts some questions
  source, arrays, table = _train_input(config)
  assert len(arrays['image_index']) == len(source) == 18
  assert len(table) == 4  # the fixture's train images
  for j in range(len(source)):
    example = source[j]
    image = table[arrays['image_index'][j:j + 1]][0]
    np.testing.assert_array_equal(image, example['image'])
    for name, value in example.items():
      if name != 'image':
        np.testing.assert_array_equal(arrays[name][j], value, err_msg=name)


def test_image_arrays_copy_the_table(release, data_dir):
  config = tiny('vqacp_han_rn.py', release, data_dir)
  _, _, table = _train_input(config)
  config.vqa.image_arrays = True
  _, arrays, copied = _train_input(config)
  assert isinstance(copied, np.memmap) and copied.dtype == np.float16
  ids = np.arange(len(table))
  np.testing.assert_array_equal(copied[ids], table[ids])
  assert len(arrays['image_index']) == 18


def test_image_shared_batches_cover_an_epoch(release, data_dir):
  """questions_per_image=2: a batch of 8 questions holds 4 images, each
  slot's question is on its group's image, and an epoch has every train
  question once (padding masked)."""
  config = tiny('vqacp_han_rn.py:per_image=2', release, data_dir)
  assert config.questions_per_image == 2
  train_iter, _, _ = datasets.get_dataset(config)
  source, arrays, table = _train_input(config)
  seen, seen_per_batch = [], []
  for _ in range(3):  # 18 questions on 4 images: 10 or 11 groups of <= 2
    batch = next(train_iter)
    seen_per_batch.append(int(np.sum(batch['mask'])))
    assert batch['image'].shape == (4, 2, 2, 256)
    assert batch['question'].shape == (8, 14)
    for slot in np.flatnonzero(batch['mask']):
      # The slot's question: its image matches the group's image.
      matches = [j for j in range(len(source))
                 if np.array_equal(arrays['question'][j],
                                   batch['question'][slot])
                 and arrays['image_id'][j] == batch['image_id'][slot]]
      assert matches
      j = matches[0]
      np.testing.assert_array_equal(
          table[arrays['image_index'][j:j + 1]][0], batch['image'][slot // 2])
      seen.append((int(batch['image_id'][slot]),
                   tuple(batch['question'][slot])))
  # The fixture asks each question text once per image, so a (image,
  # tokens) pair is a question. The first 2 batches (8 of the epoch's 10
  # or 11 groups) repeat none; with the third, the epoch is complete.
  first_two = seen[:int(np.sum(seen_per_batch[:2]))]
  assert len(set(first_two)) == len(first_two)
  assert len(set(seen)) == 18


def test_trains_on_image_shared_batches(release, data_dir, tmp_path):
  config = tiny('vqacp_han_rn.py:per_image=2', release, data_dir)
  report = train.train_and_evaluate(config, str(tmp_path))
  assert report['step'] == 3 and np.isfinite(report['loss'])


def test_bad_input_settings_are_named(release, data_dir):
  config = tiny('vqacp_han_rn.py:per_image=2', release, data_dir)
  config.vqa.input = 'records'
  with pytest.raises(errors.UserError, match="vqa.input='arrays'"):
    datasets.get_dataset(config)
  config.vqa.input = 'array'
  with pytest.raises(errors.UserError, match='config.vqa.input must be one'):
    datasets.get_dataset(config)


# ------------------------------------------------------------- Training ----


def test_answer_loss_and_credit_by_hand():
  logits = jnp.log(jnp.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]))
  batch = {
      'answer': jnp.array([0, 2]),
      'answer_ids': jnp.array([[0, 1, -1], [-1, -1, -1]]),
      'answer_scores': jnp.array([[1.0, 1 / 3, 0.0], [0.0, 0.0, 0.0]]),
      'credit_ids': jnp.array([[0, 1, -1], [2, -1, -1]]),
      'credit': jnp.array([[1.0, 0.3, 0.0], [0.6, 0.0, 0.0]]),
  }
  # Targets (1, 1/3, 0) / (4/3) = (3/4, 1/4, 0); the second example has
  # none and adds 0.
  soft = train.answer_loss(logits, batch, 'softmax')
  np.testing.assert_allclose(
      soft, [-(0.75 * np.log(0.5) + 0.25 * np.log(0.25)), 0.0], rtol=1e-6)
  sig = train.answer_loss(logits, batch, 'sigmoid')
  x = np.log(np.array([0.5, 0.25, 0.25]))
  p = 1 / (1 + np.exp(-x))
  t = np.array([1.0, 1 / 3, 0.0])
  want = -np.sum(t * np.log(p) + (1 - t) * np.log(1 - p))
  np.testing.assert_allclose(sig[0], want, rtol=1e-5)
  np.testing.assert_allclose(train.answer_credit(logits, batch), [1.0, 0.6])
  # Without soft targets: the integer-label loss and exact-match credit.
  plain = {'answer': batch['answer']}
  np.testing.assert_allclose(train.answer_loss(logits, plain),
                             [-np.log(0.5), -np.log(0.8)], rtol=1e-6)
  np.testing.assert_allclose(train.answer_credit(logits, plain), [1.0, 1.0])


@pytest.mark.parametrize('spec,loss', [
    ('vqacp_han_rn.py', 'softmax'), ('vqacp_sum.py', 'sigmoid'),
    ('vqacp_adahan_rn.py', 'softmax'), ('vqacp_san.py', 'softmax')])
def test_trains_and_eval_accuracy_is_official(spec, loss, release, data_dir,
                                              tmp_path):
  config = tiny(spec, release, data_dir)
  config.loss = loss
  report = train.train_and_evaluate(config, str(tmp_path))
  assert report['step'] == 3 and np.isfinite(report['loss'])
  assert [r[0] for r in report['table']] == [
      'overall', 'yes_no', 'number', 'other']
  assert os.listdir(tmp_path / 'pictures')
  # The in-graph accuracy equals the official metric on the predictions.
  mesh = sharding.create_mesh()
  iter_fn, meta = vqa.get_split(config, 'test', batch_size=8)
  state, _ = train.restore_for_inference(config, str(tmp_path), meta, mesh)
  predict = jax.jit(train.predict_step)
  records = vqa.builders(data_dir, 'vqacp_v2')[0].as_data_source('test')
  scores, names, k = [], [], 0
  for batch in iter_fn():
    predicted, _ = predict(state, sharding.to_global(
        {k_: batch[k_] for k_ in ('image', 'question')}, mesh))
    for p, real in zip(np.asarray(predicted), batch['mask']):
      if real:
        answers = json.loads(records[k]['answers'])
        names.append(meta.answer_names[p])
        scores.append(vqa_answers.vqa_accuracy(names[-1], answers))
        k += 1
  assert k == 12
  assert report['accuracy'] == pytest.approx(np.mean(scores), abs=1e-6)
  # The export is the official results format, in the split's order.
  output = str(tmp_path / 'results.json')
  assert export.export_answers(config, str(tmp_path), 'test', output) == 12
  with open(output) as f:
    results = json.load(f)
  assert results == [{'question_id': 5000 + i, 'answer': a}
                     for i, a in enumerate(names)]


def test_vqa_v2_trains_on_train_and_evaluates_on_val(release, data_dir,
                                                     tmp_path):
  config = tiny('vqacp_han_sum.py', release, data_dir, version='vqa_v2')
  config.vqa.heldout_fraction = 0.0
  report = train.train_and_evaluate(config, str(tmp_path))
  assert report['split'] == 'val' and report['num_examples'] == 18


@pytest.mark.parametrize('finetune', [False, True])
def test_backbone_inside_the_model(finetune, release, data_dir, tmp_path):
  config = tiny('vqacp_han_rn.py:pixels' + (',finetune' if finetune else ''),
                release, data_dir)
  assert config.model.image_encoder == 'resnet'
  assert config.model.backbone == 'tiny'  # one setting for data and model
  # Pretrained weights as `resnet_weights` writes them (here: a seeded
  # random init), loaded into the model at init.
  weights = resnet.from_preset('tiny').init(
      jax.random.key(7), jnp.zeros((1, 64, 64, 3)))
  weights_path = str(tmp_path / 'tiny.msgpack')
  with open(weights_path, 'wb') as f:
    f.write(flax.serialization.to_bytes(weights))
  config.vqa.backbone_weights = weights_path
  assert config.model.backbone_weights == weights_path
  config.num_train_steps = 2
  report = train.train_and_evaluate(config, str(tmp_path))
  assert report['step'] == 2
  _, meta = vqa.get_split(config, 'test', batch_size=8)
  assert meta.image_shape == (64, 64, 3) and meta.image_dtype == 'uint8'
  state, _ = train.restore_for_inference(config, str(tmp_path), meta,
                                         sharding.create_mesh())
  # Frozen: no gradient reaches the backbone, so Adam's first moments of
  # its parameters stay zero and the parameters are the loaded ones.
  # Fine-tuned: they move. Batch norm stays frozen either way.
  moments = {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in
             jax.tree_util.tree_flatten_with_path(state.opt_state)[0]
             if '.mu' in jax.tree_util.keystr(path)}
  backbone = [v for k, v in moments.items() if "'backbone'" in k]
  head = [v for k, v in moments.items() if "'head'" in k]
  assert backbone and head
  assert any(np.any(v) for v in backbone) == finetune
  assert any(np.any(v) for v in head)
  if not finetune:
    chex.assert_trees_all_close(state.params['backbone'], weights['params'])
  chex.assert_trees_all_close(state.batch_stats['backbone'],
                              weights['batch_stats'])


def datasets_model(config, meta):
  return models.create_model(config.model_name, meta, **config.model)


# -------------------------------------------------------------- Configs ----


@pytest.mark.parametrize('spec', TABLE_CONFIGS)
def test_table_configs_load_with_grids(spec):
  config = cli.load_config(os.path.join(REPO, 'configs', spec))
  assert config.dataset == 'vqa' and config.vqa.num_answers == 3000
  meta = vqa.nominal_meta(config)
  assert meta.image_shape == (14, 14, 2048)
  model = datasets_model(config, meta)
  assert model.grid_shape(meta.image_shape[:2]) == (14, 14)


@pytest.mark.parametrize('frac,k', [(0.16, 31), (0.25, 49), (0.33, 65),
                                    (0.5, 98)])
def test_han_fraction_presets(frac, k):
  for name in ('vqacp_han_sum.py', 'vqacp_han_rn.py'):
    config = cli.load_config(os.path.join(REPO, 'configs', name) +
                             f':frac={frac}')
    assert hard_attention.num_kept(196, config.model.fraction) == k


def test_compare_draws_vqa_runs_on_thumbnails(release, data_dir, tmp_path):
  configs, workdirs = [], []
  for spec in ('vqacp_han_rn.py', 'vqacp_san.py'):
    config = tiny(spec, release, data_dir)
    config.num_train_steps = 1
    config.num_pictures = 0
    workdir = str(tmp_path / spec)
    train.train_and_evaluate(config, workdir)
    configs.append(config)
    workdirs.append(workdir)
  figure = compare.compare(configs, workdirs, [], 'test', num_examples=3)
  assert figure.dtype == np.uint8 and figure.ndim == 3


def test_learns_the_fixture_answers(release, data_dir, tmp_path):
  """The fixture's answers depend on the question alone: a model trained on
  the soft targets learns them, and its official test accuracy reaches the
  best any single answer per question can get."""
  config = vqa_fixture.train_to_learn(
      tiny('vqacp_han_sum.py', release, data_dir), 200, 3e-3)
  report = train.train_and_evaluate(config, str(tmp_path))
  _, meta = vqa.get_split(config, 'test', batch_size=8)
  best = np.mean([max(vqa_answers.vqa_accuracy(a, answers)
                      for a in meta.answer_names)
                  for _, _, answers, _, _ in vqa_fixture._QA])
  assert report['accuracy'] == pytest.approx(best, abs=1e-6)


@pytest.mark.parametrize('spec', ['vqacp_han_rn.py', 'vqacp_han_rn.py:pixels'])
def test_sources_pickle_for_worker_processes(spec, release, data_dir):
  """grain's worker processes (config.data_workers) receive the source
  pickled: it must come back reading the same examples."""
  config = tiny(spec, release, data_dir)
  # pylint: disable=protected-access
  q_builder, images, md = vqa._open(config)
  source = vqa._source(q_builder, images, md, 'test', config)
  # pylint: enable=protected-access
  again = pickle.loads(pickle.dumps(source))
  for i in (0, 7):
    chex.assert_trees_all_equal(again[i], source[i])
