r"""DAQUAR (Malinowski & Fritz 2014): the official question files, prepared.

Input is what users download from the DAQUAR page:

  qa.894.raw.{train,test}.txt   the full set (894 object classes)
  qa.37.raw.{train,test}.txt    the reduced set (37 classes)
  nyu_depth_images/image<N>.png the NYU-Depth v2 images they refer to

A question file alternates a question line and its answer line:

  what is on the desk in the image3 ?
  book, scissor, papers, tape_dispenser

The image is named inside the question ('... in the image3 ?'); an answer
is one item or a comma-separated list. The files are looked for in
`daquar.manual_dir` and its direct subdirectories, the images in
`daquar.image_dir` (default: manual_dir) or its nyu_depth_images/.

Prepared (TFDS ArrayRecord, without TensorFlow):

  daquar_questions/{full,reduced}: one record per question in the file's
    order: image_id, question (text), answer (the answer line as given),
    line (its line number in the file), question_type ('answer/single' or
    'answer/list'). Metadata: the token vocabulary built from train (the
    CLEVR text pipeline; the image's name 'image<N>' is read as the word
    'image' (decision: a per-image word would only let a model memorise
    train images), unknown words are <unk>), the train counts of each
    canonical answer, each split's question-length histogram, the images
    referred to.
  daquar_grids/{backbone}_{size}_s{stages}: one record per image referred
    to, sorted by image number: the frozen backbone's float16 grid
    (GoogLeNet at 224x224: inception_5b, 7 x 7 x 1024) and a thumbnail for
    attention pictures, extracted once (`vqa.extract_grids`) with the
    weights a user converts (`hardattn.models.resnet_weights`).

Answers. A class is a canonical answer: the items stripped, de-duplicated
and sorted, joined by ', ' (so 'chair, book' and 'book,chair' are one
class, as DAQUAR's accuracy treats them as one set). The classes are the
`daquar.num_answers` most frequent train answers (0: all of them), ties
alphabetical. The accuracy computed in the eval step is DAQUAR's: the
predicted class's items equal the true answer's as sets. WUPS at 0.9 and
0.0 need WordNet on the host: `write_results` (called by
`hardattn.export`) writes the answers one per line, as the truth files
hold them, and scores them with `hardattn.wups` beside accuracy.

Splits: 'train' and 'test' as released, and 'heldout', a seeded
`daquar.heldout_fraction` of train questions that train then leaves out,
for model selection.

Bad input is one line naming the file (and line): a missing question file,
an empty question or answer line, a question that names no image, a
question whose image is not there, a file whose last question has no
answer line.

Config fields read (besides batch_size, eval_batch_size, data_seed,
data_threads, data_workers, data_dir), under `daquar.`: version ('full' |
'reduced'), manual_dir, image_dir, backbone (a `backbones.presets()` name),
image_size, backbone_stages, backbone_weights, extract_batch_size,
num_answers, max_question_length, long_questions ('truncate' | 'error'),
heldout_fraction, heldout_seed, eval_split ('test' | 'heldout').
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
import collections
import functools
import json
import logging
import os
import re
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from hardattn import errors
from hardattn import files
from hardattn.datasets import clevr
from hardattn.datasets import pipeline
from hardattn.datasets import vqa

NAME = 'daquar'
VERSIONS = ('reduced', 'full')
FILES = {
    'full': {'train': 'qa.894.raw.train.txt', 'test': 'qa.894.raw.test.txt'},
    'reduced': {'train': 'qa.37.raw.train.txt',
                'test': 'qa.37.raw.test.txt'},
}
IMAGE_FOLDER = 'nyu_depth_images'
HOMEPAGE = ('https://www.mpi-inf.mpg.de/departments/computer-vision-and-'
            'machine-learning/research/vision-and-language/visual-turing-'
            'challenge')
HELDOUT = 'heldout'
QUESTION_TYPES = ('answer/single', 'answer/list')
RESULTS_SUFFIX = 'answers.txt'
_IMAGE_RE = re.compile(r'\bimage(\d+)\b')


def image_filename(image_id: int) -> str:
  return f'image{int(image_id)}.png'


def canonical(answer: str) -> str:
  """'chair, book ,chair' -> 'book, chair': the answer's set of items."""
  return ', '.join(sorted({item.strip() for item in answer.split(',')
                           if item.strip()}))


