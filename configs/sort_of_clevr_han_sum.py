r"""HAN + sum pooling on Sort-of-CLEVR: hard attention without pairwise terms.

  python -m hardattn.main --config=configs/sort_of_clevr_han_sum.py \
      --workdir=workdirs/sort_of_clevr_han_sum
"""

from hardattn import base_config


def get_config(arg=None):
  args = base_config.parse_arg(arg, frac=0.25)
  config = base_config.base_config()
  config.model_name = 'han_sum'
  config.model.fraction = args.frac
  config.num_train_steps = 5_000
  return config
