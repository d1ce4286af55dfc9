"""Grow the catalogue with a text generator: ask for new concepts, check them, keep the valid ones.

A generated row is kept only if it passes every catalogue check together with the catalogue and the
rows already in the output file, is of the requested category and culture, and has a new id: a
curated row is never overwritten. Rejected rows are returned with their problems.
"""

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from cultureclip.backends.chat import ChatModel
from cultureclip.backends.image.procedural import COLORS, DETAILS, PATTERNS, SHAPES
from cultureclip.catalog.check import check_rows
from cultureclip.catalog.files import RawRow, read_rows, write_rows
from cultureclip.catalog.load import Catalog
from cultureclip.io import atomic_path

log = logging.getLogger(__name__)
EXPAND_PROMPT = """\
List {n} real, well-documented cultural concepts of the category "{category}" from {culture}, as a YAML list.
Each item is a mapping with these keys, in this order:
id (kebab-case, ascii), name (usual English name), names (a mapping from the ISO 639-1 code of its own
language to its name there, in that language's script, e.g. {{zh: 饺子}}; omit if unsure),
culture ("{culture}"), country (ISO 3166-1 alpha-2 code), category ("{category}"),
generic (plain English noun, e.g. dumpling), visual (what a camera sees: shape, colour, material, setting;
at most 35 words), distinguishing (what visibly sets it apart from look-alikes; at most 20 words),
context (where, when, by whom, what it means; at most 35 words),
attributes (a mapping: shape one of {shapes}; body and accent each one of {colors};
pattern one of {patterns}; detail one of {details}).
Only real concepts, no stereotypes, no invented names. Do not repeat any of these: {known}.
Answer with the YAML list only."""
FENCE = re.compile(r"```(?:yaml)?\s*\n(.*?)```", re.DOTALL)


def expand_prompt(catalog: Catalog, category: str, culture: str, n: int) -> str:
    """The request for `n` new concepts, listing the names the catalogue already has there."""
    known = sorted({c.name for c in catalog.concepts if c.category == category and c.culture == culture})
    return EXPAND_PROMPT.format(
        n=n,
        category=category,
        culture=culture,
        shapes=", ".join(SHAPES),
        colors=", ".join(COLORS),
        patterns=", ".join(PATTERNS),
        details=", ".join(DETAILS),
        known=", ".join(known) or "(none yet)",
    )


def parse_reply(reply: str) -> list:
    """The YAML list in a generator's reply (inside a ``` fence if there is one); [] if there is none."""
    match = FENCE.search(reply)
    try:
        rows = yaml.safe_load(match.group(1) if match else reply)
    except yaml.YAMLError:
        return []
    return rows if isinstance(rows, list) else []


def expand(
    catalog_rows: list[RawRow],
    out: Path,
    generator: ChatModel,
    prompt: str,
    category: str,
    culture: str,
    categories: Sequence[str] | None = None,
) -> tuple[list[dict], list[str]]:
    """Ask once, check, and add the valid new rows to `out`; return (added rows, problems of rejected ones)."""
    existing = read_rows(out) if out.is_file() else []
    reply = generator.generate([prompt])[0]
    new = [RawRow("generated", i, row) for i, row in enumerate(parse_reply(reply), 1)]
    if not new:
        return [], [f"generated: the reply holds no YAML list of concepts: {reply[:80]!r}"]
    rejected: list[str] = []
    kept = [row for row in new if not _wrong_kind(row, category, culture, rejected)]
    while kept:
        _, problems = check_rows(catalog_rows + existing + kept, categories=categories)
        bad = [row for row in kept if any(p.startswith(row.where + ":") for p in problems)]
        rejected += [p for row in bad for p in problems if p.startswith(row.where + ":")]
        if not bad:
            break
        kept = [row for row in kept if row not in bad]
    added = [row.data for row in kept]
    if added:
        with atomic_path(out) as tmp:
            write_rows(tmp, [r.data for r in existing] + added, out.suffix)
    log.info("kept %d of %d generated concepts", len(added), len(new))
    return added, rejected


def _wrong_kind(row: RawRow, category: str, culture: str, rejected: list[str]) -> bool:
    if not isinstance(row.data, dict):
        return False  # the checks report it
    for field, wanted in (("category", category), ("culture", culture)):
        if row.data.get(field) != wanted:
            rejected.append(f"{row.where}: {field}: {row.data.get(field)!r}; asked for {wanted!r}")
            return True
    return False
