r"""Asks a trained run questions about image files.

  python -m hardattn.predict --workdir=DIR --image=PATH \
      --question="Is the red object on the left?" [--top_k=5] \
      [--output_dir=DIR/predictions]
  python -m hardattn.predict --workdir=DIR --questions=FILE.json \
      [--image_dir=IMAGES] [--output=DIR/predictions/FILE_answers.txt]

Loads the latest checkpoint in `--workdir` with the config and dataset
vocabularies training saved there (`hardattn.assets`: config.json and
dataset.json); neither the config file nor the prepared dataset is needed.
The image is read with PIL, converted to RGB and resized (logged) to the
size the model was trained on; the question is encoded as in training
(Sort-of-CLEVR: one of the English forms its questions are shown in;
token datasets: their tokenizer, unknown words as <unk>).

One question: prints the top answers with their probabilities and writes
the attention picture (kept cells, cell norms or soft attention, the
answer) to OUTPUT_DIR/<image stem>_<n>.png.

Many questions (`--questions`): a JSON list of {"image": path, "question":
text, optional "question_id"} (relative paths are taken from --image_dir,
else from the JSON file's folder), or an official questions file, {"questions":
[...]}, whose entries name their image by "image_id" (VQA: COCO files in
--image_dir or its train2014/ val2014/) or "image_filename" (CLEVR: in
--image_dir or its images/<split>/). The answers are written in the
dataset's submission format: VQA's results JSON [{"question_id", "answer"}],
else one answer per line, in the file's order.

A run trained before workdirs held config.json and dataset.json needs
`--config` once (the config it was trained with; its dataset prepared),
which writes them.
"""

from collections.abc import Mapping, Sequence
import dataclasses
import functools
import json
import os
import sys
from typing import Any

from absl import app
from absl import flags
from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
from ml_collections import config_flags
import numpy as np

from hardattn import assets
from hardattn import cli
from hardattn import datasets
from hardattn import errors
from hardattn import files
from hardattn import models
from hardattn import sharding
from hardattn import train
from hardattn import visualize
from hardattn.datasets import inputs as inputs_lib


def _define_flags() -> dict[str, flags.FlagHolder]:
  """The command's flags. Defined only when run as a program: hardattn.main
  and export define --config and --workdir too, and tests and notebooks
  import this module for `Predictor`."""
  return dict(
      workdir=flags.DEFINE_string('workdir', None,
                                  'The trained run\'s workdir.'),
      image=flags.DEFINE_string('image', None, 'Image file (PNG, JPEG, ...).'),
      question=flags.DEFINE_string('question', None,
                                   'The question about --image.'),
      top_k=flags.DEFINE_integer('top_k', 5, 'Answers printed.'),
      output_dir=flags.DEFINE_string(
          'output_dir', None, 'Where the attention picture goes (default '
          'WORKDIR/predictions).'),
      questions=flags.DEFINE_string(
          'questions', None, 'A JSON file of questions to answer (instead of '
          '--image and --question); see the module docstring.'),
      image_dir=flags.DEFINE_string(
          'image_dir', None, 'With --questions: where relative image paths, '
          'image_ids or image_filenames are looked up.'),
      output=flags.DEFINE_string(
          'output', None, 'With --questions: the answers file (default '
          'WORKDIR/predictions/<questions file stem>_answers.txt, or '
          '_results.json for VQA).'),
      batch_size=flags.DEFINE_integer('batch_size', 32,
                                      'Questions per forward pass.'),
      backbone_weights=flags.DEFINE_string(
          'backbone_weights', None, 'VQA runs on precomputed grids: the '
          'converted ResNet weights that made them, if not at the run\'s '
          'config.vqa.backbone_weights.'),
      config=config_flags.DEFINE_config_file(
          'config', None, 'Only for runs trained before the workdir held '
          'config.json and dataset.json: the config file it was trained with '
          '(configs/*.py[:args], and its --config.* overrides); they are '
          'written from it.', lock_config=True),
  )


ImageLike = str | os.PathLike | np.ndarray


@dataclasses.dataclass(frozen=True)
class Prediction:
  """The model's answer to one question.

  Attributes:
    question: the question asked.
    answers: the top answers, best first, as (answer, probability) (for a
      run trained with config.loss='sigmoid': each answer's sigmoid score).
    picture: uint8 [H, W, 3], the image as the model saw it (None if not
      kept).
    cell_mask: [cells] the kept cells (soft attention: the last hop's
      weights).
    heat: [cells] the fused cells' L2 norms (soft attention: the weights).
  """
  question: str
  answers: list[tuple[str, float]]
  picture: np.ndarray | None
  cell_mask: np.ndarray
  heat: np.ndarray

  @property
  def answer(self) -> str:
    return self.answers[0][0]


