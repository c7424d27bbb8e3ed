"""Spatial reasoning, after Xu & Saenko 2016: generator, TFDS builder, pipeline.

Synthetic yes/no questions about where coloured squares are, in the spirit of
the ones SMem-VQA (Xu & Saenko, ECCV 2016) uses to show where a VQA network
looks; the questions are text (tokens), so they exercise a question LSTM and
word-guided attention.

Each 64x64 RGB image (white background) holds 2 or 3 squares (equally
likely) and exactly 1 circle (the distractor shape), all of distinct colours
from `COLOR_NAMES` (the 6 Sort-of-CLEVR colours, `COLORS`). Objects have
half-size 4 px and integer centre (x, y) in [4, 60] (x grows to the right, y
downwards): a square fills the 8x8 box of pixels x-4..x+3, y-4..y+3; a circle
the pixels of that box whose centres (i + 0.5) lie within 4 px of (x, y).
Layouts are rejection-sampled, object by object, until
  - the boxes do not overlap (max(|dx|, |dy|) >= 8 between centres);
  - no centre is within 3 px of the middle lines x = 32 and y = 32 (|x - 32|
    >= 4 and |y - 32| >= 4: every box lies inside one half, so top, bottom,
    left and right are unambiguous);
  - every pair of objects differs by >= 3 px in x and by >= 3 px in y (so
    left of / right of / above / below are unambiguous).
Objects are stored in the order squares, then the circle, padded to
`MAX_OBJECTS` = 4 with -1: object_colors int32 [4] (index into COLOR_NAMES),
object_shapes int32 [4] (0 square, 1 circle), object_centers int32 [4, 2]
(x, y).

Questions (`QUESTION_TYPES`, indices 0..7), answers (`ANSWER_NAMES`) 0 yes,
1 no:
  absolute (0 top, 1 bottom, 2 left, 3 right):
    'is there a {c} square on the {top|bottom|left|right} ?', yes iff the
    image has a square of colour c whose centre is in that half (top y < 32,
    bottom y > 32, left x < 32, right x > 32);
  relative (4 left_of, 5 right_of, 6 above, 7 below):
    'is there a {c1} square {left of|right of|above|below} the {c2}
    {square|circle} ?', where the reference (c2, its shape) is an object of
    the image and c1 != c2 (c1 any other colour, in the image or not); yes
    iff the image has a square of colour c1 whose centre is left of (x <
    x_ref), right of (x > x_ref), above (y < y_ref) or below (y > y_ref) the
    reference's centre.
Each image has 8 questions, distinct, in a random order: 4 absolute (2 yes,
2 no) and 4 relative (2 yes, 2 no). The candidates of a group are all its
(type, colour[, reference]) combinations above; the 2 yes-questions are
drawn uniformly without replacement from its yes-candidates; each
no-question is, with probability 1/2 and when one is left, a hard negative
(a no-candidate whose colour c or c1 is that of an object of the image: a
square elsewhere, or the circle), otherwise drawn uniformly from all the
no-candidates left.

Tokens (`VOCAB`): 0 '<pad>', 1 '<unk>', then the templates' words; '?' is a
token of its own. `tokenize` lower-cases, splits off '?', maps unknown words
to 1 and right-pads with 0 to `QUESTION_LENGTH` = 12 (longer questions are
an error); `question_text` is its inverse (padding dropped).

Image i of split s is generated from `np.random.default_rng([seed, s, i])`
(s: 0 train, 1 test), so generation does not depend on order.

Data are stored as a TFDS dataset (ArrayRecord, one record per image: image
zlib'd uint8 [64, 64, 3], questions int32 [8, 12], answers int32 [8],
question_types int32 [8] and the objects) with `prepare` or `python -m
hardattn.prepare --dataset=spatial --data_dir=DIR`, and read back without
TensorFlow (the plumbing is `hardattn.datasets.generated`'s), one example
per question: batches {image uint8 [b, 64, 64, 3], question int32 [b, 12],
answer int32 [b], question_type int32 [b], mask bool [b]}.

Config fields read by `get_dataset` (an ml_collections.ConfigDict):
  data_dir: str, root of prepared datasets ('~' is expanded).
  prepare_if_missing: bool, generate the data if it is not in data_dir.
  spatial.num_train_images: int (default dataset: 10000).
  spatial.num_test_images: int (default dataset: 1000).
  spatial.seed: int (default dataset: 0).
  batch_size: int, global training batch size.
  eval_batch_size: int, global evaluation batch size.
  data_seed: int, training shuffle seed.
  data_threads: int, grain read threads per iterator (0: no threads).
  data_workers: int, grain worker processes for training batches (0: none).

References:
  Xu & Saenko, Ask, Attend and Answer: Exploring Question-Guided Spatial
  Attention for Visual Question Answering, ECCV 2016, arXiv:1511.05234.
"""

