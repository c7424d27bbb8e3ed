r"""Train-step cost per model: examples/s, compiled FLOPs and peak memory.

Builds each model from its config with a synthetic batch of the dataset's
shapes, jits the real `train.train_step` over a mesh of all devices, and
reports compile time, the median of repeated timed steps, XLA's cost analysis
(FLOPs per example) and memory analysis (peak bytes per step), and each
model's speed and FLOPs relative to the plain RN measured in the same run.

  python benchmarks/train_step.py                       # Sort-of-CLEVR models
  python benchmarks/train_step.py --devices=2 --batch_size=64 --steps=20
  python benchmarks/train_step.py --configs=rn,han_rn
  python benchmarks/train_step.py --configs=clevr_rn,clevr_han_rn:plusplus \
      --steps=3 --no_time   # CLEVR shapes; FLOPs and memory only
  python benchmarks/train_step.py --configs=clevr_rn:plusplus --devices=4 \
      --batch_size=2 --meshes=2x1,2x2,1x4   # the mesh's `model` axis

`--devices=N` splits the host CPU into N XLA devices (set before JAX starts);
on this 2-core machine that speeds up convolutions.

`--profile` also traces the timed steps (jax.profiler) and prints, per
config, where the step's time goes: the executed XLA ops' time summed by
the model scope that made them (e.g. rn/g1, image_encoder; forward and
backward apart), from their `op_name` metadata.

  python benchmarks/train_step.py --devices=2 --batch_size=80 --steps=5 \
      --configs=clevr_rn,clevr_han_rn:per_image=4 --profile
"""

import argparse
import ast
import os
import statistics
import sys
import time


def parse_args():
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--configs', default='cnn_mlp,han_sum,rn,han_rn,adahan_rn',
                 help='comma-separated names: configs/sort_of_clevr_<name>.py'
                 ' or configs/<name>.py, or paths to config files; a preset'
                 ' follows a colon, e.g. clevr_han_rn:plusplus')
  p.add_argument('--batch_size', type=int, default=64)
  p.add_argument('--steps', type=int, default=20, help='timed steps')
  p.add_argument('--devices', type=int, default=1,
                 help='fake CPU devices to split the host into')
  p.add_argument('--no_time', action='store_true',
                 help='compile only: FLOPs and memory, no timed steps')
  p.add_argument('--profile', action='store_true',
                 help='also print where each step spends its time')
  p.add_argument('--profile_depth', type=int, default=2,
                 help='module path levels a profile row keeps')
  p.add_argument('--profile_rows', type=int, default=15,
                 help='rows of each profile printed')
  p.add_argument('--profile_primitives', action='store_true',
                 help='split profile rows by the JAX primitive too')
  p.add_argument('--set', action='append', default=[],
                 help='KEY=VALUE config override for every config, VALUE a '
                 'Python literal, e.g. --set=model.g_features=(256,256); '
                 'repeatable')
  p.add_argument('--meshes', default='',
                 help='comma-separated DATAxMODEL meshes, each over the first'
                 ' DATA*MODEL devices (default: all devices on data)')
  return p.parse_args()


ARGS = parse_args()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# pylint: disable=g-import-not-at-top,wrong-import-position
import host_devices  # before JAX
host_devices.split_host_cpu(ARGS.devices)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
import collections
import functools
import glob
import gzip
import json
import re
import tempfile
import jax
import numpy as np

from hardattn import cli
from hardattn import datasets
from hardattn import errors
from hardattn import models
from hardattn import optim
from hardattn import sharding
from hardattn import train
from hardattn.models import hard_attention


def load_config(name: str):
  """`name[:preset]`: a config file, or its name under configs/."""
  name, _, arg = name.partition(':')
  configs = os.path.join(
      os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'configs')
  path = name
  if not name.endswith('.py'):
    path = os.path.join(configs, f'{name}.py')
    if not os.path.exists(path):
      path = os.path.join(configs, f'sort_of_clevr_{name}.py')
  try:
    config = cli.load_config(f'{path}:{arg}' if arg else path)
  except errors.UserError as e:
    sys.exit(f'{name}: {e}')
  for item in ARGS.set:
    key, _, value = item.partition('=')
    *parents, leaf = key.split('.')
    try:
      section = functools.reduce(lambda s, p: s[p], parents, config)
      known = leaf in section
    except (KeyError, TypeError):  # a missing or non-section parent
      known = False
    if not known:
      sys.exit(f'--set {item}: {name} has no config field {key}')
    try:
      section[leaf] = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError) as e:
      sys.exit(f'--set {item}: {value!r} is not a Python literal of the '
               f"field's type ({e})")
  return config


