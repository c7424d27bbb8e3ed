"""GoogLeNet grid encoder and its torch-free torchvision weight conversion.

The fixtures were written by torch itself
(fixtures/make_torch_googlenet_fixture.py): a tiny torchvision GoogLeNet's
state dict with torch's inception_4e and inception_5b outputs on a fixed
image, and torchvision googlenet's state-dict keys and shapes.
"""

import gzip
import json
import os

import chex
from flax import traverse_util
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardattn import errors
from hardattn.models import googlenet
from hardattn.models import resnet
from hardattn.models import resnet_weights

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'fixtures')
TINY_PTH = os.path.join(FIXTURES, 'tiny_googlenet.pth')
# torchvision's googlenet (aux_logits=True) has 13,004,888 parameters; less
# the auxiliary classifiers (each a 1x1 conv to 128 with batch norm, fc1
# 2048 x 1024, fc2 1024 x 1000: 3,188,968 on inception_4a's 512 channels,
# 3,191,016 on inception_4d's 528) and fc (1024 x 1000 + 1000): the
# backbone's.
GOOGLENET_PARAMS = 13_004_888 - 3_188_968 - 3_191_016 - 1_025_000


@pytest.fixture(scope='module')
def reference():
  with np.load(os.path.join(FIXTURES, 'tiny_googlenet_reference.npz')) as f:
    return {k: f[k] for k in f.files}


@pytest.fixture(scope='module')
def tiny_state_dict():
  return resnet_weights.read_torch_state_dict(TINY_PTH)


@pytest.mark.parametrize('num_stages,block', [(4, 'inception5b'),
                                              (3, 'inception4e')])
def test_converted_forward_matches_torch(tiny_state_dict, reference,
                                         num_stages, block):
  variables = googlenet.torchvision_to_flax(
      tiny_state_dict, 'googlenet_tiny', num_stages=num_stages)
  model = googlenet.from_preset('googlenet_tiny', num_stages=num_stages)
  # torch's conv1 weight [O, I, kh, kw] is the kernel [kh, kw, I, O].
  np.testing.assert_array_equal(
      variables['params']['conv1']['conv']['kernel'][2, 5],
      tiny_state_dict['conv1.conv.weight'][:, :, 2, 5].T)
  grid = jax.jit(model.apply)(variables,
                              resnet.normalize_images(reference['image']))
  want = reference[block]
  assert grid.shape == want.shape
  assert grid.shape[1:3] == googlenet.grid_shape(
      reference['image'].shape[1:3], num_stages)
  assert grid.shape[-1] == model.out_features
  np.testing.assert_allclose(grid, want, atol=1e-4, rtol=1e-5)


def test_ceil_mode_pool_by_hand():
  x = jnp.arange(25, dtype=jnp.float32).reshape(1, 5, 5, 1)
  # torch: MaxPool2d(2, 2, ceil_mode=True) on 5x5 -> 3x3, the last row and
  # column windows hold one row / column of the input.
  out = googlenet.max_pool_ceil(x, 2, 2)[0, ..., 0]
  np.testing.assert_array_equal(out, [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
  # MaxPool2d(3, 1, padding=1, ceil_mode=True) keeps the size; padding
  # never wins, even where every input is negative.
  same = googlenet.max_pool_ceil(-x - 1, 3, 1, 1)[0, ..., 0]
  assert same.shape == (5, 5)
  assert float(same[0, 0]) == -1.0


def test_real_googlenet_layout_converts():
  with gzip.open(os.path.join(FIXTURES,
                              'torchvision_googlenet_shapes.json.gz')) as f:
    shapes = json.load(f)
  assert sum(int(np.prod(s)) for k, s in shapes
             if k.endswith(('weight', 'bias'))) == 13_004_888
  state_dict = {k: np.broadcast_to(np.float32(0), s) for k, s in shapes}
  variables = googlenet.torchvision_to_flax(state_dict, 'googlenet')
  flat = traverse_util.flatten_dict(variables)
  params = sum(int(np.prod(v.shape)) for k, v in flat.items()
               if k[0] == 'params')
  assert params == GOOGLENET_PARAMS == 5_599_904
  model = googlenet.from_preset('googlenet')
  out = jax.eval_shape(lambda: model.init_with_output(
      jax.random.key(0), jnp.zeros((1, 224, 224, 3))))[0]
  assert out.shape == (1, 7, 7, 1024) == (1,) + googlenet.grid_shape(
      (224, 224)) + (model.out_features,)
  four = googlenet.from_preset('googlenet', num_stages=3)
  assert googlenet.grid_shape((224, 224), 3) == (14, 14)
  assert four.out_features == 832


def test_conversion_names_missing_and_misshaped_keys(tiny_state_dict):
  broken = dict(tiny_state_dict)
  del broken['inception4b.branch3.0.bn.running_var']
  broken['conv2.conv.weight'] = np.zeros((4, 2, 1, 1), np.float32)
  with pytest.raises(errors.UserError) as e:
    googlenet.torchvision_to_flax(broken, 'googlenet_tiny', source='g.pth')
  message = str(e.value)
  assert message.startswith('g.pth does not fit GoogLeNet')
  assert 'missing keys (1): inception4b.branch3.0.bn.running_var' in message
  assert 'wrong shapes (1): conv2.conv.weight (4, 2, 1, 1)' in message
  with pytest.raises(errors.UserError, match='wrong shapes'):
    googlenet.torchvision_to_flax(tiny_state_dict, 'googlenet')


def test_convert_then_load_variables(tmp_path, tiny_state_dict):
  path = str(tmp_path / 'tiny.msgpack')
  written = resnet_weights.convert(TINY_PTH, path, 'googlenet_tiny')
  loaded = resnet_weights.load_variables(path, 'googlenet_tiny')
  chex.assert_trees_all_equal(loaded, written)
  three = resnet_weights.load_variables(path, 'googlenet_tiny', num_stages=3)
  assert 'inception5a' not in three['params']
  chex.assert_trees_all_equal(three, googlenet.torchvision_to_flax(
      tiny_state_dict, 'googlenet_tiny', num_stages=3))
  with pytest.raises(errors.UserError, match='--preset=googlenet'):
    resnet_weights.load_variables(str(tmp_path / 'none.msgpack'),
                                  'googlenet')
  with pytest.raises(errors.UserError, match='does not fit GoogLeNet'):
    resnet_weights.load_variables(path, 'googlenet')


def test_presets_and_stages():
  with pytest.raises(errors.UserError, match='googlenet_tiny'):
    googlenet.from_preset('inception')
  with pytest.raises(ValueError, match='num_stages'):
    googlenet.GoogLeNet(num_stages=2).init(jax.random.key(0),
                                           jnp.zeros((1, 32, 32, 3)))
