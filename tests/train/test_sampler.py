from collections import Counter

import numpy as np
import pytest

from cultureclip.errors import DataError
from cultureclip.train.data import index_rows
from cultureclip.train.sampler import RandomSampler, TwinEpochSampler, TwinSampler

GROUPS = {"g1": ["a", "b", "c"], "g2": ["d", "e"], "g3": ["f", "g"], "solo": ["h"]}


def _data(images_per_concept=4):
    concepts = [(g, c) for g, members in GROUPS.items() for c in members for _ in range(images_per_concept)]
    columns = {"concept_id": [c for _, c in concepts], "twin_group": [g for g, _ in concepts]}
    n = len(concepts)
    return index_rows(
        columns | {"generic": [None] * n, "shard": ["s.tar"] * n, "offset": [0] * n, "length": [0] * n}, "t"
    )


@pytest.mark.parametrize("sampler", [TwinSampler, TwinEpochSampler])
def test_twin_batches_pair_each_image_with_a_twin_and_keep_groups_whole(sampler):
    data = _data()
    concept_of = [data.concepts[c] for c in data.concept]
    group_of = {c: g for g, members in GROUPS.items() for c in members}
    for step in range(20):
        batch = sampler(data, pairs=5, seed=3)(step)
        pos = [concept_of[i] for i in batch.pos]
        neg = [concept_of[i] for i in batch.neg]
        assert len(pos) <= 5
        for p, n in zip(pos, neg, strict=True):
            assert p != n and group_of[p] == group_of[n]
        assert Counter(pos) == Counter(neg), "every anchor concept is also exactly one pair's hard negative"
        for g in {group_of[p] for p in pos}:
            assert sorted(c for c in pos if group_of[c] == g) == sorted(GROUPS[g]), "whole groups"
        assert "h" not in pos


@pytest.mark.parametrize("twins", [TwinSampler, TwinEpochSampler])
def test_batches_are_a_function_of_seed_and_step(twins):
    data = _data()
    sampler = twins(data, 5, seed=1)
    walked = [sampler(s) for s in range(9)]  # a sampler that has seen earlier steps
    a, b = walked[8], twins(data, 5, seed=1)(8)  # a fresh one, as after --resume
    assert np.array_equal(a.pos, b.pos) and np.array_equal(a.neg, b.neg)
    c = twins(data, 5, seed=2)(8)
    assert not (np.array_equal(a.pos, c.pos) and np.array_equal(a.neg, c.neg))
    r1, r2 = RandomSampler(data, 6, seed=1)(0), RandomSampler(data, 6, seed=1)(0)
    assert np.array_equal(r1.pos, r2.pos) and r1.neg is None and len(set(r1.pos.tolist())) == 6


def test_a_group_larger_than_the_batch_still_forms_one_batch():
    batch = TwinSampler(_data(), pairs=2, seed=0)(0)
    assert len(batch.pos) in (2, 3)


def test_no_twin_groups_is_a_clear_error():
    data = _data()
    data.groups = []
    with pytest.raises(DataError, match="twin batches need twin groups"):
        TwinSampler(data, 4, seed=0)


def test_each_epoch_shows_every_twin_group_once():
    data = _data()
    sampler = TwinEpochSampler(data, pairs=4, seed=5)
    group_of = {c: g for g, members in GROUPS.items() for c in members}
    seen: dict[int, Counter] = {}
    for step in range(12):
        epoch, _ = sampler.locate(step)
        groups = {group_of[data.concepts[data.concept[i]]] for i in sampler(step).pos}
        seen.setdefault(epoch, Counter()).update(groups)
    complete = [e for e in seen if e < max(seen)]
    assert len(complete) >= 3
    for epoch in complete:
        assert seen[epoch] == Counter({"g1": 1, "g2": 1, "g3": 1})
    assert sampler.epoch_batches(0) != sampler.epoch_batches(1) or sampler.epoch_batches(1) != sampler.epoch_batches(2)
