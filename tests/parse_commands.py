"""Parses command lines with hardattn programs' own flags, running nothing.

  python tests/parse_commands.py < LINES.json

LINES.json maps a module to the argument lists of `python -m MODULE`
command lines. Each module runs as `__main__` (so flags it defines only
there exist), with `absl.app.run` replaced by a loop that parses each
argument list with the module's own flag parser (config files and
`--config.key=value` overrides included) and does not call its main; its
flags are then removed for the next module. Prints a JSON object: for each
module, one entry per argument list, null where it parsed, else the error.
"""

import json
import runpy
import sys

from absl import app
from absl import flags


def _remove_flags(keep: set[str]) -> None:
  for name in list(flags.FLAGS):
    if name not in keep:
      delattr(flags.FLAGS, name)


def _parse_all(module: str, argvs: list[list[str]]) -> list[str | None]:
  """Runs `module` as a program whose absl.app.run only parses `argvs`."""
  results = []
  defined_before = set(flags.FLAGS)

  def run(main, argv=None, flags_parser=None):
    del main, argv
    parse = flags_parser or flags.FLAGS
    defined = set(flags.FLAGS)
    for args in argvs:
      flags.FLAGS.unparse_flags()
      _remove_flags(defined)  # the last line's `--config.*` overrides
      # ml_collections reads `--config.key=value` overrides from sys.argv.
      sys.argv = [module] + list(args)
      try:
        parse(list(sys.argv))
        results.append(None)
      except SystemExit as e:  # hardattn.cli.parse_flags exits with a line
        results.append(str(e.code))
      except Exception as e:  # pylint: disable=broad-except
        results.append(f'{type(e).__name__}: {e}')

  app.run = run
  runpy.run_module(module, run_name='__main__', alter_sys=True)
  flags.FLAGS.unparse_flags()
  _remove_flags(defined_before)
  if len(results) != len(argvs):
    raise RuntimeError(f'{module} did not call absl.app.run.')
  return results


if __name__ == '__main__':
  lines = json.load(sys.stdin)
  print(json.dumps({module: _parse_all(module, argvs)
                    for module, argvs in lines.items()}))
