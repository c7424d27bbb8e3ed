r"""Prepares a dataset on disk (TFDS ArrayRecord, no TensorFlow).

  python -m hardattn.prepare --dataset=sort_of_clevr \
      [--num_train_images=N --num_test_images=M --seed=S]
  python -m hardattn.prepare --dataset=spatial \
      [--num_train_images=N --num_test_images=M --seed=S]
  python -m hardattn.prepare --dataset=clevr \
      --manual_dir=PATH/TO/CLEVR_v1.0 [--image_size=128] [--download]

  python -m hardattn.prepare --dataset=vqacp_v2 \
      --manual_dir=PATH/TO/VQA_JSON --coco_dir=PATH/TO/COCO \
      --backbone_weights=resnet101.msgpack [--backbone=resnet101 \
      --image_size=448 --backbone_stages=4 --extract_batch_size=32]
  python -m hardattn.prepare --dataset=vqa_v2 ...   (the same flags)
  python -m hardattn.prepare --dataset=vqa_v1 ...   (the same flags)

  python -m hardattn.prepare --dataset=daquar_reduced \
      --manual_dir=PATH/TO/DAQUAR --backbone=googlenet --image_size=224 \
      --backbone_weights=googlenet.msgpack [--image_dir=PATH/TO/IMAGES]
  python -m hardattn.prepare --dataset=daquar_full ...   (the same flags)

The data go to --data_dir, by default where training looks for them
(`config.data_dir`): $HARDATTN_DATA_DIR, else ~/tensorflow_datasets.

CLEVR's --manual_dir is the extracted CLEVR_v1.0 directory, CLEVR_v1.0.zip,
or a directory holding either; --download fetches the release (18 GB) when
it is not there.

VQA: --manual_dir holds the JSON files (or subdirectories that do),
--coco_dir the COCO 2014 train2014/ and val2014/ folders; the questions are
prepared from the first, and the backbone's grids of every image in the
second are extracted once (float16; ResNet-101 at 448x448 is 14x14x2048,
784 KiB per image). --backbone_weights is the file made by
`python -m hardattn.models.resnet_weights` from torchvision's checkpoint.
Either part may be given alone.

DAQUAR: --manual_dir holds the qa.{37,894}.raw.{train,test}.txt files,
--image_dir (default: --manual_dir) the nyu_depth_images/ folder; the
questions are prepared (after checking that every image they name is
there) and the backbone's grid of each image extracted once.
"""

from collections.abc import Sequence
import logging
import sys
import time

from absl import app
from absl import flags

from hardattn import base_config
from hardattn import cli
from hardattn import errors
from hardattn.datasets import clevr
from hardattn.datasets import daquar
from hardattn.datasets import sort_of_clevr
from hardattn.datasets import spatial
from hardattn.datasets import vqa

# The generated datasets, by --dataset.
_GENERATED = {'sort_of_clevr': sort_of_clevr, 'spatial': spatial}

_DATASET = flags.DEFINE_enum(
    'dataset', None, [*_GENERATED, 'clevr', *vqa.VERSIONS,
                      *(f'daquar_{v}' for v in daquar.VERSIONS)],
    'Dataset to prepare.',
    required=True)
_DATA_DIR = flags.DEFINE_string(
    'data_dir', base_config.default_data_dir(),
    'Root directory of prepared datasets; training reads the same default '
    '(config.data_dir): $HARDATTN_DATA_DIR, else ~/tensorflow_datasets.')
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
    'manual_dir', None, 'CLEVR: the release (directory or zip). VQA: the '
    'directory of the JSON files.')
_IMAGE_SIZE = flags.DEFINE_integer(
    'image_size', None, 'CLEVR: stored resolution (square, default 128). '
    'VQA: the backbone input (default 448).', lower_bound=8)
_COCO_DIR = flags.DEFINE_string(
    'coco_dir', None, 'VQA: the directory with COCO train2014/ and val2014/.')
_BACKBONE = flags.DEFINE_string(
    'backbone', None, 'VQA, DAQUAR: the grid backbone preset (default '
    'resnet101 for VQA, googlenet for DAQUAR).')
_IMAGE_DIR = flags.DEFINE_string(
    'image_dir', None, 'DAQUAR: the directory with nyu_depth_images/ '
    '(default: --manual_dir).')
