"""Training and evaluation: TrainState, the jitted steps, and the loop.

`train_step` and `eval_step` are pure module-level functions; the loop jits
them over a `jax.sharding.Mesh` with the batch split on the `data` axis,
donates the state, and takes per-step randomness from
`fold_in(key, state.step)` (nothing to checkpoint, the same on any device
count). Metrics stay on device between log steps.

SIGTERM (preemption) makes the loop save a checkpoint after the current step
and return; rerunning on the same workdir continues where it stopped, with
the same data order and, on CPU, bitwise the same parameters.
"""

from collections.abc import Callable, Iterable, Mapping
import functools
import json
import os
import shutil
import signal
import threading
import time
from typing import Any

from absl import logging
from flax import linen as nn
from flax.training import train_state
import jax
from jax.experimental import multihost_utils
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from hardattn import assets
from hardattn import attention_quality
from hardattn import cells
from hardattn import checkpointing
from hardattn import datasets
from hardattn import errors
from hardattn import files
from hardattn import metrics as metrics_lib
from hardattn import models
from hardattn import optim
from hardattn import sharding
from hardattn import visualize
from hardattn import writers
from hardattn.models import pretrained


class TrainState(train_state.TrainState):
  batch_stats: Any = None


LOSSES = ('softmax', 'sigmoid')


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Per-example softmax cross-entropy with integer labels: [batch]."""
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


def dense_targets(batch: Mapping[str, jax.Array],
                  num_classes: int) -> jax.Array:
  """[batch, classes] targets: soft scores where the batch has them
  (`answer_ids` / `answer_scores`, -1 padded), else one-hot answers."""
  if 'answer_scores' in batch:
    ids = batch['answer_ids']
    hits = jax.nn.one_hot(jnp.where(ids >= 0, ids, num_classes),
                          num_classes, dtype=jnp.float32)
    return jnp.einsum('bkc,bk->bc', hits, batch['answer_scores'])
  return jax.nn.one_hot(batch['answer'], num_classes, dtype=jnp.float32)


def answer_loss(logits: jax.Array, batch: Mapping[str, jax.Array],
                loss: str = 'softmax') -> jax.Array:
  """Per-example loss [batch].

  'softmax': cross-entropy against the targets normalised to sum to 1 (an
  example with no target, e.g. no answer in the vocabulary, adds 0);
  'sigmoid': binary cross-entropy of each class against its soft score,
  summed over classes (the usual VQA loss with soft scores).
  """
  if loss not in LOSSES:
    raise ValueError(f'config.loss must be one of {LOSSES}, got {loss!r}')
  if loss == 'softmax' and 'answer_scores' not in batch:
    return cross_entropy(logits, batch['answer'])
  targets = dense_targets(batch, logits.shape[-1])
  logits = logits.astype(jnp.float32)
  if loss == 'sigmoid':
    return jnp.sum(optax.sigmoid_binary_cross_entropy(logits, targets), -1)
  total = jnp.sum(targets, -1, keepdims=True)
  return optax.softmax_cross_entropy(
      logits, targets / jnp.maximum(total, 1e-9))


def answer_credit(logits: jax.Array,
                  batch: Mapping[str, jax.Array]) -> jax.Array:
  """Per-example accuracy credit [batch] of the arg-max answer.

  With `credit_ids` / `credit` in the batch (VQA): the official VQA accuracy
  of the predicted answer (0 for answers not listed); else 1 for the right
  class and 0 otherwise.
  """
  predicted = jnp.argmax(logits, -1)
  if 'credit' in batch:
    hit = batch['credit_ids'] == predicted[:, None]
    return jnp.sum(jnp.where(hit, batch['credit'], 0.0), -1)
  return (predicted == batch['answer']).astype(jnp.float32)


def create_train_state(model: nn.Module, batch: Mapping[str, Any],
                       tx: optax.GradientTransformation,
                       rng: jax.Array) -> TrainState:
  """Initializes parameters on an example batch (shapes only matter)."""
  params_rng, dropout_rng = jax.random.split(rng)
  variables = model.init({'params': params_rng, 'dropout': dropout_rng},
                         batch['image'], batch['question'], train=False)
  return TrainState.create(apply_fn=model.apply, params=variables['params'],
                           batch_stats=variables.get('batch_stats', {}),
                           tx=tx)


def dummy_inputs(meta: Any, batch_size: int) -> dict[str, jax.Array]:
  """Zero images and questions of the dataset's shapes, for init."""
  return {
      'image': jnp.zeros((batch_size,) + tuple(meta.image_shape),
                         meta.image_dtype),
      'question': jnp.zeros((batch_size,) + tuple(meta.question_shape),
                            jnp.float32 if meta.question_kind == 'vector'
                            else jnp.int32),
  }


