"""Tests for hardattn.datasets.vqa_answers (official VQA answer handling)."""

import random

import numpy as np
import pytest

from hardattn.datasets import vqa_answers

# (input, expected normalize_answer output), each worked out by hand from the
# official rules.
_NORMALIZE_CASES = [
    # Case and whitespace: lower-cased; '\n', '\t' -> ' ', stripped, words
    # re-joined with single spaces.
    ('Yes', 'yes'),
    ('  RED car \n', 'red car'),
    ('red\tcar', 'red car'),
    ('red   car', 'red car'),
    ('yes\nno', 'yes no'),
    # Articles dropped as whole words only.
    ('The Cat', 'cat'),
    ('an apple', 'apple'),
    ('a', ''),
    ('theater', 'theater'),
    # Number words zero..ten and 'none' -> digits, whole words only.
    ('Two', '2'),
    ('none', '0'),
    ('ten', '10'),
    ('eleven', 'eleven'),
    ('one way', '1 way'),
    ('someone', 'someone'),
    ('the two dogs', '2 dogs'),
    # Periods: removed unless followed by a digit.
    ('yes.', 'yes'),
    ('2.5', '2.5'),
    ('2.', '2'),
    ('.5', '.5'),  # The intended lookbehind is a lookahead: kept.
    ('st.louis', 'stlouis'),
    # Commas: digit,digit deletes every punctuation character.
    ('1,000', '1000'),
    ('1,000,000', '1000000'),
    ('1,000 black/white', '1000 blackwhite'),
    ('red,blue', 'red blue'),
    ('red, blue', 'red blue'),
    # Other punctuation: deleted where it touches a space anywhere in the
    # input, else replaced by a space.
    ('black/white', 'black white'),
    ('black / white', 'black white'),
    ('x/y / z', 'xy z'),  # '/ ' occurs, so every '/' is deleted.
    ('t-shirt', 't shirt'),
    ('yes!', 'yes'),
    ('(cat)', 'cat'),
    ('what?', 'what'),
    # "'" and ':' are not in the official list.
    ("don't", "don't"),
    ('10:30', '10:30'),
    # Contractions, after lower-casing.
    ('dont', "don't"),
    ('isnt', "isn't"),
    ('Isnt', "isn't"),
    ('whats up', "what's up"),
    ('twas', "'twas"),
    ("somebody'd", 'somebodyd'),  # The official entry goes that way.
    ('Im', 'im'),  # Capitalised keys never match (words are lower-cased).
    ('', ''),
]


@pytest.mark.parametrize('answer,expected', _NORMALIZE_CASES)
def test_normalize_answer(answer, expected):
  assert vqa_answers.normalize_answer(answer) == expected


def test_period_count_quirk():
  # The official sub('', text, re.UNICODE) passes count=32: 40 periods lose 32.
  assert vqa_answers.normalize_answer('x' + '.' * 40) == 'x' + '.' * 8
  assert vqa_answers.normalize_answer('x' + '.' * 32) == 'x'


def test_process_punctuation_keeps_spaces():
  # Only processDigitArticle collapses spaces; the ground-truth side of the
  # official accuracy sees this raw output.
  assert vqa_answers.process_punctuation('black / white') == 'black  white'
  assert vqa_answers.process_punctuation('Yes.') == 'Yes'
  assert vqa_answers.process_punctuation('red ') == 'red '


def test_tables():
  assert len(vqa_answers.CONTRACTIONS) == 120
  assert vqa_answers.CONTRACTIONS['dont'] == "don't"
  assert vqa_answers.CONTRACTIONS['isnt'] == "isn't"
  assert vqa_answers.CONTRACTIONS['youve'] == "you've"
  assert vqa_answers.MANUAL_MAP == {
      'none': '0', 'zero': '0', 'one': '1', 'two': '2', 'three': '3',
      'four': '4', 'five': '5', 'six': '6', 'seven': '7', 'eight': '8',
      'nine': '9', 'ten': '10'}
  assert vqa_answers.ARTICLES == ('a', 'an', 'the')
  assert len(vqa_answers.PUNCTUATION) == 21
  assert '.' not in vqa_answers.PUNCTUATION
  assert "'" not in vqa_answers.PUNCTUATION


