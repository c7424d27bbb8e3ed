"""Shared pieces of the command-line programs (main, export, compare...)."""

import importlib.util
import logging as logging_std
import os
import sys

from absl import flags
from absl import logging
import ml_collections

from hardattn import errors


class QuietLibraries(logging_std.Filter):
  """Drops library lines that look like failures but are not the user's.

  - orbax's INFO chatter (dozens of lines per checkpoint);
  - JAX's INFO `Unable to initialize backend 'tpu': ... libtpu.so`: JAX
    tries every platform it knows and skips the ones this host lacks (a
    platform that must work, e.g. named in JAX_PLATFORMS, raises instead;
    hardattn.main logs the devices it got);
  - TFDS's WARNING `Variant folder DIR has no dataset_info.json`: a dataset
    not prepared yet, which hardattn prepares or names with the command
    that does.
  Everything else, every ERROR included, passes.
  """

  def filter(self, record: logging_std.LogRecord) -> bool:
    if record.levelno >= logging_std.ERROR:
      return True
    if record.levelno < logging_std.WARNING and '/orbax/' in record.pathname:
      return False
    msg = str(record.msg)
    if (record.levelno < logging_std.WARNING and
        record.name.startswith('jax') and
        msg.startswith('Unable to initialize backend')):
      return False
    return not ('/tensorflow_datasets/' in record.pathname and
                msg.startswith('Variant folder ') and
                msg.endswith(' has no %s'))


def _print_tfds_banner_only_for_downloads() -> None:
  """TFDS prints `Downloading and preparing dataset Unknown size (download:
  Unknown size, ...)` before it builds any dataset, hardattn's included,
  which download nothing: keep it for builders that do download."""
  # TFDS is imported here only: the entry points import it anyway.
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  builder_class = tfds.core.DatasetBuilder
  original = getattr(builder_class, '_log_download_bytes', None)
  if original is None or getattr(original, 'hardattn_quiet', False):
    return  # another TFDS version, or done already

  def log_download_bytes(self) -> None:
    if self.info.download_size:  # a tfds Size, 0 when nothing is fetched
      original(self)

  log_download_bytes.hardattn_quiet = True
  builder_class._log_download_bytes = log_download_bytes  # pylint: disable=protected-access


def quiet_libraries() -> None:
  """What every command calls first: `QuietLibraries` on absl's log handler
  and TFDS's size banner only where something is downloaded."""
  handler = logging.get_absl_handler()
  if not any(isinstance(f, QuietLibraries) for f in handler.filters):
    handler.addFilter(QuietLibraries())
  _print_tfds_banner_only_for_downloads()


def parse_flags(argv: list[str]) -> list[str]:
  """absl flag parsing, with config errors (a typo'd key) as one line."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    sys.exit(f'error: {e}\nPass --helpfull to see the flags.')
  except (AttributeError, KeyError, TypeError, ValueError) as e:
    # ml_collections reports an unknown or mistyped --config.key this way.
    msg = str(e).strip('\'"').replace("\\'", "'").replace('\\n', ' ')
    sys.exit(f'error: bad --config override or config file: {msg}')


def load_config(spec: str) -> ml_collections.ConfigDict:
  """Loads 'path/to/config.py[:arg]' as `--config` would, locked.

  Raises:
    errors.UserError: the file is missing, has no get_config, or rejects
      the argument.
  """
  path, _, arg = spec.partition(':')
  if not os.path.isfile(path):
    raise errors.UserError(f'Config file not found: {path}')
  module_spec = importlib.util.spec_from_file_location('_config', path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  if not hasattr(module, 'get_config'):
    raise errors.UserError(f'{path} has no get_config().')
  try:
    config = module.get_config(arg) if arg else module.get_config()
  except (KeyError, TypeError, ValueError) as e:
    raise errors.UserError(f'Config {spec}: {e}') from e
  config.lock()
  return config


def run_script(main, argv: list[str] | None = None) -> None:
  """Entry point of a script under experiments/: `main(argv)` on 2 XLA CPU
  devices unless XLA_FLAGS is set (as training does here), a UserError
  printed as one line and a non-zero exit instead of a traceback."""
  os.environ.setdefault('XLA_FLAGS',
                        '--xla_force_host_platform_device_count=2')
  try:
    main(sys.argv[1:] if argv is None else argv)
  except errors.UserError as e:
    sys.exit(f'error: {e}')
