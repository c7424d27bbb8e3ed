r"""AdaHAN + RN on CLEVR: an adaptive number of cells per question.

Target: none; Malinowski et al. 2018 (arXiv:1808.00300) give no CLEVR number
for adaptive hard attention (compare with configs/clevr_han_rn.py). A cell
is kept where softmax(norms) > threshold / cells (at least one); the RN runs
on the `max_cells` highest-norm candidates (default: half the cells, so at
most a quarter of the plain RN's pairs) with the rest masked. The mean
fraction kept is eval/fraction_kept.

  python -m hardattn.main --config=configs/clevr_adahan_rn.py --workdir=DIR

Presets: `:plus`, `:plusplus`, `:max_frac=0.5` (candidate budget as a
fraction of the cells), `:threshold=1.0`, `:cpu` (a short run, see
configs/clevr_han_rn.py).

Not trained here: no CLEVR release on this machine (no internet).
"""

from hardattn import base_config
from hardattn.models import encoders
from hardattn.models import hard_attention


def get_config(arg=None):
  config, args = base_config.clevr_config('adahan_rn', arg, max_frac=0.5,
                                          threshold=1.0)
  size = config.clevr.image_size
  h, w = encoders.grid_shape((size, size), len(config.model.cnn_features))
  config.model.adahan_max_cells = hard_attention.num_kept(h * w,
                                                          args.max_frac)
  config.model.adahan_threshold = args.threshold
  return config
