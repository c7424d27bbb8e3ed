"""The device mesh, shardings, and process-local -> global batches.

Parallelism is `jax.jit` over a 2-D `jax.sharding.Mesh` (`config.mesh`):
the batch is split on the `data` axis; parameters and optimizer state are
replicated. A `model` axis (default size 1) splits the relational network's
pairs (`shard_pairs`): its devices hold the same examples and each computes
g on a share of the pairs, so the memory per device falls where the batch
cannot be split further.
"""

from collections.abc import Callable, Mapping
from typing import Any

import jax
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np

from hardattn import errors

DATA_AXIS = 'data'
MODEL_AXIS = 'model'


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


def create_mesh(devices: Any = None,
                shape: Mapping[str, int] | None = None) -> Mesh:
  """A (`data`, `model`) mesh over all devices (of all processes).

  Args:
    devices: the devices (default: all, in process order).
    shape: {'data': d, 'model': m} (`config.mesh`); -1 for one axis means
      all the remaining devices. Default: every device on `data`.

  Raises:
    errors.UserError: the shape does not fit the devices.
  """
  devices = np.asarray(jax.devices() if devices is None else devices
                       ).reshape(-1)
  shape = dict(shape or {})
  unknown = set(shape) - {DATA_AXIS, MODEL_AXIS}
  if unknown:
    raise errors.UserError(
        f'config.mesh has unknown axes {sorted(unknown)}; its axes are '
        f'{DATA_AXIS!r} and {MODEL_AXIS!r}.')
  data, model = shape.get(DATA_AXIS, -1), shape.get(MODEL_AXIS, 1)
  n = devices.size
  if data == -1 and model > 0 and n % model == 0:
    data = n // model
  elif model == -1 and data > 0 and n % data == 0:
    model = n // data
  if data < 1 or model < 1 or data * model != n:
    raise errors.UserError(
        f'config.mesh (data={shape.get(DATA_AXIS, -1)}, model='
        f'{shape.get(MODEL_AXIS, 1)}) does not fit {n} devices: the sizes '
        'must multiply to the device count (-1: the rest).')
  return Mesh(devices.reshape(data, model), (DATA_AXIS, MODEL_AXIS))


def mesh_from_config(config: Any) -> Mesh:
  """The mesh `config.mesh` asks for (all devices on `data` if unset)."""
  shape = config.get('mesh')
  return create_mesh(shape=dict(shape) if shape is not None else None)


def jit(fun: Callable[..., Any], mesh: Mesh, **jit_kwargs) -> Callable[..., Any]:
  """`jax.jit(fun, **jit_kwargs)`, traced and run with `mesh` set, so that
  `shard_pairs` inside the model sees the `model` axis."""
  jitted = jax.jit(fun, **jit_kwargs)

  def call(*args, **kwargs):
    with jax.set_mesh(mesh):
      return jitted(*args, **kwargs)
  return call


def shard_pairs(x: jax.Array) -> jax.Array:
  """Splits [batch, k, ...] over (`data`, `model`) when a mesh with a
  `model` axis larger than 1 is set (see `jit`); otherwise x as is."""
  mesh = jax.sharding.get_abstract_mesh()
  if (mesh.empty or MODEL_AXIS not in mesh.axis_names
      or mesh.shape[MODEL_AXIS] == 1):
    return x
  return jax.lax.with_sharding_constraint(x, P(DATA_AXIS, MODEL_AXIS))


def data_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over `data`."""
  return NamedSharding(mesh, P(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def check_batch_size(batch_size: int, mesh: Mesh, name: str) -> None:
  """The global batch must split evenly over the `data` axis and processes."""
  n = mesh.shape[DATA_AXIS]
  if batch_size % n or batch_size % jax.process_count():
    raise errors.UserError(
        f'config.{name}={batch_size} must be divisible by the number of '
        f'devices on the data axis ({n}) and processes '
        f'({jax.process_count()}).')


def to_global(batch: Mapping[str, np.ndarray], mesh: Mesh) -> dict[str, Any]:
  """Assembles each process's share of a batch into global jax Arrays."""
  sharding = data_sharding(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
          for k, v in batch.items()}
