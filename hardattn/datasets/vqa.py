r"""VQA-CP v2 and VQA v2 on COCO: the official JSON files, prepared once.

Input is what users download (see ../shared/PAPERS.md section 4):

  VQA-CP v2 (Agrawal et al. 2018), top-level JSON lists:
    vqacp_v2_{train,test}_questions.json
        [{"image_id", "question", "question_id", "coco_split"}, ...]
    vqacp_v2_{train,test}_annotations.json
        [{"question_id", "image_id", "coco_split", "question_type",
          "answer_type", "multiple_choice_answer",
          "answers": [{"answer", "answer_confidence", "answer_id"}, x10]}, ...]
  VQA v2 (Goyal et al. 2017), JSON objects:
    v2_OpenEnded_mscoco_{train2014,val2014}_questions.json
        {"info", "license", "data_subtype", "questions": [...]}
    v2_mscoco_{train2014,val2014}_annotations.json
        {"info", "license", "data_subtype", "annotations": [...]}
  VQA v1 (Antol et al. 2015), the same objects under other names:
    OpenEnded_mscoco_{train2014,val2014}_questions.json
    mscoco_{train2014,val2014}_annotations.json
  and, for VQA v1 and v2, the evaluation server's questions without
  annotations, read where present: [v2_]OpenEnded_mscoco_test-dev2015_
  questions.json (split 'test_dev') and [v2_]OpenEnded_mscoco_test2015_
  questions.json (split 'test', test-standard's file).
  COCO images: COCO_DIR/{train2014,val2014,test2015}/COCO_{split}_{id:012d}
  .jpg

The JSON files are looked for in `vqa.manual_dir` and its direct
subdirectories (the official zips extract to either). VQA-CP's entries name
their COCO folder (`coco_split`); VQA v2's take it from `data_subtype`.

Prepared (TFDS ArrayRecord, without TensorFlow):

  vqa_questions/{vqacp_v2,vqa_v2}: one record per question, in the file's
    order: question_id, image_id, coco_split (index into COCO_SPLITS),
    question (text), answers (the 10 human answers, a JSON list),
    question_type (index into the config's question types). Metadata: the
    token vocabulary built from train (`clevr.Vocabulary`, the CLEVR text
    pipeline), the train counts of each normalised `multiple_choice_answer`,
    the question types and each split's question-length histogram.
  coco_grids/{backbone}_{size}_s{stages}: one record per COCO image (both
    folders), sorted by image id: the frozen backbone's grid, float16
    [g, g, C] (ResNet-101 at 448x448: 14 x 14 x 2048, 784 KiB), and a small
    RGB thumbnail for attention pictures. Made by running the backbone once
    over the images (`extract_grids`); the weights come from a file the user
    converts (`hardattn.models.resnet_weights`).

Answers. The vocabulary is the `vqa.num_answers` most frequent normalised
train `multiple_choice_answer`s (`vqa_answers.answer_vocabulary`). A
question's training targets are min(#humans / 3, 1) for each vocabulary
answer (`vqa_answers.soft_targets`), and the credit for predicting a
vocabulary answer is the official VQA accuracy
(`vqa_answers.answer_accuracies`), so the accuracy computed inside the
jitted eval step is the official one. Answers are decoded per example from
the stored JSON, so the vocabulary size is a config field that needs no new
preparation.

Question types are named 'ANSWER_TYPE/QUESTION_TYPE' (e.g. 'number/how
many'), with the answer types 'yes_no', 'number' and 'other' as groups, so
reports give overall, yes/no, number and other as the VQA papers do.

Splits. VQA-CP v2 has 'train' and 'test', VQA v1 and v2 'train' and 'val'
(and 'test_dev' and 'test' where their question files are there: no
answers, for `write_results`, the evaluation server's results file). All
also have 'heldout': a seeded `vqa.heldout_fraction` of train questions,
which the train split then leaves out (decision: carved by question, so a
held-out question's image may appear in train with other questions).

Images reach the model in one of two ways (`vqa.image_input`):
  'features': the prepared grids (the usual practice; model
    `image_encoder='features'`),
  'pixels': the JPEGs, decoded and resized to `vqa.image_size` per example
    (model `image_encoder='resnet'`, the backbone inside the model).

Config fields read (besides batch_size, eval_batch_size, data_seed,
data_threads, data_workers, data_dir), all under `vqa.`:
  version: 'vqacp_v2' | 'vqa_v2' | 'vqa_v1'.
  manual_dir: where the JSON files are; coco_dir: where train2014/ and
    val2014/ are (default: manual_dir).
  image_input: 'features' | 'pixels'.
  backbone: a `backbones.presets()` name (ResNet presets; GoogLeNet for
    SMem-VQA's setting, image_input='features' only); image_size: backbone
    input
    (square); backbone_stages: 4 (stride 32) or fewer; backbone_weights: the
    converted weights file (.msgpack), needed to extract grids.
  extract_batch_size: images per backbone call when extracting.
  num_answers: answer vocabulary size; max_question_length: tokens;
  long_questions: 'truncate' | 'error'.
  heldout_fraction, heldout_seed: the carved validation split.
  eval_split: 'test' | 'val' | 'heldout' (not 'test_dev': no answers).
  input: 'arrays' (train batches gathered from question arrays built once
    from the records, images read once per image of a batch; see `Train
    input`) | 'records' (one record read and parsed per question).
  image_arrays: with input='arrays', also copy the train images (grids or
    decoded pixels) into a memory-mapped array once: 99 GB for COCO's
    ResNet-101 14x14 grids, so for a host with the disk to spare.
and questions_per_image (with input='arrays').

Train input. Parsing a question's answers (JSON) and its grid record costs
about 2.5 ms in Python. With input='arrays' the question side is a few
array lookups per batch: its tokens, targets and credit are built into
arrays once (`build_arrays`, in DATA_DIR/vqa_arrays/); each image of a batch
is read once, from its record or from the copy, so with questions_per_image
g > 1 (VQA has about 5 questions an image) a grid read serves up to g
questions and the model encodes it once.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
import collections
import concurrent.futures
import functools
import json
import logging
import os
import re
from typing import Any

import numpy as np
from PIL import Image
import tensorflow_datasets as tfds

from hardattn import errors
from hardattn import files
from hardattn.datasets import arrays as arrays_lib
from hardattn.datasets import clevr
from hardattn.datasets import inputs as inputs_lib
from hardattn.datasets import pipeline
from hardattn.datasets import vqa_answers

NAME = 'vqa'
VERSIONS = ('vqacp_v2', 'vqa_v2', 'vqa_v1')
COCO_SPLITS = ('train2014', 'val2014', 'test2015')
# A file's data_subtype -> the COCO folder of its images (test-dev's
# questions are on test2015 images).
_SUBTYPE_FOLDER = {'test-dev2015': 'test2015'}
HELDOUT = 'heldout'
# Per version: split -> (questions file, annotations file).
FILES = {
    'vqacp_v2': {
        'train': ('vqacp_v2_train_questions.json',
                  'vqacp_v2_train_annotations.json'),
        'test': ('vqacp_v2_test_questions.json',
                 'vqacp_v2_test_annotations.json'),
    },
    'vqa_v2': {
        'train': ('v2_OpenEnded_mscoco_train2014_questions.json',
                  'v2_mscoco_train2014_annotations.json'),
        'val': ('v2_OpenEnded_mscoco_val2014_questions.json',
                'v2_mscoco_val2014_annotations.json'),
    },
    'vqa_v1': {
        'train': ('OpenEnded_mscoco_train2014_questions.json',
                  'mscoco_train2014_annotations.json'),
        'val': ('OpenEnded_mscoco_val2014_questions.json',
                'mscoco_val2014_annotations.json'),
    },
}
# Per version: split -> questions file of the evaluation server's splits
# (no annotations), read where present.
TEST_FILES = {
    'vqa_v2': {'test_dev': 'v2_OpenEnded_mscoco_test-dev2015_questions.json',
               'test': 'v2_OpenEnded_mscoco_test2015_questions.json'},
    'vqa_v1': {'test_dev': 'OpenEnded_mscoco_test-dev2015_questions.json',
               'test': 'OpenEnded_mscoco_test2015_questions.json'},
}
# The server's name of a test split's images, in its results file names.
_SERVER_SUBSETS = {'test_dev': 'test-dev2015', 'test': 'test2015',
                   'val': 'val2014', 'train': 'train2014'}
HOMEPAGES = {
    'vqacp_v2': 'https://www.cc.gatech.edu/grads/a/aagrawal307/vqa-cp/',
    'vqa_v2': 'https://visualqa.org/download.html',
    'vqa_v1': 'https://visualqa.org/vqa_v1_download.html',
}
ANSWER_TYPE_GROUPS = {'yes/no': 'yes_no', 'number': 'number',
                      'other': 'other'}
THUMBNAIL_SIZE = 112
MAX_ANSWERS = 10  # human answers per question in the official data


class CorruptImageError(errors.UserError):
  """A COCO image cannot be decoded."""


def coco_filename(coco_split: str, image_id: int) -> str:
  return f'COCO_{coco_split}_{int(image_id):012d}.jpg'


_COCO_FILE_RE = re.compile(
    r'COCO_(train2014|val2014|test2015)_(\d{12})\.jpg$')


# ---------------------------------------------------------------- Files ----


def find_file(manual_dir: str, name: str) -> str | None:
  """`name` in manual_dir or one of its direct subdirectories."""
  candidate = os.path.join(manual_dir, name)
  if os.path.isfile(candidate):
    return candidate
  for entry in sorted(os.listdir(manual_dir)):
    candidate = os.path.join(manual_dir, entry, name)
    if os.path.isfile(candidate):
      return candidate
  return None


def locate(version: str, manual_dir: str | None) -> dict[str, tuple[str, str]]:
  """The JSON files of every split of `version` under manual_dir.

  Returns:
    {split: (questions path, annotations path)}; the evaluation server's
    splits (TEST_FILES) where their questions file is there, with None for
    annotations.

  Raises:
    errors.DatasetNotFoundError: naming the directory and missing files.
  """
  if version not in FILES:
    raise errors.UserError(f'config.vqa.version must be one of {VERSIONS}, '
                           f'got {version!r}.')
  names = [n for pair in FILES[version].values() for n in pair]
  how = (f'the {version} JSON files ({", ".join(names)}) from '
         f'{HOMEPAGES[version]}')
  if not manual_dir:
    raise errors.DatasetNotFoundError(
        f'No {version} files given: set config.vqa.manual_dir (or pass '
        f'--manual_dir to hardattn.prepare) to a directory with {how}.')
  manual_dir = os.path.expanduser(manual_dir)
  if not os.path.isdir(manual_dir):
    raise errors.DatasetNotFoundError(
        f'{manual_dir} is not a directory; expected one with {how}.')
  found, missing = {}, []
  for split, pair in FILES[version].items():
    paths = [find_file(manual_dir, n) for n in pair]
    missing += [n for n, p in zip(pair, paths) if p is None]
    found[split] = tuple(paths)
  if missing:
    raise errors.DatasetNotFoundError(
        f'{", ".join(missing)} not found in {manual_dir} (or its '
        f'subdirectories); expected {how}.')
  for split, name in TEST_FILES.get(version, {}).items():
    path = find_file(manual_dir, name)
    if path is not None:
      found[split] = (path, None)
  return found


def _load_json(path: str) -> Any:
  try:
    with open(path, 'rb') as f:
      return json.load(f)
  except (OSError, ValueError) as e:
    raise errors.DatasetNotFoundError(
        f'Cannot read {path} as JSON: {e}') from e


def _entries(data: Any, key: str, path: str) -> tuple[list[Any], str | None]:
  """The entry list of a VQA file: a top-level list (VQA-CP) or data[key]
  (VQA v2), and the object's data_subtype (its COCO folder) if any."""
  if isinstance(data, list):
    return data, None
  if isinstance(data, dict) and isinstance(data.get(key), list):
    return data[key], data.get('data_subtype')
  raise errors.DatasetNotFoundError(
      f'{path} is not a VQA {key} file: expected a JSON list (VQA-CP) or an '
      f'object with a "{key}" list (VQA v2).')


