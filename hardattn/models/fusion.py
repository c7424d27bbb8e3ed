"""Question-image fusion: the question on every cell, then 1x1 convolutions.

References:
  Malinowski et al. "Learning Visual Question Answering by Bootstrapping Hard
  Attention". ECCV 2018, arXiv:1808.00300 (Fig. 2: the fused embedding m whose
  L2 norm is the attention signal).
  Perez et al. "FiLM: Visual Reasoning with a General Conditioning Layer".
  AAAI 2018, arXiv:1709.07871 (the question scales each feature: `film`).
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
  # The first layer's cell term is also scaled feature by feature by the
  # question, relu((W_c c) * (1 + W_s q) + W_q q + b): a FiLM layer
  # (decision, issue 17). W_s starts at zero, so at initialisation it is
  # the concatenation's function, W [c; q] + b split in two; a cell's norm
  # can then grow with its content times the question (the colour seen and
  # the colour asked), which the concatenation's sum of the two terms gives
  # only through the ReLU's threshold.
  film: bool = False

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
    layers = list(enumerate(self.features))
    if self.film:
      width = layers.pop(0)[1]
      q = question.astype(self.dtype)
      cell_term = nn.Dense(width, use_bias=False, dtype=self.dtype,
                           name='conv1x1_0_cells')(cells)
      q_term = nn.Dense(width, dtype=self.dtype, name='conv1x1_0_question')(q)
      scale = nn.Dense(width, dtype=self.dtype,
                       kernel_init=nn.initializers.zeros,
                       name='film_scale')(q)
      x = nn.relu(cell_term * (1.0 + scale[:, None, :]) + q_term[:, None, :])
    else:
      q = jnp.broadcast_to(question[:, None, :].astype(cells.dtype),
                           cells.shape[:2] + question.shape[-1:])
      x = jnp.concatenate([cells, q], axis=-1)
    for i, width in layers:
      x = nn.relu(nn.Dense(width, dtype=self.dtype, name=f'conv1x1_{i}')(x))
    return x
