"""ResNet grid encoder and the torch-free torchvision checkpoint converter.

The fixtures in tests/fixtures/ were written by torch itself
(make_torch_resnet_fixture.py): a tiny torchvision ResNet's state dict in
torch.save's zip format with torch's own stage outputs on a fixed image,
tensors of many dtypes and layouts in the zip and legacy formats, and
torchvision resnet101's state-dict keys and shapes.
"""

import functools
import gzip
import json
import os
import pickle
import zipfile

import chex
from flax import traverse_util
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardattn import errors
from hardattn.models import resnet
from hardattn.models import resnet_weights

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'fixtures')
TINY_PTH = os.path.join(FIXTURES, 'tiny_resnet.pth')
TINY = dict(stage_sizes=(2, 1, 1, 1), width=3)  # the fixture's architecture
RESNET101_PARAMS = 44_549_160 - (2048 * 1000 + 1000)  # torchvision minus fc


@pytest.fixture(scope='module')
def reference():
  with np.load(os.path.join(FIXTURES, 'tiny_resnet_reference.npz')) as f:
    return {k: f[k] for k in f.files}


@pytest.fixture(scope='module')
def tiny_state_dict():
  return resnet_weights.read_torch_state_dict(TINY_PTH)


@pytest.fixture(scope='module')
def resnet101_shapes():
  return resnet_weights.variable_shapes(resnet.from_preset('resnet101'))


# --- reading torch.save files -------------------------------------------


@pytest.mark.parametrize('name', ['reader_tensors.pt',
                                  'reader_tensors_legacy.pt'])
def test_reader_gives_torchs_exact_arrays(name):
  tensors = resnet_weights.read_torch_state_dict(os.path.join(FIXTURES, name))
  with np.load(os.path.join(FIXTURES, 'reader_tensors_expected.npz')) as f:
    expected = {k: f[k] for k in f.files}
  assert list(tensors) == list(expected)
  for key, want in expected.items():
    got = tensors[key]
    # Keys are dtype names (npz stores bfloat16 as float32).
    want_dtype = jnp.bfloat16 if key == 'bfloat16' else want.dtype
    assert got.dtype == want_dtype, key
    assert got.shape == want.shape, key
    np.testing.assert_array_equal(got.astype(want.dtype), want, err_msg=key)
  # Views: storage offset and strides respected.
  np.testing.assert_array_equal(tensors['float32_view'],
                                np.arange(30.).reshape(5, 6)[1:, ::2])
  np.testing.assert_array_equal(tensors['float32_transposed'],
                                tensors['float32'].T)


def test_reader_reads_npz_of_the_same_keys(tmp_path, tiny_state_dict):
  path = str(tmp_path / 'tiny.npz')
  np.savez(path, **tiny_state_dict)
  again = resnet_weights.read_torch_state_dict(path)
  assert list(again) == list(tiny_state_dict)
  for key, value in tiny_state_dict.items():
    np.testing.assert_array_equal(again[key], value)


def test_tiny_checkpoint_has_torchvision_keys(tiny_state_dict):
  assert 'layer1.0.downsample.0.weight' in tiny_state_dict
  assert 'layer1.1.downsample.0.weight' not in tiny_state_dict
  assert tiny_state_dict['conv1.weight'].shape == (3, 3, 7, 7)  # OIHW
  assert tiny_state_dict['fc.weight'].shape == (10, 96)


def test_reader_missing_file_names_it_and_the_url(tmp_path):
  path = str(tmp_path / 'resnet101-63fe2227.pth')
  with pytest.raises(errors.UserError, match='not found') as e:
    resnet_weights.read_torch_state_dict(path)
  assert path in str(e.value)
  assert resnet_weights.CHECKPOINT_URL in str(e.value)


