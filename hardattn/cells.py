"""Where a model's cells sit on its image, in pixels.

A grid of h x w cells is drawn on an [H, W] image as h x w rectangles whose
borders are `CellGrid.y_bounds` and `x_bounds` (continuous pixel
coordinates: pixel i spans [i, i + 1)). For precomputed backbone grids the
rectangles are the equal division of the image. For the RN's CNN they follow
its receptive fields: cell j of a stack of 3x3 stride-2 'SAME' convolutions
is centred on pixel 16 j + 10 of a 75-pixel image (4 layers), not on 15 j +
7.5, because 'SAME' pads the end of an odd row more than its start; the
border between two cells is then halfway between their centres, and the last
row and column are narrower (their receptive fields reach past the image,
into the padding). The attention pictures and the attention-quality metric
(`hardattn.attention_quality`) both use these rectangles.
"""

from collections.abc import Sequence
import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class CellGrid:
  """The rectangles of an h x w grid of cells on an [H, W] image.

  Attributes:
    y_bounds: h + 1 increasing row borders, from 0 to H (pixels).
    x_bounds: w + 1 increasing column borders, from 0 to W.
  """
  y_bounds: tuple[float, ...]
  x_bounds: tuple[float, ...]

  def __post_init__(self):
    for name in ('y_bounds', 'x_bounds'):
      b = np.asarray(getattr(self, name), np.float64)
      if b.ndim != 1 or b.size < 2 or np.any(np.diff(b) <= 0):
        raise ValueError(f'{name} must be >= 2 increasing values, got '
                         f'{getattr(self, name)!r}.')

  @property
  def shape(self) -> tuple[int, int]:
    """(h, w) cells."""
    return len(self.y_bounds) - 1, len(self.x_bounds) - 1

  @property
  def image_hw(self) -> tuple[float, float]:
    """(H, W) of the image the bounds are for."""
    return self.y_bounds[-1], self.x_bounds[-1]

  @classmethod
  def uniform(cls, grid_shape: Sequence[int],
              image_hw: Sequence[int]) -> 'CellGrid':
    """The equal division of an [H, W] image into h x w cells."""
    (h, w), (height, width) = grid_shape, image_hw
    return cls(tuple(np.linspace(0.0, height, h + 1).tolist()),
               tuple(np.linspace(0.0, width, w + 1).tolist()))

  @classmethod
  def from_centers(cls, y_centers: Sequence[float],
                   x_centers: Sequence[float],
                   image_hw: Sequence[int]) -> 'CellGrid':
    """Cells around given centres: borders halfway between neighbours."""
    def bounds(centers, size):
      c = np.asarray(centers, np.float64)
      inner = (c[1:] + c[:-1]) / 2
      return tuple([0.0] + inner.tolist() + [float(size)])
    return cls(bounds(y_centers, image_hw[0]), bounds(x_centers, image_hw[1]))

  def pixel_cells(self, axis: int) -> np.ndarray:
    """The cell index of each pixel (its centre i + 0.5) along an axis.

    Args:
      axis: 0 rows (y), 1 columns (x).

    Returns:
      [H] or [W] int.
    """
    bounds = np.asarray(self.y_bounds if axis == 0 else self.x_bounds)
    size = int(round(bounds[-1]))
    return np.searchsorted(bounds[1:-1], np.arange(size) + 0.5,
                           side='right')


def conv_centers(size: int, num_layers: int) -> np.ndarray:
  """Receptive-field centres of 3x3 stride-2 'SAME' convolutions, in pixels.

  A layer maps n inputs to m = ceil(n / 2) outputs and pads p = max(2 (m -
  1) + 3 - n, 0) pixels, floor(p / 2) before the row; output j's centre is
  input 2 j - floor(p / 2) + 1. Composing the layers gives each cell's centre
  on the image, as a continuous coordinate (pixel i's centre is i + 0.5).

  Args:
    size: the image's height or width.
    num_layers: convolutions.

  Returns:
    [ceil(size / 2^num_layers)] float centres.
  """
  sizes = [size]
  for _ in range(num_layers):
    sizes.append(-(-sizes[-1] // 2))
  centers = np.arange(sizes[-1], dtype=np.float64)
  for n in reversed(sizes[:-1]):
    m = -(-n // 2)
    before = max(2 * (m - 1) + 3 - n, 0) // 2
    centers = 2 * centers - before + 1
  return centers + 0.5


def conv_grid(image_hw: Sequence[int], num_layers: int) -> CellGrid:
  """The CellGrid of `num_layers` 3x3 stride-2 'SAME' convolutions."""
  return CellGrid.from_centers(conv_centers(image_hw[0], num_layers),
                               conv_centers(image_hw[1], num_layers),
                               image_hw)
