"""How well attention finds the objects of a scene whose layout is known.

Neither paper measures this; it turns their qualitative attention figures
into numbers. A dataset whose generator (Sort-of-CLEVR, spatial) or release
(CLEVR's scene files) knows every object adds to its eval batches

  object_boxes: float32 [b, O, 4] each object's box (x0, y0, x1, y1) in
    continuous pixel coordinates of the model's input image (pixel i spans
    [i, i + 1)); zeros for padding;
  object_roles: int32 [b, O] what the question needs of each object:
    NONE (-1, padding), OTHER (0, in the image, not needed), RELEVANT (1,
    needed, e.g. every object of a count question, or the object closest
    to the one asked about) or ASKED (2, named by the question; also
    needed).

A cell covers an object when the object's box overlaps the cell's rectangle
(`hardattn.cells.CellGrid`: the receptive-field grid of the model's CNN). An
object is found by a hard attention when the cell holding its centre is
kept. Per question, for a model keeping the cells of `cell_mask` (0/1):

  precision: kept cells covering some object / kept cells;
  object_cells: cells covering some object / cells (the precision of
    keeping cells at random);
  asked_recall: asked objects found / asked objects (over the questions
    that name an object in the image);
  relevant_recall: needed objects found / needed objects (over the
    questions that need more objects than they name: Sort-of-CLEVR's
    closest, furthest and count);
  asked_cover: kept cells covering an asked object / cells covering one.
    Where an object spans several cells (a fine grid), finding its centre
    is not keeping all of it: a sum over its cells, e.g. of its area, needs
    them all.

and, from the cells' L2 norms (the attention signal, whatever the model
keeps), asked_recall_at_25: the asked recall of keeping the quarter of the
cells with the largest norms, i.e. of HAN at fraction 0.25 (for such a
model, asked_recall). An all-cells model thus shows whether its norms track
the objects the question asks about.

With the answers' correctness (`answer_split`), a hard attention's
accuracy also splits by whether the asked objects were found:

  asked_kept_accuracy: accuracy over the questions whose asked objects
    were all found;
  asked_missed_accuracy: accuracy over those where one was not.

So a low accuracy reads as the selection's fault (kept high, missed low)
or the reading's (kept low too).

For a soft attention (`cell_mask` = weights summing to 1) the same from the
weights: precision is the attention mass on cells covering an object,
asked_mass and relevant_mass the mass on the cells covering an asked
(needed) object. A model that keeps every cell has precision = object_cells
and recall 1: the all-cells control.
"""

import jax
import jax.numpy as jnp
import numpy as np

from hardattn import cells as cells_lib

NONE, OTHER, RELEVANT, ASKED = -1, 0, 1, 2

HARD_FIELDS = ('precision', 'object_cells', 'asked_recall', 'relevant_recall',
               'asked_cover', 'asked_recall_at_25')
SOFT_FIELDS = ('precision', 'object_cells', 'asked_mass', 'relevant_mass')
ANSWER_FIELDS = ('asked_kept_accuracy', 'asked_missed_accuracy')


def coverage(boxes: jax.Array, roles: jax.Array,
             grid: cells_lib.CellGrid) -> tuple[jax.Array, jax.Array]:
  """Which cells each object covers, and the cell of its centre.

  Args:
    boxes: [b, O, 4] (x0, y0, x1, y1) pixel boxes.
    roles: [b, O] int (NONE for padding).
    grid: the model's cells on the image.

  Returns:
    covers [b, O, cells] float 0/1 (0 for padding), and center_cell [b, O]
    int32 (row-major cell index of each box's centre).
  """
  ys = jnp.asarray(grid.y_bounds, jnp.float32)
  xs = jnp.asarray(grid.x_bounds, jnp.float32)
  x0, y0, x1, y1 = (boxes[..., i, None] for i in range(4))
  rows = (y0 < ys[1:]) & (y1 > ys[:-1])  # [b, O, h]
  cols = (x0 < xs[1:]) & (x1 > xs[:-1])  # [b, O, w]
  present = (roles >= OTHER)[..., None, None]
  covers = rows[..., :, None] & cols[..., None, :] & present
  covers = covers.reshape(covers.shape[:2] + (-1,)).astype(jnp.float32)
  cy, cx = (y0 + y1)[..., 0] / 2, (x0 + x1)[..., 0] / 2
  row = jnp.sum(cy[..., None] >= ys[1:-1], axis=-1)
  col = jnp.sum(cx[..., None] >= xs[1:-1], axis=-1)
  return covers, (row * grid.shape[1] + col).astype(jnp.int32)


