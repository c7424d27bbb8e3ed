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
    """
    step = self.latest_step() if step is None else step
    items = {'state': ocp.args.StandardRestore(abstract_state)}
    if data_iterator is not None:
      items['data'] = grain.checkpoint.CheckpointRestore(data_iterator)
    restored = self._manager.restore(step, args=ocp.args.Composite(**items))
    logging.info('Restored checkpoint step %d from %s', step, self.directory)
    return restored['state']

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
