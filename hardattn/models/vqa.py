"""The composed VQA models: encoders -> fusion -> attention -> aggregation.

References:
  Malinowski et al. "Learning Visual Question Answering by Bootstrapping Hard
  Attention". ECCV 2018, arXiv:1808.00300.
  Santoro et al. "A simple neural network module for relational reasoning".
  NeurIPS 2017, arXiv:1706.01427 (the RN, and the CNN+MLP baseline).
  Yang et al. "Stacked Attention Networks for Image Question Answering".
  CVPR 2016, arXiv:1511.02274 (SAN).
  Xu & Saenko. "Ask, Attend and Answer: Exploring Question-Guided Spatial
  Attention for Visual Question Answering". ECCV 2016, arXiv:1511.05234
  (SMem-VQA).
"""

from collections.abc import Sequence

from flax import linen as nn
import jax
import jax.numpy as jnp

from hardattn import cells as cells_lib
from hardattn.models import aggregation as agg_lib
from hardattn.models import encoders
from hardattn.models import fusion
from hardattn.models import hard_attention
from hardattn.models import soft_attention

ATTENTIONS = ('none', 'han', 'adahan')
COORDS = ('fusion', 'kept', 'both')
RN_SUM_CELLS = ('kept', 'all')
SOFT_ATTENTIONS = ('san', 'smem')
AGGREGATIONS = ('sum', 'rn')


def all_cells(batch: int, num_cells: int) -> dict[str, jax.Array]:
  """aux's indices and mask for a model that keeps every cell in order."""
  return {
      'indices': jnp.broadcast_to(jnp.arange(num_cells, dtype=jnp.int32),
                                  (batch, num_cells)),
      'mask': jnp.ones((batch, num_cells), jnp.float32),
  }


class QuestionEncoder(nn.Module):
  """Chooses the LSTM for token questions, identity for vector questions."""
  question_kind: str = 'vector'  # 'vector' | 'tokens'
  vocab_size: int = 0  # tokens only
  word_embed_dim: int = 32
  lstm_dim: int = 128
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, question: jax.Array) -> jax.Array:
    if self.question_kind == 'tokens':
      return encoders.LSTMQuestionEncoder(
          self.vocab_size, self.word_embed_dim, self.lstm_dim, self.dtype,
          name='lstm_encoder')(question)
    if self.question_kind == 'vector':
      return encoders.VectorQuestionEncoder()(question)
    raise ValueError(f"question_kind must be 'vector' or 'tokens', got "
                     f'{self.question_kind!r}')


