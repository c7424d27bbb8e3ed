r"""AdaHAN+RN on Sort-of-CLEVR: an adaptive number of cells per question.

A cell is kept where softmax(norms) > threshold / 25 (threshold 1.0, at least
one cell); the mean fraction kept is reported (eval/fraction_kept).
Candidates: the `max_cells` highest-norm cells (preset `:max_cells=12`), so
the RN never runs on more than that many.

  python -m hardattn.main --config=configs/sort_of_clevr_adahan_rn.py \
      --workdir=workdirs/sort_of_clevr_adahan_rn

By default it takes the HAN+RN recipe (configs/sort_of_clevr_han_rn.py),
all cells for the first 1,000 steps included; not yet measured with it.
Measured with `:legacy` (2026-11-21, 2-core AMD EPYC VM, 2 fake XLA CPU
devices, Sort-of-CLEVR test split; docs/sort_of_clevr.md):
  4,000 steps, 15 min: 49.5% non-relational, 44.7% relational, 31% of the
  cells kept.
"""

from hardattn import base_config


def get_config(arg=None):
  config, args = base_config.sort_of_clevr_config(arg, max_cells=12,
                                                  threshold=1.0)
  config.model_name = 'adahan_rn'
  config.model.adahan_max_cells = args.max_cells
  config.model.adahan_threshold = args.threshold
  if args.legacy:
    config.num_train_steps = 4_000
  return config
