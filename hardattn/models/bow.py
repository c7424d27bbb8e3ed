"""iBOWIMG: a bag-of-words question and a pooled image feature, one softmax.

Zhou et al.'s "simple baseline" for VQA, the baseline SMem-VQA (Xu &
Saenko 2016) is compared with: the question as a bag of words through a
learned word embedding (the sum of its words' vectors, i.e. W times the
bag-of-words vector), concatenated with the image's pooled CNN feature
(GoogLeNet's average-pooled inception_5b, 1024-d), and one softmax layer
over the answers. No attention: every cell counts alike.

Decisions (the paper's text gives none of these here): the word vector
size (`word_embed_dim`, 1024), one optimizer for all layers (the paper
tunes the embedding's and the softmax's learning rates apart), the pooled
feature as torchvision computes it (the mean of the grid's cells, not
L2-normalised: `feature_l2_normalize=False`).

References:
  Zhou, Tian, Sukhbaatar, Szlam, Fergus. "Simple Baseline for Visual
  Question Answering". arXiv:1512.02167, 2015.
  Xu & Saenko. "Ask, Attend and Answer". ECCV 2016, arXiv:1511.05234.
"""

from collections.abc import Sequence

from flax import linen as nn
import jax
import jax.numpy as jnp

from hardattn import cells as cells_lib
from hardattn.models import aggregation as agg_lib
from hardattn.models import encoders
from hardattn.models import hard_attention


class BagOfWords(nn.Module):
  """The sum of a question's word vectors: W . bag-of-words.

  Token questions: each token's embedding, padding (0) left out. Vector
  questions (Sort-of-CLEVR's bits): the vector is the bag, times a matrix.
  """
  question_kind: str = 'tokens'  # 'vector' | 'tokens'
  vocab_size: int = 0  # tokens only
  embed_dim: int = 1024
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, question: jax.Array) -> jax.Array:
    """[b, T] tokens or [b, Q] vector -> [b, embed_dim]."""
    if self.question_kind == 'tokens':
      words = nn.Embed(self.vocab_size, self.embed_dim, dtype=self.dtype,
                       name='embed')(question)
      real = (question != 0)[..., None].astype(words.dtype)
      return jnp.sum(words * real, axis=1)
    if self.question_kind == 'vector':
      return nn.Dense(self.embed_dim, use_bias=False, dtype=self.dtype,
                      name='embed')(question.reshape(question.shape[0], -1))
    raise ValueError(f"question_kind must be 'vector' or 'tokens', got "
                     f'{self.question_kind!r}')


class IBOWIMG(nn.Module):
  """softmax(W_P [BoW(q); mean of the image's cells] + b_P).

  aux (no attention): cell_mask all ones, fraction_kept 1, norms the L2
  norms of the image's cells, indices and mask of a model keeping every
  cell.
  """
  num_answers: int
  question_kind: str = 'tokens'  # 'vector' | 'tokens'
  vocab_size: int = 0  # tokens only, from the dataset
  word_embed_dim: int = 1024  # bag-of-words embedding size (decision)
  image_encoder: str = 'features'  # 'features' (grids) | 'cnn' | 'resnet'
  cnn_features: Sequence[int] = (24, 24, 24, 24)  # cnn: RN CNN widths
  cnn_padding: str = 'zeros'  # cnn: 'zeros' | 'edge'
  backbone: str = 'resnet101'  # resnet: a key of resnet.RESNET_PRESETS
  backbone_stages: int = 4  # resnet: stages run
  backbone_trainable: bool = False  # resnet: fine-tune (else frozen)
  backbone_weights: str | None = None  # resnet: converted weights, at init
  feature_l2_normalize: bool = False  # features: unit-norm cells first
  f_features: Sequence[int] = ()  # hidden layers; () = one softmax layer
  dropout_rate: float = 0.0  # before the answer layer
  head_zero_init: bool = False  # answer layer's kernel starts at zero
  dtype: jnp.dtype = jnp.float32  # computation dtype (params stay float32)

  def grid_shape(self, image_hw: tuple[int, int]) -> tuple[int, int]:
    """Cells (h, w) for inputs whose image (or grid) is [*image_hw, ...]."""
    return encoders.cells_grid(image_hw, self.image_encoder,
                               self.cnn_features, self.backbone_stages)

  def cell_grid(self, image_hw: tuple[int, int]) -> cells_lib.CellGrid:
    """Where the cells sit on an [*image_hw] input."""
    if self.image_encoder == 'cnn':
      return cells_lib.conv_grid(image_hw, len(self.cnn_features))
    return cells_lib.CellGrid.uniform(self.grid_shape(image_hw), image_hw)

  @nn.compact
  def __call__(self, image: jax.Array, question: jax.Array, *,
               train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Answers questions about images.

    Args:
      image: 'features': grids [n, h, w, C] (GoogLeNet's inception_5b:
        7x7x1024); 'cnn' / 'resnet': [n, H, W, 3] uint8. n is batch or a
        divisor of it (`encoders.share_images`).
      question: [batch, length] int tokens or [batch, dim] float.
      train: dropout (and the RN CNN's batch statistics) on.

    Returns:
      logits [batch, num_answers] float32, and aux (see the class doc).
    """
    cells = encoders.image_cells(
        image, train=train, image_encoder=self.image_encoder,
        cnn_features=self.cnn_features, backbone=self.backbone,
        backbone_stages=self.backbone_stages,
        backbone_trainable=self.backbone_trainable,
        l2_normalize=self.feature_l2_normalize, dtype=self.dtype,
        cnn_padding=self.cnn_padding)[..., :-2]  # without the (x, y) tags
    cells = encoders.share_images(cells, question.shape[0])
    pooled = jnp.mean(cells.astype(jnp.float32), axis=1).astype(self.dtype)
    words = BagOfWords(self.question_kind, self.vocab_size,
                       self.word_embed_dim, self.dtype, name='bow')(question)
    x = jnp.concatenate([words, pooled], axis=-1)
    logits = agg_lib.AnswerHead(self.f_features, self.num_answers,
                                self.dropout_rate, self.dtype,
                                self.head_zero_init, name='head')(
                                    x, train=train)
    batch, num_cells = cells.shape[:2]
    ones = jnp.ones((batch, num_cells), jnp.float32)
    return logits, {
        'indices': jnp.broadcast_to(jnp.arange(num_cells, dtype=jnp.int32),
                                    (batch, num_cells)),
        'mask': ones,
        'norms': hard_attention.cell_norms(cells),
        'cell_mask': ones,
        'fraction_kept': jnp.ones((batch,), jnp.float32),
    }