def train_step(state: TrainState, batch: Mapping[str, jax.Array],
               rng: jax.Array, loss: str = 'softmax',
               augment: Callable[[jax.Array, jax.Array], jax.Array]
               | None = None
               ) -> tuple[TrainState, metrics_lib.TrainMetrics]:
  """One optimizer step on a (global) batch.

  A step whose loss or gradients are not finite leaves the state unchanged
  (its update is skipped) and is counted in the `nonfinite` metric, which
  the loop checks before every checkpoint.

  Args:
    state: the current TrainState (donated).
    batch: image, question, answer (and question_type, mask) arrays; VQA
      batches add soft targets and credit (see `answer_loss`,
      `answer_credit`).
    rng: the run's base key; this step uses fold_in(rng, state.step).
    loss: 'softmax' | 'sigmoid' (config.loss), see `answer_loss`.
    augment: optional augment(images, key) applied to the batch's images
      first (`datasets.device_augment`), its key fold_in(step key, 1).

  Returns:
    The new state and this step's metrics.
  """
  dropout_rng = jax.random.fold_in(rng, state.step)
  images = batch['image']
  if augment is not None:
    images = augment(images, jax.random.fold_in(dropout_rng, 1))
  # Padding questions (image groups with fewer questions) weigh nothing.
  weights = batch['mask'].astype(jnp.float32) if 'mask' in batch else None

  def mean(values: jax.Array) -> jax.Array:
    if weights is None:
      return jnp.mean(values)
    return jnp.sum(values * weights) / jnp.maximum(jnp.sum(weights), 1.0)

  def loss_fn(params):
    (logits, aux), updates = state.apply_fn(
        {'params': params, 'batch_stats': state.batch_stats},
        images, batch['question'], train=True,
        rngs={'dropout': dropout_rng}, mutable=['batch_stats'])
    value = mean(answer_loss(logits, batch, loss))
    return value, (logits, aux, updates)

  grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
  (loss_value, (logits, aux, updates)), grads = grad_fn(state.params)
  finite = jnp.isfinite(loss_value) & jnp.all(jnp.asarray(
      [jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)]))
  new_state = state.apply_gradients(grads=grads,
                                    batch_stats=updates['batch_stats'])
  new_state = jax.tree.map(lambda new, old: jnp.where(finite, new, old),
                           new_state, state)
  new_state = new_state.replace(step=state.step + 1)
  credit = mean(answer_credit(logits, batch))
  step_metrics = metrics_lib.TrainMetrics.single_from_model_output(
      loss=loss_value, accuracy=credit,
      fraction_kept=aux['fraction_kept'],
      nonfinite=1.0 - finite.astype(jnp.float32))
  return new_state, step_metrics


def attention_outputs(aux: Mapping[str, jax.Array],
                      batch: Mapping[str, jax.Array],
                      grid: cells.CellGrid | None,
                      correct: jax.Array | None = None
                      ) -> dict[str, tuple[jax.Array, jax.Array]]:
  """The eval metrics' attention_* (numerator, denominator) pairs.

  Computed where the batch has objects (`object_roles`) and the model's
  cell grid is known; zeros (no count) otherwise. Soft attention (aux has
  'attention') reports masses, hard attention recalls and, given the
  answers' `correct`, the accuracy with and without the asked objects kept
  (`attention_quality.answer_split`).
  """
  zeros = jnp.zeros(aux['fraction_kept'].shape, jnp.float32)
  out = {metrics_lib.ATTENTION_PREFIX + f: (zeros, zeros)
         for f in metrics_lib.ATTENTION_FIELDS}
  if grid is not None and 'object_roles' in batch:
    soft = 'attention' in aux
    quality = attention_quality.per_question(
        aux['cell_mask'], batch['object_boxes'], batch['object_roles'], grid,
        soft=soft, norms=None if soft else aux['norms'])
    if correct is not None and not soft:
      quality.update(attention_quality.answer_split(
          correct, quality['asked_recall']))
    out.update({metrics_lib.ATTENTION_PREFIX + f: v
                for f, v in quality.items()})
  return out