class VQAModel(nn.Module):
  """CNN + question encoder, fused cells, hard attention, aggregation, head.

  `__call__` returns `(logits, aux)`; aux holds
    norms: [batch, cells] L2 norm of each fused cell (the attention signal),
    indices: [batch, k] kept (AdaHAN: candidate) cell indices (none: all),
    mask: [batch, k] which of the k are kept,
    cell_mask: [batch, cells] kept cells on the full grid,
    fraction_kept: [batch] kept cells / all cells.
  The grid's (h, w) is `grid_shape(image_hw)`. `image_encoder` picks the
  cells: the RN CNN on pixels, precomputed backbone grids, or the ResNet
  inside the model (see `encoders.image_cells`).
  """
  num_answers: int
  question_kind: str = 'vector'  # 'vector' | 'tokens'
  vocab_size: int = 0  # tokens only, from the dataset
  attention: str = 'han'  # 'none' | 'han' | 'adahan'
  aggregation: str = 'rn'  # 'sum' | 'rn'
  cnn_features: Sequence[int] = (24, 24, 24, 24)  # RN CNN widths
  cnn_padding: str = 'zeros'  # RN CNN: 'zeros' | 'edge' (encoders.py)
  image_encoder: str = 'cnn'  # 'cnn' | 'features' (grids) | 'resnet'
  backbone: str = 'resnet101'  # resnet: a key of resnet.RESNET_PRESETS
  backbone_stages: int = 4  # resnet: 4 -> stride 32 (448 -> 14x14)
  backbone_trainable: bool = False  # resnet: fine-tune (else frozen)
  backbone_weights: str | None = None  # resnet: converted weights, at init
  feature_l2_normalize: bool = True  # features, resnet: unit-norm cells
  word_embed_dim: int = 32
  lstm_dim: int = 128
  fusion_features: Sequence[int] = (256, 256)  # 1x1 conv widths; m's size
  # The question also scales the fusion's first layer feature by feature
  # (`fusion.Fusion`'s film, from the concatenation at initialisation;
  # decision, issue 17).
  fusion_film: bool = False
  fraction: float = 0.25  # han: fraction of cells kept (k >= 1)
  adahan_threshold: float = 1.0  # adahan: keep softmax(norm) > thr / cells
  adahan_max_cells: int | None = None  # adahan: candidate budget; None = all
  adahan_squared_norm: bool = False  # adahan: softmax over squared norms
  g_features: Sequence[int] = (256, 256, 256, 256)  # rn: g's layers
  rn_factorized: bool = True  # rn: per-cell split of g's first layer
  rn_pool: str = 'sum'  # rn: 'sum' over kept pairs (paper) | 'mean' | 'max'
  # rn: the head also reads the sum of the kept cells (HAN+sum's pooling)
  # beside the RN's output (decision, issue 17: sum pooling gives each
  # kept cell's norm a direct say in the answer, which bootstraps the
  # selection; the RN's pairs do not).
  rn_sum_skip: bool = False
  # rn, with rn_sum_skip: which cells the skip sums, 'kept' (HAN+sum's
  # pooling) | 'all' (every fused cell: the O(cells) sum sees the whole
  # scene, the O(k^2) RN the kept cells; decision, issue 17: on 10x10
  # cells a few kept cells drop the objects' edges, docs/bootstrapping.md).
  rn_sum_cells: str = 'kept'
  # rn: the RN's output is scaled by a learned scalar that starts at zero
  # (ReZero, Bachlechner et al. 2020), so an untrained RN adds no noise
  # (decision, issue 17; with rn_sum_skip the model starts as HAN+sum).
  rn_gate: bool = False
  # rn: the RN is not computed and gives zeros (with rn_gate at zero, the
  # same function); set by the training loop for a first all-cells phase
  # of a model with the sum skip (train.fraction_at), where the RN would
  # cost the most.
  rn_skipped: bool = False
  # rn: no gradient from the RN into the kept cells (the fusion, and so
  # the norms, learn from the sum skip only; decision, issue 17: the RN's
  # gradients erode the selection at the fast recipe's learning rate).
  rn_detach: bool = False
  # rn, with rn_sum_skip: the head reads the RN's output through first-layer
  # weights that start at zero (`AnswerHead`'s x_from_zero), so the RN joins
  # without perturbing what the head has learned from the sum, and unlike
  # rn_gate's one scalar, each weight learns from its own gradient
  # (decision, issue 17: on 10x10 cells the RN joining slowed the sum path).
  rn_head_zero: bool = False
  # rn: each pair's (dx, dy, distance) between its cells' grid positions
  # enters g's first layer (`RelationalNetwork`'s coords; decision, issue
  # 17: on the generator's true objects the RN learned closest / furthest
  # in 5,000 steps with it and stayed at the no-distance floor without it,
  # experiments/oracle_rn.py).
  rn_pair_geometry: bool = False
  # han: kept cells are at least this many cells apart in rows or columns
  # (`top_k_separated_cells`, greedy suppression of each kept cell's
  # neighbours); 0 is the paper's top-k (decision, issue 17: on 10x10
  # cells the top-k keeps several cells of one object).
  han_separation: int = 0
  # han: at train time the top-k ranks the norms standardised per example,
  # divided by this temperature and given Gumbel noise (a draw of k cells,
  # `hard_attention.explore_scores`), so that cells the norm ranks low are
  # kept now and then and learn; 0 is the paper's deterministic top-k, and
  # evaluation always uses it (decision, issue 17).
  han_explore: float = 0.0
  f_features: Sequence[int] = (256, 256)  # answer MLP
  dropout_rate: float = 0.5
  head_zero_init: bool = False  # answer layer's kernel starts at zero
  # Where the cells' (x, y) coordinates enter: 'fusion' (the paper: cells
  # are tagged before the fusion, so the norm sees position) | 'kept'
  # (appended to the kept cells after the selection; decision, issue 17)
  # | 'both' (the paper's fusion, and the kept cells also carry their raw
  # (x, y) into the aggregation, as the RN paper's objects do; decision,
  # issue 17: position questions lagged shape and count).
  coords: str = 'fusion'
  dtype: jnp.dtype = jnp.float32  # computation dtype (params stay float32)

  def grid_shape(self, image_hw: tuple[int, int]) -> tuple[int, int]:
    """Cells (h, w) for inputs whose image (or grid) is [*image_hw, ...]."""
    return encoders.cells_grid(image_hw, self.image_encoder,
                               self.cnn_features, self.backbone_stages)

  def cell_grid(self, image_hw: tuple[int, int]) -> cells_lib.CellGrid:
    """Where the cells sit on an [*image_hw] input (`hardattn.cells`): the
    CNN's receptive fields, or an equal division for backbone grids."""
    if self.image_encoder == 'cnn':
      return cells_lib.conv_grid(image_hw, len(self.cnn_features))
    return cells_lib.CellGrid.uniform(self.grid_shape(image_hw), image_hw)

  def encode_image(self, image: jax.Array, *, train: bool) -> jax.Array:
    """[b, ...] images or grids -> cells [b, cells, C + 2]."""
    return encoders.image_cells(
        image, train=train, image_encoder=self.image_encoder,
        cnn_features=self.cnn_features, backbone=self.backbone,
        backbone_stages=self.backbone_stages,
        backbone_trainable=self.backbone_trainable,
        l2_normalize=self.feature_l2_normalize, dtype=self.dtype,
        cnn_padding=self.cnn_padding)

  def select(self, m: jax.Array, norms: jax.Array,
             grid_hw: tuple[int, int] | None = None, *, train: bool = False
             ) -> hard_attention.Selection:
    """Applies the configured attention rule to the fused cells."""
    if self.attention == 'none':
      return hard_attention.keep_all(m)
    if self.attention == 'han':
      k = hard_attention.num_kept(m.shape[1], self.fraction)
      if train and self.han_explore > 0:
        norms = hard_attention.explore_scores(
            norms, self.make_rng('dropout'), self.han_explore)
      if self.han_separation > 0:
        return hard_attention.top_k_separated_cells(
            m, norms, k, grid_hw, self.han_separation)
      return hard_attention.top_k_cells(m, norms, k)
    if self.attention == 'adahan':
      return hard_attention.adaptive_cells(
          m, norms, threshold=self.adahan_threshold,
          max_cells=self.adahan_max_cells,
          squared_norm=self.adahan_squared_norm)
    raise ValueError(f'attention must be one of {ATTENTIONS}, got '
                     f'{self.attention!r}')

  @nn.compact
  def __call__(self, image: jax.Array, question: jax.Array, *,
               train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Answers questions about images.

    Args:
      image: [n, height, width, 3] uint8 or float in [0, 1]; with
        image_encoder='features', grids [n, h, w, C]. n is batch, or a
        divisor of it when images are shared by consecutive questions
        (`encoders.share_images`).
      question: [batch, dim] float (vector questions) or [batch, length]
        int tokens.
      train: dropout and batch statistics on.

    Returns:
      logits [batch, num_answers] float32, and aux (see the class doc).
    """
    if self.aggregation not in AGGREGATIONS:
      raise ValueError(f'aggregation must be one of {AGGREGATIONS}, got '
                       f'{self.aggregation!r}')
    if self.coords not in COORDS:
      raise ValueError(f'coords must be one of {COORDS}, got '
                       f'{self.coords!r}')
    cells = encoders.share_images(self.encode_image(image, train=train),
                                  question.shape[0])
    q = QuestionEncoder(self.question_kind, self.vocab_size,
                        self.word_embed_dim, self.lstm_dim, self.dtype,
                        name='question_encoder')(question)
    coords = all_coords = cells[..., -2:]
    if self.coords == 'kept':  # ('both' keeps them in the fusion too)
      cells = cells[..., :-2]
    m = fusion.Fusion(self.fusion_features, self.dtype, self.fusion_film,
                      name='fusion')(cells, q)
    norms = hard_attention.cell_norms(m)
    sel = self.select(m, norms, self.grid_shape(image.shape[1:3]),
                      train=train)
    values = sel.values
    if sel.indices is not None:
      coords = hard_attention.gather_cells(coords, sel.indices)
    if self.coords != 'fusion':
      values = jnp.concatenate([values, coords.astype(values.dtype)], -1)
    from_zero = None
    if self.aggregation == 'rn':
      if self.rn_skipped:
        pooled = jnp.zeros(values.shape[:1] + (self.g_features[-1],),
                           values.dtype)
      else:
        pooled = agg_lib.RelationalNetwork(
            self.g_features, self.rn_factorized, self.dtype, self.rn_pool,
            name='rn')(jax.lax.stop_gradient(values) if self.rn_detach
                       else values, q, sel.mask,
                       coords=coords if self.rn_pair_geometry else None)
        if self.rn_gate:
          gate = self.param('rn_gate', nn.initializers.zeros, (),
                            jnp.float32)
          pooled = pooled * gate.astype(pooled.dtype)
      if self.rn_sum_skip:
        if self.rn_sum_cells not in RN_SUM_CELLS:
          raise ValueError(f'rn_sum_cells must be one of {RN_SUM_CELLS}, '
                           f'got {self.rn_sum_cells!r}')
        if self.rn_sum_cells == 'all':
          summed = m
          if self.coords != 'fusion':
            summed = jnp.concatenate([m, all_coords.astype(m.dtype)], -1)
          summed_mask = jnp.ones(m.shape[:2], jnp.float32)
        else:
          summed, summed_mask = values, sel.mask
        sum_pooled = agg_lib.SumPooling(name='sum')(
            summed, q, summed_mask).astype(pooled.dtype)
        if self.rn_head_zero:
          pooled, from_zero = sum_pooled, pooled
        else:
          pooled = jnp.concatenate([pooled, sum_pooled], axis=-1)
      elif self.rn_head_zero:
        raise ValueError('rn_head_zero needs rn_sum_skip (the head would '
                         'start with no input)')
    else:
      pooled = agg_lib.SumPooling(name='sum')(values, q, sel.mask)
    logits = agg_lib.AnswerHead(self.f_features, self.num_answers,
                                self.dropout_rate, self.dtype,
                                self.head_zero_init, name='head')(
                                    pooled, train=train,
                                    x_from_zero=from_zero)
    batch, num_cells = norms.shape
    cell_mask = hard_attention.grid_mask(sel, num_cells)
    aux = all_cells(batch, num_cells)
    if sel.indices is not None:
      aux['indices'] = sel.indices
      aux['mask'] = sel.mask.astype(jnp.float32)
    aux.update(norms=norms, cell_mask=cell_mask,
               fraction_kept=jnp.sum(cell_mask, axis=-1) / num_cells)
    return logits, aux


class SoftAttentionModel(nn.Module):
  """The same backbone and head as `VQAModel`, with soft attention.

  attention='san': the question is fused onto the cells as in `VQAModel`
  (so SAN and HAN differ only in the attention) and SAN's hops weigh the
  fused cells. attention='smem': SMem's word-guided hops read the CNN
  cells directly (its own fusion), with word vectors of size
  `attention_dim` instead of the LSTM.

  aggregation='sum' passes the hops' output on (SAN's u_K, SMem's O_1 or
  relu(O_1 + evidence_2)): a weighted sum of the cells plus the query.
  aggregation='rn' replaces it by sum_ij p_i p_j g(v_i, v_j, query) over
  the last hop's weights p, values v and query (see
  `soft_attention.Attended`), i.e. the RN with soft pair weights. The head
  is `AnswerHead`; with `f_features=()` it is the papers' single answer
  layer.

  aux: attention [batch, hops, cells] per-hop weights (each sums to 1);
  cell_mask [batch, cells] the last hop's weights; norms [batch, cells] L2
  norms of the attended cells; fraction_kept [batch] the last hop's
  effective fraction of cells, exp(entropy) / cells; indices and mask as a
  model that keeps every cell.
  """
  num_answers: int
  question_kind: str = 'vector'  # 'vector' | 'tokens'
  vocab_size: int = 0  # tokens only, from the dataset
  attention: str = 'san'  # 'san' | 'smem'
  aggregation: str = 'sum'  # 'sum' | 'rn'
  hops: int = 2  # san: 1 | 2 (or more); smem: 1 | 2
  attention_dim: int = 256  # san: width of h; smem: word/evidence size N
  smem_scale_hop2: bool = True  # smem: hop 2 scores / sqrt(N) (decision)
  cnn_features: Sequence[int] = (24, 24, 24, 24)  # RN CNN widths
  cnn_padding: str = 'zeros'  # RN CNN: 'zeros' | 'edge' (encoders.py)
  image_encoder: str = 'cnn'  # 'cnn' | 'features' (grids) | 'resnet'
  backbone: str = 'resnet101'  # resnet: a key of resnet.RESNET_PRESETS
  backbone_stages: int = 4  # resnet: 4 -> stride 32 (448 -> 14x14)
  backbone_trainable: bool = False  # resnet: fine-tune (else frozen)
  backbone_weights: str | None = None  # resnet: converted weights, at init
  feature_l2_normalize: bool = True  # features, resnet: unit-norm cells
  word_embed_dim: int = 32  # san: LSTM input
  lstm_dim: int = 128  # san
  fusion_features: Sequence[int] = (256, 256)  # san: 1x1 conv widths
  g_features: Sequence[int] = (256, 256, 256, 256)  # rn: g's layers
  rn_factorized: bool = True  # rn: per-cell split of g's first layer
  f_features: Sequence[int] = (256, 256)  # answer MLP
  dropout_rate: float = 0.5
  head_zero_init: bool = False  # answer layer's kernel starts at zero
  dtype: jnp.dtype = jnp.float32  # computation dtype (params stay float32)

  grid_shape = VQAModel.grid_shape
  cell_grid = VQAModel.cell_grid
  encode_image = VQAModel.encode_image

  @nn.compact
  def __call__(self, image: jax.Array, question: jax.Array, *,
               train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Same contract as `VQAModel.__call__`; aux as in the class doc."""
    if self.aggregation not in AGGREGATIONS:
      raise ValueError(f'aggregation must be one of {AGGREGATIONS}, got '
                       f'{self.aggregation!r}')
    cells = encoders.share_images(self.encode_image(image, train=train),
                                  question.shape[0])
    if self.attention == 'san':
      q = QuestionEncoder(self.question_kind, self.vocab_size,
                          self.word_embed_dim, self.lstm_dim, self.dtype,
                          name='question_encoder')(question)
      cells = fusion.Fusion(self.fusion_features, self.dtype, name='fusion')(
          cells, q)
      attended = soft_attention.StackedAttention(
          self.hops, self.attention_dim, self.dtype, name='san')(cells, q)
    elif self.attention == 'smem':
      words, word_mask = encoders.WordVectors(
          self.question_kind, self.vocab_size, self.attention_dim, self.dtype,
          name='word_vectors')(question)
      attended = soft_attention.SpatialMemory(
          self.hops, self.attention_dim, self.smem_scale_hop2, self.dtype,
          name='smem')(cells, words, word_mask)
    else:
      raise ValueError(f'attention must be one of {SOFT_ATTENTIONS}, got '
                       f'{self.attention!r}')
    weights = attended.weights[:, -1]
    if self.aggregation == 'rn':
      pooled = agg_lib.RelationalNetwork(
          self.g_features, self.rn_factorized, self.dtype, name='rn')(
              attended.values, attended.query, weights)
    else:
      pooled = attended.output
    logits = agg_lib.AnswerHead(self.f_features, self.num_answers,
                                self.dropout_rate, self.dtype,
                                self.head_zero_init, name='head')(
                                    pooled, train=train)
    batch, num_cells = weights.shape
    aux = all_cells(batch, num_cells)
    aux.update(attention=attended.weights, cell_mask=weights,
               norms=hard_attention.cell_norms(cells),
               fraction_kept=soft_attention.effective_fraction(weights))
    return logits, aux


