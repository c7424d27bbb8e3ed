"""Train input from arrays: a few array lookups per question.

A record pipeline parses one record and decodes one image per question in
Python (about 600 us on this CPU for CLEVR, so about 1,500 questions/s per
core). Here a prepared split is a directory of `.npy` arrays, memory-mapped,
and a train batch is gathered by index with one numpy operation per field:

  images.npy         uint8 [num_images, S, S, 3]
  image_index.npy    int32 [num_questions]: the question's image
  <field>.npy        [num_questions, ...]: question tokens, answer, ...

The order is seeded and resumable (the iterator is a grain iterator over
batch numbers, so its state goes into the checkpoint) and process-sharded:
the global batches are the same for any number of processes, each process
gathering only its rows.

With `questions_per_image` g > 1 a batch holds b images and b * g question
slots: each epoch shuffles every image's questions and cuts them into chunks
of at most g (an image with 10 questions and g = 4 gives 4 + 4 + 2), and the
chunks are shuffled; a chunk's empty slots are masked out (`mask` False,
their fields copied from the chunk's first question). Every question is seen
once an epoch, and the CNN runs once per image of the batch (the layout of
`pipeline.flatten_question_groups`).

Where the images are too large to copy (VQA's 14x14x2048 grids: 99 GB for
COCO), `images.npy` is left out and the iterator takes a table that reads
them by image index from their records, once per image of a batch.
"""

from collections.abc import Callable, Mapping, Sequence
import functools
import json
import logging
import os
import shutil
import sys
from typing import Any

import grain
import numpy as np

from hardattn import errors

Batch = dict[str, np.ndarray]
# augment(images, rng, row, rows): see `train_iterator`.
ImageAugment = Callable[[np.ndarray, np.random.Generator, int, int],
                        np.ndarray]
# Question fields that are not per question.
_NOT_QUESTIONS = ('images', 'image_index')

_DONE = 'arrays.json'
_PREFETCH_BATCHES = 4