from collections.abc import Mapping
import dataclasses
from typing import Any, NamedTuple

import numpy as np
import tensorflow_datasets as tfds

from hardattn import attention_quality
from hardattn.datasets import generated
from hardattn.datasets import inputs as inputs_lib
from hardattn.datasets import pipeline
from hardattn.datasets import sort_of_clevr

NAME = 'spatial'
IMAGE_SIZE = 64
HALF_SIZE = 4
MIN_SQUARES, MAX_SQUARES = 2, 3
MAX_OBJECTS = MAX_SQUARES + 1
NUM_QUESTIONS = 8
QUESTION_LENGTH = 12
MIDDLE_MARGIN = 4  # |x - 32| and |y - 32| of every centre are at least this.
MIN_SEPARATION = 3  # |dx| and |dy| of every pair of centres are at least.

COLOR_NAMES = sort_of_clevr.COLOR_NAMES
COLORS = sort_of_clevr.COLORS
NUM_COLORS = len(COLOR_NAMES)
SQUARE, CIRCLE = 0, 1
SHAPE_NAMES = ('square', 'circle')

ANSWER_NAMES = ('yes', 'no')
YES, NO = 0, 1
QUESTION_TYPES = ('absolute/top', 'absolute/bottom', 'absolute/left',
                  'absolute/right', 'relative/left_of', 'relative/right_of',
                  'relative/above', 'relative/below')
ABSOLUTE_TYPES = (0, 1, 2, 3)
RELATIVE_TYPES = (4, 5, 6, 7)
YES_PER_GROUP = 2
NO_PER_GROUP = 2
_WHERE = ('top', 'bottom', 'left', 'right', 'left of', 'right of', 'above',
          'below')  # The words of question type t.

PAD, UNK = 0, 1
VOCAB = ('<pad>', '<unk>', 'is', 'there', 'a', 'square', 'circle', 'on',
         'the', 'top', 'bottom', 'left', 'right', 'of', 'above', 'below',
         '?') + COLOR_NAMES
_TOKEN_IDS = {word: i for i, word in enumerate(VOCAB)}

SPLIT_IDS = generated.SPLIT_IDS
DEFAULT_NUM_TRAIN_IMAGES = 10_000
DEFAULT_NUM_TEST_IMAGES = 1_000
DEFAULT_SEED = 0

_DESCRIPTION = __doc__.split('\n\n')[0]
_CENTER_LOW, _CENTER_HIGH = HALF_SIZE, IMAGE_SIZE - HALF_SIZE  # [4, 60].
_MIDDLE = IMAGE_SIZE // 2  # 32
_SIZE = 2 * HALF_SIZE


class Question(NamedTuple):
  """One question, before tokenization.

  Attributes:
    question_type: index into QUESTION_TYPES.
    color: the square's colour asked about (c, or c1 of relative questions).
    reference_color: relative questions: the reference's colour (c2); -1
      for absolute questions.
    reference_shape: relative questions: the reference's shape; -1 for
      absolute questions.
  """
  question_type: int
  color: int
  reference_color: int = -1
  reference_shape: int = -1

  def text(self) -> str:
    """E.g. 'is there a red square left of the blue circle ?'."""
    where = _WHERE[self.question_type]
    start = f'is there a {COLOR_NAMES[self.color]} square'
    if self.question_type in ABSOLUTE_TYPES:
      return f'{start} on the {where} ?'
    return (f'{start} {where} the {COLOR_NAMES[self.reference_color]} '
            f'{SHAPE_NAMES[self.reference_shape]} ?')


