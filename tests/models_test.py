"""Every model in the MODELS registry: shapes, aux, jit, both question kinds."""

import types

import chex
from flax import linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardattn import errors
from hardattn import models
from hardattn.models import encoders

VECTOR_META = types.SimpleNamespace(num_answers=10, question_kind='vector',
                                    vocab_size=0)
TOKEN_META = types.SimpleNamespace(num_answers=28, question_kind='tokens',
                                   vocab_size=30)
SMALL = dict(cnn_features=(8, 8, 8, 8), f_features=(16,))
ATTENTION_SMALL = dict(SMALL, fusion_features=(16,), g_features=(16, 16))
SOFT = ('san', 'san_rn', 'smem', 'smem_rn')


def _small(name):
  if name == 'cnn_mlp':
    return SMALL
  if name == 'ibowimg':
    return dict(SMALL, image_encoder='cnn', word_embed_dim=16)
  if name in SOFT:
    kw = dict(ATTENTION_SMALL, attention_dim=16)
    if name.startswith('smem'):
      del kw['fusion_features']
    if not name.endswith('_rn'):
      del kw['g_features']
    return kw
  return ATTENTION_SMALL


def _run(model, image, question, train):
  variables = model.init({'params': jax.random.key(0),
                          'dropout': jax.random.key(1)}, image, question,
                         train=False)
  fn = jax.jit(lambda v, i, q: model.apply(
      v, i, q, train=train, rngs={'dropout': jax.random.key(2)},
      mutable=['batch_stats'] if train else False))
  out = fn(variables, image, question)
  return out[0] if train else out


@pytest.mark.parametrize('name', sorted(models.MODELS))
@pytest.mark.parametrize('train', [False, True])
def test_vector_questions(name, train):
  image = jnp.asarray(np.random.default_rng(0).integers(
      0, 255, (3, 75, 75, 3)), jnp.uint8)
  question = jnp.eye(11)[:3]
  model = models.create_model(name, VECTOR_META, **_small(name))
  logits, aux = _run(model, image, question, train)
  chex.assert_shape(logits, (3, 10))
  chex.assert_tree_all_finite(logits)
  cells = 25  # 75 -> 38 -> 19 -> 10 -> 5
  assert encoders.grid_shape((75, 75), 4) == (5, 5)
  chex.assert_shape([aux['norms'], aux['cell_mask']], (3, cells))
  chex.assert_equal_shape([aux['indices'], aux['mask']])
  kept = np.asarray(aux['cell_mask']).sum(-1)
  if name in SOFT:  # Weights summing to 1; the effective fraction.
    np.testing.assert_allclose(kept, 1.0, rtol=1e-5)
    assert np.all((aux['fraction_kept'] > 0) & (aux['fraction_kept'] <= 1))
    return
  np.testing.assert_allclose(aux['fraction_kept'], kept / cells, rtol=1e-6)
  if name.startswith('han'):
    chex.assert_shape(aux['indices'], (3, 6))  # round(0.25 * 25)
    np.testing.assert_array_equal(kept, [6, 6, 6])
  elif name.startswith('adahan'):
    assert np.all(kept >= 1)
  else:
    np.testing.assert_array_equal(kept, [cells] * 3)


@pytest.mark.parametrize('name', ['rn', 'han_rn', 'adahan_sum', 'cnn_mlp', 'san',
                                  'smem_rn'])
def test_token_questions_and_clevr_grid(name):
  image = jnp.zeros((2, 128, 128, 3), jnp.float32)
  tokens = jnp.asarray([[4, 5, 6, 0, 0], [7, 1, 0, 0, 0]], jnp.int32)
  model = models.create_model(name, TOKEN_META, **_small(name))
  logits, aux = _run(model, image, tokens, train=False)
  chex.assert_shape(logits, (2, 28))
  chex.assert_shape(aux['norms'], (2, 64))


def test_lstm_ignores_padding():
  model = models.create_model('han_rn', TOKEN_META, **ATTENTION_SMALL)
  image = jnp.zeros((1, 32, 32, 3))
  short = jnp.asarray([[4, 5, 0, 0]])
  longer_pad = jnp.asarray([[4, 5, 0, 0, 0, 0, 0]])
  variables = model.init(jax.random.key(0), image, short, train=False)
  a, _ = model.apply(variables, image, short, train=False)
  b, _ = model.apply(variables, image, longer_pad, train=False)
  np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_bfloat16_computation_keeps_float32_params_and_logits():
  model = models.create_model('han_rn', VECTOR_META,
                              **dict(ATTENTION_SMALL, dtype='bfloat16'))
  image = jnp.zeros((2, 75, 75, 3), jnp.uint8)
  variables = model.init(jax.random.key(0), image, jnp.eye(11)[:2],
                         train=False)
  assert all(x.dtype == jnp.float32
             for x in jax.tree.leaves(variables['params']))
  logits, _ = model.apply(variables, image, jnp.eye(11)[:2], train=False)
  assert logits.dtype == jnp.float32