def per_question(cell_mask: jax.Array, boxes: jax.Array, roles: jax.Array,
                 grid: cells_lib.CellGrid, *, soft: bool,
                 norms: jax.Array | None = None
                 ) -> dict[str, tuple[jax.Array, jax.Array]]:
  """The attention-quality ratios of each question, as (numerator, denominator).

  Averaging over questions is sum(numerators) / sum(denominators); a
  question without an asked (needed) object has denominator 0 for the
  recalls and does not count.

  Args:
    cell_mask: [b, cells] kept cells (0/1), or soft weights (sum 1).
    boxes: [b, O, 4] object boxes, see the module doc.
    roles: [b, O] object roles.
    grid: the model's CellGrid.
    soft: `cell_mask` holds soft weights.
    norms: [b, cells] the cells' L2 norms (hard attention and all-cells
      models), for asked_recall_at_25; None leaves it out.

  Returns:
    {field: ([b] numerator, [b] denominator)} for HARD_FIELDS or
    SOFT_FIELDS.
  """
  w = cell_mask.astype(jnp.float32)
  covers, center = coverage(boxes, roles, grid)
  on_object = jnp.max(covers, axis=1)  # [b, cells]
  one = jnp.ones(w.shape[:1], jnp.float32)
  out = {
      'precision': (jnp.sum(w * on_object, -1), jnp.sum(w, -1)),
      'object_cells': (jnp.mean(on_object, -1), one),
  }
  asked = (roles == ASKED).astype(jnp.float32)
  needed = (roles >= RELEVANT).astype(jnp.float32)
  # Only questions that need more than they name count for 'relevant'.
  needed = needed * (jnp.sum(needed, -1) > jnp.sum(asked, -1))[:, None]
  if soft:
    for name, which in (('asked_mass', asked), ('relevant_mass', needed)):
      union = jnp.max(covers * which[..., None], axis=1)  # [b, cells]
      any_object = jnp.max(which, -1)
      out[name] = (jnp.sum(w * union, -1) * any_object, any_object)
  else:
    found = jnp.take_along_axis(w, center, axis=1) > 0  # [b, O]
    for name, which in (('asked_recall', asked), ('relevant_recall', needed)):
      out[name] = (jnp.sum(found * which, -1), jnp.sum(which, -1))
    asked_cells = jnp.max(covers * asked[..., None], axis=1)  # [b, cells]
    out['asked_cover'] = (jnp.sum((w > 0) * asked_cells, -1),
                          jnp.sum(asked_cells, -1))
    if norms is not None:
      k = max(1, round(norms.shape[-1] / 4))
      threshold = jax.lax.top_k(norms, k)[0][:, -1:]
      top = jnp.take_along_axis(norms, center, axis=1) >= threshold
      out['asked_recall_at_25'] = (jnp.sum(top * asked, -1),
                                   jnp.sum(asked, -1))
  return out


def answer_split(correct: jax.Array,
                 asked_recall: tuple[jax.Array, jax.Array]
                 ) -> dict[str, tuple[jax.Array, jax.Array]]:
  """ANSWER_FIELDS of each question, as (numerator, denominator).

  Args:
    correct: [b] the answer's credit (1 right, 0 wrong; VQA's soft score).
    asked_recall: `per_question`'s (found, asked) of each question.
  """
  found, asked = asked_recall
  named = asked > 0
  kept = (named & (found >= asked)).astype(jnp.float32)
  missed = (named & (found < asked)).astype(jnp.float32)
  credit = correct.astype(jnp.float32)
  return {'asked_kept_accuracy': (credit * kept, kept),
          'asked_missed_accuracy': (credit * missed, missed)}


def summarize(sums: dict[str, tuple[float, float]]) -> dict[str, float]:
  """{field: numerator / denominator} of summed ratios (NaN-free: fields
  with no questions are left out)."""
  return {k: float(n / d) for k, (n, d) in sums.items() if d > 0}


def boxes_of_squares(centers: np.ndarray, half_size: int) -> np.ndarray:
  """The pixel boxes [n, 4] of objects drawn in [x - h, x + h) around
  integer centres [n, 2] (x, y), as `generated.draw_objects` draws them."""
  c = np.asarray(centers, np.float32)
  return np.concatenate([c - half_size, c + half_size], axis=-1)