def question_words(text: str) -> str:
  """The question as tokenized: 'image<N>' read as 'image'."""
  return _IMAGE_RE.sub('image', text)


# ---------------------------------------------------------------- Files ----


def locate(version: str, manual_dir: str | None) -> dict[str, str]:
  """{split: question file} of `version` under manual_dir.

  Raises:
    errors.DatasetNotFoundError: naming the directory and missing files.
  """
  if version not in FILES:
    raise errors.UserError(f'config.daquar.version must be one of '
                           f'{VERSIONS}, got {version!r}.')
  names = list(FILES[version].values())
  how = f'DAQUAR\'s {" and ".join(names)} (from {HOMEPAGE})'
  if not manual_dir:
    raise errors.DatasetNotFoundError(
        'No DAQUAR files given: set config.daquar.manual_dir (or pass '
        f'--manual_dir to hardattn.prepare) to a directory with {how}.')
  manual_dir = os.path.expanduser(manual_dir)
  if not os.path.isdir(manual_dir):
    raise errors.DatasetNotFoundError(
        f'{manual_dir} is not a directory; expected one with {how}.')
  found = {split: vqa.find_file(manual_dir, name)
           for split, name in FILES[version].items()}
  missing = [FILES[version][s] for s, p in found.items() if p is None]
  if missing:
    raise errors.DatasetNotFoundError(
        f'{", ".join(missing)} not found in {manual_dir} (or its '
        f'subdirectories); expected {how}.')
  return found


def read_split(path: str) -> list[dict[str, Any]]:
  """The questions of a DAQUAR question file, in order.

  Returns:
    One dict per question: question (the line, stripped), image_id (from
    'image<N>' in it, the last such word), answer (the answer line,
    stripped), line (the question's 1-based line number).

  Raises:
    errors.DatasetNotFoundError: naming the file and line of an empty
      question or answer, a question without an image, or a question
      without an answer line.
  """
  try:
    with open(path, encoding='utf-8') as f:
      lines = [l.strip() for l in f]
  except (OSError, UnicodeDecodeError) as e:
    raise errors.DatasetNotFoundError(f'Cannot read {path}: {e}') from e
  while lines and not lines[-1]:
    lines.pop()  # a trailing newline
  out = []
  for i in range(0, len(lines), 2):
    question = lines[i]
    if not question:
      raise errors.DatasetNotFoundError(
          f'{path}:{i + 1}: empty question line (the file alternates a '
          'question line and its answer line).')
    if i + 1 >= len(lines):
      raise errors.DatasetNotFoundError(
          f'{path}:{i + 1}: the question {question!r} has no answer line.')
    answer = lines[i + 1]
    if not canonical(answer):
      raise errors.DatasetNotFoundError(
          f'{path}:{i + 2}: empty answer line for the question {question!r}.')
    images = _IMAGE_RE.findall(question)
    if not images:
      raise errors.DatasetNotFoundError(
          f"{path}:{i + 1}: the question {question!r} names no image "
          "('... in the image<N> ?').")
    out.append({'question': question, 'image_id': int(images[-1]),
                'answer': answer, 'line': i + 1})
  if not out:
    raise errors.DatasetNotFoundError(f'{path} holds no questions.')
  return out


def image_path(image_dir: str, image_id: int) -> str | None:
  """image_dir/nyu_depth_images/image<N>.png or image_dir/image<N>.png."""
  for path in (os.path.join(image_dir, IMAGE_FOLDER, image_filename(image_id)),
               os.path.join(image_dir, image_filename(image_id))):
    if os.path.isfile(path):
      return path
  return None


def check_images(entries: Sequence[Mapping[str, Any]], path: str,
                 image_dir: str) -> None:
  """Every question's image is there.

  Raises:
    errors.DatasetNotFoundError: naming the question's file and line and
      where the image was looked for.
  """
  for e in entries:
    if image_path(image_dir, e['image_id']) is None:
      raise errors.DatasetNotFoundError(
          f'{path}:{e["line"]}: the question names image{e["image_id"]}, '
          f'which is not in {os.path.join(image_dir, IMAGE_FOLDER)} (nor in '
          f'{image_dir}): expected {image_filename(e["image_id"])} from '
          "DAQUAR's nyu_depth_images.")


