"""The options issue 17's ablations added: coordinates after the selection,
a zero-initialised answer layer, and a schedule of HAN's fraction."""

import ast
import os
import re
import subprocess
import sys
import time
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardattn import checkpointing
from hardattn import cli
from hardattn import errors
from hardattn import models
from hardattn import train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
META = types.SimpleNamespace(num_answers=10, question_kind='vector',
                             vocab_size=0)
SMALL = dict(cnn_features=(8, 8, 8, 8), fusion_features=(16,),
             g_features=(16, 16), f_features=(16,), cnn_padding='edge')


def _apply(model, image, question):
  variables = model.init(jax.random.key(0), image, question, train=False)
  return variables, model.apply(variables, image, question, train=False)


def test_kept_coordinates_leave_position_out_of_the_norm():
  """On a uniform image every cell is alike but for its coordinates: with
  coords='kept' all norms are equal, and the kept cells' coordinates still
  reach the answer."""
  image = jnp.full((2, 75, 75, 3), 255, jnp.uint8)
  question = jnp.eye(11)[:2]
  fused = models.create_model('han_rn', META, **SMALL)
  _, (_, aux) = _apply(fused, image, question)
  assert float(jnp.std(aux['norms'][0])) > 1e-3  # position shows
  kept = models.create_model('han_rn', META, coords='kept', **SMALL)
  variables, (logits, aux) = _apply(kept, image, question)
  np.testing.assert_allclose(aux['norms'][0], aux['norms'][0, 0], rtol=1e-6)
  # The RN's first layer takes the fused cell and its (x, y).
  d = variables['params']['rn']['g0_kernel'].shape[0]
  assert d == 2 * (16 + 2) + 11
  assert logits.shape == (2, 10)
  with pytest.raises(errors.UserError, match='model.coords'):
    _apply(models.create_model('han_rn', META, coords='x', **SMALL), image,
           question)


@pytest.mark.parametrize('name', ['han_rn', 'sum', 'cnn_mlp', 'smem'])
def test_zero_initialised_head_starts_at_uniform_answers(name):
  kw = {'cnn_mlp': dict(cnn_features=(8, 8, 8, 8), f_features=(16,)),
        'smem': dict(cnn_features=(8, 8, 8, 8), f_features=(16,),
                     attention_dim=16)}.get(name, SMALL)
  model = models.create_model(name, META, head_zero_init=True, **kw)
  image = jax.random.randint(jax.random.key(1), (3, 75, 75, 3), 0, 256,
                             jnp.int32).astype(jnp.uint8)
  _, (logits, _) = _apply(model, image, jnp.eye(11)[:3])
  np.testing.assert_array_equal(logits, 0.0)


def test_fraction_at_follows_the_schedule():
  config = cli.load_config(os.path.join(REPO, 'configs', 'test.py'))
  assert train.fraction_at(config, 0) == config.model.fraction
  config.fraction_schedule = ((10, 1.0), (20, 0.5))
  assert [train.fraction_at(config, s) for s in (0, 9, 10, 19, 20)] == [
      1.0, 1.0, 0.5, 0.5, config.model.fraction]
  soft = cli.load_config(os.path.join(REPO, 'configs', 'test.py') + ':'
                         'model=smem')
  assert train.fraction_at(soft, 0) is None


def test_training_follows_the_fraction_schedule(tmp_path):
  """All cells for the first steps, then the configured fraction; an eval
  sees the phase of the last step trained, and the run resumes in its
  phase."""
  config = cli.load_config(os.path.join(REPO, 'configs', 'test.py'))
  config.data_dir = str(tmp_path / 'data')
  config.fraction_schedule = ((10, 1.0),)
  config.model.rn_gate = True  # the all-cells phase skips the RN
  config.model.rn_sum_skip = True
  config.num_pictures = 0
  config.eval_every_steps = 5
  config.num_train_steps = 10
  workdir = str(tmp_path / 'work')
  first = train.train_and_evaluate(config, workdir)
  assert first['fraction_kept'] == 1.0  # eval after steps 0-9: all cells
  config.num_train_steps = 20
  last = train.train_and_evaluate(config, workdir)
  assert last['step'] == 20
  with open(os.path.join(workdir, 'eval_history.jsonl')) as f:
    kept = [round(float(x.split('"fraction_kept": ')[1].split(',')[0]), 2)
            for x in f]
  assert kept == [1.0, 1.0, 0.24, 0.24]  # steps 5, 10, 15, 20
  at_10, at_20 = (checkpointing.read_params(workdir, s) for s in (10, 20))
  assert at_10['rn_gate'] == 0.0 and at_20['rn_gate'] != 0.0


