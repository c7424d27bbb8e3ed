r"""Where a trained HAN keeps its cells: by content or by position.

  python experiments/kept_positions.py --workdir=WORKDIR [--step=8000] \
      [--batches=25]

Evaluates a run's checkpoint (eval mode, its eval split's first --batches
batches) and prints, per grid position, how often the selection keeps that
cell and how often the cell covers an object, and how concentrated each is
by position: the share of kept cells that fall on the k positions kept most
often, beside the same share for the cells covering an object (k = cells
kept a question). Objects fall anywhere, so a selection that follows them
spreads over the grid as they do; one that keeps a fixed set of positions
puts up to 100% of its cells there. Also the asked object's recall over the
same questions. Written for issue 17 (docs/bootstrapping.md): a seed of
`make demo` whose selection stalled had learned the position questions by
step 2,000 (the cells' (x, y) enter the fusion before the norm).
"""

import argparse
import itertools

import jax
import numpy as np

from hardattn import assets
from hardattn import attention_quality
from hardattn import cli
from hardattn import datasets
from hardattn import errors
from hardattn import models
from hardattn import sharding
from hardattn import train


def concentration(rate: np.ndarray, k: int) -> float:
  """Share of `rate`'s total on its k largest positions."""
  return float(np.sort(rate)[::-1][:k].sum() / max(rate.sum(), 1e-12))


def grid_text(rate: np.ndarray, shape: tuple[int, int]) -> str:
  rows = rate.reshape(shape)
  return '\n'.join('  ' + ' '.join(f'{100 * v:5.1f}' for v in row)
                   for row in rows)


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--step', type=int, default=None,
                      help='checkpoint step (default: the last saved)')
  parser.add_argument('--batches', type=int, default=25,
                      help='eval batches to read')
  args = parser.parse_args(argv)
  config = assets.load(args.workdir).config
  if not config.model_name.startswith(('han_', 'adahan_')):
    raise errors.UserError(f'{args.workdir} trained {config.model_name!r}, '
                           'which keeps every cell.')
  mesh = sharding.mesh_from_config(config)
  _, eval_fn, meta = datasets.get_dataset(config)
  model = models.create_model(config.model_name, meta, **config.model)
  grid = model.cell_grid(meta.image_shape[:2])
  state, step = train.restore_for_inference(config, args.workdir, meta, mesh,
                                            step=args.step)

  @jax.jit
  def kept_and_objects(batch):
    _, aux = model.apply(
        {'params': state.params, 'batch_stats': state.batch_stats},
        batch['image'], batch['question'], train=False)
    boxes, roles = batch['object_boxes'], batch['object_roles']
    covers, _ = attention_quality.coverage(boxes, roles, grid)
    found, asked = attention_quality.per_question(
        aux['cell_mask'], boxes, roles, grid, soft=False)['asked_recall']
    return aux['cell_mask'], covers.max(axis=1), found, asked

  kept_sum = object_sum = 0.0
  asked_found = asked_total = questions = 0.0
  for batch in itertools.islice(eval_fn(), args.batches):
    if 'object_roles' not in batch:
      raise errors.UserError(f'{config.dataset} has no object layout: '
                             'the positions of its objects are unknown.')
    kept, objects, found, asked = jax.device_get(
        kept_and_objects(sharding.to_global(batch, mesh)))
    kept_sum = kept_sum + kept.sum(0)
    object_sum = object_sum + objects.sum(0)
    asked_found += float(found.sum())
    asked_total += float(asked.sum())
    questions += kept.shape[0]
  kept_rate, object_rate = kept_sum / questions, object_sum / questions
  k = int(round(kept_rate.sum()))
  print(f'{args.workdir} at step {step}, {int(questions)} eval questions, '
        f'{k} of {kept_rate.size} cells kept a question:')
  print('cells kept (% of questions keeping each):')
  print(grid_text(kept_rate, grid.shape))
  print('cells covering an object (% of questions):')
  print(grid_text(object_rate, grid.shape))
  print(f'share of kept cells on the {k} positions kept most: '
        f'{100 * concentration(kept_rate, k):.1f}% (cells covering an '
        f'object: {100 * concentration(object_rate, k):.1f}%; '
        f'{100 * k / kept_rate.size:.0f}% if spread evenly)')
  print(f'asked object found: {100 * asked_found / max(asked_total, 1):.1f}%')


if __name__ == '__main__':
  cli.run_script(main)
