"""Paired bootstrap: the difference of two models' means over the same items, with a 95% interval."""

import numpy as np

CHUNK = 200


def paired_bootstrap(reference: np.ndarray, other: np.ndarray, resamples: int, seed: int) -> dict:
    """mean(other) - mean(reference) and the 2.5/97.5 percentiles of that delta over item resamples."""
    reference, other = np.asarray(reference, float), np.asarray(other, float)
    delta = float(other.mean() - reference.mean())
    if resamples == 0 or len(reference) == 0:
        return {"delta": delta, "ci95": None}
    rng = np.random.default_rng(seed)
    diffs = other - reference
    draws = []
    for start in range(0, resamples, CHUNK):
        idx = rng.integers(0, len(diffs), size=(min(CHUNK, resamples - start), len(diffs)))
        draws.append(diffs[idx].mean(axis=1))
    low, high = np.percentile(np.concatenate(draws), [2.5, 97.5])
    return {"delta": delta, "ci95": [float(low), float(high)]}


def compare_records(reference: list[dict], other: list[dict], metric: str, resamples: int, seed: int) -> dict:
    """Bootstrap `metric` over the records (by id) that both models scored."""
    ref = {r["id"]: r[metric] for r in reference if metric in r}
    pairs = [(ref[r["id"]], r[metric]) for r in other if metric in r and r["id"] in ref]
    a, b = (np.array(x) for x in zip(*pairs, strict=True)) if pairs else (np.array([]), np.array([]))
    return paired_bootstrap(a, b, resamples, seed) | {"n": len(pairs)}
