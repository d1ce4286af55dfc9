"""Seeded subsets: the same count and seed draw the same items, whatever else changes."""

import numpy as np


def draw(count: int | None, total: int, seed: int) -> np.ndarray:
    """`count` distinct indices out of `total`, sorted (all of them, in order, when count is None or too large)."""
    if count is None or count >= total:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, size=count, replace=False))