class ArrayWriter:
  """Writes a split's arrays into `path`, complete or not at all.

  Arrays go to `path + '.partial'`, which `close` renames to `path` after
  writing arrays.json (the fields and their shapes): a build that stops
  half-way is redone, never read.
  """

  def __init__(self, path: str):
    self.path = path
    self._tmp = path + '.partial'
    shutil.rmtree(self._tmp, ignore_errors=True)
    os.makedirs(self._tmp)
    self._arrays: dict[str, np.ndarray] = {}

  def create(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A writable memory-mapped array `name`, zero-filled."""
    array = np.lib.format.open_memmap(os.path.join(self._tmp, f'{name}.npy'),
                                      mode='w+', dtype=dtype, shape=shape)
    self._arrays[name] = array
    return array

  def create_tokens(self, name: str, tokens: Sequence[Sequence[int]]
                    ) -> np.ndarray:
    """int32 [len(tokens), longest] array `name`: each row's token ids,
    0-padded (at least one column)."""
    length = max(1, max(map(len, tokens), default=1))
    array = self.create(name, (len(tokens), length), np.int32)
    for i, ids in enumerate(tokens):
      array[i, :len(ids)] = ids
    return array

  def close(self, metadata: Mapping[str, Any] | None = None) -> None:
    fields = {}
    for name, array in self._arrays.items():
      array.flush()
      fields[name] = {'shape': list(array.shape), 'dtype': str(array.dtype)}
    with open(os.path.join(self._tmp, _DONE), 'w') as f:
      json.dump({'fields': fields, **(metadata or {})}, f, indent=1)
    self._arrays.clear()
    shutil.rmtree(self.path, ignore_errors=True)
    os.replace(self._tmp, self.path)


def is_built(path: str) -> bool:
  return os.path.exists(os.path.join(path, _DONE))


def load(path: str) -> dict[str, np.ndarray]:
  """The arrays of a split written by `ArrayWriter`, memory-mapped."""
  if not is_built(path):
    raise errors.DatasetNotFoundError(f'No prepared arrays in {path}.')
  with open(os.path.join(path, _DONE)) as f:
    fields = json.load(f)['fields']
  return {name: np.load(os.path.join(path, f'{name}.npy'), mmap_mode='r')
          for name in fields}


def fit_length(tokens: np.ndarray, length: int) -> np.ndarray:
  """[n, L] tokens cut or 0-padded to [n, length]."""
  if tokens.shape[1] >= length:
    return tokens[:, :length]
  return np.pad(tokens, ((0, 0), (0, length - tokens.shape[1])))


def question_chunks(image_index: np.ndarray, group: int,
                    rng: np.random.Generator) -> np.ndarray:
  """One epoch's units: [num_chunks, group] question ids, -1 padded.

  Each image's questions in a random order, cut into chunks of at most
  `group`; the chunks in a random order. group 1 is a shuffle of all
  questions.
  """
  n = len(image_index)
  if group == 1:
    return rng.permutation(n).astype(np.int64)[:, None]
  order = np.lexsort((rng.random(n), image_index))  # by image, then random
  images = np.asarray(image_index)[order]
  starts = np.flatnonzero(np.r_[True, images[1:] != images[:-1]])
  first = np.repeat(starts, np.diff(np.r_[starts, n]))
  rank = np.arange(n) - first  # position among its image's questions
  # Chunk k of an image is its questions of rank k * group .. + group - 1.
  chunk_start = (rank % group) == 0
  chunk_of = np.cumsum(chunk_start) - 1
  chunks = np.full((int(chunk_start.sum()), group), -1, np.int64)
  chunks[chunk_of, rank % group] = order
  return chunks[rng.permutation(len(chunks))]


class _Batches:
  """Element i: this process's rows of global batch i, gathered."""

  def __init__(self, arrays: Mapping[str, np.ndarray], *, batch_size: int,
               group: int, seed: int, process_index: int, process_count: int,
               augment: ImageAugment | None, num_units: int, images: Any):
    self._arrays = arrays
    self._images = images
    self._image_index = np.asarray(arrays['image_index'])
    self._fields = [k for k in arrays if k not in _NOT_QUESTIONS]
    self._local = batch_size // group  # units (images) per process batch
    self._global = self._local * process_count
    self._row = process_index * self._local
    self._group = group
    self._seed = seed
    self._augment = augment
    self._num_units = num_units

  @functools.lru_cache(maxsize=2)
  def epoch(self, epoch: int) -> np.ndarray:
    rng = np.random.default_rng([self._seed, epoch])
    return question_chunks(self._image_index, self._group, rng)

  def units(self, index: int) -> np.ndarray:
    """[local, group] question ids (-1 padded) of this process's rows."""
    start = index * self._global + self._row
    positions = np.arange(start, start + self._local)
    epochs, offsets = np.divmod(positions, self._num_units)
    out = np.empty((self._local, self._group), np.int64)
    for e in np.unique(epochs):
      rows = epochs == e
      out[rows] = self.epoch(int(e))[offsets[rows]]
    return out

  def _read_images(self, image_ids: np.ndarray) -> np.ndarray:
    """The images at `image_ids`, in that order."""
    if not isinstance(self._images, np.ndarray):  # a table of records
      return np.asarray(self._images[image_ids])
    # Sorted reads are sequential on a memory map; then back to batch order.
    order = np.argsort(image_ids, kind='stable')
    images = np.empty((len(image_ids),) + self._images.shape[1:],
                      self._images.dtype)
    images[order] = self._images[image_ids[order]]
    return images

  def __call__(self, index: int) -> Batch:
    ids = self.units(index)
    mask = ids >= 0
    ids = np.where(mask, ids, ids[:, :1]).reshape(-1)  # pads: row's first
    images = self._read_images(self._image_index[ids[::self._group]])
    if self._augment is not None:
      # Draws for the whole global batch, so they do not depend on the
      # number of processes.
      rng = np.random.default_rng([self._seed, index, 1])
      images = self._augment(images, rng, self._row, self._global)
    batch = {'image': images, 'mask': mask.reshape(-1)}
    for name in self._fields:
      batch[name] = np.asarray(self._arrays[name][ids])
    return batch


def train_iterator(arrays: Mapping[str, np.ndarray], *, batch_size: int,
                   seed: int, process_index: int = 0, process_count: int = 1,
                   questions_per_image: int = 1,
                   augment: ImageAugment | None = None,
                   images: Any = None,
                   num_threads: int = 1,
                   prefetch_batches: int = _PREFETCH_BATCHES
                   ) -> grain.DatasetIterator:
  """An endless iterator of shuffled train batches gathered from arrays.

  Args:
    arrays: a split from `load` (images, image_index and question fields;
      images may be absent when `images` is given).
    batch_size: per-process questions b (a multiple of the group).
    seed: the order's seed; epoch e is ordered by default_rng([seed, e]).
    process_index: this process's index.
    process_count: number of processes.
    questions_per_image: g; batches hold b / g images (see module doc).
    augment: optional host augmentation augment(images, rng, row, rows):
      images [n, S, S, 3] are rows row .. row + n - 1 of a global batch of
      `rows` images, rng is seeded by the batch number.
    images: the images by image index, where `arrays` has none: an object
      whose [int array] gives those images stacked (a reader of records);
      None: arrays['images'].
    num_threads: grain threads gathering batches (0: the calling thread).
    prefetch_batches: batches gathered ahead.

  Returns:
    A grain iterator (get_state / set_state) of dicts: image uint8
    [b / g, S, S, 3], each question field [b, ...], mask bool [b].
  """
  if not 0 <= process_index < process_count:
    raise ValueError(
        f'process_index={process_index} not in [0, {process_count}).')
  group = questions_per_image
  if group < 1 or batch_size % group:
    raise errors.UserError(
        f'config.questions_per_image={group} must be a positive divisor of '
        f'the per-process batch size ({batch_size}).')
  counts = np.bincount(np.asarray(arrays['image_index']))
  num_units = int(np.sum(-(-counts // group)))  # chunks of an epoch
  if num_units < batch_size // group * process_count:
    raise errors.UserError(
        f'The training data has {num_units} image groups, fewer than one '
        f'global batch ({batch_size // group} x {process_count} processes).')
  gather = _Batches(arrays, batch_size=batch_size, group=group, seed=seed,
                    process_index=process_index, process_count=process_count,
                    augment=augment, num_units=num_units,
                    images=arrays['images'] if images is None else images)
  ds = grain.MapDataset.range(sys.maxsize).map(gather)
  read_options = grain.ReadOptions(
      num_threads=num_threads,
      prefetch_buffer_size=prefetch_batches if num_threads else 0)
  return iter(ds.to_iter_dataset(read_options))


def log_built(name: str, path: str, arrays: Mapping[str, np.ndarray]) -> None:
  size = sum(a.nbytes for a in arrays.values())
  logging.info('%s arrays in %s: %d questions, %d images, %.1f GB.', name,
               path, len(arrays['image_index']),
               int(np.max(arrays['image_index'], initial=-1)) + 1, size / 1e9)
