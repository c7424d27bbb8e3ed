"""Preemption and faults: SIGTERM, SIGKILL, corrupt checkpoints, full disk."""

import errno
import json
import logging
import os
import signal
import subprocess
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from hardattn import checkpointing
from hardattn import cli
from hardattn import errors
from hardattn import train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(**overrides):
  config = cli.load_config(os.path.join(REPO, 'configs', 'test.py'))
  for key, value in overrides.items():
    config[key] = value
  return config


def _data_position(workdir, step):
  with open(os.path.join(workdir, 'checkpoints', str(step), 'data',
                         'process_0-of-1.json')) as f:
    return json.load(f)


def _assert_same_params(a, b):
  leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
  assert len(leaves_a) == len(leaves_b)
  for x, y in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(x, y)  # bitwise


class _Run:
  """`python -m hardattn.main` in a subprocess, its log read line by line."""

  def __init__(self, workdir, overrides):
    flags = [f'--config.{k}={v}' for k, v in overrides.items()]
    # The test process's XLA_FLAGS (4 fake devices) carry over.
    env = dict(os.environ, JAX_PLATFORMS='cpu')
    self.proc = subprocess.Popen(
        [sys.executable, '-m', 'hardattn.main', '--config=configs/test.py',
         f'--workdir={workdir}', *flags],
        cwd=REPO, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
        text=True)
    self.log = []

  def wait_for(self, text, after=0):
    """Reads the log until a line (after the first `after`) holds text."""
    for line in self.proc.stderr:
      self.log.append(line)
      if text in line and len(self.log) > after:
        return len(self.log)
    raise AssertionError(f'{text!r} never logged:\n' + ''.join(self.log))

  def finish(self):
    self.log.extend(self.proc.stderr)
    return self.proc.wait(timeout=300)


def test_sigterm_then_sigkill_resume_like_an_uninterrupted_run(tmp_path):
  """SIGTERM saves and exits 0; SIGKILL loses the steps since the last
  checkpoint; the resumed run ends bitwise equal, at the same data position.
  """
  steps = 60
  overrides = dict(data_dir=str(tmp_path / 'data'), num_train_steps=steps,
                   checkpoint_every_steps=20, eval_every_steps=1000,
                   log_every_steps=10, num_pictures=0)
  straight = str(tmp_path / 'straight')
  train.train_and_evaluate(_config(**overrides), straight)

  workdir = str(tmp_path / 'interrupted')
  run = _Run(workdir, overrides)
  run.wait_for('First step')
  run.proc.send_signal(signal.SIGTERM)
  assert run.finish() == 0, ''.join(run.log)
  stopped = [line for line in run.log if 'Stopped by SIGTERM after step' in line]
  assert stopped, ''.join(run.log)
  saved = sorted(int(s) for s in os.listdir(os.path.join(workdir,
                                                         'checkpoints')))
  assert saved[-1] < steps and f'after step {saved[-1]} of' in stopped[0]
  assert not os.path.exists(os.path.join(workdir, 'eval_report.json'))

  run = _Run(workdir, overrides)
  line = run.wait_for('Saving checkpoint step')
  run.wait_for('step ', after=line)  # a progress line after that checkpoint
  run.proc.send_signal(signal.SIGKILL)
  assert run.finish() == -signal.SIGKILL
  assert 'Restored checkpoint step' in ''.join(run.log)

  run = _Run(workdir, overrides)
  assert run.finish() == 0, ''.join(run.log)
  assert 'Restored checkpoint step' in ''.join(run.log)
  _assert_same_params(checkpointing.read_params(straight, steps),
                      checkpointing.read_params(workdir, steps))
  assert _data_position(straight, steps) == _data_position(workdir, steps)
  with open(os.path.join(workdir, 'eval_report.json')) as f:
    assert json.load(f)['step'] == steps


def test_corrupt_latest_checkpoints_are_set_aside(tmp_path, caplog):
  overrides = dict(data_dir=str(tmp_path / 'data'), num_train_steps=30,
                   checkpoint_every_steps=10, eval_every_steps=1000,
                   num_pictures=0)
  workdir = str(tmp_path / 'work')
  train.train_and_evaluate(_config(**overrides), workdir)
  want = checkpointing.read_params(workdir, 30)
  ckpts = os.path.join(workdir, 'checkpoints')
  # Step 30: its arrays truncated mid-write; step 20: its data file lost.
  for root, _, files in os.walk(os.path.join(ckpts, '30', 'state')):
    for name in files:
      if name not in ('commit_success.txt',):
        with open(os.path.join(root, name), 'r+b') as f:
          f.truncate(os.path.getsize(os.path.join(root, name)) // 2)
  os.remove(os.path.join(ckpts, '20', 'data', 'process_0-of-1.json'))
  with caplog.at_level(logging.WARNING):
    report = train.train_and_evaluate(_config(**overrides), workdir)
  warnings = [r.getMessage() for r in caplog.records
              if 'cannot be read' in r.getMessage()]
  assert len(warnings) == 2 and 'step 30' in warnings[0], warnings
  assert sorted(os.listdir(os.path.join(workdir, 'corrupt_checkpoints'))
                ) == ['20', '30']
  assert report['step'] == 30
  # Retrained from step 10:
  _assert_same_params(want, checkpointing.read_params(workdir, 30))


def test_full_disk_is_a_clear_error_before_training(tmp_path, monkeypatch):
  usage = train.shutil.disk_usage(tmp_path)
  monkeypatch.setattr(train.shutil, 'disk_usage',
                      lambda path: usage._replace(free=10 << 20))
  workdir = tmp_path / 'work'
  with pytest.raises(errors.UserError, match='Not enough free disk space'):
    train.train_and_evaluate(_config(data_dir=str(tmp_path / 'data')),
                             str(workdir))
  assert not (workdir / 'checkpoints').exists()


def test_disk_full_while_saving_is_a_clear_error(tmp_path, monkeypatch):
  overrides = dict(data_dir=str(tmp_path / 'data'), num_train_steps=20,
                   checkpoint_every_steps=10, eval_every_steps=1000,
                   num_pictures=0)
  workdir = str(tmp_path / 'work')
  train.train_and_evaluate(_config(**dict(overrides, num_train_steps=10)),
                           workdir)

  def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
  monkeypatch.setattr(ocp.CheckpointManager, 'save', no_space)
  with pytest.raises(errors.UserError, match=(
      'Writing checkpoint step 20 .* No space left on device. The earlier '
      'checkpoints are kept')):
    train.train_and_evaluate(_config(**overrides), workdir)
  assert os.listdir(os.path.join(workdir, 'checkpoints')) == ['10']
