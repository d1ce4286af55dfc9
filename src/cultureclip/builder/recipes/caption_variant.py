"""Caption variants of a finished dataset, for experiments on caption quality (`benchmarks/caption_quality.py`):
the same images, rows and splits, each kept row's caption replaced by a deterministic transform, written as a
new dataset folder (`write_caption_variant`; dropped rows are kept as they are).

Variants (`variant_captions`), from the row and its concept's catalogue fields:
  generic        the row's generic caption ("a photo of a dumpling.")
  no_details     the template caption without the concept's look (NO_DETAIL_TEMPLATES: no {visual}, no
                 {distinguishing}): name, generic noun, culture and context only
  template       the full template caption (CAPTION_TEMPLATES), as the default build writes it
  wrong_details  the full template, where a `share` of the rows (drawn by a hash of the seed and the row's key)
                 describe a twin's look ({visual}, {distinguishing} of one of the row's twins) under their own name

The k-th kept row of a concept in a split (in manifest order) uses template k mod 6, so on a default build
(captions_per_concept a multiple of 6) `template` gives back the built captions.
"""

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path

from cultureclip.backends.templates import CAPTION_TEMPLATES, NO_DETAIL_TEMPLATES
from cultureclip.builder.card import read_card
from cultureclip.builder.executors import Executor
from cultureclip.builder.pipeline import BuildJob, Built, Publish, build
from cultureclip.builder.recipes import BUILD_RECIPES
from cultureclip.builder.recipes.caption_scores import SCORES
from cultureclip.config import BuildConfig
from cultureclip.data.finished import read_rows
from cultureclip.data.shards import MANIFEST
from cultureclip.data.text import fill
from cultureclip.errors import ConfigError
from cultureclip.io import input_record

log = logging.getLogger(__name__)
VARIANTS = ("generic", "no_details", "template", "wrong_details")
"""From the least to the most informative caption, wrong_details last: the template with a twin's look."""
RECORD = "caption_variant.yaml"
LOOK = ("visual", "distinguishing")
"""The fields that describe a concept's look: what `no_details` leaves out and `wrong_details` swaps."""


def variant_captions(
    rows: list[dict], variant: str, concepts: Mapping[str, Mapping[str, str]], share: float = 0.5, seed: int = 0
) -> list[str | None]:
    """The caption of each row under `variant` (None for a row without a shard: a dropped one).

    `concepts` maps each concept id to its catalogue fields (name, culture, generic, visual, distinguishing,
    context); `share` and `seed` are wrong_details' share of swapped rows and the seed of their draw.
    """
    if variant not in VARIANTS:
        raise ConfigError(f"caption variant {variant!r}: not one of {', '.join(VARIANTS)}")
    seen: dict[tuple[str, str], int] = {}
    captions: list[str | None] = []
    for row in rows:
        if not row.get("shard"):
            captions.append(None)
            continue
        k = seen[row["concept_id"], row["split"]] = seen.get((row["concept_id"], row["split"]), -1) + 1
        captions.append(_caption(row, k, variant, concepts, share, seed))
    return captions


def _caption(row: dict, k: int, variant: str, concepts: Mapping, share: float, seed: int) -> str:
    if variant == "generic":
        return row["generic_caption"]
    fields = dict(concepts[row["concept_id"]])
    if variant == "no_details":
        return fill(NO_DETAIL_TEMPLATES[k % len(NO_DETAIL_TEMPLATES)], fields)
    if variant == "wrong_details":
        draw = _draw(seed, row["key"])
        twins = [t for t in row.get("twin_ids") or [] if t in concepts]
        if twins and draw < share:
            twin = concepts[twins[int(draw / share * len(twins))]]
            fields |= {f: twin[f] for f in LOOK}
    return fill(CAPTION_TEMPLATES[k % len(CAPTION_TEMPLATES)], fields)


def _draw(seed: int, key: str) -> float:
    """A number in [0, 1) fixed by the seed and the row's key."""
    digest = hashlib.sha256(f"{seed}/{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2**64


class CaptionVariantRecipe:
    """DATA with its captions replaced by `variant`'s (publish mode `derived`: a new dataset folder whose
    manifest keeps each row's `original_caption` and names the `caption_variant`)."""

    publish = Publish("derived", "caption-variant", RECORD)

    def __init__(self, data: Path, variant: str, concepts: Mapping, share: float = 0.5, seed: int = 0):
        self.data, self.variant, self.concepts, self.share, self.seed = Path(data), variant, concepts, share, seed

    def record(self, job: BuildJob) -> str:
        """DATA, the variant, its share and seed, and the content of DATA's manifest."""
        head = f"source: {self.data.resolve()}\nvariant: {self.variant}\nshare: {self.share}\nseed: {self.seed}\n"
        return head + input_record({"source manifest": self.data / MANIFEST})

    def check(self, job: BuildJob) -> None:
        """DATA is a finished dataset."""
        read_rows(self.data)

    def generate(self, job: BuildJob, executor: Executor, work: Path) -> Built:
        """DATA's rows with the variant's captions, without DATA's captions' scores; DATA's card with a section."""
        rows = read_rows(self.data)
        captions = variant_captions(rows, self.variant, self.concepts, self.share, self.seed)
        stale = {*SCORES, *(f"{p}{k}" for p in ("original_", "recaption_") for k in SCORES)}  # DATA's scores
        rows = [{k: v for k, v in r.items() if k not in stale} for r in rows]
        rows = [
            r | {"caption": c, "original_caption": r["caption"], "caption_variant": self.variant}
            if c is not None
            else r
            for r, c in zip(rows, captions, strict=True)
        ]
        facts, sections = read_card(self.data)
        facts = {k: v for k, v in facts.items() if not k.startswith("caption_quality")}
        section = {"variant": self.variant, "source": str(self.data.resolve())}
        if self.variant == "wrong_details":
            section |= {"share of rows given a twin's look": self.share, "seed": self.seed}
        summary = f"wrote the {self.variant} captions of {self.data}"
        return Built(
            rows, facts=facts, sections=sections | {"Caption variant": section}, source=self.data, summary=summary
        )


def write_caption_variant(
    data: Path,
    out: Path,
    variant: str,
    concepts: Mapping[str, Mapping[str, str]],
    shard_size: int,
    share: float = 0.5,
    seed: int = 0,
) -> Path:
    """Write DATA with its captions replaced by `variant`'s into the new dataset folder `out`; a folder
    finished with the same settings from the same manifest is kept."""
    recipe = BUILD_RECIPES.create("caption_variant", data, variant, concepts, share, seed)
    return build(recipe, BuildJob(BuildConfig(shard_size=shard_size)), Path(out))