def eval_step(state: TrainState, batch: Mapping[str, jax.Array],
              metrics_class: type[Any], loss: str = 'softmax',
              grid: cells.CellGrid | None = None) -> Any:
  """Metrics of one padded eval batch (padding masked out by batch['mask']);
  with the model's `grid`, attention quality where the batch has objects."""
  logits, aux = state.apply_fn(
      {'params': state.params, 'batch_stats': state.batch_stats},
      batch['image'], batch['question'], train=False)
  correct = answer_credit(logits, batch)
  return metrics_class.single_from_model_output(
      loss=answer_loss(logits, batch, loss), correct=correct,
      fraction_kept=aux['fraction_kept'],
      question_type=batch['question_type'], mask=batch['mask'],
      **attention_outputs(aux, batch, grid, correct))


def _record_batch_moments(next_fun, args, kwargs, context):
  """A Flax method interceptor: each BatchNorm that normalises by its batch
  sows the batch's mean and variance into the 'batch_moments' collection
  (read off its running-average update, so any momentum works). Frozen
  layers (running averages, e.g. a pretrained backbone's) sow nothing."""
  module = context.module
  if not (isinstance(module, nn.BatchNorm) and
          context.method_name == '__call__' and
          module.is_mutable_collection('batch_stats') and
          not module.is_initializing()):
    return next_fun(*args, **kwargs)
  frozen = kwargs.get('use_running_average', args[1] if len(args) > 1
                      else None)
  if frozen if frozen is not None else module.use_running_average:
    return next_fun(*args, **kwargs)
  before = {k: module.get_variable('batch_stats', k) for k in ('mean', 'var')}
  out = next_fun(*args, **kwargs)
  m = module.momentum
  for k, old in before.items():
    new = module.get_variable('batch_stats', k)
    module.sow('batch_moments', k, (new - m * old) / (1 - m),
               init_fn=lambda: None, reduce_fn=lambda _, x: x)
  return out


def batch_moments(state: TrainState, batch: Mapping[str, jax.Array]
                  ) -> Any:
  """The batch mean and variance of every batch-norm layer that normalises
  by its batch, on `batch` in train mode at the state's weights: a tree
  shaped like (part of) state.batch_stats."""
  with nn.intercept_methods(_record_batch_moments):
    _, updates = state.apply_fn(
        {'params': state.params, 'batch_stats': state.batch_stats},
        batch['image'], batch['question'], train=True,
        rngs={'dropout': jax.random.key(0)},
        mutable=['batch_stats', 'batch_moments'])
  return updates.get('batch_moments', {})


def recompute_batch_stats(state: TrainState, batches: Iterable[Any],
                          step_fn: Callable[..., Any] | None = None) -> Any:
  """Batch-norm statistics of the data at the state's weights ("precise
  BN"): per layer, the mean over `batches` of its batch means, and the
  variance of its inputs over all of them (the mean of batch variance plus
  squared batch mean, less the squared mean). Frozen layers keep theirs.

  Running averages of 8-image batches (Sort-of-CLEVR's fast recipe) are
  noisy: on a `sum` model their means were 0.02-0.04 standard deviations
  off these, which cost 12 points of eval accuracy (55.8 against 67.5,
  experiments/bn_eval.py; issue 17 saw 2.7%).

  Args:
    state: the TrainState whose weights the statistics are for.
    batches: global train batches (image and question; one question per
      image is enough).
    step_fn: `batch_moments`, jitted (default: jitted here).

  Returns:
    A tree like state.batch_stats.
  """
  step_fn = step_fn or jax.jit(batch_moments)
  total, count = None, 0
  for batch in batches:
    moments = _moments_with_square(step_fn(state, batch))
    total = moments if total is None else jax.tree.map(
        jnp.add, total, moments)
    count += 1
  if count == 0:
    raise errors.UserError('No batches to recompute batch statistics on.')
  fresh = _stats_from_moments(jax.tree.map(lambda x: x / count, total))
  return _merge_trees(state.batch_stats, fresh)


def fraction_at(config: ml_collections.ConfigDict, step: int) -> float | None:
  """HAN's fraction of cells for the train step after `step` steps.

  `config.fraction_schedule` is ((until_step, fraction), ...) in increasing
  steps: `fraction` is kept while step < until_step; after the last one,
  config.model.fraction. A fraction of 1.0 turns attention off (every cell,
  in order; AdaHAN too). None for models without a fraction (soft
  attention, CNN+MLP).
  """
  if 'fraction' not in config.model:
    return None
  for until, fraction in config.get('fraction_schedule', ()):
    if step < until:
      return fraction
  return config.model.fraction


