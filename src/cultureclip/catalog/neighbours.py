"""Look-alike scores between concepts: cosine similarity of embedded visual descriptions.

Only pairs from different cultures in the same or a related category are candidates; a related
category scores `related_penalty` below the same one. Curated twin labels are never read here, so
the benchmark that checks these scores against the curated groups is an honest one.
"""

import string
from collections.abc import Mapping, Sequence

import numpy as np

from cultureclip.catalog.schema import ConceptSketch


def describe(concept: ConceptSketch, template: str) -> str:
    """The text embedded for a concept: `template` filled from its fields (a missing field is empty)."""
    fields = {name: getattr(concept, name, None) or "" for _, name, _, _ in string.Formatter().parse(template) if name}
    return " ".join(template.format(**fields).split())


def candidate_mask(concepts: Sequence[ConceptSketch], related: Mapping[str, Sequence[str]]) -> np.ndarray:
    """mask[i, j]: j may be a twin of i (another culture; same or related category)."""
    cultures = np.array([c.culture for c in concepts])
    categories = [c.category for c in concepts]
    same = np.array([[a == b or b in related.get(a, ()) for b in categories] for a in categories], dtype=bool)
    return same & (cultures[:, None] != cultures[None, :])


def similarity(vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity of L2-normalised rows."""
    return vectors @ vectors.T


def category_penalty(concepts: Sequence[ConceptSketch], penalty: float) -> np.ndarray:
    """`penalty` where two concepts' categories differ, 0 where they match."""
    categories = np.array([c.category for c in concepts])
    return penalty * (categories[:, None] != categories[None, :])


def top_k(scores: np.ndarray, mask: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    """For each row, the `k` best candidates (index, score), best first; ties broken by index."""
    masked = np.where(mask, scores, -np.inf)
    result = []
    for row in masked:
        order = np.lexsort((np.arange(len(row)), -row))[:k]
        result.append([(int(j), float(row[j])) for j in order if np.isfinite(row[j])])
    return result
