r"""torchvision's ImageNet ResNet weights as Flax variables, without torch.

Nothing is downloaded at run time. Get torchvision's checkpoint yourself
(ResNet-101, IMAGENET1K_V1, 170 MB), then convert it once:

  wget https://download.pytorch.org/models/resnet101-63fe2227.pth
  python -m hardattn.models.resnet_weights \
      --input=resnet101-63fe2227.pth --output=resnet101.msgpack \
      --preset=resnet101

and load the result:

  variables = resnet_weights.load_variables('resnet101.msgpack', 'resnet101')
  grid = resnet.from_preset('resnet101').apply(
      variables, resnet.normalize_images(images))  # [b, 14, 14, 2048] at 448

`read_torch_state_dict` reads a `torch.save` file itself: the zip format
(torch >= 1.6; torchvision's published weights) or the legacy pickle stream.
Its unpickler admits only what a state dict of tensors is made of (dicts,
`torch._utils._rebuild_tensor_v2/v3`, storage classes and dtypes); any other
global in the file is an error, so loading a file runs none of its code. An
`.npz` with the same key names is read too.

The conversion maps torch key `layer3.5.downsample.0.weight` [O, I, kh, kw]
to `params['layer3_5']['downsample_0']['kernel']` [kh, kw, I, O], and a batch
norm's weight / bias / running_mean / running_var to `scale` / `bias` /
`batch_stats` `mean` / `var`; `fc.*` and `num_batches_tracked` are dropped.
Every tensor is checked against the shapes of `ResNet.init`.
"""

from collections.abc import Mapping
import collections
import dataclasses
import os
import pickle
import re
import struct
import sys
import types
from typing import Any
import zipfile

from absl import app
from absl import flags
from flax import serialization
from flax import traverse_util
import jax
import jax.numpy as jnp
import numpy as np

from hardattn import cli
from hardattn import errors
from hardattn import files
from hardattn.models import googlenet
from hardattn.models import resnet

CHECKPOINT_URL = 'https://download.pytorch.org/models/resnet101-63fe2227.pth'

# torch storage classes (the zip format pickles them as `torch.<Name>`;
# `UntypedStorage` holds bytes) and dtypes (`_rebuild_tensor_v3`).
_STORAGE_DTYPES = {
    'DoubleStorage': np.float64,
    'FloatStorage': np.float32,
    'HalfStorage': np.float16,
    'BFloat16Storage': jnp.bfloat16,
    'LongStorage': np.int64,
    'IntStorage': np.int32,
    'ShortStorage': np.int16,
    'CharStorage': np.int8,
    'ByteStorage': np.uint8,
    'BoolStorage': np.bool_,
    'UntypedStorage': np.uint8,
}
_TORCH_DTYPES = {
    'float64': np.float64, 'float32': np.float32, 'float16': np.float16,
    'bfloat16': jnp.bfloat16, 'float8_e4m3fn': jnp.float8_e4m3fn,
    'float8_e5m2': jnp.float8_e5m2, 'int64': np.int64, 'int32': np.int32,
    'int16': np.int16, 'int8': np.int8, 'uint64': np.uint64,
    'uint32': np.uint32, 'uint16': np.uint16, 'uint8': np.uint8,
    'bool': np.bool_,
}
_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
_LEGACY_PROTOCOL = 1001


class _Corrupt(Exception):
  """The file's structure is not what torch.save writes."""


class _ForbiddenGlobal(Exception):
  """The pickle names a global outside the state-dict whitelist."""


class _NoBuild:
  """Refuses pickle's BUILD opcode, which would set attributes on objects
  that this module hands to the unpickler (shared markers included)."""

  def __setstate__(self, state):
    raise _Corrupt(f'the pickle sets the state of a {type(self).__name__}')


@dataclasses.dataclass(frozen=True)
class _StorageClass(_NoBuild):
  """Stands for a torch storage class named in the pickle."""
  name: str
  dtype: Any


@dataclasses.dataclass(frozen=True)
class _DType(_NoBuild):
  """Stands for a torch dtype named in the pickle."""
  name: str
  dtype: Any


@dataclasses.dataclass(eq=False)
class _Storage(_NoBuild):
  """A storage record; its bytes are read after the pickle (legacy format)."""
  key: str
  numel: int  # elements of `dtype`
  dtype: Any
  data: bytes | None = None


