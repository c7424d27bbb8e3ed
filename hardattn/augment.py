"""The RN paper's image augmentation inside the jitted step, on the device.

Pad, random crop back and a small random rotation, as
`hardattn.datasets.clevr.augment` does on the host with PIL: the same
draws (integer shifts uniform in [-pad, pad] per axis, an angle uniform in
[-max_rotation, max_rotation]) and the same pixel mapping (PIL's affine
transform about the image centre, black outside), so a batch augmented here
is distributed as one augmented on the host. The images stay uint8 and the
draws come from a key, so the input host only gathers arrays.
"""

from collections.abc import Callable
import functools

import jax
import jax.numpy as jnp

INTERPOLATIONS = ('nearest', 'bilinear')


def draw(key: jax.Array, n: int, *, pad: int, max_rotation: float
         ) -> tuple[jax.Array, jax.Array]:
  """n angles (radians) [n] and integer shifts (dx, dy) [n, 2]."""
  shift_key, angle_key = jax.random.split(key)
  shifts = jax.random.randint(shift_key, (n, 2), -pad, pad + 1)
  angles = jax.random.uniform(angle_key, (n,), minval=-max_rotation,
                              maxval=max_rotation)
  return angles, shifts


def source_coordinates(size: tuple[int, int], angle: jax.Array,
                       shift: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Where each output pixel reads the input: (rows, columns) [H, W].

  Pixel (x, y) has its centre at (x + 0.5, y + 0.5); it reads the input
  point R(angle) (p - c - d) + c for centre c and shift d, in pixel-index
  units (centre of pixel i at i). The mapping of PIL's affine transform in
  `clevr.affine_transform`.
  """
  h, w = size
  cx, cy = w / 2, h / 2
  cos, sin = jnp.cos(angle), jnp.sin(angle)
  dx, dy = shift[0].astype(jnp.float32), shift[1].astype(jnp.float32)
  y, x = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32) + 0.5,
                      jnp.arange(w, dtype=jnp.float32) + 0.5, indexing='ij')
  px, py = x - cx - dx, y - cy - dy
  u = cos * px - sin * py + cx
  v = sin * px + cos * py + cy
  return v - 0.5, u - 0.5


def _sample(image: jax.Array, rows: jax.Array, cols: jax.Array
            ) -> tuple[jax.Array, jax.Array]:
  """image[rows, cols] (integer indices) and whether each is inside."""
  h, w = image.shape[:2]
  inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
  values = image[jnp.clip(rows, 0, h - 1), jnp.clip(cols, 0, w - 1)]
  return values, inside


def transform(image: jax.Array, angle: jax.Array, shift: jax.Array,
              interpolation: str = 'nearest') -> jax.Array:
  """One image [H, W, C] rotated by `angle` then shifted; black outside."""
  rows, cols = source_coordinates(image.shape[:2], angle, shift)
  if interpolation == 'nearest':  # PIL: the pixel the point falls in
    values, inside = _sample(image, jnp.floor(rows + 0.5).astype(jnp.int32),
                             jnp.floor(cols + 0.5).astype(jnp.int32))
    return jnp.where(inside[..., None], values, 0).astype(image.dtype)
  # PIL: black where the point falls outside the image, else the four
  # nearest pixels, clamped to the edge.
  h, w = image.shape[:2]
  inside = ((rows > -0.5) & (rows < h - 0.5) & (cols > -0.5)
            & (cols < w - 0.5))
  r0, c0 = jnp.floor(rows), jnp.floor(cols)
  fr, fc = (rows - r0)[..., None], (cols - c0)[..., None]
  r0, c0 = r0.astype(jnp.int32), c0.astype(jnp.int32)
  total = 0.0
  for dr, wr in ((0, 1 - fr), (1, fr)):
    for dc, wc in ((0, 1 - fc), (1, fc)):
      values, _ = _sample(image, r0 + dr, c0 + dc)
      total += values.astype(jnp.float32) * wr * wc
  total = jnp.where(inside[..., None], total, 0.0)
  if jnp.issubdtype(image.dtype, jnp.integer):
    total = jnp.clip(jnp.floor(total + 0.5), 0, 255)
  return total.astype(image.dtype)


def augment_images(images: jax.Array, key: jax.Array, *, pad: int,
                   max_rotation: float, interpolation: str = 'nearest'
                   ) -> jax.Array:
  """A batch [n, H, W, C], each image with its own draw from `key`."""
  if interpolation not in INTERPOLATIONS:
    raise ValueError(f'interpolation must be one of {INTERPOLATIONS}, got '
                     f'{interpolation!r}')
  angles, shifts = draw(key, images.shape[0], pad=pad,
                        max_rotation=max_rotation)
  return jax.vmap(functools.partial(transform, interpolation=interpolation)
                  )(images, angles, shifts)


def image_augment(*, pad: int, max_rotation: float,
                  interpolation: str = 'nearest'
                  ) -> Callable[[jax.Array, jax.Array], jax.Array]:
  """augment(images, key) for `train.train_step`."""
  return functools.partial(augment_images, pad=pad, max_rotation=max_rotation,
                           interpolation=interpolation)
