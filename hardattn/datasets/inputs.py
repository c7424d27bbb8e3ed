"""A user's image files and question texts as model inputs (for predict).

The dataset modules' `prepare_image` and `encode_question` (see
`hardattn.predict`) are built on these: an image file read as RGB and fitted
to the size the model was trained on, and a question's words mapped to
token ids the way training did (unknown words to UNK, long questions cut or
refused as the run's config says).
"""

from collections.abc import Mapping, Sequence
import functools
import logging
import os

import numpy as np
from PIL import Image

from hardattn import errors

# Image.open reads these; anything else (a text file, a truncated PNG) is
# an error naming the file.
_IMAGE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def read_image(path: str) -> np.ndarray:
  """An image file as uint8 [H, W, 3] RGB (any mode converted, alpha dropped).

  Args:
    path: a PNG, JPEG or any other format PIL reads ('~' is expanded).

  Returns:
    uint8 [H, W, 3].

  Raises:
    errors.UserError: naming the file, if it is missing or not an image.
  """
  full = os.path.expanduser(os.fspath(path))
  if not os.path.isfile(full):
    raise errors.UserError(f'Image file {path} not found.')
  try:
    with Image.open(full) as img:
      return np.asarray(img.convert('RGB'), dtype=np.uint8)
  except _IMAGE_ERRORS as e:
    raise errors.UserError(
        f'Cannot read {path} as an image ({e}); pass a PNG or JPEG file.'
    ) from e


# (source, target) sizes whose resize `fit_image` has logged.
_RESIZES_LOGGED: set[tuple[tuple[int, int], tuple[int, int]]] = set()


def as_rgb(image: np.ndarray, what: str = 'image') -> np.ndarray:
  """uint8 [H, W, 3] from [H, W], [H, W, 1|3|4] uint8 or float in [0, 1].

  Raises:
    errors.UserError: another shape.
  """
  image = np.asarray(image)
  if image.ndim == 2:
    image = image[..., None]
  if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
    raise errors.UserError(
        f'The {what} must be [H, W, 3] RGB (or grey [H, W]), got shape '
        f'{image.shape}.')
  if image.dtype != np.uint8:
    image = np.clip(np.round(image.astype(np.float64) * 255), 0, 255
                    ).astype(np.uint8)
  if image.shape[-1] == 1:
    image = np.repeat(image, 3, axis=-1)
  return np.ascontiguousarray(image[..., :3])


def fit_image(image: np.ndarray, size: Sequence[int],
              what: str = 'image') -> np.ndarray:
  """An RGB image resized (bilinear, antialiased) to `size` if it differs.

  The resize is logged: the model was trained on `size` images, and other
  sizes (or aspect ratios) are squeezed to it.

  Args:
    image: uint8 [H, W, 3] (see `as_rgb` for other layouts).
    size: (height, width) the model takes.
    what: names the image in the log, e.g. its path.

  Returns:
    uint8 [height, width, 3].
  """
  image = as_rgb(image, what)
  height, width = (int(s) for s in size)
  if image.shape[:2] == (height, width):
    return image
  sizes = (image.shape[:2], (height, width))
  if sizes not in _RESIZES_LOGGED:  # a batch of 15,000 CLEVR images: once
    _RESIZES_LOGGED.add(sizes)
    logging.info('Resizing %s from %dx%d to %dx%d (height x width), the '
                 'size the model was trained on (logged once per size).',
                 what, image.shape[0], image.shape[1], height, width)
  resized = Image.fromarray(image).resize((width, height), Image.BILINEAR)
  return np.asarray(resized, dtype=np.uint8)


def check_question(text: str) -> str:
  """The question, stripped.

  Raises:
    errors.UserError: it is not a string, or empty.
  """
  if not isinstance(text, str):
    raise errors.UserError(f'A question must be a string, got {text!r}.')
  text = text.strip()
  if not text:
    raise errors.UserError('The question is empty (or only spaces): pass '
                           'the question to ask about the image.')
  return text


@functools.lru_cache(maxsize=8)
def _token_index(tokens: tuple[str, ...]) -> dict[str, int]:
  return {t: i for i, t in enumerate(tokens)}


def encode_words(words: Sequence[str], tokens: Sequence[str], *,
                 max_length: int, unk: int, long_questions: str = 'truncate',
                 text: str = '', where: str = '') -> np.ndarray:
  """Token ids of a question's words, right-padded with 0, as in training.

  Words not in `tokens` become `unk` (the words are logged).

  Args:
    words: the question's words, tokenized as the dataset does.
    tokens: the run's token vocabulary (index = id; 0 pads).
    max_length: tokens per question in the model's input.
    unk: the id of unknown words.
    long_questions: 'truncate' (cut to max_length, with a warning) or
      'error' (a question longer than max_length is refused), the run's
      setting.
    text: the question, for messages.
    where: the config field of max_length, for messages.

  Returns:
    int32 [max_length].

  Raises:
    errors.UserError: too long with long_questions='error'.
  """
  index = _token_index(tuple(tokens))
  unknown = sorted({w for w in words if w not in index})
  if unknown:
    logging.info('Words not in the training vocabulary, read as %s: %s',
                 tokens[unk], ', '.join(unknown))
  if len(words) > max_length:
    msg = (f'The question {text!r} has {len(words)} tokens, more than the '
           f'{max_length} the model takes ({where or "max_question_length"})')
    if long_questions == 'error':
      raise errors.UserError(msg + '; shorten it.')
    logging.warning('%s; it is cut to its first %d tokens, as in training.',
                    msg, max_length)
  ids = np.zeros(max_length, np.int32)
  kept = words[:max_length]
  ids[:len(kept)] = [index.get(w, unk) for w in kept]
  return ids


class TokenDecoder:
  """A question_text function: int [T] token ids -> the words (0 pads)."""

  def __init__(self, tokens: Sequence[str]):
    self.tokens = tuple(tokens)

  def __call__(self, ids: np.ndarray) -> str:
    return ' '.join(self.tokens[int(i)] for i in np.asarray(ids).reshape(-1)
                    if int(i) != 0)


def image_size(inputs: Mapping[str, object]) -> tuple[int, int]:
  """(height, width) from a dataset.json `inputs` entry."""
  height, width = inputs['image_size']
  return int(height), int(width)


def prepare_image(image: np.ndarray, inputs: Mapping[str, object],
                  what: str = 'image') -> tuple[np.ndarray, np.ndarray]:
  """(model input, picture to draw on): the RGB image at the trained size.

  The `prepare_image` of datasets whose model takes the pixels as drawn.

  Args:
    image: uint8 [H, W, 3] RGB, any size (resized, and logged, if not the
      trained size).
    inputs: the run's dataset inputs, with 'image_size'.
    what: names the image in the log.
  """
  image = fit_image(image, image_size(inputs), what)
  return image, image


def question_decoder(inputs: Mapping[str, object]) -> TokenDecoder:
  """meta.question_text of a run whose questions are inputs['tokens'] ids."""
  return TokenDecoder(inputs['tokens'])
