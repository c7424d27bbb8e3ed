r"""Same-model speed race: hardattn's RN against the public PyTorch RN.

The reference is the RN of https://github.com/kimhc6028/relational-networks
(Sort-of-CLEVR), which users compare hardattn with. Nothing of it is in
hardattn: its `model.py` is imported from your clone at run time, and torch
comes from your own environment. Get both, then run the race:

  git clone https://github.com/kimhc6028/relational-networks ../peer_rn
  pip install torch numpy    # in the Python given as --peer_python
  python benchmarks/peer_rn.py --peer_repo=../peer_rn
  python benchmarks/peer_rn.py --peer_repo=../peer_rn \
      --peer_python=/path/to/torch-venv/bin/python   # torch elsewhere
  python benchmarks/peer_rn.py --peer_repo=../peer_rn --rounds=1 --steps=3 \
      --warmup=1 --paper_steps=1   # smoke run
  python benchmarks/peer_rn.py --peer_repo=../peer_rn --models=matched \
      --xla_flags='' --xla_flags=--xla_cpu_experimental_ynn_fusion_type=\
dot,eltwise,reduce   # hardattn under XLA CPU flags, each its own row

The reference side is its `RN` built with an args namespace of its main.py's
defaults (batch 64, binary relations, Adam 1e-4, on the CPU), trained by its
own step (`RN.train_`: forward, nll loss, backward, Adam step) on random
75x75 images and 18-d questions; its parameters are counted by torch and its
FLOPs by `torch.utils.flop_counter.FlopCounterMode` over one step (matmuls
and convolutions, forward and backward).

The hardattn side is `configs/sort_of_clevr_rn.py:paper` at batch 64, timed
as `benchmarks/suite.py` times the train steps of every model (the real
`hardattn.train.train_step` jitted over a mesh of all devices, XLA's cost
analysis for the FLOPs; `suite.measure`). `:paper` has the RN paper's sizes
(CNN 32-64-128-256, fusion 256-256, g 4 x 2000, f 2000-1000-500-100), not
the reference's, so the race is run on a second hardattn model with the
reference's sizes (`MATCHED_MODEL`: CNN 4 x 24, no fusion layers, g 4 x 256,
f 256-256, its 18-d question); `:paper` is reported beside it.

Every measurement is a fresh process: the reference with 1 and 2 torch
threads (`torch.set_num_threads`), hardattn with 1 and 2 XLA CPU devices
(`host_devices.split_host_cpu`), and a dense float32 matmul peak
(`suite.matmul_gflops`), interleaved over `--rounds` rounds (the order
reversed every other round). Each times `--warmup` untimed steps and then
`--steps` steps and reports their median; the table gives the median over
rounds of those, their range, the achieved GFLOP/s as a fraction of the
peak, and the ratio of hardattn's best median (matched sizes) to the
reference's best median.
"""

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time

BENCHMARKS_DIR = os.path.dirname(os.path.abspath(__file__))
PEER_URL = 'https://github.com/kimhc6028/relational-networks'
BATCH = 64  # the reference's default; its RN's coordinates have this batch
# The reference's main.py arguments, its defaults on the CPU.
PEER_ARGS = dict(model='RN', batch_size=BATCH, epochs=20, lr=1e-4,
                 no_cuda=True, cuda=False, seed=1, log_interval=10,
                 resume=None, relation_type='binary')
PEER_IMAGE = (3, 75, 75)  # its main.py's input_img, channels first
PEER_QUESTION_DIM = 18  # its sort_of_clevr_generator.py's question_size
PEER_ANSWERS = 10  # its FCOutputModel's fc3

CONFIG = 'sort_of_clevr_rn:paper'
# config.model overrides giving hardattn's RN the reference's sizes (the
# question's size comes from the data: the race gives it 18 dims).
MATCHED_MODEL = dict(cnn_features=(24, 24, 24, 24), fusion_features=(),
                     g_features=(256, 256, 256, 256), f_features=(256, 256))

REFERENCE = 'reference (PyTorch)'
HARDATTN = 'hardattn (JAX)'
PEER_MODEL = 'RN, its sizes'
HARDATTN_MODELS = {'matched': 'RN, matched sizes', 'paper': 'RN, `:paper`'}
RACE_MODEL = HARDATTN_MODELS['matched']
RESULT_PREFIX = 'PEER_RN_RESULT '


class UsageError(Exception):
  """The peer repository or torch is missing: a one-line message."""


# --- the reference's side (runs under --peer_python: torch, no JAX) -----