@dataclasses.dataclass(frozen=True)
class Scene:
  """One generated image with its questions.

  Attributes:
    image: uint8 [64, 64, 3].
    questions: int32 [8, 12] tokens.
    answers: int32 [8] answer classes (0 yes, 1 no).
    question_types: int32 [8] indices into QUESTION_TYPES.
    object_colors: int32 [4] colour of object i (squares, then the circle),
      -1 for padding.
    object_shapes: int32 [4] shape (0 square, 1 circle), -1 for padding.
    object_centers: int32 [4, 2] centre (x, y), -1 for padding.
  """
  image: np.ndarray
  questions: np.ndarray
  answers: np.ndarray
  question_types: np.ndarray
  object_colors: np.ndarray
  object_shapes: np.ndarray
  object_centers: np.ndarray

  def as_dict(self) -> dict[str, np.ndarray]:
    return dataclasses.asdict(self)


# ------------------------------------------------------------- Tokens ----


def split_words(text: str) -> list[str]:
  """Lower-cased words, '?' a word of its own."""
  return text.lower().replace('?', ' ? ').split()


def tokenize(text: str) -> np.ndarray:
  """Token ids of a question.

  Args:
    text: e.g. 'Is there a red square on the top?'.

  Returns:
    int32 [12]: lower-cased words and '?', unknown words UNK (1), padded
    with PAD (0).

  Raises:
    ValueError: the question has more than QUESTION_LENGTH tokens.
  """
  words = split_words(text)
  if len(words) > QUESTION_LENGTH:
    raise ValueError(
        f'Question {text!r} has {len(words)} tokens, more than '
        f'QUESTION_LENGTH={QUESTION_LENGTH}.')
  tokens = np.full(QUESTION_LENGTH, PAD, dtype=np.int32)
  tokens[:len(words)] = [_TOKEN_IDS.get(word, UNK) for word in words]
  return tokens


def question_text(tokens: np.ndarray) -> str:
  """The words of int [12] tokens (PAD dropped), e.g. 'is there a ... ?'."""
  ids = [int(t) for t in np.asarray(tokens).reshape(-1)]
  if any(not 0 <= t < len(VOCAB) for t in ids):
    raise ValueError(f'Not a token sequence of this vocabulary: {tokens!r}.')
  return ' '.join(VOCAB[t] for t in ids if t != PAD)


# ---------------------------------------------------------- Generator ----


def _fits(center: np.ndarray, others: np.ndarray) -> bool:
  """Whether a centre [2] obeys the layout rules with centres [k, 2]."""
  if (np.abs(center - _MIDDLE) < MIDDLE_MARGIN).any():
    return False
  dist = np.abs(others - center)  # [k, 2]
  return bool((dist.max(axis=1) >= _SIZE).all()
              and (dist >= MIN_SEPARATION).all())


