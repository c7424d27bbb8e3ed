"""The soft-vs-hard comparison configs train a few steps at tiny sizes."""

import json
import math
import os

import numpy as np
import pytest

from hardattn import cli
from hardattn import compare
from hardattn import datasets
from hardattn import errors
from hardattn import train
from hardattn.datasets import spatial

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Model fields shrunk to a few units, by name.
_TINY_MODEL = dict(fusion_features=(16,), g_features=(16, 16),
                   f_features=(16,), attention_dim=16, word_embed_dim=8,
                   lstm_dim=16)


def tiny(spec: str, data_dir: str):
  """configs/<spec> with tiny data, widths and step counts."""
  config = cli.load_config(os.path.join(REPO, 'configs', spec))
  config.data_dir = data_dir
  sizes = config[config.dataset]
  sizes.num_train_images, sizes.num_test_images = 12, 4
  for key, value in _TINY_MODEL.items():
    if key in config.model:
      config.model[key] = value
  config.model.cnn_features = (8,) * len(config.model.cnn_features)
  config.data_threads = 0
  config.batch_size = config.eval_batch_size = 8
  # 4 images a batch, one per test device
  config.questions_per_image = math.gcd(config.questions_per_image, 2)
  config.num_train_steps = config.eval_every_steps = 3
  config.checkpoint_every_steps = 3
  config.log_every_steps = 1
  config.num_pictures = 2
  return config


# One SMem hop is tested in soft_attention_test, SAN on vector questions in
# models_test.
@pytest.mark.parametrize('spec', [
    'spatial_han_rn.py', 'spatial_han_sum.py', 'spatial_san.py',
    'spatial_smem.py:hops=2', 'sort_of_clevr_smem.py:hops=2'])
def test_config_trains(spec, data_dir, tmp_path):
  config = tiny(spec, data_dir)
  report = train.train_and_evaluate(config, str(tmp_path))
  assert report['step'] == 3 and np.isfinite(report['loss'])
  assert 0.0 < report['fraction_kept'] <= 1.0
  types = {'spatial': ['absolute', 'relative'],
           'sort_of_clevr': ['non_relational', 'relational']}[config.dataset]
  assert [row[0] for row in report['table']] == ['overall'] + types
  with open(os.path.join(tmp_path, 'eval_report.json')) as f:
    assert json.load(f)['model'] == config.model_name
  assert os.listdir(os.path.join(tmp_path, 'pictures'))


def test_compare_draws_soft_maps_and_kept_cells(data_dir, tmp_path):
  specs = ['spatial_smem.py:hops=2', 'spatial_han_rn.py']
  configs = [tiny(spec, data_dir) for spec in specs]
  workdirs = [str(tmp_path / str(i)) for i in range(2)]
  for config, workdir in zip(configs, workdirs):
    config.num_train_steps = 1
    train.train_and_evaluate(config, workdir)
  figure = compare.compare(configs, workdirs, ['SMem', 'HAN'], 'test', 3)
  assert figure.dtype == np.uint8 and figure.ndim == 3
  # Rows: the first example of each of 3 question types.
  batch = compare.pick_examples(
      datasets.module(configs[0]).get_split(configs[0], 'test',
                                            batch_size=8)[0](),
      spatial.nominal_meta(configs[0]), 3)
  np.testing.assert_array_equal(batch['question_type'], [0, 1, 2])
  with pytest.raises(errors.UserError, match='one --workdir'):
    compare.compare(configs, workdirs[:1], [], 'test', 3)
  configs[1].model.cnn_features = (8, 8)  # a 16x16 grid
  with pytest.raises(errors.UserError, match='grid'):
    compare.compare(configs, workdirs, [], 'test', 3)
