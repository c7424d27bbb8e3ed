"""VQA answers: official normalisation and accuracy, vocabulary, targets.

Pure Python (no JAX, no TensorFlow). The normalisation and the accuracy follow
the official VQA evaluation, `VQAEval` in GT-Vision-Lab/VQA
`PythonEvaluationTools/vqaEvaluation/vqaEval.py` (the Python 3 version of the
master branch, commit c4e6a0e), quirks included, so that numbers computed
here are the numbers the official script (and the evaluation server built on
it) reports:

  - `normalize_answer` is what the official code does to a *prediction*:
    newlines and tabs become spaces, the ends are stripped, then
    `process_punctuation` and `process_digit_article`.
  - `vqa_accuracy` is the official per-question accuracy; the ground-truth
    answers get *only* `process_punctuation`, and only when they are not all
    identical (see its docstring).
  - `summarize` is the official report: overall, per answer type and per
    question type mean accuracy in percent, rounded to 2 decimals.

Training-side helpers (not in the official code): `answer_vocabulary` (the
most frequent normalised answers), `soft_targets` (min(count / 3, 1) per
vocabulary answer, the usual soft-score target) and `answer_accuracies` (the
official accuracy each vocabulary answer would get if predicted, so training
code can report VQA accuracy by gathering at the predicted class id).

The data tables (`CONTRACTIONS`, `MANUAL_MAP`, `ARTICLES`, `PUNCTUATION`) are
the official ones, entry for entry, including their oddities: the
capitalised contraction keys ('Im', 'Ive', "Id've", "I'dve") can never match
because words are lower-cased first, and "somebody'd" maps to 'somebodyd'.
An older revision of the official file (commit 07aecec, Python 2) differed:
its punctuation list had ':' and "'" but not '{', '}', '-', '!', its
contraction values used typographic apostrophes, and its per-type
accuracies used the last leave-one-out value instead of the mean; this
module follows the current one.
"""

import collections
from collections.abc import Iterable, Mapping, Sequence
import functools
import re

# Official `contractions`: a whole word (after lower-casing) equal to a key
# is replaced by its value.
CONTRACTIONS = {
    'aint': "ain't", 'arent': "aren't", 'cant': "can't", 'couldve': "could've",
    'couldnt': "couldn't", "couldn'tve": "couldn't've",
    "couldnt've": "couldn't've", 'didnt': "didn't", 'doesnt': "doesn't",
    'dont': "don't", 'hadnt': "hadn't", "hadnt've": "hadn't've",
    "hadn'tve": "hadn't've", 'hasnt': "hasn't", 'havent': "haven't",
    'hed': "he'd", "hed've": "he'd've", "he'dve": "he'd've", 'hes': "he's",
    'howd': "how'd", 'howll': "how'll", 'hows': "how's", "Id've": "I'd've",
    "I'dve": "I'd've", 'Im': "I'm", 'Ive': "I've", 'isnt': "isn't",
    'itd': "it'd", "itd've": "it'd've", "it'dve": "it'd've", 'itll': "it'll",
    "let's": "let's", 'maam': "ma'am", 'mightnt': "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've",
    'mightve': "might've", 'mustnt': "mustn't", 'mustve': "must've",
    'neednt': "needn't", 'notve': "not've", 'oclock': "o'clock",
    'oughtnt': "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at",
    "'ow'sat": "'ow's'at", 'shant': "shan't", "shed've": "she'd've",
    "she'dve": "she'd've", "she's": "she's", 'shouldve': "should've",
    'shouldnt': "shouldn't", "shouldnt've": "shouldn't've",
    "shouldn'tve": "shouldn't've", "somebody'd": 'somebodyd',
    "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    'somebodyll': "somebody'll", 'somebodys': "somebody's",
    'someoned': "someone'd", "someoned've": "someone'd've",
    "someone'dve": "someone'd've", 'someonell': "someone'll",
    'someones': "someone's", 'somethingd': "something'd",
    "somethingd've": "something'd've", "something'dve": "something'd've",
    'somethingll': "something'll", 'thats': "that's", 'thered': "there'd",
    "thered've": "there'd've", "there'dve": "there'd've",
    'therere': "there're", 'theres': "there's", 'theyd': "they'd",
    "theyd've": "they'd've", "they'dve": "they'd've", 'theyll': "they'll",
    'theyre': "they're", 'theyve': "they've", 'twas': "'twas",
    'wasnt': "wasn't", "wed've": "we'd've", "we'dve": "we'd've",
    'weve': "we've", 'werent': "weren't", 'whatll': "what'll",
    'whatre': "what're", 'whats': "what's", 'whatve': "what've",
    'whens': "when's", 'whered': "where'd", 'wheres': "where's",
    'whereve': "where've", 'whod': "who'd", "whod've": "who'd've",
    "who'dve": "who'd've", 'wholl': "who'll", 'whos': "who's",
    'whove': "who've", 'whyll': "why'll", 'whyre': "why're", 'whys': "why's",
    'wont': "won't", 'wouldve': "would've", 'wouldnt': "wouldn't",
    "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've", 'yall': "y'all",
    "yall'll": "y'all'll", "y'allll": "y'all'll", "yall'd've": "y'all'd've",
    "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've", 'youd': "you'd",
    "youd've": "you'd've", "you'dve": "you'd've", 'youll': "you'll",
    'youre': "you're", 'youve': "you've",
}

