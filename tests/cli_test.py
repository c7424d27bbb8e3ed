"""The commands' shared set-up: default data directory and quiet libraries."""

# TFDS's banner is a protected method of its DatasetBuilder.
# pylint: disable=protected-access

import logging
import os
import subprocess
import sys
import types

from absl import logging as absl_logging
import tensorflow_datasets as tfds

from hardattn import cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _record(name, level, msg, pathname='x.py', args=()):
  return logging.LogRecord(name, level, pathname, 1, msg, args, None)


def test_quiet_libraries_drops_only_the_noise():
  quiet = cli.QuietLibraries()
  xla_bridge = _record('jax._src.xla_bridge', logging.INFO,
                       "Unable to initialize backend 'tpu': INTERNAL: "
                       'Failed to open libtpu.so')
  no_info = _record('absl', logging.WARNING, 'Variant folder %s has no %s',
                    '/site-packages/tensorflow_datasets/core/utils/'
                    'file_utils.py', ('/d/clevr/1.0.0', 'dataset_info.json'))
  orbax_info = _record('absl', logging.INFO, 'Saving checkpoint',
                       '/site-packages/orbax/checkpoint/x.py')
  assert not quiet.filter(xla_bridge)
  assert not quiet.filter(no_info)
  assert not quiet.filter(orbax_info)
  kept = [
      # A failing backend JAX reports above INFO, and other JAX lines.
      _record('jax._src.xla_bridge', logging.WARNING,
              'An NVIDIA GPU may be present on this machine, but a '
              'CUDA-enabled jaxlib is not installed.'),
      _record('jax._src.xla_bridge', logging.ERROR,
              "Unable to initialize backend 'cuda': out of memory"),
      # Other TFDS warnings, and an orbax warning.
      _record('absl', logging.WARNING, 'Variant folder %s has invalid '
              'version %s', '/tensorflow_datasets/core/utils/file_utils.py',
              ('/d/x', 'y')),
      _record('absl', logging.WARNING, 'Checkpoint is corrupt',
              '/site-packages/orbax/checkpoint/x.py'),
      # hardattn's own lines.
      _record('absl', logging.INFO, 'Preparing %s', '/hardattn/prepare.py',
              ('clevr',)),
  ]
  assert all(quiet.filter(r) for r in kept)


def _banner(capsys, download_size):
  """What TFDS prints before building a dataset of that download size."""
  info = types.SimpleNamespace(download_size=tfds.core.units.Size(
      download_size), dataset_size=tfds.core.units.Size(0))
  builder = types.SimpleNamespace(info=info, data_dir='/d/x/1.0.0')
  tfds.core.DatasetBuilder._log_download_bytes(builder)
  return capsys.readouterr().out


def test_tfds_banner_only_when_something_is_downloaded(capsys, monkeypatch):
  # Undone after the test: TFDS's method, and the filter on absl's handler.
  builder = tfds.core.DatasetBuilder
  monkeypatch.setattr(builder, '_log_download_bytes',
                      builder._log_download_bytes)
  handler = absl_logging.get_absl_handler()
  monkeypatch.setattr(handler, 'filters', list(handler.filters))
  if not getattr(builder._log_download_bytes, 'hardattn_quiet', False):
    assert 'Unknown size' in _banner(capsys, 0)  # TFDS's own behaviour
  cli.quiet_libraries()
  cli.quiet_libraries()  # a second call changes nothing more
  assert sum(isinstance(f, cli.QuietLibraries) for f in handler.filters) == 1
  assert _banner(capsys, 0) == ''
  shown = _banner(capsys, 18 << 30)
  assert 'Downloading and preparing dataset 18.00 GiB' in shown
  assert '/d/x/1.0.0' in shown


def test_prepare_defaults_to_the_training_data_dir(tmp_path):
  """As config.data_dir: $HARDATTN_DATA_DIR, with no --data_dir; and none of
  the library lines that read as failures."""
  result = subprocess.run(
      [sys.executable, '-m', 'hardattn.prepare', '--dataset=sort_of_clevr',
       '--num_train_images=2', '--num_test_images=1', '--seed=4'],
      cwd=REPO, capture_output=True, text=True, timeout=300,
      env=dict(os.environ, HARDATTN_DATA_DIR=str(tmp_path)))
  assert result.returncode == 0, result.stderr
  path = tmp_path / 'sort_of_clevr' / 'train2_test1_seed4' / '1.0.0'
  assert (path / 'dataset_info.json').exists()
  assert str(path) in result.stdout
  output = result.stdout + result.stderr
  assert 'Unknown size' not in output
  assert 'has no dataset_info.json' not in output


def test_run_script_prints_a_user_error_as_one_line(monkeypatch):
  """experiments/ scripts' entry point: 2 XLA CPU devices unless XLA_FLAGS
  is set, and a UserError as 'error: ...' with a non-zero exit."""
  from hardattn import errors  # pylint: disable=g-import-not-at-top
  monkeypatch.delenv('XLA_FLAGS', raising=False)
  seen = []
  cli.run_script(seen.append, ['--a=1'])
  assert seen == [['--a=1']]
  assert os.environ['XLA_FLAGS'] == '--xla_force_host_platform_device_count=2'
  monkeypatch.setenv('XLA_FLAGS', '--mine')

  def fails(argv):
    raise errors.UserError(f'bad {argv[0]}')

  try:
    cli.run_script(fails, ['--b'])
  except SystemExit as e:
    assert str(e) == 'error: bad --b'
  else:
    raise AssertionError('no exit')
  assert os.environ['XLA_FLAGS'] == '--mine'
