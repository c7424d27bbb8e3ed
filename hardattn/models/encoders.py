"""Image and question encoders.

The image encoder turns an image into a grid of cells, each a feature vector
tagged with its (x, y) position; the question encoder turns a question into a
vector. Both follow the relational network's CLEVR-from-pixels model. Three
image encoders (`image_cells`, field `image_encoder` of the models): 'cnn',
the RN's CNN trained from scratch; 'features', a precomputed backbone grid
(VQA: ResNet-101 at 448x448 -> 14x14x2048); 'resnet', that backbone inside
the model (`hardattn.models.resnet`), frozen or fine-tuned.

References:
  Santoro et al. "A simple neural network module for relational reasoning".
  NeurIPS 2017, arXiv:1706.01427.
  Malinowski et al. "Learning Visual Question Answering by Bootstrapping Hard
  Attention". ECCV 2018 (ResNet-101 grids for VQA-CP).
"""

from collections.abc import Sequence

from flax import linen as nn
import jax
import jax.numpy as jnp

from hardattn.models import resnet


def cell_coordinates(height: int, width: int, dtype=jnp.float32) -> jax.Array:
  """(x, y) coordinates of each cell of a [height, width] grid in [-1, 1].

  Returns:
    [height * width, 2] array, cells in row-major order (cell r * width + c
    has x from column c and y from row r).
  """
  ys = jnp.linspace(-1.0, 1.0, height, dtype=dtype) if height > 1 else (
      jnp.zeros((1,), dtype))
  xs = jnp.linspace(-1.0, 1.0, width, dtype=dtype) if width > 1 else (
      jnp.zeros((1,), dtype))
  yy, xx = jnp.meshgrid(ys, xs, indexing='ij')
  return jnp.stack([xx.reshape(-1), yy.reshape(-1)], axis=-1)


def grid_shape(image_hw: tuple[int, int], num_layers: int) -> tuple[int, int]:
  """Cells (h, w) that `ConvEncoder` with `num_layers` layers gives."""
  h, w = image_hw
  for _ in range(num_layers):
    h, w = -(-h // 2), -(-w // 2)
  return h, w


IMAGE_ENCODERS = ('cnn', 'features', 'resnet')


def cells_grid(image_hw: tuple[int, int], image_encoder: str = 'cnn',
               cnn_features: Sequence[int] = (24, 24, 24, 24),
               backbone_stages: int = 4) -> tuple[int, int]:
  """Cells (h, w) of an image encoder for inputs of `image_hw`.

  'features' inputs are the grid itself; 'resnet' halves the image
  backbone_stages + 1 times (stem conv and pool, then stages 2..).
  """
  if image_encoder == 'features':
    return tuple(image_hw)
  if image_encoder == 'resnet':
    return resnet.grid_shape(image_hw, backbone_stages)
  return grid_shape(image_hw, len(cnn_features))


class GridCells(nn.Module):
  """A backbone grid as cells: [b, h, w, C] -> [b, h * w, C + 2].

  Each cell's vector is scaled to unit L2 norm (decision, `l2_normalize`:
  ResNet activations reach the hundreds and vary by image; the norm HAN
  ranks cells by is then formed by the fusion, not by the raw activation
  scale) and tagged with its (x, y) coordinates like the CNN's cells.
  """
  l2_normalize: bool = True
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, grid: jax.Array) -> jax.Array:
    x = grid.astype(jnp.float32)
    if self.l2_normalize:
      x = x * jax.lax.rsqrt(jnp.sum(x * x, axis=-1, keepdims=True) + 1e-12)
    batch, h, w, c = x.shape
    cells = x.reshape(batch, h * w, c).astype(self.dtype)
    coords = jnp.broadcast_to(cell_coordinates(h, w, cells.dtype),
                              (batch, h * w, 2))
    return jnp.concatenate([cells, coords], axis=-1)


