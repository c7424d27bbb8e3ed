r"""Every benchmark in one run, written to BENCHMARKS.md.

Sections (`--sections`, in this order):
  peak   this machine's dense matmul peak (fp32 and bf16, one device and all
         devices), measured in the same run as the others;
  train  the compiled train and eval steps of every model on every grid
         (`GRIDS`): examples/s at two batch sizes, compile time, XLA's FLOPs
         and peak memory, achieved GFLOP/s against the peak, and speed and
         FLOPs against the plain RN of the same grid;
  cells  cost against the number of cells (RN vs HAN at a fixed k), with a
         two-panel log-log plot (`--plot`);
  input  the input pipeline's examples/s of each dataset prepared here,
         against its default config's train step.

The train steps are `benchmarks/train_step.py`'s: its synthetic batches,
FLOP and memory helpers, and the real `hardattn.train` step functions.

  python benchmarks/suite.py --devices=2              # everything
  python benchmarks/suite.py --devices=2 --sections=peak,cells
  python benchmarks/suite.py --quick --out=/tmp/B.md --plot=/tmp/p.png
      # smoke run: one config per grid, batch 8, one step

`--devices=N` splits the host CPU into N XLA devices (set before JAX starts);
the train steps shard their batch over all of them. A step whose compiled
peak memory would not fit in the host's available memory is not run, and a
row skips its large batch where its small batch's timings say the row would
take over `--max_seconds_per_row`: the row says so. The whole run takes
about 27 minutes on a quiet 2-core CPU with 2 devices (about 31 with
`--max_seconds_per_row=0`), longer beside other work.
"""

import argparse
import dataclasses
import datetime
import functools
import math
import os
import shlex
import statistics
import sys
import tempfile
import time

SECTIONS = ('peak', 'train', 'cells', 'input')
BENCHMARKS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCHMARKS_DIR)


@dataclasses.dataclass(frozen=True)
class Grid:
  """The train section's configs of one cell grid and how to time them."""
  key: str  # its name in --grids
  title: str
  configs: tuple[str, ...]  # the plain RN first: the speed reference
  small_batch: int
  large_batch: int
  steps: int  # timed steps per measurement
  why: str  # the reason for these batch sizes and steps (into the report)
  quick: str  # the config of a --quick run


GRIDS = (
    Grid('sort_of_clevr', 'Sort-of-CLEVR, 5x5 cells (75x75 images)',
         ('sort_of_clevr_rn', 'sort_of_clevr_cnn_mlp',
          'sort_of_clevr_han_sum', 'sort_of_clevr_han_rn:frac=0.16',
          'sort_of_clevr_han_rn', 'sort_of_clevr_han_rn:frac=0.5',
          'sort_of_clevr_adahan_rn', 'sort_of_clevr_san',
          'sort_of_clevr_smem'),
         64, 320, 5, 'cheap: the plain RN steps in ~0.6 s at 64 on a '
         '2-core CPU; 320 is a multiple of the 20 questions per image, so '
         'each image is encoded once for all of them (at 64, for 4)',
         'sort_of_clevr_han_rn'),
    Grid('clevr', 'CLEVR, 8x8 cells (128x128 images)',
         ('clevr_rn', 'clevr_han_sum', 'clevr_han_rn:frac=0.16',
          'clevr_han_rn', 'clevr_han_rn:per_image=4',
          'clevr_han_rn:frac=0.5', 'clevr_adahan_rn'),
         64, 256, 3, 'the plain RN runs at ~17 ex/s on a 2-core CPU and '
         'needs ~38 MiB of temporaries per example',
         'clevr_han_sum'),
    Grid('clevr_plusplus',
         'CLEVR++, 14x14 cells (224x224 images, `:plusplus` sizes)',
         ('clevr_rn:plusplus', 'clevr_han_sum:plusplus',
          'clevr_han_rn:plusplus,frac=0.16', 'clevr_han_rn:plusplus',
          'clevr_han_rn:plusplus,frac=0.5', 'clevr_adahan_rn:plusplus'),
         16, 64, 2, 'the plain RN over 196 cells (38,416 pairs) needs '
         '~0.35 GiB of temporaries per example and runs at ~1 ex/s on a '
         '2-core CPU: at 64 it would need ~22 GiB',
         'clevr_han_sum:plusplus'),
    Grid('vqacp', 'VQA-CP, 14x14 ResNet-101 grid (precomputed features)',
         ('vqacp_rn', 'vqacp_sum', 'vqacp_han_sum', 'vqacp_han_rn:frac=0.16',
          'vqacp_han_rn', 'vqacp_han_rn:frac=0.5', 'vqacp_adahan_rn',
          'vqacp_san'),
         16, 32, 2, 'the plain RN (and AdaHAN, whose budget is all 196 '
         'cells) needs ~0.35 GiB of temporaries per example and runs at '
         '~1.2 ex/s on a 2-core CPU: at 64, ~22 GiB and ~50 s a step',
         'vqacp_sum'),
)
QUICK_BATCH = 8

