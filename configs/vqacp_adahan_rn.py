r"""AdaHAN + relational network on VQA-CP v2: an adaptive number of cells.

Table 2 of Malinowski et al. 2018 (arXiv:1808.00300): adaptive hard
attention with the RN, reported with its mean percentage of cells attended
(eval_report.json's `fraction_kept`). AdaHAN keeps the cells whose
softmax(norm) exceeds 1/196 (`model.adahan_threshold`), at least one.
Reference numbers on VQA-CP v2 test (PAPERS.md): the best HAN, 28.65; SAN
24.96 and GVQA 31.30 as reported by the VQA-CP authors.

  python -m hardattn.prepare --dataset=vqacp_v2 --manual_dir=VQACP_JSON \
      --coco_dir=COCO --backbone_weights=resnet101.msgpack
  python -m hardattn.main --config=configs/vqacp_adahan_rn.py \
      --workdir=DIR

Sizes, presets (`:version=vqa_v2`, `:pixels`) and how to get the data and
the converted ResNet-101 weights: `base_config.vqa_config` and
docs/vqa.md.

Compiled train step, XLA cost and memory analysis, batch 16 on one CPU
device (`python benchmarks/train_step.py --no_time --batch_size=16
--configs=...`; 2-core AMD EPYC VM, jax 0.10.2, 2026-11-21):

  config                             cells kept GFLOP/ex peak MiB temp MiB/ex
  vqacp_adahan_rn                     <=196/196   50.355     5247    315.00

Static shapes: the RN runs over a budget of `model.adahan_max_cells`
candidates (None: all 196) with the unkept ones masked, so it costs as much
as the plain RN unless the budget is set, e.g. `--config.model.
adahan_max_cells=98`.

Not trained here: no VQA-CP, COCO or pretrained weights on this machine
(no internet) and no GPU lent to this session.
"""

from hardattn import base_config


def get_config(arg=None):
  config, _ = base_config.vqa_config('adahan_rn', arg)
  return config
