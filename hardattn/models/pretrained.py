"""Pretrained weights a model starts from, put into its fresh variables.

The training loop initialises every model from scratch and then calls
`load(state, model, sharding)`, which knows which models have pretrained
parts and where their weights are: today the VQA ResNet backbone
(`image_encoder='resnet'` with `backbone_weights`, the file
`python -m hardattn.models.resnet_weights` converts from torchvision's
checkpoint). A state restored from a checkpoint already holds them and is
not passed here.
"""

from collections.abc import Mapping
from typing import Any

from absl import logging
from flax import linen as nn
import jax

from hardattn.datasets import vqa as vqa_data


def variables(model: nn.Module) -> dict[str, dict[str, Any]] | None:
  """The pretrained variables of `model`, as {collection: {name: subtree}}
  ('params' and 'batch_stats' by top-level module name), or None where the
  model starts from random weights only.

  Raises:
    errors.UserError: the weights file is missing or does not fit.
  """
  path = getattr(model, 'backbone_weights', None)
  if (getattr(model, 'image_encoder', 'cnn') != 'resnet' or not path or
      path == vqa_data.RANDOM_WEIGHTS):
    return None
  from hardattn.models import resnet_weights  # pylint: disable=g-import-not-at-top
  # Exactly the variables of ResNet(backbone, backbone_stages), checked.
  loaded = resnet_weights.load_variables(path, model.backbone,
                                         num_stages=model.backbone_stages)
  logging.info('Loaded backbone weights from %s.', path)
  return {'params': {'backbone': loaded['params']},
          'batch_stats': {'backbone': loaded['batch_stats']}}


def load(state: Any, model: nn.Module,
         where: jax.sharding.Sharding) -> Any:
  """`state` (a freshly initialised TrainState) with `model`'s pretrained
  variables put in and placed on `where`; other states pass through.

  Raises:
    errors.UserError: the weights file is missing or does not fit.
  """
  loaded = variables(model)
  if loaded is None:
    return state
  loaded = jax.device_put(loaded, where)

  def merged(current: Mapping[str, Any] | None,
             new: Mapping[str, Any]) -> dict[str, Any]:
    return dict(current or {}, **new)

  return state.replace(
      params=merged(state.params, loaded['params']),
      batch_stats=merged(state.batch_stats, loaded['batch_stats']))