def population_batches(config: ml_collections.ConfigDict, num_images: int, *,
                       process_index: int = 0, process_count: int = 1
                       ) -> list[dict[str, np.ndarray]]:
  """This process's share of train batches holding about `num_images`
  images in all, one question each, for `recompute_batch_stats`.

  They come from a second train iterator with its own shuffle
  (config.data_seed + 1), so the training order is untouched, and are the
  same at every eval of a run and of its resumed runs.
  """
  other = config.copy_and_resolve_references()
  other.data_seed = config.data_seed + 1
  other.data_workers = 0
  batches_iter, _, _ = datasets.get_dataset(
      other, process_index=process_index, process_count=process_count)
  batches, seen = [], 0
  while seen < num_images:
    batch = next(batches_iter)
    images = len(batch['image'])
    per_image = len(batch['question']) // images
    batches.append({'image': batch['image'],
                    'question': batch['question'][::per_image]})
    seen += images * process_count
  return batches


def _merge_trees(base: Any, update: Any) -> Any:
  """`base` with the subtrees of `update` put in (nested dicts)."""
  if not isinstance(update, Mapping):
    return update
  out = dict(base)
  for k, v in update.items():
    out[k] = _merge_trees(base[k], v)
  return out


def _moments_with_square(tree: Any) -> Any:
  """{'mean', 'var'} leaves -> {'mean', 'sq': var + mean^2}."""
  if 'mean' in tree and 'var' in tree:
    return {'mean': tree['mean'], 'sq': tree['var'] + tree['mean']**2}
  return {k: _moments_with_square(v) for k, v in tree.items()}


def _stats_from_moments(tree: Any) -> Any:
  """Inverse of `_moments_with_square` on averaged moments."""
  if 'mean' in tree and 'sq' in tree:
    return {'mean': tree['mean'],
            'var': jnp.maximum(tree['sq'] - tree['mean']**2, 0.0)}
  return {k: _stats_from_moments(v) for k, v in tree.items()}


def predict_step(state: TrainState, batch: Mapping[str, jax.Array]
                 ) -> tuple[jax.Array, dict[str, jax.Array]]:
  """Predicted answers and the model's aux (norms, kept cells)."""
  logits, aux = state.apply_fn(
      {'params': state.params, 'batch_stats': state.batch_stats},
      batch['image'], batch['question'], train=False)
  return jnp.argmax(logits, -1), aux


def evaluate(state: TrainState, eval_batches: Iterable[Mapping[str, Any]],
             step_fn: Callable[..., Any], mesh: jax.sharding.Mesh,
             meta: datasets.pipeline.DatasetMeta,
             num_batches: int = -1) -> dict[str, float]:
  """Runs the eval split; returns {'eval/accuracy': ..., ...}."""
  merged = None
  for i, batch in enumerate(eval_batches):
    if 0 <= num_batches <= i:
      break
    m = step_fn(state, sharding.to_global(batch, mesh))
    merged = m if merged is None else merged.merge(m)
  if merged is None:
    raise errors.UserError('The eval split yielded no batches.')
  result = merged.compute()
  per_type = result.pop('per_type')
  out = {}
  for k, v in result.items():
    if k.startswith(metrics_lib.ATTENTION_PREFIX):
      if np.isfinite(v):  # NaN: not measured here
        out['eval/attention/' + k[len(metrics_lib.ATTENTION_PREFIX):]] = (
            float(v))
    else:
      out[f'eval/{k}'] = float(v)
  out['eval/num_examples'] = float(np.sum(per_type['count']))
  for name, acc in metrics_lib.per_type_summary(
      per_type['correct'], per_type['count'], meta.question_types).items():
    out[f'eval/accuracy/{name}'] = acc
  return out


