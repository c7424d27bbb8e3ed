"""Shared pieces of the command-line programs (main, export, compare...)."""

import importlib.util
import logging as logging_std
import os
import sys

from absl import flags
import ml_collections

from hardattn import errors


class QuietLibraries(logging_std.Filter):
  """Drops INFO chatter from orbax (dozens of lines per checkpoint)."""

  def filter(self, record: logging_std.LogRecord) -> bool:
    return (record.levelno >= logging_std.WARNING
            or '/orbax/' not in record.pathname)


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
