r"""HAN + RN on CLEVR: the RN over the top 25% of cells by norm.

Targets (Malinowski et al. 2018, arXiv:1808.00300, CLEVR): HAN+RN+ 96.9%
(preset `:plus`), HAN+RN++ 98.8% (preset `:plusplus`); the paper gives no
number for the base sizes.
Cells fused with the question by 1x1 convolutions (256, 256); the k =
round(frac x cells) with the largest L2 norm go to the RN (g 4x256 on
(m_i, m_j, q)); f 256-256 with dropout 0.5. Everything else as
configs/clevr_rn.py.

  python -m hardattn.prepare --dataset=clevr --manual_dir=PATH/TO/CLEVR_v1.0
  python -m hardattn.main --config=configs/clevr_han_rn.py --workdir=DIR

prepare writes into $HARDATTN_DATA_DIR (else ~/tensorflow_datasets), where
training reads (`config.data_dir`); to use another place give both
--data_dir=DIR and --config.data_dir=DIR.

Presets (the paper gives no sizes; decision):
  `:plus`      CNN 32-64-128-256, 64-d word embeddings, LSTM 256; 128x128.
  `:plusplus`  the same at 224x224 (14x14 = 196 cells, k = 49).
  `:frac=0.5`  keep half the cells.
  `:per_image=4`  up to 4 questions of an image share it (and its CNN
               pass) in a batch; the paper has 1 (docs/clevr.md).
  `:cpu`       a short run to see the path work (any of the above with it):
               1,000 steps, an eval of 2,048 val questions every 500.

The full run is 1,400,000 steps of 64 with an eval of all 149,991 val
questions every 25,000: about 8 days of train steps alone at this CPU's
131 examples/s (below), plus the 56 evals.
On a CPU split the cores into devices (launch/local.sh, or
XLA_FLAGS=--xla_force_host_platform_device_count=2 as the Makefile does).

Cost of the compiled train step, batch 64, from XLA's cost and memory
analysis (`python benchmarks/train_step.py --devices=2 --steps=5
--configs=clevr_rn,clevr_han_rn,clevr_han_rn:plus,clevr_han_rn:plusplus`;
2-core AMD EPYC VM, jax 0.10.2, 2026-11-21):

  config                  GFLOP/example  peak MiB/device  train ex/s here
  clevr_rn (128x128)          4.958           1234              17
  clevr_han_rn                0.414            161             131
  clevr_han_rn:plus           0.741            232              70
  clevr_han_rn:plusplus       4.206           1062              14

so HAN+RN++ costs 0.85x the plain RN's FLOPs at 128x128: the sizes were
chosen for that.

Not trained here: no CLEVR release on this machine (no internet).
"""

from hardattn import base_config


def get_config(arg=None):
  config, _ = base_config.clevr_config('han_rn', arg)
  return config