def _init(model, image, question):
  return model.init(jax.random.key(0), image, question, train=False)


_IMAGE = jax.random.randint(jax.random.key(1), (4, 75, 75, 3), 0, 256,
                            jnp.int32).astype(jnp.uint8)
_QUESTION = jnp.eye(11)[:4]


def test_rn_mean_pool_divides_by_the_kept_pairs():
  from hardattn.models import aggregation  # pylint: disable=g-import-not-at-top
  cells = jax.random.normal(jax.random.key(0), (2, 5, 3))
  question = jnp.ones((2, 2))
  mask = jnp.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], jnp.float32)
  rn = aggregation.RelationalNetwork((4, 4))
  variables = rn.init(jax.random.key(1), cells, question, mask)
  total = rn.apply(variables, cells, question, mask)
  mean = aggregation.RelationalNetwork((4, 4), pool='mean').apply(
      variables, cells, question, mask)
  np.testing.assert_allclose(mean, total / jnp.array([[9.0], [25.0]]),
                             rtol=1e-6)


def test_rn_max_pool_takes_the_largest_g_over_the_kept_pairs_only():
  from hardattn.models import aggregation  # pylint: disable=g-import-not-at-top
  cells = jax.random.normal(jax.random.key(0), (2, 5, 3))
  question = jnp.ones((2, 2))
  coords = jax.random.uniform(jax.random.key(2), (2, 5, 2))
  mask = jnp.array([[1, 0, 1, 1, 0], [1, 1, 1, 1, 1]], jnp.float32)
  rn = aggregation.RelationalNetwork((4, 4), pool='max')
  variables = rn.init(jax.random.key(1), cells, question, mask, coords)
  pooled = rn.apply(variables, cells, question, mask, coords)
  # g by hand on each kept ordered pair (i, j): [o_i; o_j; q] and
  # (dx, dy, distance) of o_j - o_i through layer 0, then layer 1.
  p = variables['params']
  for b in range(2):
    kept = [i for i in range(5) if mask[b, i]]
    values = []
    for i in kept:
      for j in kept:
        delta = coords[b, j] - coords[b, i]
        geometry = jnp.concatenate([delta, jnp.linalg.norm(delta)[None]])
        h = jax.nn.relu(
            jnp.concatenate([cells[b, i], cells[b, j], question[b]])
            @ p['g0_kernel'] + p['g0_bias'] + geometry @ p['g0_geometry'])
        values.append(jax.nn.relu(h @ p['g1']['kernel'] + p['g1']['bias']))
    np.testing.assert_allclose(pooled[b], jnp.max(jnp.stack(values), 0),
                               rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match='pool must be one of'):
    aggregation.RelationalNetwork((4, 4), pool='min').apply(
        variables, cells, question, mask, coords)


def test_gated_rn_with_sum_skip_starts_as_han_sum():
  """The gate starts at zero: the RN adds nothing and its parameters get
  no gradient, the head reads [RN; sum of the kept cells], and the
  skipped RN of a first all-cells phase computes the same function."""
  gated = models.create_model('han_rn', META, rn_gate=True, rn_sum_skip=True,
                              **SMALL)
  variables = _init(gated, _IMAGE, _QUESTION)
  params = variables['params']
  assert params['rn_gate'] == 0.0
  assert params['head']['f0']['kernel'].shape[0] == 16 + 16  # g + fusion

  def loss(p, model=gated):
    logits, _ = model.apply({**variables, 'params': p}, _IMAGE, _QUESTION,
                            train=False)
    return jnp.sum(logits ** 2)

  grads = jax.grad(loss)(params)
  for leaf in jax.tree.leaves(grads['rn']):
    np.testing.assert_array_equal(leaf, 0.0)
  assert float(grads['rn_gate']) != 0.0  # the gate can open
  skipped = models.create_model('han_rn', META, rn_gate=True,
                                rn_sum_skip=True, rn_skipped=True, **SMALL)
  np.testing.assert_allclose(
      skipped.apply(variables, _IMAGE, _QUESTION, train=False)[0],
      gated.apply(variables, _IMAGE, _QUESTION, train=False)[0], rtol=1e-6)


