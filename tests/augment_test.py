"""On-device augmentation: the host's transform and draws, in JAX."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardattn import augment
from hardattn.datasets import clevr

IMAGE = np.random.default_rng(0).integers(0, 256, (32, 32, 3), np.uint8)
CASES = [(0.0, (0, 0)), (0.0, (3, -2)), (0.05, (0, 0)), (-0.05, (4, 1)),
         (0.03, (-4, -4)), (np.pi / 2, (0, 0))]


@pytest.mark.parametrize('angle,shift', CASES)
def test_nearest_is_the_host_transform(angle, shift):
  want = clevr.affine_transform(IMAGE, angle, shift, 'nearest')
  got = augment.transform(jnp.asarray(IMAGE), jnp.float32(angle),
                          jnp.asarray(shift), 'nearest')
  np.testing.assert_array_equal(np.asarray(got), want)


@pytest.mark.parametrize('angle,shift', CASES)
def test_bilinear_is_the_host_transform_to_one_level(angle, shift):
  want = clevr.affine_transform(IMAGE, angle, shift, 'bilinear')
  got = np.asarray(augment.transform(jnp.asarray(IMAGE), jnp.float32(angle),
                                     jnp.asarray(shift), 'bilinear'))
  # PIL interpolates in fixed point: results differ by at most one level,
  # and black (outside) is black in both.
  np.testing.assert_allclose(got, want, atol=1, rtol=0)
  np.testing.assert_array_equal(got == 0, want == 0)


def test_draws_cover_the_host_ranges():
  angles, shifts = augment.draw(jax.random.key(0), 20_000, pad=4,
                                max_rotation=0.05)
  angles, shifts = np.asarray(angles), np.asarray(shifts)
  # Host: rng.integers(-pad, pad + 1) per axis, rng.uniform(-r, r).
  assert set(np.unique(shifts)) == set(range(-4, 5))
  counts = np.bincount((shifts + 4).ravel(), minlength=9) / shifts.size
  np.testing.assert_allclose(counts, 1 / 9, atol=0.01)
  assert -0.05 <= angles.min() < -0.049 and 0.049 < angles.max() <= 0.05
  assert abs(angles.mean()) < 0.001
  assert abs(angles.std() - 0.05 / np.sqrt(3)) < 0.001


def test_a_batch_gets_one_draw_per_image_from_its_key():
  images = jnp.asarray(np.stack([IMAGE] * 8))
  fn = jax.jit(augment.image_augment(pad=4, max_rotation=0.05))
  a = np.asarray(fn(images, jax.random.key(1)))
  np.testing.assert_array_equal(a, np.asarray(fn(images, jax.random.key(1))))
  assert not np.array_equal(a, np.asarray(fn(images, jax.random.key(2))))
  assert len({a[i].tobytes() for i in range(8)}) > 1
  angles, shifts = augment.draw(jax.random.key(1), 8, pad=4,
                                max_rotation=0.05)
  for i in range(8):
    want = clevr.affine_transform(IMAGE, float(angles[i]),
                                  tuple(int(s) for s in shifts[i]), 'nearest')
    # float32 here, float64 in PIL: a point within about 1e-6 of a pixel
    # edge may fall in the neighbour (6 of 3,072 values for one draw).
    assert np.mean(a[i] != want) < 0.005


def test_unknown_interpolation_is_refused():
  with pytest.raises(ValueError, match='interpolation'):
    augment.augment_images(jnp.asarray(IMAGE)[None], jax.random.key(0),
                           pad=1, max_rotation=0.0, interpolation='cubic')


@pytest.mark.parametrize('angle,shift', CASES)
def test_opencv_nearest_is_the_host_transform(angle, shift):
  if clevr.opencv() is None:
    pytest.skip('OpenCV is not installed (pip install -e .[cv])')
  image = np.random.default_rng(1).integers(0, 256, (128, 128, 3), np.uint8)
  want = clevr.affine_transform(image, angle, shift, 'nearest')
  got = clevr.nearest_transform_cv2(image, angle, shift)
  if angle in (0.0, np.pi / 2):
    np.testing.assert_array_equal(got, want)
  else:  # fixed-point rounding: a point on a pixel edge may change sides
    assert 0 < np.mean(got != want) < 0.005
    np.testing.assert_array_equal(got[4:-4, 4:-4] == 0, want[4:-4, 4:-4] == 0)


def test_host_batch_backends_agree():
  images = np.random.default_rng(2).integers(0, 256, (6, 64, 64, 3),
                                             np.uint8)
  kwargs = dict(pad=4, max_rotation=0.05, interpolation='nearest')
  pil = clevr.augment_batch(images, np.random.default_rng(3), 2, 10,
                            backend='pil', **kwargs)
  auto = clevr.augment_batch(images, np.random.default_rng(3), 2, 10,
                             **kwargs)
  assert not np.array_equal(pil, images)
  assert np.mean(auto != pil) < 0.005
  with pytest.raises(ValueError, match='backend'):
    clevr.augment_batch(images, np.random.default_rng(3), backend='cv',
                        **kwargs)