def load_peer_model(peer_repo: str):
  """The reference's model.py, imported from the user's clone."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  spec = importlib.util.spec_from_file_location(
      'peer_rn_model', os.path.join(peer_repo, 'model.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def median_step_seconds(step, steps: int, warmup: int) -> float:
  """Median wall time of `steps` calls of step() after `warmup` calls."""
  for _ in range(warmup):
    step()
  times = []
  for _ in range(steps):
    t = time.perf_counter()
    step()
    times.append(time.perf_counter() - t)
  return statistics.median(times)


def torch_worker(args: argparse.Namespace) -> dict:
  """Times the reference's training step with `args.threads` threads."""
  # pylint: disable=g-import-not-at-top
  import torch
  from torch.utils import flop_counter
  torch.set_num_threads(args.threads)
  torch.manual_seed(PEER_ARGS['seed'])
  model = load_peer_model(args.peer_repo).RN(argparse.Namespace(**PEER_ARGS))
  model.train()
  gen = torch.Generator().manual_seed(0)
  image = torch.rand((BATCH,) + PEER_IMAGE, generator=gen)
  question = torch.zeros(BATCH, PEER_QUESTION_DIM)
  question[torch.arange(BATCH),
           torch.randint(0, PEER_QUESTION_DIM, (BATCH,), generator=gen)] = 1
  label = torch.randint(0, PEER_ANSWERS, (BATCH,), generator=gen)

  def step():  # its main.py's training step: forward, nll, backward, Adam
    model.train_(image, question, label)

  out = {'seconds': median_step_seconds(step, args.steps, args.warmup),
         'version': f'torch {torch.__version__}',
         'threads': torch.get_num_threads()}
  if args.count:  # after the timing: the counter slows its step down
    counter = flop_counter.FlopCounterMode(display=False)
    with counter:
      step()
    out['flops_per_example'] = counter.get_total_flops() / BATCH
    out['params'] = sum(p.numel() for p in model.parameters())
  return out


# --- hardattn's side (runs under this Python, JAX) ------------------------


def import_suite(devices: int):
  """benchmarks/suite.py on `devices` XLA CPU devices (set before JAX)."""
  sys.path.insert(0, BENCHMARKS_DIR)
  # pylint: disable=g-import-not-at-top
  import host_devices
  host_devices.split_host_cpu(devices)
  argv, sys.argv = sys.argv, sys.argv[:1]
  import suite  # parses sys.argv when imported: give it no flags
  sys.argv = argv
  return suite


def build_hardattn(suite, which: str):
  """suite.Built of CONFIG, with the reference's sizes if `which` is
  'matched'."""
  from hardattn import models  # pylint: disable=g-import-not-at-top

  def update(config):
    if which == 'matched':
      config.model.update(MATCHED_MODEL)

  built = suite.build(CONFIG, update)
  config, meta = built.config, built.meta
  if which == 'matched':
    meta = dataclasses.replace(meta, question_shape=(PEER_QUESTION_DIM,))
    built = suite.Built(config, meta, models.create_model(
        config.model_name, meta, **config.model))
  want = (BATCH, 1, tuple(PEER_IMAGE[1:]), PEER_ANSWERS)
  have = (config.batch_size, config.questions_per_image,
          tuple(meta.image_shape[:2]), meta.num_answers)
  if have != want:
    raise ValueError(f'{CONFIG} no longer has the reference\'s batch, '
                     f'questions per image, image size and answers {want}: '
                     f'{have}')
  return built


def jax_worker(args: argparse.Namespace) -> dict:
  """Times hardattn's train step of `args.model` on `args.devices`."""
  suite = import_suite(args.devices)
  import jax  # pylint: disable=g-import-not-at-top
  built = build_hardattn(suite, args.model)
  m = suite.measure(built, BATCH, args.steps, with_eval=False,
                    warmup=args.warmup)
  image = jax.ShapeDtypeStruct((BATCH,) + tuple(built.meta.image_shape),
                               built.meta.image_dtype)
  question = jax.ShapeDtypeStruct(
      (BATCH,) + tuple(built.meta.question_shape), 'float32')
  variables = jax.eval_shape(
      lambda i, q: built.model.init(jax.random.key(0), i, q, train=False),
      image, question)
  return {'seconds': m['train_s'], 'flops_per_example':
              m['train_flops'] / BATCH,
          'params': sum(x.size for x in jax.tree.leaves(
              variables['params'])),
          'compile_s': m['compile_s'], 'devices': jax.device_count(),
          'version': f'jax {jax.__version__}'}


