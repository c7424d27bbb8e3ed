r"""Runs named training variants and tables their accuracy and attention.

  python experiments/ablation.py --root=workdirs/ablation \
      --variants=han_rn,rn --seeds=0,1,2 --steps=3000
  python experiments/ablation.py --root=workdirs/ablation \
      --variants=han_rn,rn --seeds=0,1,2 --steps=3000 --report

Each variant (`VARIANTS`) is a config and its overrides; each run is
`python -m hardattn.main` into ROOT/<variant>_s<seed> with config.seed and
config.data_seed set to the seed, config.num_train_steps to --steps (the
learning-rate schedule follows it) and an eval every --eval_every steps.
Finished runs are skipped, so a command can be rerun to complete a table;
`--reevaluate` evaluates finished runs' last checkpoints again (e.g. for a
metric added since), adding a line to their eval history.
The table (markdown, after all runs or with --report) gives for each variant
the mean over seeds (and the min..max where there are several) of the final
eval: accuracy overall and per group, the train wall-clock, the fraction of
cells kept and the attention-quality ratios (hardattn/attention_quality.py).

Runs share the machine: run one such command at a time, and compare
wall-clocks only between runs made alike.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

# name -> (config, overrides).
_SOC = 'configs/sort_of_clevr_han_rn.py'
# Its default until 2026-12-01 (`:mean_rn`): the 'demo_*' variants below
# start from it, as they were run.
_MEAN_RN = _SOC + ':mean_rn'
# The exploration of 2026-11-30 (docs/bootstrapping.md) started from the
# fast recipe of 2026-11-21: the paper's HAN (`:faithful`) with 20
# questions per image. Its rows with the sum skip and no gate were run
# when a leading all-cells phase still computed the RN over every pair
# (up to commit 'A gated RN with a sum skip ...'); it skips it now.
_EXPLORE = _SOC + ':faithful'
_G20 = '--config.questions_per_image=20'
# Three stride-2 convolutions: 10x10 cells of Sort-of-CLEVR's 75 px image.
_GRID10 = '--config.model.cnn_features=(24,24,24)'
# All cells (the sum path alone) for the first 3,000 steps.
_ALL3000 = '--config.fraction_schedule=((3000,1.0),)'
# HAN+RN with its RN trained from the first step and summing its pairs (the
# paper's pool), beside the sum skip: a live RN (on 5x5 cells, with
# _GEOMETRY, the default since 2026-12-01: demo_han_rn_rn0_sumpool_geo).
_LIVE_RN = ['--config.fraction_schedule=()',
            '--config.model.rn_head_zero=false', '--config.model.rn_pool=sum',
            '--config.checkpoint_every_steps=500']
_GEOMETRY = '--config.model.rn_pair_geometry=true'
# The full learning rate until the last fifth of the steps (`make demo`'s).
_WSD = '--config.optimizer.schedule=warmup_stable_cosine'


def _explore(*overrides: str) -> tuple[str, list[str]]:
  """An exploration variant: _EXPLORE with 20 questions per image, then
  `overrides` (later ones win)."""
  return _EXPLORE, [_G20, *overrides]


VARIANTS = {
    # Sort-of-CLEVR, the fast recipe of 2026-11-21 (5x5 cells).
    'han_rn': _explore(),
    'rn': _explore('--config.model_name=rn'),
    'sum': _explore('--config.model_name=sum'),
    'han_sum': _explore('--config.model_name=han_sum'),
    'han_rn_zero_head': _explore('--config.model.head_zero_init=true'),
    'han_rn_coords_kept': _explore('--config.model.coords=kept'),
    'han_rn_zero_head_coords_kept': _explore(
        '--config.model.head_zero_init=true', '--config.model.coords=kept'),
    'han_rn_frac36': _explore('--config.model.fraction=0.36'),
    'han_rn_grid10': _explore(
        _GRID10),
    # More images per batch: the CNN sees 160 / g images a step.
    'han_rn_g4': _explore('--config.questions_per_image=4'),
    'han_rn_g2': _explore('--config.questions_per_image=2'),
    'sum_g4': _explore(
        '--config.model_name=sum', '--config.questions_per_image=4'),
    # Start on all cells (the RN), then keep a quarter (decision).
    'han_rn_sched1000': _explore(
        '--config.fraction_schedule=((1000,1.0),)'),
    'han_sum_sched1000': _explore(
        '--config.model_name=han_sum',
        '--config.fraction_schedule=((1000,1.0),)'),
    'han_rn_sched_half': _explore(
        '--config.fraction_schedule=((1000,0.5),)'),
    'han_rn_mean': _explore('--config.model.rn_pool=mean'),
    'han_rn_mean_sched300': _explore(
        '--config.model.rn_pool=mean',
        '--config.fraction_schedule=((300,1.0),)'),
    'han_rn_mean_sched300_g4': _explore(
        '--config.model.rn_pool=mean', '--config.questions_per_image=4',
        '--config.fraction_schedule=((300,1.0),)'),
    'han_rn_skip_sched300': _explore(
        '--config.model.rn_sum_skip=true',
        '--config.fraction_schedule=((300,1.0),)'),
    'han_rn_skip_mean_sched300': _explore(
        '--config.model.rn_sum_skip=true', '--config.model.rn_pool=mean',
        '--config.fraction_schedule=((300,1.0),)'),
    'han_rn_skip_sched300_lr1e3': _explore(
        '--config.model.rn_sum_skip=true',
        '--config.fraction_schedule=((300,1.0),)',
        '--config.optimizer.learning_rate=1e-3'),
    'han_rn_sched300_lr1e3': _explore(
        '--config.fraction_schedule=((300,1.0),)',
        '--config.optimizer.learning_rate=1e-3'),
    'han_sum_sched300': _explore(
        '--config.model_name=han_sum',
        '--config.fraction_schedule=((300,1.0),)'),
    'han_rn_gate_skip_sched300': _explore(
        '--config.model.rn_sum_skip=true', '--config.model.rn_gate=true',
        '--config.fraction_schedule=((300,1.0),)'),
    'han_rn_gate_skip_sched1000': _explore(
        '--config.model.rn_sum_skip=true', '--config.model.rn_gate=true',
        '--config.fraction_schedule=((1000,1.0),)'),
    'han_rn_detach_gate_skip_sched1000': _explore(
        '--config.model.rn_sum_skip=true', '--config.model.rn_gate=true',
        '--config.model.rn_detach=true',
        '--config.fraction_schedule=((1000,1.0),)'),
    'han_rn_gate_skip_sched1000_g4': _explore(
        '--config.model.rn_sum_skip=true', '--config.model.rn_gate=true',
        '--config.questions_per_image=4',
        '--config.fraction_schedule=((1000,1.0),)'),
    'han_rn_skip_mean_detach_sched1000': _explore(
        '--config.model.rn_sum_skip=true', '--config.model.rn_pool=mean',
        '--config.model.rn_detach=true',
        '--config.fraction_schedule=((1000,1.0),)'),
    'han_rn_skip_mean_sched1000': _explore(
        '--config.model.rn_sum_skip=true', '--config.model.rn_pool=mean',
        '--config.fraction_schedule=((1000,1.0),)'),
    # HAN+RN's 1,000-step all-cells start, continued with other settings
    # (START: the run and step they copy; same root, same seed).
    'from1000_rn_mean': _explore(
        '--config.fraction_schedule=((1000,1.0),)',
        '--config.model.rn_pool=mean'),
    'from1000_mean_lr5e4': _explore(
        '--config.fraction_schedule=((1000,1.0),)',
        '--config.model.rn_pool=mean',
        '--config.optimizer.learning_rate=5e-4'),
    'from1000_sum_lr5e4': _explore(
        '--config.fraction_schedule=((1000,1.0),)',
        '--config.optimizer.learning_rate=5e-4'),
    'rn_mean': _explore(
        '--config.model_name=rn', '--config.model.rn_pool=mean'),
    # The defaults of 2026-11-30 (`make demo`: the fast recipe with 4
    # questions per image and the bootstrapping departures) and their
    # controls at the same recipe and budget (run with --steps=5000).
    'demo_han_rn': (_MEAN_RN, []),
    'demo_han_rn_faithful': (_SOC + ':faithful', []),
    'demo_rn': ('configs/sort_of_clevr_rn.py', []),
    'demo_sum': ('configs/sort_of_clevr_sum.py', []),
    'demo_han_sum': ('configs/sort_of_clevr_han_sum.py', []),
    'demo_adahan_rn': ('configs/sort_of_clevr_adahan_rn.py', []),
    # The demo with all cells (the sum path alone) for 3,000 of its 5,000
    # steps, as the spatial set needed 8,000 of 12,000.
    'demo_han_rn_all3000': (_MEAN_RN, [_ALL3000]),
    # HAN at AdaHAN's mean cell count there (12.5%: 3 of 25 cells).
    'demo_han_rn_k3': (_MEAN_RN, ['--config.model.fraction=0.12']),
    # A finer grid: three stride-2 convolutions make 10x10 cells of the
    # 75 px image (7.5 px against 15), so fewer objects share a cell.
    'demo_sum_grid10': ('configs/sort_of_clevr_sum.py',
                        [_GRID10]),
    # HAN on it keeping 6 of its 100 cells, as the demo keeps 6 of 25.
    'demo_han_rn_grid10': (_MEAN_RN, [_GRID10,
                                  '--config.model.fraction=0.06']),
    # ... keeping 12 of the 100 cells (144 pairs), which should hold the
    # asked object's ~5 cells more often than 6 do.
    'demo_han_rn_grid10_k12': (_MEAN_RN, [_GRID10,
                                      '--config.model.fraction=0.12']),
    # ... and on all cells (the sum path alone) for 3,000 of the 5,000
    # steps, as the spatial set needed 8,000 of 12,000: the control's
    # scene features are learned by then.
    'demo_han_rn_grid10_k12_all3000': (_MEAN_RN, [
        _GRID10, '--config.model.fraction=0.12', _ALL3000]),
    # ... with the skip summing every cell (rn_sum_cells='all'): the O(100)
    # sum sees whole objects, the RN's 144 pairs the kept cells.
    'demo_han_rn_grid10_k12_sumall': (_MEAN_RN, [
        _GRID10,
        '--config.model.fraction=0.12',
        '--config.model.rn_sum_cells=all']),
    # ... and no gradient from the RN into the fused cells (rn_detach): does
    # the RN's joining slow the fusion's learning?
    'demo_han_rn_grid10_k12_sumall_detach': (_MEAN_RN, [
        _GRID10,
        '--config.model.fraction=0.12',
        '--config.model.rn_sum_cells=all', '--config.model.rn_detach=true']),
    # ... and the RN read through head weights that start at zero
    # (rn_head_zero): until step 1,000 the same function, parameters and
    # data as demo_sum_grid10, and after it the control plus what the RN's
    # 144 pairs add, from nothing: does the RN's joining itself slow it?
    'demo_han_rn_grid10_k12_sumall_hz': (_MEAN_RN, [
        _GRID10,
        '--config.model.fraction=0.12',
        '--config.model.rn_sum_cells=all', '--config.model.rn_head_zero=true']),
    # The RN in all of the above with the sum skip is dead by step 3,000
    # (experiments/rn_knockout.py: its output is zero). With the skip
    # summing every cell, every cell's norm learns through the sum from the
    # first step, so the all-cells phase is not needed: the RN trains on
    # the kept cells from step 0, beside the sum, as the paper's HAN+RN
    # (whose RN lives) does.
    'demo_han_rn_grid10_rn0': (_MEAN_RN + ',grid=10', [
        '--config.fraction_schedule=()', '--config.model.rn_head_zero=false',
        '--config.checkpoint_every_steps=500']),
    # ... its RN lives (84% of its units at step 1,000) but its mean over
    # 36 pairs is 1/140 of the sum's scale: the RN paper's sum over pairs.
    'demo_han_rn_grid10_rn0_sumpool': (_MEAN_RN + ',grid=10', _LIVE_RN),
    # On the generator's true objects (experiments/oracle_rn.py) the RN
    # learns closest and furthest in 5,000 steps only when g also reads each
    # pair's (dx, dy, distance) (rn_pair_geometry); without it, it stays at
    # the floor a count of shapes gives. The live RN above with it:
    'demo_han_rn_grid10_rn0_sumpool_geo': (_MEAN_RN + ',grid=10',
                                           _LIVE_RN + [_GEOMETRY]),
    # ... keeping 12 of the 100 cells, so that more of the six objects
    # are among the RN's cells.
    'demo_han_rn_grid10_k12_rn0_sumpool_geo': (_MEAN_RN + ',grid=10', _LIVE_RN + [
        _GEOMETRY, '--config.model.fraction=0.12']),
    # ... keeping 6 cells no two of which are neighbours (han_separation):
    # one cell an object, as the RN on the true objects had, where the
    # top-k keeps several cells of one object (closest stayed at its floor).
    'demo_han_rn_grid10_rn0_sumpool_geo_sep1': (_MEAN_RN + ',grid=10', _LIVE_RN + [
        _GEOMETRY, '--config.model.han_separation=1']),
    # ... with the RN's pairs pooled by a max instead of a sum
    # (rn_pool='max'): on the true objects, closest 94.3 at step 2,000
    # against the sum's 73.4 (seed 0): a nearest or furthest object is a
    # min or max over pairs.
    'demo_han_rn_grid10_rn0_maxpool_geo': (_MEAN_RN + ',grid=10', _LIVE_RN + [
        _GEOMETRY, '--config.model.rn_pool=max']),
    # The demo's 5x5 cells (an object in one or two cells) with the same
    # live RN, pair geometry and max over pairs.
    'demo_han_rn_rn0_maxpool_geo': (_MEAN_RN, _LIVE_RN + [
        _GEOMETRY, '--config.model.rn_pool=max']),
    # ... and with the sum over pairs, as the max's control.
    'demo_han_rn_rn0_sumpool_geo': (_MEAN_RN, _LIVE_RN + [_GEOMETRY]),
    # ... with the fusion's first layer scaled by the question (FiLM,
    # model.fusion_film): a cell's norm and features can be its content
    # times the colour asked, where the concatenation adds the two.
    'demo_han_rn_rn0_sumpool_geo_film': (_MEAN_RN, _LIVE_RN + [
        _GEOMETRY, '--config.model.fusion_film=true']),
    # ... with a wider CNN, 24-32-64-128 instead of 4 x 24: a 5x5 cell sees
    # 31 px, parts of up to three objects, and the RN CNN's 24 channels
    # must hold their colours, shapes and places within the cell (the RN
    # paper's own Sort-of-CLEVR CNN ends at 256).
    'demo_han_rn_rn0_sumpool_geo_cnn128': (_MEAN_RN, _LIVE_RN + [
        _GEOMETRY, '--config.model.cnn_features=(24,32,64,128)']),
    # ... with the kept cells also carrying their raw (x, y) into the RN
    # and the sum (coords='both'; the fusion keeps them, as the paper's):
    # on 10x10 cells shape and count reached 100 while horizontal and
    # vertical stayed at 67-70, and the RN on the true objects, which
    # reads positions directly, learns them by step 1,000.
    'demo_han_rn_rn0_sumpool_geo_xy': (_MEAN_RN, _LIVE_RN + [
        _GEOMETRY, '--config.model.coords=both']),
    # ... keeping 12 of the 25 cells (144 pairs, `:frac=0.5`): 6 cells
    # hold 75% of the objects a closest, furthest or count question needs,
    # and closest stayed on its floor even where shape, position and count
    # were learned (seed 1).
    'demo_han_rn_rn0_sumpool_geo_k12': (_MEAN_RN, _LIVE_RN + [
        _GEOMETRY, '--config.model.fraction=0.5']),
    # ... with the full learning rate until the last fifth of the steps
    # (warmup_stable_cosine; --steps=8000 is make demo since 2026-12-01,
    # night, about 14-15 min; --steps=6000 before it): seed 0
    # learned to read the asked object between steps 4,000 and 5,000 when
    # its cosine ran over 10,000 steps, and never under the 5,000-step
    # cosine, whose rate is near zero by then.
    'demo_han_rn_rn0_sumpool_geo_wsd': (_MEAN_RN, _LIVE_RN + [
        _GEOMETRY, _WSD]),
    # ... with a max over pairs on that schedule: on the true objects the
    # max answered closest by step 2,000 (94.3 against the sum's 73.4);
    # in the full model under the 5,000-step cosine it did not, but there
    # two seeds of three never learned to read the asked object at all.
    'demo_han_rn_rn0_maxpool_geo_wsd': (_MEAN_RN, _LIVE_RN + [
        _GEOMETRY, '--config.model.rn_pool=max',
        _WSD]),
    # ... with the cells' (x, y) appended after the selection instead of
    # before the fusion (coords='kept'): the norm cannot follow position.
    # Seed 1 of the 8,000-step default learned horizontal and vertical by
    # step 2,000 while its selection stalled (the asked object kept 49%).
    'demo_han_rn_rn0_sumpool_geo_wsd_kept': (_MEAN_RN, _LIVE_RN + [
        _GEOMETRY, _WSD,
        '--config.model.coords=kept']),
    # ... with a train-time selection that explores (model.han_explore:
    # a Gumbel top-k on the standardised norms at temperature 0.5, which
    # keeps about 70% of the top 6 when the norms do not yet separate the
    # cells): a cell the paper's top-k never keeps never learns, and a seed
    # whose norms settle on the wrong cells early may never read. Seeds
    # 0-3: 90.0, 91.8, 90.4, 72.1 (the top-k: 91.2, 64.0, 90.4, 72.8).
    'demo_han_rn_rn0_sumpool_geo_wsd_explore': (_MEAN_RN, _LIVE_RN + [
        _GEOMETRY, _WSD,
        '--config.model.han_explore=0.5']),
    # ... with the fusion's first layer scaled by the question (FiLM) on
    # that schedule: seed 3 keeps the asked object 73-81% of the time under
    # either selection and never reads it (shape 70-75), so the norm binds
    # the colour asked to a cell and the fused features do not; FiLM's
    # product of the two may. Under the 5,000-step cosine FiLM was not a
    # difference, but no seed read there.
    'demo_han_rn_rn0_sumpool_geo_wsd_film': (_MEAN_RN, _LIVE_RN + [
        _GEOMETRY, _WSD,
        '--config.model.fusion_film=true']),
    # ... with FiLM and the exploring selection together: FiLM made seed 3
    # read (which exploring did not) and exploring unstalled seed 1's
    # selection; FiLM's own failure, seed 4, is a stalled selection.
    # Seeds 3, 4, 1 (each failing under the default or one remedy): 92.3,
    # 89.3, 91.2, all reading.
    'demo_han_rn_rn0_sumpool_geo_wsd_film_explore': (_MEAN_RN, _LIVE_RN + [
        _GEOMETRY, _WSD,
        '--config.model.fusion_film=true', '--config.model.han_explore=0.5']),
    # The all-cells sum control of demo_han_rn_rn0_sumpool_geo_wsd, on the
    # same schedule and budget.
    'demo_sum_wsd': ('configs/sort_of_clevr_sum.py', [
        _WSD]),
    # ... and with FiLM, the control of demo_han_rn_rn0_sumpool_geo_wsd_film.
    'demo_sum_wsd_film': ('configs/sort_of_clevr_sum.py', [
        _WSD,
        '--config.model.fusion_film=true']),
    # The all-cells RN on make demo's recipe: demo_han_rn_rn0_sumpool_geo_wsd
    # keeping every cell (fraction 1.0: 625 pairs a question against 36),
    # the control the "within 1 point of the all-cells RN" needs.
    'demo_rn_rn0_sumpool_geo_wsd': (_MEAN_RN, _LIVE_RN + [
        _GEOMETRY, _WSD,
        '--config.model.fraction=1.0']),
    # The `:grid=10` preset as it is: 6 cells, the skip summing every cell,
    # the RN through head weights from zero, all cells for 1,000 steps.
    'demo_han_rn_grid10_preset': (_MEAN_RN + ',grid=10', []),
    # HAN+sum keeping a quarter of the 100 cells: the paper's claim that a
    # quarter loses nothing, against demo_sum_grid10 (no RN to pay for).
    'demo_han_sum_grid10': ('configs/sort_of_clevr_han_sum.py',
                            [_GRID10]),
    'demo_han_sum_grid10_all3000': ('configs/sort_of_clevr_han_sum.py', [
        _GRID10, _ALL3000]),
    # ... keeping half of the cells: more of each object's cells
    # (asked_cover) at twice the quarter's cells.
    'demo_han_sum_grid10_all3000_half': ('configs/sort_of_clevr_han_sum.py', [
        _GRID10, _ALL3000, '--config.model.fraction=0.5']),
    # The spatial set (8x8 cells, the RN paper's training).
    'spatial_han_sum': ('configs/spatial_han_sum.py', []),
    'spatial_sum': ('configs/spatial_han_sum.py',
                    ['--config.model_name=sum']),
    'spatial_han_sum_sched1000': ('configs/spatial_han_sum.py', [
        '--config.fraction_schedule=((1000,1.0),)']),
    # All cells until the norms rank the asked square (about step 8,000 in
    # the sum control), then a quarter: it continues the control's own
    # step-8,000 checkpoint (START), as `sum` is han_sum at fraction 1.
    'spatial_han_sum_sched8000': ('configs/spatial_han_sum.py:all_cells=8000',
                                  []),
}


START = {name: ('han_rn_sched1000', 1000) for name in (
    'from1000_rn_mean', 'from1000_mean_lr5e4', 'from1000_sum_lr5e4')}
START['spatial_han_sum_sched8000'] = ('spatial_sum', 8000)
# HAN+sum at fraction 1 is the sum control, parameter for parameter.
START['demo_han_sum_grid10_all3000'] = ('demo_sum_grid10', 3000)
START['demo_han_sum_grid10_all3000_half'] = ('demo_sum_grid10', 3000)


def workdir(root: str, variant: str, seed: int) -> str:
  return os.path.join(root, f'{variant}_s{seed}')


def last_eval(path: str, step: int | None = None) -> dict | None:
  """The run's last eval report (or its eval at `step`), or None."""
  history = os.path.join(path, 'eval_history.jsonl')
  if not os.path.exists(history):
    return None
  with open(history) as f:
    lines = [json.loads(line) for line in f if line.strip()]
  if step is not None:
    lines = [line for line in lines if line['step'] == step]
  return lines[-1] if lines else None


