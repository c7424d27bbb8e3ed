"""Multi-process training: 2 processes on loopback, 2 CPU devices each."""

import json
import os
import re
import signal
import socket
import subprocess
import sys

import jax
import numpy as np

from hardattn import checkpointing
from hardattn import cli
from hardattn import train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def test_two_processes_train_like_one_with_the_same_global_batch(tmp_path):
  """And SIGTERM to one of them stops both after the same step; resumed,
  they end where one uninterrupted process does."""
  overrides = dict(data_dir=str(tmp_path / 'data'), num_train_steps=12,
                   checkpoint_every_steps=6, eval_every_steps=12,
                   log_every_steps=6, num_pictures=2)
  config = cli.load_config(os.path.join(REPO, 'configs', 'test.py'))
  config.update(overrides)
  single = str(tmp_path / 'single')
  report = train.train_and_evaluate(config, single)  # 1 process, 4 devices

  workdir = str(tmp_path / 'two')
  xla_flags = re.sub(r'--xla_force_host_platform_device_count=\d+', '',
                     os.environ.get('XLA_FLAGS', ''))
  env = dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS=(
      xla_flags + ' --xla_force_host_platform_device_count=2'))

  def start(address, i, log):
    return subprocess.Popen(
        [sys.executable, '-m', 'hardattn.main', '--config=configs/test.py',
         f'--workdir={workdir}', f'--coordinator_address={address}',
         '--num_processes=2', f'--process_id={i}',
         *(f'--config.{k}={v}' for k, v in overrides.items())],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)

  # SIGTERM to process 1 alone, while its first step compiles: both
  # processes stop after the same step and save one checkpoint.
  address = f'127.0.0.1:{_free_port()}'
  with open(tmp_path / 'log0', 'w') as log0:
    procs = [start(address, 0, log0), start(address, 1, subprocess.PIPE)]
    lines = []
    for line in procs[1].stderr:
      lines.append(line)
      if 'Training from step 0' in line:
        procs[1].send_signal(signal.SIGTERM)
        break
    lines.extend(procs[1].stderr)
    assert [p.wait(timeout=300) for p in procs] == [0, 0], ''.join(lines)
  stopped = re.findall(r'Stopped by SIGTERM after step (\d+)',
                       (tmp_path / 'log0').read_text() + ''.join(lines))
  assert len(stopped) == 2 and stopped[0] == stopped[1], stopped
  assert os.listdir(os.path.join(workdir, 'checkpoints')) == [stopped[0]]

  address = f'127.0.0.1:{_free_port()}'
  with open(tmp_path / 'log0', 'w') as log0, open(tmp_path / 'log1',
                                                  'w') as log1:
    procs = [start(address, 0, log0), start(address, 1, log1)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0], (
        (tmp_path / 'log0').read_text())
  logs = [(tmp_path / f'log{i}').read_text() for i in range(2)]
  assert 'on 4 cpu device(s), process 1 of 2' in logs[1], logs[1]
  assert f'Restored checkpoint step {stopped[0]}' in logs[0]

  # Equal to the single process: same global batches, same all-reduced
  # gradients; the cross-process all-reduce may sum in another order.
  want = checkpointing.read_params(single, 12)
  got = checkpointing.read_params(workdir, 12)
  for x, y in zip(jax.tree.leaves(want), jax.tree.leaves(got)):
    np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
  with open(os.path.join(workdir, 'eval_report.json')) as f:
    two = json.load(f)
  assert two['num_examples'] == report['num_examples']
  assert abs(two['accuracy'] - report['accuracy']) <= 1 / two['num_examples']
  # Only process 0 writes summaries and pictures; both wrote checkpoints.
  # (one event file per run: process 0's).
  assert len([f for f in os.listdir(workdir) if 'tfevents' in f]) == 2
  assert os.listdir(os.path.join(workdir, 'pictures')) == [
      'attention_step_00000012.png']
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints', '12', 'data'))
                ) == ['commit_success.txt', 'process_0-of-2.json',
                      'process_1-of-2.json']
