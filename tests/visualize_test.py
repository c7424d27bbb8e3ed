"""Tests for hardattn.visualize."""

import numpy as np
import PIL.Image
import pytest

from hardattn import visualize


def _ramp_image(height, width):
  """uint8 [height, width, 3] with distinct, non-zero pixel values."""
  values = np.arange(height * width * 3).reshape(height, width, 3)
  return (values % 250 + 5).astype(np.uint8)


class TestCellMapToPixels:

  def test_divisible_grid(self):
    values = np.array([1, 2, 3, 4])
    got = visualize.cell_map_to_pixels(values, (2, 2), (4, 4))
    want = np.array([[1, 1, 2, 2],
                     [1, 1, 2, 2],
                     [3, 3, 4, 4],
                     [3, 3, 4, 4]])
    np.testing.assert_array_equal(got, want)
    assert got.dtype == values.dtype

  def test_row_major_order_non_square_grid(self):
    # Cell n = r * w + c: a 2 x 3 grid over a 2 x 3 image is the identity.
    values = np.arange(6)
    got = visualize.cell_map_to_pixels(values, (2, 3), (2, 3))
    np.testing.assert_array_equal(got, [[0, 1, 2], [3, 4, 5]])
    got = visualize.cell_map_to_pixels(values.reshape(2, 3), (2, 3), (2, 3))
    np.testing.assert_array_equal(got, [[0, 1, 2], [3, 4, 5]])

  def test_non_divisible_uses_floor_boundaries(self):
    # 7 pixels, 2 cells: boundaries floor(0), floor(3.5) = 3, 7.
    got = visualize.cell_map_to_pixels(np.array([0, 1, 2, 3]), (2, 2), (7, 7))
    want_rows = np.array([0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(
        got, 2 * want_rows[:, None] + want_rows[None, :])

  @pytest.mark.parametrize('image_hw,grid', [((75, 75), (5, 5)),
                                             ((7, 7), (2, 2)),
                                             ((128, 128), (8, 8)),
                                             ((10, 13), (3, 4))])
  def test_every_pixel_covered_once(self, image_hw, grid):
    h, w = grid
    height, width = image_hw
    cells = visualize.cell_map_to_pixels(np.arange(h * w), grid, image_hw)
    assert cells.shape == image_hw
    counts = np.bincount(cells.ravel(), minlength=h * w)
    assert counts.sum() == height * width
    # Cell (r, c) owns rows floor(r*H/h)..floor((r+1)*H/h) and same for cols.
    for n in range(h * w):
      r, c = divmod(n, w)
      rows = (r + 1) * height // h - r * height // h
      cols = (c + 1) * width // w - c * width // w
      assert counts[n] == rows * cols
      ys, xs = np.nonzero(cells == n)
      assert ys.min() == r * height // h and xs.min() == c * width // w

  def test_bad_size_raises(self):
    with pytest.raises(ValueError, match='values must have shape'):
      visualize.cell_map_to_pixels(np.arange(5), (2, 2), (4, 4))


class TestDarkenUnattended:

  def test_one_kept_cell(self):
    image = _ramp_image(4, 4)
    mask = np.array([0, 1, 0, 0])  # Keep cell (0, 1): rows 0-1, cols 2-3.
    got = visualize.darken_unattended(image, mask, (2, 2))
    assert got.dtype == np.uint8 and got.shape == (4, 4, 3)
    want = np.rint(image.astype(np.float64) * 0.3).astype(np.uint8)
    want[0:2, 2:4] = image[0:2, 2:4]
    np.testing.assert_array_equal(got, want)

  def test_floor_value(self):
    image = np.full((4, 4, 3), 200, np.uint8)
    got = visualize.darken_unattended(image, np.array([1, 0, 0, 0]), (2, 2),
                                      floor=0.5)
    np.testing.assert_array_equal(got[:2, :2], 200)
    np.testing.assert_array_equal(got[2:, :], 100)
    np.testing.assert_array_equal(got[:, 2:], 100)

  def test_none_keeps_everything(self):
    image = _ramp_image(5, 6)
    got = visualize.darken_unattended(image, None, (2, 3))
    np.testing.assert_array_equal(got, image)
    assert got is not image

  def test_all_zero_mask_darkens_everything(self):
    image = np.full((4, 4, 3), 100, np.uint8)
    got = visualize.darken_unattended(image, np.zeros(4), (2, 2))
    np.testing.assert_array_equal(got, 30)

  def test_soft_mask_normalised_to_max(self):
    image = np.full((4, 4, 3), 200, np.uint8)
    # Normalised weights 1, 0.5, 0, 0.25 -> factors 1, 0.65, 0.3, 0.475.
    mask = np.array([0.4, 0.2, 0.0, 0.1])
    got = visualize.darken_unattended(image, mask, (2, 2))
    np.testing.assert_array_equal(got[:2, :2], 200)
    np.testing.assert_array_equal(got[:2, 2:], 130)
    np.testing.assert_array_equal(got[2:, :2], 60)
    np.testing.assert_array_equal(got[2:, 2:], 95)

  def test_non_divisible_75x75(self):
    image = _ramp_image(75, 75)
    mask = np.zeros(25)
    mask[2 * 5 + 3] = 1  # Cell (2, 3): rows 30-44, cols 45-59.
    got = visualize.darken_unattended(image, mask, (5, 5))
    unchanged = np.all(got == image, axis=-1)
    want = np.zeros((75, 75), bool)
    want[30:45, 45:60] = True
    np.testing.assert_array_equal(unchanged, want)

  def test_bad_mask_raises(self):
    image = _ramp_image(4, 4)
    with pytest.raises(ValueError, match='cell_mask'):
      visualize.darken_unattended(image, np.ones(9), (2, 2))
    with pytest.raises(ValueError, match='non-negative'):
      visualize.darken_unattended(image, np.array([1, -1, 0, 0]), (2, 2))


def _batch(batch=3, size=30, grid=(3, 3), seed=0):
  rng = np.random.default_rng(seed)
  images = np.full((batch, size, size, 3), 255, np.uint8)
  for b in range(batch):
    y, x = rng.integers(0, size - 8, 2)
    images[b, y:y + 8, x:x + 8] = rng.integers(0, 200, 3)
  n = grid[0] * grid[1]
  norms = rng.uniform(0.1, 3.0, (batch, n)).astype(np.float32)
  mask = (norms > np.median(norms, axis=1, keepdims=True)).astype(np.float32)
  questions = [f'question {b} about the shapes?' for b in range(batch)]
  predicted = ['yes', 'no', 'red'][:batch]
  true = ['yes', 'yes', 'red'][:batch]
  return images, questions, predicted, true, mask, norms


class TestAttentionFigure:

  def _check(self, fig):
    assert fig.dtype == np.uint8
    assert fig.ndim == 3 and fig.shape[-1] == 3
    assert 200 <= fig.shape[1] <= 2000 and 100 <= fig.shape[0] <= 4000
    assert fig.std() > 5.0

  def test_binary_mask(self):
    images, questions, predicted, true, mask, norms = _batch()
    fig = visualize.attention_figure(images, questions, predicted, true,
                                     cell_mask=mask, norms=norms,
                                     grid_shape=(3, 3), title='eval')
    self._check(fig)

  def test_no_mask_soft_mask_and_no_norms(self):
    images, questions, predicted, true, _, norms = _batch(batch=2)
    no_mask = visualize.attention_figure(images, questions, predicted, true,
                                         cell_mask=None, norms=norms,
                                         grid_shape=(3, 3))
    self._check(no_mask)
    soft = np.random.default_rng(1).dirichlet(np.ones(9), 2)
    self._check(visualize.attention_figure(
        images, questions, predicted, true, cell_mask=soft, norms=None,
        grid_shape=(3, 3)))

  def test_max_examples_limits_rows(self):
    images, questions, predicted, true, mask, norms = _batch(batch=3)
    kwargs = dict(cell_mask=mask, norms=norms, grid_shape=(3, 3))
    one = visualize.attention_figure(images, questions, predicted, true,
                                     max_examples=1, **kwargs)
    three = visualize.attention_figure(images, questions, predicted, true,
                                       **kwargs)
    self._check(one)
    assert one.shape[1] == three.shape[1]
    assert one.shape[0] < three.shape[0]

  def test_shape_mismatch_raises(self):
    images, questions, predicted, true, mask, norms = _batch()
    with pytest.raises(ValueError, match='norms must be'):
      visualize.attention_figure(images, questions, predicted, true,
                                 cell_mask=mask, norms=norms[:, :4],
                                 grid_shape=(3, 3))
    with pytest.raises(ValueError, match='questions has 2 entries'):
      visualize.attention_figure(images, questions[:2], predicted, true,
                                 cell_mask=mask, norms=norms,
                                 grid_shape=(3, 3))


def test_save_png_round_trip(tmp_path):
  array = _ramp_image(6, 9)
  path = tmp_path / 'a' / 'b' / 'fig.png'
  visualize.save_png(array, str(path))
  with PIL.Image.open(path) as loaded:
    assert loaded.format == 'PNG'
    np.testing.assert_array_equal(np.asarray(loaded), array)


def test_comparison_figure_draws_every_panel_and_checks_shapes():
  images = np.zeros((2, 16, 16, 3), np.uint8)
  soft = np.full((2, 2, 4), 0.25)
  soft[0, 1] = [0.7, 0.1, 0.1, 0.1]
  hard = np.array([[[1, 0, 0, 1]], [[0, 1, 1, 0]]], np.float64)
  views = [
      visualize.ModelView('SMem', ['yes', 'no'], soft, True,
                          ['hop 1', 'hop 2']),
      visualize.ModelView('HAN', ['yes', 'yes'], hard, False,
                          ['kept cells']),
  ]
  one = visualize.comparison_figure(images, ['q1', 'q2'], ['yes', 'no'],
                                    views[:1], grid_shape=(2, 2))
  both = visualize.comparison_figure(images, ['q1', 'q2'], ['yes', 'no'],
                                     views, grid_shape=(2, 2), title='t')
  assert one.dtype == both.dtype == np.uint8
  assert both.shape[1] > one.shape[1]  # one more panel column
  bad = visualize.ModelView('HAN', ['yes'], hard, False, ['kept cells'])
  with pytest.raises(ValueError, match='HAN'):
    visualize.comparison_figure(images, ['q1', 'q2'], ['yes', 'no'], [bad],
                                grid_shape=(2, 2))
