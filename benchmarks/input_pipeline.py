r"""CLEVR input pipeline: preparation cost, disk, and examples/s.

Prepares a CLEVR release (a real one with --manual_dir, else a synthetic
one in the official layout with --num_images 480x320 PNGs, as the tests
build) and measures
  - preparation time and stored bytes per 1,000 images;
  - examples/s of the per-question source (read + tokenise), of the source
    with the train augmentation (pad/crop/rotate), both in one thread (= per
    core), and of the batched grain train iterator with --threads threads
    (clevr.input='records', the path before the arrays);
  - the arrays (clevr.input='arrays'): build time and bytes, and examples/s
    of their train iterator in one thread and with --threads threads, with
    the augmentation on the device (the host only gathers), on the host,
    and with --per_image questions sharing an image; and images/s of the
    on-device augmentation itself in a jitted function on this CPU;
  - microseconds a call of the host warp, PIL's split into its parts and
    OpenCV's (--warp_only prints this table alone);
  - each rate against the records iterator's per-core rate, in this run.
Reports medians over --repeats passes.

  python benchmarks/input_pipeline.py
  python benchmarks/input_pipeline.py --manual_dir=PATH/TO/CLEVR_v1.0 \
      --data_dir=~/tensorflow_datasets
"""

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags
import numpy as np

from hardattn import augment as augment_lib
from hardattn import base_config
from hardattn.datasets import arrays as arrays_lib
from hardattn.datasets import clevr
from hardattn.datasets import pipeline


def parse_args():
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--manual_dir', default=None,
                 help='a real release; default: a synthetic one')
  p.add_argument('--data_dir', default=None,
                 help='where to prepare (default: a temporary directory)')
  p.add_argument('--num_images', type=int, default=1000,
                 help='synthetic train images (13 questions each)')
  p.add_argument('--image_size', type=int, default=128)
  p.add_argument('--examples', type=int, default=3000,
                 help='examples timed per pass')
  p.add_argument('--repeats', type=int, default=3)
  p.add_argument('--warp_only', action='store_true',
                 help='only the per-call split of the host warp')
  p.add_argument('--threads', type=int, default=2,
                 help='grain read threads for the batched iterator')
  p.add_argument('--workers', type=int, default=2,
                 help='grain worker processes for the batched iterator')
  p.add_argument('--batch_size', type=int, default=64)
  p.add_argument('--per_image', type=int, default=4,
                 help='questions per image of the image-shared rows')
  return p.parse_args()


def dir_bytes(path: str) -> int:
  return sum(os.path.getsize(os.path.join(folder, name))
             for folder, _, names in os.walk(path) for name in names)


def rate(fn, n: int, repeats: int) -> float:
  """Median examples/s of fn(i) over i in a random order of n indices."""
  rates = []
  for r in range(repeats):
    order = np.random.default_rng(r).permutation(n)
    t = time.perf_counter()
    for i in order:
      fn(int(i))
    rates.append(n / (time.perf_counter() - t))
  return statistics.median(rates)