def read_split(questions_path: str, annotations_path: str | None
               ) -> list[dict[str, Any]]:
  """Joins a split's questions and annotations by question_id.

  Args:
    questions_path: the questions file.
    annotations_path: its annotations file; None for the evaluation
      server's splits, whose questions then have no answers (answers [],
      answer_type and question_type None).

  Returns:
    One dict per question, in the questions file's order: question_id,
    image_id, coco_split, question, answers (list of str),
    multiple_choice_answer, question_type, answer_type.

  Raises:
    errors.DatasetNotFoundError: naming the file and the bad entry.
  """
  questions, q_subtype = _entries(_load_json(questions_path), 'questions',
                                  questions_path)
  annotations, a_subtype = [], None
  if annotations_path is not None:
    annotations, a_subtype = _entries(_load_json(annotations_path),
                                      'annotations', annotations_path)
  q_subtype = _SUBTYPE_FOLDER.get(q_subtype, q_subtype)
  by_id = {}
  for i, a in enumerate(annotations):
    try:
      by_id[int(a['question_id'])] = a
    except (KeyError, TypeError, ValueError) as e:
      raise errors.DatasetNotFoundError(
          f'{annotations_path}: annotation {i} has no question_id.') from e
  out = []
  for i, q in enumerate(questions):
    try:
      qid = int(q['question_id'])
      a = by_id[qid] if annotations_path is not None else {
          'answers': [], 'multiple_choice_answer': '', 'answer_type': None,
          'question_type': None}
      coco_split = q.get('coco_split') or a.get('coco_split') or q_subtype or (
          a_subtype)
      if coco_split not in COCO_SPLITS:
        raise ValueError(f'coco_split {coco_split!r} is not one of '
                         f'{COCO_SPLITS}')
      answers = [str(x['answer']) for x in a['answers']]
      out.append({
          'question_id': qid,
          'image_id': int(q['image_id']),
          'coco_split': coco_split,
          'question': str(q['question']),
          'answers': answers,
          'multiple_choice_answer': str(a['multiple_choice_answer']),
          'question_type': (None if a['answer_type'] is None else
                            str(a.get('question_type', 'none'))),
          'answer_type': (None if a['answer_type'] is None else
                          str(a['answer_type'])),
      })
    except KeyError as e:
      raise errors.DatasetNotFoundError(
          f'{questions_path}: question {i} ({q.get("question_id")}) has no '
          f'{e} (in it or its annotation in {annotations_path}).') from e
    except (TypeError, ValueError) as e:
      raise errors.DatasetNotFoundError(
          f'{questions_path}: question {i} ({q.get("question_id")}): '
          f'{e}.') from e
  return out


def question_type_name(entry: Mapping[str, Any]) -> str:
  """'number/how_many': answer type group / VQA question type (spaces as
  '_', so the name is also a TensorBoard tag)."""
  group = ANSWER_TYPE_GROUPS.get(entry['answer_type'], 'other')
  return f'{group}/{"_".join(entry["question_type"].split())}'


def _type_order(name: str) -> tuple[int, str]:
  """Groups in the papers' column order (yes/no, number, other)."""
  groups = list(ANSWER_TYPE_GROUPS.values())
  return groups.index(name.split('/')[0]), name


# ---------------------------------------------------------------- TFDS ----


class VqaQuestionsConfig(tfds.core.BuilderConfig):
  """One per VQA version."""

  def __init__(self, *, version_name: str, **kwargs):
    super().__init__(name=version_name, description=version_name, **kwargs)
    self.version_name = version_name


