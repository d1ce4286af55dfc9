"""Which images form each step's global batch: a pure function of (seed, step), so a resumed run is exact.

Twin batches hold whole twin groups, so every image meets its hard negatives. `twins` draws each step's
groups afresh (seeded by the step); `twin_epochs` goes epoch by epoch: one pass over the twin groups in a
seeded order, packed greedily into batches, so every group is seen once per epoch. Each rank then embeds
its contiguous share of the global batch (`distributed.rank_slice`).
"""

from dataclasses import dataclass

import numpy as np

from cultureclip.errors import DataError
from cultureclip.train.data import TrainData


@dataclass
class Batch:
    pos: np.ndarray
    neg: np.ndarray | None = None
    """For twin batches: neg[i] is an image of a twin of pos[i]'s concept."""


class RandomSampler:
    """Shuffled images, `batch_size` per step."""

    def __init__(self, data: TrainData, batch_size: int, seed: int):
        self.data, self.batch_size, self.seed = data, batch_size, seed

    def __call__(self, step: int) -> Batch:
        rng = np.random.default_rng([self.seed, step])
        n = len(self.data)
        return Batch(rng.choice(n, size=min(self.batch_size, n), replace=False))


class TwinSampler:
    """Whole twin groups in a per-step seeded order until `pairs` pairs (a larger group forms a batch alone).

    In a group of k, member i pairs with member i+1 mod k, so every concept of the batch is once an
    anchor and once its twin's hard negative; each concept's image is drawn at random per step.
    """

    def __init__(self, data: TrainData, pairs: int, seed: int):
        if not data.groups:
            raise DataError(
                f"{data.source}: twin batches need twin groups, but no twin_group holds two concepts "
                "(set train.sampler=random for plain batches)"
            )
        self.data, self.pairs, self.seed = data, pairs, seed

    def groups(self, step: int, rng: np.random.Generator) -> tuple[list[int], int | None]:
        """Candidate group indices for the step, and the pair limit that ends the batch (None: take all)."""
        return rng.permutation(len(self.data.groups)).tolist(), self.pairs

    def __call__(self, step: int) -> Batch:
        rng = np.random.default_rng([self.seed, step])
        order, limit = self.groups(step, rng)
        pos: list[int] = []
        neg: list[int] = []
        for g in order:
            members = [self.data.groups[g][i] for i in rng.permutation(len(self.data.groups[g]))]
            if limit is not None and pos and len(pos) + len(members) > limit:
                break
            for i, concept in enumerate(members):
                pos.append(int(rng.choice(self.data.by_concept[concept])))
                neg.append(int(rng.choice(self.data.by_concept[members[(i + 1) % len(members)]])))
        return Batch(np.array(pos), np.array(neg))


class TwinEpochSampler(TwinSampler):
    """Twin batches epoch by epoch: each epoch's seeded group order packed greedily into batches."""

    def __init__(self, data: TrainData, pairs: int, seed: int):
        super().__init__(data, pairs, seed)
        self._starts = [0]  # first step of each epoch seen so far

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """The epoch's batches as lists of group indices."""
        order = np.random.default_rng([self.seed, epoch, 1]).permutation(len(self.data.groups))
        batches: list[list[int]] = [[]]
        size = 0
        for g in order.tolist():
            k = len(self.data.groups[g])
            if batches[-1] and size + k > self.pairs:
                batches.append([])
                size = 0
            batches[-1].append(g)
            size += k
        return batches

    def locate(self, step: int) -> tuple[int, int]:
        """(epoch, batch within the epoch) of a step."""
        while self._starts[-1] <= step:
            self._starts.append(self._starts[-1] + len(self.epoch_batches(len(self._starts) - 1)))
        epoch = int(np.searchsorted(self._starts, step, side="right")) - 1
        return epoch, step - self._starts[epoch]

    def groups(self, step: int, rng: np.random.Generator) -> tuple[list[int], int | None]:
        epoch, index = self.locate(step)
        return self.epoch_batches(epoch)[index], None


SAMPLERS = {"random": RandomSampler, "twins": TwinSampler, "twin_epochs": TwinEpochSampler}