# With 10 answers of which m match: annotator i scores min(1, others / 3),
# others = m - 1 for the m matching annotators and m for the 10 - m others.
#   m=1: (1 * 0/3 + 9 * 1/3) / 10 = 3/10      = 0.3
#   m=2: (2 * 1/3 + 8 * 2/3) / 10 = 6/10      = 0.6
#   m=3: (3 * 2/3 + 7 * 1)   / 10 = 9/10      = 0.9
#   m=4: (4 * 1   + 6 * 1)   / 10             = 1.0
@pytest.mark.parametrize('matches,expected', [
    (0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (5, 1.0), (9, 1.0),
    (10, 1.0)])
def test_vqa_accuracy_leave_one_out(matches, expected):
  gts = ['yes'] * matches + ['no'] * (10 - matches)
  assert vqa_answers.vqa_accuracy('yes', gts) == pytest.approx(
      expected, abs=1e-12)


def test_vqa_accuracy_normalises_prediction():
  gts = ['2'] * 3 + ['3'] * 7
  assert vqa_answers.vqa_accuracy('Two.', gts) == pytest.approx(0.9)
  assert vqa_answers.vqa_accuracy(' the two\n', gts) == pytest.approx(0.9)
  assert vqa_answers.vqa_accuracy('Yes', ['yes'] * 10) == 1.0


def test_vqa_accuracy_gt_only_punctuation_processed():
  # Differing ground truth gets processPunctuation only: 'yes.' -> 'yes',
  # but 'Two' is not lower-cased or mapped to '2', so 'two' (-> '2') misses.
  assert vqa_answers.vqa_accuracy(
      'yes', ['yes.'] * 9 + ['no']) == pytest.approx(1.0)
  assert vqa_answers.vqa_accuracy('two', ['Two'] * 4 + ['dog'] * 6) == 0.0
  assert vqa_answers.vqa_accuracy('Two', ['Two'] * 4 + ['dog'] * 6) == 0.0
  assert vqa_answers.vqa_accuracy(
      'two', ['Two'] * 5 + ['2'] * 5) == pytest.approx(1.0)
  # Not stripped either: 'red ' never equals a normalised prediction.
  assert vqa_answers.vqa_accuracy('red', ['red '] * 4 + ['blue'] * 6) == 0.0
  # Spaces kept by processPunctuation: 'black  white' (two spaces) vs the
  # prediction's 'black white'.
  assert vqa_answers.vqa_accuracy(
      'black / white', ['black / white'] * 4 + ['grey'] * 6) == 0.0
  assert vqa_answers.vqa_accuracy(
      'black/white', ['black/white'] * 4 + ['grey'] * 6) == pytest.approx(1.0)


def test_vqa_accuracy_identical_gt_unprocessed():
  # All ten identical: used raw, so 'yes.' never matches (the prediction
  # becomes 'yes'); one differing answer switches processing on.
  assert vqa_answers.vqa_accuracy('yes.', ['yes.'] * 10) == 0.0
  assert vqa_answers.vqa_accuracy('yes', ['yes.'] * 10) == 0.0
  assert vqa_answers.vqa_accuracy(
      'yes', ['yes.'] * 9 + ['yes']) == pytest.approx(1.0)


def test_vqa_accuracy_other_counts():
  # 3 answers, 'cat' twice: annotators 0 and 1 see 1 other match (1/3),
  # annotator 2 sees 2 (2/3): (1/3 + 1/3 + 2/3) / 3 = 4/9.
  assert vqa_answers.vqa_accuracy(
      'cat', ['cat', 'cat', 'dog']) == pytest.approx(4 / 9)
  # One answer: no other annotator can agree.
  assert vqa_answers.vqa_accuracy('cat', ['cat']) == 0.0
  with pytest.raises(ValueError):
    vqa_answers.vqa_accuracy('cat', [])


def test_answer_vocabulary_counts_and_ties():
  answers = ['Yes', 'yes', 'no', 'No', 'two', '2', 'cat', 'dog', 'The dog']
  # Counts after normalisation: yes 2, no 2, '2' 2, dog 2, cat 1; the ties at
  # 2 go by string: '2' < 'dog' < 'no' < 'yes'.
  assert vqa_answers.answer_vocabulary(answers, 3) == ['2', 'dog', 'no']
  assert vqa_answers.answer_vocabulary(answers, 10) == [
      '2', 'dog', 'no', 'yes', 'cat']
  assert vqa_answers.answer_vocabulary(reversed(answers), 10) == [
      '2', 'dog', 'no', 'yes', 'cat']
  assert vqa_answers.answer_vocabulary(answers, 0) == []
  # 'a' is an article, so it normalises to '', which sorts before 'b'.
  assert vqa_answers.answer_vocabulary(['b', 'a', 'c', 'c'], 2) == ['c', '']
  with pytest.raises(ValueError):
    vqa_answers.answer_vocabulary(answers, -1)


_VOCAB_INDEX = {'2': 0, 'dog': 1, 'no': 2, 'yes': 3}
_GTS = ['yes'] * 4 + ['No'] * 2 + ['Two'] + ['maybe'] * 3


def test_soft_targets():
  # Normalised: yes 4 -> 1, no 2 -> 2/3, '2' 1 -> 1/3, maybe (not in the
  # vocabulary) dropped; sorted by class id.
  ids, scores = vqa_answers.soft_targets(_GTS, _VOCAB_INDEX)
  assert ids == [0, 2, 3]
  np.testing.assert_allclose(scores, [1 / 3, 2 / 3, 1.0])
  assert vqa_answers.soft_targets(['maybe'] * 10, _VOCAB_INDEX) == ([], [])
  assert vqa_answers.soft_targets(['dog'] * 3, _VOCAB_INDEX) == ([1], [1.0])


def test_answer_accuracies():
  # Ground truth compared after processPunctuation only: 'yes' x4 -> 1.0;
  # 'No' x2 is not 'no' -> nothing; 'Two' is not '2' -> nothing.
  ids, accuracies = vqa_answers.answer_accuracies(_GTS, _VOCAB_INDEX)
  assert ids == [3]
  np.testing.assert_allclose(accuracies, [1.0])
  gts = ['yes'] * 2 + ['no'] * 3 + ['dog'] + ['2'] * 4
  ids, accuracies = vqa_answers.answer_accuracies(gts, _VOCAB_INDEX)
  assert ids == [0, 1, 2, 3]
  np.testing.assert_allclose(accuracies, [1.0, 0.3, 0.9, 0.6])
  assert vqa_answers.answer_accuracies(['yes'], _VOCAB_INDEX) == ([], [])
  assert vqa_answers.answer_accuracies([], _VOCAB_INDEX) == ([], [])


_POOL = [
    'yes', 'Yes', 'yes.', 'no', 'No', 'two', 'Two', '2', '3', 'three',
    'the dog', 'dog', 'a dog', 'black/white', 'black / white', 'black white',
    '1,000', '1000', 'red ', 'red', 'none', '0', 'dont', "don't", 'a', '',
    't-shirt', 't shirt', '2.5', '.5', 'Isnt', "isn't", 'yes!', 'st.louis',
    'red, blue', 'red,blue', '10:30', 'white\n',
]


def test_answer_accuracies_consistent_with_vqa_accuracy():
  rng = random.Random(0)
  for _ in range(300):
    vocab = vqa_answers.answer_vocabulary(
        rng.sample(_POOL, rng.randint(1, len(_POOL))), rng.randint(1, 30))
    vocab_index = {answer: i for i, answer in enumerate(vocab)}
    n = rng.randint(1, 12)
    gts = [rng.choice(_POOL) for _ in range(n)]
    if rng.random() < 0.2:
      gts = [gts[0]] * n
    ids, accuracies = vqa_answers.answer_accuracies(gts, vocab_index)
    assert ids == sorted(set(ids))
    assert all(a > 0 for a in accuracies)
    gathered = dict(zip(ids, accuracies))
    for answer, i in vocab_index.items():
      # Exactly equal, not just close.
      assert gathered.get(i, 0.0) == vqa_answers.vqa_accuracy(answer, gts), (
          answer, gts)


def test_normalize_answer_is_a_fixed_point():
  for answer in _POOL:
    normalized = vqa_answers.normalize_answer(answer)
    assert vqa_answers.normalize_answer(normalized) == normalized


def test_summarize():
  accuracies = [1.0, 0.3, 0.0, 0.6, 1 / 3]
  answer_types = ['yes/no', 'number', 'yes/no', 'other', 'other']
  question_types = ['is the', 'how many', 'is the', 'what color', 'what']
  summary = vqa_answers.summarize(accuracies, answer_types, question_types)
  # overall: 100 * (1 + 0.3 + 0 + 0.6 + 1/3) / 5 = 44.666... -> 44.67.
  # other: 100 * (0.6 + 1/3) / 2 = 46.666... -> 46.67.
  assert summary == {
      'overall': 44.67,
      'perQuestionType': {
          'is the': 50.0, 'how many': 30.0, 'what color': 60.0,
          'what': 33.33},
      'perAnswerType': {'yes/no': 50.0, 'number': 30.0, 'other': 46.67},
  }
  assert list(summary['perAnswerType']) == ['yes/no', 'number', 'other']
  assert vqa_answers.summarize(
      np.array([1 / 3]), ['other'], ['what'], precision=1)['overall'] == 33.3


def test_summarize_errors():
  with pytest.raises(ValueError):
    vqa_answers.summarize([], [], [])
  with pytest.raises(ValueError):
    vqa_answers.summarize([1.0], ['yes/no', 'other'], ['is the'])
