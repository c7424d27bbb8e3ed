r"""SMem-VQA on the spatial-reasoning set, one or two hops (Xu & Saenko 2016).

Word-guided attention: each question word is correlated with every CNN cell,
the max over words is softmaxed over the 8x8 cells, and the attended
evidence plus a bag of words answers; the second hop attends again with
that result. Xu & Saenko report that the second hop helps on relative
positions ("left of the blue circle"). Same CNN and answer MLP as the HAN
configs.

  python -m hardattn.main --config=configs/spatial_smem.py:hops=1 \
      --workdir=workdirs/spatial_smem1
  python -m hardattn.main --config=configs/spatial_smem.py:hops=2 \
      --workdir=workdirs/spatial_smem2

Presets: `:hops=1` or `:hops=2` (default 2); `:rn` aggregates with the
relational network under pair weights p_i p_j (model smem_rn).

Measured here (2026-11-21, 2-core AMD EPYC VM, 2 fake XLA CPU devices,
test split; see the README results table, soft vs hard attention):
  `:hops=1`, 4,000 steps, 4.2 min: 92.2% absolute, 75.8% relative.
  `:hops=2`, 4,000 steps, 4.7 min: 61.8% absolute, 59.9% relative.
"""

from hardattn import base_config


def get_config(arg=None):
  config, args = base_config.spatial_config('smem', arg, hops=2, rn=False)
  base_config.use_soft_attention(config, 'smem', hops=args.hops, rn=args.rn)
  return config
