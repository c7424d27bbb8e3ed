"""Frozen image backbones by preset name: torchvision's ResNets and GoogLeNet.

What extracting grids (`hardattn.datasets.vqa`, `hardattn.datasets.daquar`)
and answering about new images need of a backbone, whichever family it is:
the module, its grid shape and channels, and its converted weights
(`hardattn.models.resnet_weights`, which reads both families' torchvision
checkpoints).
"""

from typing import Any

from flax import linen as nn

from hardattn import errors
from hardattn.models import googlenet
from hardattn.models import resnet


def presets() -> list[str]:
  return sorted(resnet.RESNET_PRESETS) + sorted(googlenet.PRESETS)


def is_googlenet(preset: str) -> bool:
  return preset in googlenet.PRESETS


def build(preset: str, num_stages: int = 4, **fields: Any) -> nn.Module:
  """The backbone module of a preset, e.g. 'resnet101' or 'googlenet'.

  Raises:
    errors.UserError: an unknown preset.
  """
  if is_googlenet(preset):
    return googlenet.from_preset(preset, num_stages=num_stages, **fields)
  if preset in resnet.RESNET_PRESETS:
    return resnet.from_preset(preset, num_stages=num_stages, **fields)
  raise errors.UserError(f'Unknown backbone {preset!r}; known: '
                         f'{", ".join(presets())}.')


def grid_shape(preset: str, image_hw: tuple[int, int],
               num_stages: int = 4) -> tuple[int, int]:
  """Cells (h, w) of the preset's grid on [*image_hw] images."""
  build(preset, num_stages)  # an unknown preset is an error
  if is_googlenet(preset):
    return googlenet.grid_shape(image_hw, num_stages)
  return resnet.grid_shape(image_hw, num_stages)


def out_features(preset: str, num_stages: int = 4) -> int:
  """Channels of the preset's grid."""
  return build(preset, num_stages).out_features
