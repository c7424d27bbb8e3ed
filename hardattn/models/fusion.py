"""Question-image fusion: the question on every cell, then 1x1 convolutions.

References:
  Malinowski et al. "Learning Visual Question Answering by Bootstrapping Hard
  Attention". ECCV 2018, arXiv:1808.00300 (Fig. 2: the fused embedding m whose
  L2 norm is the attention signal).
"""

from collections.abc import Sequence

from flax import linen as nn
import jax
import jax.numpy as jnp


class Fusion(nn.Module):
  """Concatenates the question to each cell and embeds each cell.

  A 1x1 convolution over a grid is a dense layer applied to every cell, which
  is what this is, on [batch, cells, channels].
  """
  features: Sequence[int] = (256, 256)  # widths of the 1x1 convolutions
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, cells: jax.Array, question: jax.Array) -> jax.Array:
    """Fuses cells with the question.

    Args:
      cells: [batch, cells, d_cell].
      question: [batch, d_q].

    Returns:
      m: [batch, cells, features[-1]], ReLU after every layer (decision: the
      fused cells are non-negative features, like the CNN's; the norm is
      taken on m as is, never normalised).
    """
    q = jnp.broadcast_to(question[:, None, :].astype(cells.dtype),
                         cells.shape[:2] + question.shape[-1:])
    x = jnp.concatenate([cells, q], axis=-1)
    for i, width in enumerate(self.features):
      x = nn.relu(nn.Dense(width, dtype=self.dtype, name=f'conv1x1_{i}')(x))
    return x