class CNNMLP(nn.Module):
  """The RN paper's CNN+MLP baseline: no relational module, no attention.

  The flattened CNN grid (with coordinates) and the question go through an
  MLP; aux carries the CNN cells' norms and an all-ones mask so the model
  can be inspected and pictured like the others.
  """
  num_answers: int
  question_kind: str = 'vector'  # 'vector' | 'tokens'
  vocab_size: int = 0
  cnn_features: Sequence[int] = (24, 24, 24, 24)
  cnn_padding: str = 'zeros'  # 'zeros' | 'edge' (encoders.pad_like_same)
  word_embed_dim: int = 32
  lstm_dim: int = 128
  hidden_features: Sequence[int] = (256,)  # layers before f
  f_features: Sequence[int] = (256, 256)
  dropout_rate: float = 0.5
  head_zero_init: bool = False  # answer layer's kernel starts at zero
  dtype: jnp.dtype = jnp.float32

  def grid_shape(self, image_hw: tuple[int, int]) -> tuple[int, int]:
    return encoders.grid_shape(image_hw, len(self.cnn_features))

  def cell_grid(self, image_hw: tuple[int, int]) -> cells_lib.CellGrid:
    return cells_lib.conv_grid(image_hw, len(self.cnn_features))

  @nn.compact
  def __call__(self, image: jax.Array, question: jax.Array, *,
               train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Same contract as `VQAModel.__call__`."""
    cells, _ = encoders.ConvEncoder(self.cnn_features, self.dtype,
                                    self.cnn_padding,
                                    name='image_encoder')(image, train=train)
    cells = encoders.share_images(cells, question.shape[0])
    q = QuestionEncoder(self.question_kind, self.vocab_size,
                        self.word_embed_dim, self.lstm_dim, self.dtype,
                        name='question_encoder')(question)
    batch, num_cells, _ = cells.shape
    x = jnp.concatenate([cells.reshape(batch, -1), q.astype(cells.dtype)],
                        axis=-1)
    for i, width in enumerate(self.hidden_features):
      x = nn.relu(nn.Dense(width, dtype=self.dtype, name=f'mlp{i}')(x))
    logits = agg_lib.AnswerHead(self.f_features, self.num_answers,
                                self.dropout_rate, self.dtype,
                                self.head_zero_init, name='head')(
                                    x, train=train)
    aux = all_cells(batch, num_cells)
    aux.update(norms=hard_attention.cell_norms(cells),
               cell_mask=jnp.ones((batch, num_cells), jnp.float32),
               fraction_kept=jnp.ones((batch,), jnp.float32))
    return logits, aux
