"""The MODELS registry: a name -> a constructor, one line per model.

A constructor takes the dataset-derived fields (num_answers, question_kind,
vocab_size) and the config's `model` fields as keyword arguments.
"""

import functools
from typing import Any

import jax.numpy as jnp

from hardattn import errors
from hardattn.models import aggregation
from hardattn.models import bow
from hardattn.models import encoders
from hardattn.models import vqa

MODELS = {
    'cnn_mlp': vqa.CNNMLP,
    'sum': functools.partial(vqa.VQAModel, attention='none', aggregation='sum'),
    'rn': functools.partial(vqa.VQAModel, attention='none', aggregation='rn'),
    'han_sum': functools.partial(vqa.VQAModel, attention='han',
                                 aggregation='sum'),
    'han_rn': functools.partial(vqa.VQAModel, attention='han',
                                aggregation='rn'),
    'adahan_sum': functools.partial(vqa.VQAModel, attention='adahan',
                                    aggregation='sum'),
    'adahan_rn': functools.partial(vqa.VQAModel, attention='adahan',
                                   aggregation='rn'),
    'san': functools.partial(vqa.SoftAttentionModel, attention='san',
                             aggregation='sum'),
    'san_rn': functools.partial(vqa.SoftAttentionModel, attention='san',
                                aggregation='rn'),
    'smem': functools.partial(vqa.SoftAttentionModel, attention='smem',
                              aggregation='sum'),
    'smem_rn': functools.partial(vqa.SoftAttentionModel, attention='smem',
                                 aggregation='rn'),
    'ibowimg': bow.IBOWIMG,  # Zhou et al. 2015: bag of words + pooled image
}

_DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}

# Config fields that take one of a few strings: checked before the model is
# built, so a typo exits with the field's name instead of a traceback from
# inside the first step.
CHOICES = {
    'coords': vqa.COORDS,
    'rn_sum_cells': vqa.RN_SUM_CELLS,
    'rn_pool': aggregation.RN_POOLS,
    'image_encoder': encoders.IMAGE_ENCODERS,
    'cnn_padding': encoders.CNN_PADDINGS,
}


def create_model(name: str, meta: Any, **kwargs):
  """Builds model `name` for a dataset described by `meta`.

  Args:
    name: a key of MODELS.
    meta: the dataset's `DatasetMeta` (num_answers, question_kind,
      vocab_size are taken from it, so the head fits the data).
    **kwargs: the config's model fields; `dtype` may be a string.

  Returns:
    A Flax module whose `__call__(image, question, *, train)` returns
    `(logits, aux)`.

  Raises:
    UserError: for an unknown model or a field the model does not have.
  """
  if name not in MODELS:
    raise errors.UserError(
        f'Unknown model {name!r}; known models: {sorted(MODELS)}.')
  kwargs = dict(kwargs)
  if isinstance(kwargs.get('dtype'), str):
    if kwargs['dtype'] not in _DTYPES:
      raise errors.UserError(f"model.dtype must be one of {sorted(_DTYPES)}, "
                             f"got {kwargs['dtype']!r}.")
    kwargs['dtype'] = _DTYPES[kwargs['dtype']]
  for key, value in kwargs.items():
    if isinstance(value, list):
      kwargs[key] = tuple(value)
    if key in CHOICES and value not in CHOICES[key]:
      raise errors.UserError(f'model.{key} must be one of {CHOICES[key]}, '
                             f'got {value!r}.')
  if kwargs.get('rn_head_zero') and not kwargs.get('rn_sum_skip'):
    raise errors.UserError('model.rn_head_zero needs model.rn_sum_skip=True '
                           '(the head would start with no input).')
  for key in ('han_separation', 'han_explore'):
    if kwargs.get(key) and not name.startswith('han_'):
      raise errors.UserError(f'model.{key} is for HAN models; '
                             f'{name!r} does not keep the top-k cells.')
  if kwargs.get('han_explore', 0) < 0:
    raise errors.UserError(f"model.han_explore must be >= 0, got "
                           f"{kwargs['han_explore']}.")
  try:
    return MODELS[name](num_answers=meta.num_answers,
                        question_kind=meta.question_kind,
                        vocab_size=meta.vocab_size, **kwargs)
  except TypeError as e:
    raise errors.UserError(f'Model {name!r} does not take these config '
                           f'fields: {e}') from e
