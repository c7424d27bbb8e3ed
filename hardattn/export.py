r"""Writes a trained model's answers to a split, in order.

  python -m hardattn.export --config=configs/clevr_han_rn.py --workdir=DIR \
      [--split=test] [--output=DIR/clevr_test_answers.txt]
  python -m hardattn.export --config=configs/vqacp_han_rn.py --workdir=DIR \
      [--split=test] [--output=DIR/vqa_test_results.json]
  python -m hardattn.export --config=configs/vqa1_smem.py --workdir=DIR \
      --split=test_dev

Loads the latest checkpoint in `--workdir` (the config must be the one the
run was trained with, overrides included) and answers every question of the
split in the dataset's order. The answers are written one per line (the
CLEVR test submission format), or by the dataset's own `write_results`
where it has one (VQA: the official results JSON, [{"question_id",
"answer"}, ...], by default named as the VQA v1 / v2 evaluation server
wants it, e.g. vqa_OpenEnded_mscoco_test-dev2015_hardattn_results.json;
DAQUAR: one answer per line, and its accuracy and WUPS scores).
"""

import os
import sys

from absl import app
from absl import flags
from absl import logging
import jax
from ml_collections import config_flags
import numpy as np

from hardattn import cli
from hardattn import datasets
from hardattn import errors
from hardattn import files
from hardattn import sharding
from hardattn import train

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'The run\'s config file (configs/*.py[:args]).',
    lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'The run\'s workdir.')
_SPLIT = flags.DEFINE_string('split', 'test', 'Split to answer.')
_OUTPUT = flags.DEFINE_string(
    'output', None, 'Answers file (default: WORKDIR/<dataset>_<split>_'
    'answers.txt).')
flags.mark_flags_as_required(['config', 'workdir'])


def export_answers(config, workdir: str, split: str, output: str,
                   scores: dict[str, float] | None = None) -> int:
  """Answers `split` with the latest checkpoint; returns the answer count.

  A dataset's `write_results` may score the answers (DAQUAR: accuracy and
  WUPS); its scores then go into `scores`, if given.

  Raises:
    errors.UserError: no checkpoint, unprepared split, more than one process.
  """
  if jax.process_count() > 1:
    raise errors.UserError('Run hardattn.export as a single process.')
  mesh = sharding.create_mesh()
  batch_size = config.eval_batch_size
  sharding.check_batch_size(batch_size, mesh, 'eval_batch_size')
  iter_fn, meta = datasets.module(config).get_split(config, split,
                                                    batch_size=batch_size)
  state, step = train.restore_for_inference(config, workdir, meta, mesh)
  predict = jax.jit(train.predict_step,
                    in_shardings=(sharding.replicated(mesh),
                                  sharding.data_sharding(mesh)))
  answers = []
  for batch in iter_fn():
    predicted, _ = predict(state, sharding.to_global(
        {k: batch[k] for k in ('image', 'question')}, mesh))
    predicted = np.asarray(jax.device_get(predicted))[batch['mask']]
    answers.extend(meta.answer_names[a] for a in predicted)
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  module = datasets.module(config)
  if hasattr(module, 'write_results'):
    result = module.write_results(config, split, answers, output)
    if isinstance(result, dict) and scores is not None:
      scores.update(result)
  else:
    with files.atomic_open(output) as f:
      f.writelines(a + '\n' for a in answers)
  logging.info('Wrote %d %s answers of step %d to %s', len(answers), split,
               step, output)
  return len(answers)


def default_output(config, workdir: str, split: str) -> str:
  """WORKDIR/<the dataset's results_filename>, e.g. the VQA server's
  vqa_OpenEnded_mscoco_test-dev2015_hardattn_results.json, else
  WORKDIR/<dataset>_<split>_<RESULTS_SUFFIX or answers.txt>."""
  module = datasets.DATASETS.get(config.dataset)
  name = None
  if hasattr(module, 'results_filename'):
    name = module.results_filename(config, split)
  if name is None:
    suffix = getattr(module, 'RESULTS_SUFFIX', 'answers.txt')
    name = f'{config.dataset}_{split}_{suffix}'
  return os.path.join(os.path.expanduser(workdir), name)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  cli.quiet_libraries()
  config = _CONFIG.value
  output = _OUTPUT.value or default_output(config, _WORKDIR.value,
                                           _SPLIT.value)
  scores = {}
  try:
    n = export_answers(config, _WORKDIR.value, _SPLIT.value, output, scores)
  except errors.UserError as e:
    logging.error('%s', e)
    sys.exit(f'error: {e}')
  print(f'{n} answers -> {output}')
  for name, value in scores.items():
    print(f'{name}: {100 * value:.2f}' if name != 'num_examples' else
          f'{name}: {value}')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