def synthetic_batch(meta, batch_size: int, questions_per_image: int = 1
                    ) -> dict[str, np.ndarray]:
  """Random examples of the dataset's shapes (tokens: full-length).

  With questions_per_image g, the batch has batch_size / g images, as the
  train pipeline makes it.
  """
  rng = np.random.default_rng(0)
  if meta.question_kind == 'tokens':
    question = rng.integers(1, meta.vocab_size,
                            (batch_size,) + meta.question_shape,
                            dtype=np.int32)
  else:
    question = np.eye(meta.question_shape[0], dtype=np.float32)[
        rng.integers(0, meta.question_shape[0], batch_size)]
  shape = (batch_size // questions_per_image,) + tuple(meta.image_shape)
  if meta.image_dtype == 'uint8':
    image = rng.integers(0, 256, shape, dtype=np.uint8)
  else:  # precomputed grids (VQA): non-negative like ReLU features
    image = np.abs(rng.standard_normal(shape)).astype(meta.image_dtype)
  return {
      'image': image,
      'question': question,
      'answer': rng.integers(0, meta.num_answers, batch_size).astype(np.int32),
      'question_type': np.zeros(batch_size, np.int32),
      'mask': np.ones(batch_size, bool),
  }


def peak_bytes(compiled) -> int:
  """Peak bytes of one device's step program."""
  mem = compiled.memory_analysis()
  if mem is None:
    return -1
  return (mem.temp_size_in_bytes + mem.argument_size_in_bytes +
          mem.output_size_in_bytes - mem.alias_size_in_bytes)


def temp_bytes(compiled) -> int:
  """Bytes of one device's temporaries (activations, gradients, workspace)."""
  mem = compiled.memory_analysis()
  return -1 if mem is None else mem.temp_size_in_bytes


def flops_of(compiled, devices: int | None = None) -> float:
  """FLOPs of one step over its `devices` (default: all; XLA reports one
  device's share)."""
  cost = compiled.cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0]
  per_device = float(cost.get('flops', float('nan'))) if cost else float('nan')
  return per_device * (devices or jax.device_count())


def measure(name: str, batch_size: int, steps: int,
            mesh_spec: str = '') -> dict[str, float]:
  config = load_config(name)
  meta = datasets.module(config).nominal_meta(config)
  model = models.create_model(config.model_name, meta, **config.model)
  mesh = sharding.create_mesh()
  if mesh_spec:
    data, model_axis = (int(x) for x in mesh_spec.split('x'))
    mesh = sharding.create_mesh(jax.devices()[:data * model_axis],
                                {'data': data, 'model': model_axis})
  repl = sharding.replicated(mesh)
  tx = optim.create_optimizer(config.optimizer, config.num_train_steps)
  batch = synthetic_batch(meta, batch_size,
                          config.get('questions_per_image', 1))
  state = jax.jit(lambda b: train.create_train_state(
      model, b, tx, jax.random.key(0)), out_shardings=repl)(
          {k: batch[k] for k in ('image', 'question')})
  # As training runs it: with the dataset's on-device augmentation (CLEVR).
  step_fn = jax.jit(functools.partial(
      train.train_step, loss=config.loss,
      augment=datasets.device_augment(config)),
                    in_shardings=(repl, sharding.data_sharding(mesh), repl),
                    out_shardings=(repl, repl), donate_argnums=(0,))

  gbatch = sharding.to_global(batch, mesh)
  # With the mesh set, as sharding.jit runs it (`shard_pairs`).
  with jax.set_mesh(mesh):
    key = jax.random.key(1)
    t0 = time.perf_counter()
    compiled = step_fn.lower(state, gbatch, key).compile()
    compile_s = time.perf_counter() - t0
    times, loss = [float('nan')], float('nan')
    if steps:
      state, _ = step_fn(state, gbatch, key)  # warm-up
      jax.block_until_ready(state)
      times = []
    for _ in range(steps):
      t = time.perf_counter()
      state, m = step_fn(state, gbatch, key)
      jax.block_until_ready((state, m))
      times.append(time.perf_counter() - t)
    if steps:  # of the last step: equal under XLA flags that keep the math
      loss = float(m.compute()['loss'])
    profile = None
    if ARGS.profile and steps:
      profile = profile_steps(lambda s: step_fn(s, gbatch, key), state,
                              compiled, steps)
  median = statistics.median(times)
  cells = int(np.prod(model.grid_shape(meta.image_shape[:2])))
  kept = cells
  if config.model_name.startswith('han'):
    kept = hard_attention.num_kept(cells, config.model.fraction)
  elif config.model_name.startswith('adahan'):
    kept = config.model.adahan_max_cells or cells
  return {
      'name': name + (f' {mesh_spec}' if mesh_spec else ''),
      'model': config.model_name, 'cells': cells,
      'aggregated': kept, 'compile_s': compile_s, 'step_ms': median * 1e3,
      'examples_per_s': batch_size / median,
      'gflops_per_example': flops_of(compiled, mesh.size) / batch_size / 1e9,
      'peak_mib': peak_bytes(compiled) / 2**20,
      'temp_mib_per_example': temp_bytes(compiled) / 2**20 / (
          batch_size / mesh.shape['data']),
      'gflops_per_s': flops_of(compiled, mesh.size) / median / 1e9,
      'profile': profile,
      'loss': loss,
  }


