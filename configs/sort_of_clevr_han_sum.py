r"""HAN + sum pooling on Sort-of-CLEVR: hard attention without pairwise terms.

  python -m hardattn.main --config=configs/sort_of_clevr_han_sum.py:legacy \
      --workdir=workdirs/sort_of_clevr_han_sum

Measured here with `:legacy` (one question per image, batch 64, Adam 5e-4: the setup these
configs used before the fast recipe became the Sort-of-CLEVR default; 2026-11-21,
2-core AMD EPYC VM, 2 fake XLA CPU devices,
Sort-of-CLEVR test split; see the README results table):
  5,000 steps, 9 min: 60.1% non-relational, 48.4% relational.
"""

from hardattn import base_config


def get_config(arg=None):
  config, args = base_config.sort_of_clevr_config(arg, frac=0.25)
  config.model_name = 'han_sum'
  config.model.fraction = args.frac
  return config
