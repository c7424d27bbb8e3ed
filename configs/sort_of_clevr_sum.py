r"""Sum pooling over all 25 cells on Sort-of-CLEVR: HAN+sum's control.

The same CNN, fusion, answer head and recipe as
configs/sort_of_clevr_han_sum.py, with no selection: every fused cell is
summed. It is the all-cells row beside the HAN+sum and HAN+RN rows (its
cell norms still show, in `asked_recall_at_25`, whether they rank the
asked object first).

  python -m hardattn.main --config=configs/sort_of_clevr_sum.py \
      --workdir=workdirs/sort_of_clevr_sum

Presets as configs/sort_of_clevr_han_rn.py's (`:legacy`, `:paper`; the
bootstrapping departures change nothing without a selection).
"""

from hardattn import base_config


def get_config(arg=None):
  config, _ = base_config.sort_of_clevr_config(arg)
  config.model_name = 'sum'
  return config
