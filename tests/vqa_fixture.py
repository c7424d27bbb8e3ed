"""A tiny VQA-CP v2 / VQA v2 release in the official on-disk layouts.

`write_release(root)` writes

  root/vqacp/vqacp_v2_{train,test}_{questions,annotations}.json  (lists)
  root/vqa/v2_OpenEnded_mscoco_{train2014,val2014}_questions.json (dicts)
  root/vqa/v2_mscoco_{train2014,val2014}_annotations.json
  root/coco/{train2014,val2014}/COCO_{split}_{id:012d}.jpg        (JPEG)

with real JPEG images (coloured squares on a grey background) and answers
that exercise the official normalisation (case, articles, number words,
punctuation).
"""

import json
import os

import numpy as np
from PIL import Image

from hardattn import cli
from hardattn.datasets import vqa

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# image id -> COCO folder.
IMAGES = {9: 'train2014', 25: 'train2014', 30: 'train2014',
          42: 'val2014', 73: 'val2014', 74: 'val2014'}

# (question, multiple_choice_answer, 10 answers, question_type, answer_type)
_QA = [
    ('Is there a red square?', 'yes', ['yes'] * 9 + ['no'], 'is there a',
     'yes/no'),
    ('Is the square blue?', 'no', ['no'] * 7 + ['yes'] * 2 + ['No'],
     'is the', 'yes/no'),
    ('How many squares are there?', '2',
     ['2'] * 3 + ['two'] * 2 + ['Two', '3', '3', '1', '2 '], 'how many',
     'number'),
    ('How many red things?', '1', ['1'] * 4 + ['one'] * 4 + ['0', 'none'],
     'how many', 'number'),
    ('What color is the square?', 'red',
     ['red'] * 2 + ['Red', 'the red', 'red.', 'blue', 'blue', 'green',
                    'dark red', 'red'], 'what color is the', 'other'),
    ('What is in the picture?', 'square',
     ['square', 'a square', 'squares', 'square', 'box', 'box', 'square',
      'shape', "it's square", 'square'], 'what is in the', 'other'),
]


def _image(image_id: int, size=(96, 64)) -> Image.Image:
  rng = np.random.default_rng(image_id)
  pixels = np.full((size[1], size[0], 3), 128, np.uint8)
  for _ in range(2):
    x, y = rng.integers(0, size[0] - 16), rng.integers(0, size[1] - 16)
    pixels[y:y + 16, x:x + 16] = rng.integers(0, 256, 3)
  return Image.fromarray(pixels)


def write_images(coco_dir: str) -> None:
  for image_id, split in IMAGES.items():
    folder = os.path.join(coco_dir, split)
    os.makedirs(folder, exist_ok=True)
    _image(image_id).save(
        os.path.join(folder, f'COCO_{split}_{image_id:012d}.jpg'),
        format='JPEG', quality=90)


def _entries(image_ids, first_qid):
  """Questions and annotations: every QA pair on every image."""
  questions, annotations = [], []
  qid = first_qid
  for image_id in image_ids:
    for text, mca, answers, qtype, atype in _QA:
      questions.append({'image_id': image_id, 'question': text,
                        'question_id': qid})
      annotations.append({
          'question_type': qtype, 'multiple_choice_answer': mca,
          'answers': [{'answer': a, 'answer_confidence': 'yes',
                       'answer_id': i + 1} for i, a in enumerate(answers)],
          'image_id': image_id, 'answer_type': atype, 'question_id': qid})
      qid += 1
  return questions, annotations


def _dump(path, obj):
  with open(path, 'w') as f:
    json.dump(obj, f)


def write_vqacp(folder: str) -> dict[str, list[dict]]:
  """VQA-CP v2 lists; train and test each mix COCO train and val images."""
  os.makedirs(folder, exist_ok=True)
  out = {}
  for split, ids, first in (('train', [9, 25, 42, 73], 1000),
                            ('test', [30, 74], 5000)):
    questions, annotations = _entries(ids, first)
    for entry in questions + annotations:
      entry['coco_split'] = IMAGES[entry['image_id']]
    _dump(os.path.join(folder, f'vqacp_v2_{split}_questions.json'),
          questions)
    _dump(os.path.join(folder, f'vqacp_v2_{split}_annotations.json'),
          annotations)
    out[split] = annotations
  return out


def write_vqa_v2(folder: str) -> dict[str, list[dict]]:
  """VQA v2 objects; train2014 questions on train images, val2014 on val."""
  os.makedirs(folder, exist_ok=True)
  out = {}
  for split, first in (('train2014', 100), ('val2014', 200)):
    ids = [i for i, s in IMAGES.items() if s == split]
    questions, annotations = _entries(ids, first)
    common = {'info': {'description': 'fixture'}, 'license': {},
              'data_subtype': split, 'data_type': 'mscoco'}
    _dump(os.path.join(folder, f'v2_OpenEnded_mscoco_{split}_questions.json'),
          dict(common, task_type='Open-Ended', questions=questions))
    _dump(os.path.join(folder, f'v2_mscoco_{split}_annotations.json'),
          dict(common, annotations=annotations))
    out[split] = annotations
  return out