def test_detached_rn_does_not_train_the_fusion():
  model = models.create_model('han_rn', META, rn_detach=True, **SMALL)
  variables = _init(model, _IMAGE, _QUESTION)
  grads = jax.grad(lambda p: jnp.sum(model.apply(
      {**variables, 'params': p}, _IMAGE, _QUESTION, train=False)[0] ** 2))(
          variables['params'])
  for leaf in jax.tree.leaves(grads['fusion']):
    np.testing.assert_array_equal(leaf, 0.0)
  assert any(np.any(leaf != 0) for leaf in jax.tree.leaves(grads['rn']))


@pytest.mark.parametrize('coords', ['fusion', 'kept'])
def test_sum_skip_over_all_cells_does_not_depend_on_the_selection(coords):
  """rn_sum_cells='all': the skip sums every fused cell, so with the RN
  gated off (its gate starts at zero) the answer is the same whatever
  fraction HAN keeps; summing the kept cells it is not."""
  image = jax.random.randint(jax.random.key(2), (2, 75, 75, 3), 0, 256,
                             jnp.int32).astype(jnp.uint8)
  question = jnp.eye(11)[:2]
  kw = dict(SMALL, cnn_features=(8, 8, 8), rn_sum_skip=True, rn_gate=True,
            coords=coords)

  def logits(fraction, cells):
    model = models.create_model('han_rn', META, fraction=fraction,
                                rn_sum_cells=cells, **kw)
    variables = model.init(jax.random.key(0), image, question, train=False)
    return model.apply(variables, image, question, train=False)[0]

  np.testing.assert_allclose(logits(0.06, 'all'), logits(1.0, 'all'),
                             rtol=1e-5, atol=1e-6)
  assert not np.allclose(logits(0.06, 'kept'), logits(1.0, 'kept'),
                         rtol=1e-3)
  with pytest.raises(errors.UserError, match='model.rn_sum_cells'):
    logits(0.25, 'some')


def test_rn_head_zero_joins_the_rn_without_changing_the_head():
  """With rn_head_zero the head reads the RN through first-layer weights
  that start at zero: the model starts as the sum skip alone (the skipped
  RN of an all-cells phase gives the same logits), the RN gets no gradient
  at first, and every one of those weights gets its own."""
  model = models.create_model('han_rn', META, rn_sum_skip=True,
                              rn_head_zero=True, **SMALL)
  variables = _init(model, _IMAGE, _QUESTION)
  params = variables['params']
  np.testing.assert_array_equal(params['head']['f0_from_zero']['kernel'],
                                0.0)
  assert params['head']['f0']['kernel'].shape[0] == 16  # the sum's width
  skipped = models.create_model('han_rn', META, rn_sum_skip=True,
                                rn_head_zero=True, rn_skipped=True, **SMALL)
  np.testing.assert_allclose(
      skipped.apply(variables, _IMAGE, _QUESTION, train=False)[0],
      model.apply(variables, _IMAGE, _QUESTION, train=False)[0], rtol=1e-6)
  grads = jax.grad(lambda p: jnp.sum(model.apply(
      {**variables, 'params': p}, _IMAGE, _QUESTION, train=False)[0] ** 2))(
          params)
  for leaf in jax.tree.leaves(grads['rn']):
    np.testing.assert_array_equal(leaf, 0.0)
  from_zero = np.asarray(grads['head']['f0_from_zero']['kernel'])
  assert np.mean(from_zero != 0) > 0.5  # not one shared scalar


