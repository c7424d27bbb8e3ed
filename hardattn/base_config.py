"""The fields every config has, with their defaults.

`configs/*.py` start from `base_config()` and change what their experiment
needs; `hardattn.main` locks the result, so `--config.fied=1` (a typo) is an
error naming the key.
"""

import os

import ml_collections
from ml_collections import config_dict


def default_data_dir() -> str:
  """$HARDATTN_DATA_DIR, else TFDS's usual ~/tensorflow_datasets."""
  return os.environ.get('HARDATTN_DATA_DIR', '~/tensorflow_datasets')


def base_config() -> ml_collections.ConfigDict:
  """Sort-of-CLEVR, HAN+RN, its fast recipe; see configs/ for experiments.

  The RN paper's CNN (4 x 24), fusion 256-256 and f 256-256, with the
  training recipe that learns Sort-of-CLEVR fastest on a 2-core CPU (see
  configs/sort_of_clevr_han_rn.py for its curve): 4 questions of each image
  in a batch (the CNN runs once for them), g 4 x 128, edge-padded
  convolutions, no dropout, Adam 2e-3 with warm-up and cosine decay, 160
  questions (40 images) a batch, 5,000 steps. HAN's mechanism is the
  paper's here; `sort_of_clevr_config` adds the bootstrapping departures
  (`bootstrapping`). The other datasets' helpers below set their papers'
  values for these fields (`paper_training`).
  """
  c = ml_collections.ConfigDict()
  c.seed = 0  # parameter init and dropout (fold_in(key, step))

  # Data.
  c.dataset = 'sort_of_clevr'  # a key of hardattn.datasets.DATASETS
  c.data_dir = default_data_dir()  # where prepared datasets live
  c.prepare_if_missing = True  # generate Sort-of-CLEVR if not prepared
  c.sort_of_clevr = ml_collections.ConfigDict(dict(
      num_train_images=9800, num_test_images=200, seed=0))
  c.data_seed = 0  # shuffling
  c.data_threads = 2  # grain read threads per process
  # grain worker processes per process making train batches (0: none). Use
  # them where Python work (record decoding, augmentation) is the limit, e.g.
  # CLEVR on an accelerator host: about 1,500 examples/s per worker.
  c.data_workers = 0
  c.batch_size = 160  # global, split over devices and processes
  # Train questions per image in a batch, encoded once for all of them
  # (Sort-of-CLEVR, spatial): the batch holds batch_size questions on
  # batch_size / questions_per_image images. 1: one image per question.
  c.questions_per_image = 4
  c.eval_batch_size = 200  # global; the last batch is padded and masked
  # Devices as a (data, model) mesh; -1: the rest. `model` > 1 splits the
  # relational network's pairs over that many devices holding the same
  # examples: less memory per device where the batch cannot be split more.
  c.mesh = ml_collections.ConfigDict(dict(data=-1, model=1))

  # Model: `model_name` picks the constructor from hardattn.models.MODELS,
  # `model` holds its fields (see hardattn/models/vqa.py for each).
  c.model_name = 'han_rn'
  c.model = ml_collections.ConfigDict(dict(
      cnn_features=(24, 24, 24, 24),
      cnn_padding='edge',  # 'zeros' | 'edge': the RN CNN's border
      fusion_features=(256, 256),
      fusion_film=False,  # the question scales the fusion (FiLM)
      fraction=0.25,
      adahan_threshold=1.0,
      adahan_max_cells=config_dict.placeholder(int),
      adahan_squared_norm=False,
      g_features=(128, 128, 128, 128),
      rn_factorized=True,
      rn_pool='sum',  # 'sum' over kept pairs (paper) | 'mean' | 'max'
      rn_sum_skip=False,  # the head also reads the kept cells' sum
      rn_sum_cells='kept',  # which cells that sum reads: 'kept' | 'all'
      rn_gate=False,  # the RN's output scaled by a scalar from zero
      rn_detach=False,  # no gradient from the RN into the kept cells
      rn_head_zero=False,  # the head reads the RN through weights from zero
      rn_pair_geometry=False,  # each pair's (dx, dy, distance) into g
      han_separation=0,  # kept cells this many cells apart (0: top-k)
      han_explore=0.0,  # train-time Gumbel top-k temperature (0: top-k)
      f_features=(256, 256),
      dropout_rate=0.0,
      head_zero_init=False,  # answer layer's kernel starts at zero
      coords='fusion',  # 'fusion' (paper) | 'kept': see models/vqa.py
      dtype='float32',  # 'float32' | 'bfloat16' computation
  ))

  # Optimization.
  c.loss = 'softmax'  # 'softmax' | 'sigmoid' (BCE on VQA's soft scores)
  c.optimizer = ml_collections.ConfigDict(dict(
      learning_rate=2e-3, schedule='warmup_cosine', warmup_steps=200,
      decay_fraction=0.2,  # warmup_stable_cosine: the decay's share
      grad_clip_norm=0.0, weight_decay=0.0))
  c.num_train_steps = 5_000
  # HAN: ((until_step, fraction), ...) keeps `fraction` of the cells while
  # the step is below until_step, then model.fraction; 1.0 is every cell
  # (AdaHAN too). Decision, issue 17: a start on all cells lets the norms
  # learn what to keep; () is the paper's fixed fraction.
  c.fraction_schedule = ()

  # Logging, evaluation, checkpoints.
  c.log_every_steps = 100
  c.eval_every_steps = 1_000
  c.num_eval_batches = -1  # -1: the whole eval split
  # Before each eval (and the checkpoint saved with it), batch norm's
  # statistics are recomputed at the current weights over this many train
  # images (train.recompute_batch_stats); 0 keeps the running averages,
  # which small batches make noisy enough to wreck an eval (issue 17).
  c.bn_stats_images = 1024
  c.checkpoint_every_steps = 1_000
  c.max_checkpoints_to_keep = 3
  c.num_pictures = 8  # eval examples in each attention picture (0: none)
  return c