# Model sizes of the tiny configs of SMem-VQA's setting (SMem, iBOWIMG).
TINY_SMEM_MODEL = {'attention_dim': 16, 'word_embed_dim': 16}


def tiny_config(spec: str, data_dir: str, section: str,
                model: dict[str, object], **fields):
  """configs/<spec> shrunk for the CPU tests of a dataset on backbone grids
  (VQA, VQA v1, DAQUAR): prepared into data_dir, grids of 64x64 images by
  randomly initialised weights (no converted file), the `model` fields the
  config has, and 3 steps of 8 examples that checkpoint, evaluate and draw
  2 pictures. `fields` (where the data is, a tiny backbone) are set last in
  config.<section>.
  """
  config = cli.load_config(os.path.join(REPO, 'configs', spec))
  config.data_dir = data_dir
  c = config[section]
  c.image_size = 64
  c.backbone_weights = vqa.RANDOM_WEIGHTS
  c.extract_batch_size = 4
  c.update(fields)
  for key, value in model.items():
    if key in config.model:
      config.model[key] = value
  config.data_threads = 0
  config.batch_size = config.eval_batch_size = 8
  config.num_train_steps = config.eval_every_steps = 3
  config.checkpoint_every_steps = 3
  config.log_every_steps = 1
  config.num_pictures = 2
  return config


def train_to_learn(config, steps: int, learning_rate: float):
  """The config for a test that a model learns the fixture's answers: no
  dropout, `steps` steps at `learning_rate`, one eval and checkpoint at
  the end, no pictures."""
  config.model.dropout_rate = 0.0
  config.optimizer.learning_rate = learning_rate
  config.num_train_steps = config.eval_every_steps = steps
  config.checkpoint_every_steps = steps
  config.log_every_steps = 50
  config.num_pictures = 0
  return config


def write_release(root: str) -> dict[str, str]:
  """Writes everything; returns {'vqacp', 'vqa', 'coco'} directories."""
  dirs = {name: os.path.join(root, name) for name in ('vqacp', 'vqa', 'coco')}
  write_vqacp(dirs['vqacp'])
  write_vqa_v2(dirs['vqa'])
  write_images(dirs['coco'])
  return dirs


# VQA v1: train2014 / val2014 as VQA v2's (other file names), and the
# evaluation server's test-dev and test-standard questions (no annotations)
# on test2015 images.
TEST_IMAGES = {1: True, 15: True, 99: False}  # image id -> in test-dev


def write_vqa_v1(root: str) -> dict[str, str]:
  """Writes root/vqa1 (JSON) and root/coco1 (train2014, val2014 and test2015
  images); returns {'vqa1', 'coco1'} directories."""
  folder, coco = os.path.join(root, 'vqa1'), os.path.join(root, 'coco1')
  os.makedirs(folder, exist_ok=True)
  for split, first in (('train2014', 300), ('val2014', 400)):
    ids = [i for i, s in IMAGES.items() if s == split]
    questions, annotations = _entries(ids, first)
    common = {'info': {'description': 'fixture'}, 'license': {},
              'data_subtype': split, 'data_type': 'mscoco'}
    _dump(os.path.join(folder, f'OpenEnded_mscoco_{split}_questions.json'),
          dict(common, task_type='Open-Ended', questions=questions))
    _dump(os.path.join(folder, f'mscoco_{split}_annotations.json'),
          dict(common, annotations=annotations))
  write_images(coco)
  os.makedirs(os.path.join(coco, 'test2015'), exist_ok=True)
  for image_id in TEST_IMAGES:
    _image(image_id).save(os.path.join(
        coco, 'test2015', f'COCO_test2015_{image_id:012d}.jpg'),
        format='JPEG', quality=90)
  standard = [{'image_id': i, 'question': q, 'question_id': 9000 + 10 * i + k}
              for i in TEST_IMAGES for k, (q, *_) in enumerate(_QA[:2])]
  for subtype, questions in (
      ('test2015', standard),
      ('test-dev2015', [q for q in standard if TEST_IMAGES[q['image_id']]])):
    _dump(os.path.join(folder, f'OpenEnded_mscoco_{subtype}_questions.json'),
          {'info': {'description': 'fixture'}, 'license': {},
           'data_subtype': subtype, 'data_type': 'mscoco',
           'task_type': 'Open-Ended', 'questions': questions})
  return {'vqa1': folder, 'coco1': coco}
