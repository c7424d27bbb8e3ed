"""Cell geometry and the attention-quality metric, on hand-built scenes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardattn import attention_quality as aq
from hardattn import cells
from hardattn.datasets import sort_of_clevr
from hardattn.datasets import spatial
from hardattn.models import encoders


@pytest.mark.parametrize('size,layers', [(75, 4), (64, 3), (128, 4), (9, 2)])
def test_conv_centers_are_the_receptive_field_centres(size, layers):
  """An interior cell's centre is the centre of the pixels it sums."""
  impulses = jnp.eye(size, dtype=jnp.float32)[:, None, :, None]
  h = impulses  # [size] images of one row, a 1 at column p
  ones = {'params': {'kernel': jnp.ones((3, 3, 1, 1))}}
  for _ in range(layers):
    h = encoders.Conv3x3Stride2(1, 'zeros', 'patches').apply(ones, h)
  response = np.asarray(h[:, 0, :, 0])  # [pixel, cell]
  centers = cells.conv_centers(size, layers)
  assert len(centers) == response.shape[1]
  pixels = np.arange(size) + 0.5
  # Border cells' fields reach into the padding: compare interior ones.
  for j in range(1, len(centers) - 1):
    mean = np.sum(response[:, j] * pixels) / np.sum(response[:, j])
    assert mean == pytest.approx(centers[j]), j


def test_grids():
  grid = cells.conv_grid((75, 75), 4)
  assert grid.shape == (5, 5)
  np.testing.assert_allclose(grid.x_bounds,
                             [0, 18.5, 34.5, 50.5, 66.5, 75])
  assert grid.image_hw == (75, 75)
  assert list(grid.pixel_cells(1)[[0, 17, 18, 65, 66]]) == [0, 0, 1, 3, 4]
  uniform = cells.CellGrid.uniform((2, 4), (10, 20))
  assert uniform.y_bounds == (0.0, 5.0, 10.0)
  assert uniform.x_bounds == (0.0, 5.0, 10.0, 15.0, 20.0)
  with pytest.raises(ValueError, match='increasing'):
    cells.CellGrid((0.0, 0.0), (0.0, 1.0))


# A 2x2 grid on a 20x20 image, cells 10 px.
_GRID = cells.CellGrid.uniform((2, 2), (20, 20))


def _scene():
  """Object 0 in cell 0 only, object 1 over cells 1 and 3 (centre in 3),
  object 2 padding."""
  boxes = np.array([[[2, 2, 6, 6], [12, 8, 18, 16], [0, 0, 0, 0]]],
                   np.float32)
  return jnp.asarray(boxes)


def test_coverage():
  roles = jnp.array([[aq.OTHER, aq.OTHER, aq.NONE]])
  covers, center = aq.coverage(_scene(), roles, _GRID)
  np.testing.assert_array_equal(
      covers[0], [[1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0]])
  np.testing.assert_array_equal(center[0, :2], [0, 3])


def _ratios(out):
  return {k: float(n[0] / d[0]) if d[0] > 0 else None
          for k, (n, d) in out.items()}


def test_hard_attention_quality():
  roles = jnp.array([[aq.ASKED, aq.RELEVANT, aq.NONE]])
  kept = jnp.array([[1.0, 1.0, 1.0, 0.0]])  # object 1's centre cell dropped
  norms = jnp.array([[5.0, 1.0, 2.0, 3.0]])
  out = _ratios(aq.per_question(kept, _scene(), roles, _GRID, soft=False,
                                norms=norms))
  assert out == {
      'precision': pytest.approx(2 / 3),  # cells 0 and 1 cover objects
      'object_cells': pytest.approx(3 / 4),
      'asked_recall': 1.0,  # object 0's centre (cell 0) kept
      'relevant_recall': pytest.approx(1 / 2),  # object 1's (cell 3) not
      'asked_cover': 1.0,  # object 0 covers cell 0 alone, kept
      'asked_recall_at_25': 1.0,  # top quarter (1 cell) by norm: cell 0
  }
  # A question naming no object counts for no recall.
  none_asked = jnp.array([[aq.OTHER, aq.OTHER, aq.NONE]])
  out = _ratios(aq.per_question(kept, _scene(), none_asked, _GRID,
                                soft=False, norms=norms))
  assert out['asked_recall'] is None and out['relevant_recall'] is None


