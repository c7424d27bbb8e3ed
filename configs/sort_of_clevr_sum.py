r"""Sum pooling over all 25 cells on Sort-of-CLEVR: HAN's control.

The same CNN, fusion, answer head and recipe as
configs/sort_of_clevr_han_sum.py and the sum path of
configs/sort_of_clevr_han_rn.py, with no selection: every fused cell is
summed. It is the all-cells row beside the HAN rows (its cell norms still
show, in `asked_recall_at_25`, whether they would rank the asked object
first).

  python -m hardattn.main --config=configs/sort_of_clevr_sum.py \
      --workdir=workdirs/sort_of_clevr_sum

Presets as configs/sort_of_clevr_han_rn.py's (`:legacy`, `:paper`; the
bootstrapping departures change nothing without a selection).

Measured here (2026-11-30, 2-core AMD EPYC VM, 2 fake XLA CPU devices,
Sort-of-CLEVR test split, seeds 0-2, 5,000 steps; docs/bootstrapping.md):
  overall 67.5 / 67.8 / 67.2, non-relational 62.3 (61.8..62.8),
  relational 72.7 (72.5..72.9), 10.5-13.2 min with evals; its norms'
  top quarter holds the asked object 74.5% of the time.
"""

from hardattn import base_config


def get_config(arg=None):
  config, _ = base_config.sort_of_clevr_config(arg)
  config.model_name = 'sum'
  return config
