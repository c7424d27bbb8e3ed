"""Orbax checkpoints of the train state and the input iterator.

Each checkpoint step holds two items: `state` (the TrainState: step, params,
batch statistics, optimizer state) and `data` (the grain iterator's
position, one JSON file per process), so a resumed run sees exactly the
batches an uninterrupted run would have seen. Resume is automatic: the
trainer restores the latest step found in `<workdir>/checkpoints`.
"""

from typing import Any

from absl import logging
import grain
import jax
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
    """Starts saving (state, data iterator position) as `step`."""
    self._manager.save(
        step, args=ocp.args.Composite(
            state=ocp.args.StandardSave(state),
            data=grain.checkpoint.CheckpointSave(data_iterator)))
    if jax.process_index() == 0:
      logging.info('Saving checkpoint step %d to %s', step, self.directory)

  def wait_until_finished(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()
