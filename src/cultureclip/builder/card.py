"""The dataset card: what is in a built dataset, what was dropped and why, and what made it."""

import json
from collections import Counter
from pathlib import Path

CARD = "card.md"
CARD_JSON = "card.json"


def card_facts(rows: list[dict], models: dict[str, str]) -> dict:
    """Counts of kept images per split, culture and category; status, rejection reasons, caption sources."""
    kept = [r for r in rows if r["status"] == "kept"]
    return {
        "images": {split: sum(r["split"] == split for r in kept) for split in sorted({r["split"] for r in rows})},
        "status": dict(Counter(r["status"] for r in rows)),
        "reasons": dict(Counter(r["reason"].split(":")[0] for r in rows if r["reason"])),
        "per_culture": dict(sorted(Counter(r["culture"] for r in kept).items())),
        "per_category": dict(sorted(Counter(r["category"] for r in kept).items())),
        "caption_sources": dict(Counter(r["caption_source"] for r in kept)),
        "caption_fallbacks": dict(Counter(r["caption_note"] for r in kept if r["caption_note"])),
        "models": models,
    }


def write_card(folder: Path, facts: dict, sections: dict[str, dict] | None = None) -> None:
    """card.json (the facts) and card.md (the same as tables, then a recipe's extra `sections`, title ->
    counts, which card.json does not hold) into `folder`."""
    (folder / CARD_JSON).write_text(json.dumps(facts, indent=2) + "\n")
    lines = ["# Dataset card", "", "Built by the cultureclip builder. Rows: `manifest.parquet`; images: `*.tar`.", ""]
    for title, key in [
        ("Kept images per split", "images"),
        ("Rows by status", "status"),
        ("Rejected or failed rows by reason", "reasons"),
        ("Kept images per culture", "per_culture"),
        ("Kept images per category", "per_category"),
        ("Caption sources", "caption_sources"),
        ("Template fallbacks (why the LLM caption was replaced)", "caption_fallbacks"),
        ("Models and prompts", "models"),
    ]:
        lines += _table(title, facts[key])
    for title, counts in (sections or {}).items():
        lines += _table(title, counts)
    (folder / CARD).write_text("\n".join(lines))


def _table(title: str, counts: dict) -> list[str]:
    lines = [f"## {title}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in counts.items()] or ["| (none) | |"]
    return [*lines, ""]