PEAK_SIZES = (1024, 2048)
QUICK_PEAK_SIZES = (256, 512)
PEAK_RUNS = 7  # timed matmuls per size, after one warm-up

# cells: the CLEVR base model at image sizes giving these grids (4 stride-2
# convolutions: 64 -> 4x4 ... 256 -> 16x16), RN on all cells against HAN
# keeping a fixed k.
CELLS_IMAGE_SIZES = (64, 96, 128, 160, 192, 256)
QUICK_CELLS_IMAGE_SIZES = (64,)
CELLS_K = 16
CELLS_BATCH = 16  # the RN at 16x16 needs ~0.6 GiB of temporaries an example
CELLS_STEPS = 2
CELLS_MODELS = (('RN', 'clevr_rn'), (f'HAN+RN (k={CELLS_K})', 'clevr_han_rn'),
                (f'HAN+sum (k={CELLS_K})', 'clevr_han_sum'))
QUICK_CELLS_MODELS = CELLS_MODELS[:2]  # each point compiles a train step

# input: each dataset's default config; its examples/s against its step.
INPUT_CONFIGS = (('Sort-of-CLEVR', 'sort_of_clevr_han_rn'),
                 ('spatial', 'spatial_han_rn'),
                 ('CLEVR', 'clevr_han_rn'),
                 ('CLEVR, 4 questions an image', 'clevr_han_rn:per_image=4'),
                 ('VQA-CP v2', 'vqacp_han_rn'))
# Where a dataset is not prepared here, a synthetic release in its official
# layout is written and prepared (tests/clevr_fixture.py;
# benchmarks/vqa_input.py, ResNet grids of random numbers).
SYNTHETIC_IMAGES = {'clevr': 400, 'vqa': 200}
QUICK_SYNTHETIC_IMAGES = {'clevr': 40, 'vqa': 40}
INPUT_WARMUP = 3  # batches before timing (thread start, first reads)
INPUT_BATCHES = 50
INPUT_TRAIN_STEPS = 3  # timed train steps of a config the train section lacks
QUICK_INPUT_BATCHES = 5
QUICK_IMAGES = dict(num_train_images=40, num_test_images=10)

# A step runs only if its compiled peak, on all devices of this host, is at
# most this fraction of the host's available memory.
MEMORY_FRACTION = 0.8


def parse_args() -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--devices', type=int, default=1,
                 help='fake CPU devices to split the host into')
  p.add_argument('--out', default='BENCHMARKS.md')
  p.add_argument('--plot', default='benchmarks/cost_vs_cells.png',
                 help="the cells section's PNG")
  p.add_argument('--sections', default=','.join(SECTIONS),
                 help=f'comma-separated, of {",".join(SECTIONS)}')
  p.add_argument('--grids', default=','.join(g.key for g in GRIDS),
                 help="the train section's grids (keys of GRIDS)")
  p.add_argument('--steps', type=int, default=None,
                 help="timed steps per measurement (default: each grid's)")
  p.add_argument('--quick', action='store_true',
                 help='smoke run: one config per grid, batch 8, one step, '
                 'one cell count, tiny generated datasets')
  p.add_argument('--data_dir', default=None,
                 help="the input section's data_dir (default: each "
                 "config's)")
  p.add_argument('--max_seconds_per_row', type=float, default=150.0,
                 help="skip a row's large batch when the small batch's "
                 'timings say the row would take longer (0: never)')
  args = p.parse_args()
  for flag, known in (('sections', SECTIONS),
                      ('grids', tuple(g.key for g in GRIDS))):
    unknown = set(getattr(args, flag).split(',')) - set(known)
    if unknown:
      p.error(f'unknown --{flag} {sorted(unknown)}; known: {known}')
  return args


ARGS = parse_args()
sys.path.insert(0, BENCHMARKS_DIR)
# pylint: disable=g-import-not-at-top,wrong-import-position
import host_devices  # before JAX
host_devices.split_host_cpu(ARGS.devices)
_argv, sys.argv = sys.argv, sys.argv[:1]
import train_step  # parses sys.argv when imported: give it no flags
sys.argv = _argv

from absl import flags
import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np

from hardattn import base_config
from hardattn import datasets
from hardattn import errors
from hardattn import metrics
from hardattn import models
from hardattn import optim
from hardattn import sharding
from hardattn import train
from hardattn.models import encoders
from hardattn.models import hard_attention
# pylint: enable=g-import-not-at-top,wrong-import-position


class TooBigError(RuntimeError):
  """A compiled step would need more host memory than is available."""


