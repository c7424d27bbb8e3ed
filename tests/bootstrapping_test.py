"""The options issue 17's ablations added: coordinates after the selection,
a zero-initialised answer layer, and a schedule of HAN's fraction."""

import os
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardattn import cli
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
  with pytest.raises(ValueError, match='coords'):
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
  """All cells for the first steps, then the configured fraction; evals
  use the fraction of their step and the run resumes in its phase."""
  config = cli.load_config(os.path.join(REPO, 'configs', 'test.py'))
  config.data_dir = str(tmp_path / 'data')
  config.fraction_schedule = ((10, 1.0),)
  config.num_pictures = 0
  config.eval_every_steps = 5
  config.num_train_steps = 10
  workdir = str(tmp_path / 'work')
  first = train.train_and_evaluate(config, workdir)
  assert first['fraction_kept'] == pytest.approx(6 / 25)  # eval at step 10
  config.num_train_steps = 20
  last = train.train_and_evaluate(config, workdir)
  assert last['step'] == 20
  with open(os.path.join(workdir, 'eval_history.jsonl')) as f:
    kept = [round(float(x.split('"fraction_kept": ')[1].split(',')[0]), 2)
            for x in f]
  assert kept == [1.0, 0.24, 0.24, 0.24]  # steps 5, 10, 15, 20
