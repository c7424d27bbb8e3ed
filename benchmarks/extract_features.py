r"""Grid extraction throughput: images/s of decoding JPEGs + the backbone.

Writes `--num_images` COCO-sized (640x480) JPEGs of noise into a temporary
COCO layout and measures, in one run,
  - `vqa.extract_grids` with a compiled backbone (decode in a thread pool,
    resize, forward, float16), after one warm-up batch: images/s, and
  - the whole `vqa.prepare_grids` (the same, plus compilation and writing
    the TFDS ArrayRecord files), as `python -m hardattn.prepare` runs it.
The backbone has random weights (the same FLOPs as converted ones).

  python benchmarks/extract_features.py --preset=tiny --num_images=64
  python benchmarks/extract_features.py --preset=resnet101 --num_images=16 \
      --batch_size=4
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
import jax
import numpy as np
from PIL import Image

from hardattn.datasets import vqa


def parse_args():
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--preset', default='tiny')
  p.add_argument('--image_size', type=int, default=448)
  p.add_argument('--stages', type=int, default=4)
  p.add_argument('--num_images', type=int, default=64)
  p.add_argument('--batch_size', type=int, default=16)
  return p.parse_args()


def write_images(coco_dir: str, n: int) -> list[str]:
  folder = os.path.join(coco_dir, 'train2014')
  os.makedirs(folder)
  rng = np.random.default_rng(0)
  paths = []
  for i in range(n):
    path = os.path.join(folder, vqa.coco_filename('train2014', i + 1))
    # Smooth noise: compresses like a photo, not like white noise.
    small = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    Image.fromarray(small).resize((640, 480), Image.BILINEAR).save(
        path, format='JPEG', quality=90)
    paths.append(path)
  return paths


def main():
  args = parse_args()
  print(f'# jax {jax.__version__}, {jax.devices()[0].platform}, '
        f'{args.preset} at {args.image_size}x{args.image_size}, '
        f'{args.num_images} images of 640x480, batch {args.batch_size}')
  with tempfile.TemporaryDirectory() as tmp:
    coco = os.path.join(tmp, 'coco')
    paths = write_images(coco, args.num_images)
    ids = list(range(1, args.num_images + 1))
    forward = vqa.backbone_forward(args.preset, args.stages,
                                   vqa.RANDOM_WEIGHTS)
    t = time.perf_counter()
    forward(np.zeros((args.batch_size, args.image_size, args.image_size, 3),
                     np.uint8))
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    grids = list(vqa.extract_grids(paths, ids, forward,
                                   image_size=args.image_size,
                                   batch_size=args.batch_size))
    extract_s = time.perf_counter() - t
    shape = grids[0][1].shape
    t = time.perf_counter()
    vqa.prepare_grids(os.path.join(tmp, 'data'), coco, vqa.RANDOM_WEIGHTS,
                      backbone=args.preset, image_size=args.image_size,
                      stages=args.stages, batch_size=args.batch_size)
    prepare_s = time.perf_counter() - t
  n = args.num_images
  print(f'grid {shape} float16; first call (compile) {compile_s:.1f} s')
  print(f'extract_grids (compiled): {n / extract_s:.2f} images/s '
        f'({extract_s:.1f} s)')
  print(f'prepare_grids (compile + write): {n / prepare_s:.2f} images/s '
        f'({prepare_s:.1f} s)')


if __name__ == '__main__':
  main()