def test_rn_head_zero_needs_the_sum_skip():
  with pytest.raises(errors.UserError, match='rn_sum_skip'):
    models.create_model('han_rn', META, rn_head_zero=True, **SMALL)


def _four_step_run(tmp_path):
  """configs/test.py trained and evaluated for 4 steps: (config, workdir,
  eval report)."""
  config = cli.load_config(os.path.join(REPO, 'configs', 'test.py'))
  config.data_dir = str(tmp_path / 'data')
  config.num_pictures = 0
  config.num_train_steps = config.eval_every_steps = 4
  workdir = str(tmp_path / 'work')
  return config, workdir, train.train_and_evaluate(config, workdir)


def test_rn_knockout_reports_the_rn_output_and_its_eval_without_it(
    tmp_path, capsys):
  sys.path.insert(0, os.path.join(REPO, 'experiments'))
  import rn_knockout  # pylint: disable=g-import-not-at-top
  config, workdir, report = _four_step_run(tmp_path)
  rn_knockout.main([f'--workdir={workdir}', '--step=4'])
  out = capsys.readouterr().out
  assert "The RN's output on" in out
  trained = re.search(r'^\| as trained \| ([\d.]+) \|', out, re.MULTILINE)
  assert float(trained.group(1)) == pytest.approx(100 * report['accuracy'],
                                                  abs=0.051)
  assert re.search(r'^\| RN output zeroed \| [\d.]+ \|', out, re.MULTILINE)
  summed = cli.load_config(os.path.join(REPO, 'configs', 'test.py') +
                           ':model=sum')
  summed.data_dir, summed.num_pictures = config.data_dir, 0
  summed.num_train_steps = summed.eval_every_steps = 2
  other = str(tmp_path / 'sum')
  train.train_and_evaluate(summed, other)
  with pytest.raises(errors.UserError, match='no relational network'):
    rn_knockout.main([f'--workdir={other}'])


def test_kept_positions_maps_the_selection_and_finds_the_asked_object(
    tmp_path, capsys):
  """experiments/kept_positions.py: its map of kept cells sums to the cells
  kept a question, and its asked-object recall over the whole eval split is
  the eval's own."""
  sys.path.insert(0, os.path.join(REPO, 'experiments'))
  import kept_positions  # pylint: disable=g-import-not-at-top
  _, workdir, report = _four_step_run(tmp_path)
  kept_positions.main([f'--workdir={workdir}', '--batches=1000'])
  out = capsys.readouterr().out
  k = int(re.search(r'(\d+) of (\d+) cells kept a question', out).group(1))
  kept_map = out.split('cells kept (% of questions keeping each):\n')[1]
  kept_map = kept_map.split('cells covering')[0]
  assert sum(map(float, kept_map.split())) == pytest.approx(100 * k, abs=0.5)
  found = float(re.search(r'asked object found: ([\d.]+)%', out).group(1))
  assert found == pytest.approx(
      100 * report['attention']['asked_recall'], abs=0.051)
  assert re.search(r'on the \d+ positions kept most: [\d.]+%', out)


def test_han_rn_pair_geometry_reads_the_kept_cells_positions():
  """rn_pair_geometry gives the RN the kept cells' grid positions: the
  model has g0_geometry, and its logits differ from the same parameters
  with the geometry's weights at zero (which is the paper's RN)."""
  model = models.create_model('han_rn', META, rn_pair_geometry=True,
                              **SMALL)
  variables = _init(model, _IMAGE, _QUESTION)
  params = variables['params']
  assert params['rn']['g0_geometry'].shape == (3, 16)
  plain = models.create_model('han_rn', META, **SMALL)
  zeroed = dict(params, rn={k: v for k, v in params['rn'].items()
                            if k != 'g0_geometry'})
  without = plain.apply({**variables, 'params': zeroed}, _IMAGE, _QUESTION,
                        train=False)[0]
  params_zero = dict(params, rn=dict(
      params['rn'], g0_geometry=jnp.zeros_like(params['rn']['g0_geometry'])))
  np.testing.assert_allclose(
      model.apply({**variables, 'params': params_zero}, _IMAGE, _QUESTION,
                  train=False)[0], without, rtol=1e-5, atol=1e-6)
  assert not np.allclose(
      model.apply(variables, _IMAGE, _QUESTION, train=False)[0], without,
      rtol=1e-3)