# Times a stalled training is killed and resumed before the script stops.
RESTARTS = 3


def run(root: str, variant: str, seed: int, steps: int, eval_every: int,
        extra: list[str], reevaluate: bool = False,
        stall_s: float = 180.0) -> None:
  """Trains one variant and seed unless it has already reached `steps`;
  with `reevaluate`, evaluates a finished run's last checkpoint again (a
  new line in its eval history, with the metrics of today's code). A
  training whose log stops growing for `stall_s` seconds is killed and
  resumed from its last checkpoint (up to RESTARTS times)."""
  path = workdir(root, variant, seed)
  done = last_eval(path)
  if reevaluate:
    if done is None:
      print(f'{path}: no run to evaluate', flush=True)
      return
    steps = done['step']
  elif done is not None and done['step'] >= steps:
    print(f'{path}: done ({done["step"]} steps)', flush=True)
    return
  config, overrides = VARIANTS[variant]
  if variant in START and not os.path.exists(path):
    start_from(workdir(root, START[variant][0], seed), START[variant][1],
               path)
  command = [sys.executable, '-m', 'hardattn.main', f'--config={config}',
             f'--workdir={path}', f'--config.seed={seed}',
             f'--config.data_seed={seed}',
             f'--config.num_train_steps={steps}',
             f'--config.eval_every_steps={eval_every}',
             f'--config.checkpoint_every_steps={eval_every}',
             *overrides, *extra]
  os.makedirs(path, exist_ok=True)
  print(' '.join(command), flush=True)
  start = time.time()
  for restart in range(RESTARTS + 1):
    if _train(command, os.path.join(path, 'log.txt'), stall_s):
      break
    print(f'{path}: no log line for {stall_s:.0f} s (on this 2-core VM XLA '
          "CPU's all-reduce has hung between its two devices): killed"
          + (', resuming from its last checkpoint' if restart < RESTARTS
             else ''), flush=True)
  else:
    sys.exit(f'{path}: stalled {RESTARTS + 1} times; see its log.txt')
  print(f'{path}: {time.time() - start:.0f} s', flush=True)