class VqaQuestions(tfds.core.GeneratorBasedBuilder):
  """VQA questions with their 10 human answers, one record per question."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = [VqaQuestionsConfig(version_name=v) for v in VERSIONS]
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      'Put the VQA-CP v2, VQA v2 or VQA v1 JSON files in the manual dir.')

  def _info(self) -> tfds.core.DatasetInfo:
    scalar = functools.partial(tfds.features.Tensor, shape=(), dtype=np.int32)
    return tfds.core.DatasetInfo(
        builder=self,
        description='VQA questions and human answers.',
        features=tfds.features.FeaturesDict({
            'question_id': tfds.features.Tensor(shape=(), dtype=np.int64),
            'image_id': scalar(),
            'coco_split': scalar(),
            'question': tfds.features.Text(),
            'answers': tfds.features.Text(),  # JSON list of strings
            'question_type': scalar(),
        }),
        metadata=tfds.core.MetadataDict(),
        homepage=HOMEPAGES[self.builder_config.version_name],
        disable_shuffling=True)

  def _split_generators(self, dl_manager):
    version = self.builder_config.version_name
    try:
      manual = os.fspath(dl_manager.manual_dir)
    except AssertionError:
      manual = None
    files = locate(version, manual)
    data = {split: read_split(*paths) for split, paths in files.items()}
    texts = {split: [e['question'] for e in entries]
             for split, entries in data.items()}
    vocab = clevr.token_vocabulary(texts)
    types = sorted({question_type_name(e) for entries in data.values()
                    for e in entries if e['answer_type'] is not None},
                   key=_type_order)
    counts = collections.Counter(
        vqa_answers.normalize_answer(e['multiple_choice_answer'])
        for e in data['train'])
    self.info.metadata['images'] = json.dumps({
        split: sorted({e['image_id'] for entries in data.values()
                       for e in entries if e['coco_split'] == split})
        for split in COCO_SPLITS})
    self.info.metadata['vocabulary'] = vocab.to_json()
    self.info.metadata['question_types'] = json.dumps(types)
    self.info.metadata['answer_counts'] = json.dumps(
        dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))
    type_index = {t: i for i, t in enumerate(types)}
    return {split: self._generate_examples(entries, type_index)
            for split, entries in data.items()}

  def _generate_examples(self, entries, type_index):
    for i, e in enumerate(entries):
      yield i, {
          'question_id': e['question_id'],
          'image_id': e['image_id'],
          'coco_split': COCO_SPLITS.index(e['coco_split']),
          'question': e['question'],
          'answers': json.dumps(e['answers']),
          'question_type': (-1 if e['answer_type'] is None
                            else type_index[question_type_name(e)]),
      }


class CocoGridsConfig(tfds.core.BuilderConfig):
  """The backbone, its input size and depth."""

  def __init__(self, *, backbone: str, image_size: int, stages: int,
               **kwargs):
    super().__init__(name=f'{backbone}_{image_size}_s{stages}',
                     description=f'{backbone} stage-{stages} grid at '
                     f'{image_size}x{image_size}.', **kwargs)
    self.backbone = backbone
    self.image_size = image_size
    self.stages = stages


class CocoGrids(tfds.core.GeneratorBasedBuilder):
  """Frozen-backbone grids of COCO 2014 images, one record per image.

  Set `coco_dir`, `forward` (`backbone_forward`), `weights_path` (for the
  metadata) and `batch_size` on the builder before `download_and_prepare`
  (see `prepare_grids`).
  """

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = [CocoGridsConfig(backbone='resnet101', image_size=448,
                                     stages=4)]
  MANUAL_DOWNLOAD_INSTRUCTIONS = 'COCO 2014 train2014/ and val2014/ folders.'

  def _info(self) -> tfds.core.DatasetInfo:
    return grids_info(self, 'https://cocodataset.org/')

  def _split_generators(self, dl_manager):
    del dl_manager
    images = coco_images(self.coco_dir)
    self.info.metadata['image_ids'] = json.dumps(
        {s: ids for s, ids in images.items() if ids})
    self.info.metadata['weights'] = os.path.basename(self.weights_path or '')
    return {s: self._generate_examples(s, ids, self.forward)
            for s, ids in images.items() if ids}

  def _generate_examples(self, coco_split, ids, forward):
    size = self.builder_config.image_size
    paths = [os.path.join(self.coco_dir, coco_split,
                          coco_filename(coco_split, i)) for i in ids]
    for index, (image_id, grid, thumb) in enumerate(extract_grids(
        paths, ids, forward, image_size=size, batch_size=self.batch_size)):
      yield index, {'image_id': image_id, 'grid': grid, 'thumbnail': thumb}


def grids_info(builder: tfds.core.GeneratorBasedBuilder, homepage: str
               ) -> tfds.core.DatasetInfo:
  """The DatasetInfo of a grids builder (COCO's, DAQUAR's), whose config is
  a `CocoGridsConfig`: one record per image, its grid and thumbnail."""
  cfg = builder.builder_config
  grid, channels = grid_spec(cfg.backbone, cfg.image_size, cfg.stages)
  return tfds.core.DatasetInfo(
      builder=builder,
      description=cfg.description,
      features=tfds.features.FeaturesDict({
          'image_id': tfds.features.Tensor(shape=(), dtype=np.int32),
          # Raw bytes: TFDS would otherwise store float16 as a float32
          # list (twice the size, and a slow list -> array conversion).
          'grid': tfds.features.Tensor(
              shape=(grid, grid, channels), dtype=np.float16,
              encoding=tfds.features.Encoding.BYTES),
          'thumbnail': tfds.features.Tensor(
              shape=(THUMBNAIL_SIZE, THUMBNAIL_SIZE, 3), dtype=np.uint8,
              encoding=tfds.features.Encoding.ZLIB),
      }),
      metadata=tfds.core.MetadataDict(),
      homepage=homepage,
      disable_shuffling=True)


def coco_images(coco_dir: str | None) -> dict[str, list[int]]:
  """The image ids in coco_dir/{train2014,val2014}, sorted.

  Raises:
    errors.DatasetNotFoundError: no such folders or no images.
  """
  if not coco_dir:
    raise errors.DatasetNotFoundError(
        'No COCO images given: set config.vqa.coco_dir (or --coco_dir) to '
        'the directory with train2014/ and val2014/ (https://cocodataset.org,'
        ' 2014 train and val images; test2015/ for the test splits).')
  coco_dir = os.path.expanduser(coco_dir)
  out = {}
  for split in COCO_SPLITS:
    folder = os.path.join(coco_dir, split)
    names = os.listdir(folder) if os.path.isdir(folder) else []
    out[split] = sorted(int(m.group(2)) for m in map(_COCO_FILE_RE.match,
                                                     names) if m)
  if not any(out.values()):
    raise errors.DatasetNotFoundError(
        f'No COCO images (COCO_train2014_*.jpg, COCO_val2014_*.jpg) in '
        f'{os.path.join(coco_dir, "train2014")} or '
        f'{os.path.join(coco_dir, "val2014")}: set config.vqa.coco_dir (or '
        '--coco_dir) to the directory holding the COCO 2014 train2014/ and '
        'val2014/ folders.')
  return out


def grid_spec(backbone: str, image_size: int, stages: int) -> tuple[int, int]:
  """(grid side, channels) of the backbone's output at image_size.

  Raises:
    errors.UserError: an unknown backbone.
  """
  from hardattn.models import backbones  # pylint: disable=g-import-not-at-top
  return (backbones.grid_shape(backbone, (image_size, image_size), stages)[0],
          backbones.out_features(backbone, stages))


def load_image(path: str, size: int) -> np.ndarray:
  """An RGB image file resized to [size, size, 3] uint8 (bilinear).

  Raises:
    CorruptImageError: naming the file.
  """
  try:
    with Image.open(path) as img:
      img = img.convert('RGB')
      if img.size != (size, size):
        img = img.resize((size, size), Image.BILINEAR)
      return np.asarray(img, dtype=np.uint8)
  except (OSError, SyntaxError, ValueError) as e:
    raise CorruptImageError(f'Cannot decode image {path}: {e}') from e


def thumbnail(image: np.ndarray) -> np.ndarray:
  """uint8 [T, T, 3] (T = THUMBNAIL_SIZE) of a uint8 image, for pictures."""
  return np.asarray(Image.fromarray(image).resize(
      (THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.BILINEAR))


def backbone_forward(backbone: str, stages: int, weights_path: str | None
                     ) -> Callable[[np.ndarray], np.ndarray]:
  """A jitted frozen forward: uint8 [b, S, S, 3] -> float16 [b, g, g, C].

  Args:
    backbone: a `backbones.presets()` name (ResNet or GoogLeNet).
    stages: stages run (4: stride 32).
    weights_path: converted weights (`resnet_weights` msgpack); '' or None
      only where `allow_random` was set by tests: random weights.

  Raises:
    errors.UserError: no weights file, or a mismatched one.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from hardattn.models import backbones  # pylint: disable=g-import-not-at-top
  from hardattn.models import resnet  # pylint: disable=g-import-not-at-top
  model = backbones.build(backbone, stages)
  if weights_path == RANDOM_WEIGHTS:
    variables = random_variables(model)
  elif not weights_path:
    raise errors.UserError(
        'Extracting grids needs backbone weights: set '
        'config.vqa.backbone_weights (or --backbone_weights) to a file made '
        'by `python -m hardattn.models.resnet_weights` from torchvision\'s '
        'resnet101-63fe2227.pth (or googlenet-1378be20.pth with '
        '--preset=googlenet).')
  else:
    from hardattn.models import resnet_weights  # pylint: disable=g-import-not-at-top
    variables = resnet_weights.load_variables(weights_path, backbone,
                                             num_stages=stages)

  @jax.jit
  def forward(images):
    grid = model.apply(variables, resnet.normalize_images(images),
                       train=False)
    return grid.astype(jnp.float16)

  return lambda images: np.asarray(forward(images))