_BACKBONE_STAGES = flags.DEFINE_integer(
    'backbone_stages', 4, 'VQA: backbone stages run (4: stride 32).',
    lower_bound=1, upper_bound=4)
_BACKBONE_WEIGHTS = flags.DEFINE_string(
    'backbone_weights', None, 'VQA: converted backbone weights (.msgpack).')
_EXTRACT_BATCH_SIZE = flags.DEFINE_integer(
    'extract_batch_size', 32, 'VQA: images per backbone call.', lower_bound=1)
_DOWNLOAD = flags.DEFINE_bool(
    'download', False, 'CLEVR: download the release if --manual_dir has '
    'none.')


def prepare_vqa() -> list[object]:
  """The VQA questions and/or grids the flags name the inputs of."""
  if not (_MANUAL_DIR.value or _COCO_DIR.value):
    raise errors.UserError(
        f'--dataset={_DATASET.value} needs --manual_dir (the JSON files) '
        'and/or --coco_dir with --backbone_weights (the COCO images).')
  builders = []
  if _MANUAL_DIR.value:
    builders.append(vqa.prepare_questions(_DATA_DIR.value, _DATASET.value,
                                          _MANUAL_DIR.value))
  if _COCO_DIR.value:
    grid_args = dict(backbone=_BACKBONE.value or 'resnet101',
                     image_size=_IMAGE_SIZE.value or 448,
                     stages=_BACKBONE_STAGES.value)
    done = vqa.builders(_DATA_DIR.value, _DATASET.value,
                        **grid_args)[1].is_prepared()
    t0 = time.perf_counter()
    grids = vqa.prepare_grids(
        _DATA_DIR.value, _COCO_DIR.value, _BACKBONE_WEIGHTS.value,
        batch_size=_EXTRACT_BATCH_SIZE.value, **grid_args)
    seconds = time.perf_counter() - t0
    if not done:
      n = sum(s.num_examples for s in grids.info.splits.values())
      print(f'Extracted {n} images in {seconds:.1f} s: {n / seconds:.2f} '
            'images/s (JPEG decoding, backbone, writing; compilation '
            'included).')
    builders.append(grids)
  return builders


def prepare_daquar() -> list[object]:
  """DAQUAR's questions and the grids of the images they name."""
  version = _DATASET.value[len('daquar_'):]
  if not _MANUAL_DIR.value:
    raise errors.UserError(
        f'--dataset={_DATASET.value} needs --manual_dir (the qa.*.raw.*.txt '
        'files) and --backbone_weights (the converted GoogLeNet weights).')
  questions = daquar.prepare_questions(_DATA_DIR.value, version,
                                       _MANUAL_DIR.value, _IMAGE_DIR.value)
  t0 = time.perf_counter()
  grids = daquar.prepare_grids(
      _DATA_DIR.value, questions, _IMAGE_DIR.value or _MANUAL_DIR.value,
      _BACKBONE_WEIGHTS.value, backbone=_BACKBONE.value or 'googlenet',
      image_size=_IMAGE_SIZE.value or 224, stages=_BACKBONE_STAGES.value,
      batch_size=_EXTRACT_BATCH_SIZE.value)
  n = grids.info.splits['images'].num_examples
  print(f'{n} image grids ready in {time.perf_counter() - t0:.1f} s.')
  return [questions, grids]


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logging.getLogger().setLevel(logging.INFO)
  cli.quiet_libraries()
  try:
    if _DATASET.value in _GENERATED:
      builders = [_GENERATED[_DATASET.value].prepare(
          _DATA_DIR.value,
          num_train_images=_NUM_TRAIN_IMAGES.value,
          num_test_images=_NUM_TEST_IMAGES.value,
          seed=_SEED.value)]
    elif _DATASET.value == 'clevr':
      builders = clevr.prepare(_DATA_DIR.value, _MANUAL_DIR.value,
                               image_size=_IMAGE_SIZE.value or 128,
                               download=_DOWNLOAD.value)
    elif _DATASET.value.startswith('daquar_'):
      builders = prepare_daquar()
    else:
      builders = prepare_vqa()
  except errors.UserError as e:
    sys.exit(f'error: {e}')
  for b in builders:
    print(f'{b.name} ({b.builder_config.name if b.builder_config else "-"}) '
          f'is in {b.data_dir}')


if __name__ == '__main__':
  app.run(main)
