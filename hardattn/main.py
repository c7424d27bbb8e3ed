r"""Trains and evaluates a hardattn model.

  python -m hardattn.main --config=configs/sort_of_clevr_han_rn.py \
      --workdir=/tmp/han_rn [--config.num_train_steps=1000 ...]

Running it again on the same workdir resumes from the latest checkpoint;
SIGTERM (what a preempted VM gets) saves a checkpoint and exits cleanly.

Several processes (hosts) train one model with JAX's multi-process runtime:
every process runs the same command plus
  --distributed                       (Cloud TPU, SLURM...: auto-detected)
  --coordinator_address=HOST:PORT --num_processes=N --process_id=I
                                      (anywhere else, e.g. GPU hosts)
Each process reads its own rows of every global batch; process 0 writes
summaries and pictures; checkpoints are written by all of them (orbax).
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
from hardattn import sharding
from hardattn import train

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'Experiment config file (configs/*.py[:args]).',
    lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None,
                               'Where checkpoints and summaries go.')
_DISTRIBUTED = flags.DEFINE_bool(
    'distributed', False, 'Join a multi-process run, its coordinator and '
    'process ids auto-detected (Cloud TPU, SLURM, ...).')
_COORDINATOR = flags.DEFINE_string(
    'coordinator_address', None, 'HOST:PORT of process 0, for a '
    'multi-process run outside Cloud TPU/SLURM (with --num_processes and '
    '--process_id).')
_NUM_PROCESSES = flags.DEFINE_integer(
    'num_processes', None, 'Processes in the run (with --coordinator_address).')
_PROCESS_ID = flags.DEFINE_integer(
    'process_id', None, 'This process, 0 .. num_processes - 1 (with '
    '--coordinator_address).')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  cli.quiet_libraries()
  try:
    sharding.initialize_distributed(
        auto=_DISTRIBUTED.value, coordinator_address=_COORDINATOR.value,
        num_processes=_NUM_PROCESSES.value, process_id=_PROCESS_ID.value)
  except errors.UserError as e:
    sys.exit(f'error: {e}')
  logging.info('JAX %s on %d %s device(s), process %d of %d.', jax.__version__,
               jax.device_count(), jax.devices()[0].platform,
               jax.process_index(), jax.process_count())
  logging.info('Config:\n%s', _CONFIG.value)
  try:
    report = train.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
  except errors.UserError as e:
    logging.error('%s', e)
    sys.exit(f'error: {e}')
  if report is None:  # SIGTERM: a checkpoint was saved, rerun to resume
    return
  logging.info('Done. Eval report: %s', os.path.join(
      os.path.abspath(os.path.expanduser(_WORKDIR.value)), 'eval_report.json'))
  logging.info('%s accuracy (%%): %s', report['split'], ' | '.join(
      f'{name} {100 * acc:.1f}' for name, acc in report['table']))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
