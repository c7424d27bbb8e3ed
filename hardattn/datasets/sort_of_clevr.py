"""Sort-of-CLEVR (Santoro et al. 2017): generator, TFDS builder and pipeline.

Each 75x75 RGB image (white background) holds 6 objects, one per colour
(`COLOR_NAMES`), each a rectangle (square) or a circle of half-size 5 px with
integer centre (x, y) uniform in [5, 70); the objects' bounding boxes do not
overlap. The centre of a rectangle covers pixels x-5..x+4 (likewise in y);
a circle covers the pixels whose centres (i + 0.5) lie within 5 px of (x, y).
Layouts where an object's closest or furthest other object is tied are
resampled, so every answer is unambiguous.

Each image has 20 questions, 10 non-relational then 10 relational, each with
a random colour c and subtype. A question is an 11-bit vector: bits 0-5 the
colour one-hot, bit 6 non-relational, bit 7 relational, bits 8-10 the subtype
one-hot. Answers (`ANSWER_NAMES`): 0 yes, 1 no, 2 rectangle, 3 circle,
4..9 counts 1..6. Question types (`QUESTION_TYPES`), indices 0..5:
  non-relational: 0 shape of c; 1 is c on the left (x < 37.5);
    2 is c on the top (y < 37.5);
  relational: 3 shape of the object closest to c; 4 shape of the object
    furthest from c; 5 number of objects with the same shape as c (c
    included).

Image i of split s is generated from `np.random.default_rng([seed, s, i])`
(s: 0 train, 1 test), so generation does not depend on order.

Data are stored as a TFDS dataset (ArrayRecord, one record per image) with
`prepare` or `python -m hardattn.prepare --dataset=sort_of_clevr
--data_dir=DIR`, and read back without TensorFlow (the plumbing is
`hardattn.datasets.generated`'s).

Config fields read by `get_dataset` (an ml_collections.ConfigDict):
  data_dir: str, root of prepared datasets ('~' is expanded).
  prepare_if_missing: bool, generate the data if it is not in data_dir.
  sort_of_clevr.num_train_images: int (default dataset: 9800).
  sort_of_clevr.num_test_images: int (default dataset: 200).
  sort_of_clevr.seed: int (default dataset: 0).
  batch_size: int, global training batch size.
  eval_batch_size: int, global evaluation batch size.
  data_seed: int, training shuffle seed.
  data_threads: int, grain read threads per iterator (0: no threads).
  data_workers: int, grain worker processes for training batches (0: none).
"""

from collections.abc import Callable, Mapping
import dataclasses
import functools
import re
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from hardattn import attention_quality
from hardattn import errors
from hardattn.datasets import generated
from hardattn.datasets import inputs as inputs_lib
from hardattn.datasets import pipeline

NAME = 'sort_of_clevr'
IMAGE_SIZE = 75
HALF_SIZE = 5
NUM_OBJECTS = 6
NUM_QUESTIONS = 20
NUM_NON_RELATIONAL = 10
QUESTION_DIM = 11

COLOR_NAMES = ('red', 'green', 'blue', 'orange', 'gray', 'yellow')
COLORS = np.array(
    [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 156, 0), (128, 128, 128),
     (255, 255, 0)], dtype=np.uint8)
RECTANGLE, CIRCLE = 0, 1
SHAPE_NAMES = ('rectangle', 'circle')

ANSWER_NAMES = ('yes', 'no', 'rectangle', 'circle', '1', '2', '3', '4', '5',
                '6')
YES, NO = 0, 1
FIRST_SHAPE_ANSWER = 2  # Answer of shape s: 2 + s.
FIRST_COUNT_ANSWER = 4  # Answer of count n: 4 + n - 1.

QUESTION_TYPES = ('non_relational/shape', 'non_relational/horizontal',
                  'non_relational/vertical', 'relational/closest',
                  'relational/furthest', 'relational/count')
