"""Hard attention: choosing cells by the L2 norm of their fused embedding.

Selection only; what happens to the chosen cells is `aggregation.py`'s job.
Every function keeps static shapes so it compiles under `jax.jit`: HAN gathers
exactly k cells, AdaHAN gathers a fixed budget of candidates and masks the
ones below its threshold.

No gradient flows through the choice itself (indices and masks are integer or
boolean): the kept cells' embeddings get gradients, the dropped ones none, and
the network "bootstraps" norms that track relevance.

References:
  Malinowski et al. "Learning Visual Question Answering by Bootstrapping Hard
  Attention". ECCV 2018, arXiv:1808.00300.
"""

import flax
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class Selection:
  """Cells chosen by an attention rule, in a fixed-shape form.

  Attributes:
    values: [batch, k, d] the chosen cells' embeddings (k = cells kept, or the
      candidate budget for AdaHAN).
    indices: [batch, k] int32 cell indices into the full grid, or None when
      all cells are kept in order (no gather was done).
    mask: [batch, k] float 0/1, which of the k are really kept.
  """
  values: jax.Array
  indices: jax.Array | None
  mask: jax.Array


def num_kept(num_cells: int, fraction: float) -> int:
  """HAN's k: round(fraction * cells), at least 1, at most all cells."""
  if not 0.0 < fraction <= 1.0:
    raise ValueError(f'fraction must be in (0, 1], got {fraction}')
  return int(min(num_cells, max(1, round(fraction * num_cells))))


def cell_norms(m: jax.Array) -> jax.Array:
  """L2 norm of each cell, in float32.

  Args:
    m: [batch, cells, d].

  Returns:
    [batch, cells].
  """
  m = m.astype(jnp.float32)
  return jnp.sqrt(jnp.sum(m * m, axis=-1))


def gather_cells(x: jax.Array, indices: jax.Array) -> jax.Array:
  """x[b, indices[b, i]]: [batch, cells, ...] x [batch, k] -> [batch, k, ...]."""
  idx = indices.reshape(indices.shape + (1,) * (x.ndim - 2))
  return jnp.take_along_axis(x, idx, axis=1)


def keep_all(m: jax.Array) -> Selection:
  """No attention: every cell, in order."""
  return Selection(values=m, indices=None,
                   mask=jnp.ones(m.shape[:2], m.dtype))


def top_k_cells(m: jax.Array, norms: jax.Array, k: int) -> Selection:
  """HAN: the k cells of largest norm, gathered (the rest are not computed on).

  Args:
    m: [batch, cells, d] fused cell embeddings.
    norms: [batch, cells] the attention signal.
    k: static number of cells to keep.

  Returns:
    A Selection of k cells per example, highest norm first.
  """
  _, indices = jax.lax.top_k(jax.lax.stop_gradient(norms), k)
  return Selection(values=gather_cells(m, indices), indices=indices,
                   mask=jnp.ones(indices.shape, m.dtype))


def explore_scores(norms: jax.Array, key: jax.Array,
                   scale: float) -> jax.Array:
  """Norms perturbed for a train-time choice that explores (Gumbel top-k).

  Each example's norms are standardised over its cells (mean 0, std 1),
  divided by `scale` and given Gumbel noise, so their top-k is a draw of k
  cells without replacement with probabilities proportional to
  exp(z / scale), z the standardised norm. Cells the norm ranks low are kept
  now and then and get gradients (with the paper's top-k a cell that is
  never kept never learns); as the norms come to separate the relevant
  cells (large z), the draw turns into the top-k. Scale-free: it reads
  only the ranking's spread within an example. A departure from the paper
  (decision, issue 17); evaluation keeps the plain top-k.

  Args:
    norms: [batch, cells] the attention signal.
    key: PRNG key.
    scale: the temperature, > 0 (near 0: the top-k).

  Returns:
    [batch, cells] float32 scores to rank instead of `norms`.
  """
  if scale <= 0:
    raise ValueError(f'explore scale must be > 0, got {scale}')
  z = jax.lax.stop_gradient(norms).astype(jnp.float32)
  z = (z - jnp.mean(z, -1, keepdims=True)) / (
      jnp.std(z, -1, keepdims=True) + 1e-6)
  return z / scale + jax.random.gumbel(key, z.shape, jnp.float32)


