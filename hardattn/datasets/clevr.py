r"""CLEVR v1.0 (Johnson et al. 2017): the official release, prepared once.

Input is the release as users have it: `CLEVR_v1.0.zip`, or the extracted
`CLEVR_v1.0/` directory, or a directory holding either:

  CLEVR_v1.0/images/{train,val,test}/CLEVR_{split}_{index:06d}.png
  CLEVR_v1.0/questions/CLEVR_{split}_questions.json
      {"info": ..., "questions": [{"image_index", "image_filename", "split",
       "question", "answer", "question_family_index", "question_index",
       "program": [{"function", "inputs", "value_inputs"}, ...]}, ...]}
  CLEVR_v1.0/scenes/CLEVR_{train,val}_scenes.json (optional)
      {"info": ..., "scenes": [{"image_index", "objects": [{"color", "size",
       "shape", "material", "3d_coords", "pixel_coords": [x, y, depth],
       ...}, ...], "relationships": {"left": [[j, ...] per object], ...},
       ...}, ...]}

(test questions have no answer, family or program; the test split has no
scenes). Two TFDS datasets are prepared from it, ArrayRecord, without
TensorFlow:

  clevr_images/img{S}: one record per image, decoded once from PNG, RGB,
    resized to S x S (bilinear, antialiased) and stored as zlib'd uint8
    (at most 3 S^2 bytes per image: 49 KB at 128).
  clevr_questions: one record per question, in the release's order:
    image_index, question (text), answer (text, '' for test),
    question_family, question_type (index into QUESTION_TYPES; -1 for test).
    Its metadata holds the question and answer vocabularies built from train
    and each split's histogram of question lengths. Where the release has a
    split's scenes (metadata 'scenes' lists those splits), each question
    also has its objects for the attention-quality metric
    (`hardattn.attention_quality`): object_boxes, float32 [10, 4] boxes
    (x0, y0, x1, y1) as fractions of the 480x320 render (`scene_boxes`:
    estimated from each object's centre, depth and size), and object_roles,
    int8 [10], from running the question's program on the scene
    (`object_roles`: ASKED, RELEVANT, OTHER; NONE pads); a program that does
    not execute leaves every object OTHER (counted and logged when
    preparing).

Training reads arrays by default (`clevr.input='arrays'`,
`hardattn.datasets.arrays`): built once from the prepared records into
DATA_DIR/clevr_arrays/ (images uint8 [N, S, S, 3] and each question's
tokens, answer, types and image index, memory-mapped), each train batch is
gathered by index, a few array lookups a question. With
`questions_per_image` g > 1 a batch holds batch_size / g images and up to g
questions of each (masked padding where an image has fewer left), so the
CNN runs once per image. `clevr.input='records'` reads one example per
question (`QuestionSource`), joining the question to its image record by
index (g must be 1). Eval batches (not train batches, nor `get_split`'s) of
a split with scenes add object_boxes float32 [b, 10, 4], in pixels of the
stored S x S image (x * S / 480, y * S / 320), and object_roles int32
[b, 10].

Question types come from the program's last function: count; exist;
compare_numbers (equal_integer, less_than, greater_than); query_attribute
(query_{color,material,shape,size}); compare_attribute
(equal_{color,material,shape,size}). Reports give the five groups as the RN
paper's table does, and the finer types under them.

Tokens: lower-cased words and the punctuation ';' and ','; '?' is dropped.
Token 0 pads, 1 is UNK (words not seen in train), then train words by
falling frequency. A question longer than `clevr.max_question_length` is cut
to its first that many tokens ('truncate', counted and logged when the data
are opened) or refused ('error').

Train images are augmented as in the RN paper: zero-pad by `clevr.pad`
pixels, random crop back (a shift in [-pad, pad]) and a rotation in
[-max_rotation, max_rotation] radians, one resample (nearest by default).
`clevr.augment_on='device'` (the default) does it inside the jitted train
step (`hardattn.augment`, keys from the run's seed and the step);
'host' does it here with PIL, the draws seeded by `data_seed` and the
batch number (arrays) or the example's position in the shuffled stream
(records). Either way runs repeat exactly, and the two are the same
transform (tests/clevr_test.py).

Config fields read by `get_dataset` (besides batch_size, eval_batch_size,
data_seed, data_threads, data_workers, data_dir):
  clevr.manual_dir: str or None, where the release is (dir or zip); used to
    prepare the data on first use.
  clevr.download: bool, download the release from `URL` if it is not in
    manual_dir (machines with internet only; 18 GB).
  clevr.image_size: int, stored and model input resolution (square).
  clevr.max_question_length: int, tokens per question in a batch.
  clevr.long_questions: 'truncate' | 'error'.
  clevr.input: 'arrays' | 'records' (see above).
  clevr.augment: bool; clevr.pad: int; clevr.max_rotation: float;
  clevr.interpolation: 'nearest' | 'bilinear' (of the augmentation);
  clevr.augment_on: 'device' | 'host'.
  questions_per_image: int, questions sharing an image in a train batch
    ('arrays' only).
  clevr.eval_split: 'val' (the test split has no answers).
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
import collections
import concurrent.futures
import dataclasses
import functools
import io
import json
import logging
import math
import os
import re
import threading
import zipfile
from typing import Any

import numpy as np
from PIL import Image
import tensorflow_datasets as tfds

from hardattn import attention_quality
from hardattn import augment as augment_lib
from hardattn import errors
from hardattn.datasets import arrays as arrays_lib
from hardattn.datasets import inputs as inputs_lib
from hardattn.datasets import pipeline

NAME = 'clevr'
URL = 'https://dl.fbaipublicfiles.com/clevr/CLEVR_v1.0.zip'
RELEASE_DIR = 'CLEVR_v1.0'
SPLITS = ('train', 'val', 'test')
REQUIRED_SPLITS = ('train', 'val')
INPUTS = ('arrays', 'records')
AUGMENT_ON = ('device', 'host')
# questions_per_image > 1 is possible (with clevr.input='arrays').
SHARES_IMAGES = True
PAD, UNK = 0, 1
SPECIAL_TOKENS = ('<pad>', '<unk>')

# Fine question types, grouped (before '/') as in the RN paper's table.
QUESTION_TYPES = (
    'count',
    'exist',
    'compare_numbers/equal_integer',
    'compare_numbers/less_than',
    'compare_numbers/greater_than',
    'query_attribute/color',
    'query_attribute/material',
    'query_attribute/shape',
    'query_attribute/size',
    'compare_attribute/color',
    'compare_attribute/material',
    'compare_attribute/shape',
    'compare_attribute/size',
)
_TYPE_OF_FUNCTION = {
    'count': 'count',
    'exist': 'exist',
    'equal_integer': 'compare_numbers/equal_integer',
    'less_than': 'compare_numbers/less_than',
    'greater_than': 'compare_numbers/greater_than',
    **{f'query_{a}': f'query_attribute/{a}'
       for a in ('color', 'material', 'shape', 'size')},
    **{f'equal_{a}': f'compare_attribute/{a}'
       for a in ('color', 'material', 'shape', 'size')},
}
_TOKEN_RE = re.compile(r"[a-z0-9]+|[;,]")
_INFO_COMMON = dict(
    homepage='https://cs.stanford.edu/people/jcjohns/clevr/',
    citation='Johnson et al. 2017, arXiv:1612.06890.',
    # Record i is question (or image) i of the release, in its order.
    disable_shuffling=True)


class CorruptImageError(errors.UserError):
  """An image of the release cannot be decoded."""


def tokenize(question: str) -> list[str]:
  """'Is there a big cube; what color?' -> ['is', ..., 'cube', ';', ...]."""
  return _TOKEN_RE.findall(question.lower())


def question_type(program: Sequence[Mapping[str, Any]]) -> int:
  """Index into QUESTION_TYPES of a program, from its last function.

  Args:
    program: the question's program, a list of {'function': name, ...}
      (older releases name the key 'type').

  Returns:
    The type index.

  Raises:
    ValueError: an empty program or an unknown last function.
  """
  if not program:
    raise ValueError('empty program')
  last = program[-1]
  function = last.get('function', last.get('type'))
  if function not in _TYPE_OF_FUNCTION:
    raise ValueError(f'unknown last program function {function!r}')
  return QUESTION_TYPES.index(_TYPE_OF_FUNCTION[function])


# -------------------------------------------------------------- Release ----


class Release:
  """Read access to the official release, extracted or zipped.

  Attributes:
    path: what was opened (the CLEVR_v1.0 directory or the zip).
  """

  def __init__(self, path: str):
    self.path = path
    self._zip = None
    self._lock = threading.Lock()
    if zipfile.is_zipfile(path):
      self._zip = zipfile.ZipFile(path)
      names = self._zip.namelist()
      prefix = f'{RELEASE_DIR}/'
      self._prefix = prefix if any(n.startswith(prefix) for n in names) else ''
      self._names = set(names)
    else:
      self._prefix = ''
      self._names = None

  def _member(self, *parts: str) -> str:
    if self._zip is not None:
      return self._prefix + '/'.join(parts)
    return os.path.join(self.path, *parts)

  def where(self, *parts: str) -> str:
    """A readable location of a file, for messages."""
    if self._zip is not None:
      return f'{self.path}:{self._member(*parts)}'
    return self._member(*parts)

  def exists(self, *parts: str) -> bool:
    if self._zip is not None:
      return self._member(*parts) in self._names
    return os.path.exists(self._member(*parts))

  def read(self, *parts: str) -> bytes:
    if self._zip is not None:
      with self._lock:
        return self._zip.read(self._member(*parts))
    with open(self._member(*parts), 'rb') as f:
      return f.read()

  def image_names(self, split: str) -> list[str]:
    """Sorted PNG file names of images/{split}."""
    if self._zip is not None:
      prefix = self._member('images', split) + '/'
      names = [n[len(prefix):] for n in self._names if n.startswith(prefix)]
    else:
      folder = self._member('images', split)
      names = os.listdir(folder) if os.path.isdir(folder) else []
    return sorted(n for n in names if n.endswith('.png') and '/' not in n)

  def questions(self, split: str) -> list[dict[str, Any]]:
    """The questions list of questions/CLEVR_{split}_questions.json."""
    parts = ('questions', f'CLEVR_{split}_questions.json')
    try:
      data = json.loads(self.read(*parts))
      return data['questions']
    except (ValueError, KeyError, TypeError) as e:
      raise errors.DatasetNotFoundError(
          f'{self.where(*parts)} is not a CLEVR questions file (expected a '
          f'JSON object with a "questions" list): {e}') from e

  def scenes(self, split: str) -> dict[int, dict[str, Any]] | None:
    """The scenes of scenes/CLEVR_{split}_scenes.json by image index, or
    None if the release has no such file.

    Raises:
      errors.DatasetNotFoundError: the file is not a CLEVR scenes file.
    """
    parts = ('scenes', f'CLEVR_{split}_scenes.json')
    if not self.exists(*parts):
      return None
    try:
      return {int(s['image_index']): s
              for s in json.loads(self.read(*parts))['scenes']}
    except (ValueError, KeyError, TypeError) as e:
      raise errors.DatasetNotFoundError(
          f'{self.where(*parts)} is not a CLEVR scenes file (expected a JSON '
          f'object with a "scenes" list, each with an "image_index"): {e}'
      ) from e

  def decode_image(self, split: str, name: str, size: int) -> np.ndarray:
    """An RGB image resized to [size, size, 3] uint8.

    Raises:
      CorruptImageError: naming the file, if it is not a readable image.
    """
    parts = ('images', split, name)
    try:
      with Image.open(io.BytesIO(self.read(*parts))) as img:
        img = img.convert('RGB')
        if img.size != (size, size):
          img = img.resize((size, size), Image.BILINEAR)
        return np.asarray(img, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, zipfile.BadZipFile) as e:
      raise CorruptImageError(
          f'Cannot decode image {self.where(*parts)}: {e}') from e


def image_filename(split: str, index: int) -> str:
  return f'CLEVR_{split}_{index:06d}.png'


def locate(path: str | None) -> Release:
  """Finds the release at or under `path` and checks it is complete.

  Accepted: the CLEVR_v1.0 directory, its parent, CLEVR_v1.0.zip, or a
  directory holding the zip.

  Raises:
    errors.DatasetNotFoundError: naming the path and what was expected.
  """
  expected = (
      f'the CLEVR v1.0 release: {RELEASE_DIR}.zip or the extracted '
      f'{RELEASE_DIR}/ with images/{{train,val}}/*.png and '
      'questions/CLEVR_{train,val}_questions.json (download it from '
      'https://cs.stanford.edu/people/jcjohns/clevr/)')
  if not path:
    raise errors.DatasetNotFoundError(
        f'No CLEVR release given: set config.clevr.manual_dir (or pass '
        f'--manual_dir to hardattn.prepare) to {expected}.')
  path = os.path.expanduser(path)
  candidates = [path, os.path.join(path, RELEASE_DIR),
                os.path.join(path, f'{RELEASE_DIR}.zip')]
  release = None
  for candidate in candidates:
    if os.path.isfile(candidate) and zipfile.is_zipfile(candidate):
      release = Release(candidate)
    elif os.path.isdir(os.path.join(candidate, 'questions')):
      release = Release(candidate)
    if release is not None:
      break
  if release is None:
    raise errors.DatasetNotFoundError(
        f'No CLEVR release found at {path}; expected {expected}.')
  missing = []
  for split in REQUIRED_SPLITS:
    if not release.exists('questions', f'CLEVR_{split}_questions.json'):
      missing.append(release.where('questions',
                                   f'CLEVR_{split}_questions.json'))
    if not release.image_names(split):
      missing.append(release.where('images', split) + '/*.png')
  if missing:
    raise errors.DatasetNotFoundError(
        f'The CLEVR release at {release.path} is incomplete: missing '
        f'{", ".join(missing)}; expected {expected}.')
  return release


def check_images(release: Release, split: str,
                 questions: Sequence[Mapping[str, Any]]) -> int:
  """Checks the images questions refer to exist; returns the image count.

  Images are numbered 0..n-1 by file name; every question's image_index must
  name one, and its image_filename (if given) must match.

  Raises:
    errors.DatasetNotFoundError: naming the first missing file.
  """
  names = release.image_names(split)
  n = len(names)
  if names != [image_filename(split, i) for i in range(n)]:
    have = set(names)
    gap = next(i for i in range(n) if image_filename(split, i) not in have)
    raise errors.DatasetNotFoundError(
        f'{release.where("images", split, image_filename(split, gap))} is '
        f'missing: images/{split} must hold {image_filename(split, 0)} .. '
        f'{image_filename(split, n - 1)} with no gaps.')
  for q in questions:
    index = int(q['image_index'])
    if index >= n:
      raise errors.DatasetNotFoundError(
          f'{release.where("images", split, image_filename(split, index))} '
          f'is missing (question {q.get("question_index")} refers to it); '
          f'images/{split} has {n} images.')
    name = q.get('image_filename')
    if name is not None and name != image_filename(split, index):
      raise errors.DatasetNotFoundError(
          f'Question {q.get("question_index")} of split {split} has '
          f'image_index {index} but image_filename {name!r}.')
  return n


# --------------------------------------------------------------- Scenes ----
# The release's scenes/CLEVR_{split}_scenes.json (train and val) say where
# each object is; the attention-quality metric (`hardattn.attention_quality`)
# needs its box and what the question needs of it.

# The release's renders, which the scenes' pixel_coords are in.
IMAGE_WIDTH, IMAGE_HEIGHT = 480, 320
MAX_OBJECTS = 10  # CLEVR scenes have 3 to 10 objects
# The camera of clevr-dataset-gen (image_generation/data/base_scene.blend):
# a 35 mm lens on a 32 mm wide sensor (fit AUTO, so the width spans it), at
# 480 pixels: 35 / 32 * 480 = 525 pixels. Pinhole fits of CLEVR_val_000000's
# five objects (3d_coords to pixel_coords and depth) give 525.4 (nonlinear)
# and 525.3 / 518.8 (linear, x / y; the pixels are rounded).
FOCAL_LENGTH = 525.0
# The generator's object scales (image_generation/data/properties.json): the
# radius of a sphere or cylinder (half its height), the half-diagonal of a
# cube's base.
OBJECT_RADIUS = {'large': 0.7, 'small': 0.35}
_ATTRIBUTES = ('color', 'material', 'shape', 'size')
_RELATIONS = ('left', 'right', 'front', 'behind')
# Nodes whose input objects the answer is read from (see `object_roles`).
_NEEDS_INPUTS = ({'count', 'exist'} | {f'query_{a}' for a in _ATTRIBUTES}
                 | {f'same_{a}' for a in _ATTRIBUTES}
                 | {f'equal_{a}' for a in _ATTRIBUTES})


def scene_boxes(scene: Mapping[str, Any]) -> np.ndarray:
  """float32 [MAX_OBJECTS, 4] boxes (x0, y0, x1, y1) of a scene's objects,
  as fractions of the image's width and height; zeros for padding.

  A scene gives each object's centre in pixels (pixel_coords[:2], the
  projection of its 3D centre) and its depth along the camera's axis
  (pixel_coords[2]), not its extent. The box is the square of half-side
  FOCAL_LENGTH * r / depth pixels around the centre, r = OBJECT_RADIUS[size]
  (CLEVR's size scales): the image of a sphere of radius r, up to
  perspective (which stretches it by up to 10% towards the image's edges).
  An approximation for the other shapes: a cube (half-side r / sqrt(2)) fits
  in it; a cylinder (radius r, 2 r high), seen from about 26 degrees above
  the ground, is about 1.3 times taller. Boxes are clipped to the image.
  Dividing by the 480x320 render makes them scale to the stored square
  images, which are resized non-uniformly.

  Raises:
    ValueError: more than MAX_OBJECTS objects, an unknown size or a depth
      that is not positive.
  """
  objects = scene['objects']
  if len(objects) > MAX_OBJECTS:
    raise ValueError(f'{len(objects)} objects; at most {MAX_OBJECTS} fit')
  boxes = np.zeros((MAX_OBJECTS, 4), np.float32)
  for i, obj in enumerate(objects):
    x, y, depth = (float(v) for v in obj['pixel_coords'][:3])
    if obj['size'] not in OBJECT_RADIUS or not depth > 0:
      raise ValueError(f'object {i} has size {obj["size"]!r} and depth '
                       f'{depth}')
    half = FOCAL_LENGTH * OBJECT_RADIUS[obj['size']] / depth
    box = np.array([(x - half) / IMAGE_WIDTH, (y - half) / IMAGE_HEIGHT,
                    (x + half) / IMAGE_WIDTH, (y + half) / IMAGE_HEIGHT])
    boxes[i] = np.clip(box, 0.0, 1.0)
  return boxes


class ProgramError(ValueError):
  """A program that does not execute on its scene."""


@dataclasses.dataclass(frozen=True)
class _Object:
  """A node's output that is one object (of `unique`), not a set."""
  index: int


def _node(node: Mapping[str, Any]) -> tuple[str, list[str]]:
  """(function, value inputs) of a program node, in either layout
  ('function'/'value_inputs' or 'type'/'side_inputs'; 'filter_color[red]'
  with the value in the name also reads)."""
  function = node.get('function', node.get('type'))
  values = list(node.get('value_inputs', node.get('side_inputs', ())))
  if not isinstance(function, str):
    raise ProgramError(f'a node without a function: {node!r}')
  if function.endswith(']') and '[' in function and not values:
    function, value = function[:-1].split('[', 1)
    values = [value]
  return function, values


def _expect(value: Any, kind: type, function: str) -> Any:
  if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
    raise ProgramError(f'{function} got {value!r}')
  return value


def execute(program: Sequence[Mapping[str, Any]],
            scene: Mapping[str, Any]) -> list[Any]:
  """Every node's output of a program run on a scene, as CLEVR's question
  engine computes them: a set of objects (frozenset of indices), one
  object (`_Object`, from unique) or a value (attribute, count, bool).

  Raises:
    ProgramError: the program does not execute (unique of a set that is
      not one object, a relation of a set, an unknown function, inputs from
      later nodes, a missing attribute).
  """
  objects = scene['objects']
  outputs = []
  for node in program:
    function, values = _node(node)
    try:
      inputs = [outputs[i] for i in node.get('inputs', ())]
    except (IndexError, TypeError) as e:
      raise ProgramError(f'{function} reads a later node') from e
    head, _, attr = function.partition('_')
    arity = 0 if function == 'scene' else (
        2 if function in ('union', 'intersect', 'less_than', 'greater_than')
        or head == 'equal' else 1)
    if len(inputs) != arity:
      raise ProgramError(f'{function} has {len(inputs)} inputs')
    try:
      if function == 'scene':
        out = frozenset(range(len(objects)))
      elif head == 'filter' and attr in _ATTRIBUTES and len(values) == 1:
        out = frozenset(i for i in _expect(inputs[0], frozenset, function)
                        if objects[i][attr] == values[0])
      elif function == 'unique':
        group = _expect(inputs[0], frozenset, function)
        if len(group) != 1:
          raise ProgramError(f'unique of {len(group)} objects')
        out = _Object(next(iter(group)))
      elif function == 'relate' and len(values) == 1 and (
          values[0] in _RELATIONS):
        index = _expect(inputs[0], _Object, function).index
        out = frozenset(
            int(j) for j in scene['relationships'][values[0]][index])
        if any(not 0 <= j < len(objects) for j in out):
          raise ProgramError(f'relate[{values[0]}] names no object: {out}')
      elif function in ('union', 'intersect'):
        a, b = (_expect(x, frozenset, function) for x in inputs)
        out = a | b if function == 'union' else a & b
      elif function == 'count':
        out = len(_expect(inputs[0], frozenset, function))
      elif function == 'exist':
        out = bool(_expect(inputs[0], frozenset, function))
      elif head == 'query' and attr in _ATTRIBUTES:
        out = objects[_expect(inputs[0], _Object, function).index][attr]
      elif head == 'same' and attr in _ATTRIBUTES:
        index = _expect(inputs[0], _Object, function).index
        out = frozenset(j for j, o in enumerate(objects)
                        if j != index and o[attr] == objects[index][attr])
      elif head == 'equal' and attr in _ATTRIBUTES:
        a, b = (_expect(x, str, function) for x in inputs)
        out = a == b
      elif function in ('equal_integer', 'less_than', 'greater_than'):
        a, b = (_expect(x, int, function) for x in inputs)
        out = {'equal_integer': a == b, 'less_than': a < b,
               'greater_than': a > b}[function]
      else:
        raise ProgramError(f'unknown function {function!r} {values}')
    except (KeyError, IndexError, TypeError) as e:
      raise ProgramError(f'{function}: {e!r}') from e
    outputs.append(out)
  return outputs


def object_roles(program: Sequence[Mapping[str, Any]] | None,
                 scene: Mapping[str, Any]) -> tuple[np.ndarray, bool]:
  """What a question needs of each object of its scene, by running its
  program (`hardattn.attention_quality` roles).

  ASKED: the objects `unique` nodes output (those the question refers to).
  RELEVANT: the objects the answer is read from: the set (or unique object)
  input to a count, exist, query_*, same_* or equal_* node, as the
  filter/relate/union/intersect chain before it computed it (equal_*
  compares queried attributes, whose objects the query_* nodes give).
  OTHER: every other object of the scene. NONE: padding to MAX_OBJECTS.

  Args:
    program: the question's program (None: none).
    scene: its image's scene.

  Returns:
    (int8 [MAX_OBJECTS] roles, whether the program executed). A program
    that does not execute (`ProgramError`) or a missing one leaves every
    object OTHER.
  """
  roles = np.full(MAX_OBJECTS, attention_quality.NONE, np.int8)
  roles[:len(scene['objects'])] = attention_quality.OTHER
  if not program:
    return roles, False
  try:
    outputs = execute(program, scene)
  except ProgramError:
    return roles, False
  relevant, asked = set(), set()
  for node, out in zip(program, outputs):
    function, _ = _node(node)
    if function == 'unique':
      asked.add(out.index)
    if function in _NEEDS_INPUTS:
      for i in node.get('inputs', ()):
        x = outputs[i]
        relevant.update([x.index] if isinstance(x, _Object) else
                        x if isinstance(x, frozenset) else ())
  roles[sorted(relevant)] = attention_quality.RELEVANT
  roles[sorted(asked)] = attention_quality.ASKED
  return roles, True


def question_objects(release: Release, split: str,
                     questions: Sequence[Mapping[str, Any]]
                     ) -> tuple[np.ndarray, np.ndarray, int] | None:
  """The objects of a split's questions, from its scenes file if any.

  Args:
    release: the release.
    split: its split.
    questions: the split's questions, in order.

  Returns:
    None without a scenes file; else (float32 [images, MAX_OBJECTS, 4]
    normalised boxes by image index (`scene_boxes`), int8 [questions,
    MAX_OBJECTS] roles (`object_roles`), the number of questions whose
    program does not execute).

  Raises:
    errors.DatasetNotFoundError: a question's image has no scene, or a
      scene does not fit (`scene_boxes`).
  """
  scenes = release.scenes(split)
  if scenes is None:
    return None
  where = release.where('scenes', f'CLEVR_{split}_scenes.json')
  num_images = 1 + max([int(q['image_index']) for q in questions] +
                       list(scenes), default=-1)
  boxes = np.zeros((num_images, MAX_OBJECTS, 4), np.float32)
  for index, scene in scenes.items():
    try:
      boxes[index] = scene_boxes(scene)
    except (ValueError, KeyError, TypeError, IndexError) as e:
      raise errors.DatasetNotFoundError(
          f'{where}: the scene of image {index} does not fit: {e}') from e
  roles = np.zeros((len(questions), MAX_OBJECTS), np.int8)
  failed = 0
  for i, q in enumerate(questions):
    index = int(q['image_index'])
    if index not in scenes:
      raise errors.DatasetNotFoundError(
          f'{where} has no scene of image {index} (question '
          f'{q.get("question_index", i)} of {split} is about it).')
    roles[i], executed = object_roles(q.get('program'), scenes[index])
    failed += not executed
  return boxes, roles, failed


# ------------------------------------------------------------ Vocabulary ----


@dataclasses.dataclass(frozen=True)
class Vocabulary:
  """Question tokens and answers, built from train.

  Attributes:
    tokens: token strings; index 0 '<pad>', 1 '<unk>'.
    answers: answer strings, the classes.
    length_histogram: {split: {length: number of questions}}.
  """
  tokens: tuple[str, ...]
  answers: tuple[str, ...]
  length_histogram: Mapping[str, Mapping[int, int]]

  @functools.cached_property
  def token_ids(self) -> dict[str, int]:
    return {t: i for i, t in enumerate(self.tokens)}

  @functools.cached_property
  def answer_ids(self) -> dict[str, int]:
    return {a: i for i, a in enumerate(self.answers)}

  def encode(self, question: str) -> list[int]:
    """Token ids, UNK for unseen words (unpadded, uncut)."""
    ids = self.token_ids
    return [ids.get(t, UNK) for t in tokenize(question)]

  def decode(self, token_ids: Sequence[int]) -> str:
    return ' '.join(self.tokens[int(i)] for i in token_ids if int(i) != PAD)

  def num_longer_than(self, split: str, length: int) -> tuple[int, int]:
    """(questions of `split` longer than `length` tokens, all questions)."""
    hist = self.length_histogram.get(split, {})
    return (sum(n for l, n in hist.items() if int(l) > length),
            sum(hist.values()))

  def to_json(self) -> str:
    return json.dumps({
        'tokens': list(self.tokens), 'answers': list(self.answers),
        'length_histogram': {s: {str(l): n for l, n in sorted(h.items())}
                             for s, h in self.length_histogram.items()}})

  @classmethod
  def from_json(cls, text: str) -> 'Vocabulary':
    d = json.loads(text)
    return cls(tuple(d['tokens']), tuple(d['answers']),
               {s: {int(l): n for l, n in h.items()}
                for s, h in d['length_histogram'].items()})


def build_vocabulary(questions: Mapping[str, Sequence[Mapping[str, Any]]]
                     ) -> Vocabulary:
  """Builds the vocabularies from `questions['train']`.

  Tokens: train words by falling count, ties alphabetical. Answers: the
  sorted train answers, then (logged) any answer that only occurs in another
  split, which a model cannot learn but is scored as wrong.

  Args:
    questions: {split: the release's question dicts}.

  Returns:
    The Vocabulary with length histograms of every split given.
  """
  answers = sorted({q['answer'] for q in questions['train']})
  for split, qs in questions.items():
    extra = sorted({q['answer'] for q in qs if 'answer' in q} - set(answers))
    if extra:
      logging.warning('CLEVR %s has answers not in train: %s', split, extra)
      answers += extra
  tokens = token_vocabulary({split: [q['question'] for q in qs]
                             for split, qs in questions.items()})
  return dataclasses.replace(tokens, answers=tuple(answers))


def token_vocabulary(texts: Mapping[str, Sequence[str]]) -> Vocabulary:
  """Tokens of texts['train'] by falling count (ties alphabetical), after
  '<pad>' and '<unk>', and every split's question-length histogram; no
  answers.

  Args:
    texts: {split: question texts}.
  """
  counts = collections.Counter()
  for text in texts['train']:
    counts.update(tokenize(text))
  tokens = SPECIAL_TOKENS + tuple(
      sorted(counts, key=lambda t: (-counts[t], t)))
  hist = {split: dict(collections.Counter(len(tokenize(t)) for t in ts))
          for split, ts in texts.items()}
  return Vocabulary(tokens, (), hist)


# ----------------------------------------------------------------- TFDS ----


class ClevrQuestions(tfds.core.GeneratorBasedBuilder):
  """CLEVR questions, one record per question, with their vocabularies."""

  VERSION = tfds.core.Version('1.1.0')
  RELEASE_NOTES = {
      '1.0.0': 'Initial release.',
      '1.1.0': 'object_boxes and object_roles of every question, from the '
               "release's scenes files where it has them (metadata 'scenes' "
               'names those splits), for the attention-quality metric.',
  }
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f'Put {RELEASE_DIR}.zip or the extracted {RELEASE_DIR}/ in the manual '
      'dir (https://cs.stanford.edu/people/jcjohns/clevr/).')

  def _info(self) -> tfds.core.DatasetInfo:
    scalar = functools.partial(tfds.features.Tensor, shape=(), dtype=np.int32)
    return tfds.core.DatasetInfo(
        builder=self,
        description='CLEVR v1.0 questions (Johnson et al. 2017).',
        features=tfds.features.FeaturesDict({
            'image_index': scalar(),
            'question': tfds.features.Text(),
            'answer': tfds.features.Text(),
            'question_family': scalar(),
            'question_type': scalar(),
            # See `question_objects`; zeros and NONE in splits without
            # scenes.
            'object_boxes': tfds.features.Tensor(
                shape=(MAX_OBJECTS, 4), dtype=np.float32),
            'object_roles': tfds.features.Tensor(
                shape=(MAX_OBJECTS,), dtype=np.int8),
        }),
        metadata=tfds.core.MetadataDict(),
        **_INFO_COMMON)

  def _split_generators(self, dl_manager):
    release = _release_for(self, dl_manager)
    splits = [s for s in SPLITS
              if s in REQUIRED_SPLITS or release.exists(
                  'questions', f'CLEVR_{s}_questions.json')]
    questions = {s: release.questions(s) for s in splits}
    for split in splits:
      check_images(release, split, questions[split])
    vocab = build_vocabulary(questions)
    self.info.metadata['vocabulary'] = vocab.to_json()
    objects = {s: question_objects(release, s, questions[s]) for s in splits}
    objects = {s: o for s, o in objects.items() if o is not None}
    self.info.metadata['scenes'] = list(objects)
    self.info.metadata['unexecuted_programs'] = {
        s: o[2] for s, o in objects.items()}
    if objects:
      failed = sum(o[2] for o in objects.values())
      (logging.warning if failed else logging.info)(
          'CLEVR scenes: %s questions have programs that do not execute on '
          'their scenes (they get no asked or relevant objects).',
          ' and '.join(f'{o[2]} of {len(questions[s])} {s}'
                       for s, o in objects.items()))
    return {s: self._generate_examples(s, questions[s], objects.get(s))
            for s in splits}

  def _generate_examples(self, split, questions, objects):
    no_boxes = np.zeros((MAX_OBJECTS, 4), np.float32)
    no_roles = np.full(MAX_OBJECTS, attention_quality.NONE, np.int8)
    for i, q in enumerate(questions):
      if 'answer' in q:
        try:
          qtype = question_type(q.get('program', ()))
        except ValueError as e:
          raise errors.DatasetNotFoundError(
              f'CLEVR {split} question {q.get("question_index", i)}: {e}.'
          ) from e
      else:
        qtype = -1
      if objects is None:
        boxes, roles = no_boxes, no_roles
      else:
        boxes, roles = objects[0][int(q['image_index'])], objects[1][i]
      yield i, {
          'image_index': int(q['image_index']),
          'question': q['question'],
          'answer': q.get('answer', ''),
          'question_family': int(q.get('question_family_index', -1)),
          'question_type': qtype,
          'object_boxes': boxes,
          'object_roles': roles,
      }


def scene_splits(questions_builder: ClevrQuestions) -> tuple[str, ...]:
  """The prepared splits whose questions have objects (the release had
  their scenes)."""
  return tuple(questions_builder.info.metadata.get('scenes', ()))


class ClevrImagesConfig(tfds.core.BuilderConfig):
  """The stored resolution."""

  def __init__(self, *, image_size: int, **kwargs):
    super().__init__(name=f'img{image_size}',
                     description=f'{image_size}x{image_size} RGB.', **kwargs)
    self.image_size = image_size


class ClevrImages(tfds.core.GeneratorBasedBuilder):
  """CLEVR images, decoded once, resized, one record per image."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  BUILDER_CONFIGS = [ClevrImagesConfig(image_size=128)]
  MANUAL_DOWNLOAD_INSTRUCTIONS = ClevrQuestions.MANUAL_DOWNLOAD_INSTRUCTIONS

  def _info(self) -> tfds.core.DatasetInfo:
    size = self.builder_config.image_size
    return tfds.core.DatasetInfo(
        builder=self,
        description='CLEVR v1.0 images, RGB, resized (Johnson et al. 2017).',
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Tensor(
                shape=(size, size, 3), dtype=np.uint8,
                encoding=tfds.features.Encoding.ZLIB),
        }),
        **_INFO_COMMON)

  def _split_generators(self, dl_manager):
    release = _release_for(self, dl_manager)
    splits = [s for s in SPLITS
              if s in REQUIRED_SPLITS or release.image_names(s)]
    return {s: self._generate_examples(release, s) for s in splits}

  def _generate_examples(self, release, split):
    names = release.image_names(split)
    size = self.builder_config.image_size
    decode = functools.partial(release.decode_image, split, size=size)
    workers = max(1, os.cpu_count() or 1)
    chunk = 64 * workers  # bounds the decoded images held in memory
    # PIL releases the GIL while decoding and resizing.
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
      for start in range(0, len(names), chunk):
        images = pool.map(decode, names[start:start + chunk])
        for i, image in enumerate(images, start=start):
          yield i, {'image': image}


def _release_for(builder, dl_manager) -> Release:
  """The release in the manual dir, else downloaded (if `prepare` allows)."""
  try:
    manual = os.fspath(dl_manager.manual_dir)
  except AssertionError:  # no manual dir, or an empty one
    manual = None
  try:
    return locate(manual)
  except errors.DatasetNotFoundError:
    if not getattr(builder, 'allow_download', False):
      raise
  return locate(os.fspath(dl_manager.download(URL)))


def builders(data_dir: str, image_size: int = 128
             ) -> tuple[ClevrQuestions, ClevrImages]:
  """The questions and images builders under `data_dir` (maybe unprepared)."""
  data_dir = os.path.expanduser(data_dir)
  config = ('img128' if image_size == 128
            else ClevrImagesConfig(image_size=image_size))
  with pipeline.no_custom_config_warning():
    return (ClevrQuestions(data_dir=data_dir, file_format='array_record'),
            ClevrImages(data_dir=data_dir, config=config,
                        file_format='array_record'))


def prepare(data_dir: str, manual_dir: str | None, *, image_size: int = 128,
            download: bool = False) -> tuple[ClevrQuestions, ClevrImages]:
  """Prepares the questions and the images at `image_size` if missing.

  Args:
    data_dir: root of prepared datasets.
    manual_dir: the release (see `locate`).
    image_size: stored resolution.
    download: fetch the release from URL if manual_dir has none.

  Returns:
    The prepared builders.

  Raises:
    errors.DatasetNotFoundError: no (complete) release found.
    CorruptImageError: an image does not decode.
  """
  todo = [b for b in builders(data_dir, image_size) if not b.is_prepared()]
  if not todo:
    return builders(data_dir, image_size)
  release_dir = None
  try:
    release = locate(manual_dir)
    release_dir = (os.path.dirname(release.path)
                   if os.path.isfile(release.path) else release.path)
  except errors.DatasetNotFoundError:
    if not download:
      raise
  tfds.disable_progress_bar()
  for b in todo:
    logging.info('Preparing %s into %s', b.name, b.data_dir)
    dl_config = tfds.download.DownloadConfig(manual_dir=release_dir)
    b.allow_download = download
    b.download_and_prepare(download_config=dl_config,
                           file_format='array_record')
  return builders(data_dir, image_size)


def prepare_command(data_dir: str, image_size: int) -> str:
  command = (f'python -m hardattn.prepare --dataset={NAME} '
             f'--manual_dir=PATH/TO/{RELEASE_DIR} --data_dir={data_dir}')
  if image_size != 128:
    command += f' --image_size={image_size}'
  return command


def load_vocabulary(questions_builder: ClevrQuestions) -> Vocabulary:
  return Vocabulary.from_json(questions_builder.info.metadata['vocabulary'])


# ------------------------------------------------------------- Pipeline ----


_RESAMPLE = {'nearest': Image.NEAREST, 'bilinear': Image.BILINEAR}


def _affine_coefficients(h: int, w: int, angle: float,
                         shift: tuple[float, float]
                         ) -> tuple[float, float, float, float, float, float]:
  """PIL's affine data (a, b, c, d, e, f): output pixel (x, y) reads the
  input at (a x + b y + c, d x + e y + f), pixel centres at i + 0.5: the
  rotation by `angle` about the centre, then the shift (dx, dy)."""
  cx, cy = w / 2, h / 2
  cos, sin = math.cos(angle), math.sin(angle)
  dx, dy = shift
  # R(angle) (x - c - d) + c with R = [[cos, -sin], [sin, cos]].
  a, b = cos, -sin
  d, e = sin, cos
  c = cx - a * (cx + dx) - b * (cy + dy)
  f = cy - d * (cx + dx) - e * (cy + dy)
  return a, b, c, d, e, f


def affine_transform(image: np.ndarray, angle: float,
                     shift: tuple[float, float],
                     interpolation: str = 'bilinear') -> np.ndarray:
  """Rotates by `angle` radians about the centre, then shifts by (dx, dy).

  Pixels from outside the image are black, as with zero padding.
  Counter-clockwise for positive angles (y down, as displayed). The
  reference transform (PIL's); `augment_batch` may take OpenCV's.

  Args:
    image: [H, W, 3] uint8.
    angle: radians.
    shift: (dx, dy) pixels; the content moves right and down.
    interpolation: 'nearest' | 'bilinear'.

  Returns:
    [H, W, 3] uint8.
  """
  h, w = image.shape[:2]
  image = np.ascontiguousarray(image)
  pil = Image.frombuffer('RGB', (w, h), image, 'raw', 'RGB', 0, 1)
  out = pil.transform((w, h), Image.AFFINE,
                      _affine_coefficients(h, w, angle, shift),
                      resample=_RESAMPLE[interpolation], fillcolor=(0, 0, 0))
  return np.asarray(out)


@functools.cache
def opencv() -> Any:
  """The cv2 module (the `cv` extra: the host augmentation's fast path),
  imported on first use (0.4 s, which runs that need no host warp do not
  pay), or None where it is not installed."""
  try:
    import cv2  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  # One image is one call: parallelism is over images (grain's threads),
  # and OpenCV's own threads per 128x128 warp would only contend with them.
  cv2.setNumThreads(1)
  return cv2


def nearest_transform_cv2(image: np.ndarray, angle: float,
                          shift: tuple[float, float],
                          out: np.ndarray | None = None) -> np.ndarray:
  """`affine_transform(..., 'nearest')` by OpenCV, into `out` if given.

  About 2x faster on the host than PIL's, whose RGB images are converted
  to and from 4 bytes a pixel (30 against 66 us a 128x128 image, one core,
  2026-12-01). OpenCV rounds the source point in fixed point (1/1,024 px):
  about 0.1% of the pixels of a rotated image come from the neighbour of
  PIL's pixel; unrotated, the two are equal.
  """
  h, w = image.shape[:2]
  a, b, c, d, e, f = _affine_coefficients(h, w, angle, shift)
  # OpenCV reads the pixel nearest to M (x, y, 1) with centres at i: PIL's
  # floor(a (x + 0.5) + b (y + 0.5) + c) is OpenCV's round at this offset.
  matrix = np.array([[a, b, c + 0.5 * (a + b) - 0.5],
                     [d, e, f + 0.5 * (d + e) - 0.5]])
  cv2 = opencv()
  return cv2.warpAffine(image, matrix, (w, h), dst=out,
                        flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                        borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def augment(image: np.ndarray, rng: np.random.Generator, *, pad: int,
            max_rotation: float, interpolation: str = 'nearest'
            ) -> np.ndarray:
  """RN-paper augmentation: pad, random crop back, small random rotation.

  Args:
    image: [H, W, 3] uint8.
    rng: where the shift and angle are drawn from.
    pad: zero padding per side; the crop shifts the content by up to that.
    max_rotation: radians, drawn uniformly in [-max_rotation, max_rotation].
    interpolation: 'nearest' (the default of TensorFlow's image rotation the
      RN code used, and 10x cheaper here: 44 vs 460 us at 128x128) or
      'bilinear'.

  Returns:
    [H, W, 3] uint8.
  """
  dx, dy = rng.integers(-pad, pad + 1, size=2) if pad else (0, 0)
  angle = rng.uniform(-max_rotation, max_rotation) if max_rotation else 0.0
  if not (dx or dy or angle):
    return image
  return affine_transform(image, float(angle), (int(dx), int(dy)),
                          interpolation)


def encode_record(q: Mapping[str, Any], vocab: 'Vocabulary'
                  ) -> tuple[list[int], int, int, int]:
  """A question record's (token ids, answer id or -1, question type,
  family), as training reads them (types of test questions, -1, are 0)."""
  text, answer = q['question'], q['answer']
  text = text.decode() if isinstance(text, bytes) else text
  answer = answer.decode() if isinstance(answer, bytes) else answer
  return (vocab.encode(text),
          vocab.answer_ids.get(answer, -1) if answer else -1,
          max(int(q['question_type']), 0), int(q['question_family']))


def augment_batch(images: np.ndarray, rng: np.random.Generator,
                  row: int = 0, rows: int | None = None, *, pad: int,
                  max_rotation: float, interpolation: str = 'nearest',
                  backend: str = 'auto') -> np.ndarray:
  """`augment` for a batch on the host: images [n, S, S, 3] are rows
  row .. row + n - 1 of a global batch of `rows` (default n) images, whose
  draws (as `hardattn.augment.draw`'s) all come from `rng`. backend 'auto'
  warps nearest-neighbour images with OpenCV where it is installed
  (`nearest_transform_cv2`), else, and for 'pil' or bilinear, with PIL."""
  if backend not in ('auto', 'pil'):
    raise ValueError(f"backend must be 'auto' or 'pil', got {backend!r}")
  n = len(images)
  rows = n if rows is None else rows
  shifts = rng.integers(-pad, pad + 1, size=(rows, 2))
  angles = rng.uniform(-max_rotation, max_rotation, size=rows)
  out = np.empty_like(images)
  fast = (backend == 'auto' and interpolation == 'nearest'
          and opencv() is not None)
  for i in range(n):
    dx, dy = shifts[row + i]
    angle, shift = float(angles[row + i]), (int(dx), int(dy))
    if fast:
      nearest_transform_cv2(np.ascontiguousarray(images[i]), angle, shift,
                            out[i])
    else:
      out[i] = affine_transform(images[i], angle, shift, interpolation)
  return out


def arrays_dir(data_dir: str, q_builder: 'ClevrQuestions',
               i_builder: 'ClevrImages', split: str) -> str:
  """Where a split's train arrays are (`hardattn.datasets.arrays`)."""
  size = i_builder.builder_config.image_size
  return os.path.join(
      os.path.expanduser(data_dir), 'clevr_arrays',
      f'questions{q_builder.version}_img{size}_{i_builder.version}', split)


def build_arrays(q_builder: 'ClevrQuestions', i_builder: 'ClevrImages',
                 vocab: 'Vocabulary', split: str, path: str) -> None:
  """Writes the split's arrays from its prepared records (once; CLEVR's
  train images take 70,000 x 128 x 128 x 3 bytes, 3.4 GB, at 128)."""
  questions = q_builder.as_data_source(split)
  images = i_builder.as_data_source(split)
  logging.info('Building CLEVR %s arrays (%d questions, %d images) in %s',
               split, len(questions), len(images), path)
  writer = arrays_lib.ArrayWriter(path)
  tokens, answers, types, families, image_index = [], [], [], [], []
  for q in questions:
    ids, answer, qtype, family = encode_record(q, vocab)
    tokens.append(ids)
    answers.append(answer)
    types.append(qtype)
    families.append(family)
    image_index.append(int(q['image_index']))
  writer.create_tokens('question', tokens)
  for name, values in (('answer', answers), ('question_type', types),
                       ('question_family', families),
                       ('image_index', image_index)):
    writer.create(name, (len(values),), np.int32)[:] = values
  size = i_builder.builder_config.image_size
  stored = writer.create('images', (len(images), size, size, 3), np.uint8)
  for i in range(len(images)):
    stored[i] = images[i]['image']
  writer.close({'split': split, 'image_size': size})


def train_arrays(data_dir: str, q_builder: 'ClevrQuestions',
                 i_builder: 'ClevrImages', vocab: 'Vocabulary',
                 max_length: int) -> dict[str, np.ndarray]:
  """The train split's arrays (built if missing), questions cut or padded
  to `max_length` tokens."""
  path = arrays_dir(data_dir, q_builder, i_builder, 'train')
  if not arrays_lib.is_built(path):
    build_arrays(q_builder, i_builder, vocab, 'train', path)
  loaded = arrays_lib.load(path)
  arrays_lib.log_built('CLEVR train', path, loaded)
  loaded['question'] = arrays_lib.fit_length(loaded['question'], max_length)
  return loaded


def device_augment(config: Any):
  """The train step's augmentation (clevr.augment_on='device'), or None."""
  c = config.clevr
  if not c.augment or c.augment_on != 'device':
    return None
  return augment_lib.image_augment(pad=c.pad, max_rotation=c.max_rotation,
                                   interpolation=c.interpolation)


class QuestionSource(Sequence):
  """One example per question: its image, tokens, answer and types.

  Images are read by index from the image records; the last few are cached
  (an in-order pass over the release's questions, grouped by image, reads
  each image once).
  """

  def __init__(self, questions: Sequence[Mapping[str, Any]],
               images: Sequence[Mapping[str, np.ndarray]], vocab: Vocabulary,
               max_length: int, cache_size: int = 16, *,
               objects_image_size: int | None = None):
    """Initializes the source.

    Args:
      questions: the question records (ClevrQuestions).
      images: the image records (ClevrImages).
      vocab: the vocabulary.
      max_length: tokens per question.
      cache_size: image records kept in memory.
      objects_image_size: the stored image size S: examples add
        object_boxes float32 [MAX_OBJECTS, 4] (pixels of the S x S image)
        and object_roles int32 [MAX_OBJECTS] for the attention-quality
        metric (the questions must have them, `scene_splits`); None adds
        nothing.
    """
    self._questions = questions
    self._images = images
    self._vocab = vocab
    self._max_length = max_length
    self._read_image = pipeline.CachedReader(images, cache_size)
    self._objects_image_size = objects_image_size

  def __len__(self) -> int:
    return len(self._questions)

  def __getitem__(self, index: int) -> dict[str, Any]:
    if not 0 <= index < len(self):
      raise IndexError(index)
    q = self._questions[int(index)]
    ids, answer, qtype, family = encode_record(q, self._vocab)
    ids = ids[:self._max_length]
    tokens = np.zeros(self._max_length, np.int32)
    tokens[:len(ids)] = ids
    example = {
        'image': self._read_image[int(q['image_index'])]['image'],
        'question': tokens,
        'answer': np.int32(answer),
        'question_type': np.int32(qtype),
        'question_family': np.int32(family),
    }
    if self._objects_image_size is not None:
      # Normalised boxes to pixels of the stored S x S image: x * S / 480,
      # y * S / 320.
      example['object_boxes'] = (np.asarray(q['object_boxes'], np.float32)
                                 * np.float32(self._objects_image_size))
      example['object_roles'] = np.asarray(q['object_roles'], np.int32)
    return example


def meta(vocab: Vocabulary, *, image_size: int, max_length: int,
         num_train: int, num_eval: int, eval_split: str
         ) -> pipeline.DatasetMeta:
  return pipeline.DatasetMeta(
      name=NAME,
      num_answers=len(vocab.answers),
      answer_names=vocab.answers,
      question_kind='tokens',
      question_shape=(max_length,),
      vocab_size=len(vocab.tokens),
      question_types=QUESTION_TYPES,
      image_shape=(image_size, image_size, 3),
      num_train_examples=num_train,
      num_eval_examples=num_eval,
      eval_split=eval_split,
      question_text=vocab.decode)


# Sizes of the full release, for benchmarks that need no data: 28 answers,
# and a vocabulary of the size our tokenizer gives CLEVR (about 80 words).
NOMINAL_VOCAB_SIZE = 84
NOMINAL_NUM_ANSWERS = 28


def nominal_meta(config: Any) -> pipeline.DatasetMeta:
  """A DatasetMeta of the full release's shapes, without reading data."""
  c = config.clevr
  vocab = Vocabulary(
      SPECIAL_TOKENS + tuple(f'w{i}' for i in range(NOMINAL_VOCAB_SIZE - 2)),
      tuple(f'a{i}' for i in range(NOMINAL_NUM_ANSWERS)), {})
  return meta(vocab, image_size=c.image_size, max_length=c.max_question_length,
              num_train=699_989, num_eval=149_991, eval_split=c.eval_split)


def _open(config: Any) -> tuple[ClevrQuestions, ClevrImages, Vocabulary]:
  """The prepared builders (preparing them if a release is configured)."""
  c = config.clevr
  data_dir = os.path.expanduser(config.data_dir)
  q_builder, i_builder = builders(data_dir, c.image_size)
  if not (q_builder.is_prepared() and i_builder.is_prepared()):
    if not (c.manual_dir or c.download):
      missing = [b.data_dir for b in (q_builder, i_builder)
                 if not b.is_prepared()]
      raise errors.DatasetNotFoundError(
          f'CLEVR is not prepared (looked for {" and ".join(missing)}). '
          f'Prepare it with\n  {prepare_command(data_dir, c.image_size)}\n'
          'or set config.clevr.manual_dir to the release (the CLEVR_v1.0 '
          'directory or zip) to prepare it on first use.')
    q_builder, i_builder = prepare(data_dir, c.manual_dir,
                                   image_size=c.image_size,
                                   download=c.download)
  return q_builder, i_builder, load_vocabulary(q_builder)


def check_lengths(vocab: Vocabulary, split: str, settings: Any,
                  what: str, name: str) -> None:
  """Logs, or refuses, questions of `split` longer than the batch length.

  Args:
    vocab: has the split's question-length histogram.
    split: the split read.
    settings: the dataset's config section, with max_question_length and
      long_questions ('truncate' | 'error').
    what: the config section's name, e.g. 'clevr' (for messages).
    name: the dataset's name in messages, e.g. 'CLEVR'.

  Raises:
    errors.UserError: long questions with long_questions='error', or a bad
      long_questions value.
  """
  max_length = settings.max_question_length
  longer, total = vocab.num_longer_than(split, max_length)
  if not longer:
    return
  hist = vocab.length_histogram.get(split, {})
  msg = (f'{longer} of {total} {name} {split} questions are longer than '
         f'config.{what}.max_question_length={max_length} tokens (the '
         f'longest has {max(hist)})')
  if settings.long_questions == 'error':
    raise errors.UserError(
        msg + '. Raise max_question_length or set '
        f"config.{what}.long_questions='truncate'.")
  if settings.long_questions != 'truncate':
    raise errors.UserError(
        f"config.{what}.long_questions must be 'truncate' or 'error', got "
        f'{settings.long_questions!r}.')
  logging.warning('%s; they are cut to their first %d tokens.', msg,
                  max_length)


def _source(q_builder, i_builder, vocab, split, config,
            objects: bool = False) -> QuestionSource:
  """The split's examples; with `objects`, their objects where the split
  has scenes."""
  if split not in q_builder.info.splits or split not in i_builder.info.splits:
    raise errors.DatasetNotFoundError(
        f'The prepared CLEVR data in {q_builder.data_dir} have no {split!r} '
        f'split (the release had none).')
  check_lengths(vocab, split, config.clevr, 'clevr', 'CLEVR')
  has_objects = objects and split in scene_splits(q_builder)
  return QuestionSource(
      q_builder.as_data_source(split), i_builder.as_data_source(split), vocab,
      config.clevr.max_question_length,
      objects_image_size=config.clevr.image_size if has_objects else None)


def get_dataset(
    config: Any, *, process_index: int = 0, process_count: int = 1
) -> tuple[Iterator[pipeline.Batch],
           Callable[[], Iterator[pipeline.Batch]], pipeline.DatasetMeta]:
  """Train iterator, eval iterable factory and metadata for this process.

  Returns:
    (train_iter, eval_iter_fn, meta). Batches hold image uint8 [b, S, S, 3]
    ([b / questions_per_image, ...] in train batches), question int32
    [b, max_question_length], answer, question_type, question_family int32
    [b] and mask bool [b]; train batches are shuffled (and augmented on the
    host where clevr.augment_on='host'; their mask is False on padding of
    image groups), eval batches are clevr.eval_split in order, padded,
    and add object_boxes float32 [b, MAX_OBJECTS, 4] (pixels of the stored
    image) and object_roles int32 [b, MAX_OBJECTS] where the release had
    that split's scenes (`hardattn.attention_quality`).

  Raises:
    errors.DatasetNotFoundError: not prepared and no release configured.
    errors.UserError: bad batch sizes or question length settings.
  """
  c = config.clevr
  train_batch = pipeline.per_process_batch_size(
      config.batch_size, process_count, 'batch_size')
  eval_batch = pipeline.per_process_batch_size(
      config.eval_batch_size, process_count, 'eval_batch_size')
  _check_input_settings(c)
  group = pipeline.questions_per_image(config, train_batch)
  if group > 1 and c.input != 'arrays':
    raise errors.UserError(
        f'config.questions_per_image={group} needs '
        "config.clevr.input='arrays'.")
  q_builder, i_builder, vocab = _open(config)
  train_source = _source(q_builder, i_builder, vocab, 'train', config)
  eval_source = _source(q_builder, i_builder, vocab, c.eval_split, config,
                        objects=True)
  host_augment = c.augment and c.augment_on == 'host'
  augment_kwargs = dict(pad=c.pad, max_rotation=c.max_rotation,
                        interpolation=c.interpolation)
  if c.input == 'arrays':
    train_iter = arrays_lib.train_iterator(
        train_arrays(config.data_dir, q_builder, i_builder, vocab,
                     c.max_question_length),
        batch_size=train_batch, seed=config.data_seed,
        process_index=process_index, process_count=process_count,
        questions_per_image=group, num_threads=config.data_threads,
        augment=(functools.partial(augment_batch, **augment_kwargs)
                 if host_augment else None))
  else:
    train_iter = pipeline.train_iterator(
        train_source, batch_size=train_batch, seed=config.data_seed,
        process_index=process_index, process_count=process_count,
        num_threads=config.data_threads, num_workers=config.data_workers,
        random_map_fn=(functools.partial(_augment_example, **augment_kwargs)
                       if host_augment else None))
  eval_iter_fn = pipeline.eval_iterable_fn(
      eval_source, batch_size=eval_batch, process_index=process_index,
      process_count=process_count, num_threads=config.data_threads)
  return train_iter, eval_iter_fn, meta(
      vocab, image_size=c.image_size, max_length=c.max_question_length,
      num_train=len(train_source), num_eval=len(eval_source),
      eval_split=c.eval_split)


def _check_input_settings(c: Any) -> None:
  for field, allowed in (('input', INPUTS), ('augment_on', AUGMENT_ON),
                         ('interpolation', tuple(_RESAMPLE))):
    if c[field] not in allowed:
      raise errors.UserError(
          f'config.clevr.{field} must be one of {list(allowed)}, got '
          f'{c[field]!r}.')


def _augment_example(example, rng, **kwargs):
  return dict(example, image=augment(example['image'], rng, **kwargs))


def get_split(config: Any, split: str, *, batch_size: int
              ) -> tuple[Callable[[], Iterator[pipeline.Batch]],
                         pipeline.DatasetMeta]:
  """An in-order pass over any prepared split (e.g. 'test', no answers).

  Returns:
    (iter_fn, meta): iter_fn() yields padded batches with `mask`, examples
    in the release's question order; meta as for training.
  """
  q_builder, i_builder, vocab = _open(config)
  source = _source(q_builder, i_builder, vocab, split, config)
  iter_fn = pipeline.eval_iterable_fn(source, batch_size=batch_size,
                                      num_threads=config.data_threads)
  c = config.clevr
  return iter_fn, meta(vocab, image_size=c.image_size,
                       max_length=c.max_question_length,
                       num_train=q_builder.info.splits['train'].num_examples,
                       num_eval=len(source), eval_split=split)


# ----------------------------------------------------------- Prediction ----
# What `hardattn.predict` needs to answer a typed question about an image
# file (the run's `inputs` are in WORKDIR/dataset.json, see
# `hardattn.assets`).


def vocabulary_of(meta_: pipeline.DatasetMeta) -> Vocabulary | None:
  """The Vocabulary whose `decode` is meta.question_text, if it is one."""
  vocab = getattr(meta_.question_text, '__self__', None)
  return vocab if isinstance(vocab, Vocabulary) else None


def token_inputs(vocab: Vocabulary, settings: Any) -> dict[str, Any]:
  """The question part of a run's prediction inputs: the train token
  vocabulary and the config's length settings (max_question_length,
  long_questions)."""
  return {'tokens': list(vocab.tokens),
          'max_length': int(settings.max_question_length),
          'long_questions': str(settings.long_questions)}


def prediction_inputs(config: Any, meta_: pipeline.DatasetMeta
                      ) -> dict[str, Any]:
  """What predicting needs besides the DatasetMeta: tokens and sizes.

  Raises:
    errors.DatasetNotFoundError: the vocabulary is not in `meta_` and the
      data are not prepared.
  """
  vocab = vocabulary_of(meta_)
  if vocab is None:
    vocab = _open(config)[2]
  return dict(token_inputs(vocab, config.clevr),
              image_size=list(meta_.image_shape[:2]), image_dtype='uint8')


def encode_question(text: str, inputs: Mapping[str, Any],
                    where: str = 'clevr.max_question_length') -> np.ndarray:
  """int32 [max_length] tokens of a question, as training encodes it.

  `tokenize`d; unknown words become UNK (and are logged); longer questions
  are cut (with a warning) or refused, as the run's long_questions says.

  Raises:
    errors.UserError: an empty question, or a long one the run refuses.
  """
  text = inputs_lib.check_question(text)
  return inputs_lib.encode_words(
      tokenize(text), inputs['tokens'], max_length=inputs['max_length'],
      unk=UNK, long_questions=inputs.get('long_questions', 'truncate'),
      text=text, where=where)


# RGB resized to the stored resolution, as preparing the release does
# (bilinear, aspect ratio not kept); questions decoded with the run's tokens.
prepare_image = inputs_lib.prepare_image
question_decoder = inputs_lib.question_decoder
