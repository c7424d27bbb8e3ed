"""Test setup: 4 fake CPU devices, so sharded code runs as on 4 chips.

`data_dir` is a fixture: a fresh directory per test module for prepared
datasets, shared by its tests so a dataset is prepared once per module.

Compiled programs are cached on disk for the session (JAX's persistent
compilation cache, in a fresh directory each session), shared by the xdist
workers and the subprocesses the tests start: most tests train the same
tiny configs.

A test whose xdist worker dies in native code (a signal: no Python
exception, so no traceback to act on) runs once more on a fresh worker, and
the summary names it. CI saw this once (stop 26: a worker died inside
`test_config_trains[sort_of_clevr_smem.py:hops=2]`, which passes alone and
on a warm compilation cache here). A test that fails with an exception is
never rerun, and a second crash of the same test fails it.
"""

import collections
import os
import shutil
import tempfile

import pytest

# The suite compiles hundreds of small programs and runs each a few steps:
# LLVM's optimizations cost more than they save (two compile-bound tests
# took 42 s with them, 27 s without). XLA's own passes still run.
os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                           ' --xla_force_host_platform_device_count=4'
                           ' --xla_backend_optimization_level=0')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES', '0')
_OWN_CACHE = 'JAX_COMPILATION_CACHE_DIR' not in os.environ
if _OWN_CACHE:  # the controller (or a run without xdist): workers inherit it
  os.environ['JAX_COMPILATION_CACHE_DIR'] = tempfile.mkdtemp(
      prefix='hardattn_test_jax_cache_')


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp('data'))


def pytest_unconfigure(config):
  del config
  if _OWN_CACHE:
    shutil.rmtree(os.environ['JAX_COMPILATION_CACHE_DIR'], ignore_errors=True)


_CRASH_RERUNS = 1
_crashes = collections.Counter()


@pytest.hookimpl(optionalhook=True)
def pytest_handlecrashitem(crashitem, report, sched):
  """xdist: reschedules a test whose worker crashed, once."""
  _crashes[crashitem] += 1
  if _crashes[crashitem] <= _CRASH_RERUNS:
    sched.mark_test_pending(crashitem)
    report.outcome = 'rerun'


def pytest_report_teststatus(report):
  if report.outcome == 'rerun':
    return 'rerun', 'R', ('RERUN', {'yellow': True})
  return None


def pytest_terminal_summary(terminalreporter):
  for nodeid, count in sorted(_crashes.items()):
    terminalreporter.write_line(
        f'worker crashed {count}x while running {nodeid} (a native crash; '
        f'see the worker output above); rerun {min(count, _CRASH_RERUNS)}x',
        yellow=True)
