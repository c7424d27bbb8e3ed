"""A tiny CLEVR v1.0 release in the official layout, for tests.

`make_release(root)` writes root/CLEVR_v1.0/images/{train,val,test}/
CLEVR_{split}_{index:06d}.png (480x320 RGBA PNGs, like the release's),
root/CLEVR_v1.0/questions/CLEVR_{split}_questions.json with the release's
fields: train and val questions have answers, families and programs (one
question of every question type per image), test questions have neither;
and root/CLEVR_v1.0/scenes/CLEVR_{train,val}_scenes.json.

Every image shows its scene (`scene`): objects on the ground plane seen by
CLEVR's camera (at CAMERA, looking at the origin, FOCAL pixels), each drawn
as a square (cube), disc (sphere) or rounded square (cylinder) of half-side
FOCAL * radius / depth around its projected centre, the far ones first.
The scene holds one large rubber cylinder of the image's colour, one sphere
and one to three cubes of other colours, so every program executes on its
scene and every answer is what the program computes.
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

COLORS = {'red': (173, 35, 35), 'blue': (42, 75, 215),
           'green': (29, 105, 20), 'yellow': (255, 238, 51)}
CAMERA = np.array([7.48, -6.51, 5.34])  # base_scene.blend's camera
FOCAL = 525.0  # pixels: 35 mm lens, 32 mm sensor, 480 pixels wide
RADIUS = {'large': 0.7, 'small': 0.35}
# The release's directions (the camera's axes on the ground).
DIRECTIONS = {'right': (0.6563, 0.7545, 0.0), 'behind': (-0.7545, 0.6563, 0.0),
              'left': (-0.6563, -0.7545, 0.0), 'front': (0.7545, -0.6563, 0.0)}


def _image(split, index):
  return {'split': split, 'image_index': index,
          'image_filename': f'CLEVR_{split}_{index:06d}.png'}


def project(point):
  """(x, y) pixels and depth of a 3D point, as the release's pixel_coords."""
  forward = -CAMERA / np.linalg.norm(CAMERA)
  right = np.cross(forward, [0.0, 0.0, 1.0])
  right /= np.linalg.norm(right)
  up = np.cross(right, forward)
  q = np.asarray(point, float) - CAMERA
  depth = float(q @ forward)
  return (SIZE[0] / 2 + FOCAL * float(q @ right) / depth,
          SIZE[1] / 2 - FOCAL * float(q @ up) / depth, depth)


def scene(split, index):
  """The scene of an image, in the release's format."""
  rng = np.random.default_rng([SPLITS.index(split), index])
  color = image_color(index)
  others = [c for c in sorted(COLORS) if c != color]
  objects = [
      dict(color=color, size='large', material='rubber', shape='cylinder'),
      dict(color=others[index % 3],
           size='large' if index % 3 == 0 else 'small',
           material='rubber' if index % 2 else 'metal', shape='sphere'),
  ]
  for k in range(1 + index % 3):
    objects.append(dict(color=others[(index + k + 1) % 3],
                        size=('small', 'large')[k % 2],
                        material=('metal', 'rubber')[(index + k) % 2],
                        shape='cube'))
  placed = []
  for obj in objects:
    r = RADIUS[obj['size']]
    while True:
      x, y = rng.uniform(-3, 3, size=2)
      if all(np.hypot(x - px, y - py) > r + pr + 0.25
             for px, py, pr in placed):
        break
    placed.append((x, y, r))
    px, py, depth = project((x, y, r))
    obj.update({'3d_coords': [float(x), float(y), r],
                'pixel_coords': [int(round(px)), int(round(py)), depth],
                'rotation': float(rng.uniform(0, 360))})
  coords = np.array([o['3d_coords'] for o in objects])
  relationships = {
      name: [[j for j in range(len(objects))
              if j != i and (coords[j] - coords[i]) @ direction > 0.2]
             for i in range(len(objects))]
      for name, direction in DIRECTIONS.items()}
  return dict(_image(split, index), objects=objects,
              relationships=relationships, directions=DIRECTIONS)


def image_color(index):
  return sorted(COLORS)[index % len(COLORS)]


def _program(*steps):
  """[(function, inputs, value_inputs), ...] -> the release's program."""
  return [{'function': f, 'inputs': list(i), 'value_inputs': list(v)}
          for f, i, v in steps]


