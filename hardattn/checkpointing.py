"""Orbax checkpoints of the train state and the input iterator.

Each checkpoint step holds two items: `state` (the TrainState: step, params,
batch statistics, optimizer state) and `data` (the grain iterator's
position, one JSON file per process), so a resumed run sees exactly the
batches an uninterrupted run would have seen. Resume is automatic: the
trainer restores the latest step found in `<workdir>/checkpoints`.

A step that cannot be read (half-written, truncated, a file missing) is moved
to `<workdir>/corrupt_checkpoints/` with a warning and the step before it is
restored: a crash while saving costs the steps since that one, not the run.
"""

from collections.abc import Iterator
import contextlib
import os
import time
from typing import Any

from absl import logging
import grain
import jax
from jax.experimental import multihost_utils
import orbax.checkpoint as ocp

from hardattn import errors


def _param_shapes(tree: Any) -> dict[str, tuple[int, ...]]:
  """{'conv0.kernel': shape, ...} of a parameter tree or its metadata."""
  def name(key):
    for attr in ('key', 'name', 'idx'):
      if hasattr(key, attr):
        return str(getattr(key, attr))
    return str(key)
  return {'.'.join(name(k) for k in path): tuple(leaf.shape)
          for path, leaf in jax.tree_util.tree_leaves_with_path(tree)}


def workdir_checkpoints(workdir: str) -> str:
  """Where a run keeps its checkpoints: `<workdir>/checkpoints`."""
  return os.path.join(os.path.abspath(os.path.expanduser(workdir)),
                      'checkpoints')


class Checkpointer:
  """Saves and restores (state, data iterator) pairs by step."""

  def __init__(self, directory: str, *, max_to_keep: int = 3):
    self._manager = ocp.CheckpointManager(
        directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep,
                                             create=True),
        item_handlers={'state': ocp.StandardCheckpointHandler(),
                       'data': grain.checkpoint.CheckpointHandler()})

  @property
  def directory(self) -> str:
    return str(self._manager.directory)

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def restore_latest_good(self, abstract_state: Any,
                          data_iterator: Any = None) -> Any:
    """Restores the latest readable step, moving unreadable ones aside.

    Args:
      abstract_state: as for `restore`.
      data_iterator: as for `restore`.

    Returns:
      The restored TrainState, or None when no step is readable (all were
      moved aside: training starts afresh).

    Raises:
      errors.UserError: a readable checkpoint does not fit abstract_state.
    """
    for step in sorted(self._manager.all_steps(), reverse=True):
      try:
        return self.restore(abstract_state, data_iterator, step)
      except errors.UserError:
        raise
      except Exception as e:  # pylint: disable=broad-exception-caught
        self._set_aside(step, e)
    return None

  def _set_aside(self, step: int, error: Exception) -> None:
    """Moves an unreadable step out of the checkpoint directory."""
    parent = os.path.join(os.path.dirname(self.directory.rstrip('/')),
                          'corrupt_checkpoints')
    target = os.path.join(parent, f'{step}')
    if os.path.exists(target):
      target += time.strftime('_%Y%m%d_%H%M%S')
    logging.warning(
        'Checkpoint step %d in %s cannot be read (%s: %s); moving it to %s '
        'and restoring the step before it.', step, self.directory,
        type(error).__name__, str(error).splitlines()[0][:300] if str(error)
        else '', target)
    if jax.process_index() == 0:
      os.makedirs(parent, exist_ok=True)
      os.replace(os.path.join(self.directory, str(step)), target)
    if jax.process_count() > 1:
      multihost_utils.sync_global_devices(f'set_aside_checkpoint_{step}')
    self._manager.reload()

  def restore(self, abstract_state: Any, data_iterator: Any = None,
              step: int | None = None) -> Any:
    """Restores `step` (default: latest) into the given structures.

    Args:
      abstract_state: the TrainState as jax.ShapeDtypeStructs with shardings
        (e.g. from `jax.eval_shape`), telling orbax where arrays go.
      data_iterator: a grain iterator, set in place to the saved position;
        None restores the state only (inference).
      step: which step; None for the latest.

    Returns:
      The restored TrainState.

    Raises:
      errors.UserError: the checkpoint's arrays do not fit abstract_state.
    """
    step = self.latest_step() if step is None else step
    items = {'state': ocp.args.StandardRestore(abstract_state)}
    if data_iterator is not None:
      items['data'] = grain.checkpoint.CheckpointRestore(data_iterator)
    self._check_params_fit(step, abstract_state)
    restored = self._manager.restore(step, args=ocp.args.Composite(**items))
    logging.info('Restored checkpoint step %d from %s', step, self.directory)
    return restored['state']

  def _check_params_fit(self, step: int, abstract_state: Any) -> None:
    """Raises a UserError unless the saved params match the model's."""
    saved = self._manager.item_metadata(step)['state']
    want = _param_shapes(abstract_state.params)
    have = _param_shapes(saved['params']) if saved is not None else want
    if have == want:
      return
    diff = sorted(set(have) ^ set(want)) or sorted(
        k for k in want if have[k] != want[k])
    name = diff[0]
    raise errors.UserError(
        f'Checkpoint step {step} in {self.directory} does not fit this '
        f"config's model: params {name} is {have.get(name, 'absent')} there "
        f'and {want.get(name, "absent")} here ({len(diff)} such). Use the '
        'config and overrides the run was trained with, or another workdir.')

  def save(self, step: int, state: Any, data_iterator: Any) -> None:
    """Starts saving (state, data iterator position) as `step`.

    Raises:
      errors.UserError: writing failed (e.g. the disk is full; an earlier
        save's error may surface here).
    """
    with self._write_errors(f'step {step}'):
      self._manager.save(
          step, args=ocp.args.Composite(
              state=ocp.args.StandardSave(state),
              data=grain.checkpoint.CheckpointSave(data_iterator)))
    if jax.process_index() == 0:
      logging.info('Saving checkpoint step %d to %s', step, self.directory)

  @contextlib.contextmanager
  def _write_errors(self, what: str) -> Iterator[None]:
    """OSErrors (disk full, no permission) as one-line UserErrors."""
    try:
      yield
    except OSError as e:
      raise errors.UserError(
          f'Writing checkpoint {what} in {self.directory} failed: {e}. The '
          'earlier checkpoints are kept: free some space (or fix the '
          'permissions) and rerun the same command to resume.') from e

  def wait_until_finished(self) -> None:
    with self._write_errors('(finishing)'):
      self._manager.wait_until_finished()

  def close(self) -> None:
    with self._write_errors('(finishing)'):
      self._manager.wait_until_finished()
    self._manager.close()


def read_params(workdir: str, step: int) -> Any:
  """A run's params at a saved step as host numpy arrays, whatever topology
  (device and process count) wrote them; for analysis and tests."""
  path = os.path.join(workdir_checkpoints(workdir), str(step), 'state')
  with ocp.StandardCheckpointer() as checkpointer:
    metadata = checkpointer.metadata(path)
    tree = getattr(metadata, 'item_metadata', metadata)
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    target = jax.tree.map(
        lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device),
        dict(tree))
    return jax.device_get(checkpointer.restore(path, target)['params'])
