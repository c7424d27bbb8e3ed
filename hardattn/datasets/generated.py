"""Plumbing shared by the generated datasets (sort_of_clevr, spatial).

A generated dataset is a seeded generator of images, each with the same
number Q of questions. Its module holds what differs:

  - a `Builder` subclass (a TFDS GeneratorBasedBuilder) with VERSION,
    RELEASE_NOTES, DEFAULT_SIZES, DESCRIPTION, CITATION, `features()` (the
    record's TFDS features) and `generate(seed, split, index)` (one record:
    a dict of numpy arrays with at least image [H, W, 3], questions [Q, ...],
    answers [Q] and question_types [Q]);
  - a `GeneratedDataset` naming that builder, Q, the dtype of a batch's
    questions and a function making the `DatasetMeta`,

and takes its module functions (builder, prepare, prepare_command,
get_dataset, get_split, nominal_meta) from the `GeneratedDataset`.

A variant (sizes and seed, `Sizes`) is a TFDS builder config named 'default'
for the dataset's DEFAULT_SIZES, else e.g. 'train100_test7_seed3'. It is
written once to DATA_DIR/NAME/CONFIG/VERSION as ArrayRecord, one record per
image, record i of a split being image i, and read back with
`tfds.data_source` and grain, without TensorFlow.

Config fields read by `get_dataset` (an ml_collections.ConfigDict; NAME is
the dataset's name, e.g. 'sort_of_clevr'):
  data_dir: str, root of prepared datasets ('~' is expanded).
  prepare_if_missing: bool, generate the data if it is not in data_dir.
  NAME.num_train_images, NAME.num_test_images, NAME.seed: int, the variant.
  batch_size: int, global training batch size.
  eval_batch_size: int, global evaluation batch size.
  data_seed: int, training shuffle seed.
  data_threads: int, grain read threads per iterator (0: no threads).
  data_workers: int, grain worker processes for training batches (0: none).
  questions_per_image: int, questions of one image per train example,
    sharing one image encoding (a divisor of Q and of the per-process
    batch; 1: every question its own example).
"""

import abc
from collections.abc import Callable, Iterator, Sequence
import dataclasses
import logging
import os
from typing import Any, ClassVar

import numpy as np
import tensorflow_datasets as tfds

from hardattn import errors
from hardattn.datasets import pipeline

SPLITS = ('train', 'test')
SPLIT_IDS = {'train': 0, 'test': 1}  # The generators' seed component.
DEFAULT_CONFIG_NAME = 'default'


@dataclasses.dataclass(frozen=True)
class Sizes:
  """A variant of a generated dataset."""
  num_train_images: int
  num_test_images: int
  seed: int


def draw_objects(image_size: int, half_size: int, palette: np.ndarray,
                 colors: np.ndarray, shapes: np.ndarray,
                 centers: np.ndarray) -> np.ndarray:
  """Draws squares and circles on a white image.

  Object i has colour palette[colors[i]] and integer centre (x, y); a
  square (shape 0) fills the box of pixels x-h..x+h-1, y-h..y+h-1 (h the
  half size); a circle (shape 1) the pixels of that box whose centres
  (i + 0.5) lie within h of (x, y). Objects with colour -1 are skipped.

  Args:
    image_size: S, the image is [S, S, 3].
    half_size: h.
    palette: uint8 [num_colors, 3].
    colors: int [n] palette index of object i (-1: padding).
    shapes: int [n] 0 square, 1 circle.
    centers: int [n, 2] centre (x, y); boxes lie inside the image.

  Returns:
    uint8 [S, S, 3].
  """
  offsets = np.arange(2 * half_size) + 0.5 - half_size  # Pixel - centre.
  masks = (np.ones((2 * half_size, 2 * half_size), dtype=bool),
           offsets[:, None]**2 + offsets[None, :]**2 <= half_size**2)
  image = np.full((image_size, image_size, 3), 255, dtype=np.uint8)
  for color, shape, (x, y) in zip(colors, shapes, centers):
    if color < 0:
      continue
    patch = image[y - half_size:y + half_size, x - half_size:x + half_size]
    patch[masks[shape]] = palette[color]
  return image


class Config(tfds.core.BuilderConfig):
  """The TFDS builder config of a variant."""

  def __init__(self, *, name: str, num_train_images: int,
               num_test_images: int, seed: int, **kwargs):
    super().__init__(
        name=name,
        description=(f'{num_train_images} train / {num_test_images} test '
                     f'images, seed {seed}.'),
        **kwargs)
    self.num_train_images = num_train_images
    self.num_test_images = num_test_images
    self.seed = seed


