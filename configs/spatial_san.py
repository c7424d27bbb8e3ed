r"""SAN soft attention on the spatial-reasoning set: HAN's backbone, soft hops.

The same CNN, LSTM, question fusion and answer MLP as spatial_han_sum;
Stacked Attention hops (Yang et al. 2016; two hops, their best) weigh every
fused cell instead of keeping the top-norm cells.

  python -m hardattn.main --config=configs/spatial_san.py \
      --workdir=workdirs/spatial_san

Presets: `:hops=1`; `:rn` aggregates with the relational network under
pair weights p_i p_j (model san_rn).

Measured here (2026-11-21, 2-core AMD EPYC VM, 2 fake XLA CPU devices,
test split; see the README results table, soft vs hard attention):
  4,000 steps, 11.7 min (CPU shared part of the time): 59.8% absolute,
  58.1% relative.
"""

from hardattn import base_config


def get_config(arg=None):
  config, args = base_config.spatial_config('san', arg, hops=2, rn=False)
  base_config.use_soft_attention(config, 'san', hops=args.hops, rn=args.rn)
  return config