def question_type(answer: str) -> int:
  return QUESTION_TYPES.index('answer/list' if ',' in canonical(answer)
                              else 'answer/single')


# ---------------------------------------------------------------- TFDS ----


class DaquarQuestionsConfig(vqa.VqaQuestionsConfig):
  """One per DAQUAR version ('reduced', 'full')."""


class DaquarQuestions(tfds.core.GeneratorBasedBuilder):
  """DAQUAR questions and answers, one record per question."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = [DaquarQuestionsConfig(version_name=v) for v in VERSIONS]
  MANUAL_DOWNLOAD_INSTRUCTIONS = 'DAQUAR\'s qa.*.raw.*.txt files.'

  def _info(self) -> tfds.core.DatasetInfo:
    scalar = functools.partial(tfds.features.Tensor, shape=(), dtype=np.int32)
    return tfds.core.DatasetInfo(
        builder=self,
        description='DAQUAR questions and answers.',
        features=tfds.features.FeaturesDict({
            'image_id': scalar(),
            'question': tfds.features.Text(),
            'answer': tfds.features.Text(),
            'line': scalar(),
            'question_type': scalar(),
        }),
        metadata=tfds.core.MetadataDict(),
        homepage=HOMEPAGE,
        disable_shuffling=True)

  def _split_generators(self, dl_manager):
    paths = locate(self.builder_config.version_name,
                   os.fspath(dl_manager.manual_dir))
    data = {split: read_split(path) for split, path in paths.items()}
    vocab = clevr.token_vocabulary({
        split: [question_words(e['question']) for e in entries]
        for split, entries in data.items()})
    counts = collections.Counter(canonical(e['answer'])
                                 for e in data['train'])
    self.info.metadata['vocabulary'] = vocab.to_json()
    self.info.metadata['answer_counts'] = json.dumps(
        dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))
    self.info.metadata['images'] = json.dumps(sorted(
        {e['image_id'] for entries in data.values() for e in entries}))
    return {split: self._generate_examples(entries)
            for split, entries in data.items()}

  def _generate_examples(self, entries):
    for i, e in enumerate(entries):
      yield i, {'image_id': e['image_id'], 'question': e['question'],
                'answer': e['answer'], 'line': e['line'],
                'question_type': question_type(e['answer'])}


class DaquarGridsConfig(vqa.CocoGridsConfig):
  """The backbone, its input size and depth (named as COCO's grids)."""


class DaquarGrids(tfds.core.GeneratorBasedBuilder):
  """Frozen-backbone grids of the NYU-Depth images DAQUAR refers to.

  Set `paths` ({image id: file}), `forward`, `weights_path` and
  `batch_size` before `download_and_prepare` (see `prepare_grids`).
  """

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = [DaquarGridsConfig(backbone='googlenet', image_size=224,
                                       stages=4)]

  def _info(self) -> tfds.core.DatasetInfo:
    return vqa.grids_info(self, HOMEPAGE)

  def _split_generators(self, dl_manager):
    del dl_manager
    ids = sorted(self.paths)
    self.info.metadata['image_ids'] = json.dumps(ids)
    self.info.metadata['weights'] = os.path.basename(self.weights_path or '')
    return {'images': self._generate_examples(ids)}

  def _generate_examples(self, ids):
    for index, (image_id, grid, thumb) in enumerate(vqa.extract_grids(
        [self.paths[i] for i in ids], ids, self.forward,
        image_size=self.builder_config.image_size,
        batch_size=self.batch_size)):
      yield index, {'image_id': image_id, 'grid': grid, 'thumbnail': thumb}


def builders(data_dir: str, version: str, *, backbone: str = 'googlenet',
             image_size: int = 224, stages: int = 4
             ) -> tuple[DaquarQuestions, DaquarGrids]:
  """The questions and grids builders under data_dir (maybe unprepared)."""
  if version not in VERSIONS:
    raise errors.UserError(f'config.daquar.version must be one of '
                           f'{VERSIONS}, got {version!r}.')
  return vqa.grid_builders(DaquarQuestions, DaquarGrids, data_dir, version,
                           backbone=backbone, image_size=image_size,
                           stages=stages)


def prepare_questions(data_dir: str, version: str, manual_dir: str | None,
                      image_dir: str | None = None) -> DaquarQuestions:
  """Prepares the questions of `version` if missing, after checking that
  every image they name is in image_dir (default: manual_dir)."""
  builder, _ = builders(data_dir, version)
  if builder.is_prepared():
    return builder
  paths = locate(version, manual_dir)
  image_dir = os.path.expanduser(image_dir or manual_dir)
  for path in paths.values():
    check_images(read_split(path), path, image_dir)
  tfds.disable_progress_bar()
  logging.info('Preparing %s into %s', builder.name, builder.data_dir)
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(
          manual_dir=os.path.expanduser(manual_dir)),
      file_format='array_record')
  return builders(data_dir, version)[0]


