"""Test setup: 4 fake CPU devices, so sharded code runs as on 4 chips.

`data_dir` is a fixture: a fresh directory per test module for prepared
datasets, shared by its tests so a dataset is prepared once per module.

Compiled programs are cached on disk for the session (JAX's persistent
compilation cache, in a fresh directory each session), shared by the xdist
workers and the subprocesses the tests start: most tests train the same
tiny configs.
"""

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
