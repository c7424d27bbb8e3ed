"""benchmarks/peer_rn.py without torch or the reference's clone.

Its one-line errors when either is missing, and the arithmetic of its
report (medians over rounds, ranges, the race's ratio, GFLOP/s against the
peak) on given numbers. The race itself needs both and is not run here.
"""

import importlib.util
import os
import stat
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, 'benchmarks', 'peer_rn.py')
_spec = importlib.util.spec_from_file_location('peer_rn', SCRIPT)
peer_rn = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(peer_rn)

REF, OURS = peer_rn.REFERENCE, peer_rn.HARDATTN
MATCHED, PAPER = peer_rn.HARDATTN_MODELS['matched'], peer_rn.HARDATTN_MODELS[
    'paper']


def run_script(*args):
  return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True,
                        text=True, timeout=60, cwd=REPO)


def assert_one_line_error(result, *fragments):
  assert result.returncode != 0
  assert result.stdout == ''
  assert 'Traceback' not in result.stderr
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1, result.stderr
  for fragment in fragments:
    assert fragment in lines[0]


@pytest.fixture
def fake_clone(tmp_path):
  clone = tmp_path / 'relational-networks'
  clone.mkdir()
  (clone / 'model.py').write_text('class RN(BasicModel):\n  pass\n')
  return clone


def test_missing_peer_repo_says_what_to_clone(tmp_path):
  clone = 'git clone https://github.com/kimhc6028/relational-networks'
  assert_one_line_error(run_script(), '--peer_repo=PATH is required', clone)
  assert_one_line_error(run_script(f'--peer_repo={tmp_path / "nothing"}'),
                        'has no model.py', clone)
  (tmp_path / 'model.py').write_text('class CNN_MLP:\n  pass\n')
  assert_one_line_error(run_script(f'--peer_repo={tmp_path}'),
                        "reference's RN class", clone)


def test_missing_torch_says_what_to_install(tmp_path, fake_clone):
  no_torch = tmp_path / 'python'
  no_torch.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module "
                      "named 'torch'\" >&2\nexit 1\n")
  no_torch.chmod(no_torch.stat().st_mode | stat.S_IXUSR)
  assert_one_line_error(
      run_script(f'--peer_repo={fake_clone}', f'--peer_python={no_torch}'),
      f'--peer_python={no_torch} cannot import torch',
      "No module named 'torch'", f'{no_torch} -m pip install torch numpy')
  missing = tmp_path / 'no_such_python'
  assert_one_line_error(
      run_script(f'--peer_repo={fake_clone}', f'--peer_python={missing}'),
      'does not run', 'pip install torch')


def test_summarize_takes_median_and_range_over_rounds():
  rows = peer_rn.summarize({
      (REF, 'RN', '1 thread'): [10.0, 30.0, 20.0],
      (REF, 'RN', '2 threads'): [5.0, None, 7.0, 6.0],
      (OURS, MATCHED, '1 XLA device'): [None, None],
  })
  assert [(r.setting, r.median, r.low, r.high, r.rounds, r.failed)
          for r in rows] == [('1 thread', 20.0, 10.0, 30.0, 3, 0),
                             ('2 threads', 6.0, 5.0, 7.0, 3, 1),
                             ('1 XLA device', None, None, None, 0, 2)]


def test_race_ratio_is_best_matched_median_over_best_reference_median():
  rows = peer_rn.summarize({
      (REF, 'RN', '1 thread'): [50.0, 40.0, 60.0],  # median 50
      (REF, 'RN', '2 threads'): [80.0, 70.0, 75.0],  # median 75: best
      (OURS, MATCHED, '1 XLA device'): [100.0, 90.0, 95.0],  # 95
      (OURS, MATCHED, '2 XLA devices'): [150.0, 140.0, 160.0],  # 150: best
      (OURS, PAPER, '2 XLA devices'): [1000.0],  # not the race's model
  })
  ratio, ours, theirs = peer_rn.race_ratio(rows)
  assert ratio == pytest.approx(150.0 / 75.0)
  assert (ours.model, ours.setting) == (MATCHED, '2 XLA devices')
  assert theirs.setting == '2 threads'
  line = peer_rn.ratio_line(rows)
  assert line.startswith('**hardattn / reference: 2.00x**')
  assert '2 XLA devices: 150 ex/s' in line and '2 threads: 75.0 ex/s' in line


def test_no_ratio_when_a_side_failed():
  rows = peer_rn.summarize({(REF, 'RN', '1 thread'): [None],
                            (OURS, MATCHED, '1 XLA device'): [10.0]})
  assert peer_rn.race_ratio(rows) is None
  assert 'No ratio' in peer_rn.ratio_line(rows)


def test_speed_table_rates_gflops_and_fraction_of_peak():
  rows = peer_rn.summarize({
      (REF, 'RN', '1 thread'): [64.0, 60.0, 70.0],
      (OURS, MATCHED, '2 XLA devices'): [128.0, None, 120.0, 130.0],
      (OURS, PAPER, '1 XLA device'): [None],
  })
  flops = {(REF, 'RN'): 0.5e9, (OURS, MATCHED): 0.25e9}
  lines = peer_rn.speed_table(rows, flops, peak_gflops=64.0).splitlines()
  assert lines[0].startswith('| side | model | setting | median ex/s |')
  # 64 ex/s * 0.5 GFLOP = 32 GFLOP/s = 50% of 64; 128 * 0.25 = 32 too.
  assert lines[2] == (f'| {REF} | RN | 1 thread | 64.0 | (60.0..70.0) | '
                      '32.0 | 50% |')
  assert lines[3] == (f'| {OURS} | {MATCHED} | 2 XLA devices | 128 | '
                      '(120..130), 1 failed | 32.0 | 50% |')
  assert lines[4] == (f'| {OURS} | {PAPER} | 1 XLA device | failed | '
                      '(1 of 1 rounds) | - | - |')
  no_peak = peer_rn.speed_table(rows, flops, None).splitlines()
  assert no_peak[2].endswith('| 32.0 | - |')


def test_sizes_table():
  table = peer_rn.sizes_table({
      (REF, 'RN'): {'params': 366194, 'flops_per_example': 824141184.0},
      (OURS, MATCHED): {'params': 375314, 'flops_per_example': 7.6949e8}})
  assert f'| {REF} | RN | 366,194 | 0.824 | FlopCounterMode' in table
  assert f'| {OURS} | {MATCHED} | 375,314 | 0.769 | XLA' in table


def test_each_round_measures_every_setting_in_its_own_process():
  args = peer_rn.parse_args(['--peer_repo=/clone', '--peer_python=/py',
                             '--steps=5', '--warmup=2', '--paper_steps=1'])
  jobs = peer_rn.plan(args)
  assert [j['key'][-1] for j in jobs] == [
      '1 thread', '2 threads', '1 XLA device', '2 XLA devices',
      '1 XLA device', '2 XLA devices', 'peak']
  torch_jobs = [j for j in jobs if j['key'][0] == REF]
  assert all(j['python'] == '/py' and '--worker=torch' in j['argv'] and
             '--peer_repo=/clone' in j['argv'] for j in torch_jobs)
  assert '--threads=2' in torch_jobs[1]['argv']
  paper = [j for j in jobs if j['key'][1:2] == (PAPER,)]
  assert all({'--steps=1', '--warmup=1', '--model=paper'} <= set(j['argv'])
             for j in paper)
  matched = [j for j in jobs if j['key'][1:2] == (MATCHED,)]
  assert {'--steps=5', '--warmup=2', '--devices=2'} <= set(matched[1]['argv'])
  assert all(j['python'] == sys.executable for j in matched + paper)
