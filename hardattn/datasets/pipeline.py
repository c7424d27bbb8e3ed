"""Dataset-agnostic input pipeline helpers built on grain.

Every dataset exposes a random-access *example source*: a sequence (`len` and
integer `__getitem__`) whose elements are dicts of numpy arrays with the keys

  image:          uint8 [H, W, 3]
  question:       float32 [Q] (vector questions) or int32 [T] (tokens)
  answer:         int32 []
  question_type:  int32 []

and may add more (CLEVR: question_family int32 []).

The helpers here turn such a source into batched train and eval iterators.
Both add a boolean `mask` key: all True in training; in evaluation it marks
the real examples, the padding being all zeros.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
import contextlib
import dataclasses
import functools
import logging
import math
from typing import Any

import grain
import numpy as np

from hardattn import errors

Example = dict[str, Any]
Batch = dict[str, np.ndarray]

# Batches prefetched per iterator (each batch is made by one read thread).
_PREFETCH_BATCHES = 4


@dataclasses.dataclass(frozen=True)
class DatasetMeta:
  """What a model and trainer need to know about a dataset.

  Attributes:
    name: dataset name, as in `hardattn.datasets.DATASETS`.
    num_answers: number of answer classes.
    answer_names: [num_answers] a readable name per answer class.
    question_kind: 'vector' (float32 [b, Q] questions) or 'tokens' (int32
      [b, T]).
    question_shape: shape of one question, e.g. (11,).
    vocab_size: token vocabulary size; 0 for vector questions.
    question_types: a name per question type, grouped by prefix before '/',
      e.g. 'relational/closest'.
    image_shape: (H, W, 3).
    num_train_examples: training examples over all processes.
    num_eval_examples: real evaluation examples over all processes.
    eval_split: the split evaluated on, e.g. 'test'.
    question_text: maps one question (as in a batch, e.g. [Q]) to a string.
    image_dtype: dtype of a batch's `image`: 'uint8' pixels, or e.g.
      'float16' precomputed CNN grids [h, w, C] (then `image_shape` is the
      grid's shape).
    picture_fn: maps a host batch to the uint8 images [b, H, W, 3] to draw
      attention on; None: the batch's `image`.
  """
  name: str
  num_answers: int
  answer_names: tuple[str, ...]
  question_kind: str
  question_shape: tuple[int, ...]
  vocab_size: int
  question_types: tuple[str, ...]
  image_shape: tuple[int, int, int]
  num_train_examples: int
  num_eval_examples: int
  eval_split: str
  question_text: Callable[[np.ndarray], str] = dataclasses.field(
      compare=False, repr=False)
  image_dtype: str = 'uint8'
  picture_fn: Callable[[Mapping[str, np.ndarray]], np.ndarray] | None = (
      dataclasses.field(default=None, compare=False, repr=False))

  def answer_name(self, answer: int) -> str:
    """The name of answer class `answer`; -1 (no class, e.g. a VQA question
    whose answers are all outside the vocabulary) is '(no class)'."""
    return self.answer_names[answer] if answer >= 0 else '(no class)'

  def pictures(self, batch: Mapping[str, np.ndarray]) -> np.ndarray:
    """uint8 [b, H, W, 3] images of a host batch, to draw attention on."""
    if self.picture_fn is None:
      return batch['image']
    return self.picture_fn(batch)

  def question_type_groups(self) -> dict[str, list[int]]:
    """Maps each question-type prefix (before '/') to its type indices.

    Returns:
      e.g. {'non_relational': [0, 1, 2], 'relational': [3, 4, 5]}, in order of
      first appearance. A name without '/' is its own group.
    """
    groups = {}
    for index, name in enumerate(self.question_types):
      groups.setdefault(name.split('/')[0], []).append(index)
    return groups


def per_process_batch_size(global_batch_size: int, process_count: int,
                           what: str = 'batch_size') -> int:
  """Splits a global batch size over processes.

  Args:
    global_batch_size: the batch size over all processes.
    process_count: number of processes.
    what: config field name, for the error message.

  Returns:
    global_batch_size // process_count.

  Raises:
    errors.UserError: if the batch size is not positive or not divisible.
  """
  if global_batch_size <= 0 or global_batch_size % process_count:
    raise errors.UserError(
        f'config.{what}={global_batch_size} must be a positive multiple of '
        f'the number of processes ({process_count}).')
  return global_batch_size // process_count


def questions_per_image(config: Any, batch_size: int) -> int:
  """`config.questions_per_image` (1 if absent), checked against a batch.

  Args:
    config: the run's ConfigDict.
    batch_size: the per-process train batch, in questions.

  Returns:
    g, the questions that share one image (and its encoding) in a batch.

  Raises:
    errors.UserError: g is not positive or does not divide the batch.
  """
  group = int(config.get('questions_per_image', 1))
  if group < 1 or batch_size % group:
    raise errors.UserError(
        f'config.questions_per_image={group} must be a positive divisor of '
        f'the per-process batch size ({batch_size}).')
  return group


def flatten_question_groups(batch: Batch) -> Batch:
  """[b, g, ...] question fields -> [b * g, ...]; images stay [b, ...].

  The questions of image i become rows i * g .. i * g + g - 1, the layout
  the models expect when a batch has fewer images than questions.
  """
  b, g = batch['answer'].shape[:2]
  out = {}
  for key, value in batch.items():
    if key == 'image':
      out[key] = value
    elif key == 'mask':  # one per example: the same for its g questions
      out[key] = np.repeat(value, g)
    else:
      out[key] = value.reshape((b * g,) + value.shape[2:])
  return out


class _DropCustomConfigWarning(logging.Filter):

  def filter(self, record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith('Using custom data configuration')


@contextlib.contextmanager
def no_custom_config_warning() -> Iterator[None]:
  """Hides TFDS's warning about configs not in BUILDER_CONFIGS (expected
  for our sized variants) while builders are made."""
  log_filter = _DropCustomConfigWarning()
  absl_logger = logging.getLogger('absl')
  absl_logger.addFilter(log_filter)
  try:
    yield
  finally:
    absl_logger.removeFilter(log_filter)


class CachedReader:
  """Reads items of a sequence, remembering the last `size` of them.

  Picklable (the cache is not), so sources built on it can go to grain's
  worker processes.
  """

  def __init__(self, items: Sequence[Any], size: int):
    self._items = items
    self._size = size
    self._read = functools.lru_cache(maxsize=size)(items.__getitem__)

  def __len__(self) -> int:
    return len(self._items)

  def __getitem__(self, index: int) -> Any:
    return self._read(index)

  def __getstate__(self):
    return {'items': self._items, 'size': self._size}

  def __setstate__(self, state):
    self.__init__(state['items'], state['size'])


def _with_mask(example: Example) -> Example:
  return dict(example, mask=np.True_)


def _process_slice(source: Sequence[Example], process_index: int,
                   process_count: int) -> grain.MapDataset:
  if not 0 <= process_index < process_count:
    raise ValueError(
        f'process_index={process_index} not in [0, {process_count}).')
  return grain.MapDataset.source(source)[process_index::process_count]


class _ProcessRows(grain.MapDataset):
  """This process's rows of each global batch of a global example stream.

  Element j of process p is element (j // b) * B + p * b + j % b of the
  parent, for local batch b and global batch B = b * process_count: the
  processes' batches, stacked in process order, are exactly the global
  batches a single process would make. Only indices move; each process
  reads just its own examples.
  """

  def __init__(self, parent: grain.MapDataset, local_batch: int,
               process_index: int, process_count: int):
    super().__init__(parent)
    self._local = local_batch
    self._index = process_index
    self._global = local_batch * process_count

  def __len__(self) -> int:
    return len(self._parent) // self._global * self._local

  def __getitem__(self, index):
    if isinstance(index, slice):
      return self.slice(index)
    batch, row = divmod(index, self._local)
    return self._parent[batch * self._global + self._index * self._local
                        + row]

  def __str__(self) -> str:
    return f'ProcessRows(local_batch={self._local}, process={self._index})'


def train_iterator(
    source: Sequence[Example],
    *,
    batch_size: int,
    seed: int,
    process_index: int = 0,
    process_count: int = 1,
    num_threads: int = 1,
    num_workers: int = 0,
    prefetch_batches: int = _PREFETCH_BATCHES,
    map_fn: Callable[[Example], Example] | None = None,
    random_map_fn: Callable[[Example, np.random.Generator], Example]
    | None = None,
    questions_per_example: int = 1,
) -> grain.DatasetIterator:
  """An endless, shuffled iterator of training batches for this process.

  All processes shuffle the whole `source` alike (a new order every epoch)
  into one stream of global batches of `batch_size * process_count`
  examples; each process reads and batches only its own `batch_size` rows
  of every global batch. So the global batches (and a run's result) are the
  same for any number of processes. A batch may span two epochs.

  Args:
    source: random-access example source (see module docstring).
    batch_size: per-process batch size b.
    seed: shuffle seed.
    process_index: this process's index.
    process_count: number of processes.
    num_threads: grain read threads (0: read in the calling thread).
    num_workers: worker processes making batches (0: none). Worker w makes
      batches w, w + num_workers, ..., read in turn, so the batches are the
      same for any number of workers; for pipelines whose Python work
      (decoding records, augmentation) one core cannot keep up with.
    prefetch_batches: batches read ahead.
    map_fn: optional transform applied to each example before batching.
    random_map_fn: optional random transform (augmentation) applied after
      map_fn, called with the example and a numpy Generator seeded from
      `seed` and the example's position in the shuffled stream: the same
      draws on every run, new ones every epoch.
    questions_per_example: g > 1 when each example holds one image and g
      questions ([g, ...] fields): batches are then flattened to b * g
      questions on b images (`flatten_question_groups`).

  Returns:
    An iterator of dicts with the source's keys plus `mask` (bool [b], all
    True), each with a leading batch dimension [b, ...]. It supports
    `get_state()` / `set_state(state)` to resume the data order.
  """
  if not 0 <= process_index < process_count:
    raise ValueError(
        f'process_index={process_index} not in [0, {process_count}).')
  if len(source) < batch_size * process_count:
    raise errors.UserError(
        f'The training data has {len(source)} examples, fewer than one '
        f'global batch ({batch_size} x {process_count} processes).')
  ds = grain.MapDataset.source(source).shuffle(seed=seed).repeat(None)
  if map_fn is not None:
    ds = ds.map(map_fn)
  if random_map_fn is not None:  # seeded by the global position
    ds = ds.random_map(random_map_fn, seed=seed)
  if process_count > 1:
    ds = _ProcessRows(ds, batch_size, process_index, process_count)
  ds = ds.map(_with_mask).batch(batch_size, drop_remainder=True)
  if questions_per_example > 1:
    ds = ds.map(flatten_question_groups)
  read_options = grain.ReadOptions(
      num_threads=num_threads,
      prefetch_buffer_size=prefetch_batches if num_threads else 0)
  iter_ds = ds.to_iter_dataset(read_options)
  if num_workers > 0:
    iter_ds = iter_ds.mp_prefetch(grain.MultiprocessingOptions(
        num_workers=num_workers, per_worker_buffer_size=prefetch_batches))
  return iter(iter_ds)


class _PaddedSource(Sequence):
  """A sequence padded to `length` with a zero example; adds `mask`."""

  def __init__(self, ds: grain.MapDataset, length: int,
               template: Mapping[str, Any]):
    self._ds = ds
    self._real = len(ds)
    self._length = length
    self._zeros = {k: np.zeros_like(v) for k, v in template.items()}
    self._zeros['mask'] = np.False_

  def __len__(self) -> int:
    return self._length

  def __getitem__(self, index: int) -> Example:
    if not 0 <= index < self._length:
      raise IndexError(index)
    if index < self._real:
      return _with_mask(self._ds[index])
    return self._zeros


def num_eval_batches(num_examples: int, batch_size: int,
                     process_count: int = 1) -> int:
  """Eval batches per process: the same on every process.

  Args:
    num_examples: examples in the eval split, over all processes.
    batch_size: per-process batch size.
    process_count: number of processes.

  Returns:
    ceil(ceil(num_examples / process_count) / batch_size).
  """
  return math.ceil(math.ceil(num_examples / process_count) / batch_size)


def eval_iterable_fn(
    source: Sequence[Example],
    *,
    batch_size: int,
    process_index: int = 0,
    process_count: int = 1,
    num_threads: int = 1,
    prefetch_batches: int = _PREFETCH_BATCHES,
    map_fn: Callable[[Example], Example] | None = None,
) -> Callable[[], Iterator[Batch]]:
  """A function returning a fresh pass over the eval examples, in order.

  The process takes examples `process_index::process_count` of `source`. Every
  process yields the same number of batches (`num_eval_batches`), so
  collectives over processes line up; the last batches are padded with zero
  examples whose `mask` is False.

  Args:
    source: random-access example source (see module docstring).
    batch_size: per-process batch size b.
    process_index: this process's index.
    process_count: number of processes.
    num_threads: grain read threads (0: read in the calling thread).
    prefetch_batches: batches read ahead.
    map_fn: optional transform applied to each real example.

  Returns:
    A function of no arguments returning an iterator of dicts with the
    source's keys plus `mask` (bool [b]), each with leading dimension [b].
  """
  if not len(source):
    raise errors.UserError('The evaluation split is empty.')
  ds = _process_slice(source, process_index, process_count)
  if map_fn is not None:
    ds = ds.map(map_fn)
  template = ds[0] if len(ds) else (
      map_fn(source[0]) if map_fn is not None else source[0])
  num_batches = num_eval_batches(len(source), batch_size, process_count)
  padded = _PaddedSource(ds, num_batches * batch_size, template)
  batched = grain.MapDataset.source(padded).batch(batch_size)
  read_options = grain.ReadOptions(
      num_threads=num_threads,
      prefetch_buffer_size=prefetch_batches if num_threads else 0)

  def make_iterator() -> Iterator[Batch]:
    return iter(batched.to_iter_dataset(read_options))

  return make_iterator