NON_RELATIONAL_BIT = 6
RELATIONAL_BIT = 7
FIRST_SUBTYPE_BIT = 8

SPLIT_IDS = generated.SPLIT_IDS
DEFAULT_NUM_TRAIN_IMAGES = 9800
DEFAULT_NUM_TEST_IMAGES = 200
DEFAULT_SEED = 0

_DESCRIPTION = __doc__.split('\n\n')[0]
_CENTER_LOW, _CENTER_HIGH = HALF_SIZE, IMAGE_SIZE - HALF_SIZE  # [5, 70).
_MIDDLE = IMAGE_SIZE / 2  # 37.5
_SIZE = 2 * HALF_SIZE


@dataclasses.dataclass(frozen=True)
class Scene:
  """One generated image with its questions.

  Attributes:
    image: uint8 [75, 75, 3].
    questions: uint8 [20, 11] question vectors.
    answers: int32 [20] answer classes.
    question_types: int32 [20] indices into QUESTION_TYPES.
    object_shapes: int32 [6] shape (0 rectangle, 1 circle) of the object of
      colour i.
    object_centers: int32 [6, 2] centre (x, y) of the object of colour i.
  """
  image: np.ndarray
  questions: np.ndarray
  answers: np.ndarray
  question_types: np.ndarray
  object_shapes: np.ndarray
  object_centers: np.ndarray

  def as_dict(self) -> dict[str, np.ndarray]:
    return dataclasses.asdict(self)


def _has_tied_neighbours(sq_dist: np.ndarray) -> bool:
  """Whether some object's closest or furthest other object is tied."""
  for i in range(NUM_OBJECTS):
    others = np.delete(sq_dist[i], i)
    if (others == others.min()).sum() > 1 or (
        others == others.max()).sum() > 1:
      return True
  return False


