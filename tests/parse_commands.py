"""Parses command lines with a hardattn program's own flags, running nothing.

  python tests/parse_commands.py MODULE < ARGVS.json

ARGVS.json is a JSON list of argument lists for `python -m MODULE`. The
module runs as `__main__` (so flags it defines only there exist), with
`absl.app.run` replaced by a loop that parses each argument list with the
module's own flag parser (config files and `--config.key=value` overrides
included) and does not call its main. Prints a JSON list, one entry per
argument list: null where it parsed, else the error.
"""

import json
import runpy
import sys

from absl import app
from absl import flags


def _parse_all(module: str, argvs: list[list[str]]) -> list[str | None]:
  results = []

  def run(main, argv=None, flags_parser=None):
    del main, argv
    parse = flags_parser or flags.FLAGS
    for args in argvs:
      flags.FLAGS.unparse_flags()
      for name in list(flags.FLAGS):  # the last line's config overrides
        if '.' in name:
          delattr(flags.FLAGS, name)
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
  if len(results) != len(argvs):
    raise RuntimeError(f'{module} did not call absl.app.run.')
  return results


if __name__ == '__main__':
  print(json.dumps(_parse_all(sys.argv[1], json.load(sys.stdin))))