def attention_picture(state: TrainState, batch: Mapping[str, np.ndarray],
                      predict_fn: Callable[..., Any], mesh: jax.sharding.Mesh,
                      meta: datasets.pipeline.DatasetMeta,
                      grid: cells.CellGrid, num_examples: int,
                      step: int) -> np.ndarray:
  """A PNG-ready picture of what the model attends to on eval examples
  (the true objects outlined where the batch has them)."""
  predicted, aux = predict_fn(state, sharding.to_global(batch, mesh))
  # Spread the examples over the batch: neighbours often share an image.
  valid = int(np.sum(batch['mask']))
  idx = np.unique(np.linspace(0, valid - 1, min(num_examples, valid)
                              ).astype(int))
  predicted = np.asarray(jax.device_get(predicted))[idx]
  cell_mask = np.asarray(jax.device_get(aux['cell_mask']))[idx]
  if 'attention' in aux:  # Soft attention: its last hop's weights.
    heat, heat_title = aux['attention'][:, -1], 'attention'
  else:
    heat, heat_title = aux['norms'], 'cell L2 norm'
  heat = np.asarray(jax.device_get(heat))[idx]
  objects = None
  if 'object_roles' in batch:
    objects = (batch['object_boxes'][idx], batch['object_roles'][idx])
  return visualize.attention_figure(
      meta.pictures(batch)[idx],
      [meta.question_text(q) for q in batch['question'][idx]],
      [meta.answer_names[a] for a in predicted],
      [meta.answer_name(a) for a in batch['answer'][idx]],
      cell_mask=cell_mask, norms=heat, grid_shape=grid,
      max_examples=len(idx), title=f'step {step}', heat_title=heat_title,
      objects=objects, input_hw=grid.image_hw)


def restore_for_inference(config: ml_collections.ConfigDict, workdir: str,
                          meta: Any, mesh: jax.sharding.Mesh,
                          step: int | None = None
                          ) -> tuple[TrainState, int]:
  """A checkpointed TrainState of a run, replicated on `mesh`.

  Args:
    config: the run's config (the model is rebuilt from it).
    workdir: the run's workdir.
    meta: the dataset's DatasetMeta (sizes the model).
    mesh: where to put the state.
    step: the checkpoint's step; None: the latest.

  Returns:
    (state, step).

  Raises:
    errors.UserError: no checkpoint in the workdir.
  """
  directory = checkpointing.workdir_checkpoints(workdir)
  if not os.path.isdir(directory):
    raise errors.UserError(f'No checkpoints in {directory}: train first with '
                           f'hardattn.main on this workdir.')
  model = models.create_model(config.model_name, meta, **config.model)
  tx = optim.create_optimizer(config.optimizer, config.num_train_steps)
  repl = sharding.replicated(mesh)
  abstract = jax.eval_shape(
      lambda batch, rng: create_train_state(model, batch, tx, rng),
      dummy_inputs(meta, 1), jax.random.key(0))
  abstract = jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=repl),
      abstract)
  ckpt = checkpointing.Checkpointer(directory)
  try:
    if step is None:
      step = ckpt.latest_step()
    if step is None:
      raise errors.UserError(f'No checkpoints in {directory}: train first '
                             'with hardattn.main on this workdir.')
    state = ckpt.restore(abstract, step=step)
  finally:
    ckpt.close()
  return state, step


def _check_workdir(workdir: str) -> None:
  """Fails early, with the path, if the workdir cannot be written."""
  try:
    os.makedirs(workdir, exist_ok=True)
    probe = os.path.join(workdir, f'.write_test_{jax.process_index()}')
    with open(probe, 'w') as f:
      f.write('ok')
    os.remove(probe)
  except OSError as e:
    raise errors.UserError(f'Cannot write to workdir {workdir!r}: {e}') from e


def _check_free_space(workdir: str, state: TrainState,
                      max_to_keep: int) -> None:
  """Fails before training if the workdir's disk cannot hold checkpoints.

  Needs room for two checkpoints (orbax writes a new one before it deletes
  the oldest) plus 64 MiB for summaries and pictures. Saving can still run
  out of space later (other writers, max_to_keep more checkpoints).
  """
  state_bytes = sum(x.nbytes for x in jax.tree.leaves(state))
  need = 2 * state_bytes + (64 << 20)
  free = shutil.disk_usage(workdir).free
  if free < need:
    raise errors.UserError(
        f'Not enough free disk space for checkpoints in {workdir!r}: '
        f'{free / 2**20:.0f} MiB free, a checkpoint is '
        f'{state_bytes / 2**20:.0f} MiB and training needs at least '
        f'{need / 2**20:.0f} MiB (config.max_checkpoints_to_keep='
        f'{max_to_keep}). Free some space or use another workdir.')