# Tests (and users without weights who want a smoke run) pass this as the
# weights path: a randomly initialised backbone, recorded in the metadata.
RANDOM_WEIGHTS = 'random-init'


def random_variables(model: Any, seed: int = 0) -> dict[str, Any]:
  """Seeded random variables for a frozen backbone, drawn with numpy: He
  normal kernels, batch-norm scale and variance 1, biases and means 0.

  (`model.init` compiles the initialisers of every layer: 14 s for the tiny
  ResNet and 60 s for the tiny GoogLeNet on a 2-core CPU, for weights that
  only stand in for converted ones.)
  """
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  shapes = jax.eval_shape(lambda: model.init(
      jax.random.key(0), jnp.zeros((1, 64, 64, 3), jnp.float32)))
  rng = np.random.default_rng(seed)

  def fill(path, leaf):
    name = getattr(path[-1], 'key', str(path[-1]))
    if name == 'kernel':
      fan_in = int(np.prod(leaf.shape[:-1]))
      return (rng.standard_normal(leaf.shape) *
              np.sqrt(2.0 / fan_in)).astype(np.float32)
    if name in ('scale', 'var'):
      return np.ones(leaf.shape, np.float32)
    return np.zeros(leaf.shape, np.float32)

  return jax.tree_util.tree_map_with_path(fill, shapes)


def extract_grids(paths: Sequence[str], ids: Sequence[int],
                  forward: Callable[[np.ndarray], np.ndarray], *,
                  image_size: int, batch_size: int
                  ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
  """Runs the backbone over image files, a batch at a time.

  JPEG decoding runs in a thread pool (PIL releases the GIL) while the
  previous batch is on the device. The last batch is padded to full size so
  the forward compiles once.

  Yields:
    (image id, grid float16 [g, g, C], thumbnail uint8 [T, T, 3]) per path,
    in order.
  """
  def decode(path):
    image = load_image(path, image_size)
    return image, thumbnail(image)

  workers = max(1, os.cpu_count() or 1)
  starts = range(0, len(paths), batch_size)
  with concurrent.futures.ThreadPoolExecutor(workers) as pool:
    pending = None
    for start in [*starts, None]:
      ahead = None
      if start is not None:
        ahead = (start, list(pool.map(decode,
                                      paths[start:start + batch_size])))
      if pending is not None:
        begin, decoded = pending
        images = np.stack([d[0] for d in decoded])
        n = len(images)
        if n < batch_size:
          images = np.concatenate([images, np.zeros(
              (batch_size - n,) + images.shape[1:], images.dtype)])
        grids = forward(images)[:n]
        for j in range(n):
          yield int(ids[begin + j]), grids[j], decoded[j][1]
      pending = ahead


def builders(data_dir: str, version: str, *, backbone: str = 'resnet101',
             image_size: int = 448, stages: int = 4
             ) -> tuple[VqaQuestions, CocoGrids]:
  """The questions and grids builders under data_dir (maybe unprepared)."""
  if version not in VERSIONS:
    raise errors.UserError(f'config.vqa.version must be one of {VERSIONS}, '
                           f'got {version!r}.')
  return grid_builders(VqaQuestions, CocoGrids, data_dir, version,
                       backbone=backbone, image_size=image_size,
                       stages=stages)


def grid_builders(questions: type[tfds.core.GeneratorBasedBuilder],
                  grids: type[tfds.core.GeneratorBasedBuilder],
                  data_dir: str, version: str, *, backbone: str,
                  image_size: int, stages: int) -> tuple[Any, Any]:
  """The questions builder of `version` and the grids builder of the
  backbone under data_dir (VQA's, DAQUAR's; maybe unprepared).

  The grids config is passed by name where it is the builder's own, so TFDS
  reads the prepared one without a custom-config warning.
  """
  data_dir = os.path.expanduser(data_dir)
  default = grids.BUILDER_CONFIGS[0]
  grids_config = type(default)(backbone=backbone, image_size=image_size,
                               stages=stages)
  if grids_config.name == default.name:
    grids_config = grids_config.name
  with pipeline.no_custom_config_warning():
    return (questions(data_dir=data_dir, config=version,
                      file_format='array_record'),
            grids(data_dir=data_dir, config=grids_config,
                  file_format='array_record'))


def prepare_questions(data_dir: str, version: str, manual_dir: str | None
                      ) -> VqaQuestions:
  """Prepares the questions of `version` from the JSON files if missing."""
  builder, _ = builders(data_dir, version)
  if builder.is_prepared():
    return builder
  locate(version, manual_dir)  # fails early, naming what is missing
  manual = os.path.expanduser(manual_dir)
  tfds.disable_progress_bar()
  logging.info('Preparing %s into %s', builder.name, builder.data_dir)
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=manual),
      file_format='array_record')
  return builders(data_dir, version)[0]


def prepare_grids(data_dir: str, coco_dir: str | None, weights_path: str | None,
                  *, backbone: str = 'resnet101', image_size: int = 448,
                  stages: int = 4, batch_size: int = 32) -> CocoGrids:
  """Extracts the backbone grids of every COCO image if missing.

  Args:
    data_dir: root of prepared datasets.
    coco_dir: holds train2014/ and val2014/.
    weights_path: converted backbone weights (see `backbone_forward`).
    backbone, image_size, stages: which grids.
    batch_size: images per backbone call.

  Returns:
    The prepared builder.
  """
  _, builder = builders(data_dir, VERSIONS[0], backbone=backbone,
                        image_size=image_size, stages=stages)
  if builder.is_prepared():
    return builder
  coco_images(coco_dir)  # fails early, naming the folders
  # Also before TFDS starts: a missing or mismatched weights file.
  forward = backbone_forward(backbone, stages, weights_path)
  builder.coco_dir = os.path.expanduser(coco_dir)
  extract_into(builder, forward, weights_path, batch_size)
  return builders(data_dir, VERSIONS[0], backbone=backbone,
                  image_size=image_size, stages=stages)[1]


def extract_into(builder: tfds.core.GeneratorBasedBuilder,
                 forward: Callable[[np.ndarray], np.ndarray],
                 weights_path: str | None, batch_size: int) -> None:
  """Prepares a grids builder (COCO's, DAQUAR's) whose image locations the
  caller has set: its _split_generators reads `forward`, `weights_path`
  (for the metadata) and `batch_size` off the builder."""
  builder.forward = forward
  builder.weights_path = weights_path
  builder.batch_size = batch_size
  tfds.disable_progress_bar()
  logging.info('Extracting %s grids into %s', builder.builder_config.name,
               builder.data_dir)
  builder.download_and_prepare(file_format='array_record')


