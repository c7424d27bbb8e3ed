r"""SAN soft attention on Sort-of-CLEVR: the soft baseline at HAN's backbone.

The same CNN, question fusion and answer MLP as HAN+sum; Stacked Attention
hops weigh every fused cell (Yang et al. 2016; two hops, their best)
instead of keeping the top-norm cells.

  python -m hardattn.main --config=configs/sort_of_clevr_san.py:legacy \
      --workdir=workdirs/sort_of_clevr_san

Presets: `:hops=1`; `:rn` aggregates with the relational network under
pair weights p_i p_j (model san_rn) instead of the weighted sum.

Measured here with `:legacy` (one question per image, batch 64, Adam 5e-4: the setup these
configs used before the fast recipe became the Sort-of-CLEVR default; 2026-11-21,
2-core AMD EPYC VM, 2 fake XLA CPU devices,
test split; see the README results table, soft vs hard attention):
  5,000 steps, 7.4 min: 61.7% non-relational, 43.7% relational.
"""

from hardattn import base_config


def get_config(arg=None):
  config, args = base_config.sort_of_clevr_config(arg, hops=2, rn=False)
  base_config.use_soft_attention(config, 'san', hops=args.hops, rn=args.rn)
  return config
