"""TensorBoard summaries without TensorFlow, and the progress line.

clu's metric writers need TensorFlow, which the training runtime must not
import; this writer has the same method names (write_scalars, write_images,
flush, close) on top of tensorboardX. Only process 0 writes.
"""

from collections.abc import Mapping
import time

from absl import logging
import jax
import numpy as np
import tensorboardX


class SummaryWriter:
  """Scalars and images into `logdir` as TensorBoard event files."""

  def __init__(self, logdir: str):
    self._writer = (tensorboardX.SummaryWriter(logdir)
                    if jax.process_index() == 0 else None)

  def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
    if self._writer is None:
      return
    for name, value in scalars.items():
      self._writer.add_scalar(name, float(value), step)

  def write_images(self, step: int, images: Mapping[str, np.ndarray]) -> None:
    """images: name -> uint8 [height, width, 3]."""
    if self._writer is None:
      return
    for name, image in images.items():
      self._writer.add_image(name, np.asarray(image), step,
                             dataformats='HWC')

  def flush(self) -> None:
    if self._writer is not None:
      self._writer.flush()

  def close(self) -> None:
    if self._writer is not None:
      self._writer.close()


class Progress:
  """Logs step, examples/s, ETA and the latest metrics."""

  def __init__(self, num_train_steps: int, batch_size: int, start_step: int):
    self._total = num_train_steps
    self._batch = batch_size
    self._last_step = start_step
    self._last_time = time.perf_counter()

  def reset_clock(self, step: int) -> None:
    """Restarts timing (after compilation or an eval)."""
    self._last_step = step
    self._last_time = time.perf_counter()

  def log(self, step: int, scalars: Mapping[str, float]) -> dict[str, float]:
    """Logs a progress line; returns the speed as scalars to write."""
    now = time.perf_counter()
    steps = max(step - self._last_step, 1)
    steps_per_s = steps / max(now - self._last_time, 1e-9)
    self._last_step, self._last_time = step, now
    eta = (self._total - step) / steps_per_s
    shown = ' | '.join(f'{k.split("/", 1)[-1]} {v:.4f}'
                       for k, v in scalars.items())
    logging.info('step %d/%d | %.1f examples/s | %.2f steps/s | ETA %s | %s',
                 step, self._total, steps_per_s * self._batch, steps_per_s,
                 time.strftime('%H:%M:%S', time.gmtime(eta)), shown)
    return {'train/steps_per_sec': steps_per_s,
            'train/examples_per_sec': steps_per_s * self._batch}
