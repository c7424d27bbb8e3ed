r"""SMem-VQA, one or two hops, on VQA v1 (Xu & Saenko 2016, Table 2).

The spatial memory network on GoogLeNet's inception_5b grid (7x7x1024 at
224x224) of the COCO images, VQA v1's official accuracy; `:hops=1` and
`:hops=2` (default) are the paper's One-Hop and Two-Hop rows.

Target (PAPERS.md, the paper's text): Two-Hop, test-dev 57.99 (yes/no
80.87, number 37.32, other 43.12), test-standard 58.24. Those are the
evaluation server's numbers: train, then write the server's results file
for test-dev (or test-standard with --split=test) and upload it; the eval
during training reports val.

  python -m hardattn.prepare --dataset=vqa_v1 --manual_dir=VQA_V1_JSON \
      --coco_dir=COCO --backbone=googlenet --image_size=224 \
      --backbone_weights=googlenet.msgpack
  python -m hardattn.main --config=configs/vqa1_smem.py:hops=2 \
      --workdir=DIR
  python -m hardattn.export --config=configs/vqa1_smem.py:hops=2 \
      --workdir=DIR --split=test_dev

Sizes (decisions, `base_config.smem_paper_model`): word/evidence size 512,
dropout 0.5, the 3,000 most frequent train answers, the VQA training of
`base_config.vqa_config` (Adam 3e-4, batch 128, 50,000 steps).

Compiled train step on the 7x7x1024 GoogLeNet grid, measured as
docs/smem_paper.md#cost says (the backbone and the hardware there):

  config                GFLOP/ex  peak MiB  temp MiB/ex  train ex/s
  vqa1_smem:hops=1         0.238       248         8.82         106
  vqa1_smem:hops=2         0.342       215         6.37          89

Not trained here: no VQA, COCO or GoogLeNet weights on this machine (no
internet) and no GPU lent to this session.
"""

from hardattn import base_config


def get_config(arg=None):
  config, _ = base_config.vqa1_config('smem', arg)
  return config
