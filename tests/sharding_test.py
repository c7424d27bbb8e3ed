"""The (data, model) mesh: shapes, errors, and the RN's pairs on `model`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardattn import errors
from hardattn import sharding
from hardattn.models import aggregation


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


def _compiled_grad(devices, shape, batch_size=8):
  """Gradients of an RN's output, compiled on a mesh, and its inputs."""
  mesh = sharding.create_mesh(jax.devices()[:devices], shape)
  rn = aggregation.RelationalNetwork(features=(128, 128))
  rng = np.random.default_rng(0)
  cells = rng.standard_normal((batch_size, 25, 16)).astype(np.float32)
  question = rng.standard_normal((batch_size, 11)).astype(np.float32)
  mask = (rng.random((batch_size, 25)) < 0.8).astype(np.float32)
  params = rn.init(jax.random.key(0), cells, question, mask)

  weights = rng.standard_normal(128).astype(np.float32)

  def loss(params, cells, question, mask):  # linear in the output
    return jnp.mean(rn.apply(params, cells, question, mask) @ weights)

  repl, data = sharding.replicated(mesh), sharding.data_sharding(mesh)
  jitted = jax.jit(jax.value_and_grad(loss), in_shardings=(
      repl, data, data, data), out_shardings=repl)
  inputs = (params, *(sharding.to_global({'x': x}, mesh)['x']
                      for x in (cells, question, mask)))
  with jax.set_mesh(mesh):  # as sharding.jit runs it
    compiled = jitted.lower(*inputs).compile()
  return compiled, inputs


def test_model_axis_gives_the_same_result_with_less_memory_per_device():
  results, temp = {}, {}
  for devices, shape in ((4, {'data': 4}), (4, {'data': 2, 'model': 2}),
                         (2, {'data': 2})):
    compiled, inputs = _compiled_grad(devices, shape)
    key = devices, shape.get('model', 1)
    temp[key] = compiled.memory_analysis().temp_size_in_bytes
    results[key] = jax.device_get(compiled(*inputs))
  want_loss, want_grads = results[4, 1]
  for key, (loss, grads) in results.items():  # the pair sum's order moves
    assert loss == pytest.approx(want_loss, rel=1e-4, abs=1e-6), key
    for a, b in zip(jax.tree.leaves(want_grads), jax.tree.leaves(grads)):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * np.abs(a).max())
  # The same examples per data shard: the model axis halves the pair
  # activations per device.
  assert temp[4, 2] < 0.75 * temp[2, 1], temp