def _forward(state: train.TrainState, image: jax.Array, question: jax.Array,
             *, sigmoid: bool) -> tuple[jax.Array, jax.Array, jax.Array]:
  """(probabilities [b, answers], cell_mask [b, cells], heat [b, cells])."""
  logits, aux = state.apply_fn(
      {'params': state.params, 'batch_stats': state.batch_stats},
      image, question, train=False)
  logits = logits.astype(jnp.float32)
  probs = jax.nn.sigmoid(logits) if sigmoid else jax.nn.softmax(logits)
  heat = aux['attention'][:, -1] if 'attention' in aux else aux['norms']
  return probs, aux['cell_mask'], heat


def _bucket(n: int, limit: int) -> int:
  """The batch a chunk of n is padded to: a power of two, at most limit."""
  size = 1
  while size < n:
    size *= 2
  return min(size, limit)


class Predictor:
  """A trained run, loaded once, answering questions about images.

  Attributes:
    config: the run's config.
    meta: its dataset's DatasetMeta.
    inputs: its dataset's prediction inputs (vocabulary, sizes).
    step: the checkpoint's step.
    grid: (h, w) cells of the model's attention grid.
    sigmoid: scores are per-answer sigmoids (config.loss='sigmoid'), not a
      softmax over answers.
  """

  def __init__(self, workdir: str, *,
               config: ml_collections.ConfigDict | None = None,
               backbone_weights: str | None = None, batch_size: int = 32):
    """Loads the run's assets and latest checkpoint.

    Args:
      workdir: the run's workdir.
      config: only for runs trained before the workdir held config.json and
        dataset.json: the run's config, from which they are written.
      backbone_weights: VQA runs on grids: the backbone weights file, if not
        the run's config.vqa.backbone_weights.
      batch_size: questions per forward pass.

    Raises:
      errors.UserError: no checkpoint or assets in the workdir.
    """
    if batch_size < 1:
      raise errors.UserError(f'--batch_size must be positive, got '
                             f'{batch_size}.')
    self.workdir = os.path.abspath(os.path.expanduser(workdir))
    from_config = config is not None and not assets.exists(self.workdir)
    if from_config:
      logging.info('Writing %s and %s into %s from the given config.',
                   assets.CONFIG_FILE, assets.DATASET_FILE, self.workdir)
      run = assets.save_from_config(self.workdir, config)
    else:
      if config is not None:
        logging.warning('%s holds the run\'s own config; --config is '
                        'ignored.', self.workdir)
      run = assets.load(self.workdir)
    self.config, self.meta, inputs = run
    self.inputs = dict(inputs)
    if backbone_weights:
      self.inputs['backbone_weights'] = backbone_weights
    self._module = datasets.DATASETS[self.meta.name]
    self._batch_size = batch_size
    mesh = sharding.create_mesh(jax.devices()[:1])  # inference: one device
    try:
      self.state, self.step = train.restore_for_inference(
          self.config, self.workdir, self.meta, mesh)
    except errors.UserError:
      if from_config:  # not the run's config: do not keep its files
        assets.remove(self.workdir)
      raise
    model = models.create_model(self.config.model_name, self.meta,
                                **self.config.model)
    self.grid = model.grid_shape(self.meta.image_shape[:2])
    self.sigmoid = self.config.get('loss', 'softmax') == 'sigmoid'
    self._soft = isinstance(model, models.vqa.SoftAttentionModel)
    self._apply = jax.jit(functools.partial(_forward, sigmoid=self.sigmoid))
    logging.info('Loaded %s on %s from step %d of %s.',
                 self.config.model_name, self.meta.name, self.step,
                 self.workdir)

  # ------------------------------------------------------------- inputs --

  def encode_question(self, question: str) -> np.ndarray:
    """The model's input for a question string.

    Raises:
      errors.UserError: empty, or not a question the dataset can encode.
    """
    return np.asarray(self._module.encode_question(question, self.inputs))

  def prepare_image(self, image: ImageLike) -> tuple[np.ndarray, np.ndarray]:
    """(model input, picture): an image file or RGB array as the model
    takes it, and as it is drawn.

    Raises:
      errors.UserError: the file is missing or not an image.
    """
    if isinstance(image, (str, os.PathLike)):
      what = os.fspath(image)
      pixels = inputs_lib.read_image(what)
    else:
      what = 'the image'
      pixels = inputs_lib.as_rgb(image)
    model_image, picture = self._module.prepare_image(pixels, self.inputs,
                                                      what)
    return np.asarray(model_image, self.meta.image_dtype), picture

  # ------------------------------------------------------------ answers --

  def predict_arrays(self, images: np.ndarray, questions: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs the model on prepared inputs, a batch at a time.

    Args:
      images: [n, ...] model inputs (one per question), as `prepare_image`
        or a dataset's batches give them.
      questions: [n, ...] encoded questions.

    Returns:
      (probabilities [n, answers], cell_mask [n, cells], heat [n, cells]).
    """
    images = np.asarray(images, self.meta.image_dtype)
    questions = np.asarray(questions)
    n = len(questions)
    if len(images) != n:
      raise ValueError(f'{len(images)} images for {n} questions.')
    outs = []
    for start in range(0, n, self._batch_size):
      chunk = slice(start, min(start + self._batch_size, n))
      size = chunk.stop - chunk.start
      padded = _bucket(size, self._batch_size)
      image, question = images[chunk], questions[chunk]
      if padded > size:  # fixed shapes: few compilations
        image = np.concatenate([image, np.zeros(
            (padded - size,) + image.shape[1:], image.dtype)])
        question = np.concatenate([question, np.zeros(
            (padded - size,) + question.shape[1:], question.dtype)])
      result = jax.device_get(self._apply(self.state, image, question))
      outs.append([np.asarray(r)[:size] for r in result])
    if not outs:
      num_cells = self.grid[0] * self.grid[1]
      return (np.zeros((0, self.meta.num_answers), np.float32),
              np.zeros((0, num_cells), np.float32),
              np.zeros((0, num_cells), np.float32))
    return tuple(np.concatenate(parts) for parts in zip(*outs))

  def answer(self, image: ImageLike, question: str,
             top_k: int = 5) -> Prediction:
    """Answers one question about an image file or uint8 RGB array.

    Raises:
      errors.UserError: a bad image or question.
    """
    return self.answer_batch([image], [question], top_k=top_k)[0]

  def answer_batch(self, images: Sequence[ImageLike],
                   questions: Sequence[str], *, top_k: int = 1,
                   keep_pictures: bool = True) -> list[Prediction]:
    """Answers questions[i] about images[i], a forward pass per batch.

    Image files named more than once are read once (of the last 64).

    Args:
      images: image files or uint8 RGB arrays, one per question.
      questions: question strings.
      top_k: answers kept per question.
      keep_pictures: keep each image as drawn (for `picture`); False saves
        memory on long lists.

    Returns:
      One Prediction per question.

    Raises:
      errors.UserError: a bad image or question, naming it.
    """
    if len(images) != len(questions):
      raise ValueError(f'{len(images)} images for {len(questions)} '
                       'questions.')
    top_k = max(1, min(int(top_k), self.meta.num_answers))
    read_file = functools.lru_cache(maxsize=64)(self.prepare_image)
    out = []
    for start in range(0, len(questions), self._batch_size):
      model_images, pictures, encoded = [], [], []
      for image, question in zip(images[start:start + self._batch_size],
                                 questions[start:start + self._batch_size]):
        encoded.append(self.encode_question(question))
        prepared = (read_file(os.fspath(image))
                    if isinstance(image, (str, os.PathLike))
                    else self.prepare_image(image))
        model_images.append(prepared[0])
        pictures.append(prepared[1] if keep_pictures else None)
      probs, cell_mask, heat = self.predict_arrays(np.stack(model_images),
                                                   np.stack(encoded))
      for i, question in enumerate(questions[start:start + self._batch_size]):
        best = np.argsort(-probs[i], kind='stable')[:top_k]
        out.append(Prediction(
            question=inputs_lib.check_question(question),
            answers=[(self.meta.answer_names[a], float(probs[i, a]))
                     for a in best],
            picture=pictures[i], cell_mask=cell_mask[i], heat=heat[i]))
    return out

  def picture(self, predictions: Sequence[Prediction],
              title: str | None = None,
              true: Sequence[str] | None = None) -> np.ndarray:
    """uint8 [H, W, 3]: what the model attended to, one row per prediction
    (kept cells; cell norms or soft attention; question and answer, and
    the true answers where given)."""
    if not predictions or any(p.picture is None for p in predictions):
      raise ValueError('picture needs predictions with their pictures '
                       '(answer_batch(..., keep_pictures=True)).')
    shapes = {p.picture.shape for p in predictions}
    if len(shapes) > 1:
      raise ValueError(f'Pictures of different sizes: {sorted(shapes)}.')
    label = 'score' if self.sigmoid else 'p'

    def with_prob(answer: str, prediction: Prediction) -> str:
      probs = dict(prediction.answers)  # the top k
      return f'{answer} ({label}={probs[answer]:.2f})' if (
          answer in probs) else answer

    return visualize.attention_figure(
        np.stack([p.picture for p in predictions]),
        [p.question for p in predictions],
        [with_prob(p.answer, p) for p in predictions],
        None if true is None else [
            with_prob(t, p) for t, p in zip(true, predictions)],
        cell_mask=np.stack([p.cell_mask for p in predictions]),
        norms=np.stack([p.heat for p in predictions]),
        grid_shape=self.grid, max_examples=len(predictions),
        title=title if title is not None else (
            f'{self.config.model_name}, step {self.step}'),
        heat_title='attention' if self._soft else 'cell L2 norm')

  def write_answers(self, predictions: Sequence[Prediction],
                    question_ids: Sequence[Any], output: str) -> None:
    """Writes answers in the dataset's submission format, atomically.

    VQA: the official results JSON, [{"question_id", "answer"}, ...]; other
    datasets: one answer per line.
    """
    output = os.path.abspath(os.path.expanduser(output))
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with files.atomic_open(output) as f:
      if self.meta.name == 'vqa':
        json.dump([{'question_id': qid, 'answer': p.answer}
                   for qid, p in zip(question_ids, predictions)], f)
      else:
        f.writelines(p.answer + '\n' for p in predictions)

  @property
  def results_suffix(self) -> str:
    return getattr(self._module, 'RESULTS_SUFFIX', 'answers.txt')


# ----------------------------------------------------------- questions --


def read_questions(path: str, image_dir: str | None = None
                   ) -> tuple[list[str], list[str], list[Any]]:
  """(image paths, questions, question ids) of a --questions file.

  Args:
    path: a JSON list of {"image", "question", optional "question_id"}, or
      {"questions": [...]} whose entries may instead name "image_id" (COCO)
      or "image_filename" (CLEVR), found under image_dir.
    image_dir: where relative paths, image ids and file names are looked up
      (default: the JSON file's folder).

  Returns:
    Three lists, one entry per question; a question without an id gets its
    index.

  Raises:
    errors.UserError: an unreadable file or a malformed entry, naming it.
  """
  try:
    with open(os.path.expanduser(path)) as f:
      data = json.load(f)
  except OSError as e:
    raise errors.UserError(f'Cannot read --questions={path}: {e}') from e
  except ValueError as e:
    raise errors.UserError(f'--questions={path} is not JSON: {e}') from e
  entries = data.get('questions') if isinstance(data, dict) else data
  if not isinstance(entries, list):
    raise errors.UserError(
        f'--questions={path} must hold a JSON list of {{"image": path, '
        '"question": text}} objects, or an object with a "questions" list.')
  base = os.path.expanduser(image_dir) if image_dir else os.path.dirname(
      os.path.abspath(os.path.expanduser(path)))
  images, questions, ids = [], [], []
  for i, entry in enumerate(entries):
    where = f'--questions={path}, entry {i}'
    if not isinstance(entry, dict) or not isinstance(entry.get('question'),
                                                     str):
      raise errors.UserError(f'{where} has no "question" string: {entry!r}.')
    if 'image' in entry:
      image = os.path.join(base, os.path.expanduser(str(entry['image'])))
    elif 'image_filename' in entry:  # CLEVR
      name = str(entry['image_filename'])
      image = os.path.join(base, name)
      nested = os.path.join(base, 'images', str(entry.get('split', '')), name)
      if not os.path.isfile(image) and os.path.isfile(nested):
        image = nested
    elif 'image_id' in entry:  # VQA
      if not image_dir:
        raise errors.UserError(
            f'{where} names its image by image_id: pass --image_dir, the '
            'folder of the COCO images (or of train2014/ and val2014/).')
      image = datasets.vqa.find_coco_image(image_dir, int(entry['image_id']),
                                           entry.get('coco_split'))
    else:
      raise errors.UserError(
          f'{where} names no image ("image", "image_filename" or '
          f'"image_id"): {entry!r}.')
    images.append(image)
    questions.append(entry['question'])
    ids.append(entry.get('question_id', i))
  return images, questions, ids


def _free_path(directory: str, stem: str) -> str:
  """directory/<stem>_<n>.png with the first n not taken."""
  n = 0
  while os.path.exists(os.path.join(directory, f'{stem}_{n}.png')):
    n += 1
  return os.path.join(directory, f'{stem}_{n}.png')


def format_answers(prediction: Prediction, sigmoid: bool = False) -> str:
  """The printed lines: the question, then 'rank. answer  probability'."""
  width = max(len(a) for a, _ in prediction.answers)
  head = 'score (sigmoid)' if sigmoid else 'probability'
  lines = [f'Q: {prediction.question}', f'   {"answer":<{width}}  {head}']
  lines += [f'{rank:2d}. {answer:<{width}}  {prob:.4f}'
            for rank, (answer, prob) in enumerate(prediction.answers, 1)]
  return '\n'.join(lines)


def check_inputs(workdir: str, image: str, question: str) -> None:
  """Fails fast on a bad image file or question, before a model loads.

  Questions of vector datasets (Sort-of-CLEVR: a few English forms) are
  parsed too, where the workdir has the run's assets.

  Raises:
    errors.UserError: naming the problem.
  """
  inputs_lib.check_question(question)
  inputs_lib.read_image(image)
  if assets.exists(workdir):
    run_assets = assets.load(workdir)
    if run_assets.meta.question_kind == 'vector':  # parsed, may not fit
      datasets.DATASETS[run_assets.meta.name].encode_question(
          question, run_assets.inputs)


def run(f: Mapping[str, Any]) -> None:
  """The program: `f` maps flag names to their values (or FlagHolders).

  Raises:
    errors.UserError: bad flags, files, image or question.
  """
  f = {k: getattr(v, 'value', v) for k, v in f.items()}
  if not f.get('workdir'):
    raise errors.UserError('Pass --workdir, the trained run\'s workdir.')
  single = f.get('image') is not None or f.get('question') is not None
  if single == (f.get('questions') is not None):
    raise errors.UserError(
        'Pass --image and --question (one question), or --questions=FILE.json'
        ' (many), not both.')
  if single and (f.get('image') is None or f.get('question') is None):
    raise errors.UserError('--image and --question go together.')
  config = f.get('config')
  if isinstance(config, str):
    config = cli.load_config(config)
  if single:  # bad input fails before the checkpoint loads
    check_inputs(f['workdir'], f['image'], f['question'])
  predictor = Predictor(f['workdir'], config=config,
                        backbone_weights=f.get('backbone_weights'),
                        batch_size=f.get('batch_size', 32))
  header = (f'{predictor.config.model_name} on {predictor.meta.name}, step '
            f'{predictor.step} of {predictor.workdir}')
  if single:
    prediction = predictor.answer(f['image'], f['question'],
                                  top_k=f.get('top_k', 5))
    print(header)
    print(format_answers(prediction, predictor.sigmoid))
    out_dir = f.get('output_dir') or os.path.join(predictor.workdir,
                                                  'predictions')
    stem = os.path.splitext(os.path.basename(f['image']))[0] or 'image'
    path = _free_path(os.path.expanduser(out_dir), stem)
    visualize.save_png(predictor.picture([prediction]), path)
    print(f'Attention picture: {path}')
    return
  images, questions, ids = read_questions(f['questions'], f.get('image_dir'))
  predictions = predictor.answer_batch(images, questions, top_k=1,
                                       keep_pictures=False)
  stem = os.path.splitext(os.path.basename(f['questions']))[0]
  output = f.get('output') or os.path.join(
      predictor.workdir, 'predictions', f'{stem}_{predictor.results_suffix}')
  predictor.write_answers(predictions, ids, output)
  print(header)
  print(f'{len(predictions)} answers -> {output}')


def main(argv, flag_values: Mapping[str, flags.FlagHolder]):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  cli.quiet_libraries()
  try:
    run(flag_values)
  except errors.UserError as e:
    sys.exit(f'error: {e}')


if __name__ == '__main__':
  _FLAGS = _define_flags()
  app.run(lambda argv: main(argv, _FLAGS), flags_parser=cli.parse_flags)