# Official `manualMap`: whole words, after lower-casing.
MANUAL_MAP = {
    'none': '0', 'zero': '0', 'one': '1', 'two': '2', 'three': '3',
    'four': '4', 'five': '5', 'six': '6', 'seven': '7', 'eight': '8',
    'nine': '9', 'ten': '10',
}

# Official `articles`: whole words dropped (after `MANUAL_MAP`).
ARTICLES = ('a', 'an', 'the')

# Official `punct`, in its order. Not in it: '.', handled by the period
# regex, and "'" and ':' (so "don't" and '10:30' keep them).
PUNCTUATION = (';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\',
               '_', '-', '>', '<', '@', '`', ',', '?', '!')

# Official `commaStrip`, r'(\d)(\,)(\d)': a comma between two digits.
_COMMA_STRIP = re.compile(r'\d,\d')
# Official `periodStrip` is r'(?!<=\d)(\.)(?!\d)'. Its first group is a
# negative *lookahead* for the text '<=' + digit (a mistyped lookbehind), which
# can never match where a '.' is, so the pattern is exactly: a period not
# followed by a digit.
_PERIOD_STRIP = re.compile(r'\.(?!\d)')
# The official call is `periodStrip.sub('', text, re.UNICODE)`: the flag lands
# in the `count` argument, so at most re.UNICODE == 32 periods are removed.
_PERIOD_STRIP_COUNT = 32

ANSWER_TYPES = ('yes/no', 'number', 'other')


# Answers repeat heavily (a few thousand distinct ones cover most of VQA), so
# the string processing is cached: it runs per example in the input pipeline.
_CACHE_SIZE = 1 << 16


@functools.lru_cache(maxsize=_CACHE_SIZE)
def process_punctuation(text: str) -> str:
  """The official `processPunctuation`.

  For each character p of `PUNCTUATION`, in order: if `text` (the input, not
  the partly processed string) contains p followed by a space or preceded by
  a space, or contains a digit-comma-digit anywhere, every p is deleted;
  otherwise every p becomes a space. So '1,000' -> '1000', 'red,blue' ->
  'red blue', 'red, blue' -> 'red blue', 'black/white' -> 'black white',
  and, since one digit-comma-digit deletes all punctuation, '1,000
  black/white' -> '1000 blackwhite'. Then periods not followed by a digit
  are deleted, at most 32 of them (see `_PERIOD_STRIP_COUNT`): '2.5' and '.5'
  keep theirs, 'yes.' and 'st.louis' lose it. Spaces are neither collapsed
  nor stripped.

  Args:
    text: the answer.

  Returns:
    The processed answer.
  """
  delete_all = _COMMA_STRIP.search(text) is not None
  out = text
  for p in PUNCTUATION:
    if delete_all or p + ' ' in text or ' ' + p in text:
      out = out.replace(p, '')
    else:
      out = out.replace(p, ' ')
  return _PERIOD_STRIP.sub('', out, count=_PERIOD_STRIP_COUNT)


