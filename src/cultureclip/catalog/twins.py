"""Twin mining: each concept's top-K look-alikes from other cultures, and twin groups with reasons.

Scores are cosine similarities of embedded visual descriptions (`neighbours`), blended with CLIP
image similarity where both concepts have images. A mined link joins two concepts that are among
each other's top K with a score of at least `min_score`. A text generator, when configured, must
confirm each link, or (`generator_role: propose`) picks the links itself among each concept's top
2K. Mined groups grow from the best links (one concept per culture, `max_group_size` at most). The
catalogue's curated groups are kept as they are and marked `curated`.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cultureclip.backends.chat import ChatModel
from cultureclip.backends.embed import TextEmbedder
from cultureclip.catalog.llm_twins import Link, confirm_links, propose_links, same_group
from cultureclip.catalog.load import Catalog
from cultureclip.catalog.neighbours import candidate_mask, category_penalty, describe, similarity, top_k
from cultureclip.catalog.schema import RELATED_CATEGORIES, ConceptSketch
from cultureclip.config import MiningConfig


@dataclass(frozen=True)
class Mined:
    """The mining result: neighbours[id] = [(id, score), ...] best first, and the twin groups."""

    neighbours: dict[str, list[tuple[str, float]]]
    groups: list[dict]


def pair_scores(concepts: Sequence[ConceptSketch], cfg: MiningConfig, embedder: TextEmbedder) -> np.ndarray:
    """Text similarity of every pair, less the related-category penalty."""
    vectors = embedder.embed([describe(c, cfg.text) for c in concepts])
    return similarity(vectors) - category_penalty(concepts, cfg.related_penalty)


def mine_twins(
    catalog: Catalog,
    cfg: MiningConfig,
    embedder: TextEmbedder,
    generator: ChatModel | None = None,
    images: tuple[np.ndarray, np.ndarray] | None = None,
) -> Mined:
    """Mine twins over the whole catalogue; `images` is (has_images, image cosine) from image_similarity."""
    concepts = catalog.concepts
    ids = [c.id for c in concepts]
    text = pair_scores(concepts, cfg, embedder)
    scores = text
    if images is not None:
        has, image = images
        both = has[:, None] & has[None, :]
        scores = np.where(both, (1 - cfg.image_weight) * text + cfg.image_weight * image, text)
    mask = candidate_mask(concepts, RELATED_CATEGORIES if cfg.related is None else cfg.related)
    best = top_k(scores, mask, cfg.k)
    neighbours = {ids[i]: [(ids[j], round(s, 4)) for j, s in row] for i, row in enumerate(best)}
    if generator is not None and cfg.generator_role == "propose":
        links = propose_links(catalog, top_k(scores, mask, 2 * cfg.k), generator)
    else:
        links = _mutual_links(catalog, best, cfg, images)
        if generator is not None:
            links = confirm_links(catalog, links, generator)
    groups = curated_groups(catalog, scores) + mined_groups(catalog, links, cfg.max_group_size)
    return Mined(neighbours, groups)


def _mutual_links(catalog: Catalog, best, cfg: MiningConfig, images) -> list[Link]:
    """Pairs in each other's top K with a score of at least min_score, not already one curated group."""
    concepts = catalog.concepts
    tops = [{j for j, _ in row} for row in best]
    links = []
    for i, row in enumerate(best):
        for j, score in row:
            a, b = concepts[i], concepts[j]
            if j <= i or i not in tops[j] or score < cfg.min_score or same_group(a, b):
                continue
            reason = f"mutual top-{cfg.k} look-alikes by description, score {score:.2f}"
            if images is not None and images[0][i] and images[0][j]:
                reason += f" (image similarity {images[1][i, j]:.2f})"
            if a.category != b.category:
                reason += f"; related categories {a.category}/{b.category}"
            links.append(Link(a.id, b.id, round(score, 4), reason))
    return sorted(links, key=lambda link: -link.score)


def curated_groups(catalog: Catalog, scores: np.ndarray) -> list[dict]:
    """The catalogue's own twin groups, marked curated, with the score of each pair."""
    index = {c.id: i for i, c in enumerate(catalog.concepts)}
    groups = []
    for name, members in catalog.groups.items():
        links = [
            Link(a, b, round(float(scores[index[a], index[b]]), 4), f"curated twin group {name!r}")
            for k, a in enumerate(members)
            for b in members[k + 1 :]
        ]
        groups.append(_group(name, True, list(members), links))
    return groups


def mined_groups(catalog: Catalog, links: list[Link], max_size: int) -> list[dict]:
    """Greedy grouping by the best links first: two groups merge while they stay small and one per culture."""
    groups: list[dict] = []
    group_of: dict[str, dict] = {}
    for link in links:
        ga, gb = group_of.get(link.a), group_of.get(link.b)
        if ga is not None and ga is gb:
            continue
        merged = (ga["members"] if ga else [link.a]) + (gb["members"] if gb else [link.b])
        cultures = {catalog.by_id[i].culture for i in merged}
        if len(merged) > max_size or len(cultures) < len(merged):
            continue
        target = ga or gb
        if target is None:
            target = {"members": [], "links": []}
            groups.append(target)
        if ga is not None and gb is not None:
            target["links"] += gb["links"]
            groups.remove(gb)
        target["members"] = merged
        target["links"].append(link)
        group_of.update(dict.fromkeys(merged, target))
    return [_group(f"mined-{n:04d}", False, g["members"], g["links"]) for n, g in enumerate(groups, 1)]


def _group(name: str, curated: bool, members: list[str], links: list[Link]) -> dict:
    return {
        "group": name,
        "curated": curated,
        "members": members,
        "links": [{"a": k.a, "b": k.b, "score": k.score, "reason": k.reason} for k in links],
    }
