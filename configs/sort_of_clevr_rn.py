r"""Plain RN on Sort-of-CLEVR: all 25 cells, all 625 ordered pairs.

The RN paper's Sort-of-CLEVR model (Santoro et al. 2017): > 94% on relational
and non-relational questions. The CNN and f are the RN paper's CLEVR sizes
(24-wide CNN, f 256-256), g is 4x128 (4x256 with `:legacy`; `:paper` is the
RN paper's Sort-of-CLEVR sizes), shared by every
model in this comparison so only attention and aggregation differ.

  python -m hardattn.main --config=configs/sort_of_clevr_rn.py:legacy \
      --workdir=workdirs/sort_of_clevr_rn

Measured here with `:legacy` (one question per image, batch 64, Adam 5e-4: the setup these
configs used before the fast recipe became the Sort-of-CLEVR default; 2026-11-21,
2-core AMD EPYC VM, 2 fake XLA CPU devices,
Sort-of-CLEVR test split; see the README results table):
  1,000 steps, 11 min: 49.7% non-relational, 46.0% relational.
"""

from hardattn import base_config


def get_config(arg=None):
  config, args = base_config.sort_of_clevr_config(arg)
  config.model_name = 'rn'
  if args.legacy:
    config.num_train_steps = 1_000
  return config