@dataclasses.dataclass
class Built:
  """A config's model and shapes."""
  config: object
  meta: object
  model: object

  @property
  def grid(self) -> tuple[int, int]:
    return tuple(self.model.grid_shape(self.meta.image_shape[:2]))

  def aggregated(self) -> str:
    """'k/N': the cells the aggregation sees."""
    n, kind = int(np.prod(self.grid)), self.config.model_name
    if kind.startswith('han'):
      return f'{hard_attention.num_kept(n, self.config.model.fraction)}/{n}'
    if kind.startswith('adahan'):
      return f'<={self.config.model.adahan_max_cells or n}/{n}'
    if kind.startswith(('san', 'smem')):
      return f'{n}/{n} soft'
    return f'{n}/{n}'


def build(name: str, update=None) -> Built:
  """Config `name[:preset]`, changed by update(config), and its model."""
  config = train_step.load_config(name)
  if update:
    update(config)
  meta = datasets.module(config).nominal_meta(config)
  model = models.create_model(config.model_name, meta, **config.model)
  return Built(config, meta, model)


def available_bytes() -> int:
  """The host's MemAvailable."""
  with open('/proc/meminfo') as f:
    for line in f:
      if line.startswith('MemAvailable:'):
        return int(line.split()[1]) * 1024
  raise RuntimeError('no MemAvailable in /proc/meminfo')


def check_fits(compiled) -> None:
  """Raises TooBigError if a CPU step would exhaust the host's memory."""
  if jax.devices()[0].platform != 'cpu':
    return  # accelerators raise a catchable out-of-memory error
  need = train_step.peak_bytes(compiled) * jax.local_device_count()
  have = available_bytes()
  if need > MEMORY_FRACTION * have:
    raise TooBigError(f'needs {need / 2**30:.1f} GiB, {have / 2**30:.1f} '
                      'GiB available')


def median_seconds(run, steps: int, warmup: int = 1) -> float:
  """Median wall time of `steps` calls of run() after `warmup` calls."""
  for _ in range(warmup):
    jax.block_until_ready(run())
  times = []
  for _ in range(steps):
    t = time.perf_counter()
    jax.block_until_ready(run())
    times.append(time.perf_counter() - t)
  return statistics.median(times)


def random_state(model, tx, batch: dict[str, np.ndarray],
                 where: NamedSharding) -> train.TrainState:
  """A TrainState of `train.create_train_state`'s shapes, without compiling.

  Parameters are drawn from N(0, 0.05^2) and batch statistics are (mean 0,
  var 1) rather than by the model's initializers, whose compilation costs
  as much as a train step's; the timings do not depend on the values.
  """
  inputs = {k: batch[k] for k in ('image', 'question')}
  shapes = jax.eval_shape(lambda x: train.create_train_state(
      model, x, tx, jax.random.key(0)), inputs)
  rng = np.random.default_rng(0)
  params = jax.tree.map(lambda s: (0.05 * rng.standard_normal(s.shape)
                                   ).astype(s.dtype), shapes.params)
  stats = jax.tree_util.tree_map_with_path(
      lambda path, s: (np.ones if path[-1].key == 'var' else np.zeros)(
          s.shape, s.dtype), shapes.batch_stats)
  return jax.device_put(train.TrainState.create(
      apply_fn=model.apply, params=params, batch_stats=stats, tx=tx), where)


def measure(b: Built, batch_size: int, steps: int,
            with_eval: bool = True, warmup: int = 1) -> dict[str, float]:
  """The train (and eval) step of `b` at one global batch size.

  Both are jitted over a mesh of all devices as `train.train_and_evaluate`
  does (batch split on `data`, state replicated, train state donated), and
  each is timed over `steps` calls after `warmup` untimed ones.

  Returns:
    {'batch', 'compile_s', 'train_s' (median step), 'train_flops' (one step,
    all devices), 'peak_bytes' (one device)} and, with_eval, 'eval_s' and
    'eval_flops'.

  Raises:
    TooBigError: a step would not fit in host memory.
  """
  config, meta, model = b.config, b.meta, b.model
  mesh = sharding.create_mesh()
  repl, data = sharding.replicated(mesh), sharding.data_sharding(mesh)
  tx = optim.create_optimizer(config.optimizer, config.num_train_steps)
  group = questions_per_image(config, batch_size)
  batch = train_step.synthetic_batch(meta, batch_size, group)
  state = random_state(model, tx, batch, repl)
  key = jax.device_put(jax.random.key(1), repl)
  gbatch = sharding.to_global(batch, mesh)
  step_fn = jax.jit(functools.partial(  # as train_and_evaluate's
      train.train_step, loss=config.loss,
      augment=datasets.device_augment(config)),
                    in_shardings=(repl, data, repl),
                    out_shardings=(repl, repl), donate_argnums=(0,))
  t = time.perf_counter()
  compiled = step_fn.lower(state, gbatch, key).compile()
  out = {'batch': batch_size, 'group': group,
         'compile_s': time.perf_counter() - t,
         'train_flops': train_step.flops_of(compiled),
         'peak_bytes': train_step.peak_bytes(compiled)}
  check_fits(compiled)
  if with_eval:  # before training: the train step donates the state
    eval_fn = jax.jit(functools.partial(
        train.eval_step, metrics_class=metrics.eval_metrics_class(
            len(meta.question_types)), loss=config.loss),
                      in_shardings=(repl, data), out_shardings=repl)
    ebatch = sharding.to_global(  # eval: one image per question
        train_step.synthetic_batch(meta, batch_size), mesh)
    compiled_eval = eval_fn.lower(state, ebatch).compile()
    check_fits(compiled_eval)
    out['eval_flops'] = train_step.flops_of(compiled_eval)
    out['eval_s'] = median_seconds(lambda: compiled_eval(state, ebatch),
                                   steps, warmup)

  def run():
    nonlocal state
    state, step_metrics = compiled(state, gbatch, key)
    return state, step_metrics

  out['train_s'] = median_seconds(run, steps, warmup)
  return out


