"""Figures that show which image cells hard (or soft) attention kept.

The model sees an image through a grid of h x w cells; cell index
n = r * w + c (row-major), matching a Flax conv feature map [h, w, C]
reshaped to [h * w, C]. A grid is given either as (h, w), whose cell (r, c)
covers image rows floor(r * H / h) .. floor((r + 1) * H / h) - 1 and the
analogous columns (images need not be divisible by the grid), or as the
model's `hardattn.cells.CellGrid` (`model.cell_grid(image_hw)`), whose
rectangles follow the CNN's receptive fields and are scaled to the picture.
Pictures can outline the true objects of a scene (`objects`: the boxes and
roles of `hardattn.attention_quality`).

Rendering uses `matplotlib.figure.Figure` with the Agg canvas directly (never
pyplot), so it works headless, does not touch global backend state, and
figures are freed when they go out of scope.
"""

import dataclasses
import os
import textwrap
from typing import Optional, Sequence, Tuple, Union

import matplotlib.backends.backend_agg
import matplotlib.collections
import matplotlib.figure
import matplotlib.patheffects
import matplotlib.patches
import matplotlib.transforms
import numpy as np
import PIL.Image

from hardattn import cells

GridShape = Union[Tuple[int, int], cells.CellGrid]

# Colours and sizes of the rendered figure.
_OUTLINE_COLOR = '#ffd400'
_GRID_COLOR = 'white'
_CORRECT_COLOR = '#138a36'
_WRONG_COLOR = '#d62728'
_CMAP = 'inferno'
_HEAT_ALPHA = 0.8
_ROW_HEIGHT_IN = 2.3
_PANEL_WIDTHS_IN = (2.1, 2.6, 3.1)
_DPI = 100
_FONT_SIZE = 9
_WRAP_CHARS = 34
_MAX_QUESTION_LINES = 7
# Cells with mask weight >= this fraction of the max are outlined and counted
# as kept (exactly the kept cells for a 0/1 mask).
_SOFT_KEEP_FRACTION = 0.5


def _check_grid(grid_shape: GridShape) -> Tuple[int, int]:
  """Returns (h, w) as ints, raising ValueError if not two positive ints."""
  if isinstance(grid_shape, cells.CellGrid):
    return grid_shape.shape
  if len(grid_shape) != 2:
    raise ValueError(f'grid_shape must be (h, w), got {grid_shape!r}.')
  h, w = (int(g) for g in grid_shape)
  if h <= 0 or w <= 0:
    raise ValueError(f'grid_shape must be positive, got {grid_shape!r}.')
  return h, w


def _cell_boundaries(size: int, cells: int) -> np.ndarray:
  """Pixel boundaries floor(i * size / cells) for i = 0..cells, [cells + 1]."""
  return (np.arange(cells + 1, dtype=np.int64) * size) // cells


def _axis_bounds(grid: GridShape, size: int, axis: int) -> np.ndarray:
  """Cell borders along an axis (0 rows, 1 columns) of a picture of `size`
  pixels there, [cells + 1] float: a CellGrid's, scaled to the picture, or
  the equal division's."""
  if isinstance(grid, cells.CellGrid):
    bounds = np.asarray(grid.y_bounds if axis == 0 else grid.x_bounds)
    return bounds * (size / grid.image_hw[axis])
  return _cell_boundaries(size, _check_grid(grid)[axis]).astype(np.float64)


def _pixel_to_cell(grid: GridShape, size: int, axis: int) -> np.ndarray:
  """Cell index of each pixel (its centre i + 0.5) along one axis, [size]."""
  bounds = _axis_bounds(grid, size, axis)
  return np.searchsorted(bounds[1:-1], np.arange(size) + 0.5, side='right')


def _cell_grid(values, grid_shape: GridShape, name: str) -> np.ndarray:
  """Reshapes per-cell values [N] or [h, w] to [h, w]."""
  h, w = _check_grid(grid_shape)
  values = np.asarray(values)
  if values.size != h * w or values.ndim not in (1, 2):
    raise ValueError(
        f'{name} must have shape [{h * w}] or [{h}, {w}] for grid_shape '
        f'{(h, w)}, got {values.shape}.')
  return values.reshape(h, w)


