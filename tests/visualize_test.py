"""Attention pictures: exact pixel arithmetic, and rendering end to end."""

import numpy as np
import PIL.Image
import pytest

from hardattn import visualize


def test_darken_keeps_exactly_the_kept_cell():
  image = np.full((4, 4, 3), 100, np.uint8)
  out = visualize.darken_unattended(image, [0, 1, 0, 0], (2, 2), floor=0.3)
  expected = np.full((4, 4, 3), 30, np.uint8)
  expected[0:2, 2:4] = 100  # cell 1 = row 0, column 1
  np.testing.assert_array_equal(out, expected)


def test_soft_mask_darkens_by_weight_over_max():
  image = np.full((2, 2, 3), 200, np.uint8)
  out = visualize.darken_unattended(image, [0.5, 0.25, 0.0, 0.5], (2, 2),
                                    floor=0.0)
  np.testing.assert_array_equal(out[..., 0], [[200, 100], [0, 200]])


def test_no_mask_keeps_image():
  image = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
  np.testing.assert_array_equal(
      visualize.darken_unattended(image, None, (2, 2)), image)


@pytest.mark.parametrize('hw,grid', [((75, 75), (5, 5)), ((7, 7), (2, 2)),
                                     ((128, 96), (8, 8))])
def test_cells_cover_every_pixel_once(hw, grid):
  cells = np.arange(grid[0] * grid[1])
  pixels = visualize.cell_map_to_pixels(cells, grid, hw)
  assert pixels.shape == hw
  counts = np.bincount(pixels.ravel(), minlength=cells.size)
  assert np.all(counts > 0) and counts.sum() == hw[0] * hw[1]
  # Row-major: cell r * w + c is at the top-left for (0, 0), bottom-right last.
  assert pixels[0, 0] == 0 and pixels[-1, -1] == cells[-1]
  assert pixels[0, -1] == grid[1] - 1


def test_cell_map_exact_boundaries():
  # 7 pixels over 2 cells: floor(7 / 2) = 3, so rows 0-2 -> 0, rows 3-6 -> 1.
  pixels = visualize.cell_map_to_pixels([[1, 2], [3, 4]], (2, 2), (7, 7))
  np.testing.assert_array_equal(pixels[:, 0], [1, 1, 1, 3, 3, 3, 3])
  np.testing.assert_array_equal(pixels[0, :], [1, 1, 1, 2, 2, 2, 2])


def test_bad_shapes_are_errors():
  with pytest.raises(ValueError, match='cell_mask'):
    visualize.darken_unattended(np.zeros((4, 4, 3), np.uint8), [1, 0, 0],
                                (2, 2))


@pytest.mark.parametrize('with_mask', [True, False])
def test_attention_figure_renders(with_mask, tmp_path):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (3, 75, 75, 3), dtype=np.uint8)
  mask = np.zeros((3, 25), np.float32)
  mask[:, [0, 6, 12]] = 1
  picture = visualize.attention_figure(
      images, ['Is the red object on the left?'] * 3, ['yes', 'no', 'yes'],
      ['yes', 'yes', 'yes'], cell_mask=mask if with_mask else None,
      norms=rng.random((3, 25)), grid_shape=(5, 5), title='step 1')
  assert picture.dtype == np.uint8 and picture.ndim == 3
  assert picture.shape[2] == 3 and picture.shape[0] > picture.shape[1] / 2
  assert picture.std() > 10  # not a blank canvas
  path = tmp_path / 'sub' / 'picture.png'
  visualize.save_png(picture, str(path))
  np.testing.assert_array_equal(np.asarray(PIL.Image.open(path)), picture)
