r"""Trains and evaluates a hardattn model.

  python -m hardattn.main --config=configs/sort_of_clevr_han_rn.py \
      --workdir=/tmp/han_rn [--config.num_train_steps=1000 ...]

Running it again on the same workdir resumes from the latest checkpoint.
"""

import os
import sys

from absl import app
from absl import flags
from absl import logging
import jax
from ml_collections import config_flags

from hardattn import cli
from hardattn import errors
from hardattn import train

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'Experiment config file (configs/*.py[:args]).',
    lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None,
                               'Where checkpoints and summaries go.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logging.get_absl_handler().addFilter(cli.QuietLibraries())
  logging.info('JAX %s on %d %s device(s), process %d of %d.', jax.__version__,
               jax.device_count(), jax.devices()[0].platform,
               jax.process_index(), jax.process_count())
  logging.info('Config:\n%s', _CONFIG.value)
  try:
    report = train.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
  except errors.UserError as e:
    logging.error('%s', e)
    sys.exit(f'error: {e}')
  logging.info('Done. Eval report: %s', os.path.join(
      os.path.abspath(os.path.expanduser(_WORKDIR.value)), 'eval_report.json'))
  logging.info('%s accuracy (%%): %s', report['split'], ' | '.join(
      f'{name} {100 * acc:.1f}' for name, acc in report['table']))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