def paper_training(c: ml_collections.ConfigDict) -> None:
  """The RN paper's training setup, in place of base_config's recipe.

  One image per question, zero-padded convolutions, g 4 x 256, dropout 0.5
  before the answer layer, batch 64, a constant learning rate (the
  caller sets its value).
  """
  c.questions_per_image = 1
  c.batch_size = 64
  c.model.cnn_padding = 'zeros'
  c.model.g_features = (256, 256, 256, 256)
  c.model.dropout_rate = 0.5
  c.optimizer.schedule = 'constant'
  c.optimizer.warmup_steps = 0


def bootstrapping(c: ml_collections.ConfigDict,
                  all_cells_steps: int = 1000) -> None:
  """The departures from the paper that make HAN's selection bootstrap.

  Decisions (issue 17, docs/bootstrapping.md, measured there against the
  paper's mechanism): HAN keeps every cell for the first `all_cells_steps`
  steps (`fraction_schedule`), so every cell's norm learns; the head also
  reads the kept cells' sum beside the RN (`model.rn_sum_skip`), whose
  gradients make relevant cells' norms grow, and the RN trains the sum path
  alone in that first phase; the RN averages its pairs (`model.rn_pool`),
  so its scale does not jump when the fraction drops.
  """
  c.fraction_schedule = ((all_cells_steps, 1.0),)
  c.model.rn_sum_skip = True
  c.model.rn_pool = 'mean'


def live_rn(c: ml_collections.ConfigDict) -> None:
  """HAN+RN whose RN answers from the first step (Sort-of-CLEVR's default
  since 2026-12-01).

  Decisions (issue 17, docs/bootstrapping.md): under `bootstrapping` the RN
  was dead by step 5,000 (zeroing it changed nothing) and no question was
  answered from distances. Here the RN trains on the kept cells from step 0
  (no all-cells phase: the paper's fixed fraction), beside the kept cells'
  sum, and sums its pairs (the RN paper's pool); g also reads each pair's
  (dx, dy, distance) (`model.rn_pair_geometry`). On 5x5 cells it scored
  77.6 (72.6..87.2) against the `bootstrapping` recipe's 69.0 (67.2..70.2),
  3 seeds, 5,000 steps, and kept the asked object 77.7% of the time. A max
  over the pairs (`model.rn_pool='max'`) scored 80.6 (74.3..85.9), within
  the seeds' spread, and kept the asked object 64.9% (63.5..67.6).
  """
  c.fraction_schedule = ()
  c.model.rn_head_zero = False
  c.model.rn_pool = 'sum'
  c.model.rn_pair_geometry = True