def process_digit_article(text: str) -> str:
  """The official `processDigitArticle`.

  Lower-cases, splits on whitespace, maps whole words through `MANUAL_MAP`
  ('two' -> '2', 'none' -> '0'), drops `ARTICLES`, maps whole words through
  `CONTRACTIONS` ('dont' -> "don't") and joins with single spaces.

  Args:
    text: the answer.

  Returns:
    The processed answer.
  """
  words = [MANUAL_MAP.get(w, w) for w in text.lower().split()]
  return ' '.join(CONTRACTIONS.get(w, w) for w in words if w not in ARTICLES)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def normalize_answer(answer: str) -> str:
  """Normalises an answer as the official evaluation normalises a prediction.

  '\\n' and '\\t' become spaces, the ends are stripped, then
  `process_punctuation` and `process_digit_article`:
  ' The Two dogs.\\n' -> '2 dogs', 'isnt' -> "isn't", '1,000' -> '1000'.

  The result is a fixed point (normalize_answer(normalize_answer(a)) ==
  normalize_answer(a)) except for answers with more than 32 periods that are
  not followed by a digit (the official count quirk leaves the rest).

  Args:
    answer: a free-form answer.

  Returns:
    The normalised answer.
  """
  text = answer.replace('\n', ' ').replace('\t', ' ').strip()
  return process_digit_article(process_punctuation(text))


def _compared_gt_answers(gt_answers: Sequence[str]) -> list[str]:
  """Ground-truth answers as the official code compares them.

  Only `process_punctuation`, and only when they are not all identical.
  """
  if len(set(gt_answers)) > 1:
    return [process_punctuation(a) for a in gt_answers]
  return list(gt_answers)


def _leave_one_out(prediction: str, compared: Sequence[str]) -> float:
  """Official accuracy of an already-processed prediction (compared: >= 1)."""
  # Annotator i's subset has m - 1 matches if i's answer matches, else m;
  # the terms are summed in annotator order, as the official loop does.
  m = sum(1 for a in compared if a == prediction)
  hit, miss = min(1, (m - 1) / 3), min(1, m / 3)
  total = 0.0
  for a in compared:
    total += hit if a == prediction else miss
  return total / len(compared)


def vqa_accuracy(prediction: str, gt_answers: Sequence[str]) -> float:
  """The official VQA accuracy of one predicted answer.

  What the official `VQAEval.evaluate` does, step for step:
    1. The prediction is normalised with `normalize_answer` (always).
    2. If the ground-truth answers are not all identical (len(set(gt)) > 1),
       each gets `process_punctuation`, and nothing else: no lower-casing, no
       number words, no articles, no contractions, no stripping. If they are
       all identical they are used raw. (The official annotations' answers
       are already in normalised form, so this rarely matters there, but
       e.g. ground truth 'Two' never matches: the prediction 'two' or 'Two'
       becomes '2'; ten times 'yes.' never matches either, while 'yes.' among
       differing answers becomes 'yes'.)
    3. For each annotator i, acc_i = min(1, (number of the *other* annotators
       whose answer equals the prediction) / 3); the accuracy is the mean of
       the acc_i. Each entry of `gt_answers` is one annotator (the official
       code removes annotator i by dict inequality, which removes exactly one
       entry because the answer_id fields differ).
  With 10 answers of which m equal the prediction this is 0, 0.3, 0.6, 0.9
  for m = 0..3 and 1 for m >= 4; with a single answer it is always 0.

  Args:
    prediction: the predicted answer, free-form.
    gt_answers: the annotators' answers (10 in the official data; any number
      >= 1 here).

  Returns:
    The accuracy in [0, 1].

  Raises:
    ValueError: `gt_answers` is empty.
  """
  if not gt_answers:
    raise ValueError('vqa_accuracy needs at least one ground-truth answer.')
  return _leave_one_out(
      normalize_answer(prediction), _compared_gt_answers(gt_answers))


def answer_vocabulary(answers: Iterable[str], size: int) -> list[str]:
  """The `size` most frequent normalised answers.

  Decision: the caller passes one answer per training question, its
  `multiple_choice_answer` (the official annotations' most common of the 10
  answers), not all 10 annotator answers, so the vocabulary counts questions.
  Each answer goes through `normalize_answer`; answers are ranked by count,
  descending, ties broken by the answer string, ascending, so the result is
  deterministic whatever the input order. Fewer than `size` distinct answers
  gives them all.

  Args:
    answers: one answer per training question.
    size: the number of answers to keep (>= 0).

  Returns:
    The vocabulary, most frequent first; index i is class i.

  Raises:
    ValueError: `size` is negative.
  """
  if size < 0:
    raise ValueError(f'Vocabulary size must be >= 0, got {size}.')
  counts = collections.Counter(normalize_answer(a) for a in answers)
  ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
  return [answer for answer, _ in ranked[:size]]


