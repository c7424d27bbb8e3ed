"""ResNet image encoder: the grid of cells that VQA models attend over.

A Flax port of torchvision's ResNet with bottleneck blocks (ResNet-50, -101,
-152), v1.5: a down-sampling block strides on its 3x3 convolution, not on the
first 1x1. Paddings are explicit so that, given torchvision's weights
(`hardattn.models.resnet_weights`), outputs match torch's to float rounding.
The classifier (average pool and `fc`) is left out: the model returns the
feature grid of its last stage, [batch, H/32, W/32, 2048] for ResNet-101 with
all four stages (14x14 cells at 448x448), or [batch, H/16, W/16, 1024] with
three (28x28 at 448x448).

Parameter names follow torchvision's state-dict keys with '.' written as '_':
torch `layer3.5.downsample.0.weight` is Flax
`params['layer3_5']['downsample_0']['kernel']` (HWIO instead of OIHW), and a
batch norm's weight / bias / running_mean / running_var are its `scale` /
`bias` (params) and `mean` / `var` (batch_stats).

Batch norm is frozen by default (running averages, in training too), as usual
when fine-tuning a pretrained backbone with small per-device batches.

References:
  He et al. "Deep residual learning for image recognition". CVPR 2016,
  arXiv:1512.03385.
  Malinowski et al. "Learning visual question answering by bootstrapping hard
  attention". ECCV 2018, arXiv:1808.00300 (ResNet-101 features at 448x448).
"""

from collections.abc import Sequence
from typing import Any

from flax import linen as nn
import jax
import jax.numpy as jnp

from hardattn import errors

# torchvision's ImageNet normalisation, for RGB in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Fields of `ResNet` for the torchvision architectures (bottleneck blocks
# only: ResNet-18/34's basic blocks are not implemented) and a tiny one for
# tests and CPU runs.
RESNET_PRESETS = {
    'resnet50': dict(stage_sizes=(3, 4, 6, 3), width=64),
    'resnet101': dict(stage_sizes=(3, 4, 23, 3), width=64),
    'resnet152': dict(stage_sizes=(3, 8, 36, 3), width=64),
    'tiny': dict(stage_sizes=(1, 1, 1, 1), width=8),
}

EXPANSION = 4  # a bottleneck block's output channels / its inner width
BN_MOMENTUM = 0.9  # torch's momentum=0.1: new = 0.9 * old + 0.1 * batch
BN_EPSILON = 1e-5

# torchvision's init: He normal, fan_out (conv weights); BN scale 1, bias 0.
_conv_init = nn.initializers.variance_scaling(2.0, 'fan_out', 'normal')


def normalize_images(images: jax.Array, dtype=jnp.float32) -> jax.Array:
  """ImageNet mean / std normalisation, as torchvision's transforms do it.

  Args:
    images: [..., 3] RGB, uint8 or float, in [0, 255].
    dtype: result dtype.

  Returns:
    [..., 3] `(images / 255 - mean) / std`.
  """
  x = jnp.asarray(images).astype(jnp.float32) / 255.0
  x = (x - jnp.asarray(IMAGENET_MEAN, jnp.float32)) / jnp.asarray(
      IMAGENET_STD, jnp.float32)
  return x.astype(dtype)