def prepare_grids(data_dir: str, questions: DaquarQuestions,
                  image_dir: str | None, weights_path: str | None, *,
                  backbone: str = 'googlenet', image_size: int = 224,
                  stages: int = 4, batch_size: int = 32) -> DaquarGrids:
  """Extracts the backbone grid of every image the questions name, if
  missing."""
  _, builder = builders(data_dir, VERSIONS[0], backbone=backbone,
                        image_size=image_size, stages=stages)
  wanted = json.loads(questions.info.metadata['images'])
  if builder.is_prepared():
    have = set(json.loads(builder.info.metadata['image_ids']))
    if not set(wanted) - have:
      return builder
    raise errors.DatasetNotFoundError(
        f'The grids in {builder.data_dir} lack images the questions name '
        f'(e.g. {image_filename(sorted(set(wanted) - have)[0])}): delete '
        'that directory and prepare again.')
  if not image_dir:
    raise errors.DatasetNotFoundError(
        'No DAQUAR images given: set config.daquar.image_dir (or pass '
        f'--image_dir) to the directory with {IMAGE_FOLDER}/.')
  image_dir = os.path.expanduser(image_dir)
  paths = {}
  for image_id in wanted:
    path = image_path(image_dir, image_id)
    if path is None:
      raise errors.DatasetNotFoundError(
          f'{os.path.join(image_dir, IMAGE_FOLDER, image_filename(image_id))}'
          ' is missing (a question names it).')
    paths[image_id] = path
  forward = vqa.backbone_forward(backbone, stages, weights_path)
  builder.paths = paths
  vqa.extract_into(builder, forward, weights_path, batch_size)
  return builders(data_dir, VERSIONS[0], backbone=backbone,
                  image_size=image_size, stages=stages)[1]


def prepare_command(data_dir: str, version: str) -> str:
  return (f'python -m hardattn.prepare --dataset=daquar_{version} '
          f'--data_dir={data_dir} --manual_dir=PATH/TO/DAQUAR '
          '--backbone=googlenet --image_size=224 '
          '--backbone_weights=googlenet.msgpack')


# ------------------------------------------------------------- Pipeline ----


class Metadata:
  """The vocabulary and answer classes of the prepared questions."""

  def __init__(self, builder: DaquarQuestions, num_answers: int):
    md = builder.info.metadata
    self.vocab = clevr.Vocabulary.from_json(md['vocabulary'])
    counts = json.loads(md['answer_counts'])  # most frequent first
    answers = list(counts)
    self.answers = tuple(answers[:num_answers] if num_answers > 0
                         else answers)
    self.answer_index = {a: i for i, a in enumerate(self.answers)}


class Grids:
  """Grids and thumbnails by image number."""

  def __init__(self, builder: DaquarGrids, cache_size: int = 4):
    ids = json.loads(builder.info.metadata['image_ids'])
    self._index = {int(i): k for k, i in enumerate(ids)}
    self._records = pipeline.CachedReader(builder.as_data_source('images'),
                                          cache_size)
    self._dir = builder.data_dir

  def record(self, image_id: int) -> Mapping[str, Any]:
    try:
      return self._records[self._index[int(image_id)]]
    except KeyError:
      raise errors.DatasetNotFoundError(
          f'{image_filename(image_id)} has no grid in {self._dir}: delete '
          'that directory and prepare again.') from None

  def __call__(self, image_id: int) -> np.ndarray:
    return self.record(image_id)['grid']

  def thumbnail(self, image_id: int) -> np.ndarray:
    return self.record(image_id)['thumbnail']