def prepare_command(data_dir: str, version: str, what: str = 'all') -> str:
  command = (f'python -m hardattn.prepare --dataset={version} '
             f'--data_dir={data_dir}')
  if what in ('all', 'questions'):
    command += ' --manual_dir=PATH/TO/VQA_JSON'
  if what in ('all', 'grids'):
    command += (' --coco_dir=PATH/TO/COCO --backbone_weights='
                'resnet101.msgpack')
  return command


# ------------------------------------------------------------- Pipeline ----


class Metadata:
  """What the prepared questions carry besides records."""

  def __init__(self, builder: VqaQuestions, num_answers: int):
    md = builder.info.metadata
    self.vocab = clevr.Vocabulary.from_json(md['vocabulary'])
    self.question_types = tuple(json.loads(md['question_types']))
    counts = json.loads(md['answer_counts'])
    self.answers = tuple(vqa_answers.answer_vocabulary(
        collections.Counter(counts).elements(), num_answers))
    self.answer_index = {a: i for i, a in enumerate(self.answers)}
    total = sum(counts.values())
    # Train questions whose (normalised) multiple_choice_answer is a class.
    self.coverage = (sum(counts[a] for a in self.answers) / total
                     if total else 0.0)


def check_grids(q_builder: VqaQuestions, g_builder: CocoGrids) -> None:
  """Every image the questions refer to has a grid.

  Raises:
    errors.DatasetNotFoundError: naming the first missing images.
  """
  wanted = json.loads(q_builder.info.metadata['images'])
  have = json.loads(g_builder.info.metadata['image_ids'])
  missing = [coco_filename(split, i) for split in COCO_SPLITS
             for i in sorted(set(wanted.get(split, ())) -
                             set(have.get(split, ())))]
  if missing:
    raise errors.DatasetNotFoundError(
        f'{len(missing)} images the questions refer to have no grid in '
        f'{g_builder.data_dir} (e.g. {", ".join(missing[:3])}): they were '
        'not in the COCO folders when the grids were extracted. Add them and '
        'extract again (delete that directory first).')


class GridImages:
  """COCO grids (and thumbnails) by (coco split index, image id)."""

  def __init__(self, builder: CocoGrids, cache_size: int = 4):
    ids = json.loads(builder.info.metadata['image_ids'])
    self._dir = builder.data_dir
    self._sources = {}
    self._index = {}
    for s, split in enumerate(COCO_SPLITS):
      if ids.get(split):
        self._sources[s] = pipeline.CachedReader(
            builder.as_data_source(split), cache_size)
        self._index[s] = {int(i): k for k, i in enumerate(ids[split])}

  def record(self, coco_split: int, image_id: int) -> Mapping[str, Any]:
    try:
      return self._sources[coco_split][self._index[coco_split][image_id]]
    except KeyError:
      split = COCO_SPLITS[coco_split]
      raise errors.DatasetNotFoundError(
          f'{coco_filename(split, image_id)} has no extracted grid in '
          f'{self._dir}: it was not in {split}/ when the grids were made. '
          'Add it and extract again (delete that directory first).') from None

  def __call__(self, coco_split: int, image_id: int) -> np.ndarray:
    return self.record(coco_split, image_id)['grid']

  def thumbnail(self, coco_split: int, image_id: int) -> np.ndarray:
    return self.record(coco_split, image_id)['thumbnail']


class JpegImages:
  """COCO JPEGs read, decoded and resized per example (image_input=pixels)."""

  def __init__(self, coco_dir: str, size: int):
    self._dir = os.path.expanduser(coco_dir)
    self._size = size

  def path(self, coco_split: int, image_id: int) -> str:
    split = COCO_SPLITS[coco_split]
    return os.path.join(self._dir, split, coco_filename(split, image_id))

  def __call__(self, coco_split: int, image_id: int) -> np.ndarray:
    path = self.path(coco_split, image_id)
    if not os.path.exists(path):
      raise errors.DatasetNotFoundError(f'COCO image {path} is missing.')
    return load_image(path, self._size)

  def thumbnail(self, coco_split: int, image_id: int) -> np.ndarray:
    return thumbnail(self(coco_split, image_id))


def as_text(value: Any) -> str:
  """A stored Text feature as str (array_record sources give bytes)."""
  return value.decode() if isinstance(value, bytes) else value


def padded(values: Sequence[Any], length: int, fill: Any, dtype
           ) -> np.ndarray:
  """[length] of dtype: values, cut to length, then `fill`."""
  out = np.full(length, fill, dtype)
  out[:len(values)] = values[:length]
  return out


class QuestionRecords(Sequence):
  """A split's stored question records (or those at `indices`) as examples.

  What VQA's and DAQUAR's sources share; each subclass's `__getitem__`
  encodes a record's image and answers its dataset's way, starting from
  `_checked(index)` and `_tokens(text)`.
  """

  def __init__(self, records: Sequence[Mapping[str, Any]],
               images: Callable[..., np.ndarray] | None, md: Any,
               max_length: int, indices: np.ndarray | None = None):
    self._records = records
    self._images = images
    self._md = md
    self._max_length = max_length
    self._indices = (np.arange(len(records)) if indices is None
                     else np.asarray(indices))

  def __len__(self) -> int:
    return len(self._indices)

  @property
  def indices(self) -> np.ndarray:
    """The stored records' indices of the examples, in order."""
    return self._indices

  def record(self, index: int) -> Mapping[str, Any]:
    """The stored question record of example `index`."""
    return self._records[int(self._indices[index])]

  def _checked(self, index: int) -> Mapping[str, Any]:
    """record(index); IndexError outside [0, len), which ends iteration
    (a negative index would otherwise read from the end)."""
    if not 0 <= index < len(self):
      raise IndexError(index)
    return self.record(index)

  def _tokens(self, words: str) -> np.ndarray:
    """int32 [max_length]: the words' token ids, cut to fit, 0-padded."""
    ids = self._md.vocab.encode(words)[:self._max_length]
    return padded(ids, self._max_length, 0, np.int32)


class QuestionSource(QuestionRecords):
  """One example per question: image (grid or pixels), tokens, answers.

  Keys: image, question int32 [T], answer int32 [] (the best-scoring
  vocabulary answer, -1 if none), answer_ids int32 [10] and answer_scores
  float32 [10] (soft targets, -1 / 0 padded), credit_ids int32 [10] and
  credit float32 [10] (official accuracy of predicting each listed answer;
  any other scores 0), question_type int32 [], image_id int32 [] and
  coco_split int32 [] (to find the picture). `images` is called with
  (coco split index, image id).
  """

  def __getitem__(self, index: int) -> dict[str, Any]:
    q = self._checked(index)
    example = record_fields(q, self._md)
    example['image'] = self._images(int(example['coco_split']),
                                    int(example['image_id']))
    example['question'] = self._tokens(as_text(q['question']))
    return example


def record_fields(q: Mapping[str, Any], md: Any) -> dict[str, np.ndarray]:
  """A question record's fields besides its image and tokens: answer,
  answer_ids, answer_scores, credit_ids, credit, question_type, image_id,
  coco_split (see `QuestionSource`), for the answer vocabulary of `md`."""
  answers = json.loads(as_text(q['answers']))
  target_ids, scores = vqa_answers.soft_targets(answers, md.answer_index)
  credit_ids, credit = vqa_answers.answer_accuracies(answers, md.answer_index)
  best = (target_ids[int(np.argmax(scores))] if target_ids else -1)
  return {
      'answer': np.int32(best),
      'answer_ids': padded(target_ids, MAX_ANSWERS, -1, np.int32),
      'answer_scores': padded(scores, MAX_ANSWERS, 0, np.float32),
      'credit_ids': padded(credit_ids, MAX_ANSWERS, -1, np.int32),
      'credit': padded(credit, MAX_ANSWERS, 0, np.float32),
      'question_type': np.int32(max(int(q['question_type']), 0)),
      'image_id': np.int32(int(q['image_id'])),
      'coco_split': np.int32(int(q['coco_split'])),
  }