def questions_per_image(config, batch_size: int) -> int:
  """The config's questions per image, or its largest divisor of the batch.

  Sort-of-CLEVR trains 20 questions per image (8 images in its batch of
  160); a batch of 64 shares each image among 4.
  """
  return math.gcd(config.get('questions_per_image', 1), batch_size)


def failure(e: Exception) -> str:
  """'failed: <reason>', one markdown-safe line."""
  text = str(e).strip().split('\n')[0][:100]
  if not isinstance(e, TooBigError):
    text = f'{type(e).__name__}: {text}'
  return 'failed: ' + text.replace('|', '/')


def fmt_rate(x: float) -> str:
  return f'{x:.0f}' if x >= 100 else f'{x:.1f}' if x >= 10 else f'{x:.2f}'


# --- peak ---------------------------------------------------------------


def matmul_gflops(n: int, dtype, all_devices: bool) -> float:
  """GFLOP/s of a jitted n x n matmul: median of PEAK_RUNS after warm-up.

  all_devices: one matmul per device, a batch of them sharded over a mesh
  of all devices in one jitted call.
  """
  rng = np.random.default_rng(0)
  count = jax.device_count() if all_devices else 1
  a, b = (jnp.asarray(rng.standard_normal((count, n, n)), dtype)
          for _ in range(2))
  if all_devices:
    where = NamedSharding(sharding.create_mesh(), P(sharding.DATA_AXIS))
    a, b = jax.device_put((a, b), where)
    fn = jax.jit(jnp.matmul, in_shardings=(where, where),
                 out_shardings=where)
  else:
    a, b = a[0], b[0]
    fn = jax.jit(jnp.matmul)
  seconds = median_seconds(lambda: fn(a, b), PEAK_RUNS)
  return count * 2 * n**3 / seconds / 1e9


def section_peak(results: dict) -> str:
  """Matmul peak; results['peak'] = the all-devices fp32 GFLOP/s."""
  sizes = QUICK_PEAK_SIZES if ARGS.quick else PEAK_SIZES
  n_dev = jax.device_count()
  rows, best = [], {}
  for dtype in (jnp.float32, jnp.bfloat16):
    for all_devices in (False, True):
      where = f'all {n_dev} devices' if all_devices else 'one device'
      for n in sizes:
        gflops = matmul_gflops(n, dtype, all_devices)
        key = (dtype.dtype.name, all_devices)
        best[key] = max(best.get(key, 0.0), gflops)
        rows.append(f'| {dtype.dtype.name} | {where} | {n} | {gflops:.1f} |')
        print(rows[-1], flush=True)
  results['peak'] = best[('float32', True)]
  bf16_ratio = best[('bfloat16', False)] / best[('float32', False)]
  verdict = f'bf16 runs at {bf16_ratio:.2f}x the fp32 rate on one device'
  if jax.devices()[0].platform == 'cpu':
    have = cpu_flags()
    missing = [f for f in ('avx512_bf16', 'amx_bf16') if f not in have]
    verdict += (f' (CPU flags: {", ".join(have) or "no avx2/fma/avx512"}' +
                (f'; no {" or ".join(missing)}' if missing else '') + ')')
  return '\n'.join([
      '## Matmul peak',
      '',
      f'Jitted `a @ b` on square matrices, FLOPs = 2 n^3 per matmul, '
      f'median of {PEAK_RUNS} timed runs after a warm-up. "All devices" '
      'runs one matmul per device: a batch of them sharded over a mesh of '
      'all devices, in one jitted call.',
      '',
      '| dtype | where | n | GFLOP/s |',
      '|---|---|---|---|',
      *rows,
      '',
      f'The peak used below is the best fp32 size on all devices: '
      f'**{results["peak"]:.1f} GFLOP/s** (one device: '
      f'{best[("float32", False)]:.1f}); the train steps run on all '
      f'devices. {verdict}.',
  ])