class QuestionSource(vqa.QuestionRecords):
  """One example per question: image grid, tokens, answer class.

  Keys: image float16 [g, g, C], question int32 [T], answer int32 [] (the
  canonical answer's class, -1 if not a class), answer_ids int32 [1] and
  answer_scores float32 [1] (the training target; none where the answer is
  not a class, which then adds no loss), question_type int32 [], image_id
  int32 []. `images` is called with the image number.
  """

  def __getitem__(self, index: int) -> dict[str, Any]:
    r = self._checked(index)
    answer = self._md.answer_index.get(canonical(vqa.as_text(r['answer'])),
                                       -1)
    image_id = int(r['image_id'])
    return {
        'image': self._images(image_id),
        'question': self._tokens(question_words(vqa.as_text(r['question']))),
        'answer': np.int32(answer),
        'answer_ids': np.array([answer], np.int32),
        'answer_scores': np.array([1.0 if answer >= 0 else 0.0], np.float32),
        'question_type': np.int32(r['question_type']),
        'image_id': np.int32(image_id),
    }


def _meta(config: Any, md: Metadata, **kwargs) -> pipeline.DatasetMeta:
  """`vqa.token_meta` of DAQUAR, on the backbone's float16 grids: kwargs
  from num_train on."""
  c = config.daquar
  side, channels = vqa.grid_spec(c.backbone, c.image_size, c.backbone_stages)
  return vqa.token_meta(NAME, md, c, QUESTION_TYPES,
                        image_shape=(side, side, channels),
                        image_dtype='float16', **kwargs)


# DAQUAR's sizes for benchmarks without data: our tokenizer's vocabulary
# and the train answer sets of the reduced set are of these orders
# (decision: no published counts were at hand).
NOMINAL_VOCAB_SIZE = 1_000
NOMINAL_NUM_ANSWERS = 1_000


def nominal_meta(config: Any) -> pipeline.DatasetMeta:
  """A DatasetMeta of DAQUAR-like shapes, without reading data."""
  md = Metadata.__new__(Metadata)
  md.vocab = clevr.Vocabulary(
      clevr.SPECIAL_TOKENS + tuple(f'w{i}' for i in range(
          NOMINAL_VOCAB_SIZE - 2)), (), {})
  n = config.daquar.num_answers or NOMINAL_NUM_ANSWERS
  md.answers = tuple(f'a{i}' for i in range(n))
  return _meta(config, md, num_train=6_000, num_eval=1_000,
               eval_split=config.daquar.eval_split)


def _open(config: Any):
  """(questions builder, grids, Metadata), preparing what is missing when
  the config says where the inputs are."""
  c = config.daquar
  data_dir = os.path.expanduser(config.data_dir)
  q_builder, g_builder = builders(data_dir, c.version, backbone=c.backbone,
                                  image_size=c.image_size,
                                  stages=c.backbone_stages)
  image_dir = c.image_dir or c.manual_dir
  if not q_builder.is_prepared():
    if not c.manual_dir:
      raise errors.DatasetNotFoundError(
          f'DAQUAR ({c.version}) is not prepared (looked for '
          f'{q_builder.data_dir}). Prepare it with\n  '
          f'{prepare_command(data_dir, c.version)}\nor set '
          'config.daquar.manual_dir (and backbone_weights) to prepare it on '
          'first use.')
    q_builder = prepare_questions(data_dir, c.version, c.manual_dir,
                                  image_dir)
  if not g_builder.is_prepared() and not (image_dir and c.backbone_weights):
    raise errors.DatasetNotFoundError(
        f'The {g_builder.builder_config.name} grids of the DAQUAR images are '
        f'not extracted (looked for {g_builder.data_dir}). Extract them with'
        f'\n  {prepare_command(data_dir, c.version)}\nor set '
        'config.daquar.image_dir (or manual_dir) and backbone_weights.')
  g_builder = prepare_grids(data_dir, q_builder, image_dir,
                            c.backbone_weights, backbone=c.backbone,
                            image_size=c.image_size, stages=c.backbone_stages,
                            batch_size=c.extract_batch_size)
  md = Metadata(q_builder, c.num_answers)
  return q_builder, Grids(g_builder), md


def _source(q_builder, images, md, split, config) -> QuestionSource:
  c = config.daquar
  records, indices = vqa.split_records(q_builder, split, c, md,
                                       section='daquar', name='DAQUAR')
  return QuestionSource(records, images, md, c.max_question_length, indices)


