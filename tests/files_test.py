"""hardattn.files: atomic writes."""

import json
import os

import pytest

from hardattn import files


def test_atomic_open_replaces_the_file_whole(tmp_path):
  path = str(tmp_path / 'answers.txt')
  with files.atomic_open(path) as f:
    f.write('old\n')
  with files.atomic_open(path) as f:
    f.write('new\n')
    assert open(path).read() == 'old\n'  # not yet replaced
  assert open(path).read() == 'new\n'
  assert os.listdir(tmp_path) == ['answers.txt']


def test_atomic_open_error_keeps_the_old_file_and_no_temporary(tmp_path):
  path = str(tmp_path / 'report.json')
  files.write_json(path, {'accuracy': 1.0})
  with pytest.raises(TypeError):  # half-way through json.dump
    files.write_json(path, {'accuracy': 2.0, 'bad': object()})
  assert json.loads(open(path).read()) == {'accuracy': 1.0}
  assert os.listdir(tmp_path) == ['report.json']


def test_binary_mode(tmp_path):
  path = str(tmp_path / 'weights.msgpack')
  with files.atomic_open(path, 'wb') as f:
    f.write(b'\x00\x01')
  assert open(path, 'rb').read() == b'\x00\x01'
