"""What a workdir holds besides checkpoints, so a run can answer questions.

Training writes, next to the checkpoints:

  config.json:  the run's config (overrides included), as
      {"format": 1, "config": {...}, "tuple_paths": [[key, ...], ...]}:
      plain JSON, plus where the config had tuples (JSON lists come back as
      tuples there, e.g. model.g_features).
  dataset.json: {"format": 1, "meta": {...}, "inputs": {...}}: the plain
      fields of the dataset's `DatasetMeta` (answer names, shapes, question
      kind, ...) and the dataset module's `prediction_inputs`: what turns a
      question string and an image file into the model's inputs (e.g. the
      token vocabulary, the question length, the image size).

`load` gives them back without the config file or the prepared dataset, for
`hardattn.predict`. Both files are written atomically (temporary file, then
rename).
"""

from collections.abc import Mapping
import dataclasses
import json
import os
from typing import Any, NamedTuple

import ml_collections

from hardattn import datasets
from hardattn import errors
from hardattn import files
from hardattn.datasets import pipeline

CONFIG_FILE = 'config.json'
DATASET_FILE = 'dataset.json'
FORMAT = 1

# DatasetMeta fields that are functions, rebuilt from `inputs` on load.
_FUNCTION_FIELDS = ('question_text', 'picture_fn')


class RunAssets(NamedTuple):
  """A run's config, its dataset's DatasetMeta and prediction inputs.

  Attributes:
    config: the run's config, locked.
    meta: the DatasetMeta (question_text decodes questions again;
      picture_fn is None: the batch's own images are drawn).
    inputs: the dataset module's `prediction_inputs` (JSON types).
  """
  config: ml_collections.ConfigDict
  meta: pipeline.DatasetMeta
  inputs: dict[str, Any]


def _plain(value: Any, path: list[Any], tuple_paths: list[list[Any]]) -> Any:
  """JSON types for a config value; records the paths of tuples."""
  if isinstance(value, (ml_collections.ConfigDict, Mapping)):
    return {str(k): _plain(v, path + [str(k)], tuple_paths)
            for k, v in value.items()}
  if isinstance(value, (tuple, list)):
    if isinstance(value, tuple):
      tuple_paths.append(path)
    return [_plain(v, path + [i], tuple_paths) for i, v in enumerate(value)]
  if value is None or isinstance(value, (bool, int, float, str)):
    return value
  raise errors.UserError(
      f'config.{".".join(map(str, path))} = {value!r} cannot be saved to '
      f'{CONFIG_FILE}: configs may only hold numbers, strings, booleans, '
      'None, tuples, lists and nested ConfigDicts.')


