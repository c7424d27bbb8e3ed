"""Datasets: a registry of dataset modules by `config.dataset` name.

Each module has
  get_dataset(config, *, process_index, process_count)
      -> (train_iter, eval_iter_fn, meta),
  get_split(config, split, *, batch_size) -> (iter_fn, meta), an in-order
      pass over any prepared split (for prediction export), and
  nominal_meta(config) -> meta, the dataset's shapes without reading data
      (for benchmarks),
and may have
  device_augment(config) -> augment(images, key) or None, augmentation for
      the jitted train step to apply (`device_augment` below).
See `hardattn.datasets.pipeline` for the batch format and `DatasetMeta`.
"""

from collections.abc import Callable, Iterator
from typing import Any

from hardattn import errors
from hardattn.datasets import clevr
from hardattn.datasets import daquar
from hardattn.datasets import pipeline
from hardattn.datasets import sort_of_clevr
from hardattn.datasets import spatial
from hardattn.datasets import vqa

DATASETS = {
    'clevr': clevr,
    'daquar': daquar,  # DAQUAR full or reduced (config.daquar.version)
    'sort_of_clevr': sort_of_clevr,
    'spatial': spatial,
    'vqa': vqa,  # VQA-CP v2, VQA v2 and VQA v1 (config.vqa.version)
}


def get_dataset(
    config: Any, *, process_index: int = 0, process_count: int = 1
) -> tuple[Iterator[pipeline.Batch],
           Callable[[], Iterator[pipeline.Batch]], pipeline.DatasetMeta]:
  """Builds the dataset named by `config.dataset` for this process.

  Args:
    config: ConfigDict; `config.dataset` names the dataset, the other fields
      read are listed in the dataset's module docstring.
    process_index: this process's index.
    process_count: number of processes.

  Returns:
    (train_iter, eval_iter_fn, meta), see `sort_of_clevr.get_dataset`.

  Raises:
    errors.UserError: unknown dataset name, or questions_per_image set for
      a dataset whose images have varying numbers of questions.
  """
  mod = module(config)
  group = config.get('questions_per_image', 1)
  if group != 1 and not getattr(mod, 'SHARES_IMAGES', False):
    shared = sorted(n for n, m in DATASETS.items()
                    if getattr(m, 'SHARES_IMAGES', False))
    raise errors.UserError(
        f'config.questions_per_image={group} needs a dataset that groups '
        f'questions by image ({", ".join(shared)}); {config.dataset} '
        'takes 1.')
  return mod.get_dataset(
      config, process_index=process_index, process_count=process_count)


def device_augment(config: Any) -> Callable[[Any, Any], Any] | None:
  """The dataset's augmentation for the train step, or None (none, or done
  by the input pipeline)."""
  make = getattr(module(config), 'device_augment', None)
  return make(config) if make is not None else None


def module(config: Any) -> Any:
  """The dataset module named by `config.dataset`.

  Raises:
    errors.UserError: unknown dataset name.
  """
  name = config.dataset
  if name not in DATASETS:
    raise errors.UserError(
        f'Unknown dataset {name!r} (config.dataset); known datasets: '
        f'{", ".join(sorted(DATASETS))}.')
  return DATASETS[name]
