r"""Can the RN learn Sort-of-CLEVR's relations on the demo's budget at all?

  python experiments/oracle_rn.py [--steps=5000] [--seeds=0,1,2]
      [--config=configs/sort_of_clevr_han_rn.py] [--pool=sum] [--geometry]
      [--grid=0|5|10] [--copies=1]

Trains the config's relational network and answer head (`g`, `f`, the
optimizer and its schedule, the batch size) on the generator's true
objects instead of CNN cells: each of the six objects is its colour and
shape as one-hots and its centre's (x, y) in [-1, 1], the question is the
dataset's 11-bit vector. No CNN, no fusion, no selection: what this RN
cannot learn in N steps from perfect objects, the full model cannot learn
in N steps from pixels. It also prints the floor that needs no distances
(closest and furthest answered with the majority shape among the other five
objects: what a sum of cells can know) and the rule's own accuracy on the
objects' positions.

`--geometry` adds each pair's (dx, dy, distance) to g's input
(`RelationalNetwork`'s `coords`, `model.rn_pair_geometry` in the full
model), a departure from the RN paper measured here first. `--grid` gives
the objects the positions of the CNN cells holding them, `--copies` several
cells each. Written for issue 17 (docs/bootstrapping.md).
"""

import argparse
import sys
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from hardattn import cells
from hardattn import cli
from hardattn import optim
from hardattn.datasets import sort_of_clevr as soc
from hardattn.models import aggregation as agg_lib

_TYPES = [t.split('/')[1] for t in soc.QUESTION_TYPES]


def cell_positions(centers: np.ndarray, grid: int) -> np.ndarray:
  """Object centres [..., 2] (x, y) px -> float32 positions in [-1, 1].

  grid 0: the exact centres. 5 or 10: the coordinates the model's cells
  carry (`encoders.cell_coordinates`) of the CNN cell holding each centre
  (`cells.conv_grid`, 4 or 3 stride-2 convolutions on 75 px).
  """
  if not grid:
    return ((centers.astype(np.float32) - soc.IMAGE_SIZE / 2)
            / (soc.IMAGE_SIZE / 2))
  layers = {5: 4, 10: 3}[grid]
  cell_grid = cells.conv_grid((soc.IMAGE_SIZE, soc.IMAGE_SIZE), layers)
  if cell_grid.shape != (grid, grid):
    raise ValueError(f'{layers} convolutions make {cell_grid.shape} cells')
  column = cell_grid.pixel_cells(1)[centers[..., 0]]
  row = cell_grid.pixel_cells(0)[centers[..., 1]]
  # encoders.cell_coordinates' values (jnp.linspace), from numpy's linspace:
  # the same to within float32 rounding, and what the reported runs used.
  return np.linspace(-1.0, 1.0, grid, dtype=np.float32)[
      np.stack([column, row], -1)]


def scene_arrays(seed: int, split: str, num_images: int, grid: int = 0,
                 copies: int = 1) -> dict[str, np.ndarray]:
  """The generator's objects and questions for `num_images` of `split`.

  Returns objects float32 [n, 6 copies, 10] (colour one-hot, shape one-hot,
  x, y in [-1, 1]; `cell_positions`), questions float32 [n, 20, 11],
  answers and question_types int32 [n, 20], shapes int32 [n, 6] and
  centres int32 [n, 6, 2]. With copies > 1, objects 6.. repeat the six
  one cell away (a random one of the 8 neighbouring cells' offsets; 7.5
  px for exact positions), as an object spans several of the model's
  cells on 10x10: the same colour and shape, another position.
  """
  layouts = [soc.generate_layout(seed, split, i) for i in range(num_images)]
  stack = lambda key: np.stack([l[key] for l in layouts])
  shapes, centers = stack('object_shapes'), stack('object_centers')
  n, k = shapes.shape
  objects = np.concatenate([
      np.broadcast_to(np.eye(k, dtype=np.float32), (n, k, k)),
      np.eye(2, dtype=np.float32)[shapes],
      cell_positions(centers, grid),
  ], axis=-1)
  if copies > 1:
    step = 2.0 / (grid - 1) if grid else 2 * 7.5 / soc.IMAGE_SIZE
    rng = np.random.default_rng([seed, soc.SPLIT_IDS[split], copies])
    offsets = np.array([(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)
                        if dx or dy], np.float32) * step
    extra = np.repeat(objects, copies - 1, axis=1)
    moved = extra[..., -2:] + offsets[rng.integers(0, 8, extra.shape[:2])]
    extra[..., -2:] = np.clip(moved, -1.0, 1.0)
    objects = np.concatenate([objects, extra], axis=1)
  return dict(objects=objects, questions=stack('questions').astype(np.float32),
              answers=stack('answers'), question_types=stack('question_types'),
              shapes=shapes, centers=centers)


