r"""The question LSTM's speed against how far its time loop is unrolled.

Times `encoders.LSTMQuestionEncoder` forward and backward (the gradient of
a sum of its output with respect to its parameters), jitted on one device,
for each `--unrolls` value, interleaved over `--rounds` rounds (the order
reversed every other round), and prints the median step time of each and
its speed relative to unroll 1. The output of every unroll is checked
against unroll 1's first.

Defaults are CLEVR's question side as `benchmarks/train_step.py` runs
`clevr_han_rn` at batch 80 over 2 devices: 40 questions a device, 48
tokens, 32-d embeddings, 128 LSTM units, questions of 10-48 words.

  python benchmarks/lstm_unroll.py
  python benchmarks/lstm_unroll.py --hidden=256 --embed=64   # :plus sizes
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp
import numpy as np

from hardattn.models import encoders


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--batch', type=int, default=40)
  p.add_argument('--length', type=int, default=48)
  p.add_argument('--embed', type=int, default=32)
  p.add_argument('--hidden', type=int, default=128)
  p.add_argument('--vocab', type=int, default=90)
  p.add_argument('--unrolls', default='1,2,4,8,16')
  p.add_argument('--rounds', type=int, default=5)
  p.add_argument('--steps', type=int, default=20)
  return p.parse_args(argv)


def make_step(args, unroll: int, tokens):
  model = encoders.LSTMQuestionEncoder(args.vocab, args.embed, args.hidden,
                                       unroll=unroll)
  params = model.init(jax.random.key(0), tokens)

  @jax.jit
  def step(params, tokens):
    def loss(params):
      out = model.apply(params, tokens)
      return jnp.sum(out), out
    grads, out = jax.grad(loss, has_aux=True)(params)
    return out, grads

  return step, params


def time_steps(step, params, tokens, steps: int) -> float:
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    jax.block_until_ready(step(params, tokens))
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def main(argv=None):
  args = parse_args(argv)
  rng = np.random.default_rng(0)
  lengths = rng.integers(10, args.length + 1, args.batch)
  tokens = np.zeros((args.batch, args.length), np.int32)
  for i, n in enumerate(lengths):
    tokens[i, :n] = rng.integers(1, args.vocab, n)
  tokens = jnp.asarray(tokens)
  unrolls = [int(u) for u in args.unrolls.split(',')]
  steps = {u: make_step(args, u, tokens) for u in unrolls}
  reference = None
  for u in unrolls:  # compile, warm up and check against unroll 1
    step, params = steps[u]
    out, _ = jax.block_until_ready(step(params, tokens))
    if reference is None:
      reference = out
    np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-6)
  medians = {u: [] for u in unrolls}
  for r in range(args.rounds):
    for u in (unrolls if r % 2 == 0 else unrolls[::-1]):
      medians[u].append(time_steps(*steps[u], tokens, args.steps))
  base = np.median(medians[unrolls[0]])
  print(f'LSTM fwd+bwd, batch {args.batch}, {args.length} tokens, embed '
        f'{args.embed}, {args.hidden} units, jax {jax.__version__}, '
        f'{jax.devices()[0].platform}; median of {args.rounds} rounds x '
        f'{args.steps} steps')
  print('| unroll | ms a step | speed / unroll 1 |')
  print('|---|---|---|')
  for u in unrolls:
    m = float(np.median(medians[u]))
    print(f'| {u} | {1e3 * m:.2f} | {base / m:.2f}x |')


if __name__ == '__main__':
  main()
