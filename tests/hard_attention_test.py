"""Selection with hand-built inputs: HAN top-k, AdaHAN thresholds, gradients."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardattn.models import aggregation
from hardattn.models import hard_attention


def _cells_with_norms(norms):
  """[batch, cells] norms -> [batch, cells, 2] cells with exactly those norms."""
  norms = np.asarray(norms, np.float32)
  return jnp.asarray(np.stack([norms * 0.6, norms * 0.8], axis=-1))


def test_num_kept():
  assert hard_attention.num_kept(64, 0.25) == 16
  assert hard_attention.num_kept(25, 0.25) == 6
  assert hard_attention.num_kept(196, 0.16) == 31
  assert hard_attention.num_kept(10, 0.01) == 1
  assert hard_attention.num_kept(10, 1.0) == 10
  with pytest.raises(ValueError):
    hard_attention.num_kept(10, 0.0)


def test_cell_norms():
  m = _cells_with_norms([[1.0, 2.0, 5.0]])
  np.testing.assert_allclose(hard_attention.cell_norms(m), [[1.0, 2.0, 5.0]],
                             rtol=1e-6)


def test_top_k_keeps_exactly_the_highest_norm_cells():
  norms = [[0.1, 3.0, 0.5, 2.0, 7.0, 0.2],
           [9.0, 0.1, 0.2, 0.3, 0.4, 8.0]]
  m = _cells_with_norms(norms)
  sel = jax.jit(hard_attention.top_k_cells, static_argnums=2)(
      m, hard_attention.cell_norms(m), 3)
  np.testing.assert_array_equal(sel.indices, [[4, 1, 3], [0, 5, 4]])
  np.testing.assert_allclose(sel.values, np.asarray(m)[[[0], [1]],
                                                      sel.indices])
  np.testing.assert_array_equal(sel.mask, np.ones((2, 3)))
  grid = hard_attention.grid_mask(sel, 6)
  np.testing.assert_array_equal(grid, [[0, 1, 0, 1, 1, 0],
                                       [1, 0, 0, 0, 1, 1]])


def test_adahan_keeps_exactly_the_cells_above_threshold():
  norms = np.array([[0.0, 2.0, 0.1, 1.9, 0.0],
                    [1.0, 1.0, 1.0, 1.0, 1.0]], np.float32)
  m = _cells_with_norms(norms)
  weights = jax.nn.softmax(jnp.asarray(norms), axis=-1)
  expected = np.asarray(weights > 1.0 / 5)
  assert expected[0].tolist() == [False, True, False, True, False]
  assert not expected[1].any()  # uniform: nobody beats 1/N ...
  sel = hard_attention.adaptive_cells(m, jnp.asarray(norms))
  grid = np.asarray(hard_attention.grid_mask(sel, 5))
  np.testing.assert_array_equal(grid[0], expected[0].astype(np.float32))
  assert grid[1].sum() == 1  # ... but at least one cell is kept
  np.testing.assert_allclose(sel.mask.sum(-1), [2, 1])


def test_adahan_threshold_and_squared_norm():
  norms = jnp.asarray([[3.0, 2.0, 1.0, 0.0]])
  m = _cells_with_norms(norms)
  for threshold in (0.5, 1.0, 2.0):
    for squared in (False, True):
      scores = norms ** 2 if squared else norms
      expected = np.array(jax.nn.softmax(scores) > threshold / 4)
      expected[0, 0] = True
      sel = hard_attention.adaptive_cells(m, norms, threshold=threshold,
                                          squared_norm=squared)
      np.testing.assert_array_equal(hard_attention.grid_mask(sel, 4),
                                    expected.astype(np.float32))


def test_adahan_budget_gathers_only_max_cells_candidates():
  norms = jnp.asarray([[5.0, 4.9, 4.8, 0.0, 0.0, 0.0]])
  m = _cells_with_norms(norms)
  sel = hard_attention.adaptive_cells(m, norms, max_cells=2)
  chex.assert_shape(sel.values, (1, 2, 2))
  np.testing.assert_array_equal(sel.indices, [[0, 1]])
  np.testing.assert_array_equal(sel.mask, [[1, 1]])  # cell 2 is cut by budget


def test_gradients_reach_only_kept_cells():
  norms = np.array([[0.1, 3.0, 0.5, 2.0, 7.0, 0.2]], np.float32)
  m = _cells_with_norms(norms)

  def pooled(m, rule):
    if rule == 'han':
      sel = hard_attention.top_k_cells(m, hard_attention.cell_norms(m), 2)
    else:
      sel = hard_attention.adaptive_cells(m, hard_attention.cell_norms(m))
    return jnp.sum(jnp.einsum('bkd,bk->bd', sel.values, sel.mask) ** 2)

  for rule, kept in (('han', {1, 4}), ('adahan', {4})):
    grads = np.asarray(jax.grad(pooled)(m, rule))
    nonzero = {i for i in range(6) if np.any(grads[0, i] != 0)}
    assert nonzero == kept, rule


def test_rn_on_kept_cells_equals_rn_with_masks_on_all_cells():
  rng = np.random.default_rng(0)
  m = jnp.asarray(rng.normal(size=(3, 9, 5)), jnp.float32)
  q = jnp.asarray(rng.normal(size=(3, 4)), jnp.float32)
  rn = aggregation.RelationalNetwork(features=(8, 8, 6))
  params = rn.init(jax.random.key(0), m, q, jnp.ones((3, 9)))
  sel = hard_attention.top_k_cells(m, hard_attention.cell_norms(m), 4)
  on_kept = rn.apply(params, sel.values, q, sel.mask)
  masked_all = rn.apply(params, m, q, hard_attention.grid_mask(sel, 9))
  np.testing.assert_allclose(on_kept, masked_all, rtol=1e-5, atol=1e-5)
  # And a masked candidate contributes nothing, as AdaHAN relies on.
  mask = jnp.asarray([[1, 1, 0, 1]] * 3, jnp.float32)
  on_three = rn.apply(params, sel.values[:, jnp.array([0, 1, 3])], q,
                      jnp.ones((3, 3)))
  np.testing.assert_allclose(rn.apply(params, sel.values, q, mask), on_three,
                             rtol=1e-5, atol=1e-5)


def test_factorized_rn_equals_naive_pair_concatenation():
  rng = np.random.default_rng(1)
  m = jnp.asarray(rng.normal(size=(2, 7, 5)), jnp.float32)
  q = jnp.asarray(rng.normal(size=(2, 3)), jnp.float32)
  mask = jnp.asarray(rng.integers(0, 2, size=(2, 7)), jnp.float32)
  fast = aggregation.RelationalNetwork(features=(8, 6), factorized=True)
  naive = aggregation.RelationalNetwork(features=(8, 6), factorized=False)
  params = fast.init(jax.random.key(0), m, q, mask)
  np.testing.assert_allclose(fast.apply(params, m, q, mask),
                             naive.apply(params, m, q, mask),
                             rtol=1e-5, atol=1e-5)


def test_rn_sums_over_all_ordered_pairs():
  """g = identity-like single layer: the sum is checkable by hand."""
  m = jnp.asarray([[[1.0], [2.0], [4.0]]])
  q = jnp.asarray([[0.0]])
  rn = aggregation.RelationalNetwork(features=(1,))
  params = {'params': {'g0_kernel': jnp.asarray([[1.0], [10.0], [0.0]]),
                       'g0_bias': jnp.zeros((1,))}}
  out = rn.apply(params, m, q, jnp.ones((1, 3)))
  # sum_{i,j} (o_i + 10 o_j) = 3 * 7 + 10 * 3 * 7 = 231.
  np.testing.assert_allclose(out, [[231.0]])
  out = rn.apply(params, m, q, jnp.asarray([[1.0, 0.0, 1.0]]))
  # pairs over {1, 4}: 2 * 5 + 10 * 2 * 5 = 110.
  np.testing.assert_allclose(out, [[110.0]])


def test_rn_pair_geometry_is_the_same_function_factorized_or_not():
  """With coords, each pair's (dx, dy, distance) enters g's first layer
  through its own weights: equal in both forms, unchanged by moving every
  cell by the same offset, and changed by moving one."""
  rng = np.random.default_rng(2)
  m = jnp.asarray(rng.normal(size=(2, 5, 4)), jnp.float32)
  q = jnp.asarray(rng.normal(size=(2, 3)), jnp.float32)
  mask = jnp.ones((2, 5), jnp.float32)
  xy = jnp.asarray(rng.uniform(-1, 1, size=(2, 5, 2)), jnp.float32)
  fast = aggregation.RelationalNetwork(features=(8, 6), factorized=True)
  naive = aggregation.RelationalNetwork(features=(8, 6), factorized=False)
  params = fast.init(jax.random.key(0), m, q, mask, coords=xy)
  assert params['params']['g0_geometry'].shape == (3, 8)
  out = fast.apply(params, m, q, mask, coords=xy)
  np.testing.assert_allclose(out, naive.apply(params, m, q, mask, coords=xy),
                             rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(
      out, fast.apply(params, m, q, mask, coords=xy + 0.3), rtol=1e-5,
      atol=1e-5)
  moved = xy.at[:, 0].add(0.5)
  assert not np.allclose(out, fast.apply(params, m, q, mask, coords=moved),
                         rtol=1e-3)
  # Without coords the geometry weights are not created: the paper's RN.
  assert 'g0_geometry' not in fast.init(jax.random.key(0), m, q,
                                        mask)['params']
  # Self-pairs (distance 0) give finite gradients.
  grads = jax.grad(lambda c: jnp.sum(fast.apply(params, m, q, mask,
                                                coords=c)))(xy)
  assert np.all(np.isfinite(grads))


def test_separated_top_k_keeps_no_two_neighbouring_cells():
  """han_separation: greedy suppression keeps the largest norm, then the
  largest outside its neighbourhood, and so on; radius 0 is the top-k;
  slots with no candidate left are masked out."""
  # A 4x4 grid: the two largest norms are neighbours (cells 5 and 6).
  norms = jnp.asarray([[0.1, 0.2, 0.3, 0.4,
                        0.5, 9.0, 8.0, 0.6,
                        0.7, 0.8, 0.9, 1.0,
                        1.1, 1.2, 1.3, 7.0]], jnp.float32)
  m = jnp.arange(16, dtype=jnp.float32).reshape(1, 16, 1)
  sel = hard_attention.top_k_separated_cells(m, norms, 3, (4, 4), 1)
  np.testing.assert_array_equal(sel.indices, [[5, 15, 13]])
  np.testing.assert_array_equal(sel.values[..., 0], [[5.0, 15.0, 13.0]])
  np.testing.assert_array_equal(sel.mask, [[1, 1, 1]])
  plain = hard_attention.top_k_separated_cells(m, norms, 3, (4, 4), 0)
  np.testing.assert_array_equal(
      plain.indices, hard_attention.top_k_cells(m, norms, 3).indices)
  # Radius 2 around cell 5 covers the whole 4x4 grid: the other two
  # slots have no candidate and are masked out.
  crowded = hard_attention.top_k_separated_cells(m, norms, 3, (4, 4), 2)
  np.testing.assert_array_equal(crowded.indices[:, 0], [5])
  np.testing.assert_array_equal(crowded.mask, [[1, 0, 0]])
  with pytest.raises(ValueError, match='does not have 16 cells'):
    hard_attention.top_k_separated_cells(m, norms, 3, (3, 4), 1)


def test_explore_scores_draw_by_norm_and_turn_into_the_top_k():
  """han_explore's Gumbel top-k: every cell is kept now and then, more
  often the larger its norm; at a small temperature the draw is the top-k;
  it reads the norms' ranking only (scaling them changes nothing)."""
  norms = jnp.asarray([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]], jnp.float32)
  keys = jax.random.split(jax.random.key(0), 2000)
  kept = jax.vmap(lambda k: jnp.zeros(6).at[jax.lax.top_k(
      hard_attention.explore_scores(norms, k, 1.0), 2)[1][0]].add(1.0))(keys)
  counts = np.asarray(kept.sum(0))
  assert counts.sum() == 4000
  assert np.all(counts > 0)  # every cell learns now and then
  assert np.all(np.diff(counts) > 0)  # ... the more the larger its norm
  sharp = jax.vmap(lambda k: jax.lax.top_k(
      hard_attention.explore_scores(norms, k, 0.01), 2)[1][0])(keys[:50])
  np.testing.assert_array_equal(np.sort(np.asarray(sharp), -1),
                                np.tile([4, 5], (50, 1)))
  key = jax.random.key(1)
  np.testing.assert_allclose(
      hard_attention.explore_scores(norms, key, 0.5),
      hard_attention.explore_scores(7.0 * norms + 3.0, key, 0.5), rtol=1e-5)
  with pytest.raises(ValueError, match='> 0'):
    hard_attention.explore_scores(norms, key, 0.0)
