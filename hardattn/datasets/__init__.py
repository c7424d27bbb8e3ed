"""Datasets: a registry of `get_dataset` functions by `config.dataset` name.

Each entry is `get_dataset(config, *, process_index, process_count) ->
(train_iter, eval_iter_fn, meta)`; see `hardattn.datasets.pipeline` for the
batch format and `DatasetMeta`.
"""

from collections.abc import Callable, Iterator
from typing import Any

from hardattn import errors
from hardattn.datasets import pipeline
from hardattn.datasets import sort_of_clevr

DATASETS = {
    'sort_of_clevr': sort_of_clevr.get_dataset,
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
    errors.UserError: unknown dataset name.
  """
  name = config.dataset
  if name not in DATASETS:
    raise errors.UserError(
        f'Unknown dataset {name!r} (config.dataset); known datasets: '
        f'{", ".join(sorted(DATASETS))}.')
  return DATASETS[name](
      config, process_index=process_index, process_count=process_count)
