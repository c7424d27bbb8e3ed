"""Multi-process training: 2 processes on loopback, 2 CPU devices each."""

import json
import os
import re
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


def _params(workdir, step):
  return checkpointing.read_params(os.path.join(workdir, 'checkpoints'), step)


def test_two_processes_train_like_one_with_the_same_global_batch(tmp_path):
  overrides = dict(data_dir=str(tmp_path / 'data'), num_train_steps=12,
                   checkpoint_every_steps=6, eval_every_steps=12,
                   log_every_steps=6, num_pictures=2)
  config = cli.load_config(os.path.join(REPO, 'configs', 'test.py'))
  config.update(overrides)
  single = str(tmp_path / 'single')
  report = train.train_and_evaluate(config, single)  # 1 process, 4 devices

  workdir = str(tmp_path / 'two')
  address = f'127.0.0.1:{_free_port()}'
  xla_flags = re.sub(r'--xla_force_host_platform_device_count=\d+', '',
                     os.environ.get('XLA_FLAGS', ''))
  env = dict(os.environ, JAX_PLATFORMS='cpu', XLA_FLAGS=(
      xla_flags + ' --xla_force_host_platform_device_count=2'))
  procs = [subprocess.Popen(
      [sys.executable, '-m', 'hardattn.main', '--config=configs/test.py',
       f'--workdir={workdir}', f'--coordinator_address={address}',
       '--num_processes=2', f'--process_id={i}',
       *(f'--config.{k}={v}' for k, v in overrides.items())],
      cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
      text=True) for i in range(2)]
  logs = [p.communicate(timeout=300)[1] for p in procs]
  for p, log in zip(procs, logs):
    assert p.returncode == 0, log
  assert 'on 4 cpu device(s), process 1 of 2' in logs[1], logs[1]

  # Equal to the single process: same global batches, same all-reduced
  # gradients; the cross-process all-reduce may sum in another order.
  want, got = _params(single, 12), _params(workdir, 12)
  for x, y in zip(jax.tree.leaves(want), jax.tree.leaves(got)):
    np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
  with open(os.path.join(workdir, 'eval_report.json')) as f:
    two = json.load(f)
  assert two['num_examples'] == report['num_examples']
  assert abs(two['accuracy'] - report['accuracy']) <= 1 / two['num_examples']
  # Only process 0 writes summaries and pictures; both wrote checkpoints.
  assert len([f for f in os.listdir(workdir) if 'tfevents' in f]) == 1
  assert os.listdir(os.path.join(workdir, 'pictures')) == [
      'attention_step_00000012.png']
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints', '12', 'data'))
                ) == ['commit_success.txt', 'process_0-of-2.json',
                      'process_1-of-2.json']
