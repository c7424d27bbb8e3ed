"""The (data, model) mesh: shapes, errors, and the RN's pairs on `model`."""

import functools

import jax
import numpy as np
import optax
import pytest

from hardattn import errors
from hardattn import models
from hardattn import sharding
from hardattn import train
from hardattn.datasets import sort_of_clevr


def test_mesh_shapes():
  assert dict(sharding.create_mesh().shape) == {'data': 4, 'model': 1}
  assert dict(sharding.create_mesh(shape={'data': -1, 'model': 2}).shape
              ) == {'data': 2, 'model': 2}
  assert dict(sharding.create_mesh(shape={'data': 1, 'model': -1}).shape
              ) == {'data': 1, 'model': 4}
  two = sharding.create_mesh(jax.devices()[:2], {'data': 2})
  assert dict(two.shape) == {'data': 2, 'model': 1}


@pytest.mark.parametrize('shape,match', [
    ({'data': 3}, 'does not fit 4 devices'),
    ({'data': -1, 'model': 3}, 'does not fit 4 devices'),
    ({'data': 2, 'modle': 2}, "unknown axes \\['modle'\\]"),
])
def test_bad_mesh_is_a_clear_error(shape, match):
  with pytest.raises(errors.UserError, match=match):
    sharding.create_mesh(shape=shape)


def test_batch_splits_over_the_data_axis_only():
  mesh = sharding.create_mesh(shape={'data': 2, 'model': 2})
  sharding.check_batch_size(2, mesh, 'batch_size')
  with pytest.raises(errors.UserError, match='data axis'):
    sharding.check_batch_size(3, mesh, 'batch_size')


def _compiled_step(devices, shape, batch_size=8):
  """An RN train step (SGD) compiled on a mesh, its state and batch."""
  mesh = sharding.create_mesh(jax.devices()[:devices], shape)
  meta = sort_of_clevr.meta(40, 10)
  model = models.create_model(
      'rn', meta, cnn_features=(8, 8, 8, 8), fusion_features=(16,),
      g_features=(128, 128), f_features=(16,), dropout_rate=0.0)
  rng = np.random.default_rng(0)
  batch = {
      'image': rng.integers(0, 256, (batch_size,) + meta.image_shape,
                            dtype=np.uint8),
      'question': np.eye(11, dtype=np.float32)[rng.integers(0, 11,
                                                            batch_size)],
      'answer': rng.integers(0, meta.num_answers, batch_size).astype(np.int32),
  }
  repl = sharding.replicated(mesh)
  state = jax.jit(functools.partial(train.create_train_state, model,
                                    tx=optax.sgd(0.1)), out_shardings=repl)(
                                        batch, rng=jax.random.key(0))
  batch = sharding.to_global(batch, mesh)
  jitted = jax.jit(train.train_step, in_shardings=(
      repl, sharding.data_sharding(mesh), repl), out_shardings=(repl, repl))
  with jax.set_mesh(mesh):  # as sharding.jit runs it
    compiled = jitted.lower(state, batch, jax.random.key(1)).compile()
  return compiled, state, batch


def test_model_axis_gives_the_same_step_with_less_memory_per_device():
  results, temp = {}, {}
  for devices, shape in ((4, {'data': 4}), (4, {'data': 2, 'model': 2}),
                         (2, {'data': 2})):
    compiled, state, batch = _compiled_step(devices, shape)
    temp[devices, shape.get('model', 1)] = (
        compiled.memory_analysis().temp_size_in_bytes)
    new_state, metrics = compiled(state, batch, jax.random.key(1))
    updates = jax.tree.map(lambda new, old: np.asarray(new) - np.asarray(old),
                           jax.device_get(new_state.params),
                           jax.device_get(state.params))
    results[devices, shape.get('model', 1)] = (
        updates, float(metrics.compute()['loss']))
  want_updates, want_loss = results[4, 1]
  for key, (updates, loss) in results.items():  # the pair sum's order moves
    assert loss == pytest.approx(want_loss, rel=1e-6), key
    for a, b in zip(jax.tree.leaves(want_updates), jax.tree.leaves(updates)):
      np.testing.assert_allclose(a, b, rtol=1e-3, atol=2e-5 * np.abs(a).max())
  # The same examples per data shard: the model axis halves the pair
  # activations per device.
  assert temp[4, 2] < 0.75 * temp[2, 1], temp