def cell_map_to_pixels(values, grid_shape: GridShape,
                       image_hw: Tuple[int, int]) -> np.ndarray:
  """Upsamples per-cell values to pixels with nearest-neighbour.

  Args:
    values: per-cell values [N] in row-major cell order, or [h, w].
    grid_shape: (h, w) cells, or a CellGrid.
    image_hw: (H, W) pixels; need not be divisible by (h, w).

  Returns:
    [H, W] array with the dtype of `values`; pixel (y, x) holds the value of
    the cell (r, c) whose rectangle holds the pixel's centre: for (h, w),
    floor(r * H / h) <= y < floor((r + 1) * H / h), and likewise for x.
  """
  grid = _cell_grid(values, grid_shape, 'values')
  height, width = (int(s) for s in image_hw)
  rows = _pixel_to_cell(grid_shape, height, 0)
  cols = _pixel_to_cell(grid_shape, width, 1)
  return grid[rows[:, None], cols[None, :]]


def _mask_weights(cell_mask, grid_shape: GridShape) -> np.ndarray:
  """Per-cell weights in [0, 1] normalised to the max, [h, w] float64."""
  h, w = _check_grid(grid_shape)
  if cell_mask is None:
    return np.ones((h, w), np.float64)
  grid = _cell_grid(cell_mask, grid_shape, 'cell_mask').astype(np.float64)
  if not np.all(np.isfinite(grid)) or np.any(grid < 0):
    raise ValueError('cell_mask must be finite and non-negative.')
  peak = grid.max()
  if peak <= 0:
    return np.zeros_like(grid)
  return grid / peak


def _is_binary(cell_mask) -> bool:
  values = np.asarray(cell_mask)
  return bool(np.all((values == 0) | (values == 1)))


def _to_rgb_uint8(image) -> np.ndarray:
  """Converts [H, W], [H, W, 1] or [H, W, 3] uint8 (or float in [0, 1])."""
  image = np.asarray(image)
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  if image.ndim == 2:
    image = np.stack([image] * 3, axis=-1)
  if image.ndim != 3 or image.shape[-1] != 3:
    raise ValueError(f'image must be [H, W, 3], got shape {image.shape}.')
  if image.dtype != np.uint8:
    if np.issubdtype(image.dtype, np.floating):
      image = np.rint(np.clip(image, 0.0, 1.0) * 255.0)
    image = np.clip(image, 0, 255).astype(np.uint8)
  return image


def darken_unattended(image, cell_mask, grid_shape: GridShape, *,
                      floor: float = 0.3) -> np.ndarray:
  """Darkens the image cells that attention did not keep.

  Each cell's pixels are multiplied by floor + (1 - floor) * m, where m is
  the cell's mask value divided by the max over cells. A binary mask thus
  leaves kept cells unchanged and scales the others by `floor`; a soft mask
  (attention weights) darkens gradually. An all-zero mask darkens every
  cell by `floor`.

  Args:
    image: uint8 [H, W, 3] (also [H, W] or [H, W, 1]; float in [0, 1]).
    cell_mask: [N] or [h, w] non-negative, row-major cells; None keeps all.
    grid_shape: (h, w) cells.
    floor: brightness factor for a cell with mask value 0, in [0, 1].

  Returns:
    uint8 [H, W, 3]: pixel values rounded to the nearest integer.
  """
  if not 0.0 <= floor <= 1.0:
    raise ValueError(f'floor must be in [0, 1], got {floor}.')
  image = _to_rgb_uint8(image)
  if cell_mask is None:
    return image.copy()
  weights = _mask_weights(cell_mask, grid_shape)
  factor = floor + (1.0 - floor) * weights
  pixel_factor = cell_map_to_pixels(factor, grid_shape, image.shape[:2])
  out = np.rint(image.astype(np.float64) * pixel_factor[..., None])
  return np.clip(out, 0, 255).astype(np.uint8)


def _grid_lines(ax, grid_shape: GridShape, image_hw: Tuple[int, int]):
  """Draws thin lines at inner cell borders, in imshow pixel coordinates."""
  height, width = image_hw
  ys = _axis_bounds(grid_shape, height, 0)[1:-1] - 0.5
  xs = _axis_bounds(grid_shape, width, 1)[1:-1] - 0.5
  kwargs = dict(colors=_GRID_COLOR, linewidths=0.5, alpha=0.6)
  ax.hlines(ys, -0.5, width - 0.5, **kwargs)
  ax.vlines(xs, -0.5, height - 0.5, **kwargs)


