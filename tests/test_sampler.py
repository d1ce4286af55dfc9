from collections import Counter

import numpy as np
import pytest

from cultureclip.errors import DataError
from cultureclip.train.data import TrainData
from cultureclip.train.sampler import random_batch, twin_batch

GROUPS = {"g1": ["a", "b", "c"], "g2": ["d", "e"], "g3": ["f", "g"], "solo": ["h"]}


def _data(images_per_concept=4):
    rows = [
        {"concept_id": c, "twin_group": g}
        for g, members in GROUPS.items()
        for c in members
        for _ in range(images_per_concept)
    ]
    by_concept = {}
    for i, r in enumerate(rows):
        by_concept.setdefault(r["concept_id"], []).append(i)
    groups = [m for m in GROUPS.values() if len(m) > 1]
    return TrainData(pixels=None, rows=rows, by_concept=by_concept, groups=groups)


def test_twin_batches_pair_each_image_with_a_twin_and_keep_groups_whole():
    data = _data()
    concept_of = [r["concept_id"] for r in data.rows]
    group_of = {c: g for g, members in GROUPS.items() for c in members}
    for step in range(20):
        batch = twin_batch(data, pairs=5, seed=3, step=step)
        pos = [concept_of[i] for i in batch.pos]
        neg = [concept_of[i] for i in batch.neg]
        assert len(pos) <= 5
        for p, n in zip(pos, neg, strict=True):
            assert p != n and group_of[p] == group_of[n]
        assert Counter(pos) == Counter(neg), "every anchor concept is also exactly one pair's hard negative"
        for g in {group_of[p] for p in pos}:
            assert sorted(c for c in pos if group_of[c] == g) == sorted(GROUPS[g]), "whole groups"
        assert "h" not in pos


def test_batches_are_a_function_of_seed_and_step():
    data = _data()
    a, b = twin_batch(data, 5, seed=1, step=4), twin_batch(data, 5, seed=1, step=4)
    assert np.array_equal(a.pos, b.pos) and np.array_equal(a.neg, b.neg)
    c = twin_batch(data, 5, seed=2, step=4)
    assert not (np.array_equal(a.pos, c.pos) and np.array_equal(a.neg, c.neg))
    r1, r2 = random_batch(data, 6, seed=1, step=0), random_batch(data, 6, seed=1, step=0)
    assert np.array_equal(r1.pos, r2.pos) and r1.neg is None and len(set(r1.pos.tolist())) == 6


def test_a_group_larger_than_the_batch_still_forms_one_batch():
    batch = twin_batch(_data(), pairs=2, seed=0, step=0)
    assert len(batch.pos) in (2, 3)


def test_no_twin_groups_is_a_clear_error():
    data = _data()
    data.groups = []
    with pytest.raises(DataError, match="twin batches need twin groups"):
        twin_batch(data, 4, seed=0, step=0)
