"""Twin-mining quality: do mined neighbours recover the catalogue's curated twin groups?

Mining never reads the curated labels; this script compares its output with them.
- recall@K: for each concept with curated twins, the share of them among its top-K mined neighbours
  (averaged over concepts); the target is recall@5 >= 0.8 with the offline MiniLM embedder.
- precision@1: the share of concepts whose best mined neighbour is a curated twin.
- link precision / recall: mined links (mutual top-K, score >= min_score), counted blind to the
  curated groups, judged against the curated twin pairs. A mined link outside the curated pairs may
  still be a real look-alike; precision here is a lower bound.

Usage: python benchmarks/twin_mining.py [--catalog FILE] [key=value ...]   (twins.* config overrides)
"""

import argparse

import numpy as np

from cultureclip.backends.embed import create_text_embedder
from cultureclip.catalog import load_catalog
from cultureclip.catalog.neighbours import candidate_mask, top_k
from cultureclip.catalog.schema import ConceptSketch
from cultureclip.catalog.twins import pair_scores
from cultureclip.config import load_config

VARIANTS = {
    "visual only": {"text": "{visual}", "related_penalty": 0.0},
    "generic + visual": {"text": "{generic}: {visual}", "related_penalty": 0.0},
    "generic + visual + distinguishing": {"text": "{generic}: {visual} {distinguishing}"},
}


def measure(catalog, cfg, embedder) -> dict[str, float]:
    concepts = catalog.concepts
    ids = [c.id for c in concepts]
    scores = pair_scores(concepts, cfg, embedder)
    best = top_k(scores, candidate_mask(concepts, cfg.related), max(cfg.k, 5))
    twins = [set(catalog.twins_of(i)) for i in ids]
    rows = [(t, [ids[j] for j, _ in row]) for t, row in zip(twins, best, strict=True) if t]
    result = {f"recall@{k}": float(np.mean([len(t & set(n[:k])) / len(t) for t, n in rows])) for k in (1, 3, 5)}
    result["precision@1"] = float(np.mean([bool(n) and n[0] in t for t, n in rows]))
    tops = [{j for j, _ in row[: cfg.k]} for row in best]
    links = {
        (i, j) for i, row in enumerate(best) for j, s in row[: cfg.k] if i < j and i in tops[j] and s >= cfg.min_score
    }
    curated = {(i, j) for i in range(len(ids)) for j in range(i + 1, len(ids)) if ids[j] in twins[i]}
    result["links"] = len(links)
    result["link_precision"] = len(links & curated) / max(len(links), 1)
    result["link_recall"] = len(links & curated) / max(len(curated), 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", default=None, help="catalogue file (default: the shipped catalogue)")
    parser.add_argument("overrides", nargs="*", help="mining.* config overrides, e.g. mining.k=5")
    args = parser.parse_args()
    cfg = load_config(None, args.overrides).twins
    catalog = load_catalog(args.catalog, schema=ConceptSketch)
    embedder = create_text_embedder(cfg.embedder)
    print(
        f"{len(catalog.concepts)} concepts, {len(catalog.groups)} curated twin groups, "
        f"{len({c.culture for c in catalog.concepts})} cultures; embedder {cfg.embedder}"
    )
    variants = {"default config": {}} | VARIANTS
    rows = {name: measure(catalog, cfg.model_copy(update=update), embedder) for name, update in variants.items()}
    metrics = list(next(iter(rows.values())))
    print(f"{'method (text embedded, related penalty)':<72}" + "".join(f"{m:>15}" for m in metrics))
    for name, values in rows.items():
        update = variants[name]
        label = f"{name} ({update.get('text', cfg.text)!r}, {update.get('related_penalty', cfg.related_penalty)})"
        print(f"{label:<72}" + "".join(f"{values[m]:>15.3f}" if m != "links" else f"{values[m]:>15d}" for m in metrics))


if __name__ == "__main__":
    main()
