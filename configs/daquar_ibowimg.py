r"""iBOWIMG on DAQUAR: the baseline of SMem-VQA's Table 1.

Zhou et al.'s simple baseline (arXiv:1512.02167): the question's bag of
words and GoogLeNet's average-pooled inception_5b feature (1024-d, at
224x224) of the NYU-Depth image, concatenated, one softmax layer. The
"iBOWIMG" row of Xu & Saenko 2016 (arXiv:1511.05234), Table 1, on DAQUAR;
`:version=full` is the 894-class set (default: the reduced set).

Target: that table is an image in the text available here and its numbers
could not be read, so no DAQUAR figure is quoted.

  python -m hardattn.prepare --dataset=daquar_reduced \
      --manual_dir=PATH/TO/DAQUAR --backbone=googlenet --image_size=224 \
      --backbone_weights=googlenet.msgpack
  python -m hardattn.main --config=configs/daquar_ibowimg.py --workdir=DIR
  python -m hardattn.export --config=configs/daquar_ibowimg.py \
      --workdir=DIR --split=test

Sizes and training (decisions, `base_config.daquar_config` and
`smem_paper_model`): word vectors 1024, dropout 0.5, every train answer a
class, Adam 1e-3, batch 64, 6,000 steps.

Compiled train step on the 7x7x1024 GoogLeNet grid, measured as
docs/smem_paper.md#cost says (the backbone and the hardware there):

  config                GFLOP/ex  peak MiB  temp MiB/ex  train ex/s
  daquar_ibowimg           0.018        68         1.97         291

Not trained here: no DAQUAR files or GoogLeNet weights on this machine (no
internet) and no GPU lent to this session.
"""

from hardattn import base_config


def get_config(arg=None):
  config, _ = base_config.daquar_config('ibowimg', arg)
  return config
