r"""Prepares a dataset on disk.

  python -m hardattn.prepare --dataset=sort_of_clevr --data_dir=DIR \
      [--num_train_images=N --num_test_images=M --seed=S]
"""

from collections.abc import Sequence
import logging

from absl import app
from absl import flags

from hardattn.datasets import sort_of_clevr

_DATASET = flags.DEFINE_enum(
    'dataset', None, ['sort_of_clevr'], 'Dataset to prepare.', required=True)
_DATA_DIR = flags.DEFINE_string(
    'data_dir', None, 'Root directory of prepared datasets.', required=True)
_NUM_TRAIN_IMAGES = flags.DEFINE_integer(
    'num_train_images', sort_of_clevr.DEFAULT_NUM_TRAIN_IMAGES,
    'Sort-of-CLEVR: images in the train split.', lower_bound=1)
_NUM_TEST_IMAGES = flags.DEFINE_integer(
    'num_test_images', sort_of_clevr.DEFAULT_NUM_TEST_IMAGES,
    'Sort-of-CLEVR: images in the test split.', lower_bound=1)
_SEED = flags.DEFINE_integer(
    'seed', sort_of_clevr.DEFAULT_SEED, 'Sort-of-CLEVR: generation seed.')


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logging.getLogger().setLevel(logging.INFO)
  if _DATASET.value == 'sort_of_clevr':
    builder = sort_of_clevr.prepare(
        _DATA_DIR.value,
        num_train_images=_NUM_TRAIN_IMAGES.value,
        num_test_images=_NUM_TEST_IMAGES.value,
        seed=_SEED.value)
  else:
    raise app.UsageError(f'Unknown dataset {_DATASET.value!r}.')
  print(f'{_DATASET.value} ({builder.builder_config.name}) is in '
        f'{builder.data_dir}')


if __name__ == '__main__':
  app.run(main)