def test_oracle_rn_floors_and_a_short_training(capsys):
  """experiments/oracle_rn.py: the no-distance floor is the majority shape
  among the other five objects, the rule on exact positions is right every
  time, on cell positions less often; a few training steps print a row
  per eval."""
  sys.path.insert(0, os.path.join(REPO, 'experiments'))
  import oracle_rn  # pylint: disable=g-import-not-at-top
  exact = oracle_rn.scene_arrays(0, 'test', 30)
  assert exact['objects'].shape == (30, 6, 10)
  assert oracle_rn.rule_ceiling(exact) == {'closest': 1.0, 'furthest': 1.0}
  coarse = oracle_rn.scene_arrays(0, 'test', 30, grid=5)
  assert set(np.unique(coarse['objects'][..., -2:])) <= set(
      np.linspace(-1, 1, 5).astype(np.float32))
  assert all(v < 1.0 for v in oracle_rn.rule_ceiling(coarse).values())
  # Two cells an object: the copies keep colour and shape, one cell away.
  doubled = oracle_rn.scene_arrays(0, 'test', 30, grid=10, copies=2)
  objects = doubled['objects']
  assert objects.shape == (30, 12, 10)
  np.testing.assert_array_equal(objects[:, 6:, :8], objects[:, :6, :8])
  step = np.abs(objects[:, 6:, 8:] - objects[:, :6, 8:]).max(-1)
  moved_inside = np.abs(objects[:, 6:, 8:]).max(-1) < 1.0
  np.testing.assert_allclose(step[moved_inside], 2 / 9, rtol=1e-5)
  assert oracle_rn.rule_ceiling(doubled) == oracle_rn.rule_ceiling(
      oracle_rn.scene_arrays(0, 'test', 30, grid=10))
  # The floor by hand over the closest questions: the five others'
  # majority shape.
  floor = oracle_rn.majority_floor(exact)
  assert 0.0 < floor['closest'] < 1.0
  manual = []
  for i, j in np.argwhere(exact['question_types'] == 3):
    c = int(np.argmax(exact['questions'][i, j, :6]))
    manual.append(2 + int(np.delete(exact['shapes'][i], c).sum() >= 3)
                  == exact['answers'][i, j])
  assert floor['closest'] == pytest.approx(np.mean(manual))
  oracle_rn.main(['--config=' + os.path.join(REPO, 'configs', 'test.py'),
                  '--steps=4', '--eval_every=2', '--geometry', '--grid=10',
                  '--copies=2'])
  out = capsys.readouterr().out
  assert len(re.findall(r'^\| 0 \| [24] \| [\d.]+ \|', out, re.M)) == 2
  assert 'geometry True' in out


def test_han_separation_keeps_cells_apart_on_the_grid():
  """model.han_separation=1 on 10x10 cells: no two kept cells are
  neighbours; only HAN models take it."""
  image = jax.random.randint(jax.random.key(3), (2, 75, 75, 3), 0, 256,
                             jnp.int32).astype(jnp.uint8)
  question = jnp.eye(11)[:2]
  model = models.create_model('han_rn', META, fraction=0.06,
                              han_separation=1,
                              **dict(SMALL, cnn_features=(8, 8, 8)))
  variables = model.init(jax.random.key(0), image, question, train=False)
  _, aux = model.apply(variables, image, question, train=False)
  rows, cols = np.divmod(np.asarray(aux['indices']), 10)
  for r, c in zip(rows, cols):
    assert len(r) == 6
    gap = np.maximum(np.abs(r[:, None] - r[None]), np.abs(c[:, None] - c[None]))
    assert np.all(gap[~np.eye(6, dtype=bool)] >= 2)
  with pytest.raises(errors.UserError, match='han_separation'):
    models.create_model('adahan_rn', META, han_separation=1, **SMALL)


