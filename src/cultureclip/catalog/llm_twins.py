"""A text generator's say on twin links: confirm mined links, or propose them among the best candidates.

The generator is anything with `generate(prompts) -> texts` (backends/chat/). Replies are read
leniently: a confirmation starts with yes or no; a proposal lists candidate numbers, or none.
"""

import logging
import re
from dataclasses import dataclass

from cultureclip.backends.chat import ChatModel
from cultureclip.catalog.load import Catalog
from cultureclip.catalog.schema import ConceptSketch

log = logging.getLogger(__name__)
CONFIRM_PROMPT = (
    "Two cultural concepts from different cultures:\n"
    "A: {a.name} ({a.culture}, {a.category}): {a.visual}\n"
    "B: {b.name} ({b.culture}, {b.category}): {b.visual}\n"
    "Could a photo of A easily be mistaken for a photo of B? "
    "Answer 'yes' or 'no', then give the reason in one short sentence."
)
PROPOSE_PROMPT = (
    "A cultural concept: {a.name} ({a.culture}, {a.category}): {a.visual}\n"
    "Candidates from other cultures:\n{candidates}\n"
    "Which candidates could a photo of {a.name} easily be mistaken for? "
    "Answer with their numbers separated by commas, or 'none'."
)


@dataclass(frozen=True)
class Link:
    """Two look-alike concepts, the score that links them and why."""

    a: str
    b: str
    score: float
    reason: str


def same_group(a: ConceptSketch, b: ConceptSketch) -> bool:
    """True when both concepts are in one curated twin group (their link is curated, not mined)."""
    return a.twin_group is not None and a.twin_group == b.twin_group


def confirm_links(catalog: Catalog, links: list[Link], generator: ChatModel) -> list[Link]:
    """Keep the links the generator answers 'yes' to, with its reason appended."""
    prompts = [CONFIRM_PROMPT.format(a=catalog.by_id[link.a], b=catalog.by_id[link.b]) for link in links]
    answers = generator.generate(prompts) if prompts else []
    kept = []
    for link, answer in zip(links, answers, strict=True):
        verdict, _, why = answer.strip().partition(" ")
        if verdict.strip(".,:;!*").lower() == "yes":
            kept.append(Link(link.a, link.b, link.score, f"{link.reason}; LLM: yes, {why.strip(' ,.-')}".rstrip(", ")))
    log.info("the text generator confirmed %d of %d mined links", len(kept), len(links))
    return kept


def propose_links(catalog: Catalog, candidates: list[list[tuple[int, float]]], generator: ChatModel) -> list[Link]:
    """Ask, for each concept, which of its candidates (index, score) look alike; each pick becomes a link."""
    concepts = catalog.concepts
    prompts = [
        PROPOSE_PROMPT.format(
            a=concepts[i],
            candidates="\n".join(
                f"{n}. {concepts[j].name} ({concepts[j].culture}): {concepts[j].visual}"
                for n, (j, _) in enumerate(row, 1)
            ),
        )
        for i, row in enumerate(candidates)
    ]
    links: dict[frozenset[str], Link] = {}
    for i, (row, answer) in enumerate(zip(candidates, generator.generate(prompts), strict=True)):
        picked = {int(n) for n in re.findall(r"\d+", answer) if 1 <= int(n) <= len(row)}
        for n in sorted(picked):
            j, score = row[n - 1]
            a, b = concepts[i], concepts[j]
            if not same_group(a, b):
                reason = f"proposed by the text generator among the top {len(row)}; score {score:.2f}"
                links.setdefault(frozenset((a.id, b.id)), Link(a.id, b.id, round(score, 4), reason))
    log.info("the text generator proposed %d links", len(links))
    return sorted(links.values(), key=lambda link: -link.score)
