r"""The RN paper's CLEVR-from-pixels model: all 8x8 cells, all 4,096 pairs.

Reproduces Santoro et al. 2017 (arXiv:1706.01427), CLEVR from pixels:
target 95.5% on test (96.8% on val, which is what we evaluate; test has no
answers). Per type: count 90.1, exist 97.8, compare numbers 93.6, query
attribute 97.9, compare attribute 97.1. 128x128 images, pad/crop/rotate
augmentation, CNN 4x24 (stride 2, batch norm) with coordinates, 32-d words
and a 128-unit LSTM, g 4x256 on (o_i, o_j, q), f 256-256 with dropout 0.5,
28 answers, Adam 2.5e-4, batch 64, ~1.4M steps. There is no fusion layer
(`fusion_features=()`): each object is the CNN cell with its coordinates and
the question, as in g(o_i, o_j, q).

  python -m hardattn.prepare --dataset=clevr --manual_dir=PATH/TO/CLEVR_v1.0
  python -m hardattn.main --config=configs/clevr_rn.py --workdir=DIR

prepare writes into $HARDATTN_DATA_DIR (else ~/tensorflow_datasets), where
training reads (`config.data_dir`); to use another place give both
--data_dir=DIR and --config.data_dir=DIR.

Presets: `:plus` (CNN 32-64-128-256, 64-d words, LSTM 256), `:plusplus`
(also 224x224 input, 14x14 cells), `:cpu` (1,000 steps, an eval of 2,048
val questions every 500): see configs/clevr_han_rn.py.

Cost of the compiled train step at batch 64 (XLA cost analysis; see
configs/clevr_han_rn.py and docs/clevr.md): 4.958 GFLOP per example, 1234 MiB
peak per device on 2 devices, 17 examples/s on this 2-core CPU.

Not trained here: no CLEVR release on this machine (no internet), and at
17 examples/s the paper's 1.4M steps of 64 would take two months.
"""

from hardattn import base_config


def get_config(arg=None):
  config, _ = base_config.clevr_config('rn', arg)
  config.model.fusion_features = ()
  return config