_OP_NAME = re.compile(r'^\s*(?:ROOT )?%?([\w.-]+) = .*?op_name="([^"]*)"',
                      re.M)
# Transformation wrappers in an op_name, e.g. transpose(jvp(VQAModel)).
_WRAPPER = re.compile(r'^\w+\((.*)\)$')


def op_scopes(hlo_text: str, depth: int) -> dict[str, str]:
  """HLO instruction name -> 'scope fwd|bwd': the first `depth` module
  names of its op_name (the model's Flax scopes), 'bwd' where it comes
  from the gradient (a transpose); ops outside the model (loss, Adam, the
  augmentation) share one row. With --profile_primitives the JAX primitive
  is appended."""
  scopes = {}
  for name, op_name in _OP_NAME.findall(hlo_text):
    parts = op_name.split('/')
    backward = 'transpose(' in op_name
    path = []
    for part in parts:
      while _WRAPPER.match(part):
        part = _WRAPPER.match(part).group(1)
      path.append(part)
    # Module scopes follow the model's class name (VQAModel, ...).
    model_at = next((i for i, p in enumerate(path) if p.endswith('Model')),
                    None)
    if model_at is None:
      scope = 'outside the model (loss, optimizer, augmentation)'
    else:
      modules = path[model_at + 1:-1]  # the last part is the primitive
      scope = '/'.join(modules[:depth]) or '(model top level)'
      scope += ' bwd' if backward else ' fwd'
    if ARGS.profile_primitives:
      scope += f' {path[-1]}'
    scopes[name] = scope
  return scopes


def profile_steps(run, state, compiled, steps: int) -> list[tuple[str, float]]:
  """[(scope, fraction of the traced op time)], largest first, over
  `steps` traced steps of run(state) -> (state, metrics)."""
  scopes = op_scopes(compiled.as_text(), ARGS.profile_depth)
  with tempfile.TemporaryDirectory() as tmp:
    with jax.profiler.trace(tmp, create_perfetto_trace=True):
      for _ in range(steps):
        state, m = run(state)
        jax.block_until_ready((state, m))
    [path] = glob.glob(os.path.join(tmp, '**', 'perfetto_trace.json.gz'),
                       recursive=True)
    with gzip.open(path) as f:
      trace = json.load(f)
  events = trace['traceEvents'] if isinstance(trace, dict) else trace
  total = collections.Counter()
  for e in events:
    op = e.get('args', {}).get('hlo_op')
    if e.get('ph') == 'X' and op:
      total[scopes.get(op, f'unattributed ({op.split(".")[0]})')] += e['dur']
  whole = sum(total.values()) or 1.0
  return [(scope, t / whole) for scope, t in total.most_common()]


def main():
  names = ARGS.configs.split(',')
  print(f'# jax {jax.__version__}, {jax.device_count()} '
        f'{jax.devices()[0].platform} device(s), batch {ARGS.batch_size}, '
        f'median of {ARGS.steps} steps', flush=True)
  rows = []
  for name in names:
    for mesh_spec in ARGS.meshes.split(',') if ARGS.meshes else ['']:
      rows.append(measure(name, ARGS.batch_size,
                          0 if ARGS.no_time else ARGS.steps, mesh_spec))
  timed = not ARGS.no_time  # else no rates were measured
  for row in rows:
    rate = f"{row['examples_per_s']:8.1f}" if timed else '-'
    print(f"{row['name']:>12}: {rate:>8} ex/s  "
          f"{row['gflops_per_example']:7.3f} GFLOP/ex  "
          f"{row['peak_mib']:7.1f} MiB peak/device  compile {row['compile_s']:.1f} s"
          + (f"  loss {row['loss']:.6f}" if timed else ''), flush=True)
  for row in rows:
    if row['profile']:
      print(f"\n# {row['name']}: share of the traced XLA op time")
      for scope, share in row['profile'][:ARGS.profile_rows]:
        print(f'{100 * share:6.1f}%  {scope}')
  ref = next((r for r in rows if r['model'] == 'rn'), None)
  header = ('| config | cells aggregated | train ex/s | GFLOP/example | '
            'peak MiB/device | temp MiB/example | compile s | speed / RN | '
            'FLOPs / RN |')
  print('\n' + header + '\n|' + '---|' * 9)
  for r in rows:
    speed = (f"{r['examples_per_s'] / ref['examples_per_s']:.2f}x"
             if ref and timed else '-')
    rate = f"{r['examples_per_s']:.0f}" if timed else '-'
    flops = (f"{r['gflops_per_example'] / ref['gflops_per_example']:.3f}"
             if ref else '-')
    print(f"| {r['name']} | {r['aggregated']}/{r['cells']} | "
          f"{rate} | {r['gflops_per_example']:.3f} | "
          f"{r['peak_mib']:.0f} | {r['temp_mib_per_example']:.2f} | "
          f"{r['compile_s']:.1f} | {speed} | {flops} |")


if __name__ == '__main__':
  main()