# --- train --------------------------------------------------------------


def grids() -> list[Grid]:
  """GRIDS, or their --quick variants; configs without a file are left out."""
  out = []
  for g in GRIDS:
    if g.key not in ARGS.grids.split(','):
      continue
    if ARGS.quick:
      g = dataclasses.replace(g, configs=(g.quick,), small_batch=QUICK_BATCH,
                              large_batch=0, steps=1)
    if ARGS.steps:
      g = dataclasses.replace(g, steps=ARGS.steps)
    configs = tuple(c for c in g.configs if os.path.exists(os.path.join(
        REPO, 'configs', c.split(':')[0] + '.py')))
    out.append(dataclasses.replace(g, configs=configs))
  return out


def measure_row(name: str, g: Grid) -> dict:
  """One config at the grid's batch sizes; failures recorded, not raised."""
  start = time.perf_counter()
  row = {'name': name}
  try:
    b = build(name)
    row.update(model=b.config.model_name, aggregated=b.aggregated(),
               grid='x'.join(map(str, b.grid)))
    row['small'] = measure(b, g.small_batch, g.steps)
  except Exception as e:  # pylint: disable=broad-except
    row['error'] = failure(e)
    return row
  if g.large_batch:
    small = row['small']
    estimate = small['compile_s'] + (g.steps + 1) * (
        small['train_s'] + small['eval_s']) * g.large_batch / g.small_batch
    elapsed = time.perf_counter() - start
    if 0 < ARGS.max_seconds_per_row < elapsed + estimate:
      row['large'] = {'error': f'skipped: ~{elapsed + estimate:.0f} s > '
                               '--max_seconds_per_row'}
    else:
      try:
        row['large'] = measure(b, g.large_batch, g.steps)
      except Exception as e:  # pylint: disable=broad-except
        row['large'] = {'error': failure(e)}
  return row


def train_header(g: Grid) -> list[str]:
  batches = [g.small_batch] + ([g.large_batch] if g.large_batch else [])
  cols = (['config', 'grid', 'cells aggregated', 'questions / image'] +
          [f'train ex/s @{b}' for b in batches] +
          [f'eval ex/s @{b}' for b in batches] +
          [f'compile s @{g.small_batch}', 'train GFLOP/ex', 'eval GFLOP/ex'] +
          [f'peak MiB/device @{b}' for b in batches] +
          ['train GFLOP/s', '% of peak', 'speed / RN', 'FLOPs / RN'])
  return ['| ' + ' | '.join(cols) + ' |', '|' + '---|' * len(cols)]


def train_line(row: dict, g: Grid, ref: dict | None,
               peak: float | None) -> str:
  """A markdown row; GFLOP/s and % of peak at the largest batch measured."""
  cells = [f'`{row["name"]}`']
  if 'error' in row:
    width = train_header(g)[1].count('---')
    return '| ' + ' | '.join(cells + [row['error']] + ['-'] * (width - 2)
                             ) + ' |'
  measured = [row['small']] + ([row['large']] if g.large_batch else [])

  def per_batch(fn, show_error=False):
    return [m['error'] if 'error' in m and show_error else
            '-' if 'error' in m else fn(m) for m in measured]

  small = row['small']
  best = [m for m in measured if 'error' not in m][-1]
  achieved = best['train_flops'] / best['train_s'] / 1e9
  at = f' @{g.small_batch}' if g.large_batch and best is small else ''
  cells += [row['grid'], row['aggregated'],
            ', '.join(str(m['group']) for m in measured if 'group' in m)]
  cells += per_batch(lambda m: fmt_rate(m['batch'] / m['train_s']), True)
  cells += per_batch(lambda m: fmt_rate(m['batch'] / m['eval_s']))
  cells += [f'{small["compile_s"]:.1f}',
            f'{small["train_flops"] / small["batch"] / 1e9:.3f}',
            f'{small["eval_flops"] / small["batch"] / 1e9:.3f}']
  cells += per_batch(lambda m: f'{m["peak_bytes"] / 2**20:.0f}')
  cells += [f'{achieved:.1f}{at}',
            f'{100 * achieved / peak:.0f}%{at}' if peak else '-']
  if ref and 'small' in ref:
    cells += [f'{ref["small"]["train_s"] / small["train_s"]:.2f}x',
              f'{small["train_flops"] / ref["small"]["train_flops"]:.3f}']
  else:
    cells += ['-', '-']
  return '| ' + ' | '.join(cells) + ' |'


