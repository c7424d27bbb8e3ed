"""The train step and loop: sharding, end to end, resume, bad input."""

import functools
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from hardattn import cli
from hardattn import errors
from hardattn import models
from hardattn import optim
from hardattn import sharding
from hardattn import train
from hardattn.datasets import sort_of_clevr

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(**overrides) -> ml_collections.ConfigDict:
  config = cli.load_config(os.path.join(REPO, 'configs', 'test.py'))
  for key, value in overrides.items():
    node = config
    *path, leaf = key.split('.')
    for p in path:
      node = node[p]
    node[leaf] = value
  return config


def _batch(meta, n, seed=0):
  rng = np.random.default_rng(seed)
  return {
      'image': rng.integers(0, 256, (n,) + meta.image_shape, dtype=np.uint8),
      'question': np.eye(11, dtype=np.float32)[rng.integers(0, 11, n)],
      'answer': rng.integers(0, meta.num_answers, n).astype(np.int32),
      'question_type': rng.integers(0, 6, n).astype(np.int32),
      'mask': np.ones(n, bool),
  }


# 'rn' is han_rn without the selection: not a separate case here.
@pytest.mark.parametrize('model_name', ['han_rn', 'adahan_rn'])
def test_sharded_step_matches_single_device(model_name):
  """Same loss and parameters on 1 and 4 devices, dropout and BN included."""
  assert jax.device_count() == 4, 'conftest fakes 4 CPU devices'
  config = _config(model_name=model_name, **{'model.dropout_rate': 0.5})
  meta = sort_of_clevr.meta(10, 10)
  model = models.create_model(model_name, meta, **config.model)
  tx = optim.create_optimizer(config.optimizer, 10)
  batches = [_batch(meta, 16, seed) for seed in range(3)]
  results = []
  for devices in (jax.devices()[:1], jax.devices()):
    mesh = sharding.create_mesh(devices)
    repl = sharding.replicated(mesh)
    state = jax.jit(lambda b: train.create_train_state(  # pylint: disable=cell-var-from-loop
        model, b, tx, jax.random.key(0)), out_shardings=repl)(
            {k: batches[0][k] for k in ('image', 'question')})
    step = jax.jit(train.train_step,
                   in_shardings=(repl, sharding.data_sharding(mesh), repl),
                   out_shardings=(repl, repl), donate_argnums=(0,))
    losses = []
    for b in batches:
      state, m = step(state, sharding.to_global(b, mesh), jax.random.key(7))
      losses.append(float(m.loss.compute()))
    results.append((losses, jax.device_get(state.params),
                    jax.device_get(state.batch_stats)))
  (l1, p1, s1), (l4, p4, s4) = results
  np.testing.assert_allclose(l1, l4, rtol=1e-5)
  for a, b in zip(jax.tree.leaves((p1, s1)), jax.tree.leaves((p4, s4))):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-6)


def _han_rn_state(questions: int, images: int | None = None):
  """A test-config HAN+RN train state and a batch of `questions` on
  `images` (default: one each)."""
  config = _config()
  meta = sort_of_clevr.meta(10, 10)
  model = models.create_model('han_rn', meta, **config.model)
  tx = optim.create_optimizer(config.optimizer, 10)
  batch = _batch(meta, questions)
  batch['image'] = batch['image'][:images or questions]
  return train.create_train_state(model, batch, tx, jax.random.key(0)), batch


def test_nonfinite_step_is_skipped():
  state, batch = _han_rn_state(4)
  bad = state.replace(params=jax.tree.map(lambda x: x * jnp.nan,
                                          state.params))
  new, m = jax.jit(train.train_step)(bad, batch, jax.random.key(1))
  assert float(m.nonfinite.compute()) == 1.0
  assert int(new.step) == 1
  for a, b in zip(jax.tree.leaves(bad.opt_state), jax.tree.leaves(
      new.opt_state)):
    np.testing.assert_array_equal(a, b)