def _train(command: list[str], log_path: str, stall_s: float) -> bool:
  """Runs a training, appending to log_path; kills it when the log has not
  grown for stall_s seconds. True when it finished, False when killed;
  raises CalledProcessError when it failed."""
  with open(log_path, 'a') as log:
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    started = time.time()
    while True:
      try:
        code = process.wait(timeout=min(30.0, stall_s))
      except subprocess.TimeoutExpired:
        if time.time() - max(started, os.path.getmtime(log_path)) > stall_s:
          process.kill()
          process.wait()
          return False
        continue
      if code:
        raise subprocess.CalledProcessError(code, command)
      return True


def start_from(source: str, step: int, path: str) -> None:
  """A new workdir holding `source`'s checkpoint `step`, its assets and
  its evals up to it, so training resumes there with other settings."""
  checkpoint = os.path.join(source, 'checkpoints', str(step))
  if not os.path.isdir(checkpoint):
    sys.exit(f'{checkpoint} is missing: run its variant first.')
  shutil.copytree(checkpoint, os.path.join(path, 'checkpoints', str(step)))
  for name in ('config.json', 'dataset.json'):
    shutil.copy(os.path.join(source, name), path)
  with open(os.path.join(source, 'eval_history.jsonl')) as f:
    kept = [(line, json.loads(line)) for line in f]
  kept = [(line, r) for line, r in kept if r['step'] <= step]
  with open(os.path.join(path, 'eval_history.jsonl'), 'w') as f:
    f.writelines(line for line, _ in kept)
  # The copied steps' train time counts in the new run's wall clock.
  at_step = [r for _, r in kept if r['step'] == step]
  if at_step:
    with open(os.path.join(path, 'wall_clock.json'), 'w') as f:
      json.dump({'train_wall_clock_s': at_step[0]['train_wall_clock_s']}, f)


