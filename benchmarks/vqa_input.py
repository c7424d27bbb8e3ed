r"""VQA input pipeline: examples/s from prepared questions and ResNet grids.

Builds a synthetic VQA-CP v2 release in the official layout (--num_images
COCO images, 5 questions each with 10 answers drawn from a Zipf law over
4,000 answer strings), prepares it with `vqa.prepare_questions`, and writes
ResNet-101-shaped grids (14x14x2048 float16, 784 KiB an image) with
`vqa.prepare_grids`, the backbone replaced by random numbers (this measures
reading, not extraction: see benchmarks/extract_features.py). Then, in one
run, the median over --repeats passes of
  - the per-question example (tokens, soft targets, official credit) without
    the grid read, in one thread (= per core),
  - the same with the grid read (random order, as in training; the page
    cache is warm),
  - the batched grain train iterator with --threads read threads,
  - the arrays path (vqa.input='arrays', the default) in one thread, with
    each image read from its grid record or (vqa.image_arrays) from a
    memory-mapped copy, for each --per_image group size; its batches hold
    batch_size // g * g question slots, and the rate counts real questions
    (padding of image groups excluded).

  python benchmarks/vqa_input.py --num_images=400
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np
from PIL import Image

from hardattn import base_config
from hardattn.datasets import arrays as arrays_lib
from hardattn.datasets import pipeline
from hardattn.datasets import vqa


def parse_args():
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--num_images', type=int, default=400)
  p.add_argument('--examples', type=int, default=1000,
                 help='examples timed per pass')
  p.add_argument('--repeats', type=int, default=3)
  p.add_argument('--threads', type=int, default=2)
  p.add_argument('--batch_size', type=int, default=128)
  p.add_argument('--per_image', default='1,5',
                 help='comma-separated questions_per_image of the arrays rows')
  return p.parse_args()


def write_release(root: str, num_images: int) -> tuple[str, str]:
  """Synthetic VQA-CP v2 JSON lists and tiny COCO JPEGs."""
  rng = np.random.default_rng(0)
  words = [f'word{i}' for i in range(2000)]
  answers = [f'answer {i}' for i in range(4000)]
  zipf = 1.0 / np.arange(1, len(answers) + 1)
  zipf /= zipf.sum()
  coco = os.path.join(root, 'coco', 'train2014')
  os.makedirs(coco)
  jsons = os.path.join(root, 'json')
  os.makedirs(jsons)
  for image_id in range(1, num_images + 1):
    Image.new('RGB', (64, 48), (128, 64, 32)).save(
        os.path.join(coco, vqa.coco_filename('train2014', image_id)))
  for split, ids in (('train', range(1, num_images + 1)),
                     ('test', range(1, num_images // 4 + 1))):
    questions, annotations = [], []
    for image_id in ids:
      for k in range(5):
        qid = image_id * 10 + k
        text = ' '.join(rng.choice(words, rng.integers(4, 12))) + '?'
        picked = rng.choice(answers, 10, p=zipf)
        common = {'image_id': image_id, 'question_id': qid,
                  'coco_split': 'train2014'}
        questions.append(dict(common, question=text))
        annotations.append(dict(
            common, question_type='what is', answer_type='other',
            multiple_choice_answer=str(picked[0]),
            answers=[{'answer': str(a), 'answer_confidence': 'yes',
                      'answer_id': i + 1} for i, a in enumerate(picked)]))
    for kind, data in (('questions', questions),
                       ('annotations', annotations)):
      with open(os.path.join(jsons, f'vqacp_v2_{split}_{kind}.json'),
                'w') as f:
        json.dump(data, f)
  return jsons, os.path.join(root, 'coco')


def random_forward(backbone, stages, weights_path):
  del backbone, stages, weights_path
  rng = np.random.default_rng(0)

  def forward(images):
    return rng.standard_normal((len(images), 14, 14, 2048)).astype(
        np.float16)
  return forward


def rate(fn, n: int, repeats: int) -> float:
  times = []
  for _ in range(repeats):
    t = time.perf_counter()
    fn(n)
    times.append(time.perf_counter() - t)
  return n / statistics.median(times)


def main():
  args = parse_args()
  with tempfile.TemporaryDirectory() as tmp:
    jsons, coco = write_release(tmp, args.num_images)
    data_dir = os.path.join(tmp, 'data')
    vqa.prepare_questions(data_dir, 'vqacp_v2', jsons)
    vqa.backbone_forward = random_forward  # reading is measured, not this
    vqa.prepare_grids(data_dir, coco, 'unused', batch_size=32)
    config, _ = base_config.vqa_config('han_rn', None)
    config.data_dir = data_dir
    config.data_threads = args.threads
    # pylint: disable=protected-access
    q_builder, images, md = vqa._open(config)
    source = vqa._source(q_builder, images, md, 'train', config)
    no_grid = vqa._source(q_builder, lambda *_: None, md, 'train', config)
    # pylint: enable=protected-access
    order = np.random.default_rng(1).permutation(len(source))

    def read(src):
      def run(n):
        for i in range(n):
          src[int(order[i % len(order)])]
      return run

    iterator = pipeline.train_iterator(
        source, batch_size=args.batch_size, seed=0,
        num_threads=args.threads)
    next(iterator)

    def batches(n):
      for _ in range(max(1, n // args.batch_size)):
        next(iterator)

    print(f'# {len(source)} train questions on {args.num_images} images, '
          f'{len(md.answers)} answer classes, median of {args.repeats}')
    print(f'example without grid, 1 thread: '
          f'{rate(read(no_grid), args.examples, args.repeats):.0f} ex/s')
    print(f'example with grid, 1 thread:    '
          f'{rate(read(source), args.examples, args.repeats):.0f} ex/s')
    n = max(args.examples, args.batch_size)
    print(f'batched iterator, {args.threads} threads: '
          f'{rate(batches, n, args.repeats):.0f} ex/s (batch '
          f'{args.batch_size})')
    for copy in (False, True):
      config.vqa.image_arrays = copy
      # pylint: disable=protected-access
      arrays, table = vqa.train_arrays(config, q_builder, md, images,
                                       source.indices,
                                       vqa._image_name(config))
      # pylint: enable=protected-access
      for group in (int(g) for g in args.per_image.split(',')):
        print(f'arrays, images from {"the copy" if copy else "records"}, '
              f'{group} q/image, 1 thread: '
              f'{arrays_rate(arrays, table, group, args):.0f} questions/s')


def arrays_rate(arrays, table, group: int, args) -> float:
  """Real questions/s of the arrays iterator in the calling thread."""
  iterator = arrays_lib.train_iterator(
      arrays, images=table, batch_size=args.batch_size // group * group,
      seed=0, questions_per_image=group, num_threads=0)
  next(iterator)
  rates = []
  for _ in range(args.repeats):
    t = time.perf_counter()
    real = 0
    while real < args.examples:
      real += int(np.sum(next(iterator)['mask']))
    rates.append(real / (time.perf_counter() - t))
  return statistics.median(rates)


if __name__ == '__main__':
  main()
