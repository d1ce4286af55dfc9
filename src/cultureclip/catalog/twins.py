"""Twin mining: each concept's top-K look-alikes from other cultures, and twin groups with reasons.

Scores are cosine similarities of embedded visual descriptions (`neighbours`), blended with CLIP
image similarity where both concepts have images. A mined link joins two concepts that are among
each other's top K with a score of at least `min_score`; a text generator, when configured, must
confirm it. Mined groups grow from the best links (one concept per culture, `max_group_size` at
most). The catalogue's curated groups are kept as they are and marked `curated`.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cultureclip.backends.embedders import TextEmbedder
from cultureclip.backends.textgen import TextGenerator
from cultureclip.catalog.load import Catalog
from cultureclip.catalog.neighbours import candidate_mask, category_penalty, describe, similarity, top_k
from cultureclip.catalog.schema import ConceptSketch
from cultureclip.config import TwinsConfig

log = logging.getLogger(__name__)
CONFIRM_PROMPT = (
    "Two cultural concepts from different cultures:\n"
    "A: {a.name} ({a.culture}, {a.category}): {a.visual}\n"
    "B: {b.name} ({b.culture}, {b.category}): {b.visual}\n"
    "Could a photo of A easily be mistaken for a photo of B? "
    "Answer 'yes' or 'no', then give the reason in one short sentence."
)


@dataclass(frozen=True)
class Link:
    """Two look-alike concepts, the score that links them and why."""

    a: str
    b: str
    score: float
    reason: str


@dataclass(frozen=True)
class Mined:
    """The mining result: neighbours[id] = [(id, score), ...] best first, and the twin groups."""

    neighbours: dict[str, list[tuple[str, float]]]
    groups: list[dict]


def pair_scores(concepts: Sequence[ConceptSketch], cfg: TwinsConfig, embedder: TextEmbedder) -> np.ndarray:
    """Text similarity of every pair, less the related-category penalty."""
    vectors = embedder.embed([describe(c, cfg.text) for c in concepts])
    return similarity(vectors) - category_penalty(concepts, cfg.related_penalty)


def mine_twins(
    catalog: Catalog,
    cfg: TwinsConfig,
    embedder: TextEmbedder,
    generator: TextGenerator | None = None,
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
    best = top_k(scores, candidate_mask(concepts, cfg.related), cfg.k)
    neighbours = {ids[i]: [(ids[j], round(s, 4)) for j, s in row] for i, row in enumerate(best)}
    links = _mutual_links(catalog, best, scores, cfg, images)
    if generator is not None:
        links = confirm_links(catalog, links, generator)
    groups = curated_groups(catalog, scores) + mined_groups(catalog, links, cfg.max_group_size)
    return Mined(neighbours, groups)


def _mutual_links(catalog: Catalog, best, scores: np.ndarray, cfg: TwinsConfig, images) -> list[Link]:
    """Pairs in each other's top K with a score of at least min_score, not already one curated group."""
    concepts = catalog.concepts
    tops = [{j for j, _ in row} for row in best]
    links = []
    for i, row in enumerate(best):
        for j, score in row:
            a, b = concepts[i], concepts[j]
            if j <= i or i not in tops[j] or score < cfg.min_score or _same_group(a, b):
                continue
            reason = f"mutual top-{cfg.k} look-alikes by description, score {score:.2f}"
            if images is not None and images[0][i] and images[0][j]:
                reason += f" (image similarity {images[1][i, j]:.2f})"
            if a.category != b.category:
                reason += f"; related categories {a.category}/{b.category}"
            links.append(Link(a.id, b.id, round(score, 4), reason))
    return sorted(links, key=lambda link: -link.score)


def _same_group(a: ConceptSketch, b: ConceptSketch) -> bool:
    return a.twin_group is not None and a.twin_group == b.twin_group


def confirm_links(catalog: Catalog, links: list[Link], generator: TextGenerator) -> list[Link]:
    """Keep the links the generator answers 'yes' to, with its reason appended."""
    prompts = [CONFIRM_PROMPT.format(a=catalog.by_id[link.a], b=catalog.by_id[link.b]) for link in links]
    answers = generator.generate(prompts) if prompts else []
    kept = []
    for link, answer in zip(links, answers, strict=True):
        verdict, _, why = answer.strip().partition(" ")
        if verdict.strip(".,:;!").lower() == "yes":
            kept.append(Link(link.a, link.b, link.score, f"{link.reason}; LLM: yes, {why.strip(' ,.-')}".rstrip(", ")))
    log.info("the text generator confirmed %d of %d mined links", len(kept), len(links))
    return kept


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