# ---------------------------------------------------------- Train arrays ----

INPUTS = ('arrays', 'records')
# With vqa.input='arrays', train batches can group questions by image
# (config.questions_per_image): the image is read and encoded once for them.
SHARES_IMAGES = True


def arrays_dir(data_dir: str, q_builder: VqaQuestions, num_answers: int,
               split: str) -> str:
  """Where a split's question arrays are (`hardattn.datasets.arrays`):
  they depend on the prepared questions and the answer vocabulary."""
  return os.path.join(
      os.path.expanduser(data_dir), 'vqa_arrays',
      f'{q_builder.builder_config.name}_{q_builder.version}_a{num_answers}',
      split)


def build_arrays(q_builder: VqaQuestions, md: Metadata, split: str,
                 path: str) -> None:
  """Writes a split's question arrays from its records (once): tokens (as
  long as the longest question), the `record_fields`, image_index int32
  [questions] and image_keys int32 [images, 2], each image's (coco split,
  image id) in order of first use. The images stay in their records (or
  go to `build_image_arrays`)."""
  records = q_builder.as_data_source(split)
  if not len(records):
    raise errors.UserError(f'{q_builder.builder_config.name} has no {split} '
                           'questions to build arrays of.')
  logging.info('Building VQA %s question arrays (%d questions) in %s', split,
               len(records), path)
  columns = collections.defaultdict(list)
  tokens, image_index, keys = [], [], {}
  for q in records:
    fields = record_fields(q, md)
    for name, value in fields.items():
      columns[name].append(value)
    tokens.append(md.vocab.encode(as_text(q['question'])))
    key = (int(fields['coco_split']), int(fields['image_id']))
    image_index.append(keys.setdefault(key, len(keys)))
  writer = arrays_lib.ArrayWriter(path)
  writer.create_tokens('question', tokens)
  for name, values in columns.items():
    values = np.stack(values)
    writer.create(name, values.shape, values.dtype)[:] = values
  writer.create('image_index', (len(image_index),), np.int32)[:] = image_index
  writer.create('image_keys', (len(keys), 2), np.int32)[:] = list(keys)
  writer.close({'split': split, 'num_answers': len(md.answers)})


class ImageTable:
  """Images by the arrays' image index, read from their records: table[ids]
  stacks images(coco split, image id) of image_keys[ids]."""

  def __init__(self, images: Callable[[int, int], np.ndarray],
               keys: np.ndarray):
    self._images = images
    self._keys = np.asarray(keys)

  def __len__(self) -> int:
    return len(self._keys)

  def __getitem__(self, ids: np.ndarray) -> np.ndarray:
    return np.stack([self._images(int(s), int(i))
                     for s, i in self._keys[np.asarray(ids)]])


def build_image_arrays(table: ImageTable, path: str) -> None:
  """Copies every image of `table` (grids or decoded pixels) into one
  memory-mapped array, images.npy, in table order (once)."""
  logging.info('Copying %d VQA train images into %s', len(table), path)
  writer = arrays_lib.ArrayWriter(path)
  first = table[np.zeros(1, np.int64)][0]
  stored = writer.create('images', (len(table),) + first.shape, first.dtype)
  for i in range(len(table)):
    stored[i] = table[np.array([i])][0]
  writer.close({'images': len(table)})


def train_arrays(config: Any, q_builder: VqaQuestions, md: Metadata,
                 images: Callable[[int, int], np.ndarray], indices: np.ndarray,
                 image_name: str) -> tuple[dict[str, np.ndarray], Any]:
  """(question arrays of the train examples, their image table), built
  where missing.

  Args:
    config: the run's config (data_dir, vqa.max_question_length,
      vqa.image_arrays).
    q_builder: the prepared questions.
    md: their Metadata.
    images: images(coco split, image id), as `QuestionSource` reads them.
    indices: the stored train records the train split keeps
      (`QuestionRecords.indices`: all but the held-out ones).
    image_name: what the images are (the grids' builder or the pixels'
      size), naming their copy with vqa.image_arrays.

  Returns:
    (arrays, images): arrays for `arrays.train_iterator`, the question
    fields of the train examples in memory; images an `ImageTable`, or with
    vqa.image_arrays their memory-mapped copy.
  """
  c = config.vqa
  path = arrays_dir(config.data_dir, q_builder, len(md.answers), 'train')
  if not arrays_lib.is_built(path):
    build_arrays(q_builder, md, 'train', path)
  loaded = arrays_lib.load(path)
  table = ImageTable(images, loaded.pop('image_keys'))
  loaded['question'] = arrays_lib.fit_length(loaded['question'],
                                             c.max_question_length)
  loaded = {name: np.asarray(values[indices])
            for name, values in loaded.items()}
  arrays_lib.log_built('VQA train', path, loaded)
  if not c.image_arrays:
    return loaded, table
  image_path = f'{path}_images_{image_name}'
  if not arrays_lib.is_built(image_path):
    build_image_arrays(table, image_path)
  return loaded, arrays_lib.load(image_path)['images']


def heldout_indices(num_train: int, fraction: float, seed: int
                    ) -> tuple[np.ndarray, np.ndarray]:
  """(train indices, held-out indices): a seeded split of train questions.

  Both sorted; the held-out part has round(fraction * num_train) questions.
  """
  if not 0 <= fraction < 1:
    raise errors.UserError(
        f'config.vqa.heldout_fraction must be in [0, 1), got {fraction}.')
  order = np.random.default_rng(seed).permutation(num_train)
  n = int(round(fraction * num_train))
  return np.sort(order[n:]), np.sort(order[:n])


def token_meta(name: str, md: Any, c: Any, question_types: Sequence[str], *,
               image_shape, image_dtype, num_train: int, num_eval: int,
               eval_split: str, picture_fn=None) -> pipeline.DatasetMeta:
  """The DatasetMeta of a dataset of token questions and answer classes
  (VQA's, DAQUAR's): md holds `vocab` and `answers`, c is its config
  section (max_question_length)."""
  return pipeline.DatasetMeta(
      name=name,
      num_answers=len(md.answers),
      answer_names=md.answers,
      question_kind='tokens',
      question_shape=(c.max_question_length,),
      vocab_size=len(md.vocab.tokens),
      question_types=question_types,
      image_shape=tuple(image_shape),
      image_dtype=image_dtype,
      num_train_examples=num_train,
      num_eval_examples=num_eval,
      eval_split=eval_split,
      question_text=md.vocab.decode,
      picture_fn=picture_fn)


def _meta(config: Any, md: Metadata, **kwargs) -> pipeline.DatasetMeta:
  """`token_meta` of VQA, on the config's images: kwargs from num_train
  on."""
  shape, dtype = _image_spec(config)
  return token_meta(NAME, md, config.vqa, md.question_types,
                    image_shape=shape, image_dtype=dtype, **kwargs)


def _image_name(config: Any) -> str:
  """What the train images are, for the name of their copy."""
  c = config.vqa
  if c.image_input == 'pixels':
    return f'pixels{c.image_size}'
  return f'{c.backbone}_{c.image_size}_s{c.backbone_stages}'


def _image_spec(config: Any) -> tuple[tuple[int, ...], str]:
  c = config.vqa
  if c.image_input == 'features':
    side, channels = grid_spec(c.backbone, c.image_size, c.backbone_stages)
    return (side, side, channels), 'float16'
  if c.image_input == 'pixels':
    return (c.image_size, c.image_size, 3), 'uint8'
  raise errors.UserError("config.vqa.image_input must be 'features' or "
                         f"'pixels', got {c.image_input!r}.")


# Sizes of VQA-CP v2 for benchmarks that need no data.
NOMINAL_VOCAB_SIZE = 13_000
NOMINAL_QUESTION_TYPES = tuple(f'{g}/t' for g in ANSWER_TYPE_GROUPS.values())


