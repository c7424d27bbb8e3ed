r"""The RN paper's CNN+MLP baseline on Sort-of-CLEVR: no relational module.

The RN paper reports it plateauing around 63% on relational questions while
matching the RN on non-relational ones.

  python -m hardattn.main --config=configs/sort_of_clevr_cnn_mlp.py:legacy \
      --workdir=workdirs/sort_of_clevr_cnn_mlp

Measured here with `:legacy` (one question per image, batch 64, Adam 5e-4: the setup these
configs used before the fast recipe became the Sort-of-CLEVR default; 2026-11-21,
2-core AMD EPYC VM, 2 fake XLA CPU devices,
Sort-of-CLEVR test split; see the README results table):
  5,000 steps, 5 min: 59.0% non-relational, 60.8% relational.
"""

from hardattn import base_config


def get_config(arg=None):
  config, _ = base_config.sort_of_clevr_config(arg)
  config.model_name = 'cnn_mlp'
  base_config.remove_attention_fields(config.model)
  config.model.hidden_features = (256,)
  return config