def test_han_explore_draws_at_train_time_only():
  """model.han_explore: train-mode selections are a draw that differs with
  the dropout key; eval mode keeps the plain top-k by norm, so the same
  weights evaluate as the paper's HAN; only HAN models take it."""
  image = jax.random.randint(jax.random.key(3), (4, 75, 75, 3), 0, 256,
                             jnp.int32).astype(jnp.uint8)
  question = jnp.eye(11)[:4]
  model = models.create_model('han_rn', META, han_explore=1.0, **SMALL)
  variables, (_, aux) = _apply(model, image, question)
  top = jax.lax.top_k(aux['norms'], aux['indices'].shape[1])[1]
  np.testing.assert_array_equal(aux['indices'], top)

  def train_indices(seed):
    (_, train_aux), _ = model.apply(
        variables, image, question, train=True,
        rngs={'dropout': jax.random.key(seed)}, mutable=['batch_stats'])
    return np.sort(np.asarray(train_aux['indices']), -1)

  assert not np.array_equal(train_indices(0), train_indices(1))
  np.testing.assert_array_equal(train_indices(2), train_indices(2))
  with pytest.raises(errors.UserError, match='han_explore'):
    models.create_model('adahan_rn', META, han_explore=1.0, **SMALL)
  with pytest.raises(errors.UserError, match='han_explore'):
    models.create_model('han_rn', META, han_explore=-1.0, **SMALL)