def _outline_segments(kept: np.ndarray, grid_shape: GridShape,
                      image_hw: Tuple[int, int]) -> list:
  """Segments on the border of the kept region (not between kept cells)."""
  height, width = image_hw
  ys = _axis_bounds(grid_shape, height, 0) - 0.5
  xs = _axis_bounds(grid_shape, width, 1) - 0.5
  padded = np.pad(kept, 1, constant_values=False)
  segments = []
  for r, c in zip(*np.nonzero(kept)):
    pr, pc = r + 1, c + 1
    if not padded[pr - 1, pc]:
      segments.append([(xs[c], ys[r]), (xs[c + 1], ys[r])])
    if not padded[pr + 1, pc]:
      segments.append([(xs[c], ys[r + 1]), (xs[c + 1], ys[r + 1])])
    if not padded[pr, pc - 1]:
      segments.append([(xs[c], ys[r]), (xs[c], ys[r + 1])])
    if not padded[pr, pc + 1]:
      segments.append([(xs[c + 1], ys[r]), (xs[c + 1], ys[r + 1])])
  return segments


def _hide_ticks(ax):
  ax.xaxis.set_visible(False)  # Keeps the frame, skips tick drawing.
  ax.yaxis.set_visible(False)


def _draw_kept(ax, image: np.ndarray, cell_mask,
               grid_shape: GridShape) -> np.ndarray:
  """Draws the image with unkept cells darkened and kept ones outlined.

  Returns:
    [h, w] bool, the cells counted as kept (weight >= 0.5 * max).
  """
  h, w = _check_grid(grid_shape)
  image_hw = image.shape[:2]
  ax.imshow(darken_unattended(image, cell_mask, grid_shape),
            interpolation='nearest')
  _grid_lines(ax, grid_shape, image_hw)
  _hide_ticks(ax)
  if cell_mask is None:
    return np.ones((h, w), bool)
  kept = _mask_weights(cell_mask, grid_shape) >= _SOFT_KEEP_FRACTION
  ax.add_collection(matplotlib.collections.LineCollection(
      _outline_segments(kept, grid_shape, image_hw), colors=_OUTLINE_COLOR,
      linewidths=1.6, capstyle='projecting',
      path_effects=[
          matplotlib.patheffects.Stroke(linewidth=3.2, foreground='black'),
          matplotlib.patheffects.Normal()]))
  return kept


def _draw_heat(ax, image: np.ndarray, values, grid_shape: GridShape,
               vmin: float, vmax: float):
  """Draws per-cell values as a heat map over the grey image.

  Returns:
    The heat map's AxesImage (for a colour bar), or None without values.
  """
  image_hw = image.shape[:2]
  gray = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114],
                                             np.float32)
  ax.imshow(gray, cmap='gray', vmin=0, vmax=255, interpolation='nearest')
  mappable = None
  if values is not None:
    heat = cell_map_to_pixels(np.asarray(values, np.float64), grid_shape,
                              image_hw)
    mappable = ax.imshow(heat, cmap=_CMAP, vmin=vmin, vmax=vmax,
                         alpha=_HEAT_ALPHA, interpolation='nearest')
  _grid_lines(ax, grid_shape, image_hw)
  _hide_ticks(ax)
  return mappable


# Object outlines by role (attention_quality: 2 asked, 1 needed, 0 other).
_OBJECT_STYLES = {2: dict(linestyle='-', linewidth=1.4),
                  1: dict(linestyle='--', linewidth=1.2),
                  0: dict(linestyle=':', linewidth=0.9)}
_OBJECT_COLOR = '#00e5ff'


def _draw_objects(ax, boxes: np.ndarray, roles: np.ndarray,
                  image_hw: Tuple[int, int], input_hw: Tuple[int, int]):
  """Outlines the objects (boxes [O, 4] in input pixels) by role."""
  sy, sx = image_hw[0] / input_hw[0], image_hw[1] / input_hw[1]
  for (x0, y0, x1, y1), role in zip(np.asarray(boxes), np.asarray(roles)):
    if int(role) not in _OBJECT_STYLES:
      continue  # padding
    ax.add_patch(matplotlib.patches.Rectangle(
        (x0 * sx - 0.5, y0 * sy - 0.5), (x1 - x0) * sx, (y1 - y0) * sy,
        fill=False, edgecolor=_OBJECT_COLOR, **_OBJECT_STYLES[int(role)]))


