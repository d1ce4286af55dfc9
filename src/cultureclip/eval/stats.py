"""Bootstrap intervals: of one model's mean over items, and of the difference of two models' means over the
same items (paired), each a 95% percentile interval."""

import numpy as np

CHUNK = 200


def bootstrap_interval(values: np.ndarray, resamples: int, seed: int) -> list[float] | None:
    """The 2.5/97.5 percentiles of the mean of `values` over item resamples (None without resamples or items)."""
    values = np.asarray(values, float)
    if resamples == 0 or len(values) == 0:
        return None
    rng = np.random.default_rng(seed)
    draws = []
    for start in range(0, resamples, CHUNK):
        idx = rng.integers(0, len(values), size=(min(CHUNK, resamples - start), len(values)))
        draws.append(values[idx].mean(axis=1))
    low, high = np.percentile(np.concatenate(draws), [2.5, 97.5])
    return [float(low), float(high)]


def paired_bootstrap(reference: np.ndarray, other: np.ndarray, resamples: int, seed: int) -> dict:
    """mean(other) - mean(reference) and the 2.5/97.5 percentiles of that delta over item resamples."""
    reference, other = np.asarray(reference, float), np.asarray(other, float)
    delta = float(other.mean() - reference.mean())
    return {"delta": delta, "ci95": bootstrap_interval(other - reference, resamples, seed)}


def compare_records(reference: list[dict], other: list[dict], metric: str, resamples: int, seed: int) -> dict:
    """Bootstrap `metric` over the records (by id) that both models scored."""
    ref = {r["id"]: r[metric] for r in reference if metric in r}
    pairs = [(ref[r["id"]], r[metric]) for r in other if metric in r and r["id"] in ref]
    a, b = (np.array(x) for x in zip(*pairs, strict=True)) if pairs else (np.array([]), np.array([]))
    return paired_bootstrap(a, b, resamples, seed) | {"n": len(pairs)}