def peak_worker(args: argparse.Namespace) -> dict:
  """The best fp32 matmul GFLOP/s of suite.matmul_gflops here."""
  suite = import_suite(args.devices)
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  return {'gflops': max(suite.matmul_gflops(n, jnp.float32, all_devices)
                        for n in suite.PEAK_SIZES
                        for all_devices in (False, True)),
          'sizes': suite.PEAK_SIZES, 'devices': jax.device_count(),
          'cpu': suite.cpu_model()}


WORKERS = {'torch': torch_worker, 'jax': jax_worker, 'peak': peak_worker}


# --- the parent: checks, subprocesses, the report -------------------------


def check_inputs(peer_repo: str | None, peer_python: str) -> str:
  """Raises UsageError unless the clone and torch are there.

  Returns:
    The torch version --peer_python imports.
  """
  clone = f'clone it with `git clone {PEER_URL}`'
  if not peer_repo:
    raise UsageError('--peer_repo=PATH is required: the path of your clone '
                     f'of the reference RN ({clone})')
  model_py = os.path.join(peer_repo, 'model.py')
  try:
    with open(model_py) as f:
      has_rn = 'class RN(' in f.read()
  except OSError:
    has_rn = False
  if not has_rn:
    raise UsageError(f'--peer_repo={peer_repo} has no model.py with the '
                     f'reference\'s RN class; {clone}')
  install = (f'install them with `{peer_python} -m pip install torch numpy`'
             ', or pass --peer_python=PYTHON of an environment with torch')
  try:
    probe = subprocess.run(
        [peer_python, '-c', 'import numpy, torch; print(torch.__version__)'],
        capture_output=True, text=True, timeout=300)
  except OSError as e:
    raise UsageError(f'--peer_python={peer_python} does not run '
                     f'({e.strerror}); pass --peer_python=PYTHON of an '
                     'environment with torch (`pip install torch numpy`)'
                     ) from None
  if probe.returncode:
    lines = probe.stderr.strip().splitlines() or ['no output']
    raise UsageError(f'--peer_python={peer_python} cannot import torch and '
                     f'numpy ({lines[-1].strip()}); {install}')
  return probe.stdout.strip()


def run_worker(python: str, argv: list[str], env: dict[str, str]) -> dict:
  """This script as a worker in a fresh process: its result, or {'error'}."""
  proc = subprocess.run([python, os.path.abspath(__file__), *argv],
                        capture_output=True, text=True, env=env)
  lines = [line for line in proc.stdout.splitlines()
           if line.startswith(RESULT_PREFIX)]
  if proc.returncode or not lines:
    last = (proc.stderr.strip().splitlines() or
            [f'exit status {proc.returncode}'])[-1]
    return {'error': last.strip()[:160]}
  return json.loads(lines[-1][len(RESULT_PREFIX):])


@dataclasses.dataclass(frozen=True)
class Row:
  """One measured setting over the rounds."""
  side: str
  model: str
  setting: str
  median: float | None  # examples/s: the median over rounds of the medians
  low: float | None
  high: float | None
  rounds: int  # rounds measured
  failed: int  # rounds that failed


def summarize(rates: dict[tuple[str, str, str], list[float | None]]
              ) -> list[Row]:
  """Rows of (side, model, setting) -> examples/s per round (None: failed).

  In the order of `rates`.
  """
  rows = []
  for (side, model, setting), values in rates.items():
    ok = [v for v in values if v is not None]
    rows.append(Row(side, model, setting,
                    statistics.median(ok) if ok else None,
                    min(ok) if ok else None, max(ok) if ok else None,
                    len(ok), len(values) - len(ok)))
  return rows


def best(rows: list[Row], side: str, model: str | None = None
         ) -> Row | None:
  """The row of `side` (and `model`) with the highest median."""
  found = [r for r in rows if r.side == side and r.median is not None and
           (model is None or r.model == model)]
  return max(found, key=lambda r: r.median) if found else None


def race_ratio(rows: list[Row]) -> tuple[float, Row, Row] | None:
  """hardattn's best median at matched sizes / the reference's best."""
  ours, theirs = best(rows, HARDATTN, RACE_MODEL), best(rows, REFERENCE)
  if ours is None or theirs is None:
    return None
  return ours.median / theirs.median, ours, theirs


def fmt_rate(x: float) -> str:
  return f'{x:.0f}' if x >= 100 else f'{x:.1f}' if x >= 10 else f'{x:.2f}'