def _questions_for_image(split, index):
  """One question of each of the 13 types about image `index`."""
  s = scene(split, index)
  objects = s['objects']
  color = image_color(index)
  cylinder, sphere = objects[0], objects[1]
  num_cubes = sum(o['shape'] == 'cube' for o in objects)
  cubes_left = [j for j in s['relationships']['left'][0]
                if objects[j]['shape'] == 'cube']
  yes_no = lambda b: 'yes' if b else 'no'
  scene_node = [('scene', (), ())]
  unique_color = scene_node + [('filter_color', (0,), (color,)),
                               ('unique', (1,), ())]
  out = []

  def add(family, text, answer, *program):
    out.append(dict(_image(split, index), question=text, answer=answer,
                    question_family_index=family,
                    program=_program(*program)))

  add(0, 'How many cubes are there?', str(num_cubes), *scene_node,
      ('filter_shape', (0,), ('cube',)), ('count', (1,), ()))
  add(1, f'Is there a cube left of the {color} thing?', yes_no(cubes_left),
      *unique_color, ('relate', (2,), ('left',)),
      ('filter_shape', (3,), ('cube',)), ('exist', (4,), ()))
  for family, (fn, word, answer) in enumerate(
      [('equal_integer', 'the same number of', num_cubes == 1),
       ('less_than', 'fewer', num_cubes > 1),
       ('greater_than', 'more', False)], start=2):
    add(family, f'Are there {word} spheres than cubes?', yes_no(answer),
        *scene_node, ('filter_shape', (0,), ('sphere',)), ('count', (1,), ()),
        ('scene', (), ()), ('filter_shape', (3,), ('cube',)),
        ('count', (4,), ()), (fn, (2, 5), ()))
  for family, attr in enumerate(('color', 'material', 'shape', 'size'),
                                start=5):
    add(family, f'What {attr} is the {color} object?', cylinder[attr],
        *unique_color, (f'query_{attr}', (2,), ()))
  for family, attr in enumerate(('color', 'material', 'shape', 'size'),
                                start=9):
    add(family, f'Does the {color} thing have the same {attr} as the '
        'sphere; is it?', yes_no(cylinder[attr] == sphere[attr]),
        *unique_color, (f'query_{attr}', (2,), ()), ('scene', (), ()),
        ('filter_shape', (4,), ('sphere',)), ('unique', (5,), ()),
        (f'query_{attr}', (6,), ()), (f'equal_{attr}', (3, 7), ()))
  return out


def render(split, index):
  """The 480x320 RGBA picture of `scene(split, index)` on grey."""
  img = Image.new('RGBA', SIZE, (128, 128, 128, 255))
  draw = ImageDraw.Draw(img)
  objects = scene(split, index)['objects']
  for obj in sorted(objects, key=lambda o: -o['pixel_coords'][2]):
    x, y, depth = obj['pixel_coords']
    half = FOCAL * RADIUS[obj['size']] / depth
    box = (x - half, y - half, x + half, y + half)
    fill = COLORS[obj['color']] + (255,)
    if obj['shape'] == 'cube':
      draw.rectangle(box, fill=fill)
    elif obj['shape'] == 'sphere':
      draw.ellipse(box, fill=fill)
    else:
      draw.rounded_rectangle(box, radius=half / 2, fill=fill)
  return img


def make_release(root, num_images=None, *, as_zip=False, scenes=True):
  """Writes the release under root; returns the path to give the loader.

  Args:
    root: directory to write into.
    num_images: {split: images}; default train 6, val 4, test 2.
    as_zip: also pack it as root/CLEVR_v1.0.zip and return that path.
    scenes: write the train and val scenes files.

  Returns:
    root/CLEVR_v1.0 (or the zip).
  """
  num_images = num_images or {'train': 6, 'val': 4, 'test': 2}
  base = os.path.join(root, RELEASE_DIR)
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
          questions.append(dict(_image(split, index), question=text))
      else:
        questions.extend(_questions_for_image(split, index))
    for i, q in enumerate(questions):
      q['question_index'] = i
    _write_json(base, 'questions', f'CLEVR_{split}_questions.json',
                {'info': {'split': split, 'version': '1.0'},
                 'questions': questions})
    if scenes and split != 'test':
      _write_json(base, 'scenes', f'CLEVR_{split}_scenes.json',
                  {'info': {'split': split, 'version': '1.0'},
                   'scenes': [scene(split, i) for i in range(n)]})
  if not as_zip:
    return base
  path = os.path.join(root, f'{RELEASE_DIR}.zip')
  with zipfile.ZipFile(path, 'w') as z:
    for folder, _, files in os.walk(base):
      for name in sorted(files):
        full = os.path.join(folder, name)
        z.write(full, os.path.relpath(full, root))
  return path


def _write_json(base, folder, name, data):
  os.makedirs(os.path.join(base, folder), exist_ok=True)
  with open(os.path.join(base, folder, name), 'w') as f:
    json.dump(data, f)


def load_questions(release, split):
  with open(os.path.join(release, 'questions',
                         f'CLEVR_{split}_questions.json')) as f:
    return json.load(f)['questions']


def load_scenes(release, split):
  with open(os.path.join(release, 'scenes',
                         f'CLEVR_{split}_scenes.json')) as f:
    return json.load(f)['scenes']
