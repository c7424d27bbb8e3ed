"""Every config in configs/ loads, locks, and builds its model."""

import glob
import importlib.util
import os

import jax
import jax.numpy as jnp
import pytest

from hardattn import base_config
from hardattn import datasets
from hardattn import models

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(REPO, 'configs', '*.py')))


def load(path, arg=None):
  spec = importlib.util.spec_from_file_location('config', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg)


@pytest.mark.parametrize('path', CONFIGS, ids=os.path.basename)
def test_config_builds_its_model(path):
  config = load(path)
  config.lock()
  with pytest.raises(AttributeError, match='num_train_stpes'):
    config.num_train_stpes = 1
  meta = datasets.module(config).nominal_meta(config)
  model = models.create_model(config.model_name, meta, **config.model)
  image = jax.ShapeDtypeStruct((2,) + meta.image_shape, jnp.uint8)
  question = jax.ShapeDtypeStruct(
      (2,) + meta.question_shape,
      jnp.int32 if meta.question_kind == 'tokens' else jnp.float32)
  variables = jax.eval_shape(
      lambda i, q: model.init(jax.random.key(0), i, q, train=False),
      image, question)
  assert 'params' in variables
  assert config.num_train_steps > 0
  if path.endswith('test.py'):
    return
  doc = open(path).read()
  assert 'python -m hardattn.main --config=configs/' in doc, 'command'


@pytest.mark.parametrize('name', ['clevr_rn', 'clevr_han_sum', 'clevr_han_rn',
                                  'clevr_adahan_rn'])
def test_clevr_presets(name):
  path = os.path.join(REPO, 'configs', f'{name}.py')
  base, plus, plusplus = (load(path, a) for a in (None, 'plus', 'plusplus'))
  assert base.clevr.image_size == plus.clevr.image_size == 128
  assert plusplus.clevr.image_size > 128
  assert plus.model.cnn_features[-1] > base.model.cnn_features[-1]
  assert plus.model.lstm_dim > base.model.lstm_dim
  assert plusplus.model.cnn_features == plus.model.cnn_features
  assert 'Target' in open(path).read() or 'target' in open(path).read()
  assert load(path, 'plus,frac=0.5').model.fraction == 0.5


def test_presets_parse_and_reject_unknown_keys():
  path = os.path.join(REPO, 'configs', 'sort_of_clevr_han_rn.py')
  assert load(path, 'frac=0.5').model.fraction == 0.5
  with pytest.raises(ValueError, match='frac'):
    load(path, 'fraction=0.5')


def test_sort_of_clevr_han_rn_default_is_the_live_rn_and_mean_rn_the_old():
  path = os.path.join(REPO, 'configs', 'sort_of_clevr_han_rn.py')
  live, old = load(path, None), load(path, 'mean_rn')
  assert live.fraction_schedule == () and old.fraction_schedule == (
      (1000, 1.0),)
  assert (live.model.rn_pool, live.model.rn_pair_geometry) == ('sum', True)
  assert (old.model.rn_pool, old.model.rn_pair_geometry) == ('mean', False)
  assert live.model.rn_sum_skip and old.model.rn_sum_skip
  assert not (live.model.fusion_film or old.model.fusion_film)  # FiLM: docs
  assert (live.num_train_steps, live.optimizer.schedule) == (
      8000, 'warmup_stable_cosine')
  assert (old.num_train_steps, old.optimizer.schedule) == (5000,
                                                           'warmup_cosine')
  faithful = load(path, 'faithful')
  assert (faithful.model.rn_pool, faithful.model.rn_sum_skip) == ('sum', False)
  assert not faithful.model.fusion_film  # the paper's concatenation
  with pytest.raises(ValueError, match='mean_rn'):
    load(path, 'mean_rn,faithful')


@pytest.mark.parametrize('name', ['han_rn', 'han_sum', 'sum', 'rn',
                                  'adahan_rn'])
def test_sort_of_clevr_grid_preset_makes_10x10_cells(name):
  path = os.path.join(REPO, 'configs', f'sort_of_clevr_{name}.py')
  coarse, fine = load(path, 'grid=5'), load(path, 'grid=10')
  meta = datasets.module(fine).nominal_meta(fine)
  for config, cells in ((coarse, 25), (fine, 100)):
    model = models.create_model(config.model_name, meta, **config.model)
    _, aux = jax.eval_shape(
        lambda i, q, m=model: m.init_with_output(
            jax.random.key(0), i, q, train=False)[0],
        jax.ShapeDtypeStruct((2,) + meta.image_shape, jnp.uint8),
        jax.ShapeDtypeStruct((2,) + meta.question_shape, jnp.float32))
    assert aux['norms'].shape == (2, cells)
  if name == 'han_rn':  # 6 cells, one per object, on either grid
    assert (coarse.model.fraction, fine.model.fraction) == (0.25, 0.06)
    assert (fine.model.rn_sum_cells, fine.model.rn_head_zero) == ('all',
                                                                   False)
    old = load(path, 'grid=10,mean_rn')
    assert (old.model.rn_sum_cells, old.model.rn_head_zero) == ('all', True)
    assert load(path, 'grid=10,frac=0.12').model.fraction == 0.12
  with pytest.raises(ValueError, match='grid'):
    load(path, 'grid=7')


def test_parse_arg_types():
  args = base_config.parse_arg('a=3,b=0.5,c=false,d=x', a=1, b=0.1, c=True,
                               d='y')
  assert (args.a, args.b, args.c, args.d) == (3, 0.5, False, 'x')


@pytest.mark.parametrize('name', ['clevr_rn', 'clevr_han_sum', 'clevr_han_rn',
                                  'clevr_adahan_rn'])
def test_clevr_cpu_preset_is_a_short_run_of_the_same_model(name):
  path = os.path.join(REPO, 'configs', f'{name}.py')
  full, cpu = load(path), load(path, 'cpu')
  assert (full.num_train_steps, full.eval_every_steps) == (1_400_000, 25_000)
  assert full.num_eval_batches == -1
  assert (cpu.num_train_steps, cpu.eval_every_steps) == (1_000, 500)
  assert cpu.num_eval_batches == 4
  assert cpu.model == full.model and cpu.optimizer == full.optimizer
  assert load(path, 'plus,cpu').model == load(path, 'plus').model