def config_to_json(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """The config.json object of a config (see the module docstring)."""
  tuple_paths = []
  plain = _plain(config.to_dict(), [], tuple_paths)
  return {'format': FORMAT, 'config': plain, 'tuple_paths': tuple_paths}


def config_from_json(obj: Mapping[str, Any]) -> ml_collections.ConfigDict:
  """Inverse of `config_to_json`: a locked ConfigDict, tuples restored."""
  tree = obj['config']
  # Deepest paths first, so a tuple inside a tuple is made before its parent.
  for path in sorted(obj.get('tuple_paths', ()), key=len, reverse=True):
    if not path:
      continue
    parent = tree
    for key in path[:-1]:
      parent = parent[key]
    parent[path[-1]] = tuple(parent[path[-1]])
  config = ml_collections.ConfigDict(tree)
  config.lock()
  return config


def meta_to_json(meta: pipeline.DatasetMeta) -> dict[str, Any]:
  """DatasetMeta's plain fields (not its functions), in JSON types."""
  out = {}
  for field in dataclasses.fields(meta):
    if field.name in _FUNCTION_FIELDS:
      continue
    value = getattr(meta, field.name)
    out[field.name] = list(value) if isinstance(value, tuple) else value
  return out


def meta_from_json(obj: Mapping[str, Any], inputs: Mapping[str, Any],
                   path: str) -> pipeline.DatasetMeta:
  """A DatasetMeta from `meta_to_json`'s output and the run's inputs.

  Raises:
    errors.UserError: unknown dataset, or fields missing.
  """
  name = obj.get('name')
  if name not in datasets.DATASETS:
    raise errors.UserError(
        f'{path} names the dataset {name!r}, which this version does not '
        f'know ({", ".join(sorted(datasets.DATASETS))}).')
  names = {f.name for f in dataclasses.fields(pipeline.DatasetMeta)}
  kwargs = {k: tuple(v) if isinstance(v, list) else v
            for k, v in obj.items() if k in names}
  kwargs['question_text'] = datasets.DATASETS[name].question_decoder(inputs)
  try:
    return pipeline.DatasetMeta(**kwargs)
  except TypeError as e:
    raise errors.UserError(
        f'{path} is incomplete ({e}): retrain on this workdir (it resumes '
        'from the last checkpoint and rewrites the file).') from e


def save(workdir: str, config: ml_collections.ConfigDict,
         meta: pipeline.DatasetMeta) -> None:
  """Writes WORKDIR/config.json and WORKDIR/dataset.json.

  Args:
    workdir: the run's workdir (it exists).
    config: the run's config.
    meta: the dataset's DatasetMeta, as training got it.

  Raises:
    errors.UserError: a config value JSON cannot hold, or the files cannot
      be written.
  """
  workdir = os.path.abspath(os.path.expanduser(workdir))
  inputs = datasets.module(config).prediction_inputs(config, meta)
  contents = {CONFIG_FILE: config_to_json(config),
              DATASET_FILE: {'format': FORMAT, 'meta': meta_to_json(meta),
                             'inputs': inputs}}
  for name, obj in contents.items():
    path = os.path.join(workdir, name)
    try:
      files.write_json(path, obj, indent=1)
    except OSError as e:
      raise errors.UserError(f'Cannot write {path}: {e}') from e


def _read(path: str) -> dict[str, Any]:
  try:
    with open(path) as f:
      obj = json.load(f)
  except ValueError as e:
    raise errors.UserError(
        f'{path} is not valid JSON ({e}): retrain on this workdir (it resumes '
        'from the last checkpoint and rewrites the file).') from e
  if not isinstance(obj, dict) or obj.get('format') != FORMAT:
    raise errors.UserError(
        f'{path} is not a format-{FORMAT} hardattn file: it was written by '
        'another version. Retrain on this workdir (it resumes from the last '
        'checkpoint and rewrites the file).')
  return obj


def exists(workdir: str) -> bool:
  """Whether the workdir has both files."""
  workdir = os.path.expanduser(workdir)
  return all(os.path.isfile(os.path.join(workdir, name))
             for name in (CONFIG_FILE, DATASET_FILE))


def load(workdir: str) -> RunAssets:
  """The run's config, DatasetMeta and prediction inputs from its workdir.

  Raises:
    errors.UserError: the files are missing (a run trained before they were
      written, or not a workdir) or unreadable.
  """
  workdir = os.path.abspath(os.path.expanduser(workdir))
  if not os.path.isdir(workdir):
    raise errors.UserError(f'Workdir {workdir} does not exist.')
  missing = [name for name in (CONFIG_FILE, DATASET_FILE)
             if not os.path.isfile(os.path.join(workdir, name))]
  if missing:
    raise errors.UserError(
        f'{" and ".join(missing)} not found in {workdir}: the run was '
        'trained before hardattn saved them (or this is not a workdir). Pass '
        'the config it was trained with, --config=configs/....py and its '
        '--config.* overrides (its dataset must be prepared), which writes '
        'them, '
        'or train on this workdir again (it resumes from the last '
        'checkpoint).')
  config_path = os.path.join(workdir, CONFIG_FILE)
  dataset_path = os.path.join(workdir, DATASET_FILE)
  try:
    config = config_from_json(_read(config_path))
  except (KeyError, TypeError, IndexError, AttributeError) as e:
    raise errors.UserError(f'{config_path} is malformed ({e!r}): retrain on '
                           'this workdir to rewrite it.') from e
  dataset = _read(dataset_path)
  if not isinstance(dataset.get('meta'), dict) or not isinstance(
      dataset.get('inputs'), dict):
    raise errors.UserError(f'{dataset_path} has no "meta" or "inputs": '
                           'retrain on this workdir to rewrite it.')
  inputs = dataset['inputs']
  meta = meta_from_json(dataset['meta'], inputs, dataset_path)
  return RunAssets(config, meta, inputs)


def remove(workdir: str) -> None:
  """Deletes the workdir's config.json and dataset.json, if there."""
  for name in (CONFIG_FILE, DATASET_FILE):
    path = os.path.join(os.path.expanduser(workdir), name)
    if os.path.exists(path):
      os.remove(path)


def save_from_config(workdir: str, config: ml_collections.ConfigDict
                     ) -> RunAssets:
  """Writes the files of a run trained before they existed, from its config.

  Opens the configured dataset (it must be prepared, or be one that is
  generated on first use) for its DatasetMeta.

  Returns:
    What `load` then returns.
  """
  _, _, meta = datasets.get_dataset(config)
  save(workdir, config, meta)
  return load(workdir)