class StopSignal:
  """Turns SIGTERM (what a preempted VM gets) into a stop the loop polls.

  One process: a Python handler sets a flag. Several processes: JAX's
  preemption service (on by default with `jax.distributed`) catches SIGTERM
  on any of them and agrees on a step at which all stop
  (`multihost_utils.reached_preemption_sync_point`). A context manager: the
  previous handler comes back on exit.
  """

  def __init__(self):
    self.received = False
    self._previous = None
    self._multi = jax.process_count() > 1
    self._service = (self._multi and
                     jax.config.jax_enable_preemption_service)
    if self._multi and not self._service:
      logging.warning('jax_enable_preemption_service is off: SIGTERM will '
                      'not save a checkpoint in this multi-process run.')

  def __enter__(self) -> 'StopSignal':
    if (not self._multi and
        threading.current_thread() is threading.main_thread()):
      self._previous = signal.signal(signal.SIGTERM, self._handle)
    return self

  def __exit__(self, *exc_info) -> None:
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)

  def _handle(self, signum, frame) -> None:
    del signum, frame
    self.received = True
    logging.warning('SIGTERM: saving a checkpoint after this step, then '
                    'stopping.')

  def should_stop(self, step: int) -> bool:
    """Whether to stop after `step` (on every process alike)."""
    if self._service:
      return multihost_utils.reached_preemption_sync_point(step)
    return self.received


def _eval_report(config: ml_collections.ConfigDict, meta: Any, step: int,
                 scores: Mapping[str, float], wall_clock_s: float
                 ) -> dict[str, Any]:
  """The JSON eval report: overall, per group and per question type."""
  prefix = 'eval/accuracy/'
  by_type = {k[len(prefix):]: v for k, v in scores.items()
             if k.startswith(prefix)}
  attention = {k[len('eval/attention/'):]: v for k, v in scores.items()
               if k.startswith('eval/attention/')}
  return {
      'step': step,
      'dataset': meta.name,
      'split': meta.eval_split,
      'model': config.model_name,
      'num_examples': int(scores['eval/num_examples']),
      'accuracy': scores['eval/accuracy'],
      'loss': scores['eval/loss'],
      'fraction_kept': scores['eval/fraction_kept'],
      'accuracy_by_type': by_type,
      # hardattn.attention_quality, where the scenes are known
      'attention': attention,
      'table': results_table(meta, scores['eval/accuracy'], by_type),
      'train_wall_clock_s': round(wall_clock_s, 1),
      'devices': jax.device_count(),
      'platform': jax.devices()[0].platform,
  }