def stable_rate(c: ml_collections.ConfigDict) -> None:
  """8,000 steps at the full learning rate until the last fifth, then a
  cosine to zero (`optimizer.schedule='warmup_stable_cosine'`): `make
  demo`'s schedule since 2026-12-01 (evening; 8,000 steps, not 6,000,
  since the CNN's faster patches of 2026-12-01, night).

  Decision (issue 17, docs/bootstrapping.md): the live RN learns to read
  the asked object late and at once (shape, position and count together),
  and under a cosine over all 5,000 steps two seeds of three never did, the
  rate being near zero by then; with a cosine over 10,000 steps seed 0 did
  by step 5,000. With this schedule all three seeds did: 89.3 (88.2..90.0)
  overall and 98.7 (98.4..99.2) non-relational against the 5,000-step
  cosine's 77.6 (72.6..87.2) and 78.7, in 12.5-13.2 min of training.
  The faster CNN made room for 8,000 steps in the same 15 minutes: the
  relations keep rising at the full rate once the asked object is read
  (seed 0: 88.6 at step 6,000, 91.2 and relational 83.2 at step 8,000, in
  14.2 min), but a seed that has not read by then does not (seed 1: 63.1
  and 64.0).
  """
  c.num_train_steps = 8_000
  c.optimizer.schedule = 'warmup_stable_cosine'


# Sort-of-CLEVR's grids and HAN+RN's default fraction on each: 6 cells, one
# per object. The 75 px image after four stride-2 convolutions (the RN
# paper's CNN) is 5x5 cells of 15 px, after three 10x10 of 7.5 px.
SIX_CELLS = {5: 0.25, 10: 0.06}
SORT_OF_CLEVR_GRIDS = tuple(SIX_CELLS)


def fine_grid(c: ml_collections.ConfigDict) -> None:
  """Sort-of-CLEVR on 10x10 cells: the CNN without its last convolution.

  Decisions (issue 17, docs/bootstrapping.md): on 5x5 cells even the
  all-cells sum stays near the question prior in 5,000 steps; on 10x10 it
  learns shape, count and position. An object then spans about 5 cells,
  so a few kept cells drop its edges: the sum skip reads every cell
  (`model.rn_sum_cells='all'`, an O(cells) sum), the RN's O(k^2) pairs the
  kept ones, and the RN enters the head through weights that start at zero
  (`model.rn_head_zero`), as joining at random weights slowed the sum path.
  """
  c.model.cnn_features = tuple(c.model.cnn_features)[:-1]
  if c.model.get('rn_sum_skip', False):
    c.model.rn_sum_cells = 'all'
    c.model.rn_head_zero = True