def test_film_fusion_starts_as_the_concatenation_and_scales_cells():
  """fusion_film: at initialisation the concatenation's function (its first
  kernel split into the cells' and the question's rows), the scale gets a
  gradient, and a scale of -1 removes the cells' term, so every cell's
  norm is the question's alone."""
  film = models.create_model('han_rn', META, fusion_film=True, **SMALL)
  variables = _init(film, _IMAGE, _QUESTION)
  fusion = variables['params']['fusion']
  np.testing.assert_array_equal(fusion['film_scale']['kernel'], 0.0)
  concat = models.create_model('han_rn', META, **SMALL)
  joined = {'kernel': jnp.concatenate([fusion['conv1x1_0_cells']['kernel'],
                                       fusion['conv1x1_0_question']['kernel']]),
            'bias': fusion['conv1x1_0_question']['bias']}
  params = {**variables['params'], 'fusion': {'conv1x1_0': joined}}
  expected = concat.apply({**variables, 'params': params}, _IMAGE, _QUESTION,
                          train=False)
  got = film.apply(variables, _IMAGE, _QUESTION, train=False)
  np.testing.assert_allclose(got[0], expected[0], rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(got[1]['norms'], expected[1]['norms'],
                             rtol=1e-5)

  grads = jax.grad(lambda p: jnp.sum(film.apply(
      {**variables, 'params': p}, _IMAGE, _QUESTION, train=False)[0] ** 2))(
          variables['params'])
  assert np.any(grads['fusion']['film_scale']['kernel'] != 0)
  off = {**fusion, 'film_scale': {
      'kernel': jnp.zeros_like(fusion['film_scale']['kernel']),
      'bias': -jnp.ones_like(fusion['film_scale']['bias'])}}
  _, aux = film.apply({**variables, 'params': {**variables['params'],
                                                'fusion': off}},
                      _IMAGE, _QUESTION, train=False)
  norms = np.asarray(aux['norms'])
  np.testing.assert_allclose(norms, np.broadcast_to(norms[:, :1], norms.shape),
                             rtol=1e-6)


def test_coords_both_keep_position_in_the_norm_and_give_it_to_the_rn():
  """coords='both': the fusion sees the cells' (x, y), as the paper's, and
  the kept cells also carry them raw into the RN's g and the sum skip."""
  image = jnp.full((2, 75, 75, 3), 255, jnp.uint8)
  question = jnp.eye(11)[:2]
  both = models.create_model('han_rn', META, coords='both', rn_sum_skip=True,
                             **SMALL)
  variables, (logits, aux) = _apply(both, image, question)
  fused = models.create_model('han_rn', META, rn_sum_skip=True, **SMALL)
  fused_vars, (_, fused_aux) = _apply(fused, image, question)
  # The same fusion, parameters and norms as the paper's.
  assert (variables['params']['fusion']['conv1x1_0']['kernel'].shape ==
          fused_vars['params']['fusion']['conv1x1_0']['kernel'].shape)
  np.testing.assert_allclose(aux['norms'], fused_aux['norms'], rtol=1e-6)
  assert float(jnp.std(aux['norms'][0])) > 1e-3
  # g's first layer and the head's read 16 fused features and (x, y).
  assert variables['params']['rn']['g0_kernel'].shape[0] == 2 * (16 + 2) + 11
  assert variables['params']['head']['f0']['kernel'].shape[0] == 16 + 16 + 2
  assert logits.shape == (2, 10)


def test_ablation_kills_a_training_whose_log_stalls(tmp_path):
  """experiments/ablation.py's watchdog: a training that stops logging
  (XLA CPU's all-reduce can hang on this VM) is killed so it can resume;
  one that finishes is done; one that fails raises."""
  sys.path.insert(0, os.path.join(REPO, 'experiments'))
  import ablation  # pylint: disable=g-import-not-at-top
  log = str(tmp_path / 'log.txt')
  with open(log, 'w') as f:
    f.write('an old line\n')
  os.utime(log, (0, 0))  # an earlier run's log: not a stall of this one
  python = [sys.executable, '-c']
  start = time.time()
  assert not ablation._train(
      python + ['print("step 1", flush=True); import time; time.sleep(60)'],
      log, stall_s=1.0)
  assert time.time() - start < 30
  assert ablation._train(python + ['print("done")'], log, stall_s=5.0)
  with open(log) as f:
    assert f.read().splitlines() == ['an old line', 'step 1', 'done']
  with pytest.raises(subprocess.CalledProcessError):
    ablation._train(python + ['raise SystemExit(3)'], log, stall_s=5.0)


def _variant_config(config, overrides):
  """An experiments/ablation.py variant's config: `config` with its
  `--config.key=value` overrides (literals, true / false, bare strings)."""
  loaded = cli.load_config(config).to_dict()
  for override in overrides:
    key, value = override.removeprefix('--config.').split('=', 1)
    value = {'true': True, 'false': False}.get(value.lower(), value)
    if isinstance(value, str):
      try:
        value = ast.literal_eval(value)
      except (SyntaxError, ValueError):  # a bare string, as absl takes it
        pass
    *path, last = key.split('.')
    node = loaded
    for part in path:
      node = node[part]
    assert last in node, override
    node[last] = value
  for key in ('checkpoint_every_steps', 'eval_every_steps',
              'num_train_steps'):  # ablation.py's --steps sets it
    del loaded[key]
  return loaded


def _model_differences(a, b):
  """{model field: (a's value, b's value)} where two configs' models differ."""
  return {k: (a['model'].get(k), b['model'].get(k))
          for k in a['model'].keys() | b['model'].keys()
          if a['model'].get(k) != b['model'].get(k)}


def test_make_demo_is_the_ablation_variant_its_results_name(monkeypatch):
  """The README's `make demo` rows were run as an experiments/ablation.py
  variant (`--steps=8000`): its config must be the default's, but for how
  often it saves and evaluates."""
  sys.path.insert(0, os.path.join(REPO, 'experiments'))
  import ablation  # pylint: disable=g-import-not-at-top
  monkeypatch.chdir(REPO)
  default = _variant_config('configs/sort_of_clevr_han_rn.py', [])
  assert _variant_config(
      *ablation.VARIANTS['demo_han_rn_rn0_sumpool_geo_wsd']) == default
  # Its other variants differ from it in their own fields only.
  frac = default['model']['fraction']
  for name, fields in (
      ('demo_han_rn_rn0_sumpool_geo_wsd_film', {'fusion_film': (True, False)}),
      ('demo_han_rn_rn0_sumpool_geo_wsd_film_explore',
       {'fusion_film': (True, False), 'han_explore': (0.5, 0.0)}),
      ('demo_rn_rn0_sumpool_geo_wsd', {'fraction': (1.0, frac)}),  # all cells
  ):
    variant = _variant_config(*ablation.VARIANTS[name])
    assert _model_differences(variant, default) == fields, name
    assert variant | {'model': default['model']} == default, name