def section_train(results: dict) -> str:
  """Every grid's table; results['train'][name] = its row."""
  results['train'] = {}
  peak = results.get('peak')
  lines = [
      '## Train and eval steps',
      '',
      "Each config's compiled `hardattn.train.train_step` and `eval_step` "
      'on synthetic batches of its dataset\'s shapes '
      '(`benchmarks/train_step.py`\'s `synthetic_batch`), jitted over a '
      'mesh of all devices with the batch split over them, from a state '
      'of random parameters of the right shapes. Examples/s: '
      'median of the timed steps after one warm-up step (compilation '
      'timed apart, train step at the small batch). GFLOP/example: XLA\'s '
      'cost analysis of the compiled step (all devices), at the small '
      'batch. Peak MiB/device: XLA\'s memory analysis (arguments, outputs '
      'and temporaries of one device). Train GFLOP/s and % of peak: at the '
      'large batch (at the small one where marked), against the '
      'all-devices fp32 matmul peak above. Speed and FLOPs / RN: against '
      'the plain RN of the same grid at the small batch, in this run.' + (
          " A row skips its large batch where its small batch's timings "
          f'say the row would take over {ARGS.max_seconds_per_row:.0f} s '
          '(`--max_seconds_per_row`).' if ARGS.max_seconds_per_row else ''),
      '',
      'Batch sizes and timed steps per grid (`GRIDS` in '
      '`benchmarks/suite.py`), chosen to keep the run short on this host:',
      '',
      '| grid | batches | timed steps | why |',
      '|---|---|---|---|',
  ]
  gs = grids()
  for g in gs:
    batches = f'{g.small_batch}, {g.large_batch}' if g.large_batch else str(
        g.small_batch)
    lines.append(f'| {g.title} | {batches} | {g.steps} | {g.why} |')
  for g in gs:
    lines += ['', f'### {g.title}', '']
    header = train_header(g)
    lines += header
    print('\n' + '\n'.join(header), flush=True)
    ref = None
    for name in g.configs:
      row = measure_row(name, g)
      results['train'][name] = row
      if ref is None and row.get('model') == 'rn':
        ref = row
      lines.append(train_line(row, g, ref, peak))
      print(lines[-1], flush=True)
  return '\n'.join(lines)


# --- cells --------------------------------------------------------------


def cells_batch() -> int:
  return QUICK_BATCH if ARGS.quick else CELLS_BATCH


def cells_point(name: str, image_size: int, steps: int) -> dict:
  """Train GFLOP/ex and ms/ex of a CLEVR config at one image size."""
  def update(config):
    config.clevr.image_size = image_size
    h, w = encoders.grid_shape((image_size, image_size),
                               len(config.model.cnn_features))
    if 'fraction' in config.model:
      config.model.fraction = min(1.0, CELLS_K / (h * w))
  try:
    m = measure(build(name, update), cells_batch(), steps, with_eval=False)
  except Exception as e:  # pylint: disable=broad-except
    return {'error': failure(e)}
  return {'gflop': m['train_flops'] / m['batch'] / 1e9,
          'ms': 1e3 * m['train_s'] / m['batch']}