def speed_table(rows: list[Row], flops: dict[tuple[str, str], float],
                peak_gflops: float | None) -> str:
  """Markdown: each row's examples/s, range, GFLOP/s and fraction of peak.

  Args:
    rows: from `summarize`.
    flops: (side, model) -> FLOPs per training example.
    peak_gflops: the matmul peak, or None if it was not measured.
  """
  lines = ['| side | model | setting | median ex/s | (min..max) over rounds '
           '| GFLOP/s | of fp32 peak |', '|---|---|---|---|---|---|---|']
  for r in rows:
    if r.median is None:
      lines.append(f'| {r.side} | {r.model} | {r.setting} | failed | '
                   f'({r.failed} of {r.failed} rounds) | - | - |')
      continue
    spread = f'({fmt_rate(r.low)}..{fmt_rate(r.high)})'
    if r.failed:
      spread += f', {r.failed} failed'
    per_example = flops.get((r.side, r.model))
    gflops = fraction = '-'
    if per_example:
      achieved = r.median * per_example / 1e9
      gflops = f'{achieved:.1f}'
      if peak_gflops:
        fraction = f'{achieved / peak_gflops:.0%}'
    lines.append(f'| {r.side} | {r.model} | {r.setting} | '
                 f'{fmt_rate(r.median)} | {spread} | {gflops} | {fraction} |')
  return '\n'.join(lines)


def ratio_line(rows: list[Row]) -> str:
  race = race_ratio(rows)
  if race is None:
    return 'No ratio: a side has no successful measurement.'
  ratio, ours, theirs = race
  return (f'**hardattn / reference: {ratio:.2f}x** (best medians: hardattn '
          f'{ours.model}, {ours.setting}: {fmt_rate(ours.median)} ex/s; '
          f'reference {theirs.setting}: {fmt_rate(theirs.median)} ex/s)')


def sizes_table(sizes: dict[tuple[str, str], dict]) -> str:
  """Markdown: parameters and GFLOP per training example of each model."""
  counted = {REFERENCE: 'FlopCounterMode: matmuls and convolutions, '
                        'forward + backward',
             HARDATTN: 'XLA cost analysis of the compiled train step '
                       '(every op, Adam included)'}
  lines = ['| side | model | parameters | GFLOP/example | FLOPs counted by |',
           '|---|---|---|---|---|']
  for (side, model), s in sizes.items():
    lines.append(f"| {side} | {model} | {s['params']:,} | "
                 f"{s['flops_per_example'] / 1e9:.3f} | {counted[side]} |")
  return '\n'.join(lines)


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('--peer_repo', default=None,
                 help=f'your clone of {PEER_URL}')
  p.add_argument('--peer_python', default=sys.executable,
                 help='the Python that has torch (default: this one)')
  p.add_argument('--rounds', type=int, default=3)
  p.add_argument('--steps', type=int, default=10,
                 help='timed steps per measurement')
  p.add_argument('--warmup', type=int, default=3,
                 help='untimed steps before them')
  p.add_argument('--paper_steps', type=int, default=2,
                 help="timed steps of `:paper` (a step takes about a minute"
                 " on 2 cores), after one untimed step")
  p.add_argument('--threads', default='1,2',
                 help='torch thread counts of the reference')
  p.add_argument('--devices', default='1,2',
                 help="XLA CPU device counts of hardattn's side")
  p.add_argument('--xla_flags', action='append', default=None,
                 help="extra XLA_FLAGS for hardattn's side, repeatable: each"
                 " value is its own competitor, e.g. --xla_flags=''"
                 " --xla_flags=--xla_cpu_experimental_ynn_fusion_type="
                 "dot,eltwise,reduce (default: one, with none)")
  p.add_argument('--models', default='matched,paper',
                 help=f'hardattn models, of {",".join(HARDATTN_MODELS)}')
  # A worker process's own flags.
  p.add_argument('--worker', choices=sorted(WORKERS), help=argparse.SUPPRESS)
  p.add_argument('--model', help=argparse.SUPPRESS)
  p.add_argument('--count', action='store_true', help=argparse.SUPPRESS)
  args = p.parse_args(argv)
  if args.worker in ('jax', 'peak'):
    args.devices = int(args.devices)
  elif args.worker == 'torch':
    args.threads = int(args.threads)
  else:
    args.threads = [int(x) for x in args.threads.split(',')]
    args.devices = [int(x) for x in args.devices.split(',')]
    args.models = args.models.split(',')
    unknown = set(args.models) - set(HARDATTN_MODELS)
    if unknown:
      p.error(f'unknown --models {sorted(unknown)}; known: '
              f'{sorted(HARDATTN_MODELS)}')
  return args