def sort_of_clevr_config(arg: str | None, **extra_args
                         ) -> tuple[ml_collections.ConfigDict,
                                    ml_collections.ConfigDict]:
  """`base_config()` for configs/sort_of_clevr_*.py, with its presets.

  By default the fast recipe with the bootstrapping departures
  (`bootstrapping`). `:faithful` is the same recipe with the paper's HAN:
  the fraction from the first step, the RN's sum alone.
  `:paper` is the RN paper's Sort-of-CLEVR model and training (Santoro et
  al. 2017): CNN 32-64-128-256, g 4 x 2000, f 2000-1000-500-100, Adam 1e-4,
  batch 64 of one question per image (dropout 0.5 before the answer layer
  and zero padding, as the public PyTorch RN). Its relational module is
  250x the default's: a CPU runs it at a few questions a second
  (docs/sort_of_clevr.md).
  `:legacy` is the setup of this repo's Sort-of-CLEVR results before the
  fast recipe (which its docs call `:paper` before 2026-11-30): the
  default sizes (g 4 x 256) with batch 64 of one question per image,
  dropout 0.5, zero padding and a constant Adam 5e-4.
  `:paper` and `:legacy` keep the paper's HAN too.
  `:grid=10` drops the CNN's last convolution for 10x10 cells (`fine_grid`);
  `:grid=5`, 5x5 cells.

  Args:
    arg: the config argument, e.g. 'legacy' or 'frac=0.5,faithful'.
    **extra_args: more preset keys the config takes, with defaults.

  Returns:
    (config, parsed preset arguments).
  """
  args = parse_arg(arg, paper=False, legacy=False, faithful=False,
                   grid=5, **extra_args)
  if args.paper + args.legacy + args.faithful > 1:
    raise ValueError('Config presets :paper, :legacy and :faithful exclude '
                     'each other.')
  if args.grid not in SORT_OF_CLEVR_GRIDS:
    raise ValueError(f'Config preset :grid must be one of '
                     f'{SORT_OF_CLEVR_GRIDS}, got {args.grid}.')
  c = base_config()
  if args.paper or args.legacy:
    paper_training(c)
    c.optimizer.learning_rate = 5e-4
  if args.paper:
    c.model.cnn_features = (32, 64, 128, 256)
    c.model.g_features = (2000, 2000, 2000, 2000)
    c.model.f_features = (2000, 1000, 500, 100)
    c.optimizer.learning_rate = 1e-4
  if not (args.paper or args.legacy or args.faithful):
    bootstrapping(c)
  if args.grid == 10:
    fine_grid(c)
  return c, args


# CLEVR model sizes: the RN paper's, and the '+' / '++' presets of the HAN
# paper, whose sizes the paper does not give (decision, see
# configs/clevr_han_rn.py): '+' has a bigger CNN and LSTM, '++' also a higher
# resolution, chosen so that HAN+RN++ costs no more FLOPs per example than
# the plain RN at 128x128.
CLEVR_SIZES = {
    'base': dict(image_size=128, cnn_features=(24, 24, 24, 24),
                 word_embed_dim=32, lstm_dim=128),
    'plus': dict(image_size=128, cnn_features=(32, 64, 128, 256),
                 word_embed_dim=64, lstm_dim=256),
    'plusplus': dict(image_size=224, cnn_features=(32, 64, 128, 256),
                     word_embed_dim=64, lstm_dim=256),
}


def clevr_config(model_name: str, arg: str | None, **extra_args
                 ) -> tuple[ml_collections.ConfigDict,
                            ml_collections.ConfigDict]:
  """The CLEVR settings shared by configs/clevr_*.py.

  The RN paper's CLEVR-from-pixels setup: 128x128 images with pad/crop/rotate
  augmentation, a 4-layer 24-wide CNN (8x8 cells), 32-d word embeddings and
  a 128-unit LSTM, g 4x256, f 256-256 with dropout 0.5, Adam 2.5e-4, batch
  64, 1,400,000 steps with an eval of all 149,991 val questions every
  25,000. Presets (`:plus`, `:plusplus`, `:frac=0.5`, `:per_image=4`,
  `:cpu`) are parsed here. `:per_image=G` lets up to G questions of an
  image share it in a batch (the CNN runs on batch_size / G images).
  `:cpu` is a short run to see the whole path work on a CPU, not to
  learn CLEVR: 1,000 steps, an eval of 2,048 val questions (4 batches of
  512) every 500 and at the end, checkpoints every 500.

  Args:
    model_name: a key of hardattn.models.MODELS.
    arg: the config argument, e.g. 'plusplus' or 'plus,frac=0.5'.
    **extra_args: more preset keys the config takes, with defaults.

  Returns:
    (config, parsed preset arguments).
  """
  args = parse_arg(arg, plus=False, plusplus=False, frac=0.25, cpu=False,
                   per_image=1, **extra_args)
  size = 'plusplus' if args.plusplus else 'plus' if args.plus else 'base'
  sizes = CLEVR_SIZES[size]
  c = base_config()
  paper_training(c)
  del c.sort_of_clevr
  del c.prepare_if_missing
  c.dataset = 'clevr'
  c.clevr = ml_collections.ConfigDict(dict(
      manual_dir=config_dict.placeholder(str),  # the release: dir or zip
      download=False,  # fetch the 18 GB release if manual_dir has none
      image_size=sizes['image_size'],  # stored and input resolution
      max_question_length=48,  # tokens per question in a batch
      long_questions='truncate',  # 'truncate' (logged) | 'error'
      # 'arrays': train batches gathered from arrays built once from the
      # records (hardattn.datasets.arrays); 'records': one record a question.
      input='arrays',
      augment=True,  # pad / random crop / rotation on train images
      pad=4,  # pixels per side: 128 -> 136 -> random 128 crop
      max_rotation=0.05,  # radians
      interpolation='nearest',  # of the augmentation: 'nearest' | 'bilinear'
      augment_on='device',  # in the jitted train step | 'host' (PIL)
      eval_split='val',  # test has no answers; export it with hardattn.export
  ))
  c.data_threads = 4
  c.model_name = model_name
  c.model.cnn_features = sizes['cnn_features']
  c.model.word_embed_dim = sizes['word_embed_dim']
  c.model.lstm_dim = sizes['lstm_dim']
  c.model.fraction = args.frac
  c.optimizer.learning_rate = 2.5e-4
  c.batch_size = 64
  # Up to this many questions share an image (and its CNN pass) in a train
  # batch of batch_size questions (the paper: 1).
  c.questions_per_image = args.per_image
  c.eval_batch_size = 512
  c.num_train_steps = 1_400_000
  c.log_every_steps = 500
  c.eval_every_steps = 25_000
  c.checkpoint_every_steps = 5_000
  if args.cpu:
    c.num_train_steps = 1_000
    c.log_every_steps = 50
    c.eval_every_steps = 500
    c.num_eval_batches = 4
    c.checkpoint_every_steps = 500
  return c, args