def test_masked_questions_weigh_nothing():
  """Padding of image groups (mask False) changes neither loss nor step."""
  state, batch = _han_rn_state(8, images=4)  # 2 questions per image
  batch['mask'] = np.array([True, True, True, False] * 2)
  step = jax.jit(train.train_step)
  other = dict(batch, answer=np.where(batch['mask'], batch['answer'],
                                      (batch['answer'] + 1) % 10))
  outs = [step(state, b, jax.random.key(1)) for b in (batch, other)]
  (new_a, m_a), (new_b, m_b) = outs
  assert float(m_a.loss.compute()) == float(m_b.loss.compute())
  assert float(m_a.accuracy.compute()) == float(m_b.accuracy.compute())
  for a, b in zip(jax.tree.leaves(new_a.params), jax.tree.leaves(
      new_b.params)):
    np.testing.assert_array_equal(a, b)
  # All real: the plain mean over the batch, as without a mask.
  full = dict(batch, mask=np.ones(8, bool))
  no_mask = {k: v for k, v in full.items() if k != 'mask'}
  np.testing.assert_allclose(
      float(step(state, full, jax.random.key(1))[1].loss.compute()),
      float(step(state, no_mask, jax.random.key(1))[1].loss.compute()),
      rtol=1e-6)


def test_augment_sees_the_images_and_a_key_per_step():
  state, batch = _han_rn_state(4)
  seen = []

  def augment(images, key):
    jax.debug.callback(lambda k: seen.append(np.asarray(k)),
                       jax.random.key_data(key))
    return jnp.zeros_like(images)

  step = jax.jit(functools.partial(train.train_step, augment=augment))
  state, m = step(state, batch, jax.random.key(1))
  _, m2 = step(state, dict(batch, image=np.zeros_like(batch['image'])),
               jax.random.key(1))
  # Zeroed by the augmentation either way: the same loss.
  assert len(seen) == 2 and not np.array_equal(seen[0], seen[1])
  blank = jax.jit(train.train_step)(
      state, dict(batch, image=np.zeros_like(batch['image'])),
      jax.random.key(1))[1]
  assert float(m2.loss.compute()) == float(blank.loss.compute())


def test_end_to_end_loss_falls_and_writes_report_and_picture(tmp_path):
  config = _config(data_dir=str(tmp_path / 'data'), num_train_steps=40,
                   eval_every_steps=40, checkpoint_every_steps=20)
  workdir = str(tmp_path / 'work')
  report = train.train_and_evaluate(config, workdir)
  assert report['step'] == 40
  assert 0.0 <= report['accuracy'] <= 1.0
  for key in ('relational', 'non_relational', 'relational/count',
              'non_relational/shape'):
    assert key in report['accuracy_by_type']
  assert report['fraction_kept'] == pytest.approx(6 / 25)
  with open(os.path.join(workdir, 'eval_report.json')) as f:
    assert json.load(f)['step'] == 40
  pictures = os.listdir(os.path.join(workdir, 'pictures'))
  assert 'attention_step_00000040.png' in pictures
  assert any(f.startswith('events.out.tfevents') for f in os.listdir(workdir))
  losses = _train_losses(workdir)
  assert losses[-1] < losses[0], losses


def _train_losses(workdir):
  """train/loss from the TensorBoard event file, in step order."""
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top
  acc = event_accumulator.EventAccumulator(workdir)
  acc.Reload()
  return [e.value for e in acc.Scalars('train/loss')]


def test_resume_reaches_the_same_parameters(tmp_path):
  """Stopped after a checkpoint and resumed == uninterrupted, same seed."""
  data = str(tmp_path / 'data')
  base = dict(data_dir=data, num_train_steps=12, checkpoint_every_steps=6,
              eval_every_steps=100, num_pictures=0,
              **{'model.dropout_rate': 0.5})
  straight = str(tmp_path / 'straight')
  train.train_and_evaluate(_config(**base), straight)
  resumed = str(tmp_path / 'resumed')
  train.train_and_evaluate(_config(**dict(base, num_train_steps=6)), resumed)
  assert sorted(os.listdir(os.path.join(resumed, 'checkpoints'))) == ['6']
  train.train_and_evaluate(_config(**base), resumed)
  with open(os.path.join(resumed, 'checkpoints', '12', 'data',
                         'process_0-of-1.json')) as f:
    assert json.load(f)['next_index'] == 12  # the data order went on
  a = _restore_params(straight, _config(**base))
  b = _restore_params(resumed, _config(**base))
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)
  # Run again after its end: it only evaluates, and reports the train time
  # as it was (evaluating adds none).
  with open(os.path.join(resumed, 'wall_clock.json')) as f:
    trained_s = json.load(f)['train_wall_clock_s']
  report = train.train_and_evaluate(_config(**base), resumed)
  assert report['step'] == 12
  assert report['train_wall_clock_s'] == round(trained_s, 1)


