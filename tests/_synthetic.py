"""A tiny, learnable image dataset for fast estimator tests (no real data needed)."""

import numpy as np


def make_images(n=120, size=8, n_classes=3, seed=0):
    """Images whose class is a bright quadrant/stripe: easy, but needs the pixels."""
    rng = np.random.RandomState(seed)
    y = np.arange(n) % n_classes
    X = rng.randint(0, 80, size=(n, size, size, 3)).astype(np.uint8)
    half = size // 2
    for k in range(n_classes):
        rows = slice(0, half) if k % 2 == 0 else slice(half, size)
        cols = slice(0, half) if k < 2 else slice(half, size)
        X[y == k, rows, cols, k % 3] = 250
    return X, y
