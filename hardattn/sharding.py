"""The device mesh, shardings, and process-local -> global batches.

Parallelism is `jax.jit` over a `jax.sharding.Mesh`: the batch is split on
the `data` axis, parameters and optimizer state are replicated.
"""

from collections.abc import Mapping
from typing import Any

import jax
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np

from hardattn import errors

DATA_AXIS = 'data'


def initialize_distributed(*, auto: bool = False,
                           coordinator_address: str | None = None,
                           num_processes: int | None = None,
                           process_id: int | None = None) -> None:
  """Starts JAX's multi-process runtime, if asked (before any device use).

  Args:
    auto: call `jax.distributed.initialize()` with auto-detection (Cloud
      TPU, SLURM, ...).
    coordinator_address: HOST:PORT of process 0; with num_processes and
      process_id, an explicit initialization (takes precedence over auto).
    num_processes: processes in the run.
    process_id: this process's index.

  Raises:
    errors.UserError: the explicit arguments are given only in part.
  """
  explicit = (coordinator_address, num_processes, process_id)
  if any(v is not None for v in explicit):
    if any(v is None for v in explicit):
      raise errors.UserError(
          '--coordinator_address, --num_processes and --process_id go '
          'together (or use --distributed where they are auto-detected).')
    jax.distributed.initialize(coordinator_address=coordinator_address,
                               num_processes=num_processes,
                               process_id=process_id)
  elif auto:
    jax.distributed.initialize()


def create_mesh(devices: Any = None) -> Mesh:
  """A 1-D mesh over all devices (of all processes) named `data`."""
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices).reshape(-1), (DATA_AXIS,))


def data_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over `data`."""
  return NamedSharding(mesh, P(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def check_batch_size(batch_size: int, mesh: Mesh, name: str) -> None:
  """The global batch must split evenly over devices and processes."""
  n = mesh.devices.size
  if batch_size % n or batch_size % jax.process_count():
    raise errors.UserError(
        f'config.{name}={batch_size} must be divisible by the number of '
        f'devices ({n}) and processes ({jax.process_count()}).')


def to_global(batch: Mapping[str, np.ndarray], mesh: Mesh) -> dict[str, Any]:
  """Assembles each process's share of a batch into global jax Arrays."""
  sharding = data_sharding(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
          for k, v in batch.items()}