def spatial_config(model_name: str, arg: str | None, **extra_args
                   ) -> tuple[ml_collections.ConfigDict,
                              ml_collections.ConfigDict]:
  """The spatial-reasoning set's settings shared by configs/spatial_*.py.

  64x64 images through a 3-layer 24-wide CNN (8x8 cells, 8 px each, so an
  8x8 object covers 1 to 4 cells), 32-d word embeddings and a 128-unit LSTM
  for the question, the Sort-of-CLEVR sizes otherwise, and one training
  budget (4,000 steps of 64) for every model so their accuracies compare.

  Args:
    model_name: a key of hardattn.models.MODELS.
    arg: the config argument, e.g. 'frac=0.5' or 'hops=1'.
    **extra_args: the preset keys the config takes, with defaults.

  Returns:
    (config, parsed preset arguments).
  """
  args = parse_arg(arg, **extra_args)
  c = base_config()
  paper_training(c)
  del c.sort_of_clevr
  c.dataset = 'spatial'
  c.spatial = ml_collections.ConfigDict(dict(
      num_train_images=10_000, num_test_images=1_000, seed=0))
  c.model_name = model_name
  c.model.cnn_features = (24, 24, 24)
  c.model.word_embed_dim = 32
  c.model.lstm_dim = 128
  c.optimizer.learning_rate = 5e-4
  c.num_train_steps = 4_000
  return c, args


# VQA sizes (decision: the paper gives none for VQA-CP): 300-d word
# embeddings and a 1024-unit LSTM, fusion 1x1 convs 1024 -> 512 on the
# 2048 + 2 channels of each ResNet cell, the RN's g 4x256, one 1024 hidden
# layer before the 3,000 answers.
VQA_FRACTIONS = (0.16, 0.25, 0.33, 0.5)  # the paper's Table 1 columns