def _text_lines(ax, fig, lines: Sequence[Tuple[str, str, str]]):
  """Writes (text, colour, weight) lines top-down in an axis-less panel."""
  step = 1.35 * _FONT_SIZE
  offset = 0.0
  for text, color, weight in lines:
    transform = matplotlib.transforms.offset_copy(
        ax.transAxes, fig=fig, x=0.0, y=-offset, units='points')
    ax.text(0.07, 1.0, text, transform=transform, va='top', ha='left',
            fontsize=_FONT_SIZE, color=color, fontweight=weight)
    offset += step * (text.count('\n') + 1)


def _wrap_question(question: str) -> str:
  lines = textwrap.wrap(str(question), _WRAP_CHARS) or ['']
  if len(lines) > _MAX_QUESTION_LINES:
    lines = lines[:_MAX_QUESTION_LINES]
    lines[-1] = lines[-1][:_WRAP_CHARS - 1] + '\u2026'
  return '\n'.join(lines)


def _new_figure(rows: int, widths: Sequence[float], title: Optional[str], *,
                top_in: float, hspace: float = 0.3):
  """A figure of rows x len(widths) panels (widths in inches) on Agg.

  Returns:
    (figure, canvas, axes [rows, columns]).
  """
  fig_h = rows * _ROW_HEIGHT_IN + top_in + 0.1
  fig = matplotlib.figure.Figure(figsize=(sum(widths), fig_h), dpi=_DPI)
  canvas = matplotlib.backends.backend_agg.FigureCanvasAgg(fig)
  fig.subplots_adjust(left=0.01, right=0.99, bottom=0.1 / fig_h,
                      top=1.0 - top_in / fig_h, wspace=0.08, hspace=hspace)
  axes = fig.subplots(rows, len(widths), squeeze=False,
                      gridspec_kw=dict(width_ratios=list(widths)))
  if title:
    fig.suptitle(title, fontsize=_FONT_SIZE + 2, y=1.0 - 0.1 / fig_h,
                 va='top')
  return fig, canvas, axes