def top_k_separated_cells(m: jax.Array, norms: jax.Array, k: int,
                          grid_hw: tuple[int, int], radius: int = 1
                          ) -> Selection:
  """HAN keeping k cells no two of which are within `radius` of each other.

  Greedy, as non-maximum suppression: the cell of largest norm is kept,
  the cells within `radius` rows and columns of it are dropped from the
  candidates, and so on k times. On a grid finer than the objects (an
  object over several cells) the kept cells then hold more objects and
  fewer cells of the same one (decision, issue 17; a departure from the
  paper's top-k). A slot left with no candidate is masked out.

  Args:
    m: [batch, cells, d] fused cell embeddings, cells row-major.
    norms: [batch, cells] the attention signal.
    k: static number of cells to keep.
    grid_hw: (h, w) of the cells, h * w == cells.
    radius: suppression distance in cells (Chebyshev); 0 is `top_k_cells`.

  Returns:
    A Selection of k cells per example, in the order they were kept.
  """
  h, w = grid_hw
  if h * w != norms.shape[-1]:
    raise ValueError(f'grid {grid_hw} does not have {norms.shape[-1]} cells')
  rows, cols = jnp.divmod(jnp.arange(h * w), w)
  scores = jax.lax.stop_gradient(norms).astype(jnp.float32)
  free = jnp.ones(scores.shape, bool)
  picked, valid = [], []
  for _ in range(k):  # k is small and static
    i = jnp.argmax(jnp.where(free, scores, -jnp.inf), axis=-1)
    picked.append(i)
    valid.append(jnp.any(free, axis=-1))
    near = ((jnp.abs(rows[None] - rows[i][:, None]) <= radius)
            & (jnp.abs(cols[None] - cols[i][:, None]) <= radius))
    free = free & ~near
  indices = jnp.stack(picked, axis=-1).astype(jnp.int32)
  return Selection(values=gather_cells(m, indices), indices=indices,
                   mask=jnp.stack(valid, axis=-1).astype(m.dtype))


def adaptive_cells(m: jax.Array, norms: jax.Array, *, threshold: float = 1.0,
                   max_cells: int | None = None,
                   squared_norm: bool = False) -> Selection:
  """AdaHAN: keep the cells whose softmax-normalised norm beats threshold / N.

  The softmax runs over all N cells; a cell is kept where its weight exceeds
  threshold / N, so with the default threshold 1 a cell is kept when it gets
  more than a uniform share. The highest-norm cell is always kept. For static
  shapes and real savings, only the `max_cells` highest-norm cells are
  candidates (a top-k gather); the threshold then masks among them.

  Args:
    m: [batch, cells, d] fused cell embeddings.
    norms: [batch, cells] L2 norms of m.
    threshold: a cell is kept where softmax(norms) > threshold / cells.
    max_cells: candidate budget (static); None means all cells.
    squared_norm: use the squared norm as the softmax's logits.

  Returns:
    A Selection of max_cells candidates per example, highest norm first,
    with mask 1 for kept cells.
  """
  num_cells = m.shape[1]
  budget = num_cells if max_cells is None else int(min(max_cells, num_cells))
  if budget < 1:
    raise ValueError(f'max_cells must be >= 1, got {max_cells}')
  scores = jax.lax.stop_gradient(norms)
  if squared_norm:
    scores = scores * scores
  weights = jax.nn.softmax(scores, axis=-1)
  top_weights, indices = jax.lax.top_k(weights, budget)
  keep = top_weights > threshold / num_cells
  keep = keep.at[:, 0].set(True)  # the best cell is always kept
  return Selection(values=gather_cells(m, indices), indices=indices,
                   mask=keep.astype(m.dtype))


def grid_mask(selection: Selection, num_cells: int) -> jax.Array:
  """The selection as a [batch, cells] 0/1 mask over the full grid."""
  if selection.indices is None:
    return selection.mask.astype(jnp.float32)
  one_hot = jax.nn.one_hot(selection.indices, num_cells, dtype=jnp.float32)
  return jnp.einsum('bkn,bk->bn', one_hot,
                    selection.mask.astype(jnp.float32))
