r"""The RN CNN's speed by how its 3x3 stride-2 convolutions are computed.

Times `encoders.ConvEncoder` (convolutions, batch norm in train mode, ReLU)
forward and backward (the gradient of the sum of its squared cells with
respect to its parameters), jitted on one device, for each implementation
of `encoders.Conv3x3Stride2`, interleaved over `--rounds` rounds (the order
reversed every other round), and prints the median step time of each and
its speed relative to XLA's convolution. Every implementation's gradients
are checked against XLA's first.

- xla: `jax.lax.conv_general_dilated` on the padded input (`pad_like_same`).
- patches: the library's CPU default, one matmul over patches sliced from
  the unpadded input, the border added to the taps that read it.
- padded_patches: the library's CPU default until 2026-12-01, the same
  matmul over patches sliced from a padded copy (`jnp.pad`), kept here as
  the reference the change was measured against.

Defaults are Sort-of-CLEVR's `make demo`: 40 images of 75 px a step (20 a
device on its 2 devices), four layers of 24 channels, edge padding.

  python benchmarks/conv_impl.py
  python benchmarks/conv_impl.py --batch=40 --size=128   # CLEVR's images
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flax import linen as nn  # pylint: disable=g-import-not-at-top
import jax
import jax.numpy as jnp
import numpy as np

from hardattn.models import encoders


class PaddedPatchesConv(nn.Module):
  """The patch convolution as it was until 2026-12-01: a padded copy first."""
  features: int
  padding: str = 'zeros'

  @nn.compact
  def __call__(self, x):
    kernel = self.param('kernel', nn.initializers.lecun_normal(),
                        (3, 3, x.shape[-1], self.features), jnp.float32)
    out_h, out_w = -(-x.shape[1] // 2), -(-x.shape[2] // 2)
    x = encoders.pad_like_same(
        x, 'constant' if self.padding == 'zeros' else 'edge')
    patches = jnp.concatenate(
        [x[:, dy:dy + 2 * out_h - 1:2, dx:dx + 2 * out_w - 1:2, :]
         for dy in range(3) for dx in range(3)], axis=-1)
    return patches @ kernel.reshape(-1, self.features)


class PaddedPatchesEncoder(nn.Module):
  """ConvEncoder's layers (convolution, batch norm, ReLU) and parameter
  names, with PaddedPatchesConv."""
  features: tuple[int, ...]
  padding: str

  @nn.compact
  def __call__(self, image):
    x = encoders.to_float_image(image)
    for i, width in enumerate(self.features):
      x = PaddedPatchesConv(width, self.padding, name=f'conv{i}')(x)
      x = nn.BatchNorm(use_running_average=False, momentum=0.9,
                       name=f'bn{i}')(x)
      x = nn.relu(x)
    return x.reshape(x.shape[0], -1, x.shape[-1])


class Encoder(nn.Module):
  """The CNN by implementation; the same parameters for every one."""
  features: tuple[int, ...]
  padding: str
  impl: str

  @nn.compact
  def __call__(self, image):
    if self.impl == 'padded_patches':
      return PaddedPatchesEncoder(self.features, self.padding,
                                  name='cnn')(image)
    return encoders.ConvEncoder(self.features, padding=self.padding,
                                conv_impl=self.impl, name='cnn')(
                                    image, train=True)[0]


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--batch', type=int, default=40)
  p.add_argument('--size', type=int, default=75)
  p.add_argument('--features', default='24,24,24,24')
  p.add_argument('--padding', default='edge', choices=encoders.CNN_PADDINGS)
  p.add_argument('--impls', default='xla,padded_patches,patches')
  p.add_argument('--rounds', type=int, default=5)
  p.add_argument('--steps', type=int, default=10)
  return p.parse_args(argv)


def make_step(args, impl: str, images):
  features = tuple(int(f) for f in args.features.split(','))
  model = Encoder(features, args.padding, impl)
  variables = model.init(jax.random.key(0), images)

  @jax.jit
  def step(params, images):
    def loss(params):
      cells, _ = model.apply({**variables, 'params': params}, images,
                             mutable=['batch_stats'])
      return jnp.sum(cells[..., :features[-1]] ** 2)
    return jax.grad(loss)(params)

  return step, variables['params']


def leaves(tree):
  return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def main(argv=None):
  args = parse_args(argv)
  images = jnp.asarray(np.random.default_rng(0).integers(
      0, 256, (args.batch, args.size, args.size, 3), np.uint8))
  impls = args.impls.split(',')
  steps = {impl: make_step(args, impl, images) for impl in impls}
  reference = None
  for impl, (step, params) in steps.items():
    grads = leaves(step(params, images))
    if reference is None:
      reference = grads
    scale = max(float(np.abs(g).max()) for g in reference)
    error = max(float(np.abs(a - b).max())
                for a, b in zip(grads, reference)) / scale
    print(f'{impl}: largest gradient difference from {impls[0]}, relative '
          f'to its largest gradient: {error:.1e}')
  times = {impl: [] for impl in impls}
  for r in range(args.rounds):
    for impl in (impls if r % 2 == 0 else impls[::-1]):
      step, params = steps[impl]
      jax.block_until_ready(step(params, images))
      start = time.perf_counter()
      for _ in range(args.steps):
        out = step(params, images)
      jax.block_until_ready(out)
      times[impl].append((time.perf_counter() - start) / args.steps)
  base = float(np.median(times[impls[0]]))
  print(f'# {args.batch} images of {args.size} px, features {args.features}, '
        f'{args.padding} padding; jax {jax.__version__}, '
        f'{jax.device_count()} device(s); median of {args.rounds} rounds')
  print(f'| convolution | fwd+bwd ms | (min..max) | speed / {impls[0]} |')
  print('|---|---|---|---|')
  for impl in impls:
    t = np.asarray(times[impl]) * 1e3
    print(f'| {impl} | {np.median(t):.2f} | ({t.min():.2f}..{t.max():.2f}) '
          f'| {base / np.median(times[impl]):.2f}x |')


if __name__ == '__main__':
  main()