def attention_figure(images, questions: Sequence[str],
                     predicted: Sequence[str],
                     true: Optional[Sequence[str]], *,
                     cell_mask, norms, grid_shape: GridShape,
                     max_examples: int = 8,
                     title: Optional[str] = None,
                     heat_title: str = 'cell L2 norm',
                     objects: Optional[Tuple[np.ndarray, np.ndarray]] = None,
                     input_hw: Optional[Tuple[int, int]] = None
                     ) -> np.ndarray:
  """Renders kept cells, cell norms and answers for a batch of examples.

  One row per example (the first `max_examples`), three panels: the image
  with unkept cells darkened, cell borders and an outline around kept cells;
  the L2 norms of the cell embeddings as a heat map over the image (one
  colour scale shared by all rows, with a colour bar); and the question,
  predicted and true answers (green if equal, red otherwise) and the number
  of cells kept. For a soft mask, cells with weight >= 0.5 * max are
  outlined and counted.

  Args:
    images: uint8 [B, H, W, 3] (float in [0, 1] also accepted).
    questions: B question strings.
    predicted: B predicted answer strings.
    true: B ground-truth answer strings, or None where they are not known
      (a new question): the predicted answer is then drawn in black, with
      no true line.
    cell_mask: [B, N] 0/1 or soft weights, row-major cells; None means no
      attention (every cell kept).
    norms: [B, N] L2 norm of each cell embedding (or a soft attention's
      weights), or None to skip the heat map.
    grid_shape: (h, w) cells with h * w = N, or the model's CellGrid.
    max_examples: at most this many rows are drawn.
    title: optional figure title.
    heat_title: what `norms` holds, for the heat map's title.
    objects: optional (boxes [B, O, 4], roles [B, O]) of the true objects
      in the model input's pixels (`hardattn.attention_quality`), outlined
      on both image panels: asked objects solid, other needed objects
      dashed, the rest dotted.
    input_hw: (H, W) of the model's input, which `objects` are in (the
      pictures may be smaller); default: the pictures' size.

  Returns:
    uint8 [height, width, 3] RGB rendering of the figure.
  """
  h, w = _check_grid(grid_shape)
  n_cells = h * w
  images = np.asarray(images)
  if images.ndim not in (3, 4) or images.shape[0] == 0:
    raise ValueError(
        f'images must be [B, H, W, 3] with B >= 1, got {images.shape}.')
  batch = images.shape[0]
  for name, seq in (('questions', questions), ('predicted', predicted),
                    ('true', true)):
    if seq is None:
      continue
    if len(seq) != batch:
      raise ValueError(f'{name} has {len(seq)} entries, images has {batch}.')
  arrays = {}
  for name, value in (('cell_mask', cell_mask), ('norms', norms)):
    if value is None:
      arrays[name] = None
      continue
    value = np.asarray(value)
    if value.shape != (batch, n_cells):
      raise ValueError(
          f'{name} must be [B, N] = [{batch}, {n_cells}] for grid_shape '
          f'{(h, w)}, got {value.shape}.')
    arrays[name] = value
  mask, norm_values = arrays['cell_mask'], arrays['norms']
  if max_examples < 1:
    raise ValueError(f'max_examples must be >= 1, got {max_examples}.')
  rows = min(batch, max_examples)
  soft = mask is not None and not _is_binary(mask[:rows])

  if norm_values is not None:
    shown = norm_values[:rows].astype(np.float64)
    finite = shown[np.isfinite(shown)]
    vmin = float(finite.min()) if finite.size else 0.0
    vmax = float(finite.max()) if finite.size else 1.0
    if vmax <= vmin:
      vmax = vmin + 1.0

  fig, canvas, axes = _new_figure(rows, _PANEL_WIDTHS_IN, title,
                                  top_in=0.45 if title else 0.25)

  for i in range(rows):
    image = _to_rgb_uint8(images[i])
    ax_img, ax_heat, ax_text = axes[i]

    # Panel 1: kept cells.
    row_mask = None if mask is None else mask[i]
    kept = _draw_kept(ax_img, image, row_mask, grid_shape)
    if i == 0:
      ax_img.set_title('kept cells', fontsize=_FONT_SIZE)

    # Panel 2: cell norms (or attention weights).
    if norm_values is not None:
      mappable = _draw_heat(ax_heat, image, norm_values[i], grid_shape, vmin,
                            vmax)
      colorbar = fig.colorbar(mappable, ax=ax_heat, fraction=0.046,
                              pad=0.03)
      colorbar.solids.set_alpha(1.0)
      colorbar.ax.tick_params(labelsize=_FONT_SIZE - 2)
      row = norm_values[i]
      ax_heat.set_title(
          f'{heat_title} [{np.nanmin(row):.3g}, {np.nanmax(row):.3g}]',
          fontsize=_FONT_SIZE - 1)
    else:
      _draw_heat(ax_heat, image, None, grid_shape, 0.0, 1.0)
      ax_heat.set_title(f'no {heat_title}', fontsize=_FONT_SIZE - 1)

    if objects is not None:
      for ax in (ax_img, ax_heat):
        _draw_objects(ax, objects[0][i], objects[1][i], image.shape[:2],
                      input_hw or image.shape[:2])

    # Panel 3: question and answers.
    ax_text.axis('off')
    pred = str(predicted[i])
    gold = None if true is None else str(true[i])
    if gold is None:
      answer_color = 'black'
    elif pred.strip() == gold.strip():
      answer_color = _CORRECT_COLOR
    else:
      answer_color = _WRONG_COLOR
    n_kept = int(kept.sum())
    if row_mask is None:
      kept_text = f'no mask: all {n_cells} cells'
    elif soft:
      kept_text = (f'soft mask; \u2265{_SOFT_KEEP_FRACTION:g}\u00b7max: '
                   f'{n_kept}/{n_cells} ({n_kept / n_cells:.0%})')
    else:
      kept_text = f'kept {n_kept}/{n_cells} cells ({n_kept / n_cells:.0%})'
    _text_lines(ax_text, fig, [
        (_wrap_question(questions[i]), 'black', 'normal'),
        ('', 'black', 'normal'),
        (f'pred: {pred}', answer_color, 'bold'),
        *([] if gold is None else [(f'true: {gold}', answer_color,
                                    'normal')]),
        (kept_text, '#444444', 'normal'),
    ])

  canvas.draw()
  # No pyplot: nothing else references `fig`, so it is freed on return
  # (fig.clear() would only cost time re-creating the axes' ticks).
  return np.asarray(canvas.buffer_rgba())[..., :3].copy()