def tensor(shape: tuple[int, ...], dtype: Any, *, zlib: bool = False
           ) -> tfds.features.Tensor:
  """A Tensor feature stored as raw bytes, or zlib'd (for images)."""
  encoding = (tfds.features.Encoding.ZLIB if zlib
              else tfds.features.Encoding.BYTES)
  return tfds.features.Tensor(shape=shape, dtype=dtype, encoding=encoding)


class Builder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """A generated dataset: one record per image, 'train' and 'test' splits.

  Subclasses set VERSION, RELEASE_NOTES, DEFAULT_SIZES, DESCRIPTION and
  CITATION and define `features` and `generate`; the 'default' builder
  config (DEFAULT_SIZES) is made here. TFDS names the dataset after the
  subclass ('SortOfClevr' -> 'sort_of_clevr').
  """

  DEFAULT_SIZES: ClassVar[Sizes]
  DESCRIPTION: ClassVar[str]
  CITATION: ClassVar[str]

  def __init_subclass__(cls, **kwargs):
    cls.BUILDER_CONFIGS = [
        Config(name=DEFAULT_CONFIG_NAME,
               **dataclasses.asdict(cls.DEFAULT_SIZES))]
    cls.DEFAULT_CONFIG_NAME = DEFAULT_CONFIG_NAME
    super().__init_subclass__(**kwargs)

  @abc.abstractmethod
  def features(self) -> dict[str, tfds.features.FeatureConnector]:
    """The record's features, by key."""

  @abc.abstractmethod
  def generate(self, seed: int, split: str, index: int
               ) -> dict[str, np.ndarray]:
    """Record (image) `index` of `split` of the variant with `seed`."""

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=self.DESCRIPTION,
        features=tfds.features.FeaturesDict(self.features()),
        citation=self.CITATION,
        # Record i is image i (TFDS would otherwise shuffle by key hash).
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Generated, nothing to download.
    config = self.builder_config
    return {
        'train': self._generate_examples('train', config.num_train_images),
        'test': self._generate_examples('test', config.num_test_images),
    }

  def _generate_examples(self, split: str, num_images: int):
    seed = self.builder_config.seed
    for index in range(num_images):
      yield index, self.generate(seed, split, index)


# (record, question index) -> (object_boxes float32 [O, 4], object_roles
# int32 [O]), see `hardattn.attention_quality`.
ObjectsFn = Callable[[dict[str, np.ndarray], int],
                     tuple[np.ndarray, np.ndarray]]