def plot_cells(points: dict[str, list[tuple[int, dict]]], path: str) -> None:
  """Two log-log panels, GFLOP/ex and ms/ex against cells, with N^2."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, axes = plt.subplots(1, 2, figsize=(10, 4))
  for ax, key, label in ((axes[0], 'gflop', 'train GFLOP / example'),
                         (axes[1], 'ms', 'train ms / example')):
    for model, series in points.items():
      xy = [(n, p[key]) for n, p in series if key in p]
      if xy:
        ax.plot(*zip(*xy), marker='o', label=model)
    rn = [(n, p[key]) for n, p in points['RN'] if key in p]
    if rn:
      n0, y0 = rn[0]
      ns = np.array([n for n, _ in points['RN']], float)
      ax.plot(ns, y0 * (ns / n0)**2, 'k--', linewidth=1,
              label='N^2 through the first RN point')
    ax.set_xscale('log')
    ax.set_yscale('log')
    ax.set_xlabel('cells N')
    ax.set_ylabel(label)
    ax.grid(True, which='both', alpha=0.3)
  axes[0].legend(fontsize=8)
  fig.suptitle(f'CLEVR base model, batch {cells_batch()}, '
               f'{jax.device_count()} {jax.devices()[0].platform} '
               'device(s)')
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=100)
  plt.close(fig)


def section_cells(results: dict) -> str:
  """RN vs HAN at fixed k over grids 4x4..16x16; writes ARGS.plot."""
  del results  # Unused.
  sizes = QUICK_CELLS_IMAGE_SIZES if ARGS.quick else CELLS_IMAGE_SIZES
  depth = len(base_config.CLEVR_SIZES['base']['cnn_features'])
  shapes = [encoders.grid_shape((size, size), depth) for size in sizes]
  cell_models = QUICK_CELLS_MODELS if ARGS.quick else CELLS_MODELS
  steps = ARGS.steps or (1 if ARGS.quick else CELLS_STEPS)
  points = {label: [] for label, _ in cell_models}
  header = ['| image | grid | cells N | RN pairs'] + [
      f' | {label} GFLOP/ex | {label} ms/ex' for label, _ in cell_models]
  lines = [''.join(header) + ' |', '|' + '---|' * (4 + 2 * len(cell_models))]
  print('\n' + '\n'.join(lines), flush=True)
  for size, (h, w) in zip(sizes, shapes):
    n = h * w
    cols = [f'{size}x{size}', f'{h}x{w}', str(n), f'{n * n:,}']
    for label, name in cell_models:
      p = cells_point(name, size, steps)
      points[label].append((n, p))
      cols += ([f'{p["gflop"]:.3f}', f'{p["ms"]:.1f}'] if 'gflop' in p
               else [p['error'], '-'])
    lines.append('| ' + ' | '.join(cols) + ' |')
    print(lines[-1], flush=True)
  plot_cells(points, ARGS.plot)
  link = os.path.relpath(os.path.abspath(ARGS.plot), os.path.dirname(
      os.path.abspath(ARGS.out)))
  return '\n'.join([
      '## Cost against the number of cells',
      '',
      'The CLEVR base model (`configs/clevr_rn.py`, `clevr_han_rn.py`, '
      f'`clevr_han_sum.py`) at image sizes whose {depth} stride-2 '
      f'convolutions give {shapes[0][0]}x{shapes[0][1]} to '
      f'{shapes[-1][0]}x{shapes[-1][1]} cells: the RN over all N cells '
      f'(N^2 pairs) against HAN keeping k = {CELLS_K} cells (fraction '
      f'{CELLS_K}/N, so all of them at 4x4) '
      'before the RN or a sum. Compiled train step at batch '
      f'{cells_batch()} (the RN at 16x16 needs ~0.6 GiB of temporaries per '
      f'example), median of {steps} timed step(s) after a warm-up; GFLOP '
      'from XLA\'s cost analysis.',
      '',
      *lines,
      '',
      f'![train cost against cells]({link})',
  ])


# --- input --------------------------------------------------------------


def input_config(name: str):
  """The default config, with --data_dir and the --quick sizes."""
  config = train_step.load_config(name)
  if ARGS.data_dir:
    config.data_dir = ARGS.data_dir
  if ARGS.quick:
    config.batch_size = QUICK_BATCH
    config.questions_per_image = questions_per_image(config, QUICK_BATCH)
    generated = config.get(config.dataset)
    if generated is not None and 'num_train_images' in generated:
      generated.update(QUICK_IMAGES)
  return config


@functools.cache
def synthetic_data_dir(dataset: str) -> tuple[str, int]:
  """(data_dir, images) of a synthetic release of `dataset`, prepared."""
  tmp = tempfile.mkdtemp(prefix=f'hardattn_{dataset}_')
  images = (QUICK_SYNTHETIC_IMAGES if ARGS.quick else SYNTHETIC_IMAGES)[
      dataset]
  data_dir = os.path.join(tmp, 'data')
  if dataset == 'clevr':
    sys.path.insert(0, os.path.join(REPO, 'tests'))
    import clevr_fixture  # pylint: disable=g-import-not-at-top
    from hardattn.datasets import clevr  # pylint: disable=g-import-not-at-top
    release = clevr_fixture.make_release(os.path.join(tmp, 'release'),
                                         {'train': images, 'val': 10})
    clevr.prepare(data_dir, release)
  else:
    import vqa_input  # pylint: disable=g-import-not-at-top
    from hardattn.datasets import vqa  # pylint: disable=g-import-not-at-top
    jsons, coco = vqa_input.write_release(tmp, images)
    vqa.prepare_questions(data_dir, 'vqacp_v2', jsons)
    forward = vqa.backbone_forward
    vqa.backbone_forward = vqa_input.random_forward  # reading is measured
    try:
      vqa.prepare_grids(data_dir, coco, 'unused', batch_size=32)
    finally:
      vqa.backbone_forward = forward
  return data_dir, images


def input_row(name: str, measured: dict) -> list[str]:
  """batch, batches/s, examples/s, train ex/s, ratio of one config."""
  config = input_config(name)
  cols = [str(config.batch_size)]
  try:
    train_iter, _, _ = datasets.get_dataset(config)
  except errors.DatasetNotFoundError:
    config.data_dir, images = synthetic_data_dir(config.dataset)
    cols[0] += f' (synthetic release, {images} images)'
    try:
      train_iter, _, _ = datasets.get_dataset(config)
    except Exception as e:  # pylint: disable=broad-except
      return cols + [failure(e)] + ['-'] * 3
  try:
    for _ in range(INPUT_WARMUP):
      next(train_iter)
    count = QUICK_INPUT_BATCHES if ARGS.quick else INPUT_BATCHES
    t = time.perf_counter()
    for _ in range(count):
      next(train_iter)
    per_s = count / (time.perf_counter() - t)
    del train_iter
    step = measured.get(name, {}).get('small', {})
    if (step.get('batch') != config.batch_size or 'train_s' not in step
       ) and not ARGS.quick:
      step = measure(build(name), config.batch_size,
                     ARGS.steps or INPUT_TRAIN_STEPS, with_eval=False)
  except Exception as e:  # pylint: disable=broad-except
    return cols + [failure(e)] + ['-'] * 3
  ex_s = per_s * config.batch_size
  cols += [f'{per_s:.1f}', fmt_rate(ex_s)]
  if 'train_s' not in step:  # --quick times no step the train section lacks
    return cols + ['-', '-']
  train_rate = step['batch'] / step['train_s']
  return cols + [fmt_rate(train_rate), f'{ex_s / train_rate:.1f}x']


def section_input(results: dict) -> str:
  """Batches/s of each prepared dataset's train iterator."""
  flags.FLAGS.mark_as_parsed()  # grain's worker processes read absl flags
  lines = ['| dataset | config | batch | batches/s | examples/s | '
           'train step ex/s | input / train |', '|' + '---|' * 7]
  print('\n' + '\n'.join(lines), flush=True)
  for title, name in INPUT_CONFIGS:
    cols = [title, f'`{name}`'] + input_row(name, results.get('train', {}))
    lines.append('| ' + ' | '.join(cols) + ' |')
    print(lines[-1], flush=True)
  count = QUICK_INPUT_BATCHES if ARGS.quick else INPUT_BATCHES
  return '\n'.join([
      '## Input pipeline',
      '',
      "Each dataset's train iterator (`hardattn.datasets.get_dataset` with "
      "its default config: grain with the config's `data_threads`), "
      f'batches per second over {count} batches after {INPUT_WARMUP} '
      'warm-up ones, against the train step of the same config and batch '
      '(from the train section when it ran, else timed here); above 1x the '
      "pipeline keeps up with this host's training.",
      '',
      *lines,
      '',
      'A dataset missing here (CLEVR, VQA-CP) is measured on a '
      'synthetic release in its official layout, prepared by the same code '
      '(VQA-CP with ResNet grids of random numbers); the batch column says '
      'so. CLEVR reads the train arrays (`clevr.input`) and augments on the '
      'device, so its input rate has no augmentation in it; '
      '`python benchmarks/input_pipeline.py` measures each path and the '
      'augmentation alone.',
  ])


