"""Soft attention baselines: Stacked Attention (SAN) and SMem-VQA hops.

Soft attention weighs every cell by a softmax over the grid instead of
choosing cells, so it always pays for all of them; these are the baselines
hard attention is measured against. Each module returns its per-hop weights
so they can be pictured and compared with HAN's kept cells.

Decisions where the papers leave a choice (also in the modules' docs):
  - SAN: the first query u_0 is a linear projection of the question
    encoding to the cells' width (SAN's v_Q already has the image width); the
    softmax's bias b_p is dropped, as a softmax over regions ignores it.
  - SMem: padded words are left out of the max over words and out of the bag
    of words; W_Q holds one weight per word position (the paper's W_Q V with
    V [T, N]), initialised to 1 (a plain sum of the word vectors); hop 2's
    scores are divided by sqrt(N) (see `SpatialMemory`).

References:
  Yang et al. "Stacked Attention Networks for Image Question Answering".
  CVPR 2016, arXiv:1511.02274.
  Xu & Saenko. "Ask, Attend and Answer: Exploring Question-Guided Spatial
  Attention for Visual Question Answering". ECCV 2016, arXiv:1511.05234.
"""

import flax
from flax import linen as nn
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class Attended:
  """What a stack of soft-attention hops gives the aggregation.

  Attributes:
    output: [batch, d] the hops' answer vector (SAN: u_K; SMem: O_1 for one
      hop, relu(O_1 + evidence_2) for two), what sum pooling passes on.
    values: [batch, cells, d] what the last hop weighs (SAN: the cells;
      SMem: the last hop's evidence embedding), for the relational network.
    query: [batch, d] what the last hop attends with (SAN: u_{K-1}; SMem:
      the bag of words Q for one hop, O_1 for two), the RN's question.
    weights: [batch, hops, cells] float32 attention weights of every hop,
      each summing to 1 over cells.
  """
  output: jax.Array
  values: jax.Array
  query: jax.Array
  weights: jax.Array


def softmax_over_cells(scores: jax.Array) -> jax.Array:
  """softmax over the last axis, in float32."""
  return jax.nn.softmax(scores.astype(jnp.float32), axis=-1)


class StackedAttention(nn.Module):
  """SAN: u_0 = W_0 q; per hop k, h = tanh(W_I v (+) (W_Q u_{k-1} + b_A)),
  p = softmax_cells(w_p . h), v~ = sum_i p_i v_i, u_k = v~ + u_{k-1}.

  Each hop has its own W_I, W_Q, b_A and w_p.
  """
  hops: int = 2  # 1 | 2 (SAN's best is 2)
  attention_dim: int = 256  # width of h (SAN's k)
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, cells: jax.Array, question: jax.Array) -> Attended:
    """Attends over cells.

    Args:
      cells: [batch, cells, d] region vectors v_i (here the fused cells).
      question: [batch, d_q] question encoding.

    Returns:
      Attended with output u_K, values = cells, query u_{K-1}.
    """
    if self.hops < 1:
      raise ValueError(f'hops must be >= 1, got {self.hops}')
    cells = cells.astype(self.dtype)
    d = cells.shape[-1]
    u = nn.Dense(d, dtype=self.dtype, name='query0')(
        question.astype(self.dtype))
    weights = []
    for k in range(self.hops):
      query = u
      image_part = nn.Dense(self.attention_dim, use_bias=False,
                            dtype=self.dtype, name=f'hop{k}_image')(cells)
      query_part = nn.Dense(self.attention_dim, dtype=self.dtype,
                            name=f'hop{k}_query')(query)
      h = jnp.tanh(image_part + query_part[:, None, :])
      scores = nn.Dense(1, use_bias=False, dtype=self.dtype,
                        name=f'hop{k}_score')(h)[..., 0]
      p = softmax_over_cells(scores)
      weights.append(p)
      u = jnp.einsum('bn,bnd->bd', p.astype(self.dtype), cells) + query
    return Attended(output=u, values=cells, query=query,
                    weights=jnp.stack(weights, axis=1))