@dataclasses.dataclass(eq=False)
class _LazyTensor(_NoBuild):
  """A tensor as a strided view of a storage, made an array at the end."""
  storage: _Storage
  offset: int
  size: tuple[int, ...]
  stride: tuple[int, ...]
  dtype: Any


def _int_tuple(value, what: str) -> tuple[int, ...]:
  if not (isinstance(value, (tuple, list)) and
          all(isinstance(v, int) for v in value)):
    raise _Corrupt(f'tensor {what} is {value!r}, not a tuple of ints')
  return tuple(value)


def _lazy_tensor(storage, offset, size, stride, dtype) -> _LazyTensor:
  if not isinstance(storage, _Storage) or not isinstance(offset, int):
    raise _Corrupt('a tensor is not built from a storage record')
  size, stride = _int_tuple(size, 'size'), _int_tuple(stride, 'stride')
  if len(size) != len(stride):
    raise _Corrupt(f'tensor size {size} and stride {stride} differ in rank')
  return _LazyTensor(storage, offset, size, stride, dtype)


def _rebuild_tensor_v2(storage, storage_offset, size, stride,
                       requires_grad=False, backward_hooks=None,
                       metadata=None):
  del requires_grad, backward_hooks, metadata  # unused
  if not isinstance(storage, _Storage):
    raise _Corrupt('a tensor is not built from a storage record')
  return _lazy_tensor(storage, storage_offset, size, stride,
                      storage.dtype)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad,
                       backward_hooks, dtype, metadata=None):
  del requires_grad, backward_hooks, metadata  # unused
  if not isinstance(dtype, _DType):
    raise _Corrupt(f'tensor dtype is {dtype!r}')
  return _lazy_tensor(storage, storage_offset, size, stride, dtype.dtype)


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
  del requires_grad, backward_hooks, state  # unused
  return data


# The only globals a state-dict pickle may name.
_ALLOWED_GLOBALS = {
    ('collections', 'OrderedDict'): collections.OrderedDict,
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor_v2,
    ('torch._utils', '_rebuild_tensor_v3'): _rebuild_tensor_v3,
    ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
    ('torch._utils', '_rebuild_parameter_with_state'): _rebuild_parameter,
    ('torch.storage', 'UntypedStorage'): _StorageClass(
        'UntypedStorage', np.uint8),
    **{('torch', name): _StorageClass(name, dtype)
       for name, dtype in _STORAGE_DTYPES.items()},
    **{('torch', name): _DType(name, dtype)
       for name, dtype in _TORCH_DTYPES.items()},
}


class _StateDictUnpickler(pickle.Unpickler):
  """Unpickles tensors in dicts and nothing else."""

  def __init__(self, file, storages: dict[str, '_Storage']):
    super().__init__(file)
    self._storages = storages

  def find_class(self, module: str, name: str):
    allowed = _ALLOWED_GLOBALS.get((module, name))
    if allowed is None:
      raise _ForbiddenGlobal(f'{module}.{name}')
    if isinstance(allowed, types.FunctionType):
      # A fresh wrapper per lookup: BUILD may set attributes on what this
      # returns, and must not reach the module's functions.
      def call(*args, **kwargs):
        return allowed(*args, **kwargs)
      return call
    return allowed  # OrderedDict (a builtin type) or a _NoBuild marker

  def persistent_load(self, pid):
    if not (isinstance(pid, tuple) and len(pid) in (5, 6) and
            pid[0] == 'storage'):
      raise _Corrupt(f'unexpected persistent id {pid!r:.80}')
    storage_class, key, numel = pid[1], str(pid[2]), pid[4]
    if len(pid) == 6 and pid[5] is not None:
      raise _Corrupt('storage views (torch < 0.4 files) are not supported')
    if not isinstance(storage_class, _StorageClass) or not isinstance(
        numel, int):
      raise _Corrupt(f'unexpected storage record {pid!r:.80}')
    storage = self._storages.get(key)
    if storage is None:
      storage = _Storage(key, numel, storage_class.dtype)
      self._storages[key] = storage
    return storage


