r"""GoogLeNet (Inception v1) image encoder, in torchvision's layout.

The backbone of SMem-VQA (Xu & Saenko 2016: the `inception_5b/output` grid,
7x7x1024 at 224x224) and of iBOWIMG (Zhou et al. 2015: its average-pooled
1024-d feature). A Flax port of torchvision's `GoogLeNet` without the
auxiliary classifiers, dropout and `fc`, with explicit paddings and torch's
`ceil_mode` max pools, so that torchvision's ImageNet weights
(`googlenet-1378be20.pth`, converted by `convert` without torch) give
torch's outputs to float rounding.

  num_stages=4: up to inception_5b, [b, H/32, W/32, 1024] (7x7 at 224);
  num_stages=3: up to inception_4e, [b, H/16, W/16, 832] (14x14 at 224).

torchvision's inception block has a 3x3 convolution in its "5x5" branch
(`branch3`), a known difference from the paper that its weights were
trained with; this port follows torchvision. Its pretrained weights expect
`transform_input=True`: the ImageNet-normalised input mapped back to
[-1, 1] per channel (this module's default).

Parameter names follow torchvision's keys with '.' written as '_': torch
`inception4a.branch2.1.conv.weight` is Flax
`params['inception4a']['branch2_1']['conv']['kernel']` (HWIO), a batch
norm's running_mean / running_var are `batch_stats` `mean` / `var`.

Convert torchvision's checkpoint once (download it yourself from
CHECKPOINT_URL; nothing is downloaded at run time):

  python -m hardattn.models.resnet_weights --preset=googlenet \
      --input=googlenet-1378be20.pth --output=googlenet.msgpack

References:
  Szegedy et al. "Going deeper with convolutions". CVPR 2015,
  arXiv:1409.4842.
  Xu & Saenko. "Ask, Attend and Answer". ECCV 2016, arXiv:1511.05234.
  Zhou et al. "Simple Baseline for Visual Question Answering".
  arXiv:1512.02167.
"""

from collections.abc import Mapping, Sequence
import math
import re
from typing import Any

from flax import linen as nn
from flax import traverse_util
import jax
import jax.numpy as jnp
import numpy as np

from hardattn import errors
from hardattn.models import resnet

CHECKPOINT_URL = 'https://download.pytorch.org/models/googlenet-1378be20.pth'
BN_EPSILON = 1e-3  # torchvision's BasicConv2d
BN_MOMENTUM = 0.9

# torchvision's widths: the stem (conv1, conv2, conv3) and each inception
# block's (ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj).
STEM = (64, 64, 192)
BLOCKS = (
    ('inception3a', (64, 96, 128, 16, 32, 32)),
    ('inception3b', (128, 128, 192, 32, 96, 64)),
    ('inception4a', (192, 96, 208, 16, 48, 64)),
    ('inception4b', (160, 112, 224, 24, 64, 64)),
    ('inception4c', (128, 128, 256, 24, 64, 64)),
    ('inception4d', (112, 144, 288, 32, 64, 64)),
    ('inception4e', (256, 160, 320, 32, 128, 128)),
    ('inception5a', (256, 160, 320, 32, 128, 128)),
    ('inception5b', (384, 192, 384, 48, 128, 128)),
)
# Max pools (kernel, stride) after conv3 and after these blocks.
_POOL_AFTER = {'conv3': (3, 2), 'inception3b': (3, 2),
               'inception4e': (2, 2)}

# `GoogLeNet` fields per preset: torchvision's, and one with every width
# divided by 16 for tests and CPU smoke runs.
PRESETS = {
    'googlenet': dict(width_divisor=1),
    'googlenet_tiny': dict(width_divisor=16),
}


