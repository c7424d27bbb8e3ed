"""Smoke test of benchmarks/suite.py: a --quick run writes the whole report.

One Sort-of-CLEVR config, one cell count and tiny generated datasets in a
temporary data_dir, on one device; XLA compiles without its expensive
optimisations (compilation is most of a quick run's time, and the numbers
are not what is tested).
"""

import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST_COMPILE = ('--xla_backend_optimization_level=0 '
                '--xla_llvm_disable_expensive_passes=true')


def test_quick_suite_writes_report_and_plot(tmp_path):
  out, plot = tmp_path / 'B.md', tmp_path / 'p.png'
  result = subprocess.run(
      [sys.executable, 'benchmarks/suite.py', '--quick', '--devices=1',
       '--grids=sort_of_clevr', '--sections=peak,train,cells,input',
       f'--out={out}', f'--plot={plot}', f'--data_dir={tmp_path / "data"}'],
      cwd=REPO, capture_output=True, text=True, timeout=300,
      env=dict(os.environ, XLA_FLAGS=FAST_COMPILE, JAX_PLATFORMS='cpu'))
  assert result.returncode == 0, result.stderr[-3000:]
  text = out.read_text()
  for header in ('# Benchmarks', '## Matmul peak', '## Train and eval steps',
                 '## Cost against the number of cells', '## Input pipeline'):
    assert f'\n{header}\n' in f'\n{text}', header
  assert 'failed' not in text
  # A measured row: examples/s, compile s and GFLOP/example are numbers.
  assert re.search(r'^\| `sort_of_clevr_han_rn` \| 5x5 \| 6/25 \| [\d.]+ \| '
                   r'[\d.]+ \| [\d.]+ \| [\d.]+ \|', text, re.MULTILINE)
  assert re.search(r'^\| 64x64 \| 4x4 \| 16 \| 256 \| [\d.]+ \|', text,
                   re.MULTILINE)
  assert re.search(r'^\| Sort-of-CLEVR \| .* \| 8 \| [\d.]+ \|', text,
                   re.MULTILINE)
  # Not prepared in data_dir: measured on synthetic releases.
  for row in ('CLEVR | `clevr_han_rn`', 'CLEVR, 4 questions an image | '
              '`clevr_han_rn:per_image=4`', 'VQA-CP v2 | `vqacp_han_rn`'):
    assert re.search(rf'^\| {re.escape(row)} \| 8 \(synthetic release, 40 '
                     r'images\) \| [\d.]+ \| [\d,.]+ \|', text,
                     re.MULTILINE), row
  assert '| not prepared here |' not in text
  assert '](p.png)' in text
  assert plot.read_bytes().startswith(b'\x89PNG\r\n\x1a\n')


def test_train_step_profile_attributes_time_to_model_scopes():
  """--profile: the traced op time, split by the model's Flax scopes."""
  result = subprocess.run(
      [sys.executable, 'benchmarks/train_step.py', '--configs=han_rn',
       '--batch_size=8', '--steps=2', '--profile', '--profile_rows=100',
       '--set=model.g_features=(16,16)'],
      cwd=REPO, capture_output=True, text=True, timeout=300,
      env=dict(os.environ, XLA_FLAGS=FAST_COMPILE, JAX_PLATFORMS='cpu'))
  assert result.returncode == 0, result.stderr[-3000:]
  profile = result.stdout.split('share of the traced XLA op time\n')[1]
  rows = re.findall(r'^\s*([\d.]+)%  (.+)$', profile, re.MULTILINE)
  scopes = {scope for _, scope in rows}
  for scope in ('rn/g1 fwd', 'rn/g1 bwd', 'fusion/conv1x1_0 bwd'):
    assert scope in scopes, scopes
  assert not any(s.startswith('rn/g2') for s in scopes)  # --set: 2 layers
  assert any(s.startswith('outside the model') for s in scopes)
  assert abs(sum(float(share) for share, _ in rows) - 100) < 1


@pytest.mark.parametrize('override,message', [
    ('model.g_featurez=(16,)', 'has no config field model.g_featurez'),
    ('modle.fraction=0.5', 'has no config field modle.fraction'),
    ('model.fraction=half', 'is not a Python literal'),
])
def test_train_step_set_names_a_bad_override(override, message):
  result = subprocess.run(
      [sys.executable, 'benchmarks/train_step.py', '--configs=han_rn',
       '--no_time', f'--set={override}'],
      cwd=REPO, capture_output=True, text=True, timeout=300,
      env=dict(os.environ, XLA_FLAGS=FAST_COMPILE, JAX_PLATFORMS='cpu'))
  assert result.returncode != 0
  assert message in result.stderr
  assert 'Traceback' not in result.stderr