def _array(tensor: _LazyTensor, big_endian: bool) -> np.ndarray:
  """The tensor's values: `size` elements at `offset + index . stride`."""
  dtype = np.dtype(tensor.dtype)
  data = tensor.storage.data
  if data is None:
    raise _Corrupt(f'storage {tensor.storage.key} has no data')
  if any(s == 0 for s in tensor.size):
    return np.zeros(tensor.size, dtype)
  available = len(data) // dtype.itemsize
  last = tensor.offset + sum((n - 1) * s
                             for n, s in zip(tensor.size, tensor.stride))
  if tensor.offset < 0 or min(tensor.stride, default=0) < 0 or (
      last >= available):
    raise _Corrupt(f'a tensor of size {tensor.size}, stride {tensor.stride},'
                   f' offset {tensor.offset} overruns storage '
                   f'{tensor.storage.key} ({available} elements)')
  flat = np.frombuffer(data, dtype, count=available)
  if big_endian and dtype.itemsize > 1:
    flat = flat.byteswap()
  view = np.lib.stride_tricks.as_strided(
      flat[tensor.offset:], shape=tensor.size,
      strides=[s * dtype.itemsize for s in tensor.stride], writeable=False)
  return np.array(view, dtype)


def _materialize(obj, big_endian: bool):
  """Replaces every lazy tensor in nested dicts / lists by its array."""
  if isinstance(obj, _LazyTensor):
    return _array(obj, big_endian)
  if isinstance(obj, dict):
    return {k: _materialize(v, big_endian) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return type(obj)(_materialize(v, big_endian) for v in obj)
  return obj


def _load_zip(archive: zipfile.ZipFile):
  """The pickled object of a torch >= 1.6 zip checkpoint."""
  pickles = [n for n in archive.namelist()
             if n == 'data.pkl' or n.endswith('/data.pkl')]
  if not pickles:
    raise _Corrupt('no data.pkl record: not a torch.save zip file')
  prefix = pickles[0][:-len('data.pkl')]
  big_endian = False
  if prefix + 'byteorder' in archive.namelist():
    big_endian = archive.read(prefix + 'byteorder').strip() == b'big'
  storages = {}
  with archive.open(pickles[0]) as f:
    obj = _StateDictUnpickler(f, storages).load()
  for key, storage in storages.items():
    name = f'{prefix}data/{key}'
    try:
      storage.data = archive.read(name)
    except KeyError:
      raise _Corrupt(f'storage record {name} is missing') from None
    need = storage.numel * np.dtype(storage.dtype).itemsize
    if len(storage.data) < need:
      raise _Corrupt(f'storage record {name} has {len(storage.data)} bytes,'
                     f' {need} expected')
  return _materialize(obj, big_endian)


def _load_legacy(f):
  """The pickled object of a torch < 1.6 (`_legacy_save`) checkpoint."""
  def small_pickle():
    return _StateDictUnpickler(f, {}).load()
  if small_pickle() != _LEGACY_MAGIC:
    raise _Corrupt('not a torch.save file (no zip archive, no legacy magic '
                   'number)')
  if small_pickle() != _LEGACY_PROTOCOL:
    raise _Corrupt('unknown legacy torch.save protocol version')
  sys_info = small_pickle()
  big_endian = isinstance(sys_info, dict) and not sys_info.get(
      'little_endian', True)
  storages = {}
  obj = _StateDictUnpickler(f, storages).load()
  keys = small_pickle()
  if not isinstance(keys, list):
    raise _Corrupt('no storage key list after the pickle')
  for key in keys:
    storage = storages.get(str(key))
    if storage is None:
      raise _Corrupt(f'storage {key} is not used by the pickle')
    header = f.read(8)
    if len(header) != 8:
      raise _Corrupt(f'storage {key} is truncated')
    (numel,) = struct.unpack('>q' if big_endian else '<q', header)
    nbytes = numel * np.dtype(storage.dtype).itemsize
    storage.data = f.read(nbytes)
    if len(storage.data) != nbytes:
      raise _Corrupt(f'storage {key} is truncated')
  return _materialize(obj, big_endian)


def _tensors_of(obj, path: str) -> dict[str, np.ndarray]:
  """The state dict in a loaded checkpoint (maybe under 'state_dict')."""
  if not isinstance(obj, dict):
    raise errors.UserError(f'{path} holds a {type(obj).__name__}, not a '
                           'state dict (a dict of tensors).')
  def tensors(d):
    return {k: v for k, v in d.items()
            if isinstance(k, str) and isinstance(v, np.ndarray)}
  found = tensors(obj)
  for key in ('state_dict', 'model'):
    if not found and isinstance(obj.get(key), dict):
      found = tensors(obj[key])
  if not found:
    raise errors.UserError(f'{path} holds no tensors (keys: '
                           f'{sorted(map(str, obj))[:10]}).')
  return found


def read_torch_state_dict(path: str) -> dict[str, np.ndarray]:
  """Reads a `torch.save`d state dict (or an .npz) without torch.

  Args:
    path: a torch checkpoint (zip format, or the legacy pre-1.6 format), or
      an `.npz` of the same key names.

  Returns:
    key -> array, in the file's order, with torch's dtypes (bfloat16 as
    `jnp.bfloat16`), shapes, and the values a strided view selects.

  Raises:
    errors.UserError: the file is missing, corrupt, holds no tensors, or its
      pickle names a global other than the state-dict types (then nothing
      from it has run).
  """
  if not os.path.isfile(path):
    raise errors.UserError(
        f'Checkpoint not found: {path}. torchvision\'s ResNet-101 weights '
        f'are at {CHECKPOINT_URL} (download them yourself).')
  try:
    if zipfile.is_zipfile(path):
      with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if names and all(n.endswith('.npy') for n in names):
          with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
        obj = _load_zip(archive)
    else:
      with open(path, 'rb') as f:
        obj = _load_legacy(f)
  except _ForbiddenGlobal as e:
    raise errors.UserError(
        f'Refusing to load {path}: its pickle names {e}, which a state dict '
        'of tensors does not contain (only dicts, tensors, storages and '
        'dtypes are allowed; nothing from the file was run).') from None
  except (_Corrupt, pickle.UnpicklingError, zipfile.BadZipFile, EOFError,
          AttributeError, IndexError, KeyError, TypeError, ValueError,
          OSError, struct.error, MemoryError, RecursionError) as e:
    reason = str(e) if isinstance(e, _Corrupt) else (
        f'{type(e).__name__}: {e}')
    raise errors.UserError(f'{path} is not a readable torch checkpoint: '
                           f'{reason}') from e
  return _tensors_of(obj, path)


def _preset_fields(preset: str | Mapping[str, Any]) -> dict[str, Any]:
  """`ResNet` architecture fields of a preset name or a fields mapping."""
  if isinstance(preset, str):
    if preset not in resnet.RESNET_PRESETS:
      raise errors.UserError(f'Unknown ResNet preset {preset!r}; known: '
                             f'{sorted(resnet.RESNET_PRESETS)}.')
    preset = resnet.RESNET_PRESETS[preset]
  return dict(stage_sizes=tuple(preset['stage_sizes']),
              width=int(preset['width']))


def match_torch(shapes: Mapping[tuple[str, ...], tuple[int, ...]],
                state_dict: Mapping[str, Any]):
  """torchvision's tensors for a Flax model's variables.

  Args:
    shapes: the model's variable shapes by path (`variable_shapes`).
    state_dict: torch key -> array.

  Returns:
    (flat: path -> float32 array, kernels OIHW -> HWIO; missing torch keys;
    'key shape (expected shape)' lines; the torch keys used).
  """
  flat, missing, misshaped, used = {}, [], [], set()
  for path in sorted(shapes, key=lambda p: p[0] != 'params'):  # stable
    shape, key = shapes[path], torch_key(path)
    if key not in state_dict:
      missing.append(key)
      continue
    used.add(key)
    value = np.asarray(state_dict[key])
    torch_shape = shape
    if path[-1] == 'kernel':  # HWIO here, OIHW in torch
      torch_shape = (shape[3], shape[2], shape[0], shape[1])
    if value.shape != torch_shape:
      misshaped.append(f'{key} {value.shape} (expected {torch_shape})')
      continue
    if path[-1] == 'kernel':
      value = value.transpose(2, 3, 1, 0)
    flat[path] = np.ascontiguousarray(value, np.float32)
  return flat, missing, misshaped, used


def variable_shapes(model: resnet.ResNet) -> dict[tuple[str, ...],
                                                    tuple[int, ...]]:
  """(collection, module..., name) -> shape of every variable of `model`."""
  variables = jax.eval_shape(lambda: model.init(
      jax.random.key(0), jnp.zeros((1, 32, 32, 3), jnp.float32)))
  return {k: tuple(v.shape)
          for k, v in traverse_util.flatten_dict(dict(variables)).items()}


_TORCH_NAMES = {
    ('params', 'kernel'): 'weight', ('params', 'scale'): 'weight',
    ('params', 'bias'): 'bias', ('batch_stats', 'mean'): 'running_mean',
    ('batch_stats', 'var'): 'running_var',
}


def torch_key(flax_path: tuple[str, ...]) -> str:
  """('params', 'layer3_5', 'downsample_0', 'kernel') ->
  'layer3.5.downsample.0.weight'."""
  collection, *modules, name = flax_path
  return '.'.join([m.replace('_', '.') for m in modules] +
                  [_TORCH_NAMES[(collection, name)]])


def _stage_of(key: str) -> int:
  """Stage number of a torch key ('layer3.0...' -> 3), 0 for the stem."""
  match = re.match(r'layer(\d+)[._]', key)
  return int(match.group(1)) if match else 0


def _listing(items: list[str], limit: int = 8) -> str:
  more = f', ... ({len(items) - limit} more)' if len(items) > limit else ''
  return ', '.join(items[:limit]) + more


listing = _listing  # for the other backbones' converters


def torchvision_to_flax(state_dict: Mapping[str, np.ndarray],
                        stage_sizes=(3, 4, 23, 3), width: int = 64,
                        num_stages: int = 4, *,
                        source: str = 'The state dict') -> dict[str, Any]:
  """torchvision ResNet state dict -> `ResNet` variables.

  Args:
    state_dict: torch key -> array (`read_torch_state_dict`).
    stage_sizes: `ResNet.stage_sizes` of the checkpoint's architecture.
    width: `ResNet.width`.
    num_stages: stages to keep; keys of later stages are dropped.
    source: names the state dict in errors (e.g. its file).

  Returns:
    {'params': ..., 'batch_stats': ...} of float32 arrays, structured as
    `ResNet(stage_sizes, width, num_stages).init(...)`.

  Raises:
    errors.UserError: naming every missing key, every key of the wrong
      shape, and keys that the architecture lacks (a wrong preset).
  """
  model = resnet.ResNet(stage_sizes=tuple(stage_sizes), width=width,
                        num_stages=num_stages)
  flat, missing, misshaped, used = match_torch(variable_shapes(model),
                                              state_dict)
  unexpected = [k for k in state_dict if k not in used and not (
      k.startswith('fc.') or k.endswith('num_batches_tracked') or
      _stage_of(k) > num_stages)]
  if missing or misshaped or unexpected:
    lines = [f'{source} does not fit ResNet(stage_sizes='
             f'{tuple(stage_sizes)}, width={width}):']
    for what, keys in (('missing keys', missing), ('wrong shapes',
                                                   misshaped),
                       ('keys this architecture lacks', unexpected)):
      if keys:
        lines.append(f'  {what} ({len(keys)}): {_listing(keys)}')
    lines.append('Check that the preset matches the checkpoint '
                 f'(presets: {sorted(resnet.RESNET_PRESETS)}).')
    raise errors.UserError('\n'.join(lines))
  return traverse_util.unflatten_dict(flat)


def convert(input_path: str, output_path: str,
            preset: str | Mapping[str, Any] = 'resnet101') -> dict[str, Any]:
  """Reads a torchvision checkpoint and writes its Flax variables (msgpack).

  Args:
    input_path: `torch.save` file or .npz (`read_torch_state_dict`).
    output_path: where to write `flax.serialization.to_bytes(variables)`.
    preset: a `resnet.RESNET_PRESETS` name, or a mapping with its
      `stage_sizes` and `width`.

  Returns:
    The variables written (all stages).
  """
  state_dict = read_torch_state_dict(input_path)
  if isinstance(preset, str) and preset in googlenet.PRESETS:
    variables = googlenet.torchvision_to_flax(state_dict, preset,
                                              source=input_path)
  else:
    variables = torchvision_to_flax(state_dict, **_preset_fields(preset),
                                    source=input_path)
  directory = os.path.dirname(os.path.abspath(output_path))
  os.makedirs(directory, exist_ok=True)
  with files.atomic_open(output_path, 'wb') as f:
    f.write(serialization.to_bytes(variables))
  return variables


def load_variables(path: str, preset: str | Mapping[str, Any] = 'resnet101',
                   *, num_stages: int = 4) -> dict[str, Any]:
  """Reads variables that `convert` wrote, for `ResNet(**preset, num_stages)`.

  Args:
    path: the .msgpack file.
    preset: a `resnet.RESNET_PRESETS` name, or a mapping with `stage_sizes`
      and `width`.
    num_stages: `ResNet.num_stages`; later stages' variables are dropped.

  Returns:
    {'params': ..., 'batch_stats': ...} of numpy arrays.

  Raises:
    errors.UserError: the file is missing or unreadable, or does not fit
      the preset (naming the missing, extra and mis-shaped variables).
  """
  is_googlenet = isinstance(preset, str) and preset in googlenet.PRESETS
  if not os.path.isfile(path):
    if is_googlenet:
      raise errors.UserError(
          f'GoogLeNet weights not found: {path}. Make them from '
          f"torchvision's checkpoint ({googlenet.CHECKPOINT_URL}): python -m "
          'hardattn.models.resnet_weights --input=googlenet-1378be20.pth '
          f'--output={path} --preset={preset}')
    raise errors.UserError(
        f'ResNet weights not found: {path}. Make them from torchvision\'s '
        f'checkpoint ({CHECKPOINT_URL}): python -m '
        'hardattn.models.resnet_weights --input=resnet101-63fe2227.pth '
        f'--output={path} --preset=resnet101')
  try:
    with open(path, 'rb') as f:
      restored = serialization.msgpack_restore(f.read())
    flat = traverse_util.flatten_dict(restored)
  except Exception as e:  # pylint: disable=broad-except  # msgpack's errors
    raise errors.UserError(f'{path} is not a readable Flax msgpack file: '
                           f'{type(e).__name__}: {e}') from e
  if is_googlenet:
    expected = googlenet.expected_shapes(preset, num_stages)
    stage_of = googlenet.stage_of_path
    architecture = f'GoogLeNet preset {preset!r}'
  else:
    fields = _preset_fields(preset)
    expected = variable_shapes(resnet.ResNet(**fields,
                                             num_stages=num_stages))
    stage_of = lambda k: _stage_of(k[1] if len(k) > 1 else '')
    architecture = (f"ResNet(stage_sizes={fields['stage_sizes']}, "
                    f"width={fields['width']})")
  missing = ['/'.join(k) for k in expected if k not in flat]
  misshaped = [f"{'/'.join(k)} {np.shape(flat[k])} (expected {shape})"
               for k, shape in expected.items()
               if k in flat and np.shape(flat[k]) != shape]
  extra = ['/'.join(k) for k in flat if k not in expected and
           stage_of(k) <= num_stages]
  if missing or misshaped or extra:
    lines = [f'{path} does not fit {architecture}:']
    for what, keys in (('missing', missing), ('wrong shapes', misshaped),
                       ('extra', extra)):
      if keys:
        lines.append(f'  {what} ({len(keys)}): {_listing(keys)}')
    lines.append('Was it converted with the same --preset?')
    raise errors.UserError('\n'.join(lines))
  return traverse_util.unflatten_dict(
      {k: np.asarray(flat[k]) for k in expected})


def _define_flags() -> dict[str, flags.FlagHolder]:
  """The command's flags, defined only when run as a program (other modules
  define flags of the same names)."""
  return dict(
      input=flags.DEFINE_string(
          'input', None, 'torchvision checkpoint (.pth, torch.save) or .npz, '
          f'e.g. resnet101-63fe2227.pth from {CHECKPOINT_URL}.'),
      output=flags.DEFINE_string('output', None,
                                 'Where to write the Flax variables '
                                 '(.msgpack).'),
      preset=flags.DEFINE_enum('preset', 'resnet101',
                               sorted(resnet.RESNET_PRESETS) +
                               sorted(googlenet.PRESETS),
                               'The checkpoint\'s architecture.'),
  )


def main(argv, flag_values: dict[str, flags.FlagHolder]):
  cli.quiet_libraries()
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  f = {name: holder.value for name, holder in flag_values.items()}
  if not f['input'] or not f['output']:
    sys.exit('error: --input and --output are required.')
  try:
    variables = convert(f['input'], f['output'], f['preset'])
  except errors.UserError as e:
    sys.exit(f'error: {e}')
  counts = {c: sum(v.size for v in traverse_util.flatten_dict(d).values())
            for c, d in variables.items()}
  print(f"{f['input']} -> {f['output']}: {f['preset']}, "
        f"{counts['params']:,} params, {counts['batch_stats']:,} batch-norm "
        f'statistics, {os.path.getsize(f["output"]) / 2**20:.1f} MiB')


if __name__ == '__main__':
  _FLAGS = _define_flags()
  app.run(lambda argv: main(argv, _FLAGS), flags_parser=cli.parse_flags)