def soft_targets(
    gt_answers: Sequence[str], vocab_index: Mapping[str, int]
) -> tuple[list[int], list[float]]:
  """Training soft-score targets: min(count / 3, 1) per vocabulary answer.

  The ground-truth answers are normalised with `normalize_answer` (all of
  them, unlike the official accuracy's quirk) and counted; each normalised
  answer found in `vocab_index` scores min(count / 3, 1); the others are
  dropped.

  Args:
    gt_answers: the annotators' answers.
    vocab_index: answer -> class id.

  Returns:
    (class ids ascending, their scores); both empty when no answer is in the
    vocabulary.
  """
  counts = collections.Counter(normalize_answer(a) for a in gt_answers)
  scored = sorted((vocab_index[answer], min(count / 3, 1.0))
                  for answer, count in counts.items() if answer in vocab_index)
  return [i for i, _ in scored], [s for _, s in scored]


def answer_accuracies(
    gt_answers: Sequence[str], vocab_index: Mapping[str, int]
) -> tuple[list[int], list[float]]:
  """The official accuracy each vocabulary answer would get if predicted.

  Lists every class id v whose answer a has vqa_accuracy(a, gt_answers) > 0,
  with that accuracy (computed the same way, so equal to the last bit);
  every class not listed scores 0. Training code gathers at the predicted
  class id to get the question's official accuracy. Note it can differ from
  `soft_targets`: with ground truth 'Two' the class '2' gets a soft target
  but, by the official quirk, accuracy 0.

  The vocabulary's keys must be fixed points of `normalize_answer`, as
  `answer_vocabulary` returns them (see `normalize_answer` for the one
  exception); a key that is not is never listed.

  Args:
    gt_answers: the annotators' answers.
    vocab_index: normalised answer -> class id.

  Returns:
    (class ids ascending, their accuracies in (0, 1]); both empty when
    nothing in the vocabulary scores.
  """
  if not gt_answers:
    return [], []
  compared = _compared_gt_answers(gt_answers)
  scored = []
  for answer in set(compared):
    # A fixed point predicted is compared as itself.
    if answer in vocab_index and normalize_answer(answer) == answer:
      accuracy = _leave_one_out(answer, compared)
      if accuracy > 0:
        scored.append((vocab_index[answer], accuracy))
  scored.sort()
  return [i for i, _ in scored], [a for _, a in scored]


def summarize(
    accuracies: Sequence[float],
    answer_types: Sequence[str],
    question_types: Sequence[str],
    precision: int = 2,
) -> dict[str, object]:
  """The official accuracy report.

  Like the official `setAccuracy`: each mean is round(100 * sum / count,
  precision) of the unrounded per-question accuracies, summed in order, with
  Python's `round` (half to even on the binary value; precision 2 in the
  official code). The keys are the official ones, so the result compares
  directly with the official script's accuracy JSON; the per-type dicts hold
  the types present, in order of first appearance.

  Args:
    accuracies: per-question accuracies in [0, 1] (`vqa_accuracy`).
    answer_types: per-question answer type ('yes/no', 'number', 'other').
    question_types: per-question question type ('what color', ...).
    precision: decimals kept.

  Returns:
    {'overall': float, 'perQuestionType': {type: float},
     'perAnswerType': {type: float}}, in percent.

  Raises:
    ValueError: no questions, or sequences of different lengths.
  """
  accuracies = [float(a) for a in accuracies]
  if not accuracies:
    raise ValueError('summarize needs at least one question.')
  if not len(accuracies) == len(answer_types) == len(question_types):
    raise ValueError(
        f'Lengths differ: {len(accuracies)} accuracies, {len(answer_types)} '
        f'answer types, {len(question_types)} question types.')
  by_answer_type = collections.defaultdict(list)
  by_question_type = collections.defaultdict(list)
  for accuracy, answer_type, question_type in zip(
      accuracies, answer_types, question_types):
    by_answer_type[answer_type].append(accuracy)
    by_question_type[question_type].append(accuracy)

  def mean(values):
    return round(100 * sum(values) / len(values), precision)

  return {
      'overall': mean(accuracies),
      'perQuestionType': {t: mean(v) for t, v in by_question_type.items()},
      'perAnswerType': {t: mean(v) for t, v in by_answer_type.items()},
  }
