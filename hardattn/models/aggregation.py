"""Aggregating the kept cells: sum pooling or a relational network.

References:
  Santoro et al. "A simple neural network module for relational reasoning".
  NeurIPS 2017, arXiv:1706.01427.
  Malinowski et al. "Learning Visual Question Answering by Bootstrapping Hard
  Attention". ECCV 2018, arXiv:1808.00300.
"""

from collections.abc import Sequence

from flax import linen as nn
import jax
import jax.numpy as jnp

from hardattn import sharding


RN_POOLS = ('sum', 'mean', 'max')  # RelationalNetwork.pool


class SumPooling(nn.Module):
  """Masked sum over cells."""

  @nn.compact
  def __call__(self, cells: jax.Array, question: jax.Array,
               mask: jax.Array) -> jax.Array:
    """[batch, k, d], [batch, d_q] (unused), [batch, k] -> [batch, d]."""
    del question
    return jnp.einsum('bkd,bk->bd', cells, mask.astype(cells.dtype))


class RelationalNetwork(nn.Module):
  """sum over ordered pairs (i, j) of mask_i mask_j g(o_i, o_j, q).

  g's first layer on a pair is W [o_i; o_j; q] + b = W_i o_i + W_j o_j + W_q q
  + b. With `factorized` (the default) the three products are computed once
  per cell and per question and broadcast over pairs, so that layer costs
  O(k) matmuls instead of O(k^2); the result is the same function with the
  same parameters as the naive concatenation (`factorized=False`, kept for
  tests and benchmarks).
  """
  features: Sequence[int] = (256, 256, 256, 256)  # g's layers
  factorized: bool = True  # split g's first layer per cell (same function)
  dtype: jnp.dtype = jnp.float32
  # 'sum' over the kept pairs (the RN paper) | 'mean': the sum divided by
  # the number of kept pairs, so the output's scale does not grow with k^2
  # | 'max': each feature's largest value over the kept pairs (a departure:
  # "the nearest/furthest X" is a min/max over pairs, which a sum of ReLUs
  # can only approximate).
  pool: str = 'sum'

  @nn.compact
  def __call__(self, cells: jax.Array, question: jax.Array,
               mask: jax.Array, coords: jax.Array | None = None
               ) -> jax.Array:
    """Relates every ordered pair of cells, self-pairs included.

    Args:
      cells: [batch, k, d] objects.
      question: [batch, d_q], appended to every pair.
      mask: [batch, k] 0/1; pairs with a masked cell contribute nothing.
      coords: optional [batch, k, 2] positions: each pair's (dx, dy,
        distance), o_j's position less o_i's, also enters g's first layer
        (its own weights `g0_geometry`; a departure from the RN paper,
        whose g must compute distances from the cells' coordinates).

    Returns:
      [batch, features[-1]] the sum (mean, max) of g over the kept pairs.
    """
    batch, k, d = cells.shape
    cells = cells.astype(self.dtype)
    question = question.astype(self.dtype)
    d_q = question.shape[-1]
    width = self.features[0]
    kernel = self.param('g0_kernel', nn.initializers.lecun_normal(),
                        (2 * d + d_q, width), jnp.float32)
    bias = self.param('g0_bias', nn.initializers.zeros, (width,), jnp.float32)
    kernel = kernel.astype(self.dtype)
    bias = bias.astype(self.dtype)
    if self.factorized:
      left = cells @ kernel[:d]  # o_i's share, [batch, k, width]
      right = cells @ kernel[d:2 * d]  # o_j's share
      q = question @ kernel[2 * d:] + bias  # [batch, width]
      h = (left[:, :, None, :] + right[:, None, :, :]
           + q[:, None, None, :])
    else:
      o_i = jnp.broadcast_to(cells[:, :, None, :], (batch, k, k, d))
      o_j = jnp.broadcast_to(cells[:, None, :, :], (batch, k, k, d))
      q = jnp.broadcast_to(question[:, None, None, :], (batch, k, k, d_q))
      h = jnp.concatenate([o_i, o_j, q], axis=-1) @ kernel + bias
    if coords is not None:
      delta = (coords[:, None, :, :] - coords[:, :, None, :]).astype(
          self.dtype)  # [batch, i, j, 2]: o_j - o_i
      dist = jnp.sqrt(jnp.sum(jnp.square(delta), -1, keepdims=True) + 1e-12)
      geometry = self.param('g0_geometry', nn.initializers.lecun_normal(),
                            (3, width), jnp.float32)
      h = h + jnp.concatenate([delta, dist], -1) @ geometry.astype(self.dtype)
    # A mesh `model` axis splits the pairs (by i) over its devices.
    h = sharding.shard_pairs(nn.relu(h))
    for i, width in enumerate(self.features[1:], start=1):
      h = nn.relu(nn.Dense(width, dtype=self.dtype, name=f'g{i}')(h))
    # A masked sum, which XLA fuses into one reduction; an einsum here
    # compiled to a transposing copy of h and a batched matvec (7% slower
    # fwd+bwd at 25 cells, one run).
    if self.pool not in RN_POOLS:
      raise ValueError(f'pool must be one of {RN_POOLS}, got {self.pool!r}')
    mask = mask.astype(self.dtype)
    pair_mask = mask[:, :, None, None] * mask[:, None, :, None]
    if self.pool == 'max':  # h >= 0 (a ReLU), so a masked pair's 0 never wins
      return jnp.max(h * pair_mask, axis=(1, 2))
    pooled = jnp.sum(h * pair_mask, axis=(1, 2))
    if self.pool == 'mean':
      pairs = jnp.sum(mask, axis=-1) ** 2
      return pooled / jnp.maximum(pairs, 1.0)[:, None]
    return pooled


class AnswerHead(nn.Module):
  """f: an MLP with dropout before the answer classifier."""
  features: Sequence[int] = (256, 256)  # hidden layers
  num_answers: int = 10
  dropout_rate: float = 0.5  # after the last hidden layer, as in the RN
  dtype: jnp.dtype = jnp.float32
  # The answer layer's kernel starts at zero, so every answer starts
  # equally likely whatever the scale of x (the RN's sum over k^2 pairs
  # gives initial logits of standard deviation ~19 otherwise).
  zero_init: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool,
               x_from_zero: jax.Array | None = None) -> jax.Array:
    """[batch, d] -> logits [batch, num_answers] in float32.

    `x_from_zero` [batch, d'], if given, is a second input to the first
    hidden layer whose weights (`f0_from_zero`) start at zero: the head is
    at first the function of x alone, and each weight learns from its own
    gradient (a per-weight ReZero; `VQAModel.rn_head_zero`).
    """
    if x_from_zero is not None and not self.features:
      raise ValueError('x_from_zero needs a hidden layer')
    for i, width in enumerate(self.features):
      h = nn.Dense(width, dtype=self.dtype, name=f'f{i}')(x)
      if i == 0 and x_from_zero is not None:
        h = h + nn.Dense(width, use_bias=False, dtype=self.dtype,
                         kernel_init=nn.initializers.zeros,
                         name='f0_from_zero')(x_from_zero)
      x = nn.relu(h)
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    kernel_init = (nn.initializers.zeros if self.zero_init
                   else nn.linear.default_kernel_init)
    logits = nn.Dense(self.num_answers, dtype=self.dtype,
                      kernel_init=kernel_init, name='logits')(x)
    return logits.astype(jnp.float32)