def plan(args: argparse.Namespace) -> list[dict]:
  """One round's measurements: key (side, model, setting), python, argv."""
  common = [f'--steps={args.steps}', f'--warmup={args.warmup}']
  jobs = []
  for threads in args.threads:
    jobs.append(dict(
        key=(REFERENCE, PEER_MODEL, f'{threads} thread' +
             ('s' if threads > 1 else '')),
        python=args.peer_python,
        argv=['--worker=torch', f'--peer_repo={args.peer_repo}',
              f'--threads={threads}', *common]))
  for which in args.models:
    for devices in args.devices:
      for flags in args.xla_flags or ['']:
        steps = common if which != 'paper' else [
            f'--steps={args.paper_steps}', '--warmup=1']
        setting = f'{devices} XLA device' + ('s' if devices > 1 else '')
        jobs.append(dict(
            key=(HARDATTN, HARDATTN_MODELS[which],
                 setting + (f', XLA_FLAGS={flags}' if flags else '')),
            python=sys.executable, xla_flags=flags,
            argv=['--worker=jax', f'--model={which}', f'--devices={devices}',
                  *steps]))
  jobs.append(dict(key=('peak',), python=sys.executable,
                   argv=['--worker=peak', f'--devices={max(args.devices)}']))
  return jobs


def peer_commit(peer_repo: str) -> str:
  try:
    out = subprocess.run(['git', '-C', peer_repo, 'rev-parse', '--short',
                          'HEAD'], capture_output=True, text=True, timeout=30)
  except OSError:
    return 'unknown commit'
  return out.stdout.strip() if out.returncode == 0 else 'unknown commit'


def main():
  args = parse_args()
  if args.worker:
    print(RESULT_PREFIX + json.dumps(WORKERS[args.worker](args)), flush=True)
    return
  try:
    torch_version = check_inputs(args.peer_repo, args.peer_python)
  except UsageError as e:
    sys.exit(f'peer_rn.py: error: {e}')
  env = dict(os.environ, JAX_PLATFORMS='cpu')  # the race is on the CPU
  jobs = plan(args)
  rates = {job['key']: [] for job in jobs if job['key'] != ('peak',)}
  sizes, peaks, versions, peak_info = {}, [], {}, {}
  started = time.time()
  for r in range(args.rounds):
    for job in jobs if r % 2 == 0 else jobs[::-1]:
      count = job['key'][:2] not in sizes  # once per model
      argv = job['argv'] + (['--count'] if count else [])
      job_env = env
      if job.get('xla_flags'):
        job_env = dict(env, XLA_FLAGS=(
            env.get('XLA_FLAGS', '') + ' ' + job['xla_flags']).strip())
      result = run_worker(job['python'], argv, job_env)
      label = ', '.join(job['key'])
      if 'error' in result:
        print(f"round {r + 1}: {label}: failed: {result['error']}",
              flush=True)
        if job['key'] == ('peak',):
          continue
        rates[job['key']].append(None)
        continue
      if job['key'] == ('peak',):
        peaks.append(result['gflops'])
        peak_info = result
        print(f"round {r + 1}: fp32 matmul peak {result['gflops']:.1f} "
              'GFLOP/s', flush=True)
        continue
      rate = BATCH / result['seconds']
      rates[job['key']].append(rate)
      if 'params' in result:
        sizes.setdefault(job['key'][:2], result)
      versions[job['key'][0]] = result['version']
      print(f'round {r + 1}: {label}: {fmt_rate(rate)} ex/s', flush=True)
  rows = summarize(rates)
  peak = max(peaks) if peaks else None
  flops = {k: s['flops_per_example'] for k, s in sizes.items()}
  print(f'\n# torch {torch_version} ({args.peer_python}) vs '
        f"{versions.get(HARDATTN, 'jax')}; "
        f"{peak_info.get('cpu', 'unknown CPU')}; reference "
        f'{args.peer_repo} at {peer_commit(args.peer_repo)}; batch {BATCH}, '
        f'{args.rounds} rounds, median of {args.steps} steps after '
        f'{args.warmup} (`:paper`: {args.paper_steps} after 1); '
        f'{(time.time() - started) / 60:.1f} min\n')
  print(sizes_table(sizes) + '\n')
  print(speed_table(rows, flops, peak) + '\n')
  print(ratio_line(rows))
  if peak:
    print(f'\nfp32 matmul peak (`suite.matmul_gflops`, the best of n = '
          f"{', '.join(map(str, peak_info['sizes']))} on 1 and "
          f"{peak_info['devices']} devices): {peak:.1f} GFLOP/s "
          f'({min(peaks):.1f}..{peak:.1f} over rounds). GFLOP/s above: each '
          "side's own FLOPs per example times its median examples/s.")
  if race_ratio(rows) is None:
    sys.exit(1)


if __name__ == '__main__':
  main()