# --- report -------------------------------------------------------------


def cpu_info(key: str) -> list[str]:
  """The values of `key` in /proc/cpuinfo, one per core (none if absent)."""
  try:
    with open('/proc/cpuinfo') as f:
      return [line.split(':', 1)[1].strip() for line in f
              if line.split(':', 1)[0].strip() == key]
  except OSError:
    return []


def cpu_model() -> str:
  names = cpu_info('model name')
  return f'{names[0]} x {len(names)} cores' if names else 'unknown CPU'


def cpu_flags() -> list[str]:
  """The CPU's vector and matrix extensions that matmuls use."""
  present = set((cpu_info('flags') or [''])[0].split())
  return [f for f in ('avx2', 'fma', 'avx512f', 'avx512_bf16', 'amx_bf16')
          if f in present]


def report_header(started: datetime.datetime) -> str:
  dev = jax.devices()[0]
  command = ' '.join(shlex.quote(a) for a in ['python'] + sys.argv)
  return '\n'.join([
      '# Benchmarks',
      '',
      f'Written by `benchmarks/suite.py` on {started:%Y-%m-%d %H:%M}: jax '
      f'{jax.__version__}, {jax.device_count()} {dev.platform} device(s) '
      f'({dev.device_kind}), CPU {cpu_model()}, load average '
      f'{os.getloadavg()[0]:.1f} at the start, XLA_FLAGS '
      f'`{os.environ.get("XLA_FLAGS", "").strip() or "(none)"}`.',
      '',
      '```sh',
      command,
      '```',
  ])


def write(path: str, parts: list[str]) -> None:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, 'w') as f:
    f.write('\n\n'.join(parts) + '\n')


def main():
  started = datetime.datetime.now()
  t0 = time.perf_counter()
  print(f'# jax {jax.__version__}, {jax.device_count()} '
        f'{jax.devices()[0].platform} device(s)', flush=True)
  sections = {'peak': section_peak, 'train': section_train,
              'cells': section_cells, 'input': section_input}
  chosen = ARGS.sections.split(',')
  parts, results = [report_header(started)], {}
  for name in SECTIONS:
    if name in chosen:
      t = time.perf_counter()
      parts.append(sections[name](results))
      print(f'# {name}: {time.perf_counter() - t:.0f} s', flush=True)
      write(ARGS.out, parts)  # a later failure keeps what was measured
  parts.append(f'Total run time: {(time.perf_counter() - t0) / 60:.1f} min.')
  write(ARGS.out, parts)
  print(f'# wrote {ARGS.out} in {time.perf_counter() - t0:.0f} s', flush=True)


if __name__ == '__main__':
  main()
