r"""SAN soft attention (2 hops) over the same 196 fused cells, on VQA-CP v2.

The soft-attention baseline of Malinowski et al. 2018 (arXiv:1808.00300,
Tables 1-2), SAN (Yang et al. 2016) on the same features and head as HAN;
the VQA-CP authors report SAN at 24.96 on VQA-CP v2 test.
Reference numbers on VQA-CP v2 test (PAPERS.md): the best HAN, 28.65; SAN
24.96 and GVQA 31.30 as reported by the VQA-CP authors.

  python -m hardattn.prepare --dataset=vqacp_v2 --manual_dir=VQACP_JSON \
      --coco_dir=COCO --backbone_weights=resnet101.msgpack
  python -m hardattn.main --config=configs/vqacp_san.py \
      --workdir=DIR

Sizes, presets (`:version=vqa_v2`, `:pixels`) and how to get the data and
the converted ResNet-101 weights: `base_config.vqa_config` and
docs/vqa.md.

Compiled train step, XLA cost and memory analysis, batch 16 on one CPU
device (`python benchmarks/train_step.py --no_time --batch_size=16
--configs=...`; 2-core AMD EPYC VM, jax 0.10.2, 2026-11-21):

  config                             cells kept GFLOP/ex peak MiB temp MiB/ex
  vqacp_san                      196/196 (soft)    4.730      510     18.51

Not trained here: no VQA-CP, COCO or pretrained weights on this machine
(no internet) and no GPU lent to this session.
"""

from hardattn import base_config


def get_config(arg=None):
  config, _ = base_config.vqa_config('san', arg)
  base_config.use_soft_attention(config, 'san', hops=2)
  return config
