r"""SMem-VQA, one or two hops, on DAQUAR (Xu & Saenko 2016, Table 1).

The spatial memory network of Xu & Saenko (ECCV 2016, arXiv:1511.05234) on
GoogLeNet's inception_5b grid (7x7x1024 at 224x224) of DAQUAR's NYU-Depth
images, answering with one softmax layer; `:hops=1` is the paper's
"SMem-VQA One-Hop" row, `:hops=2` (default) its "Two-Hop" row;
`:version=full` the 894-class set (default: the 37-class reduced set).

Target: the paper's Table 1 reports both rows on DAQUAR (accuracy), but
the table is an image in the text available here and its numbers could
not be read, so no DAQUAR figure is quoted. Reported here: accuracy in the
eval step, and accuracy with WUPS at 0.9 and 0.0 by `hardattn.export`.

  python -m hardattn.prepare --dataset=daquar_reduced \
      --manual_dir=PATH/TO/DAQUAR --backbone=googlenet --image_size=224 \
      --backbone_weights=googlenet.msgpack
  python -m hardattn.main --config=configs/daquar_smem.py:hops=2 \
      --workdir=DIR
  python -m hardattn.export --config=configs/daquar_smem.py:hops=2 \
      --workdir=DIR --split=test

Sizes and training (decisions, `base_config.daquar_config` and
`smem_paper_model`): word/evidence size 512, dropout 0.5, every train answer
a class, Adam 1e-3, batch 64, 6,000 steps.

Compiled train step on the 7x7x1024 GoogLeNet grid, measured as
docs/smem_paper.md#cost says (the backbone and the hardware there):

  config                GFLOP/ex  peak MiB  temp MiB/ex  train ex/s
  daquar_smem:hops=1       0.218        52         1.68         179
  daquar_smem:hops=2       0.322        64         2.05         133

Not trained here: no DAQUAR files or GoogLeNet weights on this machine (no
internet) and no GPU lent to this session.
"""

from hardattn import base_config


def get_config(arg=None):
  config, _ = base_config.daquar_config('smem', arg)
  return config
