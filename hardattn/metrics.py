"""clu metric collections for training and evaluation.

Metrics are computed inside the jitted steps and merged on device; the host
only reads them at log and eval steps. Names with slashes: `train/loss`,
`eval/accuracy`, `eval/accuracy/relational/count`.
"""

from collections.abc import Sequence
import functools

from clu import metrics
import flax
import jax.numpy as jnp
import numpy as np

from hardattn import attention_quality


@flax.struct.dataclass
class TrainMetrics(metrics.Collection):
  loss: metrics.Average.from_output('loss')
  accuracy: metrics.Average.from_output('accuracy')
  fraction_kept: metrics.Average.from_output('fraction_kept')
  # Fraction of steps whose loss or gradients were not finite (their update
  # was skipped); training stops when it is not 0.
  nonfinite: metrics.Average.from_output('nonfinite')


@functools.cache
def per_type_accuracy(num_types: int) -> type[metrics.Metric]:
  """A metric of correct answers and counts per question type."""

  @flax.struct.dataclass
  class PerTypeAccuracy(metrics.Metric):
    correct: jnp.ndarray  # [num_types]
    count: jnp.ndarray  # [num_types]

    @classmethod
    def from_model_output(cls, *, correct, question_type, mask=None,
                          **_) -> 'PerTypeAccuracy':
      weight = (jnp.ones_like(correct, jnp.float32) if mask is None
                else mask.astype(jnp.float32))
      one_hot = jnp.eye(num_types, dtype=jnp.float32)[question_type]
      return cls(correct=(correct.astype(jnp.float32) * weight) @ one_hot,
                 count=weight @ one_hot)

    def merge(self, other: 'PerTypeAccuracy') -> 'PerTypeAccuracy':
      return type(self)(correct=self.correct + other.correct,
                        count=self.count + other.count)

    def compute(self) -> dict[str, np.ndarray]:
      return {'correct': np.asarray(self.correct),
              'count': np.asarray(self.count)}

  return PerTypeAccuracy


@functools.cache
def ratio(name: str) -> type[metrics.Metric]:
  """sum(numerator) / sum(denominator) of the per-example pairs a model
  output `name` = ([b] numerator, [b] denominator) holds; padding (mask
  False) is left out. NaN when nothing was counted."""

  @flax.struct.dataclass
  class Ratio(metrics.Metric):
    numerator: jnp.ndarray
    denominator: jnp.ndarray

    @classmethod
    def from_model_output(cls, *, mask=None, **outputs) -> 'Ratio':
      num, den = outputs[name]
      weight = (jnp.ones_like(num, jnp.float32) if mask is None
                else mask.astype(jnp.float32))
      return cls(numerator=jnp.sum(num * weight),
                 denominator=jnp.sum(den * weight))

    def merge(self, other: 'Ratio') -> 'Ratio':
      return type(self)(numerator=self.numerator + other.numerator,
                        denominator=self.denominator + other.denominator)

    def compute(self) -> np.ndarray:
      den = np.asarray(self.denominator)
      return np.asarray(self.numerator) / den if den > 0 else np.nan

  return Ratio


# The attention-quality ratios (hardattn.attention_quality), as eval
# metrics 'attention_<field>' (reported as 'eval/attention/<field>').
ATTENTION_FIELDS = tuple(dict.fromkeys(
    attention_quality.HARD_FIELDS + attention_quality.SOFT_FIELDS +
    attention_quality.ANSWER_FIELDS))
ATTENTION_PREFIX = 'attention_'


@functools.cache
def eval_metrics_class(num_types: int) -> type[metrics.Collection]:
  """The eval collection for a dataset with `num_types` question types.

  Its attention_* ratios are NaN (and left out of reports) where the
  eval batches carry no objects or the model has no such field (hard
  attention has recalls, soft attention masses).
  """
  return metrics.Collection.create(
      loss=metrics.Average.from_output('loss'),
      accuracy=metrics.Average.from_output('correct'),
      fraction_kept=metrics.Average.from_output('fraction_kept'),
      per_type=per_type_accuracy(num_types),
      **{ATTENTION_PREFIX + f: ratio(ATTENTION_PREFIX + f)
         for f in ATTENTION_FIELDS})


def per_type_summary(correct: np.ndarray, count: np.ndarray,
                     type_names: Sequence[str]) -> dict[str, float]:
  """Accuracy per question type and per group of types.

  A type named 'relational/count' counts for itself and for its group
  'relational'. Types with no examples are left out.

  Args:
    correct: [num_types] correct answers per type.
    count: [num_types] examples per type.
    type_names: the dataset's question type names.

  Returns:
    {'relational/count': acc, 'relational': acc, ...}.
  """
  out = {}
  groups: dict[str, list[int]] = {}
  for i, name in enumerate(type_names):
    if count[i] > 0:
      out[name] = float(correct[i] / count[i])
    if '/' in name:
      groups.setdefault(name.split('/')[0], []).append(i)
  for group, idx in groups.items():
    n = float(np.sum(count[idx]))
    if n > 0:
      out[group] = float(np.sum(correct[idx]) / n)
  return out
