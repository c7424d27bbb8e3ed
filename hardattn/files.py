"""Small file helpers shared by training, export and prediction."""

from collections.abc import Iterator
import contextlib
import json
import os
from typing import IO


@contextlib.contextmanager
def atomic_open(path: str, mode: str = 'w') -> Iterator[IO]:
  """Opens a temporary file beside `path`; renames it to `path` on success.

  A reader (or a crash) sees the old file or the whole new one, never a
  part; on an error the temporary file is removed and `path` is untouched.
  """
  tmp = f'{path}.tmp.{os.getpid()}'
  try:
    with open(tmp, mode) as f:
      yield f
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def write_json(path: str, obj: object, indent: int = 2) -> None:
  """`obj` as JSON (sorted keys, a final newline) into `path`, atomically."""
  with atomic_open(path) as f:
    json.dump(obj, f, indent=indent, sort_keys=True)
    f.write('\n')