def _stat(values: list[float], scale: float = 100.0, digits: int = 1) -> str:
  values = [v * scale for v in values]
  mean = sum(values) / len(values)
  if len(values) == 1:
    return f'{mean:.{digits}f}'
  low, high = min(values), max(values)
  return f'{mean:.{digits}f} ({low:.{digits}f}..{high:.{digits}f})'


ATTENTION_COLUMNS = ('precision', 'object_cells', 'asked_recall',
                     'asked_cover', 'asked_recall_at_25', 'relevant_recall',
                     'asked_kept_accuracy', 'asked_missed_accuracy')


def table(root: str, variants: list[str], seeds: list[int],
          step: int | None = None) -> str:
  """The markdown table of the variants' final evals (or those at `step`):
  the mean over seeds, and (min..max) where there are several."""
  rows = []
  groups = None
  for variant in variants:
    reports = [r for r in (last_eval(workdir(root, variant, s), step)
                           for s in seeds) if r is not None]
    if not reports:
      continue
    if groups is None:
      groups = [g for g, _ in reports[0]['table']]
    steps = sorted({r['step'] for r in reports})  # several: unfinished runs
    cells = [variant, str(len(reports)), '/'.join(f'{n:,}' for n in steps),
             _stat([r['train_wall_clock_s'] for r in reports], 1 / 60)]
    cells += [_stat([dict(r['table'])[g] for r in reports]) for g in groups]
    cells.append(_stat([r['fraction_kept'] for r in reports], digits=0))
    for column in ATTENTION_COLUMNS:
      values = [r.get('attention', {}).get(column) for r in reports]
      cells.append('-' if None in values else _stat(values))
    rows.append('| ' + ' | '.join(cells) + ' |')
  if groups is None:
    return '(no finished runs)'
  header = (['variant', 'seeds', 'steps', 'train min'] + groups +
            ['cells kept %'] + list(ATTENTION_COLUMNS))
  return '\n'.join(['| ' + ' | '.join(header) + ' |',
                    '|' + '---|' * len(header)] + rows)


