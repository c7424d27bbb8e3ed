r"""AdaHAN+RN on Sort-of-CLEVR: an adaptive number of cells per question.

A cell is kept where softmax(norms) > threshold / 25 (threshold 1.0, at least
one cell); the mean fraction kept is reported (eval/fraction_kept).
Candidates: the `max_cells` highest-norm cells (preset `:max_cells=12`), so
the RN never runs on more than that many.

  python -m hardattn.main --config=configs/sort_of_clevr_adahan_rn.py \
      --workdir=workdirs/sort_of_clevr_adahan_rn

By default it takes the HAN+RN recipe (configs/sort_of_clevr_han_rn.py),
all cells for the first 1,000 steps included. Measured on it (2026-11-30,
2-core CPU, 2 fake XLA CPU devices, seed 0, 5,000 steps, 22.2 min with
evals beside other work; `python experiments/ablation.py
--root=workdirs/final --steps=5000 --seeds=0 --variants=demo_adahan_rn`):
66.6% overall, 64.6% non-relational, 68.5% relational, 12.5% of the cells
kept (3 of 25), 98.6% of them on an object, the asked object kept 49.1%
of the time; HAN keeping 3 cells on the same recipe scored 60.3%
(docs/bootstrapping.md).
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
