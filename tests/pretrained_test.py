"""models.pretrained: the VQA backbone's weights put into a fresh state."""

import os

import chex
import flax
import jax
import jax.numpy as jnp
import optax
import pytest

from hardattn import cli
from hardattn import errors
from hardattn import models
from hardattn import sharding
from hardattn import train
from hardattn.datasets import vqa
from hardattn.models import pretrained
from hardattn.models import resnet

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fresh_state(weights: str, pixels: bool = True):
  """A tiny VQA HAN+RN (tiny ResNet inside when `pixels`) and its state."""
  config = cli.load_config(os.path.join(
      REPO, 'configs', 'vqacp_han_rn.py' + (':pixels' if pixels else '')))
  config.vqa.backbone = 'tiny'
  config.vqa.image_size = 64
  config.vqa.backbone_weights = weights
  for key, value in dict(word_embed_dim=8, lstm_dim=16, fusion_features=(16,),
                         g_features=(16, 16), f_features=(16,)).items():
    config.model[key] = value
  meta = vqa.nominal_meta(config)
  model = models.create_model(config.model_name, meta, **config.model)
  state = train.create_train_state(model, train.dummy_inputs(meta, 1),
                                   optax.sgd(0.1), jax.random.key(0))
  return model, state


@pytest.fixture(scope='module')
def weights_file(tmp_path_factory):
  """Backbone weights as resnet_weights writes them (a seeded init)."""
  weights = jax.jit(resnet.from_preset('tiny').init)(
      jax.random.key(7), jnp.zeros((1, 64, 64, 3)))
  path = str(tmp_path_factory.mktemp('w') / 'tiny.msgpack')
  with open(path, 'wb') as f:
    f.write(flax.serialization.to_bytes(weights))
  return path, weights


def test_loads_the_backbone_and_keeps_the_rest(weights_file):
  path, weights = weights_file
  model, state = _fresh_state(path)
  where = sharding.replicated(sharding.create_mesh())
  loaded = pretrained.load(state, model, where)
  chex.assert_trees_all_close(loaded.params['backbone'], weights['params'])
  chex.assert_trees_all_close(loaded.batch_stats['backbone'],
                              weights['batch_stats'])
  assert loaded.params.keys() == state.params.keys()
  for name in state.params:
    if name != 'backbone':
      chex.assert_trees_all_equal(loaded.params[name], state.params[name])
  leaf = jax.tree.leaves(loaded.params['backbone'])[0]
  assert leaf.sharding.is_equivalent_to(where, leaf.ndim)


def test_models_without_pretrained_parts_pass_through(weights_file):
  for weights, pixels in ((vqa.RANDOM_WEIGHTS, True), (None, True),
                          (weights_file[0], False)):
    model, state = _fresh_state(weights, pixels)
    assert pretrained.variables(model) is None
    assert pretrained.load(state, model, None) is state


def test_missing_weights_name_the_file(tmp_path):
  path = str(tmp_path / 'nowhere.msgpack')
  model, state = _fresh_state(path)
  with pytest.raises(errors.UserError, match='nowhere.msgpack'):
    pretrained.load(state, model, None)