def main(argv):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--root', default='workdirs/ablation')
  parser.add_argument('--variants', required=True,
                      help=f'comma-separated, of: {", ".join(VARIANTS)}')
  parser.add_argument('--seeds', default='0')
  parser.add_argument('--steps', type=int, default=3000)
  parser.add_argument('--eval_every', type=int, default=1000)
  parser.add_argument('--report', action='store_true',
                      help='only print the table of finished runs')
  parser.add_argument('--reevaluate', action='store_true',
                      help="evaluate finished runs' last checkpoints again")
  parser.add_argument('--step', type=int, default=None,
                      help='the table at this eval step, not the last')
  parser.add_argument('--stall_minutes', type=float, default=3.0,
                      help='kill and resume a training whose log has not '
                      'grown for this long')
  args, extra = parser.parse_known_args(argv)
  variants = args.variants.split(',')
  unknown = [v for v in variants if v not in VARIANTS]
  if unknown:
    parser.error(f'unknown variants {unknown}; known: {", ".join(VARIANTS)}')
  seeds = [int(s) for s in args.seeds.split(',')]
  if not args.report:
    for seed in seeds:
      for variant in variants:
        run(args.root, variant, seed, args.steps, args.eval_every, extra,
            args.reevaluate, 60 * args.stall_minutes)
  print(table(args.root, variants, seeds, args.step))


if __name__ == '__main__':
  os.environ.setdefault(
      'XLA_FLAGS', '--xla_force_host_platform_device_count=2 '
      '--xla_cpu_collective_call_terminate_timeout_seconds=600')
  main(sys.argv[1:])
