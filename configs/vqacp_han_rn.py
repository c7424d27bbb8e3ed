r"""HAN + relational network on VQA-CP v2: the RN over the top cells by norm.

Table 1 of Malinowski et al. 2018 (arXiv:1808.00300), the "pairwise" row;
its columns are the presets `:frac=0.16`, `:frac=0.25` (default),
`:frac=0.33`, `:frac=0.5` (31, 49, 65, 98 cells: 961 to 9,604 pairs
against 38,416 for all cells).
Reference numbers on VQA-CP v2 test (PAPERS.md): the best HAN, 28.65; SAN
24.96 and GVQA 31.30 as reported by the VQA-CP authors.

  python -m hardattn.prepare --dataset=vqacp_v2 --manual_dir=VQACP_JSON \
      --coco_dir=COCO --backbone_weights=resnet101.msgpack
  python -m hardattn.main --config=configs/vqacp_han_rn.py:frac=0.25 \
      --workdir=DIR

Sizes, presets (`:version=vqa_v2`, `:pixels`) and how to get the data and
the converted ResNet-101 weights: `base_config.vqa_config` and
docs/vqa.md.

Compiled train step, XLA cost and memory analysis, batch 16 on one CPU
device (`python benchmarks/train_step.py --no_time --batch_size=16
--configs=...`; 2-core AMD EPYC VM, jax 0.10.2, 2026-11-21):

  config                             cells kept GFLOP/ex peak MiB temp MiB/ex
  vqacp_rn (all cells)                  196/196   50.403     5848    352.51
  vqacp_han_rn:frac=0.16                 31/196    5.605      586     23.68
  vqacp_han_rn:frac=0.25                 49/196    7.346      783     35.97
  vqacp_han_rn:frac=0.33                 65/196    9.540     1040     52.01
  vqacp_han_rn:frac=0.5                  98/196   15.988     1796     99.29

Beyond the 4.4 GFLOP the shared encoders and fusion cost, the RN part
drops from 46.0 GFLOP/example (all cells) to 2.93 at 25% of cells, 15.7x
fewer, close to the 16x fewer pairs.

Not trained here: no VQA-CP, COCO or pretrained weights on this machine
(no internet) and no GPU lent to this session.
"""

from hardattn import base_config


def get_config(arg=None):
  config, _ = base_config.vqa_config('han_rn', arg)
  return config
