"""Which images form each step's batch; a pure function of (seed, step), so a resumed run is exact."""

from dataclasses import dataclass

import numpy as np

from cultureclip.errors import DataError
from cultureclip.train.data import TrainData


@dataclass
class Batch:
    pos: np.ndarray
    neg: np.ndarray | None = None
    """For twin batches: neg[i] is an image of a twin of pos[i]'s concept."""


def random_batch(data: TrainData, batch_size: int, seed: int, step: int) -> Batch:
    rng = np.random.default_rng([seed, step])
    return Batch(rng.choice(len(data.rows), size=min(batch_size, len(data.rows)), replace=False))


def twin_batch(data: TrainData, pairs: int, seed: int, step: int) -> Batch:
    """Whole twin groups until `pairs` is reached; in a group of k, member i pairs with member i+1 mod k,
    so every concept of the batch is once an anchor and once its twin's hard negative."""
    if not data.groups:
        raise DataError("twin batches need twin groups, but the dataset has none (twin_group fields)")
    rng = np.random.default_rng([seed, step])
    pos: list[int] = []
    neg: list[int] = []
    for g in rng.permutation(len(data.groups)):
        members = [data.groups[g][i] for i in rng.permutation(len(data.groups[g]))]
        if pos and len(pos) + len(members) > pairs:
            break
        for i, concept in enumerate(members):
            twin = members[(i + 1) % len(members)]
            pos.append(int(rng.choice(data.by_concept[concept])))
            neg.append(int(rng.choice(data.by_concept[twin])))
    return Batch(np.array(pos), np.array(neg))