def _picture_fn(images: Grids):
  def pictures(batch):
    return np.stack([images.thumbnail(int(i)) for i in batch['image_id']])
  return pictures


def get_dataset(config: Any, *, process_index: int = 0,
                process_count: int = 1
                ) -> tuple[Iterator[pipeline.Batch],
                           Callable[[], Iterator[pipeline.Batch]],
                           pipeline.DatasetMeta]:
  """Train iterator, eval iterable factory and metadata for this process."""
  c = config.daquar
  train_batch = pipeline.per_process_batch_size(
      config.batch_size, process_count, 'batch_size')
  eval_batch = pipeline.per_process_batch_size(
      config.eval_batch_size, process_count, 'eval_batch_size')
  q_builder, images, md = _open(config)
  train_source = _source(q_builder, images, md, 'train', config)
  eval_source = _source(q_builder, images, md, c.eval_split, config)
  train_iter, eval_iter_fn = vqa.iterators(
      config, train_source, eval_source, train_batch=train_batch,
      eval_batch=eval_batch, process_index=process_index,
      process_count=process_count)
  return train_iter, eval_iter_fn, _meta(
      config, md, num_train=len(train_source), num_eval=len(eval_source),
      eval_split=c.eval_split, picture_fn=_picture_fn(images))


def get_split(config: Any, split: str, *, batch_size: int
              ) -> tuple[Callable[[], Iterator[pipeline.Batch]],
                         pipeline.DatasetMeta]:
  """An in-order pass over 'train', 'test' or 'heldout'."""
  return vqa.split_pass(config, split, batch_size, open_fn=_open,
                        source_fn=_source, meta_fn=_meta,
                        picture_fn=_picture_fn)


def true_answers(config: Any, split: str) -> list[str]:
  """The split's answer lines as given, in `get_split`'s order."""
  q_builder, _ = builders(config.data_dir, config.daquar.version)
  source = _source(q_builder, None, None, split, config)
  return [vqa.as_text(source.record(i)['answer']) for i in range(len(source))]


def write_results(config: Any, split: str, answers: Sequence[str],
                  output: str) -> dict[str, float]:
  """Writes the answers one per line (the truth files' answer lines), and
  their accuracy and WUPS at 0.9 and 0.0 (`hardattn.wups`, the DAQUAR
  script's) to OUTPUT with '.scores.json' for its extension.

  Returns:
    {'accuracy', 'wups_0.9', 'wups_0.0', 'num_examples'}.

  Raises:
    errors.UserError: the answers do not match the split's questions, or
      WordNet is not installed.
  """
  from hardattn import wups  # pylint: disable=g-import-not-at-top
  truth = true_answers(config, split)
  if len(answers) != len(truth):
    raise errors.UserError(f'{len(answers)} answers for the {len(truth)} '
                           f'questions of {split}.')
  with files.atomic_open(output) as f:
    f.writelines(a + '\n' for a in answers)
  result = dict(wups.scores(list(answers), truth),
                num_examples=len(truth))
  scores_path = os.path.splitext(output)[0] + '.scores.json'
  files.write_json(scores_path, result, indent=1)
  logging.info('%s %s: accuracy %.2f, WUPS@0.9 %.2f, WUPS@0.0 %.2f (%s)',
               config.daquar.version, split, 100 * result['accuracy'],
               100 * result['wups_0.9'], 100 * result['wups_0.0'],
               scores_path)
  return result


# ----------------------------------------------------------- Prediction ----
# Answering about a new image runs the backbone that made the grids on it
# (`vqa.prepare_image`), which needs its converted weights.


def prediction_inputs(config: Any, meta_: pipeline.DatasetMeta
                      ) -> dict[str, Any]:
  c = config.daquar
  vocab = clevr.vocabulary_of(meta_)
  if vocab is None:
    vocab = clevr.load_vocabulary(builders(config.data_dir, c.version)[0])
  return vqa.backbone_inputs(vocab, c, 'features')


def encode_question(text: str, inputs: Mapping[str, Any]) -> np.ndarray:
  """int32 [max_length] tokens, as training encodes DAQUAR questions."""
  return clevr.encode_question(question_words(text), inputs,
                               where='daquar.max_question_length')


prepare_image = vqa.prepare_image
question_decoder = vqa.question_decoder