def results_table(meta: Any, accuracy: float,
                  by_type: Mapping[str, float]) -> list[list[Any]]:
  """[['overall', acc], [group, acc], ...]: the columns of a paper's table.

  Groups are the question-type prefixes in the dataset's order (CLEVR:
  count, exist, compare_numbers, query_attribute, compare_attribute, as in
  the RN paper; Sort-of-CLEVR: non_relational, relational).
  """
  return [['overall', accuracy]] + [
      [group, by_type[group]] for group in meta.question_type_groups()
      if group in by_type]


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str) -> dict[str, Any]:
  """Trains `config.model_name` on `config.dataset`, resuming from workdir.

  Writes TensorBoard summaries, checkpoints, `eval_report.json` (latest) and
  `eval_history.jsonl`, and attention pictures into `workdir`.

  Args:
    config: a config from `configs/`.
    workdir: where everything is written; an existing run there resumes.

  Returns:
    The final eval report; None if SIGTERM stopped training early (after
    saving a checkpoint).

  Raises:
    UserError: bad config, missing data, unwritable workdir.
    NonFiniteLossError: a non-finite loss; the last good checkpoint is kept.
  """
  workdir = os.path.abspath(os.path.expanduser(workdir))
  _check_workdir(workdir)
  is_chief = jax.process_index() == 0
  mesh = sharding.mesh_from_config(config)
  sharding.check_batch_size(config.batch_size, mesh, 'batch_size')
  group = config.get('questions_per_image', 1)
  if group > 1 and config.batch_size % group == 0:  # else the data say why
    sharding.check_batch_size(config.batch_size // group, mesh,
                              'batch_size / questions_per_image')
  sharding.check_batch_size(config.eval_batch_size, mesh, 'eval_batch_size')

  # Process 0 first: it prepares missing data, which others may share.
  if not is_chief:
    multihost_utils.sync_global_devices('dataset_ready')
  train_iter, eval_batches_fn, meta = datasets.get_dataset(
      config, process_index=jax.process_index(),
      process_count=jax.process_count())
  if is_chief and jax.process_count() > 1:
    multihost_utils.sync_global_devices('dataset_ready')
  model = models.create_model(config.model_name, meta, **config.model)
  if is_chief:
    assets.save(workdir, config, meta)
  grid = model.cell_grid(meta.image_shape[:2])
  tx = optim.create_optimizer(config.optimizer, config.num_train_steps)
  rng = jax.random.key(config.seed)
  init_rng, step_rng = jax.random.split(rng)

  repl = sharding.replicated(mesh)
  data = sharding.data_sharding(mesh)
  dummy = dummy_inputs(meta, config.batch_size // jax.process_count())
  init_fn = jax.jit(functools.partial(create_train_state, model, tx=tx),
                    out_shardings=repl)
  state = init_fn(dummy, rng=init_rng)
  if is_chief:
    num_params = sum(x.size for x in jax.tree.leaves(state.params))
    logging.info('Model %s: %s parameters, grid %dx%d on %d device(s).',
                 config.model_name, f'{num_params:,}', *grid.shape,
                 jax.device_count())

  _check_free_space(workdir, state, config.max_checkpoints_to_keep)
  ckpt = checkpointing.Checkpointer(checkpointing.workdir_checkpoints(workdir),
                                    max_to_keep=config.max_checkpoints_to_keep)
  restored = None
  if ckpt.latest_step() is not None:
    restored = ckpt.restore_latest_good(jax.eval_shape(lambda s: s, state),
                                        train_iter)
  if restored is not None:
    state = restored
  else:  # pretrained parts (VQA's ResNet); a checkpoint already holds them
    state = pretrained.load(state, model, repl)
  start_step = int(jax.device_get(state.step))

  p_train_step = sharding.jit(
      functools.partial(train_step, loss=config.loss,
                        augment=datasets.device_augment(config)),
      mesh, in_shardings=(repl, data, repl), out_shardings=(repl, repl),
      donate_argnums=(0,))
  p_eval_step = sharding.jit(functools.partial(
      eval_step, metrics_class=metrics_lib.eval_metrics_class(
          len(meta.question_types)), loss=config.loss,
      grid=grid),
                             mesh, in_shardings=(repl, data),
                             out_shardings=repl)
  # Replicated outputs: every process can read the pictures' predictions.
  p_predict = sharding.jit(predict_step, mesh, in_shardings=(repl, data),
                           out_shardings=repl)
  # Evaluation normalises by batch-norm statistics recomputed at the current
  # weights (recompute_batch_stats), not by the noisy running averages.
  bn_batches = []
  if config.get('bn_stats_images', 0) > 0 and jax.tree.leaves(jax.eval_shape(
      batch_moments, state, dummy)):
    bn_batches = population_batches(
        config, config.bn_stats_images, process_index=jax.process_index(),
        process_count=jax.process_count())
  p_moments = sharding.jit(batch_moments, mesh, in_shardings=(repl, data),
                           out_shardings=repl)

  def with_population_stats(state: TrainState) -> TrainState:
    if not bn_batches:
      return state
    return state.replace(batch_stats=recompute_batch_stats(
        state, (sharding.to_global(b, mesh) for b in bn_batches), p_moments))

  writer = writers.SummaryWriter(workdir)
  progress = writers.Progress(config.num_train_steps, config.batch_size,
                              start_step, config.eval_every_steps)
  pictures_dir = os.path.join(workdir, 'pictures')
  report_path = os.path.join(workdir, 'eval_report.json')
  report = None
  train_metrics = None
  t_start = time.perf_counter()
  wall_clock_path = os.path.join(workdir, 'wall_clock.json')
  prior_wall_clock = 0.0
  if os.path.exists(wall_clock_path):
    with open(wall_clock_path) as f:
      prior_wall_clock = json.load(f).get('train_wall_clock_s', 0.0)

  def wall_clock() -> float:
    # A run resumed after its end only evaluates: no train time to add.
    if step == start_step:
      return prior_wall_clock
    return prior_wall_clock + time.perf_counter() - t_start

  def check_finite(step: int) -> None:
    if train_metrics is None:
      return
    if float(jax.device_get(train_metrics.nonfinite.total)) > 0:
      last = ckpt.latest_step()
      raise errors.NonFiniteLossError(
          f'Non-finite loss or gradients between steps {progress_step[0]} and '
          f'{step}; their updates were skipped and training stopped. The last '
          f'good checkpoint is step {last} in {ckpt.directory}. Lower '
          'config.optimizer.learning_rate or set grad_clip_norm.')

  def run_eval(step: int) -> dict[str, Any]:
    scores = evaluate(state, eval_batches_fn(), p_eval_step, mesh, meta,
                      config.num_eval_batches)
    writer.write_scalars(step, scores)
    rep = _eval_report(config, meta, step, scores, wall_clock())
    if is_chief:
      files.write_json(report_path, rep)
      with open(os.path.join(workdir, 'eval_history.jsonl'), 'a') as f:
        f.write(json.dumps(rep, sort_keys=True) + '\n')
    if config.num_pictures > 0:
      picture = attention_picture(
          state, next(iter(eval_batches_fn())), p_predict, mesh, meta, grid,
          config.num_pictures, step)
      writer.write_images(step, {'eval/attention': picture})
      if is_chief:
        visualize.save_png(picture, os.path.join(
            pictures_dir, f'attention_step_{step:08d}.png'))
    logging.info('eval step %d on %s: %s', step, meta.eval_split, ' | '.join(
        f'{name} {100 * acc:.1f}' for name, acc in rep['table']))
    return rep

  # HAN's fraction of cells may follow a schedule (fraction_at): the model,
  # and so the state's apply_fn and the compiled steps, follow its phases;
  # parameters are the same in every phase.
  phase_models = {}

  def in_phase(state: TrainState, step: int) -> TrainState:
    fraction = fraction_at(config, step)
    if fraction is None or not config.get('fraction_schedule', ()):
      return state
    # 1.0: every cell, attention off (so AdaHAN can start on all cells
    # too); else HAN's fraction (AdaHAN ignores it). With the sum skip, a
    # leading all-cells phase trains the sum path alone and the RN joins
    # when the fraction drops (with rn_gate, the same function: its gate is
    # zero until then); the RN over every pair would be the phase's cost.
    phase = ({'attention': 'none'} if fraction >= 1.0
             else {'fraction': fraction})
    if (fraction >= 1.0 and config.model.get('rn_sum_skip', False) and
        all(f >= 1.0 for until, f in config.fraction_schedule
            if until <= step)):
      phase['rn_skipped'] = True
    key = tuple(sorted(phase.items()))
    if key not in phase_models:
      phase_models[key] = models.create_model(
          config.model_name, meta, **dict(config.model, **phase))
      if is_chief and step > start_step:
        logging.info('Step %d: keeping a fraction %g of the cells.', step,
                     fraction)
    return state.replace(apply_fn=phase_models[key].apply)

  progress_step = [start_step]  # first step of the current log window
  step = start_step
  if start_step >= config.num_train_steps:
    logging.info('Already trained %d steps; evaluating only.', start_step)
  else:
    logging.info('Training from step %d to %d.', start_step,
                 config.num_train_steps)
  stop_signal = StopSignal()
  with stop_signal:
    compiled_at = None
    while step < config.num_train_steps:
      state = in_phase(state, step)
      batch = sharding.to_global(next(train_iter), mesh)
      state, m = p_train_step(state, batch, step_rng)
      train_metrics = m if train_metrics is None else train_metrics.merge(m)
      step += 1
      if compiled_at is None:
        jax.block_until_ready(state.step)
        compiled_at = time.perf_counter()
        logging.info('First step (compilation included) took %.1f s.',
                     compiled_at - t_start)
        progress.reset_clock(step)
      is_last = step == config.num_train_steps
      if step % config.log_every_steps == 0 or is_last:
        check_finite(step)
        scalars = {f'train/{k}': float(v)
                   for k, v in train_metrics.compute().items()
                   if k != 'nonfinite'}
        scalars.update(progress.log(step, scalars))
        writer.write_scalars(step, scalars)
        train_metrics = None
        progress_step[0] = step
      stop = stop_signal.should_stop(step)
      # No eval after SIGTERM: a preempted VM has seconds.
      eval_now = (step % config.eval_every_steps == 0 or is_last) and (
          is_last or not stop)
      # Evals see the model as trained so far: the phase of the last step
      # (at a switch of fraction_schedule, not yet the next phase's).
      if eval_now:  # before the save, so a resumed run has the same state
        state = with_population_stats(in_phase(state, step - 1))
      if step % config.checkpoint_every_steps == 0 or is_last or stop:
        check_finite(step)
        ckpt.save(step, state, train_iter)
        if is_chief:  # so a resumed run's wall-clock counts up to here
          files.write_json(wall_clock_path, {'train_wall_clock_s': wall_clock()})
      if stop and not is_last:
        ckpt.close()
        writer.close()
        logging.warning(
            'Stopped by SIGTERM after step %d of %d; checkpoint saved in %s. '
            'Run the same command again to continue.', step,
            config.num_train_steps, ckpt.directory)
        return None
      if step % config.eval_every_steps == 0 or is_last:
        with progress.timing_eval(step):  # the ETA counts the evals left
          report = run_eval(step)
      writer.flush()

  if report is None:  # resumed after the end: evaluate what was restored
    report = run_eval(step)
  ckpt.close()
  writer.close()
  return report