def _sample_layout(rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Samples colours [n], shapes [n] and centres [n, 2] (n = 3 or 4).

  Placing object by object always succeeds: each axis has 50 allowed
  coordinates ([4, 28] and [36, 60]); an x more than 7 px from the x of
  each of the (at most 3) placed objects exists (they rule out at most
  3 * 15 = 45), and with it any allowed y at least 3 px from theirs (at
  least 50 - 3 * 5 = 35) fits.
  """
  num_squares = int(rng.integers(MIN_SQUARES, MAX_SQUARES + 1))
  num_objects = num_squares + 1
  colors = rng.choice(NUM_COLORS, size=num_objects,
                      replace=False).astype(np.int32)
  shapes = np.array([SQUARE] * num_squares + [CIRCLE], dtype=np.int32)
  centers = np.zeros((num_objects, 2), dtype=np.int32)
  for i in range(num_objects):
    while True:
      center = rng.integers(_CENTER_LOW, _CENTER_HIGH + 1, size=2)
      if _fits(center, centers[:i]):
        break
    centers[i] = center
  return colors, shapes, centers


def render(colors: np.ndarray, shapes: np.ndarray,
           centers: np.ndarray) -> np.ndarray:
  """Draws the objects.

  Args:
    colors: int [n] colour of object i; -1 (padding) objects are skipped.
    shapes: int [n] shape of object i.
    centers: int [n, 2] centre (x, y) of object i.

  Returns:
    uint8 [64, 64, 3] image, white background.
  """
  return generated.draw_objects(IMAGE_SIZE, HALF_SIZE, COLORS, colors,
                                shapes, centers)


def answer_question(question: Question, colors: np.ndarray,
                    shapes: np.ndarray, centers: np.ndarray) -> int:
  """The answer to a question about a layout.

  Args:
    question: the question; a relative question's reference must be an
      object of the layout.
    colors: int [n] object colours (-1: padding, ignored).
    shapes: int [n] object shapes.
    centers: int [n, 2] object centres (x, y).

  Returns:
    YES (0) or NO (1).

  Raises:
    ValueError: a relative question's reference is not in the layout.
  """
  objects = zip(np.asarray(colors).tolist(), np.asarray(shapes).tolist(),
                np.asarray(centers).tolist())
  objects = [(c, s, x, y) for c, s, (x, y) in objects if c >= 0]
  t = question.question_type
  if t in RELATIVE_TYPES:
    refs = [(x, y) for c, s, x, y in objects
            if c == question.reference_color
            and s == question.reference_shape]
    if not refs:
      raise ValueError(f'The reference of {question} is not in the layout.')
    ref_x, ref_y = refs[0]
  for c, s, x, y in objects:
    if c != question.color or s != SQUARE:
      continue
    if t in ABSOLUTE_TYPES:
      yes = (y < _MIDDLE, y > _MIDDLE, x < _MIDDLE, x > _MIDDLE)[t]
    else:
      yes = (x < ref_x, x > ref_x, y < ref_y, y > ref_y)[t - 4]
    if yes:
      return YES
  return NO


def candidates(colors: np.ndarray, shapes: np.ndarray
               ) -> tuple[list[Question], list[Question]]:
  """All absolute questions and all relative ones about a layout's objects.

  Args:
    colors: int [n] object colours.
    shapes: int [n] object shapes.

  Returns:
    (absolute, relative) question lists: every (type, colour) and every
    (type, c1, reference) with the reference an object and c1 != c2.
  """
  absolute = [Question(t, c) for t in ABSOLUTE_TYPES
              for c in range(NUM_COLORS)]
  relative = [Question(t, c, int(ref_color), int(ref_shape))
              for ref_color, ref_shape in zip(colors, shapes)
              for t in RELATIVE_TYPES
              for c in range(NUM_COLORS) if c != ref_color]
  return absolute, relative


def _draw_group(rng: np.random.Generator, group: list[Question],
                colors: np.ndarray, shapes: np.ndarray, centers: np.ndarray
                ) -> list[tuple[Question, int]]:
  """2 yes- and 2 no-questions of a group, as (question, answer) pairs."""
  answers = [answer_question(q, colors, shapes, centers) for q in group]
  yes = [q for q, a in zip(group, answers) if a == YES]
  no = [q for q, a in zip(group, answers) if a == NO]
  # Never short: each square is yes for 2 absolute questions (one half in
  # x, one in y) and no for 2; the circle's colour is no for all 4. Each
  # (square, other object) pair is yes for 2 relative questions (one of
  # left/right of, one of above/below) and no for the other 2. With >= 2
  # squares: >= 4 yes- and >= 8 hard no-candidates per group.
  assert len(yes) >= YES_PER_GROUP and len(no) >= NO_PER_GROUP, group
  present = set(colors.tolist())
  picked = [yes[i] for i in rng.choice(len(yes), YES_PER_GROUP,
                                       replace=False)]
  drawn_no = []
  for _ in range(NO_PER_GROUP):
    hard = rng.random() < 0.5
    left = [q for q in no if q not in drawn_no]
    hard_left = [q for q in left if q.color in present]
    pool = hard_left if hard and hard_left else left
    drawn_no.append(pool[rng.integers(len(pool))])
  return [(q, YES) for q in picked] + [(q, NO) for q in drawn_no]


def _pad(values: np.ndarray, length: int) -> np.ndarray:
  out = np.full((length,) + values.shape[1:], -1, dtype=np.int32)
  out[:len(values)] = values
  return out


def generate_scene(seed: int, split: str, index: int) -> Scene:
  """Generates image `index` of `split` ('train' or 'test')."""
  rng = np.random.default_rng([seed, SPLIT_IDS[split], index])
  colors, shapes, centers = _sample_layout(rng)
  absolute, relative = candidates(colors, shapes)
  pairs = (_draw_group(rng, absolute, colors, shapes, centers)
           + _draw_group(rng, relative, colors, shapes, centers))
  pairs = [pairs[i] for i in rng.permutation(NUM_QUESTIONS)]
  return Scene(
      image=render(colors, shapes, centers),
      questions=np.stack([tokenize(q.text()) for q, _ in pairs]),
      answers=np.array([a for _, a in pairs], dtype=np.int32),
      question_types=np.array([q.question_type for q, _ in pairs],
                              dtype=np.int32),
      object_colors=_pad(colors, MAX_OBJECTS),
      object_shapes=_pad(shapes, MAX_OBJECTS),
      object_centers=_pad(centers, MAX_OBJECTS))


# ---------------------------------------------------------------- TFDS ----


class Spatial(generated.Builder):
  """Spatial reasoning, one record per image with its 8 questions."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  DEFAULT_SIZES = generated.Sizes(
      num_train_images=DEFAULT_NUM_TRAIN_IMAGES,
      num_test_images=DEFAULT_NUM_TEST_IMAGES, seed=DEFAULT_SEED)
  DESCRIPTION = _DESCRIPTION
  CITATION = 'After Xu & Saenko 2016, arXiv:1511.05234.'

  def features(self) -> dict[str, tfds.features.FeatureConnector]:
    tensor = generated.tensor
    return {
        'image': tensor((IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8, zlib=True),
        'questions': tensor((NUM_QUESTIONS, QUESTION_LENGTH), np.int32),
        'answers': tensor((NUM_QUESTIONS,), np.int32),
        'question_types': tensor((NUM_QUESTIONS,), np.int32),
        'object_colors': tensor((MAX_OBJECTS,), np.int32),
        'object_shapes': tensor((MAX_OBJECTS,), np.int32),
        'object_centers': tensor((MAX_OBJECTS, 2), np.int32),
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
      question_kind='tokens',
      question_shape=(QUESTION_LENGTH,),
      vocab_size=len(VOCAB),
      question_types=QUESTION_TYPES,
      image_shape=(IMAGE_SIZE, IMAGE_SIZE, 3),
      num_train_examples=num_train_images * NUM_QUESTIONS,
      num_eval_examples=num_test_images * NUM_QUESTIONS,
      eval_split='test',
      question_text=question_text)


_COLOR_TOKENS = np.array([_TOKEN_IDS[c] for c in COLOR_NAMES])


def question_objects(record: Mapping[str, np.ndarray], q: int
                     ) -> tuple[np.ndarray, np.ndarray]:
  """Where the objects of question `q` of an image record are, and their
  roles (`hardattn.attention_quality`): the objects whose colour the
  question names (the square asked about and a relative question's
  reference, where the image has them) are asked; the answer needs no
  other object.

  Returns:
    float32 [MAX_OBJECTS, 4] pixel boxes (x0, y0, x1, y1), int32
    [MAX_OBJECTS] roles (NONE for padding).
  """
  colors = np.asarray(record['object_colors'])
  named = np.isin(_COLOR_TOKENS, record['questions'][q])  # [colours]
  roles = np.where(colors < 0, attention_quality.NONE,
                   np.where(named[np.maximum(colors, 0)],
                            attention_quality.ASKED, attention_quality.OTHER))
  boxes = attention_quality.boxes_of_squares(record['object_centers'],
                                             HALF_SIZE)
  return boxes * (colors >= 0)[:, None], roles.astype(np.int32)


DATASET = generated.GeneratedDataset(
    builder_class=Spatial, title='Spatial', num_questions=NUM_QUESTIONS,
    question_dtype=np.int32, meta_fn=meta, objects_fn=question_objects)

# The module's API, see `generated.GeneratedDataset`.
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


# --------------------------------------------------------- Prediction ----
# What `hardattn.predict` needs to answer a typed question about an image
# file (the run's `inputs` are in WORKDIR/dataset.json, see
# `hardattn.assets`).


def prediction_inputs(config: Any, meta_: pipeline.DatasetMeta
                      ) -> dict[str, Any]:
  """What predicting needs besides the DatasetMeta: vocabulary and sizes."""
  del config
  return {'tokens': list(VOCAB), 'max_length': QUESTION_LENGTH,
          'image_size': list(meta_.image_shape[:2]), 'image_dtype': 'uint8'}


def encode_question(text: str, inputs: Mapping[str, Any]) -> np.ndarray:
  """int32 [max_length] tokens of a question, as `tokenize` makes them.

  Unknown words become UNK (and are logged); a question longer than
  max_length tokens is refused, as in training.

  Raises:
    errors.UserError: an empty or too long question.
  """
  text = inputs_lib.check_question(text)
  return inputs_lib.encode_words(
      split_words(text), inputs['tokens'], max_length=inputs['max_length'],
      unk=UNK, long_questions='error', text=text,
      where='spatial.QUESTION_LENGTH')


prepare_image = inputs_lib.prepare_image
question_decoder = inputs_lib.question_decoder