class SpatialMemory(nn.Module):
  """SMem-VQA: word-guided attention (hop 1) and evidence-guided hop 2.

  With word vectors V [T, N] and cells S [L, M] (per example):
    hop 1: C = V (S W_A + b_A)^T [T, L]; a_1 = softmax_L(max_T C);
      E_1 = S W_E + b_E; O_1 = sum_l a_1[l] E_1[l] + Q, Q = W_Q V + b_Q.
    hop 2: a_2 = softmax_L(E_1 O_1 / sqrt(N)); E_2 = S W_E2 + b_E2;
      output relu(O_1 + sum_l a_2[l] E_2[l]).
  One hop outputs O_1. The answer layer (W_P) is the model's head.

  The 1 / sqrt(N) in hop 2 is ours (`scale_hop2`; the paper prints E_1 O_1).
  E_1 O_1 grows with the square of the evidence embedding's scale: trained
  as printed on the spatial set, both hops' softmaxes collapsed onto one cell
  by step 1,000 and accuracy stayed at chance (50%) through step 2,000,
  where one hop reached 71%. Scaling as in scaled dot-product attention
  keeps the scores' spread independent of N.
  """
  hops: int = 1  # 1 | 2
  embed_dim: int = 256  # N: words, attention and evidence embeddings
  # Hop 2's scores are E_1 O_1 / sqrt(N) (decision; False: E_1 O_1 as
  # printed, whose softmax collapses onto one cell in training here).
  scale_hop2: bool = True
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, cells: jax.Array, words: jax.Array,
               word_mask: jax.Array) -> Attended:
    """Attends over cells with the question's words.

    Args:
      cells: [batch, cells, M] image cells S.
      words: [batch, T, N] word vectors V (padding rows are ignored).
      word_mask: [batch, T] True for real words.

    Returns:
      Attended; values is E_1 (one hop) or E_2 (two hops).
    """
    if self.hops not in (1, 2):
      raise ValueError(f'SMem has 1 or 2 hops, got {self.hops}')
    if words.shape[-1] != self.embed_dim:
      raise ValueError(f'word vectors must have embed_dim={self.embed_dim} '
                       f'features, got {words.shape[-1]}')
    cells = cells.astype(self.dtype)
    words = words.astype(self.dtype)
    word_mask = word_mask.astype(bool)
    dense = lambda name: nn.Dense(self.embed_dim, dtype=self.dtype, name=name)
    attention_embed = dense('attention_embed')(cells)  # S W_A + b_A
    correlation = jnp.einsum('btn,bln->btl', words, attention_embed)
    correlation = correlation.astype(jnp.float32)
    correlation = jnp.where(word_mask[:, :, None], correlation,
                            jnp.finfo(jnp.float32).min)
    a1 = softmax_over_cells(jnp.max(correlation, axis=1))
    evidence_embed = dense('evidence_embed')(cells)  # S W_E + b_E
    position_weights = self.param('bow_weights', nn.initializers.ones,
                                  (words.shape[1],), jnp.float32)
    bow_bias = self.param('bow_bias', nn.initializers.zeros,
                          (self.embed_dim,), jnp.float32)
    kept_words = words * word_mask[..., None].astype(self.dtype)
    q = jnp.einsum('t,btn->bn', position_weights.astype(self.dtype),
                   kept_words) + bow_bias.astype(self.dtype)
    o1 = jnp.einsum('bl,bln->bn', a1.astype(self.dtype), evidence_embed) + q
    if self.hops == 1:
      return Attended(output=o1, values=evidence_embed, query=q,
                      weights=a1[:, None, :])
    scores = jnp.einsum('bln,bn->bl', evidence_embed, o1)
    if self.scale_hop2:
      scores = scores / jnp.sqrt(jnp.asarray(self.embed_dim, scores.dtype))
    a2 = softmax_over_cells(scores)
    evidence2_embed = dense('evidence2_embed')(cells)  # S W_E2 + b_E2
    evidence2 = jnp.einsum('bl,bln->bn', a2.astype(self.dtype),
                           evidence2_embed)
    return Attended(output=nn.relu(o1 + evidence2), values=evidence2_embed,
                    query=o1, weights=jnp.stack([a1, a2], axis=1))


def effective_fraction(weights: jax.Array) -> jax.Array:
  """exp(entropy) / cells of attention weights [batch, cells] -> [batch].

  1 for uniform weights, 1 / cells for all weight on one cell: the soft
  counterpart of the fraction of cells a hard attention keeps.
  """
  w = weights.astype(jnp.float32)
  entropy = -jnp.sum(jnp.where(w > 0, w * jnp.log(jnp.where(w > 0, w, 1.0)),
                               0.0), axis=-1)
  return jnp.exp(entropy) / w.shape[-1]