def vqa_config(model_name: str, arg: str | None, **extra_args
               ) -> tuple[ml_collections.ConfigDict,
                          ml_collections.ConfigDict]:
  """The VQA-CP v2 (and VQA v2) settings shared by configs/vqacp_*.py.

  ResNet-101 grids at 448x448 (14x14x2048, extracted once), the question
  through word embeddings and an LSTM, cells fused with it by 1x1 convs,
  3,000 answers with soft scores and softmax cross-entropy, Adam 3e-4,
  batch 128, about 15 epochs of VQA-CP v2's train split. Presets:
  `:frac=0.25` (HAN's fraction of cells), `:version=vqa_v2` (VQA v2:
  train on train, evaluate on val), `:pixels` (the ResNet inside the model,
  reading the JPEGs; `:pixels,finetune` also trains it), `:per_image=G`
  (up to G questions share an image in a train batch).

  Args:
    model_name: a key of hardattn.models.MODELS.
    arg: the config argument, e.g. 'frac=0.16' or 'version=vqa_v2'.
    **extra_args: more preset keys the config takes, with defaults.

  Returns:
    (config, parsed preset arguments).
  """
  args = parse_arg(arg, frac=0.25, version='vqacp_v2', pixels=False,
                   finetune=False, per_image=1, **extra_args)
  c = base_config()
  paper_training(c)
  del c.sort_of_clevr
  del c.prepare_if_missing
  c.dataset = 'vqa'
  backbone = config_dict.FieldReference('resnet101')
  image_size = config_dict.FieldReference(448)
  stages = config_dict.FieldReference(4)
  weights = config_dict.FieldReference(None, field_type=str)
  c.vqa = ml_collections.ConfigDict(dict(
      version=args.version,  # 'vqacp_v2' | 'vqa_v2' | 'vqa_v1'
      manual_dir=config_dict.placeholder(str),  # the JSON files
      coco_dir=config_dict.placeholder(str),  # train2014/, val2014/
      image_input='pixels' if args.pixels else 'features',  # | 'pixels'
      backbone=backbone,  # a key of resnet.RESNET_PRESETS
      image_size=image_size,  # backbone input, square
      backbone_stages=stages,  # 4: stride 32 (14x14 at 448)
      backbone_weights=weights,  # converted .msgpack (resnet_weights)
      extract_batch_size=32,  # images per backbone call when extracting
      num_answers=3000,  # answer vocabulary: most frequent train answers
      max_question_length=14,  # tokens per question in a batch
      long_questions='truncate',  # 'truncate' (logged) | 'error'
      heldout_fraction=0.05,  # of train questions, the 'heldout' split
      heldout_seed=0,
      eval_split='test' if args.version == 'vqacp_v2' else 'val',
      # 'arrays': train batches gathered from question arrays built once
      # (hardattn.datasets.vqa); 'records': one record parsed a question.
      input='arrays',
      image_arrays=False,  # copy the train grids into one array (99 GB)
  ))
  c.data_threads = 4
  c.model_name = model_name
  m = c.model
  del m.cnn_features
  m.image_encoder = 'resnet' if args.pixels else 'features'
  m.backbone = backbone
  m.backbone_stages = stages
  m.backbone_trainable = args.finetune
  m.backbone_weights = weights
  m.feature_l2_normalize = True
  m.word_embed_dim = 300
  m.lstm_dim = 1024
  m.fusion_features = (1024, 512)
  m.fraction = args.frac
  m.g_features = (256, 256, 256, 256)
  m.f_features = (1024,)
  m.dropout_rate = 0.5
  c.loss = 'softmax'
  c.optimizer.learning_rate = 3e-4
  c.optimizer.grad_clip_norm = 5.0
  c.batch_size = 128
  # Up to this many questions share an image (its grid read and encoding)
  # in a train batch (vqa.input='arrays'); 1: one image per question.
  c.questions_per_image = args.per_image
  c.eval_batch_size = 512
  c.num_train_steps = 50_000
  c.log_every_steps = 200
  c.eval_every_steps = 5_000
  c.checkpoint_every_steps = 2_000
  return c, args


# SMem-VQA's setting (Xu & Saenko 2016): GoogLeNet's inception_5b grid at
# 224x224 (7 x 7 x 1024, PAPERS.md section 5; the input size is our
# decision), for SMem's cells and, average-pooled, iBOWIMG's image feature.
SMEM_PAPER_MODELS = ('smem', 'ibowimg')