def _asked(data: dict[str, np.ndarray], question_type: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(image, question, asked colour) of every question of a type."""
  img, q = np.nonzero(data['question_types'] == question_type)
  return img, q, data['questions'][img, q, :soc.NUM_OBJECTS].argmax(-1)


def majority_floor(data: dict[str, np.ndarray]) -> dict[str, float]:
  """Accuracy of answers that need no distances, per relational type.

  closest / furthest: the majority shape among the five objects other than
  the asked one (five, so never tied). count: exact. A model that counts
  shapes but cannot compare distances tops out here.
  """
  out = {}
  for t in (3, 4):
    img, q, colors = _asked(data, t)
    circles = data['shapes'][img].sum(-1) - data['shapes'][img, colors]
    guess = soc.FIRST_SHAPE_ANSWER + (circles >= 3)
    out[_TYPES[t]] = float(np.mean(guess == data['answers'][img, q]))
  return out


def rule_ceiling(data: dict[str, np.ndarray]) -> dict[str, float]:
  """closest / furthest answered by the rule on the objects' positions.

  With cell positions, several objects can be equally close: the expected
  accuracy of picking one of the tied at random. With exact centres, 100.
  """
  out = {}
  pos = data['objects'][:, :soc.NUM_OBJECTS, -2:]
  for t in (3, 4):
    img, q, colors = _asked(data, t)
    d = np.sum(np.square(pos[img] - pos[img, colors][:, None]), -1)
    d[np.arange(len(img)), colors] = np.inf if t == 3 else -np.inf
    best = d.min(-1) if t == 3 else d.max(-1)
    tied = np.isclose(d, best[:, None])
    right = data['shapes'][img] == (
        data['answers'][img, q] - soc.FIRST_SHAPE_ANSWER)[:, None]
    out[_TYPES[t]] = float(np.mean((tied & right).sum(-1) / tied.sum(-1)))
  return out


class OracleRN(nn.Module):
  """The config's RN and answer head on object vectors."""
  g_features: tuple[int, ...]
  f_features: tuple[int, ...]
  num_answers: int
  dropout_rate: float
  pool: str
  pair_geometry: bool

  @nn.compact
  def __call__(self, objects, question, *, train):
    mask = jnp.ones(objects.shape[:2], jnp.float32)
    coords = objects[..., -2:] if self.pair_geometry else None
    pooled = agg_lib.RelationalNetwork(
        self.g_features, pool=self.pool, name='rn')(
            objects, question, mask, coords=coords)
    return agg_lib.AnswerHead(self.f_features, self.num_answers,
                              self.dropout_rate, name='head')(
                                  pooled, train=train)


def evaluate(model, params, data) -> dict[str, float]:
  n = data['objects'].shape[0]
  objects = np.repeat(data['objects'], soc.NUM_QUESTIONS, axis=0)
  logits = model.apply({'params': params}, objects,
                       data['questions'].reshape(n * soc.NUM_QUESTIONS, -1),
                       train=False)
  right = (np.asarray(logits).argmax(-1)
           == data['answers'].reshape(-1))
  types = data['question_types'].reshape(-1)
  out = {'overall': float(right.mean())}
  for t, name in enumerate(_TYPES):
    out[name] = float(right[types == t].mean())
  return out


def train_one(config, train_data, test_data, *, seed, steps, pool, geometry,
              eval_every):
  """Trains one seed; returns [(step, eval dict)] and examples/s."""
  m = config.model
  model = OracleRN(tuple(m.g_features), tuple(m.f_features),
                   len(soc.ANSWER_NAMES), m.dropout_rate, pool, geometry)
  rng = jax.random.PRNGKey(seed)
  params = model.init(rng, train_data['objects'][:1],
                      train_data['questions'][:1, 0], train=False)['params']
  tx = optim.create_optimizer(config.optimizer, steps)
  opt_state = tx.init(params)

  @jax.jit
  def step(params, opt_state, objects, question, answer, rng):
    def loss_fn(p):
      logits = model.apply({'params': p}, objects, question, train=True,
                           rngs={'dropout': rng})
      return optax.softmax_cross_entropy_with_integer_labels(
          logits, answer).mean()
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  n = train_data['objects'].shape[0]
  batch = config.batch_size
  per_image = config.questions_per_image
  images = batch // per_image
  order = np.random.default_rng(seed)
  history = []
  start = time.perf_counter()
  for i in range(1, steps + 1):
    img = order.integers(0, n, images)
    q = np.stack([order.choice(soc.NUM_QUESTIONS, per_image, replace=False)
                  for _ in range(images)])
    img = np.repeat(img, per_image)
    q = q.reshape(-1)
    rng, key = jax.random.split(rng)
    params, opt_state, loss = step(
        params, opt_state, train_data['objects'][img],
        train_data['questions'][img, q], train_data['answers'][img, q], key)
    if i % eval_every == 0 or i == steps:
      if not np.isfinite(float(loss)):
        raise SystemExit(f'non-finite loss at step {i}')
      history.append((i, evaluate(model, params, test_data)))
  seconds = time.perf_counter() - start
  return history, steps * batch / seconds


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--config', default='configs/sort_of_clevr_han_rn.py')
  parser.add_argument('--steps', type=int, default=5000)
  parser.add_argument('--eval_every', type=int, default=1000)
  parser.add_argument('--seeds', default='0')
  parser.add_argument('--pool', default=None,
                      help="the RN's pool (default: the config's)")
  parser.add_argument('--geometry', action='store_true',
                      help="each pair's (dx, dy, distance) into g")
  parser.add_argument('--copies', type=int, default=1,
                      help='cells per object (the rest one cell away)')
  parser.add_argument('--grid', type=int, default=0, choices=(0, 5, 10),
                      help="objects' positions: exact (0), or the "
                      'coordinates of the cell holding their centre')
  args = parser.parse_args(argv)
  config = cli.load_config(args.config)
  pool = args.pool or config.model.rn_pool
  data_config = config.sort_of_clevr
  gen_seed = data_config.seed
  train_data = scene_arrays(gen_seed, 'train', data_config.num_train_images,
                            args.grid, args.copies)
  test_data = scene_arrays(gen_seed, 'test', data_config.num_test_images,
                           args.grid, args.copies)
  floor = majority_floor(test_data)
  print('Test split floors without distances (majority shape among the '
        'other five): ' + ', '.join(f'{k} {100 * v:.1f}'
                                    for k, v in floor.items()))
  ceiling = rule_ceiling(test_data)
  print(f"The rule on the objects' positions ({args.grid or 'exact'}"
        f"{'x' + str(args.grid) + ' cells' if args.grid else ''}): "
        + ', '.join(f'{k} {100 * v:.1f}' for k, v in ceiling.items()))
  print(f'RN g {tuple(config.model.g_features)}, f '
        f'{tuple(config.model.f_features)}, pool {pool}, geometry '
        f'{args.geometry}, {args.copies} cell(s) an object, batch '
        f'{config.batch_size}, {args.steps} steps')
  print('| seed | step | ' + ' | '.join(['overall'] + _TYPES) + ' |')
  print('|' + '---|' * (3 + len(_TYPES)))
  for seed in [int(s) for s in args.seeds.split(',')]:
    history, rate = train_one(config, train_data, test_data, seed=seed,
                              steps=args.steps, pool=pool,
                              geometry=args.geometry,
                              eval_every=args.eval_every)
    for step, acc in history:
      print(f'| {seed} | {step:,} | ' + ' | '.join(
          f'{100 * acc[k]:.1f}' for k in ['overall'] + _TYPES) + ' |')
    print(f'(seed {seed}: {rate:,.0f} train questions/s)', flush=True)


if __name__ == '__main__':
  main(sys.argv[1:])
