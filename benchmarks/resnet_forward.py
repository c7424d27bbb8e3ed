r"""ResNet image-grid forward cost: images/s and compiled FLOPs per image.

Jits the frozen forward (`normalize_images`, then `ResNet.apply` with batch
norm on running averages, no gradient) on random uint8 images and random
weights, and reports the compile time, the median over `--repeats` timed
calls of images/s, and XLA's cost analysis of the compiled forward (FLOPs
per image, a multiply-add counted as 2).

  python benchmarks/resnet_forward.py --preset=tiny --image_size=448 \
      --batch_size=8 --repeats=10
  python benchmarks/resnet_forward.py --preset=resnet101 --image_size=448 \
      --batch_size=4 --repeats=3
"""

import argparse
import os
import statistics
import sys
import time

from flax import traverse_util
import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
from hardattn.models import resnet
from hardattn.models import resnet_weights


def parse_args():
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--preset', default='resnet101',
                 choices=sorted(resnet.RESNET_PRESETS))
  p.add_argument('--image_size', type=int, default=448)
  p.add_argument('--batch_size', type=int, default=4)
  p.add_argument('--repeats', type=int, default=5, help='timed calls')
  p.add_argument('--num_stages', type=int, default=4)
  p.add_argument('--dtype', default='float32',
                 choices=['float32', 'bfloat16'])
  return p.parse_args()


def random_variables(model: resnet.ResNet, seed: int = 0):
  """Variables of `model`'s shapes without compiling its init: He-normal
  kernels, unit scales and variances, small biases and means."""
  rng = np.random.default_rng(seed)
  flat = {}
  for path, shape in resnet_weights.variable_shapes(model).items():
    name = path[-1]
    if name == 'kernel':
      fan_in = int(np.prod(shape[:-1]))
      value = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    elif name in ('scale', 'var'):
      value = rng.uniform(0.5, 1.5, shape)
    else:
      value = 0.1 * rng.standard_normal(shape)
    flat[path] = jnp.asarray(value, jnp.float32)
  return traverse_util.unflatten_dict(flat)


def flops_of(compiled) -> float:
  cost = compiled.cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0]
  return float(cost.get('flops', float('nan'))) if cost else float('nan')


def main():
  args = parse_args()
  model = resnet.from_preset(args.preset, num_stages=args.num_stages,
                             dtype=jnp.dtype(args.dtype))
  variables = random_variables(model)
  params = sum(v.size for v in jax.tree.leaves(variables['params']))
  images = jnp.asarray(np.random.default_rng(1).integers(
      0, 256, (args.batch_size, args.image_size, args.image_size, 3)),
                       jnp.uint8)

  @jax.jit
  def forward(variables, images):
    return model.apply(variables, resnet.normalize_images(images),
                       train=False)

  t0 = time.perf_counter()
  compiled = forward.lower(variables, images).compile()
  compile_s = time.perf_counter() - t0
  flops = flops_of(compiled)
  grid = jax.block_until_ready(compiled(variables, images))  # warm-up
  times = []
  for _ in range(args.repeats):
    t = time.perf_counter()
    jax.block_until_ready(compiled(variables, images))
    times.append(time.perf_counter() - t)
  median = statistics.median(times)
  print(f'# jax {jax.__version__}, {jax.devices()[0].platform}, '
        f'{os.cpu_count()} CPUs; {args.preset} ({params:,} params), '
        f'{args.num_stages} stages, {args.dtype}')
  print(f'{args.batch_size} x {args.image_size}x{args.image_size} -> grid '
        f'{tuple(grid.shape[1:])}; compile {compile_s:.1f} s; median of '
        f'{args.repeats}: {median * 1e3:.1f} ms/batch, '
        f'{args.batch_size / median:.2f} images/s; '
        f'{flops / args.batch_size / 1e9:.3f} GFLOP/image; '
        f'{flops / median / 1e9:.1f} GFLOP/s')


if __name__ == '__main__':
  main()
