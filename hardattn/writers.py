"""TensorBoard summaries without TensorFlow, and the progress line.

clu's metric writers need TensorFlow, which the training runtime must not
import; this writer has the same method names (write_scalars, write_images,
flush, close) on top of tensorboardX. Only process 0 writes.
"""

from collections.abc import Iterator, Mapping
import contextlib
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


def format_duration(seconds: float) -> str:
  """'H:MM:SS', with days in front past 24 hours ('8d 02:03:04')."""
  seconds = max(int(round(seconds)), 0)
  days, seconds = divmod(seconds, 86400)
  clock = time.strftime('%H:%M:%S', time.gmtime(seconds))
  return f'{days}d {clock}' if days else clock


class Progress:
  """Logs step, examples/s, ETA and the latest metrics.

  The ETA counts the train steps left at the current speed and the evals
  still to come (one every `eval_every_steps` and one at the end) at the
  duration of the latest eval; before the first eval the line says how
  many evals it leaves out.
  """

  def __init__(self, num_train_steps: int, batch_size: int, start_step: int,
               eval_every_steps: int | None = None):
    self._total = num_train_steps
    self._batch = batch_size
    self._eval_every = eval_every_steps
    self._eval_seconds = None  # the latest eval's duration
    self._last_step = start_step
    self._last_time = time.perf_counter()

  def reset_clock(self, step: int) -> None:
    """Restarts timing (after compilation or an eval)."""
    self._last_step = step
    self._last_time = time.perf_counter()

  @contextlib.contextmanager
  def timing_eval(self, step: int) -> Iterator[None]:
    """Times the eval it wraps (for the ETA), then restarts timing."""
    t0 = time.perf_counter()
    yield
    self._eval_seconds = time.perf_counter() - t0
    self.reset_clock(step)

  def evals_left(self, step: int) -> int:
    """Evals after the train step `step`, itself included: the training
    loop's at every multiple of eval_every_steps and at the end."""
    if not self._eval_every or step > self._total:
      return 0
    every = self._eval_every
    left = self._total // every - (max(step, 1) - 1) // every
    return left + (self._total % every != 0)

  def eta_seconds(self, step: int, steps_per_s: float) -> float:
    """Seconds to the end of training from after `step`, evals included
    where one has been timed."""
    train = (self._total - step) / max(steps_per_s, 1e-9)
    return train + self.evals_left(step) * (self._eval_seconds or 0.0)

  def log(self, step: int, scalars: Mapping[str, float]) -> dict[str, float]:
    """Logs a progress line; returns the speed as scalars to write."""
    now = time.perf_counter()
    steps = max(step - self._last_step, 1)
    steps_per_s = steps / max(now - self._last_time, 1e-9)
    self._last_step, self._last_time = step, now
    eta = format_duration(self.eta_seconds(step, steps_per_s))
    evals = self.evals_left(step)
    if evals and self._eval_seconds is None:
      eta += f' + {evals} eval(s) not timed yet'
    elif evals:
      eta += f' with {evals} eval(s) of {self._eval_seconds:.0f} s'
    shown = ' | '.join(f'{k.split("/", 1)[-1]} {v:.4f}'
                       for k, v in scalars.items())
    logging.info('step %d/%d | %.1f examples/s | %.2f steps/s | ETA %s | %s',
                 step, self._total, steps_per_s * self._batch, steps_per_s,
                 eta, shown)
    return {'train/steps_per_sec': steps_per_s,
            'train/examples_per_sec': steps_per_s * self._batch}
