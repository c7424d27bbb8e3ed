r"""HAN + sum pooling on Sort-of-CLEVR: hard attention without pairwise terms.

  python -m hardattn.main --config=configs/sort_of_clevr_han_sum.py \
      --workdir=workdirs/sort_of_clevr_han_sum

By default the recipe of configs/sort_of_clevr_han_rn.py, with all cells
for the first 1,000 steps; `:faithful` keeps the fraction from the first
step. Its all-cells control is configs/sort_of_clevr_sum.py.

Measured here (2-core AMD EPYC VM, 2 fake XLA CPU devices, Sort-of-CLEVR
test split, one seed):
- 2026-11-30, docs/bootstrapping.md (`han_sum_sched1000`: 20 questions per
  image, 3,000 steps): 63.8% overall, 61.3 non-relational, 66.4
  relational; kept cells on an object 99.2%, asked object kept 78.8%
  (`sum` on all cells, same runs: 66.6 overall).
- 2026-11-21 with `:legacy` (one question per image, batch 64, Adam 5e-4),
  5,000 steps, 9 min: 60.1% non-relational, 48.4% relational.
"""

from hardattn import base_config


def get_config(arg=None):
  config, args = base_config.sort_of_clevr_config(arg, frac=0.25)
  config.model_name = 'han_sum'
  config.model.fraction = args.frac
  return config
