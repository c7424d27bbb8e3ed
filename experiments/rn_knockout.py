r"""What a trained HAN+RN's relational network adds: its eval with the RN out.

  python experiments/rn_knockout.py --workdir=WORKDIR [--step=5000]

Evaluates a run's checkpoint twice on its eval split: as trained, and with
the RN's output replaced by zeros (`model.rn_skipped`, the function of a
first all-cells phase; the rest of the parameters unchanged). For a model
whose head also reads the sum of the cells (`model.rn_sum_skip`), the
difference per question type is what the head takes from the RN's pairs
rather than from the sum. Written for issue 17 (docs/bootstrapping.md).
"""

import argparse
import functools

import numpy as np

from hardattn import assets
from hardattn import cli
from hardattn import datasets
from hardattn import errors
from hardattn import metrics as metrics_lib
from hardattn import models
from hardattn import sharding
from hardattn import train


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--step', type=int, default=None,
                      help='checkpoint step (default: the last saved)')
  args = parser.parse_args(argv)
  config = assets.load(args.workdir).config
  if config.model_name not in ('han_rn', 'adahan_rn', 'rn'):
    raise errors.UserError(f'{args.workdir} trained {config.model_name!r}, '
                           'which has no relational network.')
  mesh = sharding.mesh_from_config(config)
  _, eval_fn, meta = datasets.get_dataset(config)
  # The last phase's model (a fraction schedule ends on model.fraction).
  model = models.create_model(config.model_name, meta, **config.model)
  knocked = models.create_model(config.model_name, meta,
                                **dict(config.model, rn_skipped=True))
  state, _ = train.restore_for_inference(config, args.workdir, meta, mesh,
                                         step=args.step)
  eval_step = sharding.jit(functools.partial(
      train.eval_step, metrics_class=metrics_lib.eval_metrics_class(
          len(meta.question_types)), loss=config.loss), mesh)
  # The RN's pooled output on the first eval batch: a dead g (every unit
  # of its last ReLU layer at zero on every pair) gives exactly zero.
  batch = sharding.to_global(next(iter(eval_fn())), mesh)
  _, inter = model.apply(
      {'params': state.params, 'batch_stats': state.batch_stats},
      batch['image'], batch['question'], train=False,
      capture_intermediates=lambda mdl, _: mdl.name in ('rn', 'sum'),
      mutable=['intermediates'])
  inter = inter['intermediates']
  out = np.asarray(inter['rn']['__call__'][0])
  print(f"The RN's output on {out.shape[0]} eval questions: mean |x| "
        f'{np.abs(out).mean():.3g}; units nonzero for some question '
        f'{np.mean(np.any(out != 0, axis=0)):.0%} of {out.shape[1]}')
  if 'sum' in inter:  # model.rn_sum_skip: the head's other input
    print("The sum skip's output: mean |x| "
          f"{np.abs(np.asarray(inter['sum']['__call__'][0])).mean():.3g}")
  rows = {}
  for name, m in (('as trained', model), ('RN output zeroed', knocked)):
    rows[name] = train.evaluate(state.replace(apply_fn=m.apply), eval_fn(),
                                eval_step, mesh, meta)
  keys = ['eval/accuracy'] + sorted(
      k for k in rows['as trained'] if k.startswith('eval/accuracy/'))
  names = [k[len('eval/accuracy/'):] or 'overall' for k in keys]
  names[0] = 'overall'
  print(f'{args.workdir} at step {int(state.step)}:')
  head = state.params['head']
  if 'f0_from_zero' in head:  # model.rn_head_zero: how far it grew from 0
    rms = lambda x: float(np.sqrt(np.mean(np.square(x))))
    print(f"RMS of the head's first-layer weights on the RN "
          f"{rms(head['f0_from_zero']['kernel']):.2e}, on the sum "
          f"{rms(head['f0']['kernel']):.2e}")
  print('| | ' + ' | '.join(names) + ' |')
  print('|---' * (len(names) + 1) + '|')
  for name, row in rows.items():
    print(f'| {name} | ' + ' | '.join(f'{100 * row[k]:.1f}' for k in keys)
          + ' |')


if __name__ == '__main__':
  cli.run_script(main)
