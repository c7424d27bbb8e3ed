"""A tiny CLEVR v1.0 release in the official layout, for tests.

`make_release(root)` writes root/CLEVR_v1.0/images/{train,val,test}/
CLEVR_{split}_{index:06d}.png (480x320 RGBA PNGs, like the release's) and
root/CLEVR_v1.0/questions/CLEVR_{split}_questions.json with the release's
fields: train and val questions have answers, families and programs (one
question of every question type per image), test questions have neither.
Answers follow from the question text, so a model can learn them.
"""

import json
import os
import zipfile

import numpy as np
from PIL import Image
from PIL import ImageDraw

RELEASE_DIR = 'CLEVR_v1.0'
SPLITS = ('train', 'val', 'test')
SIZE = (480, 320)  # (width, height) of the release's images

_COLORS = {'red': (173, 35, 35), 'blue': (42, 75, 215),
           'green': (29, 105, 20), 'yellow': (255, 238, 51)}


def _scene(split, index):
  return {'split': split, 'image_index': index,
          'image_filename': f'CLEVR_{split}_{index:06d}.png'}


def _program(*steps):
  """[(function, inputs, value_inputs), ...] -> the release's program."""
  return [{'function': f, 'inputs': list(i), 'value_inputs': list(v)}
          for f, i, v in steps]


def _questions_for_image(split, index, rng):
  """One question of each of the 13 types about image `index`."""
  color = sorted(_COLORS)[index % len(_COLORS)]
  scene = [('scene', (), ())]
  filt = scene + [('filter_color', (0,), (color,))]
  out = []

  def add(family, text, answer, *program):
    out.append(dict(_scene(split, index), question=text, answer=answer,
                    question_family_index=family,
                    program=_program(*program)))

  n = int(rng.integers(0, 4))
  add(0, f'How many {color} things are there?', str(n), *filt,
      ('count', (1,), ()))
  add(1, f'Is there a {color} cube?', 'yes' if index % 2 else 'no', *filt,
      ('filter_shape', (1,), ('cube',)), ('exist', (2,), ()))
  for family, (fn, word) in enumerate(
      [('equal_integer', 'the same number of'), ('less_than', 'fewer'),
       ('greater_than', 'more')], start=2):
    add(family, f'Are there {word} {color} spheres than cubes?',
        'yes' if family % 2 else 'no', *filt,
        ('filter_shape', (1,), ('sphere',)), ('count', (2,), ()),
        ('scene', (), ()), ('filter_shape', (4,), ('cube',)),
        ('count', (5,), ()), (fn, (3, 6), ()))
  for family, (attr, answer) in enumerate(
      [('color', color), ('material', 'rubber'), ('shape', 'cylinder'),
       ('size', 'large')], start=5):
    add(family, f'What {attr} is the {color} object?', answer, *filt,
        ('unique', (1,), ()), (f'query_{attr}', (2,), ()))
  for family, attr in enumerate(('color', 'material', 'shape', 'size'),
                                start=9):
    add(family, f'Does the {color} thing have the same {attr} as the '
        'sphere; is it?', 'no', *filt, ('unique', (1,), ()),
        (f'query_{attr}', (2,), ()), ('scene', (), ()),
        ('filter_shape', (4,), ('sphere',)), ('unique', (5,), ()),
        (f'query_{attr}', (6,), ()), (f'equal_{attr}', (3, 7), ()))
  return out


def render(split, index):
  """A 480x320 RGBA picture with a few coloured blobs on grey."""
  rng = np.random.default_rng([SPLITS.index(split), index])
  img = Image.new('RGBA', SIZE, (128, 128, 128, 255))
  draw = ImageDraw.Draw(img)
  for _ in range(3):
    x, y = rng.integers(40, 440), rng.integers(40, 280)
    r = int(rng.integers(15, 35))
    color = list(_COLORS.values())[int(rng.integers(0, len(_COLORS)))]
    draw.ellipse((x - r, y - r, x + r, y + r), fill=color + (255,))
  return img


def make_release(root, num_images=None, *, as_zip=False):
  """Writes the release under root; returns the path to give the loader.

  Args:
    root: directory to write into.
    num_images: {split: images}; default train 6, val 4, test 2.
    as_zip: also pack it as root/CLEVR_v1.0.zip and return that path.

  Returns:
    root/CLEVR_v1.0 (or the zip).
  """
  num_images = num_images or {'train': 6, 'val': 4, 'test': 2}
  base = os.path.join(root, RELEASE_DIR)
  rng = np.random.default_rng(0)
  for split, n in num_images.items():
    folder = os.path.join(base, 'images', split)
    os.makedirs(folder, exist_ok=True)
    questions = []
    for index in range(n):
      render(split, index).save(
          os.path.join(folder, f'CLEVR_{split}_{index:06d}.png'))
      if split == 'test':
        for text in ('How many red things are there?',
                     'Is there a zebra-striped cube?'):
          questions.append(dict(_scene(split, index), question=text))
      else:
        questions.extend(_questions_for_image(split, index, rng))
    for i, q in enumerate(questions):
      q['question_index'] = i
    os.makedirs(os.path.join(base, 'questions'), exist_ok=True)
    with open(os.path.join(base, 'questions',
                           f'CLEVR_{split}_questions.json'), 'w') as f:
      json.dump({'info': {'split': split, 'version': '1.0'},
                 'questions': questions}, f)
  if not as_zip:
    return base
  path = os.path.join(root, f'{RELEASE_DIR}.zip')
  with zipfile.ZipFile(path, 'w') as z:
    for folder, _, files in os.walk(base):
      for name in sorted(files):
        full = os.path.join(folder, name)
        z.write(full, os.path.relpath(full, root))
  return path


def load_questions(release, split):
  with open(os.path.join(release, 'questions',
                         f'CLEVR_{split}_questions.json')) as f:
    return json.load(f)['questions']