def _restore_params(workdir, config):
  from hardattn import checkpointing  # pylint: disable=g-import-not-at-top
  from hardattn import datasets  # pylint: disable=g-import-not-at-top
  train_iter, _, meta = datasets.get_dataset(config)
  model = models.create_model(config.model_name, meta, **config.model)
  tx = optim.create_optimizer(config.optimizer, config.num_train_steps)
  state = train.create_train_state(model, _batch(meta, 2), tx,
                                   jax.random.key(0))
  ckpt = checkpointing.Checkpointer(os.path.join(workdir, 'checkpoints'))
  restored = ckpt.restore(jax.eval_shape(lambda s: s, state), train_iter)
  ckpt.close()
  return jax.device_get(restored.params)


def test_nonfinite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
  data, workdir = str(tmp_path / 'data'), str(tmp_path / 'work')
  base = dict(data_dir=data, num_train_steps=10, checkpoint_every_steps=10,
              eval_every_steps=100, num_pictures=0)
  train.train_and_evaluate(_config(**base), workdir)
  with pytest.raises(errors.NonFiniteLossError, match='checkpoint is step 10'):
    train.train_and_evaluate(_config(**dict(
        base, num_train_steps=30, **{'optimizer.learning_rate': 1e30})),
                             workdir)
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['10']
  params = _restore_params(workdir, _config(**base))
  assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(params))


def _run_main(*flags, cwd=REPO):
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  return subprocess.run([sys.executable, '-m', 'hardattn.main', *flags],
                        cwd=cwd, env=env, capture_output=True, text=True,
                        timeout=300)


def test_unknown_config_key_names_the_key(tmp_path):
  out = _run_main('--config=configs/test.py', f'--workdir={tmp_path}',
                  '--config.num_train_stpes=3')
  assert out.returncode != 0
  assert 'num_train_stpes' in out.stderr
  assert 'Traceback' not in out.stderr


def test_missing_data_dir_is_a_clear_error(tmp_path):
  missing = tmp_path / 'no_data_here'
  out = _run_main('--config=configs/test.py', f'--workdir={tmp_path / "w"}',
                  f'--config.data_dir={missing}',
                  '--config.prepare_if_missing=False')
  assert out.returncode == 1
  assert str(missing) in out.stderr
  assert 'python -m hardattn.prepare' in out.stderr
  assert 'Traceback' not in out.stderr


def test_unwritable_workdir_is_a_clear_error(tmp_path):
  blocker = tmp_path / 'file'
  blocker.write_text('not a directory')
  with pytest.raises(errors.UserError, match='Cannot write to workdir'):
    train.train_and_evaluate(_config(data_dir=str(tmp_path / 'd')),
                             str(blocker / 'work'))


def test_batch_size_must_split_over_devices(tmp_path):
  with pytest.raises(errors.UserError, match='batch_size=6'):
    train.train_and_evaluate(_config(data_dir=str(tmp_path / 'd'),
                                     batch_size=6), str(tmp_path / 'w'))


def test_warmup_stable_cosine_holds_the_rate_until_its_decay():
  config = ml_collections.ConfigDict(dict(
      learning_rate=2e-3, schedule='warmup_stable_cosine', warmup_steps=200,
      decay_fraction=0.2))
  schedule = optim.learning_rate_schedule(config, 6000)
  rate = lambda step: float(schedule(step))  # pylint: disable=unnecessary-lambda-assignment
  assert rate(0) == 0.0
  assert rate(100) == pytest.approx(1e-3)
  for step in (200, 3000, 4800):
    assert rate(step) == pytest.approx(2e-3)
  assert rate(5400) == pytest.approx(1e-3)  # half-way down the cosine
  assert rate(6000) == pytest.approx(0.0, abs=1e-9)
  config.decay_fraction = 0.0
  with pytest.raises(errors.UserError, match='decay_fraction'):
    optim.learning_rate_schedule(config, 6000)
