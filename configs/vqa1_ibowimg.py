r"""iBOWIMG on VQA v1 (Zhou et al. 2015; SMem-VQA's Table 2 baseline).

The question's bag of words and GoogLeNet's average-pooled inception_5b
feature (1024-d at 224x224), concatenated, one softmax layer, on VQA v1
with its official accuracy.

Target: 55.89 on test-standard (open-ended), arXiv:1512.02167, as a
results tracker and a survey quote it; the paper's own text was not
available here, nor its test-dev figure. Train, then write the server's
results file for test-standard (--split=test) or test-dev and upload it;
the eval during training reports val.

  python -m hardattn.prepare --dataset=vqa_v1 --manual_dir=VQA_V1_JSON \
      --coco_dir=COCO --backbone=googlenet --image_size=224 \
      --backbone_weights=googlenet.msgpack
  python -m hardattn.main --config=configs/vqa1_ibowimg.py --workdir=DIR
  python -m hardattn.export --config=configs/vqa1_ibowimg.py \
      --workdir=DIR --split=test

Sizes (decisions, `base_config.smem_paper_model`): word vectors 1024,
dropout 0.5, the 3,000 most frequent train answers, the VQA training of
`base_config.vqa_config` (Adam 3e-4, batch 128, 50,000 steps).

Compiled train step on the 7x7x1024 GoogLeNet grid, measured as
docs/smem_paper.md#cost says (the backbone and the hardware there):

  config                GFLOP/ex  peak MiB  temp MiB/ex  train ex/s
  vqa1_ibowimg             0.079       470        15.38          56

Not trained here: no VQA, COCO or GoogLeNet weights on this machine (no
internet) and no GPU lent to this session.
"""

from hardattn import base_config


def get_config(arg=None):
  config, _ = base_config.vqa1_config('ibowimg', arg)
  return config
