"""Shared pieces of the command-line programs (main, export, prepare)."""

import logging as logging_std
import sys

from absl import flags


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