def smem_paper_model(config: ml_collections.ConfigDict, model_name: str,
                     section: ml_collections.ConfigDict, *,
                     hops: int = 2) -> None:
  """Sets config.model to SMem (`hops` 1 or 2) or iBOWIMG on the grids that
  `section` (config.daquar or config.vqa) extracts: GoogLeNet at 224.

  Decisions (sizes the papers' text here does not give): SMem's word and
  evidence size N = 512 and iBOWIMG's word vectors 1024, both with the
  papers' single softmax layer (f_features=()) and dropout 0.5 before it;
  SMem's cells unit-normed (as the VQA models'), iBOWIMG's pooled feature
  as GoogLeNet gives it.
  """
  if model_name not in SMEM_PAPER_MODELS:
    raise ValueError(f'model_name must be one of {SMEM_PAPER_MODELS}, got '
                     f'{model_name!r}')
  section.backbone = 'googlenet'
  section.image_size = 224
  section.backbone_stages = 4
  common = dict(image_encoder='features', f_features=(), dropout_rate=0.5,
                head_zero_init=False, dtype='float32')
  if model_name == 'smem':
    model = dict(common, hops=hops, attention_dim=512, smem_scale_hop2=True,
                 feature_l2_normalize=True)
  else:
    model = dict(common, word_embed_dim=1024, feature_l2_normalize=False)
  config.model_name = model_name
  config.model = ml_collections.ConfigDict(model)


def daquar_config(model_name: str, arg: str | None, **extra_args
                  ) -> tuple[ml_collections.ConfigDict,
                             ml_collections.ConfigDict]:
  """DAQUAR (configs/daquar_*.py): SMem-VQA's Table 1 setting.

  GoogLeNet inception_5b grids at 224x224 of the NYU-Depth images
  (extracted once), every train answer a class, softmax cross-entropy,
  Adam 1e-3 (decision), batch 64, 6,000 steps (decision: about 60 epochs of
  the reduced set's train questions), an eval of the test split every
  1,000. Presets: `:version=full` (the 894-class set; default `reduced`),
  `:hops=1|2` (SMem).

  Args:
    model_name: 'smem' | 'ibowimg'.
    arg: the config argument, e.g. 'hops=1' or 'version=full'.
    **extra_args: more preset keys, with defaults.

  Returns:
    (config, parsed preset arguments).
  """
  args = parse_arg(arg, version='reduced', hops=2, **extra_args)
  c = base_config()
  del c.sort_of_clevr
  del c.prepare_if_missing
  c.dataset = 'daquar'
  c.questions_per_image = 1
  c.daquar = ml_collections.ConfigDict(dict(
      version=args.version,  # 'reduced' (37 classes) | 'full' (894)
      manual_dir=config_dict.placeholder(str),  # the qa.*.raw.*.txt files
      image_dir=config_dict.placeholder(str),  # nyu_depth_images/; manual_dir
      backbone='googlenet',  # a backbones.presets() name
      image_size=224,  # backbone input, square
      backbone_stages=4,  # 4: inception_5b (7x7 at 224)
      backbone_weights=config_dict.placeholder(str),  # converted .msgpack
      extract_batch_size=32,  # images per backbone call when extracting
      num_answers=0,  # answer classes: the most frequent train answers; 0 all
      max_question_length=32,  # tokens per question in a batch
      long_questions='truncate',  # 'truncate' (logged) | 'error'
      heldout_fraction=0.1,  # of train questions, the 'heldout' split
      heldout_seed=0,
      eval_split='test',  # 'test' | 'heldout'
  ))
  smem_paper_model(c, model_name, c.daquar, hops=args.hops)
  c.loss = 'softmax'
  c.optimizer.learning_rate = 1e-3
  c.optimizer.schedule = 'constant'
  c.optimizer.warmup_steps = 0
  c.batch_size = 64
  c.eval_batch_size = 256
  c.num_train_steps = 6_000
  c.log_every_steps = 100
  c.eval_every_steps = 1_000
  c.checkpoint_every_steps = 1_000
  c.bn_stats_images = 0  # no batch norm outside the frozen backbone
  return c, args