class QuestionSource(Sequence):
  """Examples of `group` questions each over an image-level data source.

  With group 1 (evaluation, and training by default) example e is question
  e % Q of image e // Q. With group g > 1 (training with
  `config.questions_per_image`) example e holds g questions of image
  e // (Q / g), so the image is encoded once for all of them: the image's
  questions are taken in a fixed order shuffled per image (so a group mixes
  question kinds) and cut into Q / g groups. The question fields then have a
  leading [g] axis; `pipeline.flatten_question_groups` spreads them out
  after batching. Images are read on demand, and the last few are cached (an
  in-order pass reads each image once). Picklable, for grain's worker
  processes.
  """

  def __init__(self, images: Sequence[dict[str, np.ndarray]], *,
               num_questions: int, question_dtype: Any,
               cache_size: int = 32, group: int = 1,
               objects_fn: ObjectsFn | None = None):
    """Initializes the source.

    Args:
      images: the records, each with image [H, W, 3], questions [Q, ...],
        answers [Q] and question_types [Q].
      num_questions: Q.
      question_dtype: dtype of an example's question.
      cache_size: records kept in memory.
      group: questions per example, a divisor of Q.
      objects_fn: (record, question index) -> (object_boxes [O, 4],
        object_roles [O]), added to every example (group 1 only) for the
        attention-quality metric (`hardattn.attention_quality`); None adds
        nothing.
    """
    if objects_fn is not None and group != 1:
      raise ValueError('objects_fn needs one question per example.')
    self._objects_fn = objects_fn
    if group < 1 or num_questions % group:
      raise errors.UserError(
          f'config.questions_per_image={group} must divide the {num_questions}'
          ' questions of each image.')
    self._images = images
    self._num_questions = num_questions
    self._question_dtype = question_dtype
    self._group = group
    self._read = pipeline.CachedReader(images, cache_size)

  def __len__(self) -> int:
    return len(self._images) * (self._num_questions // self._group)

  def __getitem__(self, index: int) -> dict[str, Any]:
    if not 0 <= index < len(self):
      raise IndexError(index)
    groups = self._num_questions // self._group
    image_index, g = divmod(int(index), groups)
    record = self._read[image_index]
    if self._group == 1:
      q = g
    else:  # a fixed per-image order, the same in every epoch and process
      order = np.random.default_rng(image_index).permutation(
          self._num_questions)
      q = np.sort(order[g * self._group:(g + 1) * self._group])
    example = {
        'image': record['image'],
        'question': record['questions'][q].astype(self._question_dtype),
        'answer': np.asarray(record['answers'][q], np.int32),
        'question_type': np.asarray(record['question_types'][q], np.int32),
    }
    if self._objects_fn is not None:
      boxes, roles = self._objects_fn(record, int(q))
      example['object_boxes'] = np.asarray(boxes, np.float32)
      example['object_roles'] = np.asarray(roles, np.int32)
    return example


@dataclasses.dataclass(frozen=True)
class GeneratedDataset:
  """Preparation and input pipeline of one generated dataset.

  Attributes:
    builder_class: the dataset's `Builder` subclass.
    title: the dataset's name in messages, e.g. 'Sort-of-CLEVR'.
    num_questions: Q, questions per image.
    question_dtype: dtype of the questions in batches (np.float32 for
      vectors, np.int32 for tokens).
    meta_fn: (num_train_images, num_test_images) -> the DatasetMeta.
    objects_fn: where the objects of a question are, for the attention
      metric on the eval split (see `QuestionSource`); None: not known.
  """
  builder_class: type[Builder]
  title: str
  num_questions: int
  question_dtype: Any
  meta_fn: Callable[[int, int], pipeline.DatasetMeta]
  objects_fn: ObjectsFn | None = None

  @property
  def name(self) -> str:
    """The TFDS name, also `config.dataset` and the config's sub-dict."""
    return self.builder_class.name

  @property
  def defaults(self) -> Sizes:
    return self.builder_class.DEFAULT_SIZES

  def sizes(self, num_train_images: int | None = None,
            num_test_images: int | None = None,
            seed: int | None = None) -> Sizes:
    """A variant; None takes the default."""
    d = self.defaults
    return Sizes(
        num_train_images=(d.num_train_images if num_train_images is None
                          else num_train_images),
        num_test_images=(d.num_test_images if num_test_images is None
                         else num_test_images),
        seed=d.seed if seed is None else seed)

  def config_name(self, num_train_images: int | None = None,
                  num_test_images: int | None = None,
                  seed: int | None = None) -> str:
    """'default' for the default sizes, else e.g. 'train100_test7_seed3'."""
    s = self.sizes(num_train_images, num_test_images, seed)
    if s == self.defaults:
      return DEFAULT_CONFIG_NAME
    return (f'train{s.num_train_images}_test{s.num_test_images}_'
            f'seed{s.seed}')

  def builder(self, data_dir: str, *, num_train_images: int | None = None,
              num_test_images: int | None = None,
              seed: int | None = None) -> Builder:
    """The builder of a variant, stored under `data_dir` (not prepared)."""
    sizes = self.sizes(num_train_images, num_test_images, seed)
    name = self.config_name(**dataclasses.asdict(sizes))
    if name == DEFAULT_CONFIG_NAME:
      config = name
    else:
      config = Config(name=name, **dataclasses.asdict(sizes))
    with pipeline.no_custom_config_warning():
      return self.builder_class(data_dir=os.path.expanduser(data_dir),
                                config=config, file_format='array_record')

  def prepare(self, data_dir: str, *, num_train_images: int | None = None,
              num_test_images: int | None = None,
              seed: int | None = None) -> Builder:
    """Generates and writes a variant unless it is already there.

    Args:
      data_dir: root directory of prepared datasets ('~' is expanded).
      num_train_images: images in the 'train' split (None: the default).
      num_test_images: images in the 'test' split (None: the default).
      seed: generation seed (None: the default).

    Returns:
      The prepared builder; `builder.data_dir` is where the data are.
    """
    b = self.builder(data_dir, num_train_images=num_train_images,
                     num_test_images=num_test_images, seed=seed)
    if b.is_prepared():
      logging.info('%s already prepared in %s', self.title, b.data_dir)
      return b
    tfds.disable_progress_bar()
    logging.info('Generating %s into %s', self.title, b.data_dir)
    b.download_and_prepare(file_format='array_record')
    logging.info('Wrote %s to %s', self.title, b.data_dir)
    return b

  def prepare_command(self, data_dir: str,
                      num_train_images: int | None = None,
                      num_test_images: int | None = None,
                      seed: int | None = None) -> str:
    """The shell command that prepares a variant."""
    sizes = self.sizes(num_train_images, num_test_images, seed)
    command = (f'python -m hardattn.prepare --dataset={self.name} '
               f'--data_dir={data_dir}')
    for flag, value in dataclasses.asdict(sizes).items():
      if value != getattr(self.defaults, flag):
        command += f' --{flag}={value}'
    return command

  def question_source(self, images: Sequence[dict[str, np.ndarray]],
                      group: int = 1, objects: bool = False
                      ) -> QuestionSource:
    """The example source over a split's records, `group` questions each
    (with `objects`, the objects' boxes and roles too)."""
    return QuestionSource(
        images, num_questions=self.num_questions,
        question_dtype=self.question_dtype, group=group,
        objects_fn=self.objects_fn if objects else None)

  def config_sizes(self, config: Any) -> Sizes:
    """The variant `config.NAME` asks for."""
    sub = config[self.name]
    return Sizes(num_train_images=sub.num_train_images,
                 num_test_images=sub.num_test_images, seed=sub.seed)

  def nominal_meta(self, config: Any) -> pipeline.DatasetMeta:
    """The DatasetMeta of the configured variant (reads no data)."""
    sizes = self.config_sizes(config)
    return self.meta_fn(sizes.num_train_images, sizes.num_test_images)

  def open(self, config: Any) -> Builder:
    """The prepared builder, generating the data if allowed.

    Raises:
      errors.DatasetNotFoundError: the data are not prepared and
        config.prepare_if_missing is false.
    """
    sizes = dataclasses.asdict(self.config_sizes(config))
    data_dir = os.path.expanduser(config.data_dir)
    b = self.builder(data_dir, **sizes)
    if not b.is_prepared():
      if not config.prepare_if_missing:
        raise errors.DatasetNotFoundError(
            f'{self.title} is not prepared in {b.data_dir}. Prepare it with\n'
            f'  {self.prepare_command(data_dir, **sizes)}\n'
            'or set config.prepare_if_missing=True.')
      logging.info('%s not found in %s; preparing it.', self.title,
                   b.data_dir)
      b = self.prepare(data_dir, **sizes)
    return b

  def get_dataset(
      self, config: Any, *, process_index: int = 0, process_count: int = 1
  ) -> tuple[Iterator[pipeline.Batch],
             Callable[[], Iterator[pipeline.Batch]], pipeline.DatasetMeta]:
    """Train iterator, eval iterable factory and metadata for this process.

    Args:
      config: ConfigDict with the fields listed in the module docstring.
      process_index: this process's index.
      process_count: number of processes.

    Returns:
      (train_iter, eval_iter_fn, meta). train_iter yields endless shuffled
      batches {image uint8 [b, H, W, 3], question [b, ...] (question_dtype),
      answer int32 [b], question_type int32 [b], mask bool [b]} with b =
      batch_size // process_count (the image: [b // questions_per_image, H,
      W, 3], each image answering consecutive questions), and supports
      get_state()/set_state().
      eval_iter_fn() returns a fresh in-order pass over this process's share
      of the 'test' split, in batches of eval_batch_size // process_count,
      padded with zeros (mask False); with the dataset's `objects_fn`, its
      batches add object_boxes [b, O, 4] and object_roles [b, O].

    Raises:
      errors.DatasetNotFoundError: the data are not prepared and
        config.prepare_if_missing is false.
      errors.UserError: a batch size is not divisible by process_count, or
        questions_per_image does not divide Q and the batch.
    """
    train_batch = pipeline.per_process_batch_size(
        config.batch_size, process_count, 'batch_size')
    eval_batch = pipeline.per_process_batch_size(
        config.eval_batch_size, process_count, 'eval_batch_size')
    group = pipeline.questions_per_image(config, train_batch)
    b = self.open(config)
    train_iter = pipeline.train_iterator(
        self.question_source(b.as_data_source('train'), group),
        batch_size=train_batch // group,
        questions_per_example=group,
        seed=config.data_seed,
        process_index=process_index,
        process_count=process_count,
        num_threads=config.data_threads,
        num_workers=config.data_workers)
    eval_iter_fn = pipeline.eval_iterable_fn(
        self.question_source(b.as_data_source('test'), objects=True),
        batch_size=eval_batch,
        process_index=process_index,
        process_count=process_count,
        num_threads=config.data_threads)
    return train_iter, eval_iter_fn, self.nominal_meta(config)

  def get_split(self, config: Any, split: str, *, batch_size: int
                ) -> tuple[Callable[[], Iterator[pipeline.Batch]],
                           pipeline.DatasetMeta]:
    """An in-order pass over split 'train' or 'test', padded batches."""
    if split not in SPLITS:
      raise errors.UserError(
          f"{self.title} has splits 'train' and 'test', not {split!r}.")
    source = self.question_source(self.open(config).as_data_source(split))
    iter_fn = pipeline.eval_iterable_fn(source, batch_size=batch_size,
                                        num_threads=config.data_threads)
    return iter_fn, self.nominal_meta(config)
