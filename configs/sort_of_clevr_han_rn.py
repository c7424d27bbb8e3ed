r"""HAN+RN on Sort-of-CLEVR: the embedded default (the README's main job).

Hard attention keeps round(frac x 25) of the 5x5 cells by the L2 norm of the
fused embedding, and the relational network relates every pair of them.
Target: the RN paper's > 94% on relational and non-relational questions
(Santoro et al. 2017, Sort-of-CLEVR).

  python -m hardattn.main --config=configs/sort_of_clevr_han_rn.py \
      --workdir=workdirs/sort_of_clevr_han_rn

Presets: `:frac=0.5` keeps half the cells.

Measured here (2026-11-21, 2-core AMD EPYC VM, 2 fake XLA CPU devices,
Sort-of-CLEVR test split; see the README results table):
  14,000 steps, 31 min: 67.5% non-relational, 43.8% relational.
  5,000 steps (`:frac=0.5`), 22 min: 62.0% non-relational, 43.7% relational.
"""

from hardattn import base_config


def get_config(arg=None):
  config, args = base_config.sort_of_clevr_config(arg, frac=0.25)
  config.model_name = 'han_rn'
  config.model.fraction = args.frac
  config.num_train_steps = 14_000
  return config
