"""hardattn: hard attention for visual question answering in JAX/Flax."""

__version__ = '0.1.0'
