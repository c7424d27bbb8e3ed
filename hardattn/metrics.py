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
def eval_metrics_class(num_types: int) -> type[metrics.Collection]:
  """The eval collection for a dataset with `num_types` question types."""
  return metrics.Collection.create(
      loss=metrics.Average.from_output('loss'),
      accuracy=metrics.Average.from_output('correct'),
      fraction_kept=metrics.Average.from_output('fraction_kept'),
      per_type=per_type_accuracy(num_types))


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