def _sample_layout(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
  """Samples non-overlapping centres [6, 2] (x, y) and shapes [6]."""
  while True:
    centers = np.zeros((NUM_OBJECTS, 2), dtype=np.int32)
    for i in range(NUM_OBJECTS):
      while True:
        center = rng.integers(_CENTER_LOW, _CENTER_HIGH, size=2)
        # Bounding boxes [c - 5, c + 5) are disjoint.
        if i == 0 or np.abs(centers[:i] - center).max(axis=1).min() >= _SIZE:
          break
      centers[i] = center
    diff = centers[:, None, :] - centers[None, :, :]
    sq_dist = (diff**2).sum(-1)
    if not _has_tied_neighbours(sq_dist):
      break
  shapes = rng.integers(0, 2, size=NUM_OBJECTS).astype(np.int32)
  return centers, shapes


def render(centers: np.ndarray, shapes: np.ndarray) -> np.ndarray:
  """Draws the objects.

  Args:
    centers: int [6, 2] centre (x, y) of the object of colour i.
    shapes: int [6] shape of the object of colour i.

  Returns:
    uint8 [75, 75, 3] image, white background.
  """
  return generated.draw_objects(IMAGE_SIZE, HALF_SIZE, COLORS,
                                np.arange(len(shapes)), shapes, centers)


def related_object(question_type: int, color: int,
                   centers: np.ndarray) -> int:
  """The object closest to (type 3) or furthest from (type 4) `color`.

  Args:
    question_type: 3 or 4 (`QUESTION_TYPES`).
    color: the colour (object) asked about.
    centers: int [6, 2] object centres (x, y).

  Returns:
    The other object's index (colour).
  """
  sq_dist = ((centers - centers[color])**2).sum(-1).astype(np.float64)
  if question_type == 3:
    sq_dist[color] = np.inf
    return int(np.argmin(sq_dist))
  if question_type == 4:
    sq_dist[color] = -np.inf
    return int(np.argmax(sq_dist))
  raise ValueError(f'Question type {question_type} relates no object.')


def answer_question(question_type: int, color: int, centers: np.ndarray,
                    shapes: np.ndarray) -> int:
  """The answer class of one question about a layout.

  Args:
    question_type: index into QUESTION_TYPES.
    color: the colour (object) asked about.
    centers: int [6, 2] object centres (x, y).
    shapes: int [6] object shapes.

  Returns:
    Answer class, an index into ANSWER_NAMES.
  """
  x, y = centers[color]
  if question_type == 0:
    return FIRST_SHAPE_ANSWER + int(shapes[color])
  if question_type == 1:
    return YES if x < _MIDDLE else NO
  if question_type == 2:
    return YES if y < _MIDDLE else NO
  if question_type in (3, 4):
    other = related_object(question_type, color, centers)
    return FIRST_SHAPE_ANSWER + int(shapes[other])
  if question_type == 5:
    count = int((shapes == shapes[color]).sum())
    return FIRST_COUNT_ANSWER + count - 1
  raise ValueError(f'Unknown question type {question_type}.')


def question_objects(record: Mapping[str, np.ndarray], q: int
                     ) -> tuple[np.ndarray, np.ndarray]:
  """Where the objects of question `q` of an image record are, and their
  roles (`hardattn.attention_quality`): the object of the question's colour
  is asked; the closest or furthest one is needed too, and every object by
  a count question.

  Returns:
    float32 [6, 4] pixel boxes (x0, y0, x1, y1), int32 [6] roles.
  """
  centers = np.asarray(record['object_centers'])
  question_type, color = decode_question(record['questions'][q])
  roles = np.full(NUM_OBJECTS, attention_quality.OTHER, np.int32)
  if question_type == 5:
    roles[:] = attention_quality.RELEVANT
  elif question_type in (3, 4):
    roles[related_object(question_type, color, centers)] = (
        attention_quality.RELEVANT)
  roles[color] = attention_quality.ASKED
  return attention_quality.boxes_of_squares(centers, HALF_SIZE), roles


def question_vector(question_type: int, color: int) -> np.ndarray:
  """The uint8 [11] vector of a question about colour `color`."""
  vec = np.zeros(QUESTION_DIM, dtype=np.uint8)
  vec[color] = 1
  relational, subtype = divmod(question_type, 3)
  vec[RELATIONAL_BIT if relational else NON_RELATIONAL_BIT] = 1
  vec[FIRST_SUBTYPE_BIT + subtype] = 1
  return vec


def decode_question(vec: np.ndarray) -> tuple[int, int]:
  """Inverse of `question_vector`.

  Args:
    vec: [11] question vector (any numeric dtype, 0/1 values).

  Returns:
    (question_type, color).

  Raises:
    ValueError: if `vec` is not a valid question vector.
  """
  bits = np.asarray(vec).reshape(-1) > 0.5
  if bits.shape != (QUESTION_DIM,):
    raise ValueError(f'Expected an [{QUESTION_DIM}] vector, got {vec!r}.')
  colors = np.flatnonzero(bits[:NUM_OBJECTS])
  kinds = np.flatnonzero(bits[NON_RELATIONAL_BIT:FIRST_SUBTYPE_BIT])
  subtypes = np.flatnonzero(bits[FIRST_SUBTYPE_BIT:])
  if len(colors) != 1 or len(kinds) != 1 or len(subtypes) != 1:
    raise ValueError(f'Not a Sort-of-CLEVR question vector: {vec!r}.')
  return int(kinds[0]) * 3 + int(subtypes[0]), int(colors[0])


_QUESTION_TEMPLATES = (
    'What is the shape of the {} object?',
    'Is the {} object on the left?',
    'Is the {} object on the top?',
    'What is the shape of the object closest to the {} object?',
    'What is the shape of the object furthest from the {} object?',
    'How many objects have the same shape as the {} object?',
)


def question_text(vec: np.ndarray) -> str:
  """A readable question from a [11] question vector."""
  question_type, color = decode_question(vec)
  return _QUESTION_TEMPLATES[question_type].format(COLOR_NAMES[color])


def generate_layout(seed: int, split: str, index: int
                    ) -> dict[str, np.ndarray]:
  """Image `index` of `split` without its pixels: `Scene`'s fields but
  `image` (the same random draws as `generate_scene`)."""
  rng = np.random.default_rng([seed, SPLIT_IDS[split], index])
  centers, shapes = _sample_layout(rng)
  colors = rng.integers(0, NUM_OBJECTS, size=NUM_QUESTIONS)
  subtypes = rng.integers(0, 3, size=NUM_QUESTIONS)
  relational = np.arange(NUM_QUESTIONS) >= NUM_NON_RELATIONAL
  question_types = (3 * relational + subtypes).astype(np.int32)
  questions = np.stack(
      [question_vector(t, c) for t, c in zip(question_types, colors)])
  answers = np.array(
      [answer_question(t, c, centers, shapes)
       for t, c in zip(question_types, colors)], dtype=np.int32)
  return dict(questions=questions, answers=answers,
              question_types=question_types, object_shapes=shapes,
              object_centers=centers)


def generate_scene(seed: int, split: str, index: int) -> Scene:
  """Generates image `index` of `split` ('train' or 'test')."""
  layout = generate_layout(seed, split, index)
  return Scene(image=render(layout['object_centers'],
                            layout['object_shapes']), **layout)


# ---------------------------------------------------------------- TFDS ----


class SortOfClevr(generated.Builder):
  """Sort-of-CLEVR, one record per image with its 20 questions."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  DEFAULT_SIZES = generated.Sizes(
      num_train_images=DEFAULT_NUM_TRAIN_IMAGES,
      num_test_images=DEFAULT_NUM_TEST_IMAGES, seed=DEFAULT_SEED)
  DESCRIPTION = _DESCRIPTION
  CITATION = 'Santoro et al. 2017, arXiv:1706.01427.'

  def features(self) -> dict[str, tfds.features.FeatureConnector]:
    tensor = generated.tensor
    return {
        'image': tensor((IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8, zlib=True),
        'questions': tensor((NUM_QUESTIONS, QUESTION_DIM), np.uint8),
        'answers': tensor((NUM_QUESTIONS,), np.int32),
        'question_types': tensor((NUM_QUESTIONS,), np.int32),
        'object_shapes': tensor((NUM_OBJECTS,), np.int32),
        'object_centers': tensor((NUM_OBJECTS, 2), np.int32),
    }

  def generate(self, seed: int, split: str, index: int
               ) -> dict[str, np.ndarray]:
    return generate_scene(seed, split, index).as_dict()


# ----------------------------------------------------------- Pipeline ----


def meta(num_train_images: int = DEFAULT_NUM_TRAIN_IMAGES,
         num_test_images: int = DEFAULT_NUM_TEST_IMAGES
         ) -> pipeline.DatasetMeta:
  """The DatasetMeta of a variant."""
  return pipeline.DatasetMeta(
      name=NAME,
      num_answers=len(ANSWER_NAMES),
      answer_names=ANSWER_NAMES,
      question_kind='vector',
      question_shape=(QUESTION_DIM,),
      vocab_size=0,
      question_types=QUESTION_TYPES,
      image_shape=(IMAGE_SIZE, IMAGE_SIZE, 3),
      num_train_examples=num_train_images * NUM_QUESTIONS,
      num_eval_examples=num_test_images * NUM_QUESTIONS,
      eval_split='test',
      question_text=question_text)


DATASET = generated.GeneratedDataset(
    builder_class=SortOfClevr, title='Sort-of-CLEVR',
    num_questions=NUM_QUESTIONS, question_dtype=np.float32, meta_fn=meta,
    objects_fn=question_objects)

# The module's API (see `generated.GeneratedDataset`): batches are {image
# uint8 [b, 75, 75, 3], question float32 [b, 11], answer int32 [b],
# question_type int32 [b], mask bool [b]}.
builder = DATASET.builder
prepare = DATASET.prepare
prepare_command = DATASET.prepare_command
config_name = DATASET.config_name
get_dataset = DATASET.get_dataset
# Every image has Q questions: train batches can share images
# (config.questions_per_image).
SHARES_IMAGES = True
get_split = DATASET.get_split
nominal_meta = DATASET.nominal_meta
SortOfClevrConfig = generated.Config
QuestionSource = functools.partial(
    generated.QuestionSource, num_questions=NUM_QUESTIONS,
    question_dtype=np.float32)


# --------------------------------------------------------- Prediction ----
# What `hardattn.predict` needs to answer a question typed in English about
# an image file (the run's `inputs` are in WORKDIR/dataset.json, see
# `hardattn.assets`).

_COLOR_WORD = 'xcolorx'  # stands for the colour while templates are parsed
_COLOR_ALIASES = {'grey': 'gray'}


def _normalize(text: str) -> str:
  """Lower case, punctuation dropped, single spaces."""
  return ' '.join(re.sub(r'[^a-z0-9]+', ' ', text.lower()).split())


_QUESTION_PATTERNS = tuple(
    re.compile('^' + re.escape(_normalize(t.format(_COLOR_WORD))).replace(
        _COLOR_WORD, '(?P<color>[a-z]+)') + '$')
    for t in _QUESTION_TEMPLATES)


def question_forms() -> list[str]:
  """The question forms `parse_question` reads, e.g. 'Is the <color>
  object on the left?'."""
  return [t.format('<color>') for t in _QUESTION_TEMPLATES]


def parse_question(text: str) -> tuple[int, int]:
  """(question_type, color) of a question as `question_text` writes it.

  Case, punctuation and spacing do not matter ('grey' is read as 'gray').

  Args:
    text: e.g. 'How many objects have the same shape as the blue object?'.

  Returns:
    (index into QUESTION_TYPES, index into COLOR_NAMES).

  Raises:
    errors.UserError: not one of the forms, or an unknown colour; the
      message lists the forms and colours.
  """
  norm = _normalize(text)
  for question_type, pattern in enumerate(_QUESTION_PATTERNS):
    match = pattern.match(norm)
    if match is None:
      continue
    color = _COLOR_ALIASES.get(match['color'], match['color'])
    if color in COLOR_NAMES:
      return question_type, COLOR_NAMES.index(color)
    raise errors.UserError(
        f'Unknown colour {match["color"]!r} in the question {text!r}: '
        f'Sort-of-CLEVR colours are {", ".join(COLOR_NAMES)}.')
  forms = '; '.join(f'"{f}"' for f in question_forms())
  raise errors.UserError(
      f'Cannot read {text!r} as a Sort-of-CLEVR question. Ask one of: '
      f'{forms}; with <color> one of {", ".join(COLOR_NAMES)} (case and '
      'punctuation do not matter).')


def encode_question(text: str, inputs: Mapping[str, Any] | None = None
                    ) -> np.ndarray:
  """The float32 [11] question vector of an English question.

  Inverse of `question_text`: encode_question(question_text(v)) == v.

  Args:
    text: a question in one of `question_forms()`.
    inputs: the run's dataset inputs (unused: the encoding is fixed).

  Returns:
    float32 [11].

  Raises:
    errors.UserError: see `parse_question`.
  """
  del inputs
  question_type, color = parse_question(inputs_lib.check_question(text))
  return question_vector(question_type, color).astype(np.float32)


def prediction_inputs(config: Any, meta_: pipeline.DatasetMeta
                      ) -> dict[str, Any]:
  """What predicting needs besides the DatasetMeta: the image size."""
  del config
  return {'image_size': list(meta_.image_shape[:2]), 'image_dtype': 'uint8'}


prepare_image = inputs_lib.prepare_image


def question_decoder(inputs: Mapping[str, Any]
                     ) -> Callable[[np.ndarray], str]:
  """meta.question_text of a run."""
  del inputs
  return question_text
