"""iBOWIMG (models/bow.py): its logits by hand, bag-of-words semantics."""

import types

import jax
import jax.numpy as jnp
import numpy as np

from hardattn import models

META = types.SimpleNamespace(num_answers=5, question_kind='tokens',
                             vocab_size=9)


def _model_and_variables(grid):
  model = models.create_model('ibowimg', META, word_embed_dim=4)
  variables = model.init(jax.random.key(0), grid[:1],
                         jnp.asarray([[3, 4, 0]]), train=False)
  return model, variables


def test_logits_are_one_softmax_layer_over_bow_and_pooled_grid():
  grid = jax.random.uniform(jax.random.key(1), (2, 3, 3, 6))
  model, variables = _model_and_variables(grid)
  tokens = jnp.asarray([[3, 4, 4, 0], [7, 0, 0, 0]])
  logits, aux = model.apply(variables, grid, tokens, train=False)
  p = variables['params']
  table = np.asarray(p['bow']['embed']['embedding'])
  bow = np.stack([table[3] + 2 * table[4], table[7]])
  pooled = np.asarray(grid).reshape(2, 9, 6).mean(1)
  x = np.concatenate([bow, pooled], -1)
  want = x @ np.asarray(p['head']['logits']['kernel']) + np.asarray(
      p['head']['logits']['bias'])
  np.testing.assert_allclose(logits, want, rtol=1e-5, atol=1e-5)
  assert set(p) == {'bow', 'head'}  # no other layer
  np.testing.assert_array_equal(aux['cell_mask'], np.ones((2, 9)))
  np.testing.assert_array_equal(aux['fraction_kept'], [1.0, 1.0])
  np.testing.assert_allclose(
      aux['norms'], np.linalg.norm(np.asarray(grid).reshape(2, 9, 6), axis=-1),
      rtol=1e-5)


def test_bag_ignores_order_and_padding():
  grid = jnp.ones((1, 2, 2, 6))
  model, variables = _model_and_variables(grid)
  a, _ = model.apply(variables, grid, jnp.asarray([[3, 4, 5, 0]]),
                     train=False)
  b, _ = model.apply(variables, grid, jnp.asarray([[5, 3, 4, 0, 0, 0]]),
                     train=False)
  np.testing.assert_allclose(a, b, rtol=1e-6)
  assert model.grid_shape((7, 7)) == (7, 7)