def test_reader_corrupt_files(tmp_path):
  garbage = tmp_path / 'garbage.pth'
  garbage.write_bytes(b'this is no checkpoint')
  with pytest.raises(errors.UserError, match='not a readable') as e:
    resnet_weights.read_torch_state_dict(str(garbage))
  assert str(garbage) in str(e.value)

  # A storage record cut short.
  truncated = tmp_path / 'truncated.pth'
  with zipfile.ZipFile(TINY_PTH) as src, zipfile.ZipFile(truncated,
                                                         'w') as dst:
    for info in src.infolist():
      data = src.read(info)
      if info.filename == 'tiny_resnet/data/0':
        data = data[:len(data) // 2]
      dst.writestr(info, data)
  with pytest.raises(errors.UserError, match='data/0'):
    resnet_weights.read_torch_state_dict(str(truncated))

  # A zip that is no torch checkpoint.
  other = tmp_path / 'other.zip'
  with zipfile.ZipFile(other, 'w') as z:
    z.writestr('readme.txt', 'hello')
  with pytest.raises(errors.UserError, match='data.pkl'):
    resnet_weights.read_torch_state_dict(str(other))


class _RunsCode:
  """Unpickling this would run a shell command."""

  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    return (os.system, (f'touch {self.marker}',))


@pytest.mark.parametrize('kind', ['zip', 'legacy'])
def test_reader_refuses_other_globals(tmp_path, kind):
  marker = tmp_path / 'code_ran'
  payload = pickle.dumps({'conv1.weight': _RunsCode(marker)}, protocol=2)
  path = tmp_path / 'evil.pth'
  if kind == 'zip':
    with zipfile.ZipFile(path, 'w') as z:
      z.writestr('evil/data.pkl', payload)
  else:
    path.write_bytes(payload)
  with pytest.raises(errors.UserError, match='Refusing') as e:
    resnet_weights.read_torch_state_dict(str(path))
  assert f'{os.system.__module__}.system' in str(e.value)
  assert str(path) in str(e.value)
  assert not marker.exists()


def test_reader_pickle_cannot_change_its_markers(tmp_path):
  # GLOBAL torch.FloatStorage, then BUILD with a state: would rewrite the
  # module's shared marker (and every later file's float32 storages).
  path = tmp_path / 'build.pth'
  with zipfile.ZipFile(path, 'w') as z:
    z.writestr('build/data.pkl', b'\x80\x02ctorch\nFloatStorage\n'
               b'}X\x05\x00\x00\x00dtypeX\x03\x00\x00\x00objsb.')
  with pytest.raises(errors.UserError, match='sets the state'):
    resnet_weights.read_torch_state_dict(str(path))
  tensors = resnet_weights.read_torch_state_dict(
      os.path.join(FIXTURES, 'reader_tensors.pt'))
  assert tensors['float32'].dtype == np.float32


# --- conversion -----------------------------------------------------------


def test_torch_key_mapping():
  assert resnet_weights.torch_key(
      ('params', 'layer3_5', 'downsample_0', 'kernel')) == (
          'layer3.5.downsample.0.weight')
  assert resnet_weights.torch_key(('params', 'bn1', 'scale')) == 'bn1.weight'
  assert resnet_weights.torch_key(
      ('batch_stats', 'layer1_0', 'bn2', 'var')) == 'layer1.0.bn2.running_var'


@pytest.mark.parametrize('num_stages,layer', [(4, 'layer4'), (3, 'layer3')])
def test_converted_forward_matches_torch(tiny_state_dict, reference,
                                         num_stages, layer):
  variables = resnet_weights.torchvision_to_flax(
      tiny_state_dict, **TINY, num_stages=num_stages)
  model = resnet.ResNet(**TINY, num_stages=num_stages)
  chex.assert_trees_all_equal_shapes(
      variables, jax.eval_shape(model.init, jax.random.key(0),
                                jnp.zeros((1, 32, 32, 3))))
  # torch's conv1 weight [O, I, kh, kw] is the kernel [kh, kw, I, O].
  np.testing.assert_array_equal(
      variables['params']['conv1']['kernel'][2, 5],
      tiny_state_dict['conv1.weight'][:, :, 2, 5].T)
  grid = jax.jit(model.apply)(variables,
                              resnet.normalize_images(reference['image']))
  want = reference[layer]
  assert grid.shape == want.shape
  assert grid.shape[1:3] == resnet.grid_shape(
      reference['image'].shape[1:3], num_stages)
  np.testing.assert_allclose(grid, want, atol=1e-4, rtol=1e-5)


def test_bfloat16_forward_is_close(tiny_state_dict, reference):
  variables = resnet_weights.torchvision_to_flax(tiny_state_dict, **TINY)
  model = resnet.ResNet(**TINY, dtype='bfloat16')
  grid = jax.jit(model.apply)(variables,
                              resnet.normalize_images(reference['image']))
  assert grid.dtype == jnp.bfloat16
  want = reference['layer4']
  error = np.abs(np.asarray(grid, np.float32) - want).mean()
  assert error < 0.05 * np.abs(want).mean()


def test_batch_norm_frozen_unless_asked(tiny_state_dict, reference):
  variables = resnet_weights.torchvision_to_flax(tiny_state_dict, **TINY)
  images = resnet.normalize_images(reference['image'])
  frozen = jax.jit(functools.partial(resnet.ResNet(**TINY).apply,
                                     train=True))(variables, images)
  np.testing.assert_allclose(frozen, reference['layer4'], atol=1e-4,
                             rtol=1e-5)
  model = resnet.ResNet(**TINY, train_batch_norm=True)
  grid, updates = jax.jit(functools.partial(
      model.apply, train=True, mutable=['batch_stats']))(variables, images)
  assert not np.allclose(grid, reference['layer4'], atol=1e-2)
  old = variables['batch_stats']['bn1']['mean']
  new = updates['batch_stats']['bn1']['mean']
  assert not np.allclose(old, new)


def test_conversion_names_missing_and_misshaped_keys(tiny_state_dict):
  broken = dict(tiny_state_dict)
  del broken['layer2.0.bn1.running_var']
  broken['layer1.1.conv2.weight'] = np.zeros((3, 2, 3, 3), np.float32)
  with pytest.raises(errors.UserError) as e:
    resnet_weights.torchvision_to_flax(broken, **TINY, source='x.pth')
  message = str(e.value)
  assert message.startswith('x.pth does not fit')
  assert 'missing keys (1): layer2.0.bn1.running_var' in message
  assert ('wrong shapes (1): layer1.1.conv2.weight (3, 2, 3, 3) (expected '
          '(3, 3, 3, 3))') in message


def test_conversion_with_the_wrong_preset_names_extra_keys(tiny_state_dict):
  # The fixture has two blocks in stage 1; (1, 1, 1, 1) has one.
  with pytest.raises(errors.UserError, match='lacks') as e:
    resnet_weights.torchvision_to_flax(tiny_state_dict, (1, 1, 1, 1), 3)
  assert 'layer1.1.conv1.weight' in str(e.value)
  # fc, num_batches_tracked and stages past num_stages are not complaints.
  resnet_weights.torchvision_to_flax(tiny_state_dict, **TINY, num_stages=2)


def test_real_resnet101_layout_converts(resnet101_shapes):
  with gzip.open(os.path.join(FIXTURES,
                              'torchvision_resnet101_shapes.json.gz')) as f:
    shapes = json.load(f)
  params = sum(int(np.prod(s)) for k, s in shapes
               if k.endswith(('weight', 'bias')) and not k.startswith('fc.'))
  assert params == RESNET101_PARAMS
  state_dict = {k: np.broadcast_to(np.float32(0), s) for k, s in shapes}
  variables = resnet_weights.torchvision_to_flax(state_dict, (3, 4, 23, 3),
                                                 64)
  flat = {k: v.shape for k, v in
          traverse_util.flatten_dict(variables).items()}
  assert flat == resnet101_shapes


# --- the model ------------------------------------------------------------


def test_resnet101_parameter_count(resnet101_shapes):
  params = sum(int(np.prod(s)) for k, s in resnet101_shapes.items()
               if k[0] == 'params')
  assert params == RESNET101_PARAMS == 42_500_160
  stats = sum(int(np.prod(s)) for k, s in resnet101_shapes.items()
              if k[0] == 'batch_stats')
  assert stats == 2 * sum(int(np.prod(s)) for k, s in resnet101_shapes.items()
                          if k[-1] == 'scale')


@pytest.mark.parametrize('num_stages,grid', [(4, (14, 14, 2048)),
                                             (3, (28, 28, 1024))])
def test_resnet101_grid_shapes_at_448(num_stages, grid):
  model = resnet.from_preset('resnet101', num_stages=num_stages)
  out, _ = jax.eval_shape(
      lambda: model.init_with_output(jax.random.key(0),
                                     jnp.zeros((2, 448, 448, 3))))
  assert out.shape == (2,) + grid
  assert resnet.grid_shape((448, 448), num_stages) == grid[:2]
  assert model.out_features == grid[2]


def test_presets_and_bad_fields():
  assert resnet.from_preset('tiny').out_features == 256
  with pytest.raises(errors.UserError, match='resnet101'):
    resnet.from_preset('resnet102')
  with pytest.raises(ValueError, match='num_stages'):
    resnet.ResNet(num_stages=5).init(jax.random.key(0),
                                     jnp.zeros((1, 32, 32, 3)))


def test_normalize_images():
  pixels = np.array([[[0, 128, 255]]], np.uint8).repeat(3, axis=0)
  pixels = pixels.transpose(1, 2, 0)  # [1, 3, 3]: pixel j is all pixels[j]
  x = resnet.normalize_images(pixels)
  np.testing.assert_allclose(resnet.normalize_images(pixels.astype(
      np.float32)), x)
  mean, std = np.array(resnet.IMAGENET_MEAN), np.array(resnet.IMAGENET_STD)
  np.testing.assert_allclose(x[0, 0], -mean / std, rtol=1e-6)
  np.testing.assert_allclose(x[0, 2], (1 - mean) / std, rtol=1e-6)
  assert resnet.normalize_images(pixels, jnp.bfloat16).dtype == jnp.bfloat16


# --- the msgpack file -----------------------------------------------------


def test_convert_then_load_variables(tmp_path, tiny_state_dict):
  path = str(tmp_path / 'out' / 'tiny.msgpack')
  written = resnet_weights.convert(TINY_PTH, path, TINY)
  loaded = resnet_weights.load_variables(path, TINY)
  chex.assert_trees_all_equal(loaded, written)
  three = resnet_weights.load_variables(path, TINY, num_stages=3)
  assert 'layer4_0' not in three['params']
  chex.assert_trees_all_equal(three, resnet_weights.torchvision_to_flax(
      tiny_state_dict, **TINY, num_stages=3))


def test_load_variables_errors(tmp_path):
  missing = str(tmp_path / 'resnet101.msgpack')
  with pytest.raises(errors.UserError, match='python -m hardattn') as e:
    resnet_weights.load_variables(missing)
  assert missing in str(e.value)
  path = str(tmp_path / 'tiny.msgpack')
  resnet_weights.convert(TINY_PTH, path, TINY)
  with pytest.raises(errors.UserError, match='same --preset') as e:
    resnet_weights.load_variables(path, 'tiny')
  assert 'extra (' in str(e.value)  # layer1_1: two blocks, tiny has one
  assert 'params/layer1_1/' in str(e.value)
  assert 'wrong shapes' in str(e.value)  # width 8 vs 3
  garbage = tmp_path / 'garbage.msgpack'
  garbage.write_bytes(b'\xc1 not msgpack')
  with pytest.raises(errors.UserError, match='not a readable'):
    resnet_weights.load_variables(str(garbage), TINY)
  with pytest.raises(errors.UserError, match='Unknown ResNet preset'):
    resnet_weights.load_variables(path, 'resnet102')
