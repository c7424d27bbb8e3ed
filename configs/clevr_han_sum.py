r"""HAN + sum pooling on CLEVR: keep the top 25% of the 8x8 cells by norm.

Target: HAN+sum+ 94.7% on CLEVR (preset `:plus`; Malinowski et al. 2018,
arXiv:1808.00300); the paper gives no number for the base sizes. Cells are
fused with the question by 1x1 convolutions (256, 256); the k =
round(frac x cells) with the largest L2 norm are summed; f 256-256 with
dropout 0.5. Everything else as configs/clevr_rn.py.

  python -m hardattn.main --config=configs/clevr_han_sum.py:plus --workdir=DIR

Presets: `:plus`, `:plusplus`, `:frac=0.5`, `:cpu` (a short run, see
configs/clevr_han_rn.py).

Not trained here: no CLEVR release on this machine (no internet).
"""

from hardattn import base_config


def get_config(arg=None):
  config, _ = base_config.clevr_config('han_sum', arg)
  return config
