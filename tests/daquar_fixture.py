"""A tiny DAQUAR release in the official on-disk layout.

`write_release(root)` writes

  root/qa.37.raw.{train,test}.txt    question line, answer line, ...
  root/qa.894.raw.{train,test}.txt
  root/nyu_depth_images/image<N>.png (PNG, 64x48)

with answers that depend on the question alone (so a model can learn
them), lists among them, questions naming their image as DAQUAR's do.
"""

import os

import numpy as np
from PIL import Image

TRAIN_IMAGES = (1, 2, 3, 4, 5, 6)
TEST_IMAGES = (7, 8)
# (question with {image}, answer line as DAQUAR writes it)
QA = [
    ('what is on the desk in the {image} ?', 'book, scissor'),
    ('how many chairs are in the {image} ?', '2'),
    ('what is in front of the wall in the {image} ?', 'sofa'),
    ('what color is the table in the {image} ?', 'brown'),
    ('what is on the left side of the bed in the {image} ?', 'lamp, pillow'),
]


def _image(image_id: int) -> Image.Image:
  rng = np.random.default_rng(image_id)
  pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
  return Image.fromarray(pixels)


def questions(image_ids) -> list[tuple[str, str]]:
  return [(q.format(image=f'image{i}'), a) for i in image_ids for q, a in QA]


def _write_qa(path: str, pairs) -> None:
  with open(path, 'w') as f:
    for question, answer in pairs:
      f.write(f'{question}\n{answer}\n')


def write_release(root: str) -> str:
  """Writes everything under root; returns root."""
  os.makedirs(os.path.join(root, 'nyu_depth_images'), exist_ok=True)
  for i in TRAIN_IMAGES + TEST_IMAGES:
    _image(i).save(os.path.join(root, 'nyu_depth_images', f'image{i}.png'))
  for version in ('37', '894'):
    _write_qa(os.path.join(root, f'qa.{version}.raw.train.txt'),
              questions(TRAIN_IMAGES))
    _write_qa(os.path.join(root, f'qa.{version}.raw.test.txt'),
              questions(TEST_IMAGES))
  return root
