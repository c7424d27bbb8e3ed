r"""Evaluates a run's checkpoints with three kinds of batch-norm statistics.

  python experiments/bn_eval.py --workdir=WORKDIR [--steps=4000,5000]

For each saved step: the eval split's accuracy with the checkpoint's running
averages (what training's evaluation uses), with statistics recomputed at
those weights over train batches (`train.recompute_batch_stats`), and, per
batch-norm layer, how far the running averages are from the recomputed
ones: max over channels of |mu_run - mu| / sqrt(var + eps) (a shift in units
of the layer's normalised output) and the ratio of the variances. Written
to find why one checkpoint's evaluation collapsed (issue 17).
"""

import argparse
import functools
import os
import sys

import jax
import numpy as np

from hardattn import assets
from hardattn import checkpointing
from hardattn import datasets
from hardattn import metrics as metrics_lib
from hardattn import sharding
from hardattn import train


def _layers(stats, prefix=''):
  """(name, {'mean', 'var'}) of every batch-norm layer in a stats tree."""
  for key, value in stats.items():
    if 'mean' in value:
      yield prefix + key, value
    else:
      yield from _layers(value, prefix + key + '/')


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--steps', default='',
                      help='comma-separated steps (default: all saved)')
  parser.add_argument('--recompute_batches', type=int, default=50)
  args = parser.parse_args(argv)
  config = assets.load(args.workdir).config
  mesh = sharding.mesh_from_config(config)
  train_iter, eval_fn, meta = datasets.get_dataset(config)
  ckpt = checkpointing.Checkpointer(
      checkpointing.workdir_checkpoints(args.workdir))
  steps = ([int(s) for s in args.steps.split(',')] if args.steps
           else sorted(ckpt._manager.all_steps()))  # pylint: disable=protected-access
  eval_step = sharding.jit(functools.partial(
      train.eval_step, metrics_class=metrics_lib.eval_metrics_class(
          len(meta.question_types)), loss=config.loss), mesh)
  train_batches = [next(train_iter)
                   for _ in range(args.recompute_batches)]
  for step in steps:
    state, _ = train.restore_for_inference(config, args.workdir, meta, mesh,
                                           step=step)
    running = train.evaluate(state, eval_fn(), eval_step, mesh, meta)
    fresh_stats = train.recompute_batch_stats(
        state, (sharding.to_global(b, mesh) for b in train_batches))
    fresh = train.evaluate(state.replace(batch_stats=fresh_stats), eval_fn(),
                           eval_step, mesh, meta)
    print(f'step {step}: accuracy {100 * running["eval/accuracy"]:.1f} '
          f'(loss {running["eval/loss"]:.2f}) with running statistics, '
          f'{100 * fresh["eval/accuracy"]:.1f} (loss '
          f'{fresh["eval/loss"]:.2f}) recomputed over '
          f'{args.recompute_batches} train batches')
    old = dict(_layers(jax.device_get(state.batch_stats)))
    for name, new in _layers(jax.device_get(fresh_stats)):
      eps = 1e-5
      shift = np.abs(old[name]['mean'] - new['mean']) / np.sqrt(
          new['var'] + eps)
      ratio = (old[name]['var'] + eps) / (new['var'] + eps)
      worst = int(np.argmax(shift))
      print(f'  {name}: max shift {shift.max():.2f} sd (channel {worst}, '
            f'var {new["var"][worst]:.2e}), var ratio '
            f'{ratio.min():.2f}..{ratio.max():.2f}, min var '
            f'{new["var"].min():.2e}')
  ckpt.close()


if __name__ == '__main__':
  os.environ.setdefault('XLA_FLAGS',
                        '--xla_force_host_platform_device_count=2')
  main(sys.argv[1:])
