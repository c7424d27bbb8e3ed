r"""Plain RN on Sort-of-CLEVR: all 25 cells, all 625 ordered pairs.

The RN paper's Sort-of-CLEVR model (Santoro et al. 2017): > 94% on relational
and non-relational questions. The CNN and f are the RN paper's CLEVR sizes
(24-wide CNN, f 256-256), g is 4x128 (4x256 with `:legacy`; `:paper` is the
RN paper's Sort-of-CLEVR sizes), shared by every model in this comparison so
only attention and aggregation differ. By default it is HAN+RN's all-cells
control on the same recipe (configs/sort_of_clevr_han_rn.py's: the sum
skip, the pair mean, and a first 1,000 steps on the sum alone, which is
HAN+RN at fraction 1).

  python -m hardattn.main --config=configs/sort_of_clevr_rn.py \
      --workdir=workdirs/sort_of_clevr_rn

Its cost on this recipe: 0.215 GFLOP a question against HAN+RN's 0.031
(benchmarks/train_step.py --batch_size=160 --no_time). Measured on it
(2026-11-30, 2-core CPU, 2 fake XLA CPU devices, seed 0, 5,000 steps,
48.5 min with evals; `python experiments/ablation.py --root=workdirs/final
--steps=5000 --seeds=0 --variants=demo_rn`): 67.2% overall, 62.1%
non-relational, 72.3% relational; HAN+RN's seed 0 70.2% in 14.7 min
(docs/bootstrapping.md). Measured with `:legacy`
(2026-11-21, 2-core AMD EPYC VM, 2 fake XLA CPU devices, test split):
  1,000 steps, 11 min: 49.7% non-relational, 46.0% relational.
"""

from hardattn import base_config


def get_config(arg=None):
  config, args = base_config.sort_of_clevr_config(arg)
  config.model_name = 'rn'
  if args.legacy:
    config.num_train_steps = 1_000
  return config