@dataclasses.dataclass(frozen=True)
class ModelView:
  """What one model made of the examples of a `comparison_figure`.

  Attributes:
    label: the model's name in the figure, e.g. 'SMem 2 hops'.
    predicted: [B] predicted answer strings.
    maps: [B, P, N] P cell maps per example: a soft attention's weights per
      hop (drawn as heat maps), or one 0/1 kept-cell mask (drawn as kept
      cells).
    soft: whether `maps` are soft weights (heat maps) or kept cells.
    panel_titles: P titles, e.g. ('hop 1', 'hop 2').
  """
  label: str
  predicted: Sequence[str]
  maps: np.ndarray
  soft: bool
  panel_titles: Sequence[str]


def comparison_figure(images, questions: Sequence[str], true: Sequence[str],
                      views: Sequence[ModelView], *, grid_shape: GridShape,
                      title: Optional[str] = None) -> np.ndarray:
  """Soft attention maps and hard attention's kept cells on the same questions.

  One row per example: the question with the true answer and every model's
  prediction (green if right, red if wrong), then each model's panels. A
  soft model's weights are heat maps scaled to [0, max] of that panel (the
  max is in the panel's title); a hard model shows its kept cells.

  Args:
    images: uint8 [B, H, W, 3].
    questions: B question strings.
    true: B ground-truth answers.
    views: the models, in column order.
    grid_shape: (h, w) cells, shared by all models.
    title: optional figure title.

  Returns:
    uint8 [height, width, 3] RGB rendering.
  """
  h, w = _check_grid(grid_shape)
  images = np.asarray(images)
  batch = images.shape[0] if images.ndim == 4 else 0
  if batch == 0:
    raise ValueError(f'images must be [B, H, W, 3], got {images.shape}.')
  if len(questions) != batch or len(true) != batch:
    raise ValueError('questions and true need one entry per image.')
  maps = []
  for view in views:
    m = np.asarray(view.maps, np.float64)
    if m.ndim != 3 or m.shape[0] != batch or m.shape[2] != h * w or (
        m.shape[1] != len(view.panel_titles)) or len(view.predicted) != batch:
      raise ValueError(
          f'{view.label}: maps must be [{batch}, len(panel_titles), {h * w}] '
          f'with {batch} predictions, got {m.shape}.')
    maps.append(m)
  widths = [_PANEL_WIDTHS_IN[2]] + [
      _PANEL_WIDTHS_IN[0] for m in maps for _ in range(m.shape[1])]
  fig, canvas, axes = _new_figure(batch, widths, title,
                                  top_in=0.6 if title else 0.4, hspace=0.35)
  for i in range(batch):
    image = _to_rgb_uint8(images[i])
    gold = str(true[i]).strip()
    lines = [(_wrap_question(questions[i]), 'black', 'normal'),
             (f'true: {gold}', 'black', 'bold')]
    for view in views:
      pred = str(view.predicted[i]).strip()
      color = _CORRECT_COLOR if pred == gold else _WRONG_COLOR
      lines.append((f'{view.label}: {pred}', color, 'normal'))
    axes[i, 0].axis('off')
    _text_lines(axes[i, 0], fig, lines)
    column = 1
    for view, m in zip(views, maps):
      for p, panel_title in enumerate(view.panel_titles):
        ax = axes[i, column]
        column += 1
        if view.soft:
          peak = float(m[i, p].max())
          _draw_heat(ax, image, m[i, p], grid_shape, 0.0, max(peak, 1e-12))
          ax.set_title(f'{view.label} {panel_title}\nmax {peak:.2f}'
                       if i == 0 else f'max {peak:.2f}',
                       fontsize=_FONT_SIZE - 1)
        else:
          kept = _draw_kept(ax, image, m[i, p], grid_shape)
          text = f'kept {int(kept.sum())}/{h * w}'
          ax.set_title(f'{view.label} {panel_title}\n{text}'
                       if i == 0 else text, fontsize=_FONT_SIZE - 1)
  canvas.draw()
  return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_png(array, path: str) -> None:
  """Writes a uint8 [H, W, 3] (or [H, W]) array to `path` as PNG.

  Args:
    array: uint8 [H, W, 3], [H, W, 4] or [H, W] image.
    path: destination file; parent directories are created.
  """
  array = np.asarray(array)
  if array.dtype != np.uint8:
    raise ValueError(f'save_png needs uint8, got {array.dtype}.')
  parent = os.path.dirname(os.fspath(path))
  if parent:
    os.makedirs(parent, exist_ok=True)
  PIL.Image.fromarray(array).save(path, format='PNG')