def nominal_meta(config: Any) -> pipeline.DatasetMeta:
  """A DatasetMeta of VQA-CP v2's shapes, without reading data."""
  c = config.vqa
  md = Metadata.__new__(Metadata)
  md.vocab = clevr.Vocabulary(
      clevr.SPECIAL_TOKENS + tuple(f'w{i}' for i in range(
          NOMINAL_VOCAB_SIZE - 2)), (), {})
  md.question_types = NOMINAL_QUESTION_TYPES
  md.answers = tuple(f'a{i}' for i in range(c.num_answers))
  return _meta(config, md, num_train=438_183, num_eval=219_928,
               eval_split=c.eval_split)


def _open(config: Any):
  """(questions builder, image reader, Metadata), preparing what is missing
  when the config says where the inputs are."""
  c = config.vqa
  data_dir = os.path.expanduser(config.data_dir)
  q_builder, g_builder = builders(data_dir, c.version, backbone=c.backbone,
                                  image_size=c.image_size,
                                  stages=c.backbone_stages)
  if not q_builder.is_prepared():
    if not c.manual_dir:
      raise errors.DatasetNotFoundError(
          f'{c.version} is not prepared (looked for {q_builder.data_dir}). '
          f'Prepare it with\n  {prepare_command(data_dir, c.version, "all")}'
          '\nor set config.vqa.manual_dir to the directory of its JSON files '
          'to prepare it on first use.')
    q_builder = prepare_questions(data_dir, c.version, c.manual_dir)
  coco_dir = c.coco_dir or c.manual_dir
  if c.image_input == 'pixels':
    if not coco_dir:
      raise errors.DatasetNotFoundError(
          'config.vqa.image_input=pixels reads the COCO JPEGs: set '
          'config.vqa.coco_dir to the directory with train2014/ and val2014/.')
    images = JpegImages(coco_dir, c.image_size)
  else:
    _image_spec(config)
    if not g_builder.is_prepared():
      if not (coco_dir and c.backbone_weights):
        raise errors.DatasetNotFoundError(
            f'The {g_builder.builder_config.name} grids of COCO are not '
            f'extracted (looked for {g_builder.data_dir}). Extract them with'
            f'\n  {prepare_command(data_dir, c.version, "grids")}\nor set '
            'config.vqa.coco_dir and config.vqa.backbone_weights to extract '
            'them on first use.')
      g_builder = prepare_grids(
          data_dir, coco_dir, c.backbone_weights, backbone=c.backbone,
          image_size=c.image_size, stages=c.backbone_stages,
          batch_size=c.extract_batch_size)
    check_grids(q_builder, g_builder)
    images = GridImages(g_builder)
  md = Metadata(q_builder, c.num_answers)
  logging.info('%s: %d answer classes, the most common answer of %.1f%% of '
               'train questions.', c.version, len(md.answers),
               100 * md.coverage)
  return q_builder, images, md


def split_records(q_builder: tfds.core.GeneratorBasedBuilder, split: str,
                  c: Any, md: Any, *, section: str, name: str
                  ) -> tuple[Sequence[Mapping[str, Any]], np.ndarray | None]:
  """(records, indices) of a split of prepared questions (VQA's, DAQUAR's).

  'train' and HELDOUT are the two seeded parts of the stored train split
  (`heldout_indices`); other splits are stored whole (indices None).

  Args:
    q_builder: the prepared questions.
    split: a stored split or HELDOUT.
    c: the dataset's config section (max_question_length, long_questions,
      heldout_fraction, heldout_seed).
    md: its Metadata, whose vocabulary the question lengths are checked
      against; None to skip the check (answers only).
    section: the config section's name, for messages ('vqa').
    name: the dataset's name, for messages.

  Raises:
    errors.UserError: an unknown split, an empty part, or long questions
      the config refuses.
  """
  stored = 'train' if split == HELDOUT else split
  if stored not in q_builder.info.splits:
    raise errors.UserError(
        f'{name} has no {split!r} split; it has '
        f'{sorted(q_builder.info.splits) + [HELDOUT]}.')
  if md is not None:
    clevr.check_lengths(md.vocab, stored, c, section, name)
  records = q_builder.as_data_source(stored)
  indices = None
  if stored == 'train':
    train, heldout = heldout_indices(len(records), c.heldout_fraction,
                                     c.heldout_seed)
    indices = heldout if split == HELDOUT else train
    if not len(indices):
      raise errors.UserError(
          f'The {split} split is empty: set config.{section}.'
          f'heldout_fraction (now {c.heldout_fraction}) so both parts have '
          'questions.')
  return records, indices


def _source(q_builder, images, md, split, config) -> QuestionSource:
  c = config.vqa
  records, indices = split_records(q_builder, split, c, md, section='vqa',
                                   name=c.version)
  return QuestionSource(records, images, md, c.max_question_length, indices)


def iterators(config: Any, train_source: Sequence[Any],
              eval_source: Sequence[Any], *, train_batch: int,
              eval_batch: int, process_index: int, process_count: int
              ) -> tuple[Iterator[pipeline.Batch],
                         Callable[[], Iterator[pipeline.Batch]]]:
  """(train iterator, eval iterable factory) of this process over two
  sources, with the config's seed and threads (VQA's, DAQUAR's)."""
  train_iter = pipeline.train_iterator(
      train_source, batch_size=train_batch, seed=config.data_seed,
      process_index=process_index, process_count=process_count,
      num_threads=config.data_threads, num_workers=config.data_workers)
  return train_iter, eval_iterable_fn(
      config, eval_source, eval_batch=eval_batch,
      process_index=process_index, process_count=process_count)


def eval_iterable_fn(config: Any, eval_source: Sequence[Any], *,
                     eval_batch: int, process_index: int, process_count: int
                     ) -> Callable[[], Iterator[pipeline.Batch]]:
  """This process's eval iterable factory over a source, with the
  config's threads."""
  return pipeline.eval_iterable_fn(
      eval_source, batch_size=eval_batch, process_index=process_index,
      process_count=process_count, num_threads=config.data_threads)


def _picture_fn(images) -> Callable[[Mapping[str, np.ndarray]], np.ndarray]:
  def pictures(batch):
    return np.stack([images.thumbnail(int(s), int(i)) for s, i in zip(
        batch['coco_split'], batch['image_id'])])
  return pictures


def get_dataset(
    config: Any, *, process_index: int = 0, process_count: int = 1
) -> tuple[Iterator[pipeline.Batch],
           Callable[[], Iterator[pipeline.Batch]], pipeline.DatasetMeta]:
  """Train iterator, eval iterable factory and metadata for this process.

  Returns:
    (train_iter, eval_iter_fn, meta); batches hold the `QuestionSource`
    keys plus mask bool [b].

  Raises:
    errors.DatasetNotFoundError: not prepared and inputs not configured.
    errors.UserError: bad batch sizes, splits or length settings.
  """
  c = config.vqa
  train_batch = pipeline.per_process_batch_size(
      config.batch_size, process_count, 'batch_size')
  eval_batch = pipeline.per_process_batch_size(
      config.eval_batch_size, process_count, 'eval_batch_size')
  if c.eval_split in TEST_FILES.get(c.version, {}):
    raise errors.UserError(
        f'config.vqa.eval_split={c.eval_split!r} is the evaluation server\'s '
        f'split of {c.version}: it has no answers to evaluate on. Evaluate on '
        "'val' or 'heldout', and write its results file with python -m "
        f'hardattn.export --split={c.eval_split}.')
  if c.input not in INPUTS:
    raise errors.UserError(f'config.vqa.input must be one of {list(INPUTS)}, '
                           f'got {c.input!r}.')
  group = pipeline.questions_per_image(config, train_batch)
  if group > 1 and c.input != 'arrays':
    raise errors.UserError(f'config.questions_per_image={group} needs '
                           "config.vqa.input='arrays'.")
  q_builder, images, md = _open(config)
  train_source = _source(q_builder, images, md, 'train', config)
  eval_source = _source(q_builder, images, md, c.eval_split, config)
  if c.input == 'arrays':
    arrays, table = train_arrays(config, q_builder, md, images,
                                 train_source.indices, _image_name(config))
    train_iter = arrays_lib.train_iterator(
        arrays, images=table, batch_size=train_batch, seed=config.data_seed,
        process_index=process_index, process_count=process_count,
        questions_per_image=group, num_threads=config.data_threads)
    eval_iter_fn = eval_iterable_fn(
        config, eval_source, eval_batch=eval_batch,
        process_index=process_index, process_count=process_count)
  else:
    train_iter, eval_iter_fn = iterators(
        config, train_source, eval_source, train_batch=train_batch,
        eval_batch=eval_batch, process_index=process_index,
        process_count=process_count)
  return train_iter, eval_iter_fn, _meta(
      config, md, num_train=len(train_source), num_eval=len(eval_source),
      eval_split=c.eval_split, picture_fn=_picture_fn(images))


