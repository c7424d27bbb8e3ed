r"""SMem-VQA (spatial memory network) on Sort-of-CLEVR, one or two hops.

Word-guided attention (Xu & Saenko 2016): each question word is correlated
with every CNN cell, the max over words is softmaxed over cells, and the
attended evidence plus a bag of words answers; the second hop attends with
that result. Sort-of-CLEVR's 11-bit question is three words (colour, kind,
subtype; decision, see encoders.WordVectors). Same CNN and answer MLP as
the HAN configs.

  python -m hardattn.main --config=configs/sort_of_clevr_smem.py:hops=1,legacy \
      --workdir=workdirs/sort_of_clevr_smem1

Presets: `:hops=1` or `:hops=2` (default 2); `:rn` aggregates with the
relational network under pair weights p_i p_j (model smem_rn).

Measured here with `:legacy` (one question per image, batch 64, Adam 5e-4: the setup these
configs used before the fast recipe became the Sort-of-CLEVR default; 2026-11-21,
2-core AMD EPYC VM, 2 fake XLA CPU devices,
test split; see the README results table, soft vs hard attention):
  `:hops=1`, 5,000 steps, 9.0 min: 56.7% non-relational, 43.8% relational.
  `:hops=2`, 5,000 steps, 5.9 min: 60.9% non-relational, 53.9% relational.
"""

from hardattn import base_config


def get_config(arg=None):
  config, args = base_config.sort_of_clevr_config(arg, hops=2, rn=False)
  base_config.use_soft_attention(config, 'smem', hops=args.hops, rn=args.rn)
  return config
