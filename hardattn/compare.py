r"""Draws several trained models' attention on the same questions.

  python -m hardattn.compare \
      --config=configs/spatial_smem.py:hops=2 --workdir=workdirs/spatial_smem2 \
      --label='SMem 2 hops' \
      --config=configs/spatial_han_rn.py --workdir=workdirs/spatial_han_rn \
      --label=HAN+RN --output=docs/spatial_attention.png

`--config`, `--workdir` and (optionally) `--label` are repeated, one of each
per model, in column order. Each run's latest checkpoint answers the same
examples of `--split`: the first example of each question type, in the
dataset's type order, then the next ones, up to `--num_examples`. Soft
attention (SAN, SMem) is drawn as one heat map per hop, hard attention
(HAN, AdaHAN) as its kept cells. All runs must use the same dataset and
grid.
"""

import sys

from absl import app
from absl import flags
from absl import logging
import jax
import numpy as np

from hardattn import cli
from hardattn import datasets
from hardattn import errors
from hardattn import models
from hardattn import sharding
from hardattn import train
from hardattn import visualize



def _define_flags() -> dict[str, flags.FlagHolder]:
  """The command's flags. Defined only when run as a program: hardattn.export
  (and main) define --config and --workdir too, and tests import them all."""
  return dict(
      configs=flags.DEFINE_multi_string(
          'config', [],
          'A run\'s config file (configs/*.py[:args]), once per run.'),
      workdirs=flags.DEFINE_multi_string(
          'workdir', [], 'A run\'s workdir, once per run, in --config order.'),
      labels=flags.DEFINE_multi_string(
          'label', [],
          'Column labels, in --config order (default: model names).'),
      split=flags.DEFINE_string('split', 'test',
                                'Split to draw examples from.'),
      num_examples=flags.DEFINE_integer('num_examples', 8,
                                        'Rows (examples).'),
      output=flags.DEFINE_string('output', 'attention_comparison.png',
                                 'Where to write the PNG.'),
  )


def pick_examples(batches, meta, num_examples: int) -> dict[str, np.ndarray]:
  """The first example of each question type, then the next ones in order.

  Args:
    batches: an in-order iterable of padded batches (with `mask`).
    meta: the dataset's DatasetMeta.
    num_examples: how many examples to pick.

  Returns:
    A batch of at most `num_examples` examples (no padding), ordered by
    question type.
  """
  firsts, rest = {}, []
  for batch in batches:
    for i in np.flatnonzero(batch['mask']):
      example = {k: v[i] for k, v in batch.items()}
      kind = int(example['question_type'])
      if kind not in firsts:
        firsts[kind] = example
      elif len(rest) < num_examples:
        rest.append(example)
    if len(firsts) == len(meta.question_types) and len(rest) >= num_examples:
      break
  chosen = [firsts[k] for k in sorted(firsts)] + rest
  chosen = chosen[:num_examples]
  if not chosen:
    raise errors.UserError('The split has no examples.')
  return {k: np.stack([e[k] for e in chosen]) for k in chosen[0]}


def model_view(config, workdir: str, label: str, batch, meta, mesh
               ) -> visualize.ModelView:
  """Restores a run and answers `batch` (padded to the mesh) with it."""
  state, step = train.restore_for_inference(config, workdir, meta, mesh)
  size = len(batch['answer'])
  padded = -(-size // mesh.size) * mesh.size
  batch = {k: np.concatenate([v, np.zeros((padded - size,) + v.shape[1:],
                                          v.dtype)])
           for k, v in batch.items()}
  predict = jax.jit(train.predict_step,
                    in_shardings=(sharding.replicated(mesh),
                                  sharding.data_sharding(mesh)))
  predicted, aux = jax.device_get(predict(state, sharding.to_global(batch,
                                                                    mesh)))
  predicted = [meta.answer_names[a] for a in np.asarray(predicted)[:size]]
  logging.info('%s: %s at step %d', label, workdir, step)
  if 'attention' in aux:
    maps = np.asarray(aux['attention'])[:size]
    titles = [f'hop {h + 1}' for h in range(maps.shape[1])]
    if len(titles) == 1:
      titles = ['attention']
    return visualize.ModelView(label, predicted, maps, True, titles)
  maps = np.asarray(aux['cell_mask'])[:size, None]
  return visualize.ModelView(label, predicted, maps, False, ['kept cells'])


def compare(configs, workdirs, labels, split: str, num_examples: int
            ) -> np.ndarray:
  """The comparison figure (uint8 RGB) of the runs on `split`.

  Args:
    configs: the runs' ConfigDicts.
    workdirs: the runs' workdirs, one per config.
    labels: column labels, one per config (empty: the model names).
    split: the split to draw examples from.
    num_examples: rows.

  Raises:
    errors.UserError: mismatched flags, datasets or grids; no checkpoint.
  """
  if not configs or len(configs) != len(workdirs) or (
      labels and len(labels) != len(configs)):
    raise errors.UserError(
        'Give one --workdir (and, if any, one --label) per --config; got '
        f'{len(configs)} configs, {len(workdirs)} workdirs, {len(labels)} '
        'labels.')
  if jax.process_count() > 1:
    raise errors.UserError('Run hardattn.compare as a single process.')
  labels = labels or [c.model_name for c in configs]
  mesh = sharding.create_mesh()
  first = configs[0]
  iter_fn, meta = datasets.module(first).get_split(
      first, split, batch_size=first.eval_batch_size)
  batch = pick_examples(iter_fn(), meta, num_examples)
  grid = _grid(first, meta)
  views = []
  for config, workdir, label in zip(configs, workdirs, labels):
    this_grid = _grid(config, meta)
    if config.dataset != first.dataset or this_grid != grid:
      raise errors.UserError(
          f'{label}: dataset {config.dataset} with grid {this_grid} differs '
          f'from the first run\'s {first.dataset} with grid {grid}.')
    views.append(model_view(config, workdir, label, batch, meta, mesh))
  return visualize.comparison_figure(
      meta.pictures(batch), [meta.question_text(q) for q in batch['question']],
      [meta.answer_name(a) for a in batch['answer']], views,
      grid_shape=grid, title=f'{meta.name} {split}: the same questions')


def _grid(config, meta) -> tuple[int, int]:
  return models.create_model(config.model_name, meta,
                             **config.model).grid_shape(meta.image_shape[:2])


def main(argv, flag_values: dict[str, flags.FlagHolder]):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  cli.quiet_libraries()
  f = {name: holder.value for name, holder in flag_values.items()}
  try:
    configs = [cli.load_config(c) for c in f['configs']]
    figure = compare(configs, f['workdirs'], f['labels'], f['split'],
                     f['num_examples'])
  except errors.UserError as e:
    logging.error('%s', e)
    sys.exit(f'error: {e}')
  visualize.save_png(figure, f['output'])
  print(f"{len(configs)} models -> {f['output']}")


if __name__ == '__main__':
  _FLAGS = _define_flags()
  app.run(lambda argv: main(argv, _FLAGS), flags_parser=cli.parse_flags)