def iterator_rate(source, args, *, threads: int, workers: int,
                  interpolation: str) -> float:
  """Median examples/s of the batched, augmented grain train iterator."""
  config, _ = base_config.clevr_config('han_rn', None)
  it = pipeline.train_iterator(
      source, batch_size=args.batch_size, seed=0, num_threads=threads,
      num_workers=workers, random_map_fn=functools.partial(
          clevr._augment_example, pad=config.clevr.pad,  # pylint: disable=protected-access
          max_rotation=config.clevr.max_rotation,
          interpolation=interpolation))
  for _ in range(max(2, workers)):  # start-up
    next(it)
  batches = max(1, args.examples // args.batch_size)
  rates = []
  for _ in range(args.repeats):
    t = time.perf_counter()
    for _ in range(batches):
      next(it)
    rates.append(batches * args.batch_size / (time.perf_counter() - t))
  if hasattr(it, 'close'):
    it.close()
  return statistics.median(rates)


def batches_rate(it, args, batch_size: int) -> float:
  """Median examples/s of an iterator's batches of `batch_size`."""
  for _ in range(2):  # start-up
    next(it)
  batches = max(1, args.examples // batch_size)
  rates = []
  for _ in range(args.repeats):
    t = time.perf_counter()
    for _ in range(batches):
      next(it)
    rates.append(batches * batch_size / (time.perf_counter() - t))
  return statistics.median(rates)


def array_rows(data_dir, q_builder, i_builder, vocab, config, args,
               per_core: float) -> None:
  """Builds the train arrays and prints their iterator's rates."""
  path = clevr.arrays_dir(data_dir, q_builder, i_builder, 'train')
  t = time.perf_counter()
  clevr.build_arrays(q_builder, i_builder, vocab, 'train', path)
  print(f'arrays: built in {time.perf_counter() - t:.1f} s, '
        f'{dir_bytes(path) / 2**20:.1f} MiB')
  arrays = clevr.train_arrays(data_dir, q_builder, i_builder, vocab,
                              config.clevr.max_question_length)
  c = config.clevr
  host = functools.partial(clevr.augment_batch, pad=c.pad,
                           max_rotation=c.max_rotation,
                           interpolation='nearest')
  pil = functools.partial(host, backend='pil')
  warp = 'OpenCV' if clevr.opencv() is not None else 'PIL: no OpenCV here'
  print(f'| arrays iterator, batch {args.batch_size} | threads | '
        'questions/s | x records per core |\n|---|---|---|---|')
  for title, group, augment in (
      ('augmentation on the device', 1, None),
      (f'augmentation on the host (nearest, {warp})', 1, host),
      ('augmentation on the host (nearest, PIL)', 1, pil),
      (f'{args.per_image} questions per image, on the device',
       args.per_image, None),
      (f'{args.per_image} questions per image, on the host ({warp})',
       args.per_image, host)):
    for threads in (0, args.threads):
      it = arrays_lib.train_iterator(
          arrays, batch_size=args.batch_size, seed=0,
          questions_per_image=group, augment=augment, num_threads=threads)
      r = batches_rate(it, args, args.batch_size)
      print(f'| {title} | {threads or "0 (caller)"} | {r:,.0f} | '
            f'{r / per_core:.1f}x |', flush=True)


def warp_split(args) -> None:
  """Per-call microseconds of one host warp (nearest, a small rotation and
  a shift, one thread), split into its parts: PIL's conversion of the RGB
  array to its 4-byte-a-pixel image, PIL's warp, the conversion back; and
  OpenCV's warp of the array itself (clevr.nearest_transform_cv2)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  size = args.image_size
  image = np.random.default_rng(0).integers(0, 256, (size, size, 3),
                                            np.uint8)
  angle, shift = 0.04, (3, -2)
  coefficients = clevr._affine_coefficients(size, size, angle, shift)  # pylint: disable=protected-access
  pil = Image.frombuffer('RGB', (size, size), image, 'raw', 'RGB', 0, 1)
  warped = pil.transform((size, size), Image.AFFINE, coefficients,
                         resample=Image.NEAREST, fillcolor=(0, 0, 0))
  out = np.empty_like(image)
  parts = {
      'PIL, whole call (clevr.affine_transform)':
          lambda: clevr.affine_transform(image, angle, shift, 'nearest'),
      'PIL, array to image': lambda: Image.frombuffer(
          'RGB', (size, size), image, 'raw', 'RGB', 0, 1),
      'PIL, warp': lambda: pil.transform(
          (size, size), Image.AFFINE, coefficients, resample=Image.NEAREST,
          fillcolor=(0, 0, 0)),
      'PIL, image to array': lambda: np.asarray(warped),
  }
  if clevr.opencv() is not None:
    parts['OpenCV, whole call (clevr.nearest_transform_cv2)'] = (
        lambda: clevr.nearest_transform_cv2(image, angle, shift, out))
  calls = 2000
  print(f'| host warp, {size}x{size}, nearest, one thread | us a call '
        f'(median of {max(3, args.repeats)} x {calls}) |\n|---|---|')
  for title, fn in parts.items():
    fn()
    times = []
    for _ in range(max(3, args.repeats)):
      t = time.perf_counter()
      for _ in range(calls):
        fn()
      times.append((time.perf_counter() - t) / calls)
    print(f'| {title} | {statistics.median(times) * 1e6:.1f} |', flush=True)


def device_augment_rate(args) -> None:
  """Images/s of the jitted on-device augmentation on this host's CPU."""
  import jax  # pylint: disable=g-import-not-at-top
  size = args.image_size
  images = jax.numpy.asarray(np.random.default_rng(0).integers(
      0, 256, (args.batch_size, size, size, 3), np.uint8))
  for interpolation in ('nearest', 'bilinear'):
    fn = jax.jit(augment_lib.image_augment(
        pad=4, max_rotation=0.05, interpolation=interpolation))
    fn(images, jax.random.key(0)).block_until_ready()
    times = []
    for r in range(max(5, args.repeats)):
      t = time.perf_counter()
      fn(images, jax.random.key(r)).block_until_ready()
      times.append(time.perf_counter() - t)
    print(f'on-device augmentation ({interpolation}), jitted, '
          f'{jax.devices()[0].platform}: '
          f'{args.batch_size / statistics.median(times):,.0f} images/s')


def main():
  args = parse_args()
  if args.warp_only:
    warp_split(args)
    return
  flags.FLAGS.mark_as_parsed()  # grain's worker processes read absl flags
  tmp = tempfile.mkdtemp(prefix='hardattn_bench_')
  manual_dir = args.manual_dir
  if manual_dir is None:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), 'tests'))
    import clevr_fixture  # pylint: disable=g-import-not-at-top
    t = time.perf_counter()
    manual_dir = clevr_fixture.make_release(
        os.path.join(tmp, 'release'),
        {'train': args.num_images, 'val': 10})
    print(f'synthetic release: {args.num_images} train images, '
          f'{time.perf_counter() - t:.1f} s to write, '
          f'{dir_bytes(manual_dir) / 2**20:.1f} MiB')
  data_dir = os.path.expanduser(args.data_dir or os.path.join(tmp, 'data'))
  t = time.perf_counter()
  q_builder, i_builder = clevr.prepare(data_dir, manual_dir,
                                       image_size=args.image_size)
  prepare_s = time.perf_counter() - t
  num_images = i_builder.info.splits['train'].num_examples
  images_bytes = dir_bytes(i_builder.data_dir)
  print(f'prepare: {prepare_s:.1f} s; images at {args.image_size}x'
        f'{args.image_size}: {images_bytes / 2**20:.1f} MiB for '
        f'{num_images} train+ images -> '
        f'{images_bytes / 1e6 / sum(s.num_examples for s in i_builder.info.splits.values()) * 1000:.1f}'
        f' MB per 1,000 images (bound: '
        f'{3 * args.image_size ** 2 / 1e3:.1f} MB); questions '
        f'{dir_bytes(q_builder.data_dir) / 2**20:.1f} MiB')

  config, _ = base_config.clevr_config('han_rn', None)
  vocab = clevr.load_vocabulary(q_builder)
  source = clevr.QuestionSource(q_builder.as_data_source('train'),
                                i_builder.as_data_source('train'), vocab,
                                config.clevr.max_question_length)
  n = min(args.examples, len(source))
  rng = np.random.default_rng(0)
  image = source[0]['image']
  plain = rate(source.__getitem__, n, args.repeats)
  print(f'one thread, random order: read+tokenise {plain:.0f} ex/s')
  for interpolation in ('nearest', 'bilinear'):
    augment = functools.partial(
        clevr.augment, pad=config.clevr.pad,
        max_rotation=config.clevr.max_rotation, interpolation=interpolation)
    aug_only = rate(lambda i: augment(image, rng), n, args.repeats)
    full = rate(lambda i: augment(source[i]['image'], rng), n, args.repeats)
    print(f'  {interpolation}: augmentation alone {aug_only:.0f} ex/s; '
          f'read+tokenise+augment {full:.0f} ex/s')
  per_core = None
  for threads, workers in ((0, 0), (args.threads, 0), (0, args.workers)):
    r = iterator_rate(source, args, threads=threads, workers=workers,
                      interpolation='nearest')
    per_core = per_core or r
    print(f'grain train iterator, batch {args.batch_size}, nearest: '
          f'{threads} thread(s), {workers} worker process(es): {r:.0f} ex/s '
          f'(machine has {os.cpu_count()} cores)')
  array_rows(data_dir, q_builder, i_builder, vocab, config, args, per_core)
  warp_split(args)
  device_augment_rate(args)


if __name__ == '__main__':
  main()
