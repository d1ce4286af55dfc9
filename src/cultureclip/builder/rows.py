"""Plan the dataset: one row per image, with its caption, generic caption, split and seed."""

import hashlib

from cultureclip.backends.templates import GENERIC_TEMPLATES
from cultureclip.catalog import Catalog
from cultureclip.data.row import dataset_row
from cultureclip.data.text import fill

SPLITS = ("train", "test")


def image_seed(seed: int, concept_id: str, split: str, index: int) -> int:
    """A stable per-image seed: the same concept, split and index always render the same image."""
    digest = hashlib.sha256(f"{seed}/{concept_id}/{split}/{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def plan_rows(catalog: Catalog, captions: dict[str, list[dict]], counts: dict[str, int], seed: int) -> list[dict]:
    """Rows for every concept and split; image k of a concept gets caption k mod n.

    `captions` maps a concept id to its caption records (`caption`, `caption_source`, `caption_note`).
    """
    rows = []
    for concept in catalog.concepts:
        fields = concept.model_dump(exclude={"attributes"})
        records = captions[concept.id]
        for split in SPLITS:
            for k in range(counts[split]):
                rows.append(
                    dataset_row(
                        key=f"{concept.id}-{split}-{k:04d}",
                        split=split,
                        concept_id=concept.id,
                        name=concept.name,
                        culture=concept.culture,
                        category=concept.category,
                        generic=concept.generic,
                        twin_group=concept.twin_group,
                        twin_ids=list(catalog.twins_of(concept.id)),
                        distinguishing=concept.distinguishing,
                        context=concept.context,
                        **records[k % len(records)],
                        generic_caption=fill(GENERIC_TEMPLATES[k % len(GENERIC_TEMPLATES)], fields),
                        seed=image_seed(seed, concept.id, split, k),
                    )
                )
    return rows
