r"""Plain RN on Sort-of-CLEVR: all 25 cells, all 625 ordered pairs.

The RN paper's Sort-of-CLEVR model (Santoro et al. 2017): > 94% on relational
and non-relational questions. CNN width and g/f sizes here are the RN paper's
CLEVR sizes (24-wide CNN, g 4x256, f 256-256), shared by every model in this
comparison so only attention and aggregation differ.

  python -m hardattn.main --config=configs/sort_of_clevr_rn.py \
      --workdir=workdirs/sort_of_clevr_rn
"""

from hardattn import base_config


def get_config(arg=None):
  del arg
  config = base_config.base_config()
  config.model_name = 'rn'
  config.num_train_steps = 1_000
  return config