def grid_shape(image_hw: tuple[int, int], num_stages: int = 4) -> tuple[
    int, int]:
  """Cells (h, w) that `ResNet` with `num_stages` stages gives.

  Every stride-2 step (stem conv, max pool, first block of stages 2..4)
  rounds up, as torch's padded convolutions do: 448 -> 14 with four stages,
  57 -> 2.
  """
  h, w = image_hw
  for _ in range(1 + num_stages):  # conv1 + max pool, then stages 2..n
    h, w = -(-h // 2), -(-w // 2)
  return h, w


def from_preset(preset: str, **fields: Any) -> 'ResNet':
  """`ResNet(**RESNET_PRESETS[preset], **fields)`.

  Raises:
    errors.UserError: for an unknown preset name.
  """
  if preset not in RESNET_PRESETS:
    raise errors.UserError(f'Unknown ResNet preset {preset!r}; known: '
                           f'{sorted(RESNET_PRESETS)}.')
  return ResNet(**{**RESNET_PRESETS[preset], **fields})


def _pad(k: int) -> tuple[tuple[int, int], tuple[int, int]]:
  """torch's symmetric padding k // 2 on both sides of both spatial axes."""
  return ((k // 2, k // 2), (k // 2, k // 2))


class Bottleneck(nn.Module):
  """1x1 -> 3x3 (strided) -> 1x1 convolutions with batch norm, + shortcut.

  The shortcut is a strided 1x1 convolution and batch norm (`downsample_0`,
  `downsample_1`) when the block changes the resolution or channel count,
  the identity otherwise.
  """
  features: int  # inner width; the output has EXPANSION * features channels
  strides: int = 1  # 1 | 2, on the 3x3 convolution (v1.5)
  use_running_average: bool = True  # batch norm: running averages (frozen)
  dtype: Any = jnp.float32  # computation dtype

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[batch, h, w, c] -> [batch, h / strides, w / strides, 4 * features]."""
    def conv(features, kernel, strides, name):
      return nn.Conv(features, (kernel, kernel), strides=(strides, strides),
                     padding=_pad(kernel), use_bias=False,
                     kernel_init=_conv_init, dtype=self.dtype, name=name)

    def norm(name):
      return nn.BatchNorm(use_running_average=self.use_running_average,
                          momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                          dtype=self.dtype, name=name)

    out_features = EXPANSION * self.features
    y = nn.relu(norm('bn1')(conv(self.features, 1, 1, 'conv1')(x)))
    y = nn.relu(norm('bn2')(conv(self.features, 3, self.strides, 'conv2')(y)))
    y = norm('bn3')(conv(out_features, 1, 1, 'conv3')(y))
    shortcut = x
    if self.strides != 1 or x.shape[-1] != out_features:
      shortcut = norm('downsample_1')(
          conv(out_features, 1, self.strides, 'downsample_0')(x))
    return nn.relu(y + shortcut)


class ResNet(nn.Module):
  """torchvision's bottleneck ResNet without its classifier: an image grid.

  The stem is a 7x7 stride-2 convolution (padding 3), batch norm, ReLU and a
  3x3 stride-2 max pool (padding 1); stage i (0-based) has `stage_sizes[i]`
  bottleneck blocks of inner width `width * 2**i`, the first of which strides
  by 2 for i > 0.
  """
  stage_sizes: Sequence[int] = (3, 4, 23, 3)  # blocks per stage (ResNet-101)
  width: int = 64  # stem channels and stage 1's inner width
  num_stages: int = 4  # stages run: 4 -> stride 32, 3 -> 16, 2 -> 8, 1 -> 4
  dtype: Any = jnp.float32  # computation dtype: jnp.float32 | jnp.bfloat16
  train_batch_norm: bool = False  # batch statistics when train=True

  @property
  def out_features(self) -> int:
    """Channels of the returned grid."""
    return EXPANSION * self.width * 2**(self.num_stages - 1)

  @nn.compact
  def __call__(self, images: jax.Array, *, train: bool = False) -> jax.Array:
    """Computes the feature grid.

    Args:
      images: [batch, height, width, 3], normalised (`normalize_images`).
      train: with `train_batch_norm`, batch norm uses batch statistics and
        updates its running averages (pass mutable=['batch_stats']);
        otherwise it has no effect.

    Returns:
      [batch, h, w, out_features], (h, w) = `grid_shape((height, width),
      num_stages)`.
    """
    if not 1 <= self.num_stages <= len(self.stage_sizes):
      raise ValueError(f'num_stages must be in [1, {len(self.stage_sizes)}],'
                       f' got {self.num_stages}.')
    dtype = jnp.dtype(self.dtype)
    use_running_average = not (train and self.train_batch_norm)
    x = jnp.asarray(images).astype(dtype)
    x = nn.Conv(self.width, (7, 7), strides=(2, 2), padding=_pad(7),
                use_bias=False, kernel_init=_conv_init, dtype=dtype,
                name='conv1')(x)
    x = nn.BatchNorm(use_running_average=use_running_average,
                     momentum=BN_MOMENTUM, epsilon=BN_EPSILON, dtype=dtype,
                     name='bn1')(x)
    x = nn.relu(x)
    # reduce_window pads with -inf, the max's identity, as torch does.
    x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=_pad(3))
    for i in range(self.num_stages):
      for j in range(self.stage_sizes[i]):
        x = Bottleneck(self.width * 2**i, strides=2 if i > 0 and j == 0 else 1,
                       use_running_average=use_running_average, dtype=dtype,
                       name=f'layer{i + 1}_{j}')(x)
    return x