def _width(c: int, divisor: int) -> int:
  return max(1, c // divisor)


def max_pool_ceil(x: jax.Array, kernel: int, stride: int,
                  padding: int = 0) -> jax.Array:
  """torch's MaxPool2d(kernel, stride, padding, ceil_mode=True) on NHWC.

  The output side is ceil((n + 2 p - k) / s) + 1, less one where the last
  window would start in the right padding (torch's rule); the extra right
  padding is -inf, as torch never lets padding win a max.
  """
  pads = []
  for n in x.shape[1:3]:
    out = math.ceil((n + 2 * padding - kernel) / stride) + 1
    if (out - 1) * stride >= n + padding:
      out -= 1
    pads.append((padding, max((out - 1) * stride + kernel - n - padding, 0)))
  return nn.max_pool(x, (kernel, kernel), strides=(stride, stride),
                     padding=pads)


def grid_shape(image_hw: tuple[int, int], num_stages: int = 4
               ) -> tuple[int, int]:
  """Cells (h, w) of `GoogLeNet(num_stages)` on [*image_hw] images."""
  out = []
  for n in image_hw:
    n = (n + 2 * 3 - 7) // 2 + 1  # conv1, stride 2, padding 3
    n = math.ceil((n - 3) / 2) + 1  # maxpool1
    n = math.ceil((n - 3) / 2) + 1  # maxpool2
    n = math.ceil((n - 3) / 2) + 1  # maxpool3
    if num_stages >= 4:
      n = math.ceil((n - 2) / 2) + 1  # maxpool4
    out.append(n)
  return tuple(out)


class BasicConv(nn.Module):
  """torchvision's BasicConv2d: conv without bias, batch norm, ReLU."""
  features: int
  kernel: int
  strides: int = 1
  padding: int = 0
  use_running_average: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    p = self.padding
    x = nn.Conv(self.features, (self.kernel, self.kernel),
                strides=(self.strides, self.strides), padding=((p, p), (p, p)),
                use_bias=False, dtype=self.dtype, name='conv')(x)
    x = nn.BatchNorm(use_running_average=self.use_running_average,
                     momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                     dtype=self.dtype, name='bn')(x)
    return nn.relu(x)


class Inception(nn.Module):
  """Four branches concatenated: 1x1; 1x1 -> 3x3; 1x1 -> 3x3 (torchvision's
  "5x5"); 3x3 max pool (stride 1) -> 1x1."""
  widths: Sequence[int]  # ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj
  use_running_average: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    c1, c3r, c3, c5r, c5, cp = self.widths

    def conv(features, kernel, name):
      return BasicConv(features, kernel, padding=kernel // 2,
                       use_running_average=self.use_running_average,
                       dtype=self.dtype, name=name)

    b1 = conv(c1, 1, 'branch1')(x)
    b2 = conv(c3, 3, 'branch2_1')(conv(c3r, 1, 'branch2_0')(x))
    b3 = conv(c5, 3, 'branch3_1')(conv(c5r, 1, 'branch3_0')(x))
    b4 = conv(cp, 1, 'branch4_1')(max_pool_ceil(x, 3, 1, 1))
    return jnp.concatenate([b1, b2, b3, b4], axis=-1)


class GoogLeNet(nn.Module):
  """torchvision's GoogLeNet without its classifiers: an image grid."""
  width_divisor: int = 1  # every channel count divided by this (tests: 16)
  num_stages: int = 4  # 4: up to inception_5b (stride 32); 3: inception_4e
  transform_input: bool = True  # torchvision's, on for its ImageNet weights
  dtype: Any = jnp.float32  # computation dtype
  train_batch_norm: bool = False  # batch statistics when train=True

  @property
  def out_features(self) -> int:
    """Channels of the returned grid."""
    last = 'inception5b' if self.num_stages >= 4 else 'inception4e'
    c1, _, c3, _, c5, cp = dict(BLOCKS)[last]
    return sum(_width(c, self.width_divisor) for c in (c1, c3, c5, cp))

  @nn.compact
  def __call__(self, images: jax.Array, *, train: bool = False) -> jax.Array:
    """Computes the feature grid.

    Args:
      images: [batch, height, width, 3] ImageNet-normalised
        (`resnet.normalize_images`), as torchvision's transforms give them.
      train: with `train_batch_norm`, batch statistics (pass
        mutable=['batch_stats']); otherwise no effect.

    Returns:
      [batch, h, w, out_features], (h, w) = `grid_shape`.
    """
    if self.num_stages not in (3, 4):
      raise ValueError(f'GoogLeNet num_stages must be 3 (inception_4e) or 4 '
                       f'(inception_5b), got {self.num_stages}.')
    frozen = not (train and self.train_batch_norm)
    d = self.width_divisor
    x = jnp.asarray(images).astype(jnp.float32)
    if self.transform_input:  # torchvision's _transform_input, as written
      std = jnp.asarray(resnet.IMAGENET_STD, jnp.float32)
      mean = jnp.asarray(resnet.IMAGENET_MEAN, jnp.float32)
      x = x * (std / 0.5) + (mean - 0.5) / 0.5
    x = x.astype(self.dtype)
    for name, (features, kernel, stride, padding) in zip(
        ('conv1', 'conv2', 'conv3'),
        ((STEM[0], 7, 2, 3), (STEM[1], 1, 1, 0), (STEM[2], 3, 1, 1))):
      x = BasicConv(_width(features, d), kernel, stride, padding, frozen,
                    self.dtype, name=name)(x)
      if name == 'conv1':
        x = max_pool_ceil(x, 3, 2)
      elif name in _POOL_AFTER:
        x = max_pool_ceil(x, *_POOL_AFTER[name])
    last = 'inception5b' if self.num_stages >= 4 else 'inception4e'
    for name, widths in BLOCKS:
      x = Inception(tuple(_width(c, d) for c in widths), frozen, self.dtype,
                    name=name)(x)
      if name == last:
        break
      if name in _POOL_AFTER:
        x = max_pool_ceil(x, *_POOL_AFTER[name])
    return x


def from_preset(preset: str, **fields: Any) -> GoogLeNet:
  """`GoogLeNet(**PRESETS[preset], **fields)`.

  Raises:
    errors.UserError: an unknown preset.
  """
  if preset not in PRESETS:
    raise errors.UserError(f'Unknown GoogLeNet preset {preset!r}; known: '
                           f'{sorted(PRESETS)}.')
  return GoogLeNet(**{**PRESETS[preset], **fields})


# ------------------------------------------------------------ Weights ----


def _stage_of(key: str) -> int:
  """4 for inception5*, 3 for the rest; 99 for the classifiers (dropped)."""
  if key.startswith(('aux1', 'aux2', 'fc')):
    return 99
  match = re.match(r'inception(\d)', key)
  return 4 if match and match.group(1) == '5' else 3


def torchvision_to_flax(state_dict: Mapping[str, np.ndarray],
                        preset: str = 'googlenet', num_stages: int = 4, *,
                        source: str = 'The state dict') -> dict[str, Any]:
  """torchvision GoogLeNet state dict -> `GoogLeNet` variables.

  Args:
    state_dict: torch key -> array (`resnet_weights.read_torch_state_dict`).
    preset: a key of PRESETS (the checkpoint's architecture).
    num_stages: 4 or 3; later blocks' keys are dropped, as are the auxiliary
      classifiers and fc.
    source: names the state dict in errors.

  Returns:
    {'params': ..., 'batch_stats': ...} of float32 arrays.

  Raises:
    errors.UserError: naming missing, mis-shaped and unexpected keys.
  """
  from hardattn.models import resnet_weights  # pylint: disable=g-import-not-at-top
  model = from_preset(preset, num_stages=num_stages)
  flat, missing, misshaped, used = resnet_weights.match_torch(
      resnet_weights.variable_shapes(model), state_dict)
  unexpected = [k for k in state_dict if k not in used and not (
      k.endswith('num_batches_tracked') or _stage_of(k) > num_stages)]
  if missing or misshaped or unexpected:
    lines = [f'{source} does not fit GoogLeNet preset {preset!r}:']
    for what, keys in (('missing keys', missing),
                       ('wrong shapes', misshaped),
                       ('keys this architecture lacks', unexpected)):
      if keys:
        lines.append(f'  {what} ({len(keys)}): '
                     f'{resnet_weights.listing(keys)}')
    lines.append(f'Check that the preset matches the checkpoint (presets: '
                 f'{sorted(PRESETS)}).')
    raise errors.UserError('\n'.join(lines))
  return traverse_util.unflatten_dict(flat)


def expected_shapes(preset: str, num_stages: int
                    ) -> dict[tuple[str, ...], tuple[int, ...]]:
  """(collection, module..., name) -> shape of every variable."""
  from hardattn.models import resnet_weights  # pylint: disable=g-import-not-at-top
  return resnet_weights.variable_shapes(from_preset(preset,
                                                    num_stages=num_stages))


def stage_of_path(path: tuple[str, ...]) -> int:
  """The stage of a Flax variable path (collection, module, ...)."""
  return _stage_of(path[1] if len(path) > 1 else '')