def test_registry_errors_name_the_problem():
  with pytest.raises(errors.UserError, match='known models'):
    models.create_model('han_rnn', VECTOR_META)
  with pytest.raises(errors.UserError, match='fractoin'):
    models.create_model('han_rn', VECTOR_META, fractoin=0.5)
  # A field of a few strings names itself, its choices and the bad value
  # (e.g. quoted twice on a command line).
  with pytest.raises(errors.UserError, match='model.rn_sum_cells') as e:
    models.create_model('han_rn', VECTOR_META, rn_sum_cells="'all'")
  assert "('kept', 'all'), got \"'all'\"" in str(e.value)
  with pytest.raises(errors.UserError, match='model.coords'):
    models.create_model('han_rn', VECTOR_META, coords='fusoin')


@pytest.mark.parametrize('name', ['adahan_rn', 'san', 'smem', 'cnn_mlp'])
def test_shared_images_equal_repeated_images(name):
  """Images shared by consecutive questions give the repeated-image result.

  In training mode, so batch norm's statistics are checked too: repeating
  every image the same number of times leaves the batch mean and variance
  unchanged. (VQAModel's other attentions share the same code path.)
  """
  train = True
  model = models.create_model(name, VECTOR_META, **_small(name))
  rng = np.random.default_rng(0)
  image = jnp.asarray(rng.integers(0, 256, (2, 75, 75, 3)), jnp.uint8)
  question = jnp.asarray(np.eye(11)[rng.integers(0, 11, 6)], jnp.float32)
  variables = model.init({'params': jax.random.key(0),
                          'dropout': jax.random.key(1)}, image, question,
                         train=False)
  def run(images):
    out = model.apply(variables, images, question, train=train,
                      rngs={'dropout': jax.random.key(2)},
                      mutable=['batch_stats'] if train else False)
    return out[0] if train else out
  shared = jax.jit(run)(image)
  repeated = jax.jit(run)(jnp.repeat(image, 3, axis=0))
  chex.assert_trees_all_close(shared, repeated, atol=1e-4, rtol=1e-4)
  with pytest.raises(ValueError, match='share'):
    model.init({'params': jax.random.key(0)}, image[:1].repeat(4, 0),
               question, train=False)


def test_edge_padding_keeps_a_uniform_image_uniform():
  white = jnp.full((1, 75, 75, 3), 255, jnp.uint8)
  cells = {}
  for padding in encoders.CNN_PADDINGS:
    enc = encoders.ConvEncoder((4, 4, 4, 4), padding=padding)
    variables = enc.init(jax.random.key(0), white, train=False)
    (cells[padding], grid) = enc.apply(variables, white, train=False)
    assert grid == (5, 5) and cells[padding].shape == (1, 25, 6)
  features = {k: v[0, :, :4] for k, v in cells.items()}  # without (x, y)
  np.testing.assert_allclose(features['edge'], features['edge'][:1] +
                             0 * features['edge'], atol=1e-5)
  # Zero padding draws a frame: border cells differ from the centre.
  assert not np.allclose(features['zeros'][0], features['zeros'][12])
  with pytest.raises(ValueError, match='padding'):
    bad = encoders.ConvEncoder((4,), padding='reflect')
    bad.init(jax.random.key(0), white, train=False)


@pytest.mark.parametrize('padding', encoders.CNN_PADDINGS)
@pytest.mark.parametrize('size', [75, 8, 9, 2, 1])
def test_patch_convolution_equals_xla_convolution(padding, size):
  x = jnp.asarray(np.random.default_rng(0).random((2, size, size, 3)),
                  jnp.float32)
  convs = {impl: encoders.Conv3x3Stride2(5, padding, impl)
           for impl in ('xla', 'patches')}
  variables = convs['xla'].init(jax.random.key(0), x)
  outs, grads = {}, {}
  for impl, conv in convs.items():
    fn = lambda v, x, conv=conv: jnp.sum(conv.apply(v, x) ** 2)
    outs[impl] = conv.apply(variables, x)
    grads[impl] = jax.grad(fn, argnums=(0, 1))(variables, x)
  assert outs['xla'].shape == (2, -(-size // 2), -(-size // 2), 5)
  chex.assert_trees_all_close(outs['xla'], outs['patches'], atol=1e-5)
  chex.assert_trees_all_close(grads['xla'], grads['patches'], atol=1e-4,
                              rtol=1e-4)
  if padding == 'zeros':  # the same function as flax's SAME convolution
    flax_conv = nn.Conv(5, (3, 3), strides=(2, 2), padding='SAME',
                        use_bias=False)
    chex.assert_trees_all_close(flax_conv.apply(variables, x), outs['xla'],
                                atol=1e-5)