def share_images(cells: jax.Array, batch: int) -> jax.Array:
  """Each image's cells repeated for its questions: [n, ...] -> [batch, ...].

  A train batch may hold fewer images than questions (n divides batch; the
  questions of image i are rows i * batch / n onwards), so an image is
  encoded once for all its questions. n == batch returns `cells` as is.
  """
  n = cells.shape[0]
  if n == batch:
    return cells
  if batch % n:
    raise ValueError(f'{batch} questions cannot share {n} images evenly.')
  # broadcast + reshape keeps the leading (data-sharded) axis major, so
  # each device repeats its own images without communication.
  expanded = jnp.broadcast_to(cells[:, None], (n, batch // n) + cells.shape[1:])
  return expanded.reshape((batch,) + cells.shape[1:])


def image_cells(image: jax.Array, *, train: bool, image_encoder: str,
                cnn_features: Sequence[int], backbone: str,
                backbone_stages: int, backbone_trainable: bool,
                l2_normalize: bool, dtype: jnp.dtype,
                cnn_padding: str = 'zeros') -> jax.Array:
  """Encodes images into cells; call inside a model's compact __call__.

  The submodules are named 'image_encoder' (the CNN, or the grid's
  GridCells) and 'backbone' (the in-model ResNet), so parameters of
  existing CNN models keep their paths.

  Args:
    image: 'cnn': [b, H, W, 3] uint8 (or float in [0, 1]); 'resnet':
      [b, H, W, 3] uint8 (or float in [0, 255]); 'features': [b, h, w, C]
      float grids.
    train: batch statistics and dropout on (the backbone's batch norm stays
      frozen).
    image_encoder: 'cnn' | 'features' | 'resnet'.
    cnn_features: 'cnn' layer widths.
    backbone: 'resnet': a key of resnet.RESNET_PRESETS.
    backbone_stages: 'resnet': stages run.
    backbone_trainable: 'resnet': fine-tune it (else no gradient reaches
      it).
    l2_normalize: 'features', 'resnet': unit-norm cell vectors.
    dtype: computation dtype.
    cnn_padding: 'cnn': 'zeros' | 'edge' (see `pad_like_same`).

  Returns:
    cells [b, cells, C + 2].
  """
  if image_encoder == 'cnn':
    return ConvEncoder(cnn_features, dtype, cnn_padding,
                       name='image_encoder')(
        image, train=train)[0]
  if image_encoder == 'resnet':
    image = resnet.from_preset(backbone, num_stages=backbone_stages,
                               dtype=dtype, name='backbone')(
                                   resnet.normalize_images(image),
                                   train=False)
    if not backbone_trainable:
      image = jax.lax.stop_gradient(image)
  elif image_encoder != 'features':
    raise ValueError(f'image_encoder must be one of {IMAGE_ENCODERS}, got '
                     f'{image_encoder!r}')
  return GridCells(l2_normalize, dtype, name='image_encoder')(image)


def to_float_image(image: jax.Array, dtype=jnp.float32) -> jax.Array:
  """uint8 images become [0, 1] floats; float images pass through."""
  if jnp.issubdtype(image.dtype, jnp.integer):
    return image.astype(dtype) / 255.0
  return image.astype(dtype)


CNN_PADDINGS = ('zeros', 'edge')


def pad_like_same(x: jax.Array, mode: str) -> jax.Array:
  """Pads [b, h, w, c] as a 3x3 stride-2 'SAME' convolution would, by mode.

  'SAME' pads with zeros; on images whose background is not zero (Sort-of-
  CLEVR's white) that draws a frame around every image and feature map,
  whose edge responses can outweigh the objects'. mode='edge' repeats the
  border instead, so a uniform background stays uniform up to the border.
  """
  pads = [same_padding(n) for n in x.shape[1:3]]
  return jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), mode=mode)