def vqa1_config(model_name: str, arg: str | None
                ) -> tuple[ml_collections.ConfigDict,
                           ml_collections.ConfigDict]:
  """VQA v1 (configs/vqa1_*.py): SMem-VQA's Table 2 setting.

  `vqa_config(version=vqa_v1)` (train on train, evaluate on val; the
  answers of test-dev and test-standard go to the evaluation server with
  `hardattn.export --split=test_dev|test`) with GoogLeNet inception_5b grids
  at 224x224 of the COCO images and SMem (`:hops=1|2`) or iBOWIMG.
  """
  args = parse_arg(arg, hops=2)
  c, _ = vqa_config(model_name, 'version=vqa_v1')
  smem_paper_model(c, model_name, c.vqa, hops=args.hops)
  c.bn_stats_images = 0  # no batch norm outside the frozen backbone
  return c, args


def remove_attention_fields(model: ml_collections.ConfigDict) -> None:
  """Drops fields that models without attention or RN (CNN+MLP) don't take."""
  for key in ('fusion_features', 'fusion_film', 'fraction',
              'adahan_threshold', 'adahan_max_cells', 'adahan_squared_norm',
              'g_features', 'rn_factorized', 'rn_pool', 'rn_sum_skip',
              'rn_sum_cells', 'rn_gate', 'rn_detach', 'rn_head_zero',
              'rn_pair_geometry', 'han_separation', 'han_explore', 'coords'):
    del model[key]


def use_soft_attention(config: ml_collections.ConfigDict, attention: str, *,
                       hops: int, rn: bool = False) -> None:
  """Turns a config's model into SAN or SMem (see vqa.SoftAttentionModel).

  Args:
    config: a config from `base_config()` (or built on it), changed in place.
    attention: 'san' | 'smem'.
    hops: attention hops (SAN 1 or 2 or more; SMem 1 or 2).
    rn: aggregate with the relational network under soft pair weights
      (model 'san_rn' / 'smem_rn') instead of the hops' weighted sum.
  """
  if attention not in ('san', 'smem'):
    raise ValueError(f"attention must be 'san' or 'smem', got {attention!r}")
  model = config.model
  for key in ('fraction', 'adahan_threshold', 'adahan_max_cells',
              'adahan_squared_norm', 'coords', 'fusion_film'):
    del model[key]
  if attention == 'smem':  # SMem reads raw cells with its own word vectors.
    for key in ('fusion_features', 'word_embed_dim', 'lstm_dim'):
      if key in model:
        del model[key]
    model.smem_scale_hop2 = True  # hop 2 scores / sqrt(N) (decision)
  if not rn:
    del model['g_features']
    del model['rn_factorized']
  # The soft models' RN sums, with no skip (see soft_attention).
  for key in ('rn_pool', 'rn_sum_skip', 'rn_sum_cells', 'rn_gate',
              'rn_detach', 'rn_head_zero', 'rn_pair_geometry',
              'han_separation', 'han_explore'):
    del model[key]
  config.model_name = attention + ('_rn' if rn else '')
  model.hops = hops  # attention hops
  model.attention_dim = 256  # SAN: width of h; SMem: word/evidence size


def parse_arg(arg: str | None, **defaults) -> ml_collections.ConfigDict:
  """Parses a config argument 'key=value,key=value' (big_vision style).

  `--config=configs/sort_of_clevr_han_rn.py:frac=0.5` passes 'frac=0.5'.
  Values take the type of their default; unknown keys are errors; a bare
  key with a boolean default ('plus') means key=true.

  Args:
    arg: the text after ':' in --config, or None.
    **defaults: the allowed keys and their default values.

  Returns:
    A ConfigDict of the defaults updated with `arg`.
  """
  out = ml_collections.ConfigDict(defaults)
  for item in filter(None, (arg or '').split(',')):
    key, sep, value = item.partition('=')
    if not sep and isinstance(defaults.get(key), bool):
      sep, value = '=', 'true'  # ':plus' is 'plus=true'
    if not sep or key not in defaults:
      raise ValueError(f'Config argument {item!r}: expected key=value with '
                       f'key in {sorted(defaults)}.')
    default = defaults[key]
    if isinstance(default, bool):
      out[key] = value.lower() in ('1', 'true', 'yes')
    else:
      out[key] = type(default)(value)
  return out
