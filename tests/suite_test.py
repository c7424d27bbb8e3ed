"""The suite's own setup (tests/conftest.py): a crashed worker's test."""

import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_TESTS = '''
import os
import signal

def test_crashes_once():
  mark = os.path.join(os.environ['CRASH_MARK_DIR'], 'crashed')
  if not os.path.exists(mark):
    open(mark, 'w').close()
    os.kill(os.getpid(), signal.SIGSEGV)

def test_always_crashes():
  os.kill(os.getpid(), signal.SIGSEGV)

def test_fails():
  raise AssertionError('a plain failure')

def test_passes():
  pass
'''


def test_a_crashed_worker_s_test_runs_once_more_and_a_failure_does_not(
    tmp_path):
  shutil.copy(os.path.join(REPO, 'tests', 'conftest.py'), tmp_path)
  (tmp_path / 'crash_test.py').write_text(_TESTS)
  env = dict(os.environ, CRASH_MARK_DIR=str(tmp_path))
  env.pop('PYTEST_XDIST_WORKER', None)
  result = subprocess.run(
      [sys.executable, '-m', 'pytest', '-q', '-n', '2', '-p',
       'no:cacheprovider', '-rf', str(tmp_path / 'crash_test.py')],
      cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
      check=False)
  out = result.stdout
  assert result.returncode == 1, out + result.stderr
  assert '2 failed, 2 passed, 2 rerun' in out, out
  assert 'FAILED crash_test.py::test_fails' in out
  assert 'FAILED crash_test.py::test_always_crashes' in out
  assert 'worker crashed 1x while running crash_test.py::test_crashes_once' in out
  assert 'worker crashed 2x while running crash_test.py::test_always_crashes' in out
