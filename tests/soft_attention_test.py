"""SAN and SMem-VQA: the papers' equations on hand-built inputs."""

import types

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardattn import models
from hardattn.models import aggregation
from hardattn.models import encoders
from hardattn.models import soft_attention

TOKEN_META = types.SimpleNamespace(num_answers=2, question_kind='tokens',
                                   vocab_size=20)
SMALL = dict(cnn_features=(8, 8, 8), f_features=(16,), g_features=(16, 16),
             attention_dim=16)


def _softmax(x):
  e = np.exp(x - x.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def _random(shape, seed):
  return jnp.asarray(np.random.default_rng(seed).normal(size=shape),
                     jnp.float32)


@pytest.mark.parametrize('hops', [1, 2, 3])
def test_san_follows_its_equations(hops):
  cells, question = _random((2, 6, 5), 0), _random((2, 3), 1)
  module = soft_attention.StackedAttention(hops=hops, attention_dim=4)
  params = module.init(jax.random.key(0), cells, question)['params']
  out = module.apply({'params': params}, cells, question)
  p = jax.tree.map(np.asarray, params)
  v = np.asarray(cells)
  u = np.asarray(question) @ p['query0']['kernel'] + p['query0']['bias']
  for k in range(hops):
    query = u
    h = np.tanh(v @ p[f'hop{k}_image']['kernel'] + (
        query @ p[f'hop{k}_query']['kernel'] + p[f'hop{k}_query']['bias']
    )[:, None, :])
    weights = _softmax((h @ p[f'hop{k}_score']['kernel'])[..., 0])
    np.testing.assert_allclose(out.weights[:, k], weights, rtol=1e-5,
                               atol=1e-6)
    u = np.einsum('bn,bnd->bd', weights, v) + query
  np.testing.assert_allclose(out.output, u, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(out.query, query, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(np.sum(out.weights, -1), 1.0, rtol=1e-6)
  chex.assert_shape(out.weights, (2, hops, 6))


def _smem_inputs():
  """4 one-hot cells; word 0 is cell 2's direction, word 1 is padding."""
  cells = jnp.eye(4)[None]  # [1, 4 cells, M=4]
  words = jnp.asarray([[[0., 0., 5., 0.], [0., 0., 0., 50.]]])  # [1, T=2, 4]
  mask = jnp.asarray([[True, False]])
  return cells, words, mask


def test_smem_one_hop_attends_to_the_cell_matching_the_word():
  cells, words, mask = _smem_inputs()
  module = soft_attention.SpatialMemory(hops=1, embed_dim=4)
  params = module.init(jax.random.key(0), cells, words, mask)['params']
  # W_A = identity: cell l's attention embedding is e_l.
  params = dict(params, attention_embed={'kernel': jnp.eye(4),
                                         'bias': jnp.zeros(4)})
  out = module.apply({'params': params}, cells, words, mask)
  # C[0, l] = 5 [l == 2]; the padded word (which would pick cell 3) is out.
  expected = _softmax(np.array([0., 0., 5., 0.]))
  np.testing.assert_allclose(out.weights[0, 0], expected, rtol=1e-6)
  assert int(jnp.argmax(out.weights[0, 0])) == 2
  # O_1 = sum_l a_l (S W_E + b_E)_l + W_Q V + b_Q, padding left out of Q.
  p = jax.tree.map(np.asarray, params)
  evidence = np.eye(4) @ p['evidence_embed']['kernel'] + p[
      'evidence_embed']['bias']
  bow = p['bow_weights'][0] * np.array([0., 0., 5., 0.]) + p['bow_bias']
  np.testing.assert_allclose(out.output[0], expected @ evidence + bow,
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(out.query[0], bow, rtol=1e-6)
  # Unmasking the padded word moves the attention to cell 3.
  unmasked = module.apply({'params': params}, cells, words,
                          jnp.asarray([[True, True]]))
  assert int(jnp.argmax(unmasked.weights[0, 0])) == 3


@pytest.mark.parametrize('scale_hop2', [True, False])
def test_smem_two_hops_differ_from_one_only_through_the_second(scale_hop2):
  cells, words, mask = _random((2, 5, 3), 0), _random((2, 4, 6), 1), (
      jnp.asarray([[True, True, False, False], [True, True, True, True]]))
  two = soft_attention.SpatialMemory(hops=2, embed_dim=6,
                                     scale_hop2=scale_hop2)
  params = two.init(jax.random.key(0), cells, words, mask)['params']
  one_params = {k: v for k, v in params.items() if k != 'evidence2_embed'}
  one = soft_attention.SpatialMemory(hops=1, embed_dim=6)
  assert set(jax.tree.map(jnp.shape, one.init(
      jax.random.key(1), cells, words, mask)['params'])) == set(one_params)
  out1 = one.apply({'params': one_params}, cells, words, mask)
  out2 = two.apply({'params': params}, cells, words, mask)
  np.testing.assert_allclose(out2.weights[:, 0], out1.weights[:, 0])
  np.testing.assert_allclose(out2.query, out1.output, rtol=1e-6)  # O_1
  # Hop 2: a_2 = softmax(E_1 O_1 [/ sqrt(N)]), output relu(O_1 + a_2 E_2).
  p = jax.tree.map(np.asarray, params)
  s = np.asarray(cells)
  e1 = np.asarray(out1.values)
  o1 = np.asarray(out1.output)
  a2 = _softmax(np.einsum('bln,bn->bl', e1, o1)
                / (np.sqrt(6) if scale_hop2 else 1.0))
  e2 = s @ p['evidence2_embed']['kernel'] + p['evidence2_embed']['bias']
  np.testing.assert_allclose(out2.weights[:, 1], a2, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(
      out2.output, np.maximum(o1 + np.einsum('bl,bln->bn', a2, e2), 0),
      rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(np.sum(out2.weights, -1), 1.0, rtol=1e-6)


def test_smem_with_no_words_attends_uniformly():
  cells, words, _ = _smem_inputs()
  module = soft_attention.SpatialMemory(hops=2, embed_dim=4)
  no_words = jnp.zeros((1, 2), bool)
  params = module.init(jax.random.key(0), cells, words, no_words)
  out = module.apply(params, cells, words, no_words)
  np.testing.assert_allclose(out.weights[0, 0], 0.25, rtol=1e-6)
  chex.assert_tree_all_finite(out.output)


def test_effective_fraction():
  uniform = jnp.full((1, 8), 1 / 8)
  one_hot = jnp.eye(8)[None, 3]
  np.testing.assert_allclose(soft_attention.effective_fraction(uniform), 1.0,
                             rtol=1e-6)
  np.testing.assert_allclose(soft_attention.effective_fraction(one_hot),
                             1 / 8, rtol=1e-6)


def test_rn_with_one_hot_soft_weights_relates_that_cell_to_itself():
  cells, question = _random((2, 5, 3), 0), _random((2, 4), 1)
  rn = aggregation.RelationalNetwork(features=(8, 8))
  weights = jnp.eye(5)[jnp.asarray([1, 4])]  # p = one-hot on cells 1, 4
  params = rn.init(jax.random.key(0), cells, question, weights)
  pooled = rn.apply(params, cells, question, weights)
  alone = rn.apply(params, cells[jnp.arange(2), jnp.asarray([1, 4])][:, None],
                   question, jnp.ones((2, 1)))
  np.testing.assert_allclose(pooled, alone, rtol=1e-5, atol=1e-6)


def test_word_vectors_mask_padding_and_zero_bits():
  tokens = jnp.asarray([[3, 4, 0]])
  words, mask = encoders.WordVectors('tokens', 10, 4).init_with_output(
      jax.random.key(0), tokens)[0]
  chex.assert_shape(words, (1, 3, 4))
  np.testing.assert_array_equal(mask, [[True, True, False]])
  bits = jnp.asarray([[0., 1., 0., 1.]])
  module = encoders.WordVectors('vector', 0, 4)
  (words, mask), params = module.init_with_output(jax.random.key(0), bits)
  np.testing.assert_array_equal(mask, [[False, True, False, True]])
  table = params['params']['embed']
  np.testing.assert_allclose(words[0, 1], table[1])
  np.testing.assert_allclose(words[0, 0], 0.0)


@pytest.mark.parametrize('name', ['san', 'san_rn', 'smem', 'smem_rn'])
@pytest.mark.parametrize('hops', [1, 2])
def test_soft_models_return_their_attention(name, hops):
  kw = dict(SMALL, hops=hops)
  if name.startswith('san'):
    kw['fusion_features'] = (16,)
  model = models.create_model(name, TOKEN_META, **kw)
  image = jnp.asarray(np.random.default_rng(0).integers(
      0, 255, (3, 64, 64, 3)), jnp.uint8)
  tokens = jnp.asarray([[4, 5, 6, 0], [7, 0, 0, 0], [1, 2, 3, 9]])
  variables = model.init(jax.random.key(0), image, tokens, train=False)
  logits, aux = jax.jit(lambda v, i, q: model.apply(v, i, q, train=False))(
      variables, image, tokens)
  chex.assert_shape(logits, (3, 2))
  chex.assert_shape(aux['attention'], (3, hops, 64))  # 64 -> 8x8 cells
  np.testing.assert_allclose(np.sum(aux['attention'], -1), 1.0, rtol=1e-5)
  np.testing.assert_allclose(aux['cell_mask'], aux['attention'][:, -1])
  np.testing.assert_allclose(
      aux['fraction_kept'],
      soft_attention.effective_fraction(aux['attention'][:, -1]), rtol=1e-6)
  assert name.endswith('_rn') == ('rn' in variables['params'])
