"""launch/colab.ipynb runs top to bottom (on configs/test.py-sized settings)."""

import os

import nbclient
import nbformat

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(REPO, 'launch', 'colab.ipynb')


def _outputs(cell, output_type=None):
  return [o for o in cell.get('outputs', ())
          if output_type is None or o['output_type'] == output_type]


def _text(cell) -> str:
  return ''.join(o.get('text', '') for o in _outputs(cell, 'stream')
                 if o.get('name') == 'stdout')


def test_notebook_is_committed_valid_and_without_outputs():
  nb = nbformat.read(NOTEBOOK, as_version=4)
  nbformat.validate(nb)
  assert nb.nbformat == 4
  for cell in nb.cells:
    if cell.cell_type == 'code':
      assert not cell.outputs and cell.execution_count is None, (
          'clear the notebook\'s outputs before committing it')
  source = '\n'.join(c.source for c in nb.cells)
  assert "REPO_URL = 'https://github.com/hardattn/hardattn'" in source
  assert 'HARDATTN_NOTEBOOK_TINY' in source


def test_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
  # The kernel inherits this environment: tiny settings, temporary paths,
  # one CPU device (not conftest's four fake ones).
  monkeypatch.setenv('HARDATTN_NOTEBOOK_TINY', '1')
  monkeypatch.setenv('HARDATTN_NOTEBOOK_DIR', str(tmp_path))
  monkeypatch.setenv('XLA_FLAGS', '')
  monkeypatch.setenv('JAX_PLATFORMS', 'cpu')
  nb = nbformat.read(NOTEBOOK, as_version=4)
  client = nbclient.NotebookClient(
      nb, timeout=240, kernel_name='python3',
      resources={'metadata': {'path': os.path.dirname(NOTEBOOK)}})
  client.execute()  # raises CellExecutionError, with the cell, on an error
  code = [c for c in nb.cells if c.cell_type == 'code']
  assert len(code) == 5
  for cell in code:
    assert not _outputs(cell, 'error')
  assert 'devices: [CpuDevice(id=0)]' in _text(code[0])
  assert 'Trained to step 4' in _text(code[2])
  for cell in (code[3], code[4]):  # the eval picture, the answer's picture
    images = [o for o in _outputs(cell, 'display_data')
              if 'image/png' in o['data']]
    assert len(images) == 1
  assert 'overall' in _text(code[3])
  answer = [l for l in _text(code[4]).splitlines() if l.startswith('Answer: ')]
  assert len(answer) == 1 and 'true answer: ' in answer[0], _text(code[4])
  assert os.path.isfile(tmp_path / 'colab_han_rn' / 'predictions' /
                        'example.png')