def same_padding(n: int) -> tuple[int, int]:
  """(before, after) a 3x3 stride-2 'SAME' convolution pads n pixels with:
  ceil(n / 2) outputs, at most one pixel before and one after."""
  total = max((-(-n // 2) - 1) * 2 + 3 - n, 0)
  return total // 2, total - total // 2


CONV_IMPLS = ('auto', 'xla', 'patches')


class Conv3x3Stride2(nn.Module):
  """A 3x3 stride-2 convolution without bias, as nine strided slices.

  The same function and parameter ('kernel' [3, 3, in, out], LeCun normal,
  as `nn.Conv`'s) as `nn.Conv(out, (3, 3), strides=2)`, computed either by
  XLA's convolution or ('patches') as one matmul over the [.., 9 * in]
  patches gathered by slicing, which XLA's CPU backend runs faster than
  its convolution (the RN CNN's forward and backward 1.5-1.7x at 75 to 224
  px, one run on 2 cores). 'auto' takes patches on CPU, XLA's convolution
  elsewhere. The patches are sliced from the unpadded input, the padding's
  row or column added to the taps that need it (`_taps`): a padded copy
  of the input (`jnp.pad`'s 'edge' mode is a concatenation per axis) cost
  more than the matmul in the backward pass
  (`benchmarks/conv_impl.py`).
  """
  features: int
  padding: str = 'zeros'  # 'zeros' | 'edge' (see pad_like_same)
  impl: str = 'auto'  # 'auto' | 'xla' | 'patches'
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[b, h, w, in] -> [b, ceil(h / 2), ceil(w / 2), features]."""
    if self.padding not in CNN_PADDINGS:
      raise ValueError(f'padding must be one of {CNN_PADDINGS}, got '
                       f'{self.padding!r}')
    if self.impl not in CONV_IMPLS:
      raise ValueError(f'conv impl must be one of {CONV_IMPLS}, got '
                       f'{self.impl!r}')
    kernel = self.param('kernel', nn.initializers.lecun_normal(),
                        (3, 3, x.shape[-1], self.features), jnp.float32)
    kernel = kernel.astype(self.dtype)
    x = x.astype(self.dtype)
    impl = self.impl
    if impl == 'auto':
      impl = 'patches' if jax.default_backend() == 'cpu' else 'xla'
    if impl == 'xla':
      x = pad_like_same(x, 'constant' if self.padding == 'zeros' else 'edge')
      return jax.lax.conv_general_dilated(
          x, kernel, (2, 2), 'VALID',
          dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    edge = self.padding == 'edge'
    rows = [_taps(x, 1, d, edge) for d in range(3)]
    patches = jnp.concatenate(
        [_taps(r, 2, d, edge) for r in rows for d in range(3)], axis=-1)
    return patches @ kernel.reshape(-1, self.features)


def _taps(x: jax.Array, axis: int, d: int, edge: bool) -> jax.Array:
  """Tap d (0, 1, 2) of a 3x3 stride-2 'SAME' convolution along one axis.

  Output i reads the padded input's index 2i + d, the input's 2i + d -
  before (`same_padding`: at most one before and one after). The
  in-range reads are one strided slice; one out of range (only the first or
  the last output can be) reads the border (edge) or zeros. No padded copy
  of x is made.
  """
  n = x.shape[axis]
  out = -(-n // 2)
  before, _ = same_padding(n)
  start = d - before  # the input index output 0 reads
  reads = [start + 2 * i for i in range(out)]
  first = sum(r < 0 for r in reads)  # outputs reading before the input
  last = sum(r <= n - 1 for r in reads)  # outputs [first, last) in range

  def border(index):
    row = jax.lax.slice_in_dim(x, index, index + 1, axis=axis)
    return row if edge else jnp.zeros_like(row)

  parts = [border(0)] * first
  if last > first:
    parts.append(jax.lax.slice_in_dim(x, reads[first], reads[last - 1] + 1,
                                      2, axis=axis))
  parts += [border(n - 1)] * (out - last)
  return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis)


class ConvEncoder(nn.Module):
  """The RN CNN: 3x3 stride-2 convolutions, batch norm and ReLU.

  Each output cell is tagged with its (x, y) coordinates, so an image of
  [H, W] gives ceil(H / 2^L) x ceil(W / 2^L) cells (75x75 -> 5x5, 128x128 ->
  8x8 with four layers).
  """
  features: Sequence[int] = (24, 24, 24, 24)  # channels of each conv layer
  dtype: jnp.dtype = jnp.float32  # computation dtype
  padding: str = 'zeros'  # 'zeros' (SAME) | 'edge' (replicate the border)
  conv_impl: str = 'auto'  # 'auto' | 'xla' | 'patches' (Conv3x3Stride2)

  @nn.compact
  def __call__(self, image: jax.Array, *, train: bool) -> tuple[
      jax.Array, tuple[int, int]]:
    """Encodes images.

    Args:
      image: [batch, height, width, 3], uint8 or float in [0, 1].
      train: batch norm uses batch statistics (and updates its running
        averages) when True.

    Returns:
      cells [batch, cells, features[-1] + 2] and the grid shape (h, w).
    """
    x = to_float_image(image, self.dtype)
    for i, width in enumerate(self.features):
      # No bias: batch norm's shift replaces it (a bias here has zero
      # gradient, which Adam would turn into noise-sized updates).
      x = Conv3x3Stride2(width, self.padding, self.conv_impl, self.dtype,
                         name=f'conv{i}')(x)
      x = nn.BatchNorm(use_running_average=not train, momentum=0.9,
                       dtype=self.dtype, name=f'bn{i}')(x)
      x = nn.relu(x)
    batch, h, w, c = x.shape
    cells = x.reshape(batch, h * w, c)
    coords = jnp.broadcast_to(cell_coordinates(h, w, cells.dtype),
                              (batch, h * w, 2))
    return jnp.concatenate([cells, coords], axis=-1), (h, w)


class LSTMQuestionEncoder(nn.Module):
  """Word embeddings and an LSTM; the question is the LSTM's final state.

  Token 0 is padding: the LSTM stops at each question's length.
  """
  vocab_size: int  # number of tokens, padding (0) and UNK included
  embed_dim: int = 32  # word embedding size
  hidden_dim: int = 128  # LSTM units
  dtype: jnp.dtype = jnp.float32
  # Time steps per iteration of the scan's loop: speed only, the same
  # function and parameters.
  unroll: int = 1

  @nn.compact
  def __call__(self, tokens: jax.Array) -> jax.Array:
    """Encodes tokenised questions.

    Args:
      tokens: [batch, length] int, 0-padded on the right.

    Returns:
      [batch, hidden_dim] final hidden state at each question's last word.
    """
    lengths = jnp.sum(tokens != 0, axis=-1).astype(jnp.int32)
    emb = nn.Embed(self.vocab_size, self.embed_dim, dtype=self.dtype,
                   name='embed')(tokens)
    cell = nn.OptimizedLSTMCell(self.hidden_dim, dtype=self.dtype)
    (_, h), _ = nn.RNN(cell, return_carry=True, unroll=self.unroll,
                       name='lstm')(
        emb, seq_lengths=jnp.maximum(lengths, 1))
    return h


class VectorQuestionEncoder(nn.Module):
  """A question given as a fixed vector (Sort-of-CLEVR's 11 bits) as is."""

  @nn.compact
  def __call__(self, question: jax.Array) -> jax.Array:
    """[batch, dim] -> [batch, dim] float."""
    return question.astype(jnp.float32).reshape(question.shape[0], -1)


class WordVectors(nn.Module):
  """A question as a set of word vectors, for word-guided attention (SMem).

  Token questions: each token's embedding; token 0 is padding. Vector
  questions (decision): each of the Q entries is a word with its own vector,
  scaled by the entry, and zero entries are padding; Sort-of-CLEVR's 11 bits
  are then three words (colour, question kind, subtype).
  """
  question_kind: str = 'vector'  # 'vector' | 'tokens'
  vocab_size: int = 0  # tokens only
  embed_dim: int = 256  # word vector size
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, question: jax.Array) -> tuple[jax.Array, jax.Array]:
    """[b, T] tokens or [b, Q] vector -> ([b, T, N] words, [b, T] mask)."""
    if self.question_kind == 'tokens':
      words = nn.Embed(self.vocab_size, self.embed_dim, dtype=self.dtype,
                       name='embed')(question)
      return words, question != 0
    if self.question_kind == 'vector':
      question = question.reshape(question.shape[0], -1)
      table = self.param('embed', nn.linear.default_embed_init,
                         (question.shape[-1], self.embed_dim), jnp.float32)
      words = question.astype(self.dtype)[:, :, None] * table.astype(
          self.dtype)
      return words, question != 0
    raise ValueError(f"question_kind must be 'vector' or 'tokens', got "
                     f'{self.question_kind!r}')