RESULTS_SUFFIX = 'results.json'


def results_filename(config: Any, split: str) -> str | None:
  """The evaluation server's name for a results file of `split` (VQA v1
  and v2: vqa_OpenEnded_mscoco_<subset>_<alg>_results.json, subset
  test-dev2015, test2015 or val2014), or None (VQA-CP, 'heldout')."""
  subset = _SERVER_SUBSETS.get(split)
  if config.vqa.version not in TEST_FILES or subset is None:
    return None
  return f'vqa_OpenEnded_mscoco_{subset}_hardattn_results.json'


def write_results(config: Any, split: str, answers: Sequence[str],
                  output: str) -> None:
  """Writes answers as the official results file: a JSON list of
  {"question_id": int, "answer": str}, in `get_split`'s order (what the
  official evaluation and the VQA v1 and v2 servers read; for the servers,
  `results_filename` names it).

  Raises:
    errors.UserError: the answers do not match the split's questions.
  """
  q_builder, _ = builders(config.data_dir, config.vqa.version)
  source = _source(q_builder, lambda *_: None, None, split, config)
  if len(answers) != len(source):
    raise errors.UserError(f'{len(answers)} answers for the {len(source)} '
                           f'questions of {split}.')
  results = [{'question_id': int(source.record(i)['question_id']),
              'answer': answer} for i, answer in enumerate(answers)]
  with files.atomic_open(output) as f:
    json.dump(results, f)


def get_split(config: Any, split: str, *, batch_size: int
              ) -> tuple[Callable[[], Iterator[pipeline.Batch]],
                         pipeline.DatasetMeta]:
  """An in-order pass over a split ('train', 'test', 'val' or 'heldout')."""
  return split_pass(config, split, batch_size, open_fn=_open,
                    source_fn=_source, meta_fn=_meta, picture_fn=_picture_fn)


def split_pass(config: Any, split: str, batch_size: int, *,
               open_fn: Callable[..., Any], source_fn: Callable[..., Any],
               meta_fn: Callable[..., pipeline.DatasetMeta],
               picture_fn: Callable[[Any], Any]
               ) -> tuple[Callable[[], Iterator[pipeline.Batch]],
                          pipeline.DatasetMeta]:
  """`get_split` of a dataset laid out as VQA (VQA's, DAQUAR's), from its
  own `_open`, `_source`, `_meta` and `_picture_fn`: an in-order pass over
  one split, and its DatasetMeta."""
  q_builder, images, md = open_fn(config)
  source = source_fn(q_builder, images, md, split, config)
  iter_fn = pipeline.eval_iterable_fn(source, batch_size=batch_size,
                                      num_threads=config.data_threads)
  return iter_fn, meta_fn(
      config, md, num_train=q_builder.info.splits['train'].num_examples,
      num_eval=len(source), eval_split=split, picture_fn=picture_fn(images))


# ----------------------------------------------------------- Prediction ----
# What `hardattn.predict` needs to answer a typed question about an image
# file (the run's `inputs` are in WORKDIR/dataset.json, see
# `hardattn.assets`). A run on pixels resizes the image as training does; a
# run on precomputed grids (image_input='features') runs the frozen backbone
# on it first, which needs the converted weights file.


def prediction_inputs(config: Any, meta_: pipeline.DatasetMeta
                      ) -> dict[str, Any]:
  """What predicting needs besides the DatasetMeta: tokens, the image
  input and the backbone that made the grids."""
  c = config.vqa
  vocab = clevr.vocabulary_of(meta_)
  if vocab is None:
    q_builder, _ = builders(config.data_dir, c.version)
    vocab = clevr.load_vocabulary(q_builder)
  return backbone_inputs(vocab, c, c.image_input)


def backbone_inputs(vocab: clevr.Vocabulary, c: Any, image_input: str
                    ) -> dict[str, Any]:
  """Predicting's inputs of a dataset on backbone grids or pixels (VQA's,
  DAQUAR's): the question tokens, the image at c.image_size, and the
  backbone that made the grids (config section c)."""
  return dict(clevr.token_inputs(vocab, c),
              image_input=image_input,
              image_size=[int(c.image_size)] * 2,
              image_dtype='uint8',
              backbone=c.backbone,
              backbone_stages=int(c.backbone_stages),
              backbone_weights=c.backbone_weights)


def encode_question(text: str, inputs: Mapping[str, Any]) -> np.ndarray:
  """int32 [max_length] tokens, as training encodes VQA questions
  (`clevr.encode_question`: unknown words UNK, long questions cut or
  refused)."""
  return clevr.encode_question(text, inputs, where='vqa.max_question_length')


@functools.lru_cache(maxsize=2)
def _backbone(backbone: str, stages: int, weights_path: str
              ) -> Callable[[np.ndarray], np.ndarray]:
  return backbone_forward(backbone, stages, weights_path)


def prepare_image(image: np.ndarray, inputs: Mapping[str, Any],
                  what: str = 'image') -> tuple[np.ndarray, np.ndarray]:
  """(model input, picture): the RGB image at vqa.image_size, or (features
  runs) the backbone's float16 grid of it.

  Raises:
    errors.UserError: a features run whose backbone weights file (the run's
      vqa.backbone_weights, or inputs['backbone_weights'] as overridden by
      the caller) is not there.
  """
  pixels = inputs_lib.fit_image(image, inputs_lib.image_size(inputs), what)
  if inputs['image_input'] == 'pixels':
    return pixels, pixels
  weights = inputs.get('backbone_weights')
  if weights != RANDOM_WEIGHTS and not (
      weights and os.path.isfile(os.path.expanduser(weights))):
    raise errors.UserError(
        f'This run was trained on precomputed {inputs["backbone"]} grids '
        "(config.vqa.image_input='features'): answering about a new image "
        'runs that backbone on it first, which needs its converted weights '
        f'(config.vqa.backbone_weights={weights!r}, not found). Pass '
        '--backbone_weights=PATH to the .msgpack file made by python -m '
        'hardattn.models.resnet_weights.')
  forward = _backbone(inputs['backbone'], int(inputs['backbone_stages']),
                      weights if weights == RANDOM_WEIGHTS
                      else os.path.expanduser(weights))
  return forward(pixels[None])[0], pixels


question_decoder = inputs_lib.question_decoder


def find_coco_image(image_dir: str, image_id: int,
                    coco_split: str | None = None) -> str:
  """The COCO file of `image_id` in image_dir or its train2014/ val2014/.

  Raises:
    errors.UserError: naming where it was looked for.
  """
  splits = [coco_split] if coco_split in COCO_SPLITS else list(COCO_SPLITS)
  tried = []
  for split in splits:
    name = coco_filename(split, image_id)
    for path in (os.path.join(image_dir, split, name),
                 os.path.join(image_dir, name)):
      if os.path.isfile(path):
        return path
      tried.append(path)
  raise errors.UserError(
      f'No image file for image_id {image_id}: looked for '
      f'{" and ".join(tried)}. Set --image_dir to the folder holding the '
      'COCO images (or their train2014/ and val2014/ folders).')
