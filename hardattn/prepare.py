r"""Prepares a dataset on disk (TFDS ArrayRecord, no TensorFlow).

  python -m hardattn.prepare --dataset=sort_of_clevr --data_dir=DIR \
      [--num_train_images=N --num_test_images=M --seed=S]
  python -m hardattn.prepare --dataset=spatial --data_dir=DIR \
      [--num_train_images=N --num_test_images=M --seed=S]
  python -m hardattn.prepare --dataset=clevr --data_dir=DIR \
      --manual_dir=PATH/TO/CLEVR_v1.0 [--image_size=128] [--download]

CLEVR's --manual_dir is the extracted CLEVR_v1.0 directory, CLEVR_v1.0.zip,
or a directory holding either; --download fetches the release (18 GB) when
it is not there.
"""

from collections.abc import Sequence
import logging
import sys

from absl import app
from absl import flags

from hardattn import errors
from hardattn.datasets import clevr
from hardattn.datasets import sort_of_clevr
from hardattn.datasets import spatial

# The generated datasets, by --dataset.
_GENERATED = {'sort_of_clevr': sort_of_clevr, 'spatial': spatial}

_DATASET = flags.DEFINE_enum(
    'dataset', None, [*_GENERATED, 'clevr'], 'Dataset to prepare.',
    required=True)
_DATA_DIR = flags.DEFINE_string(
    'data_dir', None, 'Root directory of prepared datasets.', required=True)
_NUM_TRAIN_IMAGES = flags.DEFINE_integer(
    'num_train_images', None,
    'Sort-of-CLEVR, spatial: images in the train split (default: '
    f'{sort_of_clevr.DEFAULT_NUM_TRAIN_IMAGES}, '
    f'{spatial.DEFAULT_NUM_TRAIN_IMAGES}).', lower_bound=1)
_NUM_TEST_IMAGES = flags.DEFINE_integer(
    'num_test_images', None,
    'Sort-of-CLEVR, spatial: images in the test split (default: '
    f'{sort_of_clevr.DEFAULT_NUM_TEST_IMAGES}, '
    f'{spatial.DEFAULT_NUM_TEST_IMAGES}).', lower_bound=1)
_SEED = flags.DEFINE_integer(
    'seed', None,
    'Sort-of-CLEVR, spatial: generation seed (default: '
    f'{sort_of_clevr.DEFAULT_SEED}, {spatial.DEFAULT_SEED}).')
_MANUAL_DIR = flags.DEFINE_string(
    'manual_dir', None, 'CLEVR: the release (directory or zip).')
_IMAGE_SIZE = flags.DEFINE_integer(
    'image_size', 128, 'CLEVR: stored resolution (square).', lower_bound=8)
_DOWNLOAD = flags.DEFINE_bool(
    'download', False, 'CLEVR: download the release if --manual_dir has '
    'none.')


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logging.getLogger().setLevel(logging.INFO)
  try:
    if _DATASET.value in _GENERATED:
      builders = [_GENERATED[_DATASET.value].prepare(
          _DATA_DIR.value,
          num_train_images=_NUM_TRAIN_IMAGES.value,
          num_test_images=_NUM_TEST_IMAGES.value,
          seed=_SEED.value)]
    else:
      builders = clevr.prepare(_DATA_DIR.value, _MANUAL_DIR.value,
                               image_size=_IMAGE_SIZE.value,
                               download=_DOWNLOAD.value)
  except errors.UserError as e:
    sys.exit(f'error: {e}')
  for b in builders:
    print(f'{b.name} ({b.builder_config.name if b.builder_config else "-"}) '
          f'is in {b.data_dir}')


if __name__ == '__main__':
  app.run(main)