def test_answer_split_by_whether_the_asked_objects_were_found():
  """Four questions: two found their asked object (one right), one missed
  one of its two asked objects (right), one names none (counts for
  neither)."""
  found = jnp.array([1.0, 1.0, 1.0, 0.0])
  asked = jnp.array([1.0, 1.0, 2.0, 0.0])
  correct = jnp.array([1.0, 0.0, 1.0, 1.0])
  out = aq.answer_split(correct, (found, asked))
  assert set(out) == set(aq.ANSWER_FIELDS)
  (kn, kd), (mn, md) = (out['asked_kept_accuracy'],
                        out['asked_missed_accuracy'])
  np.testing.assert_array_equal(kd, [1, 1, 0, 0])
  np.testing.assert_array_equal(md, [0, 0, 1, 0])
  assert float(kn.sum() / kd.sum()) == 0.5
  assert float(mn.sum() / md.sum()) == 1.0


def test_asked_cover_counts_every_cell_of_the_asked_object():
  # Object 1 covers cells 1 and 3; its centre (cell 3) is kept, cell 1 not:
  # found, but half covered.
  roles = jnp.array([[aq.OTHER, aq.ASKED, aq.NONE]])
  kept = jnp.array([[1.0, 0.0, 0.0, 1.0]])
  out = _ratios(aq.per_question(kept, _scene(), roles, _GRID, soft=False))
  assert out['asked_recall'] == 1.0
  assert out['asked_cover'] == pytest.approx(1 / 2)
  # Two asked objects pool their cells: 1 of object 0's 1 and 1 of 2.
  both = jnp.array([[aq.ASKED, aq.ASKED, aq.NONE]])
  out = _ratios(aq.per_question(kept, _scene(), both, _GRID, soft=False))
  assert out['asked_cover'] == pytest.approx(2 / 3)
  # All cells kept (the control): every cell covered.
  out = _ratios(aq.per_question(jnp.ones((1, 4)), _scene(), roles, _GRID,
                                soft=False))
  assert out['asked_cover'] == 1.0


def test_relevant_recall_needs_more_than_the_asked_objects():
  roles = jnp.array([[aq.ASKED, aq.OTHER, aq.NONE]])
  out = _ratios(aq.per_question(jnp.ones((1, 4)), _scene(), roles, _GRID,
                                soft=False))
  assert out['relevant_recall'] is None
  assert out['asked_recall'] == 1.0
  assert 'asked_recall_at_25' not in out  # no norms given


def test_soft_attention_quality():
  roles = jnp.array([[aq.ASKED, aq.RELEVANT, aq.NONE]])
  weights = jnp.array([[0.5, 0.1, 0.3, 0.1]])
  out = _ratios(aq.per_question(weights, _scene(), roles, _GRID, soft=True))
  assert out['precision'] == pytest.approx(0.7)  # cells 0, 1, 3
  assert out['asked_mass'] == pytest.approx(0.5)
  assert out['relevant_mass'] == pytest.approx(0.7)  # objects 0 and 1


def test_sort_of_clevr_question_objects():
  scene = sort_of_clevr.generate_scene(0, 'train', 3).as_dict()
  for q in range(sort_of_clevr.NUM_QUESTIONS):
    boxes, roles = sort_of_clevr.question_objects(scene, q)
    kind, color = sort_of_clevr.decode_question(scene['questions'][q])
    assert roles[color] == aq.ASKED
    assert np.sum(roles == aq.ASKED) == 1
    needed = {0: 0, 1: 0, 2: 0, 3: 1, 4: 1, 5: 5}[kind]
    assert np.sum(roles == aq.RELEVANT) == needed
    # Each box holds exactly its object's pixels.
    x0, y0, x1, y1 = boxes[color].astype(int)
    patch = scene['image'][y0:y1, x0:x1]
    assert np.all(patch == sort_of_clevr.COLORS[color], axis=-1).sum() in (
        80, 100)  # circle or square


def test_spatial_question_objects():
  scene = spatial.generate_scene(0, 'train', 3).as_dict()
  for q in range(spatial.NUM_QUESTIONS):
    boxes, roles = spatial.question_objects(scene, q)
    words = spatial.question_text(scene['questions'][q]).split()
    for i, color in enumerate(scene['object_colors']):
      if color < 0:
        assert roles[i] == aq.NONE and not boxes[i].any()
      else:
        named = spatial.COLOR_NAMES[color] in words
        assert roles[i] == (aq.ASKED if named else aq.OTHER)


def test_metric_is_jittable():
  roles = jnp.array([[aq.ASKED, aq.RELEVANT, aq.NONE]])
  f = jax.jit(lambda w, b, r: aq.per_question(w, b, r, _GRID, soft=False))
  out = f(jnp.ones((1, 4)), _scene(), roles)
  assert float(out['asked_recall'][0][0]) == 1.0
